"""`KubernetesCluster` over the Kubernetes REST API of an EKS cluster.

Paths, verbs and bodies are those of the Kubernetes API reference. Writes ask for
`fieldValidation=Strict`, so a misspelt field is refused (400) instead of silently dropped;
`scale` presents the resourceVersion it read and re-reads on 409 Conflict (optimistic
concurrency, as client-go's RetryOnConflict does); lists are read in pages (`limit`/`continue`).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ValidationError

from ebb.adapters.kubernetes.cluster import EvictionOutcome
from ebb.adapters.kubernetes.endpoint import ClusterEndpointSource, EksClusterEndpoint
from ebb.adapters.kubernetes.errors import (
    KubernetesConflict,
    KubernetesError,
    KubernetesNotFound,
    KubernetesRejected,
    KubernetesUnavailable,
)
from ebb.adapters.kubernetes.objects import (
    INT32_MAX,
    INT32_MIN,
    POD_DELETION_COST,
    AutoscalerConflict,
    HorizontalPodAutoscaler,
    LabelSelector,
    Node,
    Pod,
    PodDisruptionBudget,
    Scale,
    ScaledObject,
    Workload,
    WorkloadKind,
    WorkloadRef,
)
from ebb.adapters.kubernetes.token import EksTokenSource, utc_now
from ebb.adapters.kubernetes.transport import MERGE_PATCH, ApiTransport, RetryPolicy, TokenSource

if TYPE_CHECKING:
    import boto3

Model = TypeVar("Model", bound=BaseModel)

STRICT: Final = {"fieldValidation": "Strict"}
# client-go's retry.DefaultRetry: 5 steps of 10 ms (jitter 0.1) between conflicting writes.
CONFLICT_ATTEMPTS: Final = 5
CONFLICT_DELAY_SECONDS: Final = 0.01
LIST_RESTARTS: Final = 3
WORKLOAD_PLURALS: Final[Mapping[str, str]] = {"Deployment": "deployments", "StatefulSet": "statefulsets"}


class EksKubernetesClient:
    """ebb's reads and writes on one cluster (implements `KubernetesCluster`)."""

    def __init__(
        self,
        transport: ApiTransport,
        *,
        page_size: int = 500,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._api = transport
        self._page_size = page_size
        self._sleep = sleep

    @classmethod
    def for_eks_cluster(
        cls,
        cluster_name: str,
        *,
        session: boto3.Session | None = None,
        region: str | None = None,
        endpoints: ClusterEndpointSource | None = None,
        tokens: TokenSource | None = None,
        policy: RetryPolicy | None = None,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> EksKubernetesClient:
        """A client for an EKS cluster: endpoint and CA from DescribeCluster, IAM token from STS."""
        transport = ApiTransport(
            endpoints or EksClusterEndpoint(cluster_name, session=session, region=region),
            tokens or EksTokenSource(cluster_name, session=session, region=region, clock=clock),
            policy=policy,
            sleep=sleep,
            rng=rng,
        )
        return cls(transport, sleep=sleep)

    def close(self) -> None:
        """Close the connections to the API server."""
        self._api.close()

    # Reads

    def read_scale(self, target: WorkloadRef) -> Scale:
        """The target's `scale` subresource: desired and observed replicas, pod selector."""
        body = self._api.request("GET", _workload_path(target) + "/scale").body
        return _parse(Scale, body, f"scale of {target}")

    def read_workload(self, target: WorkloadRef) -> Workload:
        """The Deployment or StatefulSet: replicas, readiness and pod template."""
        body = self._api.request("GET", _workload_path(target)).body
        return _parse(Workload, body, str(target))

    def list_workloads(
        self, kind: WorkloadKind, namespace: str, *, name: str | None = None
    ) -> list[Workload]:
        """The Deployments or StatefulSets of a namespace in one list (with `name`, only that one).

        For these apps/v1 kinds the object carries all that their `scale` subresource reports
        (spec.replicas, status.replicas, the selector), so one list serves every target of a kind
        in a namespace. `name` narrows the answer with the `metadata.name` field selector, which
        every resource type supports (Kubernetes documentation, "Field Selectors").
        """
        path = f"/apis/apps/v1/namespaces/{_segment(namespace)}/{WORKLOAD_PLURALS[kind]}"
        query = {"fieldSelector": f"metadata.name={name}"} if name else {}
        return [_parse(Workload, item, kind) for item in self._list(path, query)]

    def list_live_pods(self) -> list[Pod]:
        """Every pod not in a terminal phase (neither Succeeded nor Failed), in every namespace.

        One list for the pods bound to any node and the pending ones: `status.phase` is a field
        selector of pods and selectors chain with commas (Kubernetes documentation, "Field
        Selectors"; kubernetes/kubernetes pkg/registry/core/pod/strategy.go, `PodToSelectableFields`).
        """
        query = {"fieldSelector": "status.phase!=Succeeded,status.phase!=Failed"}
        return [_parse(Pod, item, "pod") for item in self._list("/api/v1/pods", query)]

    def list_nodes(self, label_selector: str | None = None) -> list[Node]:
        """Nodes, optionally only those matching a label selector."""
        query = {"labelSelector": label_selector} if label_selector else {}
        return [_parse(Node, item, "node") for item in self._list("/api/v1/nodes", query)]

    def pods_of(self, target: WorkloadRef) -> list[Pod]:
        """The target's pods (by the selector its `scale` reports)."""
        selector = self.read_scale(target).status.selector
        if not selector:
            selector = format_selector(self.read_workload(target).spec.selector)
        path = f"/api/v1/namespaces/{_segment(target.namespace)}/pods"
        return [_parse(Pod, item, "pod") for item in self._list(path, {"labelSelector": selector})]

    def pods_on_node(self, node_name: str) -> list[Pod]:
        """Every pod bound to a node, in every namespace."""
        query = {"fieldSelector": f"spec.nodeName={node_name}"}
        return [_parse(Pod, item, "pod") for item in self._list("/api/v1/pods", query)]

    def pending_pods(self) -> list[Pod]:
        """Every pod in phase Pending, in every namespace."""
        query = {"fieldSelector": "status.phase=Pending"}
        return [_parse(Pod, item, "pod") for item in self._list("/api/v1/pods", query)]

    def list_disruption_budgets(self, namespace: str | None = None) -> list[PodDisruptionBudget]:
        """PodDisruptionBudgets of a namespace, or of all namespaces."""
        path = (
            f"/apis/policy/v1/namespaces/{_segment(namespace)}/poddisruptionbudgets"
            if namespace
            else "/apis/policy/v1/poddisruptionbudgets"
        )
        return [_parse(PodDisruptionBudget, item, "PodDisruptionBudget") for item in self._list(path, {})]

    def find_autoscaler_conflicts(self, target: WorkloadRef) -> list[AutoscalerConflict]:
        """HorizontalPodAutoscalers and KEDA ScaledObjects that scale the same target."""
        return self.conflicting_hpas(target.namespace, [target]) + self.conflicting_scaled_objects(
            target.namespace, [target]
        )

    def conflicting_hpas(self, namespace: str, targets: Collection[WorkloadRef]) -> list[AutoscalerConflict]:
        """The HorizontalPodAutoscalers of `namespace` whose scale target is one of `targets` (one list)."""
        wanted = _by_name(namespace, targets)
        conflicts: list[AutoscalerConflict] = []
        path = f"/apis/autoscaling/v2/namespaces/{_segment(namespace)}/horizontalpodautoscalers"
        for item in self._list(path, {}):
            hpa = _parse(HorizontalPodAutoscaler, item, "HorizontalPodAutoscaler")
            ref = hpa.spec.scale_target_ref
            target = wanted.get((ref.kind, ref.name))
            if target is not None and _is_apps_group(ref.api_version):
                conflicts.append(_conflict("HorizontalPodAutoscaler", hpa.metadata.name, target))
        return conflicts

    def conflicting_scaled_objects(
        self, namespace: str, targets: Collection[WorkloadRef]
    ) -> list[AutoscalerConflict]:
        """The KEDA ScaledObjects of `namespace` whose scale target is one of `targets` (one list)."""
        wanted = _by_name(namespace, targets)
        path = f"/apis/keda.sh/v1alpha1/namespaces/{_segment(namespace)}/scaledobjects"
        try:
            items = self._list(path, {})
        except KubernetesNotFound:
            return []  # the ScaledObject type is not installed: KEDA is not in this cluster
        conflicts: list[AutoscalerConflict] = []
        for item in items:
            scaled = _parse(ScaledObject, item, "ScaledObject")
            ref = scaled.spec.scale_target_ref
            target = wanted.get((ref.kind, ref.name))
            if target is not None and _is_apps_group(ref.api_version):
                conflicts.append(_conflict("ScaledObject", scaled.metadata.name, target))
        return conflicts

    # Writes

    def scale(self, target: WorkloadRef, replicas: int) -> Scale:
        """Set the target's replicas through `scale`, presenting the resourceVersion it read.

        A 409 Conflict means someone wrote in between: re-read and try again, a few times.
        """
        if not INT32_MIN <= replicas <= INT32_MAX or replicas < 0:
            raise ValueError(f"replicas must be a non-negative int32, got {replicas}")
        path = _workload_path(target) + "/scale"
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            current = self.read_scale(target)
            if current.desired_replicas == replicas:
                return current
            body = {
                "apiVersion": "autoscaling/v1",
                "kind": "Scale",
                "metadata": {
                    "name": target.name,
                    "namespace": target.namespace,
                    "resourceVersion": current.resource_version,
                },
                "spec": {"replicas": replicas},
            }
            try:
                answer = self._api.request("PUT", path, query=STRICT, body=body).body
            except KubernetesConflict:
                if attempt == CONFLICT_ATTEMPTS:
                    raise
                self._sleep(CONFLICT_DELAY_SECONDS)
                continue
            return _parse(Scale, answer, f"scale of {target}")
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def set_pod_deletion_cost(self, namespace: str, pod: str, cost: int) -> None:
        """Annotate a pod with `controller.kubernetes.io/pod-deletion-cost` (an int32)."""
        if not INT32_MIN <= cost <= INT32_MAX:
            raise ValueError(f"pod-deletion-cost must be an int32, got {cost}")
        patch = {"metadata": {"annotations": {POD_DELETION_COST: str(cost)}}}
        path = f"/api/v1/namespaces/{_segment(namespace)}/pods/{_segment(pod)}"
        self._api.request("PATCH", path, query=STRICT, body=patch, content_type=MERGE_PATCH)

    def cordon(self, node_name: str) -> None:
        """Mark a node unschedulable (what `kubectl cordon` does)."""
        self._patch_node(node_name, {"spec": {"unschedulable": True}})

    def uncordon(self, node_name: str) -> None:
        """Mark a node schedulable again (the field is removed, as `kubectl uncordon` does)."""
        self._patch_node(node_name, {"spec": {"unschedulable": None}})

    def evict(self, namespace: str, pod: str, *, uid: str | None = None) -> EvictionOutcome:
        """Evict a pod through the Eviction API (policy/v1); a pod already gone counts as done.

        With `uid`, only that incarnation of the pod is evicted: a retried drain never evicts a
        replacement that a StatefulSet recreated under the same name (it counts as gone).
        Raises `EvictionRefused` when a PodDisruptionBudget does not allow it now.
        """
        body: dict[str, Any] = {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": pod, "namespace": namespace},
        }
        if uid is not None:
            body["deleteOptions"] = {"preconditions": {"uid": uid}}
        path = f"/api/v1/namespaces/{_segment(namespace)}/pods/{_segment(pod)}/eviction"
        try:
            self._api.request("POST", path, query=STRICT, body=body)
        except KubernetesNotFound:
            return "already_gone"
        except KubernetesConflict:
            if uid is None:
                raise
            return "already_gone"  # the UID precondition failed: that pod is gone, another has its name
        return "evicted"

    def _patch_node(self, node_name: str, patch: Mapping[str, Any]) -> None:
        path = f"/api/v1/nodes/{_segment(node_name)}"
        self._api.request("PATCH", path, query=STRICT, body=patch, content_type=MERGE_PATCH)

    def _list(self, path: str, query: Mapping[str, str]) -> list[Any]:
        for _ in range(LIST_RESTARTS):
            items: list[Any] = []
            token: str | None = None
            try:
                while True:
                    page_query = {**query, "limit": str(self._page_size)}
                    if token:
                        page_query["continue"] = token
                    body = self._api.request("GET", path, query=page_query).body
                    items.extend(body.get("items") or [])
                    token = (body.get("metadata") or {}).get("continue")
                    if not token:
                        return items
            except KubernetesRejected as error:
                if error.status != 410:
                    raise
                # The continue token expired (410 Gone): list again from the start.
        # Transient: a later attempt, with the cluster less busy, reads the list in time.
        raise KubernetesUnavailable(f"GET {path}: the list kept expiring before it could be read")


def format_selector(selector: LabelSelector) -> str:
    """A label selector in the query-string form (``app=web,tier in (a,b)``), requirements sorted by key."""
    parts: list[tuple[str, str]] = [(key, f"{key}={value}") for key, value in selector.match_labels.items()]
    for requirement in selector.match_expressions:
        values = ",".join(sorted(requirement.values))
        text = {
            "In": f"{requirement.key} in ({values})",
            "NotIn": f"{requirement.key} notin ({values})",
            "Exists": requirement.key,
            "DoesNotExist": f"!{requirement.key}",
        }[requirement.operator]
        parts.append((requirement.key, text))
    return ",".join(text for _, text in sorted(parts))


def _workload_path(target: WorkloadRef) -> str:
    return f"/apis/apps/v1/namespaces/{_segment(target.namespace)}/{target.plural}/{_segment(target.name)}"


def _segment(value: str) -> str:
    if not value or value in (".", "..") or "/" in value:
        raise ValueError(f"{value!r} is not a valid object name")
    return quote(value, safe="")


def _by_name(namespace: str, targets: Collection[WorkloadRef]) -> dict[tuple[str, str], WorkloadRef]:
    found: dict[tuple[str, str], WorkloadRef] = {}
    for target in targets:
        if target.namespace != namespace:
            raise ValueError(f"{target} is not in namespace {namespace!r}")
        found[(target.kind, target.name)] = target
    return found


def _is_apps_group(api_version: str | None) -> bool:
    return api_version is None or api_version.split("/")[0] == "apps"


def _conflict(kind: str, name: str, target: WorkloadRef) -> AutoscalerConflict:
    return AutoscalerConflict.model_validate(
        {"kind": kind, "namespace": target.namespace, "name": name, "target": target}
    )


def _parse(model: type[Model], data: Any, what: str) -> Model:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise KubernetesError(f"the API server returned a {what} ebb cannot read: {error}") from error
