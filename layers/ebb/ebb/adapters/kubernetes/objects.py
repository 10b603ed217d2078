"""The Kubernetes objects ebb reads, as validated models of the API's JSON.

Field names and types follow the Kubernetes API reference (core/v1 Pod and Node, apps/v1
Deployment and StatefulSet, autoscaling/v1 Scale, policy/v1 PodDisruptionBudget, autoscaling/v2
HorizontalPodAutoscaler, meta/v1 Status) and KEDA's ScaledObject. Only the fields ebb uses are
modelled; the API returns many more, which are ignored. Resource quantities are parsed exactly
(``"500m"`` is ``Decimal("0.5")``).
"""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

from ebb.core.nodes.quantities import Quantity as QuantityText
from ebb.core.nodes.quantities import parse_quantity

# Annotation the ReplicaSet controller reads when choosing pods to delete (int32, default 0).
POD_DELETION_COST: str = "controller.kubernetes.io/pod-deletion-cost"
INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1

DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


def _quantity(value: QuantityText) -> Decimal:
    return parse_quantity(value)


Quantity = Annotated[Decimal, BeforeValidator(_quantity)]
ResourceList = dict[str, Quantity]


class KubernetesModel(BaseModel):
    """Base of the models: camelCase on the wire, snake_case in Python, unknown fields ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore")


class OwnerReference(KubernetesModel):
    """Who owns an object (a ReplicaSet owns its pods, a Deployment its ReplicaSets)."""

    api_version: str
    kind: str
    name: str
    uid: str
    controller: bool = False


class ObjectMeta(KubernetesModel):
    """The metadata every object carries."""

    name: str
    namespace: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    creation_timestamp: datetime | None = None
    deletion_timestamp: datetime | None = None
    owner_references: tuple[OwnerReference, ...] = ()

    @property
    def controller(self) -> OwnerReference | None:
        """The owner reference marked as the managing controller, if any."""
        return next((owner for owner in self.owner_references if owner.controller), None)


class LabelSelectorRequirement(KubernetesModel):
    """One set-based requirement of a label selector."""

    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        """Whether `labels` satisfy this requirement."""
        if self.operator == "In":
            return labels.get(self.key) in self.values
        if self.operator == "NotIn":
            return self.key not in labels or labels[self.key] not in self.values
        if self.operator == "Exists":
            return self.key in labels
        return self.key not in labels


class LabelSelector(KubernetesModel):
    """`matchLabels` and `matchExpressions`, ANDed (meta/v1 LabelSelector)."""

    match_labels: dict[str, str] = Field(default_factory=dict)
    match_expressions: tuple[LabelSelectorRequirement, ...] = ()

    def is_empty(self) -> bool:
        """An empty selector: matches everything for a workload, nothing for a PodDisruptionBudget."""
        return not self.match_labels and not self.match_expressions

    def matches(self, labels: dict[str, str]) -> bool:
        """Whether an object with `labels` is selected."""
        return all(labels.get(key) == value for key, value in self.match_labels.items()) and all(
            requirement.matches(labels) for requirement in self.match_expressions
        )


TaintEffect = Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]


class Taint(KubernetesModel):
    """A node taint."""

    key: str
    value: str | None = None
    effect: TaintEffect


class Toleration(KubernetesModel):
    """A pod's toleration of taints."""

    key: str | None = None
    operator: Literal["Exists", "Equal"] = "Equal"
    value: str | None = None
    effect: TaintEffect | None = None
    toleration_seconds: int | None = None

    def tolerates(self, taint: Taint) -> bool:
        """Whether this toleration matches `taint` (core/v1 Toleration.ToleratesTaint)."""
        if self.effect is not None and self.effect != taint.effect:
            return False
        if self.key is not None and self.key != taint.key:
            return False
        if self.operator == "Exists":
            return True
        return (self.value or "") == (taint.value or "")


class NodeSelectorRequirement(KubernetesModel):
    """One requirement of a node selector term."""

    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]
    values: tuple[str, ...] = ()


class NodeSelectorTerm(KubernetesModel):
    """Requirements on node labels (`matchExpressions`) and fields (`matchFields`), ANDed."""

    match_expressions: tuple[NodeSelectorRequirement, ...] = ()
    match_fields: tuple[NodeSelectorRequirement, ...] = ()


class NodeSelector(KubernetesModel):
    """Terms ORed together."""

    node_selector_terms: tuple[NodeSelectorTerm, ...]


