"""ebb's own document, `ebb.dev/v1alpha1` `ClusterBinding`.

It binds the KEDA and Karpenter documents to one HyperPod cluster and its EKS cluster, states the
facts about HyperPod instance groups that validation needs offline (instance type, zone, minimum
count), maps each ScaledObject to the NodePool its pods land on, and holds the settings only ebb
has. Every ebb-only setting has a safe default: shadow mode on (decide and record, change
nothing), no pre-warming. How long an empty node is kept is the NodePool's `consolidateAfter`.

Name patterns come from botocore's service models: sagemaker `ClusterNameOrArn`, eks
`ClusterName`; `minInstanceCount` is HyperPod's `MinInstanceCount` (0..6758).
"""

import re
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StrictBool, StrictInt, StrictStr, model_validator

from ebb.config.catalogue import InstanceTypeSpec, PriceSource
from ebb.config.durations import PositiveDuration, cron_problem
from ebb.config.kubernetes_names import LabelValue, NamespaceName, ObjectName, QualifiedName
from ebb.config.model_base import (
    Finding,
    FrozenMap,
    ManifestModel,
    NonEmpty,
    StrictFloat,
    empty_map,
    error_at,
)
from ebb.config.model_errors import custom_error
from ebb.config.node_class import InstanceGroupName
from ebb.config.object_meta import ClusterObjectMeta
from ebb.config.pod_spec import PodSpec, ResourceList
from ebb.config.scheduling import Taint

API_VERSION = "ebb.dev/v1alpha1"
KIND = "ClusterBinding"
MAX_INSTANCE_COUNT = 6758

_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")
_ZONE_RE = re.compile(r"^([a-z]{2}(-[a-z]+)+-[0-9]+)[a-z]$")
_HYPERPOD_CLUSTER_RE = re.compile(
    r"^((arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]*:[0-9]{12}:cluster/[a-z0-9]{12})|([a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}))$"
)
_EKS_CLUSTER_RE = re.compile(r"^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$")


def _pattern(kind: str, pattern: re.Pattern[str], allowed: str) -> AfterValidator:
    def validate(value: str) -> str:
        if not pattern.match(value):
            raise custom_error(kind, f"{value!r} is not allowed; allowed: {allowed}")
        return value

    return AfterValidator(validate)


AwsRegion = Annotated[StrictStr, _pattern("region", _REGION_RE, "an AWS region such as us-east-1")]
AvailabilityZone = Annotated[
    StrictStr, _pattern("zone", _ZONE_RE, "an Availability Zone name such as us-east-1a")
]
HyperPodClusterName = Annotated[
    StrictStr,
    _pattern(
        "hyperpod_cluster",
        _HYPERPOD_CLUSTER_RE,
        "a HyperPod cluster name (1-63 letters, digits and hyphens) or cluster ARN",
    ),
]
EksClusterName = Annotated[
    StrictStr,
    _pattern("eks_cluster", _EKS_CLUSTER_RE, "an EKS cluster name (1-100 letters, digits, '-' and '_')"),
]


