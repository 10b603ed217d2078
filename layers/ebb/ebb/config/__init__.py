"""The user's configuration: KEDA ScaledObjects, Karpenter NodePools, HyperpodNodeClasses, ebb's binding."""
