"""The stand-in's state: clusters, instance groups, nodes, and each region's capacity and quotas."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

# ClusterInstanceStatus values (SageMaker API Reference).
RUNNING: Final = "Running"
FAILURE: Final = "Failure"
PENDING: Final = "Pending"
SHUTTING_DOWN: Final = "ShuttingDown"
DEEP_HEALTH_CHECK: Final = "DeepHealthCheckInProgress"
NOT_FOUND: Final = "NotFound"

CONTINUOUS: Final = "Continuous"
# ClusterCapacityType (SageMaker API Reference): a node's, from its group's CapacityRequirements.
ON_DEMAND: Final = "OnDemand"
SPOT: Final = "Spot"
SPOT_NOTICE_SECONDS: Final = 120.0
"""EC2's Spot interruption notice comes two minutes before the instance is stopped or terminated
(Amazon EC2 User Guide, "Spot Instance interruption notices"); it is best effort."""
# ClusterStatus and InstanceGroupStatus of a cluster being created.
CREATING: Final = "Creating"


def wire_time(moment: datetime) -> datetime:
    """`moment` at the millisecond precision of the API's timestamps, so that a time read back
    from a response compares equal to the stand-in's own."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@dataclass(frozen=True)
class Timings:
    """How long things take in one instance group, in simulated seconds.

    Ranges are drawn uniformly per node from the world's seeded generator. Defaults are orders of
    magnitude, not measurements: a GPU node takes minutes to boot and join, deep health checks
    "anywhere between a few mins to several hours" (continuous provisioning page).
    """

    launch_seconds: float = 5.0
    """From the request to the EC2 launch attempt."""
    boot_seconds: tuple[float, float] = (300.0, 600.0)
    """From launch to Running (or to deep health checks): boot, lifecycle scripts, joining EKS."""
    deep_health_check_seconds: float = 1800.0
    """DeepHealthCheckInProgress, for groups with OnStartDeepHealthChecks."""
    capacity_retry_seconds: tuple[float, float] = (120.0, 300.0)
    """After a launch failed (for lack of capacity or otherwise), until HyperPod tries again."""
    shutdown_seconds: float = 90.0
    """ShuttingDown, until the node leaves the cluster."""
    recovery_start_seconds: float = 30.0
    """From a detected fault to automatic recovery acting on it."""
    reboot_seconds: float = 240.0

    def __post_init__(self) -> None:
        for name in ("boot_seconds", "capacity_retry_seconds"):
            low, high = getattr(self, name)
            if not 0 <= low <= high:
                raise ValueError(f"{name}: ({low}, {high}) is not a range of non-negative seconds")
        for name in (
            "launch_seconds",
            "deep_health_check_seconds",
            "shutdown_seconds",
            "recovery_start_seconds",
            "reboot_seconds",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must not be negative")


@dataclass(frozen=True)
class SubnetFacts:
    """What HyperPod learns of a subnet from EC2: its zone (name and id) and its address range."""

    subnet_id: str
    availability_zone: str
    availability_zone_id: str
    cidr_block: str


@dataclass
class SimNode:
    """A node: one NodeLogicalId, backed by an EC2 instance once launched."""

    logical_id: str
    group: str
    created: datetime
    status: str = PENDING
    instance_id: str | None = None
    instance_type: str | None = None
    """Chosen at launch (a flexible group may fall back to a later type)."""
    allowed_types: tuple[str, ...] = ()
    allowed_zones: tuple[str, ...] = ()
    """The zones its launch may use: the request's AvailabilityZones, else all its group's."""
    availability_zone: str | None = None
    """Chosen at launch: the first allowed zone with capacity for the chosen type."""
    availability_zone_id: str | None = None
    subnet_id: str | None = None
    private_ip: str | None = None
    """The instance's private primary IPv4 address, in its subnet's range."""
    message: str | None = None
    launch_time: datetime | None = None
    health: str | None = None
    """The Kubernetes `node-health-status` label HyperPod's health agent would put on it."""
    replacing: bool = False
    generation: int = 0
    """Bumped on every state change that makes pending timers for this node stale."""

    def touch(self) -> int:
        """Invalidate the node's pending timers; return the new generation."""
        self.generation += 1
        return self.generation


@dataclass
class SimGroup:
    """An instance group."""

    name: str
    instance_types: tuple[str, ...]
    flexible: bool
    target_count: int
    min_count: int
    execution_role: str
    life_cycle_config: dict[str, Any]
    threads_per_core: int | None
    deep_health_checks: tuple[str, ...]
    subnets: tuple[SubnetFacts, ...]
    """The group's subnets: its OverrideVpcConfig's, else the cluster's VpcConfig's."""
    status: str = "Creating"
    capacity_type: str = ON_DEMAND
    """Spot when the group was created with CapacityRequirements.Spot (it cannot change after)."""
    timings: Timings = field(default_factory=Timings)
    scaling: bool = False
    """A scaling operation is under way (its completion is an event)."""
    failing_launches: list[str] = field(default_factory=list)
    """Failure messages of the group's next launches (other than capacity), one per launch."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Other members of the group's specification, echoed back by DescribeCluster."""

    @property
    def availability_zones(self) -> tuple[str, ...]:
        """The zones of the group's subnets, in the order the subnets were given."""
        return tuple(dict.fromkeys(subnet.availability_zone for subnet in self.subnets))

    def subnet_in(self, zone: str) -> SubnetFacts:
        """The group's first subnet in `zone` (the zone must be one of the group's)."""
        return next(subnet for subnet in self.subnets if subnet.availability_zone == zone)


@dataclass
class SimCluster:
    """A HyperPod cluster."""

    name: str
    arn: str
    created: datetime
    groups: dict[str, SimGroup]
    node_provisioning_mode: str | None
    node_recovery: str
    autoscaling: dict[str, str] | None
    cluster_role: str | None
    orchestrator: dict[str, Any] | None
    vpc_config: dict[str, Any] | None
    status: str = "Creating"
    """ClusterStatus: Creating until the cluster-level resources are ready (see `lifecycle`)."""
    failure_message: str | None = None
    resources_ready: bool = False
    """The cluster-level resources exist (the end of creation, in Continuous mode)."""
    nodes: dict[str, SimNode] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    """Event records (ClusterEventDetail shape), oldest first."""

    @property
    def continuous(self) -> bool:
        """Whether NodeProvisioningMode is Continuous."""
        return self.node_provisioning_mode == CONTINUOUS

    def node_by_instance(self, instance_id: str) -> SimNode | None:
        """The node currently backed by `instance_id`."""
        return next((node for node in self.nodes.values() if node.instance_id == instance_id), None)


@dataclass
class Idempotency:
    """A BatchAddClusterNodes ClientToken: the request it was first used with and its nodes."""

    fingerprint: str
    logical_ids: tuple[tuple[str, str], ...]
    """(NodeLogicalId, instance group) of the nodes the request added."""
    first_used: datetime
    failed: tuple[dict[str, Any], ...] = ()
    """The request's per-group failures, returned again on replay."""


@dataclass
class RegionState:
    """One account's HyperPod in one region."""

    account: str
    region: str
    clusters: dict[str, SimCluster] = field(default_factory=dict)
    capacity: dict[tuple[str, str, str], int | None] = field(default_factory=dict)
    """Instances that can run at once per offering (instance type, Availability Zone, capacity
    type); absent or None: unlimited. Shortages are per zone, as EC2's are, and Spot capacity is
    a pool of its own (EC2's spare capacity, reclaimed when EC2 needs it back)."""
    quotas: dict[str, int] = field(default_factory=dict)
    """'<type> for cluster usage' quotas: the most instances of a type all clusters may target."""
    tokens: dict[str, Idempotency] = field(default_factory=dict)
    cancel_keeps_target: bool = False
    """Off (the default): cancelling a node that has no instance yet lowers its group's target, as
    ebb assumes from the documentation. On: the assumption inverted, for tests of ebb's run-time
    check of it (the node goes, the target stays, so HyperPod would launch another)."""

    def running_instances(self, instance_type: str, zone: str, capacity_type: str = ON_DEMAND) -> int:
        """Instances of `instance_type` and `capacity_type` that exist (launched, not yet gone) in `zone`."""
        return sum(
            1
            for cluster in self.clusters.values()
            for node in cluster.nodes.values()
            if node.instance_id is not None
            and node.instance_type == instance_type
            and node.availability_zone == zone
            and cluster.groups[node.group].capacity_type == capacity_type
        )

    def private_ips(self) -> set[str]:
        """The private addresses instances of the region hold now."""
        return {
            node.private_ip
            for cluster in self.clusters.values()
            for node in cluster.nodes.values()
            if node.private_ip is not None
        }

    def targeted(self, instance_type: str) -> int:
        """The instances of `instance_type` all clusters' groups target (a flexible group counts
        against its first type)."""
        return sum(
            group.target_count
            for cluster in self.clusters.values()
            for group in cluster.groups.values()
            if group.instance_types[0] == instance_type
        )