class PreferredSchedulingTerm(KubernetesModel):
    """A weighted preference for nodes."""

    weight: int
    preference: NodeSelectorTerm


class NodeAffinity(KubernetesModel):
    """Required and preferred node affinity."""

    required_during_scheduling_ignored_during_execution: NodeSelector | None = None
    preferred_during_scheduling_ignored_during_execution: tuple[PreferredSchedulingTerm, ...] = ()


class PodAffinityTerm(KubernetesModel):
    """Pods (selected by labels) that a pod must or must not share a topology domain with."""

    label_selector: LabelSelector | None = None
    topology_key: str
    namespaces: tuple[str, ...] = ()


class WeightedPodAffinityTerm(KubernetesModel):
    """A weighted pod (anti-)affinity preference."""

    weight: int
    pod_affinity_term: PodAffinityTerm


class PodAffinity(KubernetesModel):
    """Pod affinity or anti-affinity rules."""

    required_during_scheduling_ignored_during_execution: tuple[PodAffinityTerm, ...] = ()
    preferred_during_scheduling_ignored_during_execution: tuple[WeightedPodAffinityTerm, ...] = ()


class Affinity(KubernetesModel):
    """Node affinity, pod affinity and pod anti-affinity."""

    node_affinity: NodeAffinity | None = None
    pod_affinity: PodAffinity | None = None
    pod_anti_affinity: PodAffinity | None = None


class ResourceRequirements(KubernetesModel):
    """A container's resource requests and limits."""

    requests: ResourceList = Field(default_factory=dict)
    limits: ResourceList = Field(default_factory=dict)


class Container(KubernetesModel):
    """A container of a pod; `restart_policy` ``Always`` on an init container makes it a sidecar."""

    name: str
    resources: ResourceRequirements = ResourceRequirements()
    restart_policy: Literal["Always"] | None = None

    @property
    def requests(self) -> ResourceList:
        """Requests, defaulting to limits where only a limit is set (as the API server defaults them)."""
        return {**self.resources.limits, **self.resources.requests}


class PodSpec(KubernetesModel):
    """The scheduling-relevant part of a pod's spec."""

    containers: tuple[Container, ...]
    init_containers: tuple[Container, ...] = ()
    node_name: str | None = None
    node_selector: dict[str, str] = Field(default_factory=dict)
    affinity: Affinity | None = None
    tolerations: tuple[Toleration, ...] = ()
    overhead: ResourceList = Field(default_factory=dict)
    priority_class_name: str | None = None
    topology_spread_constraints: tuple[dict[str, Any], ...] = ()
    """Kept only to be seen: the node core does not model them yet, so their pods are reported."""

    def effective_requests(self) -> dict[str, Decimal]:
        """What the scheduler reserves for the pod, per resource.

        The larger of (app containers + sidecars) and the peak of any init container (which runs
        beside the sidecars started before it), plus the pod overhead. Kubernetes documents the
        rule under "Resource sharing within containers" (init containers) and "Sidecar containers".
        """
        running: dict[str, Decimal] = {}
        for container in self.containers:
            _add_into(running, container.requests)
        sidecars: dict[str, Decimal] = {}
        init_peak: dict[str, Decimal] = {}
        for container in self.init_containers:
            if container.restart_policy == "Always":
                _add_into(sidecars, container.requests)
                _max_into(init_peak, sidecars)
            else:
                step = dict(sidecars)
                _add_into(step, container.requests)
                _max_into(init_peak, step)
        _add_into(running, sidecars)
        _max_into(running, init_peak)
        _add_into(running, self.overhead)
        return running


def _add_into(total: dict[str, Decimal], extra: dict[str, Decimal]) -> None:
    for name, amount in extra.items():
        total[name] = total.get(name, Decimal(0)) + amount


def _max_into(total: dict[str, Decimal], other: dict[str, Decimal]) -> None:
    for name, amount in other.items():
        total[name] = max(total.get(name, Decimal(0)), amount)


class PodTemplateMeta(KubernetesModel):
    """Metadata of a pod template (no name of its own)."""

    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class PodTemplateSpec(KubernetesModel):
    """The pod template of a workload."""

    metadata: PodTemplateMeta = PodTemplateMeta()
    spec: PodSpec


ConditionStatus = Literal["True", "False", "Unknown"]


class PodCondition(KubernetesModel):
    """A pod condition (PodScheduled, Initialized, ContainersReady, Ready, ...)."""

    type: str
    status: ConditionStatus
    reason: str | None = None
    message: str | None = None
    last_transition_time: datetime | None = None


