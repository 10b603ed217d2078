"""The local world: moto plus ebb's HyperPod, Kubernetes and serverless runtime on one simulated clock."""