class InstanceGroupFacts(ManifestModel):
    """What ebb must know about one single-AZ HyperPod instance group to plan it offline."""

    name: InstanceGroupName
    instance_type: Annotated[StrictStr, Field(pattern=r"^ml\.")] = Field(alias="instanceType")
    availability_zone: AvailabilityZone = Field(alias="availabilityZone")
    min_instance_count: Annotated[StrictInt, Field(ge=0, le=MAX_INSTANCE_COUNT)] = Field(
        0, alias="minInstanceCount"
    )
    capacity_type: Literal["on-demand", "spot"] = Field("on-demand", alias="capacityType")
    """`spot` for a HyperPod spot instance group (CreateCluster's
    ClusterInstanceGroupSpecification.CapacityRequirements.Spot; DescribeClusterNode reports
    each node's CapacityType, OnDemand or Spot)."""
    usd_per_hour: Annotated[StrictFloat, Field(ge=0)] | None = Field(None, alias="usdPerHour")
    """What one node of this group costs, when not the catalogue's price for its type and zone: a
    Spot group's price (required: the catalogue has no Spot prices), or a negotiated rate."""
    labels: FrozenMap[QualifiedName, LabelValue] = Field(default_factory=empty_map)
    taints: tuple[Taint, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _one_instance_type(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "instanceRequirements" in data:
            raise custom_error(
                "flexible_instance_group",
                "instanceRequirements: flexible instance groups (several instance types in one group) "
                "are not planned. BatchAddClusterNodes can name the types of an addition "
                "(AddClusterNodeSpecification.InstanceTypes), but ebb's provisioning adds nodes to a "
                "group by count, and the planner would have to share the group's count between its "
                "types; rather than plan such a group as its worst type, ebb refuses it. Use one "
                "instance group per instance type (instanceType)",
            )
        return data

    def findings(self) -> Iterator[Finding]:
        if self.capacity_type == "spot" and self.usd_per_hour is None:
            yield error_at(
                ("usdPerHour",),
                "a spot instance group needs its price: the instance catalogue has no Spot prices, "
                "and the planner prefers Spot over on-demand only by price (as Karpenter does)",
            )


class HyperPodClusterBinding(ManifestModel):
    """The HyperPod cluster and the facts of its instance groups."""

    name: HyperPodClusterName
    instance_groups: Annotated[tuple[InstanceGroupFacts, ...], NonEmpty] = Field(alias="instanceGroups")

    def findings(self) -> Iterator[Finding]:
        seen: set[str] = set()
        for index, group in enumerate(self.instance_groups):
            if group.name in seen:
                yield error_at(
                    ("instanceGroups", index, "name"), f"instance group {group.name!r} is stated twice"
                )
            seen.add(group.name)


class EksClusterBinding(ManifestModel):
    """The EKS cluster that orchestrates the HyperPod cluster."""

    name: EksClusterName


class ScaledObjectRef(ManifestModel):
    """A ScaledObject by namespace and name."""

    name: ObjectName
    namespace: NamespaceName = "default"

    @property
    def qualified_name(self) -> str:
        """`namespace/name`."""
        return f"{self.namespace}/{self.name}"


class ScalerBinding(ManifestModel):
    """Which NodePool a ScaledObject's pods land on; optionally its pod template, for offline checks."""

    scaled_object: ScaledObjectRef = Field(alias="scaledObject")
    node_pool: ObjectName = Field(alias="nodePool")
    pod_spec: PodSpec | None = Field(None, alias="podSpec")
    pod_labels: FrozenMap[QualifiedName, LabelValue] = Field(default_factory=empty_map, alias="podLabels")
    """The pod template's labels: what topology spread and pod (anti-)affinity selectors match."""
    keda_exact: StrictBool = Field(False, alias="kedaExact")
    """Compute exactly what KEDA and the HPA would, turning off ebb's deliberate differences."""
    scaler_metrics: StrictBool = Field(False, alias="scalerMetrics")
    """Also publish this scaler's own replica metrics (two more custom metrics); by default
    only its pool's and cluster's are published."""
    sub_minute_polling: StrictBool = Field(False, alias="subMinutePolling")
    """Decide this scaler's NodePool every `pollingInterval` seconds when that is under a minute
    (rounded down to 10, 15, 20 or 30 s), not only on the one-minute tick: each extra decision
    is a whole pool decision, billed as one (`ebb.config.polling`)."""


class IdleRule(ManifestModel):
    """`idle`: kept so that an older configuration gets a clear answer, not an unknown field.

    One knob per behaviour: how long an empty node is kept is its NodePool's
    `spec.disruption.consolidateAfter` (Karpenter's semantics: a node may be consolidated once no
    pod has been added or removed for that long), so `emptyNodeAfter` is refused with that advice.
    """

    empty_node_after: PositiveDuration | None = Field(None, alias="emptyNodeAfter")

    def findings(self) -> Iterator[Finding]:
        if self.empty_node_after is not None:
            yield error_at(
                ("emptyNodeAfter",),
                "is not used: how long an empty node is kept is its NodePool's "
                "spec.disruption.consolidateAfter (Karpenter semantics); set it there, e.g. "
                f"consolidateAfter: {self.empty_node_after}",
            )


class PrewarmWindow(ManifestModel):
    """Hold at least `minReplicas` of a scaler from each `schedule` hit for `duration` (UTC cron)."""

    scaled_object: ScaledObjectRef = Field(alias="scaledObject")
    schedule: StrictStr
    duration: PositiveDuration
    min_replicas: Annotated[StrictInt, Field(ge=1)] = Field(alias="minReplicas")

    def findings(self) -> Iterator[Finding]:
        problem = cron_problem(self.schedule)
        if problem is not None:
            yield error_at(("schedule",), f"{self.schedule!r} is not a cron schedule: {problem}")


class CatalogueOverride(ManifestModel):
    """Instance types that replace or extend the shipped catalogue, and their price source."""

    instance_types: tuple[InstanceTypeSpec, ...] = Field((), alias="instanceTypes")
    prices: PriceSource | None = None


def _default_idle() -> IdleRule:
    return IdleRule()


# What `nodeOverhead` may state: the resources the node planner packs. DaemonSet pods take pod
# slots too (the kubelet's maxPods counts every pod), hence `pods`; counted resources are whole.
NODE_OVERHEAD_RESOURCES = ("cpu", "memory", "nvidia.com/gpu", "pods")
_WHOLE_OVERHEAD_RESOURCES = ("nvidia.com/gpu", "pods")


def _node_overhead_findings(overhead: ResourceList) -> Iterator[Finding]:
    for name, quantity in overhead.items():
        path = ("nodeOverhead", name)
        if name not in NODE_OVERHEAD_RESOURCES:
            yield error_at(
                path,
                f"{name!r} is not planned per node; allowed here: {', '.join(NODE_OVERHEAD_RESOURCES)}",
            )
        elif name in _WHOLE_OVERHEAD_RESOURCES and quantity.value != quantity.value.to_integral_value():
            yield error_at(path, f"{quantity} is not a whole number of {name}")


class ClusterBindingSpec(ManifestModel):
    """`spec` of the ClusterBinding."""

    region: AwsRegion
    hyper_pod_cluster: HyperPodClusterBinding = Field(alias="hyperPodCluster")
    eks_cluster: EksClusterBinding = Field(alias="eksCluster")
    scalers: Annotated[tuple[ScalerBinding, ...], NonEmpty]
    shadow_mode: StrictBool = Field(True, alias="shadowMode")
    idle: IdleRule = Field(default_factory=_default_idle)
    prewarm: tuple[PrewarmWindow, ...] = ()
    pods_only: tuple[ObjectName, ...] = Field((), alias="podsOnly")
    """NodePools whose replicas ebb sets and whose nodes it leaves to HyperPod's own autoscaling
    (its managed Karpenter): ebb plans no node for them and starts no provisioning."""
    node_overhead: ResourceList = Field(default_factory=empty_map, alias="nodeOverhead")
    instance_catalogue: CatalogueOverride | None = Field(None, alias="instanceCatalogue")

    def findings(self) -> Iterator[Finding]:
        yield from _node_overhead_findings(self.node_overhead)
        for index, group in enumerate(self.hyper_pod_cluster.instance_groups):
            zone_region = _ZONE_RE.match(group.availability_zone)
            if zone_region is not None and zone_region.group(1) != self.region:
                yield error_at(
                    ("hyperPodCluster", "instanceGroups", index, "availabilityZone"),
                    f"{group.availability_zone!r} is not in region {self.region}",
                )
        seen: dict[str, int] = {}
        for index, scaler in enumerate(self.scalers):
            key = scaler.scaled_object.qualified_name
            if key in seen:
                yield error_at(
                    ("scalers", index, "scaledObject"),
                    f"ScaledObject {key} is already bound at scalers[{seen[key]}]; bind each ScaledObject "
                    "once",
                )
            seen.setdefault(key, index)


class ClusterBinding(ManifestModel):
    """The ClusterBinding document."""

    api_version: Literal["ebb.dev/v1alpha1"] = Field(alias="apiVersion")
    kind: Literal["ClusterBinding"]
    metadata: ClusterObjectMeta
    spec: ClusterBindingSpec

    @property
    def name(self) -> str:
        """The binding's name."""
        return self.metadata.name