class PodStatus(KubernetesModel):
    """A pod's observed state."""

    phase: Literal["Pending", "Running", "Succeeded", "Failed", "Unknown"] = "Pending"
    conditions: tuple[PodCondition, ...] = ()
    start_time: datetime | None = None


class Pod(KubernetesModel):
    """A pod, with what ebb needs to account for it on a node and to choose it for deletion."""

    metadata: ObjectMeta
    spec: PodSpec
    status: PodStatus = PodStatus()

    @property
    def name(self) -> str:
        """The pod's name."""
        return self.metadata.name

    @property
    def namespace(self) -> str:
        """The pod's namespace."""
        return self.metadata.namespace or "default"

    @property
    def node_name(self) -> str | None:
        """The node the pod is bound to, or None while unscheduled."""
        return self.spec.node_name or None

    def condition(self, kind: str) -> PodCondition | None:
        """The condition of the given type, if reported."""
        return next((c for c in self.status.conditions if c.type == kind), None)

    @property
    def is_ready(self) -> bool:
        """Whether the Ready condition is True."""
        ready = self.condition("Ready")
        return ready is not None and ready.status == "True"

    @property
    def is_unschedulable(self) -> bool:
        """Whether the scheduler reported that no node fits the pod."""
        scheduled = self.condition("PodScheduled")
        return scheduled is not None and scheduled.status == "False" and scheduled.reason == "Unschedulable"

    @property
    def is_terminating(self) -> bool:
        """Whether deletion has started."""
        return self.metadata.deletion_timestamp is not None

    @property
    def deletion_cost(self) -> int:
        """The pod-deletion-cost annotation (0 when unset, as the ReplicaSet controller reads it)."""
        raw = self.metadata.annotations.get(POD_DELETION_COST)
        return int(raw) if raw is not None else 0


class NodeSpec(KubernetesModel):
    """A node's spec."""

    unschedulable: bool = False
    taints: tuple[Taint, ...] = ()
    provider_id: str | None = Field(default=None, alias="providerID")


class NodeCondition(KubernetesModel):
    """A node condition (Ready, MemoryPressure, ...)."""

    type: str
    status: ConditionStatus
    reason: str | None = None
    message: str | None = None


class NodeStatus(KubernetesModel):
    """A node's capacity, allocatable resources and conditions."""

    capacity: ResourceList = Field(default_factory=dict)
    allocatable: ResourceList = Field(default_factory=dict)
    conditions: tuple[NodeCondition, ...] = ()


class Node(KubernetesModel):
    """A node, with what ebb needs to pack pods onto it and to scale it in."""

    metadata: ObjectMeta
    spec: NodeSpec = NodeSpec()
    status: NodeStatus = NodeStatus()

    @property
    def name(self) -> str:
        """The node's name."""
        return self.metadata.name

    @property
    def labels(self) -> dict[str, str]:
        """The node's labels."""
        return self.metadata.labels

    @property
    def is_ready(self) -> bool:
        """Whether the Ready condition is True."""
        return any(c.type == "Ready" and c.status == "True" for c in self.status.conditions)


class ScaleSpec(KubernetesModel):
    """The desired replicas."""

    replicas: int = 0


class ScaleStatus(KubernetesModel):
    """The observed replicas and the label selector of the target's pods (as a string)."""

    replicas: int = 0
    selector: str | None = None


class Scale(KubernetesModel):
    """The `scale` subresource (autoscaling/v1 Scale) of a Deployment or StatefulSet."""

    metadata: ObjectMeta
    spec: ScaleSpec = ScaleSpec()
    status: ScaleStatus = ScaleStatus()

    @property
    def desired_replicas(self) -> int:
        """`spec.replicas`."""
        return self.spec.replicas

    @property
    def resource_version(self) -> str | None:
        """The parent object's resourceVersion, which a write must present."""
        return self.metadata.resource_version


class WorkloadSpec(KubernetesModel):
    """What Deployments and StatefulSets share in their spec."""

    replicas: int = 1
    selector: LabelSelector
    template: PodTemplateSpec
    min_ready_seconds: int = 0


class WorkloadStatus(KubernetesModel):
    """What Deployments and StatefulSets share in their status."""

    observed_generation: int | None = None
    replicas: int = 0
    ready_replicas: int = 0
    available_replicas: int = 0
    updated_replicas: int = 0


