"""The local Kubernetes: an HTTPS API server and control plane on a simulated clock."""

from ebb.local.kubernetes.clock import ManualClock, SimulatedClock
from ebb.local.kubernetes.errors import ManifestRejected, StandInMisuse
from ebb.local.kubernetes.nodes import NodeMembership
from ebb.local.kubernetes.stand_in import KubernetesStandIn
from ebb.local.kubernetes.state import MODEL_LOAD_ANNOTATION, StandInTimings
from ebb.local.kubernetes.sts_tokens import botocore_signs_at
from ebb.local.kubernetes.tls import ClusterCertificates, generate_cluster_certificates

__all__ = [
    "MODEL_LOAD_ANNOTATION",
    "ClusterCertificates",
    "KubernetesStandIn",
    "ManifestRejected",
    "ManualClock",
    "NodeMembership",
    "SimulatedClock",
    "StandInMisuse",
    "StandInTimings",
    "botocore_signs_at",
    "generate_cluster_certificates",
]
