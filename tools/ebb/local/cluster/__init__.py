"""HyperPod on EKS in the local world: the HyperPod stand-in and the Kubernetes stand-in on the
world's one clock, with Kubernetes nodes that follow HyperPod's instances.

    with start_cluster_world(template, LocalWorldConfig(seed=7)) as cluster:
        ...  # cluster.world, cluster.hyperpod, cluster.kubernetes, cluster.eks_cluster_arn

See `world_part` (the part and how it starts), `membership` (which HyperPod transition does
what to Kubernetes), `capacity` (what a node's kubelet reports), `adapters` (the stand-ins'
clock protocols on the world) and `timeline` (what is recorded).
"""

from ebb.local.cluster.adapters import HyperPodOnWorld, KubernetesOnWorld
from ebb.local.cluster.capacity import KubeletReport, UnknownInstanceType, kubelet_report
from ebb.local.cluster.membership import KubernetesFollowsHyperPod, node_name
from ebb.local.cluster.timeline import ClusterTimeline
from ebb.local.cluster.world_part import (
    ClusterPartMisuse,
    ClusterWorldConfig,
    HyperPodOnEks,
    start_cluster_world,
)

__all__ = [
    "ClusterPartMisuse",
    "ClusterTimeline",
    "ClusterWorldConfig",
    "HyperPodOnEks",
    "HyperPodOnWorld",
    "KubeletReport",
    "KubernetesFollowsHyperPod",
    "KubernetesOnWorld",
    "UnknownInstanceType",
    "kubelet_report",
    "node_name",
    "start_cluster_world",
]