class Workload(KubernetesModel):
    """A Deployment or StatefulSet: desired and observed replicas and the pod template."""

    metadata: ObjectMeta
    spec: WorkloadSpec
    status: WorkloadStatus = WorkloadStatus()


WorkloadKind = Literal["Deployment", "StatefulSet"]


class WorkloadRef(KubernetesModel):
    """Names a scaling target, the way a ScaledObject's `scaleTargetRef` does."""

    kind: WorkloadKind = "Deployment"
    namespace: Annotated[str, Field(pattern=DNS_LABEL, max_length=63)]
    name: Annotated[str, Field(pattern=DNS_SUBDOMAIN, max_length=253)]

    @property
    def plural(self) -> str:
        """The resource type in URLs (``deployments``, ``statefulsets``)."""
        return "deployments" if self.kind == "Deployment" else "statefulsets"

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


class PodDisruptionBudgetSpec(KubernetesModel):
    """minAvailable or maxUnavailable (an integer or a percentage) over the selected pods."""

    min_available: int | str | None = None
    max_unavailable: int | str | None = None
    selector: LabelSelector | None = None
    unhealthy_pod_eviction_policy: Literal["IfHealthyBudget", "AlwaysAllow"] | None = None


class PodDisruptionBudgetStatus(KubernetesModel):
    """How many disruptions the budget allows now."""

    observed_generation: int | None = None
    disruptions_allowed: int = 0
    current_healthy: int = 0
    desired_healthy: int = 0
    expected_pods: int = 0


class PodDisruptionBudget(KubernetesModel):
    """A PodDisruptionBudget (policy/v1)."""

    metadata: ObjectMeta
    spec: PodDisruptionBudgetSpec = PodDisruptionBudgetSpec()
    status: PodDisruptionBudgetStatus = PodDisruptionBudgetStatus()

    def covers(self, pod: Pod) -> bool:
        """Whether the budget selects `pod`.

        In policy/v1 a null selector matches no pods and an empty one (`{}`) every pod of the
        namespace (Kubernetes API reference, PodDisruptionBudgetSpec.selector); policy/v1beta1
        read an empty selector as none.
        """
        selector = self.spec.selector
        if selector is None or pod.namespace != self.metadata.namespace:
            return False
        return selector.is_empty() or selector.matches(pod.metadata.labels)


class CrossVersionObjectReference(KubernetesModel):
    """An HPA's `scaleTargetRef`."""

    kind: str
    name: str
    api_version: str | None = None


class HorizontalPodAutoscalerSpec(KubernetesModel):
    """The part of an HPA's spec that names its target."""

    scale_target_ref: CrossVersionObjectReference
    min_replicas: int | None = None
    max_replicas: int


class HorizontalPodAutoscaler(KubernetesModel):
    """A HorizontalPodAutoscaler (autoscaling/v2)."""

    metadata: ObjectMeta
    spec: HorizontalPodAutoscalerSpec


class ScaledObjectTargetRef(KubernetesModel):
    """A ScaledObject's `scaleTargetRef`: kind and apiVersion default to an apps/v1 Deployment."""

    name: str
    kind: str = "Deployment"
    api_version: str = "apps/v1"


class ScaledObjectSpec(KubernetesModel):
    """The part of a ScaledObject's spec that names its target."""

    scale_target_ref: ScaledObjectTargetRef


class ScaledObject(KubernetesModel):
    """A KEDA ScaledObject (keda.sh/v1alpha1)."""

    metadata: ObjectMeta
    spec: ScaledObjectSpec


class AutoscalerConflict(KubernetesModel):
    """Another autoscaler acting on one of ebb's targets: ebb refuses to fight it."""

    kind: Literal["HorizontalPodAutoscaler", "ScaledObject"]
    namespace: str
    name: str
    target: WorkloadRef


class StatusCause(KubernetesModel):
    """One cause of an API error (its `reason` is Go's CauseType, e.g. ``DisruptionBudget``)."""

    reason: str | None = None
    message: str | None = None
    field: str | None = None


class StatusDetails(KubernetesModel):
    """Details of an API error."""

    name: str | None = None
    group: str | None = None
    kind: str | None = None
    causes: tuple[StatusCause, ...] = ()
    retry_after_seconds: int | None = None


class Status(KubernetesModel):
    """The meta/v1 Status the API server returns for errors (and for a successful eviction)."""

    status: str | None = None
    message: str | None = None
    reason: str | None = None
    code: int | None = None
    details: StatusDetails | None = None
