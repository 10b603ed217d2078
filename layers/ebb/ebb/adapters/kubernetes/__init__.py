"""The Kubernetes adapter: ebb's reads and writes on the EKS cluster, over the REST API.

No kubeconfig, kubectl or client library: HTTPS with urllib3 (which ships with botocore), TLS
verified against the cluster CA from EKS DescribeCluster, and the IAM token `aws eks get-token`
would make. `EksKubernetesClient` implements the `KubernetesCluster` Protocol the service uses.
"""

from ebb.adapters.kubernetes.client import EksKubernetesClient, format_selector
from ebb.adapters.kubernetes.cluster import EvictionOutcome, KubernetesCluster
from ebb.adapters.kubernetes.endpoint import ClusterEndpoint, EksClusterEndpoint, FixedClusterEndpoint
from ebb.adapters.kubernetes.errors import (
    ClusterCertificateRejected,
    EksClusterNotFound,
    EvictionRefused,
    KubernetesConflict,
    KubernetesError,
    KubernetesForbidden,
    KubernetesNotFound,
    KubernetesRejected,
    KubernetesThrottled,
    KubernetesUnauthorized,
    KubernetesUnavailable,
)
from ebb.adapters.kubernetes.objects import (
    AutoscalerConflict,
    Node,
    Pod,
    PodDisruptionBudget,
    Scale,
    Workload,
    WorkloadRef,
)
from ebb.adapters.kubernetes.token import EksTokenSource
from ebb.adapters.kubernetes.transport import ApiTransport, RetryPolicy

__all__ = [
    "ApiTransport",
    "AutoscalerConflict",
    "ClusterCertificateRejected",
    "ClusterEndpoint",
    "EksClusterEndpoint",
    "EksClusterNotFound",
    "EksKubernetesClient",
    "EksTokenSource",
    "EvictionOutcome",
    "EvictionRefused",
    "FixedClusterEndpoint",
    "KubernetesCluster",
    "KubernetesConflict",
    "KubernetesError",
    "KubernetesForbidden",
    "KubernetesNotFound",
    "KubernetesRejected",
    "KubernetesThrottled",
    "KubernetesUnauthorized",
    "KubernetesUnavailable",
    "Node",
    "Pod",
    "PodDisruptionBudget",
    "RetryPolicy",
    "Scale",
    "Workload",
    "WorkloadRef",
    "format_selector",
]
