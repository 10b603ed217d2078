"""The Kubernetes operations ebb uses, as a Protocol the service depends on."""

from __future__ import annotations

from collections.abc import Collection
from typing import Literal, Protocol

from ebb.adapters.kubernetes.objects import (
    AutoscalerConflict,
    Node,
    Pod,
    PodDisruptionBudget,
    Scale,
    Workload,
    WorkloadKind,
    WorkloadRef,
)

EvictionOutcome = Literal["evicted", "already_gone"]


class KubernetesCluster(Protocol):
    """Reads and writes on one cluster, in ebb's vocabulary. Errors are `ebb.adapters.kubernetes.errors`."""

    def read_scale(self, target: WorkloadRef) -> Scale:
        """The target's `scale` subresource: desired and observed replicas, pod selector."""
        ...

    def read_workload(self, target: WorkloadRef) -> Workload:
        """The Deployment or StatefulSet: replicas, readiness and pod template."""
        ...

    def list_workloads(
        self, kind: WorkloadKind, namespace: str, *, name: str | None = None
    ) -> list[Workload]:
        """The Deployments or StatefulSets of a namespace in one list (with `name`, only that one)."""
        ...

    def scale(self, target: WorkloadRef, replicas: int) -> Scale:
        """Set the target's replicas through `scale`, presenting the resourceVersion it read."""
        ...

    def list_nodes(self, label_selector: str | None = None) -> list[Node]:
        """Nodes, optionally only those matching a label selector."""
        ...

    def pods_of(self, target: WorkloadRef) -> list[Pod]:
        """The target's pods (by the selector its `scale` reports)."""
        ...

    def pods_on_node(self, node_name: str) -> list[Pod]:
        """Every pod bound to a node, in every namespace."""
        ...

    def pending_pods(self) -> list[Pod]:
        """Every pod in phase Pending, in every namespace."""
        ...

    def list_live_pods(self) -> list[Pod]:
        """Every pod not in a terminal phase (neither Succeeded nor Failed), in every namespace."""
        ...

    def list_disruption_budgets(self, namespace: str | None = None) -> list[PodDisruptionBudget]:
        """PodDisruptionBudgets of a namespace, or of all namespaces."""
        ...

    def find_autoscaler_conflicts(self, target: WorkloadRef) -> list[AutoscalerConflict]:
        """HorizontalPodAutoscalers and KEDA ScaledObjects that scale the same target."""
        ...

    def conflicting_hpas(self, namespace: str, targets: Collection[WorkloadRef]) -> list[AutoscalerConflict]:
        """The HorizontalPodAutoscalers of `namespace` whose scale target is one of `targets`."""
        ...

    def conflicting_scaled_objects(
        self, namespace: str, targets: Collection[WorkloadRef]
    ) -> list[AutoscalerConflict]:
        """The KEDA ScaledObjects of `namespace` whose scale target is one of `targets`."""
        ...

    def set_pod_deletion_cost(self, namespace: str, pod: str, cost: int) -> None:
        """Annotate a pod with `controller.kubernetes.io/pod-deletion-cost`."""
        ...

    def cordon(self, node_name: str) -> None:
        """Mark a node unschedulable."""
        ...

    def uncordon(self, node_name: str) -> None:
        """Mark a node schedulable again."""
        ...

    def evict(self, namespace: str, pod: str, *, uid: str | None = None) -> EvictionOutcome:
        """Evict a pod (only its incarnation `uid`, if given); `EvictionRefused` when a budget says no."""
        ...
