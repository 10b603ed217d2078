"""Instance types and HyperPod instance groups, and the labels a node launched from them carries."""

from typing import Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ebb.core.nodes.quantities import MIB, ZERO, Resources

INSTANCE_TYPE_LABEL: Final = "node.kubernetes.io/instance-type"
ZONE_LABEL: Final = "topology.kubernetes.io/zone"
ARCH_LABEL: Final = "kubernetes.io/arch"
OS_LABEL: Final = "kubernetes.io/os"
NODEPOOL_LABEL: Final = "karpenter.sh/nodepool"
CAPACITY_TYPE_LABEL: Final = "karpenter.sh/capacity-type"
INSTANCE_GROUP_LABEL: Final = "sagemaker.amazonaws.com/instance-group-name"

WELL_KNOWN_LABELS: Final = frozenset(
    {
        INSTANCE_TYPE_LABEL,
        ZONE_LABEL,
        ARCH_LABEL,
        OS_LABEL,
        NODEPOOL_LABEL,
        CAPACITY_TYPE_LABEL,
        INSTANCE_GROUP_LABEL,
    }
)


class InstanceType(BaseModel):
    """An instance type of the catalogue: its capacity, price and the kubelet's reservation."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    vcpus: int = Field(gt=0)
    memory_mib: int = Field(gt=0)
    gpus: int = Field(default=0, ge=0)
    extended: dict[str, int] = Field(default_factory=dict)
    """Devices a device plugin advertises on every node of the type, by resource name
    (``vpc.amazonaws.com/efa``, ``aws.amazon.com/neuron``, ``nvidia.com/mig-1g.10gb``, ...)."""
    max_pods: int = Field(default=110, gt=0)
    arch: Literal["amd64", "arm64"] = "amd64"
    price_per_hour: float = Field(ge=0)
    kube_reserved: Resources = ZERO
    """The kubelet's and system reservation (capacity minus allocatable)."""
    labels: dict[str, str] = Field(default_factory=dict)
    """Extra labels every node of this type carries (e.g. a GPU product label)."""

    @property
    def capacity(self) -> Resources:
        """What the instance has; NodePool limits count this, as Karpenter does."""
        return Resources(
            cpu_millis=self.vcpus * 1000,
            memory_bytes=self.memory_mib * MIB,
            gpus=self.gpus,
            pods=self.max_pods,
            extended=tuple(self.extended.items()),
        )

    @property
    def allocatable(self) -> Resources:
        """What pods can request on an empty node of this type."""
        return self.capacity.minus(self.kube_reserved)

    @model_validator(mode="after")
    def _reservation_fits(self) -> Self:
        if not self.kube_reserved.fits_in(self.capacity):
            raise ValueError(f"instance type {self.name!r}: kube_reserved exceeds the instance's capacity")
        return self


class InstanceGroup(BaseModel):
    """A HyperPod instance group, as a HyperpodNodeClass refers to it.

    A group with several instance types (flexible instance requirements) lets HyperPod pick the
    type at launch, so the planner assumes the worst of them: the smallest capacity in each
    dimension, the highest price, and compatibility only with pods every type could run.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    zone: str = Field(min_length=1)
    instance_types: tuple[str, ...] = Field(min_length=1)
    current_count: int = Field(default=0, ge=0)
    """Instances that exist now."""
    target_count: int | None = Field(default=None, ge=0)
    """The group's requested count (existing plus still launching).

    ``None``: :class:`~ebb.core.nodes.inputs.PlanningInput` counts the nodes it lists for the group
    that are not being deleted. A stated count below that number is refused there.
    """
    min_count: int = Field(default=0, ge=0)
    max_count: int | None = Field(default=None, ge=0)
    paid_for: bool = False
    """Capacity already paid for (a training plan or reservation): nodes cost nothing extra."""
    spot: bool = False
    """A HyperPod spot instance group (``CapacityRequirements.Spot``): its nodes are Spot instances."""
    price_per_hour: float | None = Field(default=None, ge=0)
    """What one node of the group costs when it is not its type's on-demand price: a Spot price, a
    price of the group's zone. ``None``: the type's price."""

    @model_validator(mode="after")
    def _counts_consistent(self) -> Self:
        if len(set(self.instance_types)) != len(self.instance_types):
            raise ValueError(f"instance group {self.name!r}: instance_types lists a type twice")
        if self.max_count is not None and self.min_count > self.max_count:
            raise ValueError(
                f"instance group {self.name!r}: min_count {self.min_count} is above "
                f"max_count {self.max_count}"
            )
        if self.paid_for and self.spot:
            raise ValueError(f"instance group {self.name!r}: paid_for capacity is not Spot capacity")
        if self.paid_for and self.max_count is None:
            raise ValueError(
                f"instance group {self.name!r}: paid_for capacity needs max_count "
                "(how many instances are paid for)"
            )
        return self

    def headroom(self, target_count: int) -> int | None:
        """How many more nodes the group may be asked for at ``target_count`` (``None``: no cap)."""
        return None if self.max_count is None else max(self.max_count - target_count, 0)

    @property
    def capacity_type(self) -> str:
        """Karpenter's capacity-type label value for this group's nodes."""
        if self.paid_for:
            return "reserved"
        return "spot" if self.spot else "on-demand"

    def node_price(self, instance_type: InstanceType) -> float:
        """The marginal price of one node of ``instance_type`` in this group."""
        if self.paid_for:
            return 0.0
        return instance_type.price_per_hour if self.price_per_hour is None else self.price_per_hour


def node_labels(
    group: InstanceGroup, instance_type: InstanceType, pool_labels: dict[str, str]
) -> dict[str, str]:
    """The labels of a node of ``instance_type`` launched in ``group`` for a pool."""
    labels = dict(instance_type.labels)
    labels.update(pool_labels)
    labels.update(
        {
            INSTANCE_TYPE_LABEL: instance_type.name,
            ZONE_LABEL: group.zone,
            ARCH_LABEL: instance_type.arch,
            OS_LABEL: "linux",
            CAPACITY_TYPE_LABEL: group.capacity_type,
            INSTANCE_GROUP_LABEL: group.name,
        }
    )
    return labels
