"""The resource types the stand-in serves: where they live in the URL space and which schema they follow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class ResourceType:
    """One API resource type (``pods`` in core/v1, ``deployments`` in apps/v1, ...)."""

    kind: str
    group: str
    version: str
    plural: str
    namespaced: bool
    schema: str
    has_scale: bool = False
    custom: bool = False

    @property
    def api_version(self) -> str:
        """``v1`` for the core group, ``group/version`` otherwise."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """``deployments.apps`` (``pods`` for the core group), as API error messages name types."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


POD: Final = ResourceType("Pod", "", "v1", "pods", True, "io.k8s.api.core.v1.Pod")
NODE: Final = ResourceType("Node", "", "v1", "nodes", False, "io.k8s.api.core.v1.Node")
DEPLOYMENT: Final = ResourceType(
    "Deployment", "apps", "v1", "deployments", True, "io.k8s.api.apps.v1.Deployment", has_scale=True
)
STATEFUL_SET: Final = ResourceType(
    "StatefulSet", "apps", "v1", "statefulsets", True, "io.k8s.api.apps.v1.StatefulSet", has_scale=True
)
REPLICA_SET: Final = ResourceType(
    "ReplicaSet", "apps", "v1", "replicasets", True, "io.k8s.api.apps.v1.ReplicaSet", has_scale=True
)
POD_DISRUPTION_BUDGET: Final = ResourceType(
    "PodDisruptionBudget",
    "policy",
    "v1",
    "poddisruptionbudgets",
    True,
    "io.k8s.api.policy.v1.PodDisruptionBudget",
)
HORIZONTAL_POD_AUTOSCALER: Final = ResourceType(
    "HorizontalPodAutoscaler",
    "autoscaling",
    "v2",
    "horizontalpodautoscalers",
    True,
    "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler",
)
SCALED_OBJECT: Final = ResourceType(
    "ScaledObject", "keda.sh", "v1alpha1", "scaledobjects", True, "sh.keda.v1alpha1.ScaledObject", custom=True
)

BUILT_IN: Final = (
    POD,
    NODE,
    DEPLOYMENT,
    STATEFUL_SET,
    REPLICA_SET,
    POD_DISRUPTION_BUDGET,
    HORIZONTAL_POD_AUTOSCALER,
)


def by_kind(kind: str, types: tuple[ResourceType, ...]) -> ResourceType | None:
    """The type of `kind` among `types`."""
    return next((resource for resource in types if resource.kind == kind), None)


def by_path(group: str, version: str, plural: str, types: tuple[ResourceType, ...]) -> ResourceType | None:
    """The type served at ``/apis/{group}/{version}/{plural}`` (group ``""`` for ``/api/v1``)."""
    return next(
        (r for r in types if r.group == group and r.version == version and r.plural == plural),
        None,
    )
