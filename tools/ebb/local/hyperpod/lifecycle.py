"""Nodes on the clock: launch, boot, health checks, capacity failures and retries, recovery, deletion.

What HyperPod does in Continuous mode ("Continuous provisioning for enhanced cluster operations on
Amazon EKS"): it records the target count, launches instances towards it, and "automatically
retries failed launches"; a node whose launch failed shows `Failure` and is retried "with a new
EC2 instance". A launch finds no capacity when every offering it may use (its types, each in
its allowed zones, of its group's capacity type) is exhausted (`RegionState.capacity`), and reports it late,
as the node's failure message. A new cluster is Creating until its own resources are ready
(`start_creation`). With NodeRecovery
Automatic, a faulty node is rebooted or replaced ("Automatic node recovery"); its NodeLogicalId
stays, a replacement gets a new instance id. A Spot instance EC2 reclaims (`interrupt_spot`)
shuts down and is replaced by a new node of its group. Each transition is also told, as it happens, to the
stand-in's node observers (`transitions`).
"""

from __future__ import annotations

import ipaddress
import threading
import uuid
from collections.abc import Callable, Sequence

from ebb.local.hyperpod import cluster_events as texts
from ebb.local.hyperpod.cluster_events import EventLog
from ebb.local.hyperpod.errors import StandInMisuse
from ebb.local.hyperpod.state import (
    CREATING,
    DEEP_HEALTH_CHECK,
    FAILURE,
    PENDING,
    RUNNING,
    SHUTTING_DOWN,
    SPOT,
    RegionState,
    SimCluster,
    SimGroup,
    SimNode,
    SubnetFacts,
    Timings,
    wire_time,
)
from ebb.local.hyperpod.transitions import NodeChange, NodeObserver, NodeTransition
from ebb.local.hyperpod.world import StandInWorld

# The sample record of "SageMaker HyperPod cluster events reference".
CAPACITY_MESSAGE = (
    "We currently do not have sufficient capacity to launch new {instance_type} instances. Please try again."
)

SCHEDULABLE = "Schedulable"
PENDING_REPLACEMENT = "UnschedulablePendingReplacement"
PENDING_REBOOT = "UnschedulablePendingReboot"

# How long a new cluster's own resources take before it is InService: a guess (nothing documents
# it); in Continuous mode "the cluster becomes operational once cluster-level resources are
# ready", not once its instances are (UpdateCluster's NodeProvisioningMode, SageMaker API Reference).
DEFAULT_CREATION_SECONDS = 120.0
# The first four addresses and the last of every subnet are AWS's ("Subnet CIDR blocks", Amazon
# VPC User Guide): instances never get them.
_RESERVED_LOW_ADDRESSES = 4


class NodeLifecycle:
    """Moves one region's nodes through their states on the world's clock."""

    def __init__(
        self,
        world: StandInWorld,
        region: RegionState,
        log: EventLog,
        lock: threading.RLock,
        observers: Sequence[NodeObserver] = (),
        *,
        creation_seconds: float = DEFAULT_CREATION_SECONDS,
    ) -> None:
        if creation_seconds < 0:
            raise StandInMisuse(f"creation_seconds: {creation_seconds} is negative")
        self._creation_seconds = creation_seconds
        self._world = world
        self._region = region
        self._log = log
        self._lock = lock
        # The stand-in's own list, read at each transition, so observers added later are told too.
        self._observers = observers

    # -- ids ---------------------------------------------------------------------------------

    def new_logical_id(self) -> str:
        """A NodeLogicalId (a UUID, as in the events reference's sample)."""
        return str(uuid.UUID(int=self._world.random.getrandbits(128), version=4))

    def new_instance_id(self) -> str:
        """An EC2 instance id: `i-` and 17 hex digits."""
        return f"i-{self._world.random.getrandbits(68):017x}"

    def new_private_ip(self, subnet: SubnetFacts) -> str:
        """A free private IPv4 address of `subnet`, drawn from the world's generator."""
        network = ipaddress.ip_network(subnet.cidr_block)
        taken = self._region.private_ips()
        first, last = _RESERVED_LOW_ADDRESSES, network.num_addresses - 2
        if last - first + 1 <= len(taken):
            raise StandInMisuse(f"subnet {subnet.subnet_id} ({subnet.cidr_block}) has no free address")
        while True:
            address = str(network[self._world.random.randint(first, last)])
            if address not in taken:
                return address

    # -- the cluster -----------------------------------------------------------------------------

    def start_creation(self, cluster: SimCluster) -> None:
        """CreateCluster accepted: the cluster is Creating until its own resources are ready."""
        self._log.record(
            cluster,
            resource_type="Cluster",
            level="Info",
            description=texts.cluster_operation_started(cluster.name, "Create"),
        )

        def ready() -> None:
            with self._lock:
                if self._region.clusters.get(cluster.name) is cluster and cluster.status == CREATING:
                    cluster.resources_ready = True
                    self._check_created(cluster)

        self._world.call_later(self._creation_seconds, ready, name=f"hyperpod {cluster.name}: create")

    def _check_created(self, cluster: SimCluster) -> None:
        """InService once the resources are ready; outside Continuous mode, only once every
        instance it was created with runs (without Continuous mode creation is all or nothing)."""
        if cluster.status != CREATING or not cluster.resources_ready:
            return
        if not cluster.continuous and any(node.status != RUNNING for node in cluster.nodes.values()):
            return
        cluster.status = "InService"
        for group in cluster.groups.values():
            if group.status == CREATING:
                group.status = "InService"
        self._log.record(
            cluster,
            resource_type="Cluster",
            level="Info",
            description=texts.cluster_operation_completed(cluster.name, "Create"),
        )

    def _creation_failed(self, cluster: SimCluster, message: str) -> None:
        # Outside Continuous mode a launch that fails fails the creation (DescribeCluster then
        # carries the FailureMessage, as in the reference's capacity sample); no events exist then.
        cluster.status = "Failed"
        cluster.failure_message = message

    # -- requests ------------------------------------------------------------------------------

    def request(
        self,
        cluster: SimCluster,
        group: SimGroup,
        count: int,
        *,
        instance_types: tuple[str, ...] | None = None,
        zones: tuple[str, ...] | None = None,
    ) -> list[SimNode]:
        """Add `count` nodes to `group` (the target count is the caller's): Pending, no instance yet."""
        nodes = []
        for _ in range(count):
            node = SimNode(
                logical_id=self.new_logical_id(),
                group=group.name,
                created=wire_time(self._world.now()),
                allowed_types=instance_types or group.instance_types,
                allowed_zones=zones or group.availability_zones,
            )
            cluster.nodes[node.logical_id] = node
            self._after(group.timings.launch_seconds, cluster, node, self._attempt_launch, "launch")
            nodes.append(node)
        if nodes and not group.scaling:
            group.scaling = True
            self._log.record(
                cluster,
                resource_type="InstanceGroup",
                level="Info",
                description=texts.group_operation_started(cluster.name, group.name, "Scaling"),
                group=group.name,
                metadata={"InstanceGroupScaling": self._scaling_metadata(cluster, group)},
            )
        return nodes

    def remove(self, cluster: SimCluster, node: SimNode) -> None:
        """Take `node` out (the target count is the caller's): cancel it, or terminate its instance."""
        node.touch()
        if node.instance_id is None:
            del cluster.nodes[node.logical_id]
            self._tell(NodeChange.CANCELLED, cluster, node)
            self._check_scaling_done(cluster, node.group)
            return
        node.status = SHUTTING_DOWN
        node.message = None
        self._tell(NodeChange.SHUTTING_DOWN, cluster, node)
        self._record_instance_event(
            cluster, node, "Info", texts.termination_in_progress(cluster.name, node.group, node.instance_id)
        )
        timings = self._timings(cluster, node)
        self._after(timings.shutdown_seconds, cluster, node, self._terminated, "terminate")

    def discard(self, cluster: SimCluster, node: SimNode) -> None:
        """`node` leaves at once, with its instance group or its cluster (no shutdown period)."""
        node.touch()
        cluster.nodes.pop(node.logical_id, None)
        self._tell(NodeChange.TERMINATED if node.instance_id else NodeChange.CANCELLED, cluster, node)

    def inject_fault(self, cluster: SimCluster, node: SimNode, *, repair: str) -> None:
        """A fault the health agent finds on a running node; it asks for `repair` (Replace or Reboot)."""
        if repair not in {"Replace", "Reboot"}:
            raise StandInMisuse(f"repair: {repair!r} is not Replace or Reboot")
        if node.instance_id is None or node.status not in {RUNNING, DEEP_HEALTH_CHECK}:
            raise StandInMisuse(
                f"node {node.logical_id}: a fault needs a running instance, it is {node.status}"
            )
        node.health = PENDING_REPLACEMENT if repair == "Replace" else PENDING_REBOOT
        self._tell(NodeChange.FAULT_DETECTED, cluster, node)
        if cluster.node_recovery != "Automatic":
            return  # the agent labels the node; nothing repairs it
        start = self._start_replacement if repair == "Replace" else self._start_reboot
        self._after(self._timings(cluster, node).recovery_start_seconds, cluster, node, start, "recover")

    def interrupt_spot(self, cluster: SimCluster, node: SimNode, *, notice_seconds: float) -> None:
        """EC2 reclaims `node`'s Spot instance: notice (if any), termination, replacement."""
        group = cluster.groups[node.group]
        if group.capacity_type != SPOT:
            raise StandInMisuse(
                f"node {node.logical_id}: group {group.name} is {group.capacity_type}, not Spot; "
                "only Spot instances are reclaimed"
            )
        if node.instance_id is None or node.status == SHUTTING_DOWN:
            raise StandInMisuse(f"node {node.logical_id}: no instance to reclaim (it is {node.status})")
        if notice_seconds == 0:
            self._reclaimed(cluster, node)
            return
        # HyperPod "detects the interruption signal", taints the node and evicts its pods.
        self._tell(NodeChange.INTERRUPTION_NOTICE, cluster, node)
        self._after(notice_seconds, cluster, node, self._reclaimed, "spot reclaimed")

    # -- transitions (timer callbacks) ------------------------------------------------------------

    def _reclaimed(self, cluster: SimCluster, node: SimNode) -> None:
        # The instance goes as one ebb deletes would (ShuttingDown, the termination event), but
        # the group's target stays: HyperPod replaces the capacity once the instance is gone.
        assert node.instance_id is not None
        node.status = SHUTTING_DOWN
        node.message = None
        node.replacing = False
        self._tell(NodeChange.SHUTTING_DOWN, cluster, node)
        self._record_instance_event(
            cluster, node, "Info", texts.termination_in_progress(cluster.name, node.group, node.instance_id)
        )
        timings = self._timings(cluster, node)
        self._after(timings.shutdown_seconds, cluster, node, self._reclaim_done, "terminate reclaimed")

    def _reclaim_done(self, cluster: SimCluster, node: SimNode) -> None:
        self._terminated(cluster, node)
        group = cluster.groups.get(node.group)
        if group is None:
            return
        missing = group.target_count - sum(1 for n in cluster.nodes.values() if n.group == group.name)
        if missing > 0:
            # "In the case of non-autoscaling instance groups, HyperPod attempts to scale up within
            # the same instance group until the required capacity becomes available."
            self.request(cluster, group, missing)

    def _attempt_launch(self, cluster: SimCluster, node: SimNode, attempt_id: str | None = None) -> None:
        # Each attempt has its EC2 instance id from the start (events of the attempt name it);
        # a successful attempt's instance keeps it.
        attempt_id = attempt_id or self.new_instance_id()
        # Offerings in preference order: the group's (or request's) types first, each in every
        # allowed zone, so a zone that is short falls back to another zone of the same type.
        offering = next(
            (
                (kind, zone)
                for kind in node.allowed_types
                for zone in node.allowed_zones
                if self._has_capacity(kind, zone, cluster.groups[node.group].capacity_type)
            ),
            None,
        )
        if offering is None:
            message = CAPACITY_MESSAGE.format(instance_type=node.allowed_types[0])
            self._launch_failed(cluster, node, message, attempt_id)
            return
        group = cluster.groups[node.group]
        if group.failing_launches:
            self._launch_failed(cluster, node, group.failing_launches.pop(0), attempt_id)
            return
        instance_type, zone = offering
        subnet = group.subnet_in(zone)
        node.instance_id = attempt_id
        node.instance_type = instance_type
        node.availability_zone = zone
        node.availability_zone_id = subnet.availability_zone_id
        node.subnet_id = subnet.subnet_id
        node.private_ip = self.new_private_ip(subnet)
        node.status = PENDING
        node.message = None
        node.launch_time = wire_time(self._world.now())
        self._tell(NodeChange.LAUNCHED, cluster, node)
        self._record_instance_event(
            cluster, node, "Info", texts.instance_provisioned(cluster.name, node.group, node.instance_id)
        )
        self._after(
            self._draw(self._timings(cluster, node).boot_seconds), cluster, node, self._booted, "boot"
        )

    def _launch_failed(self, cluster: SimCluster, node: SimNode, message: str, attempt_id: str) -> None:
        node.status = FAILURE
        node.message = message
        self._tell(NodeChange.LAUNCH_FAILED, cluster, node)
        # The reference's sample of this event names an instance id although no instance runs:
        # the failed attempt's, which no node keeps.
        self._log.record(
            cluster,
            resource_type="Instance",
            level="Error",
            description=texts.instance_creation_failed(cluster.name, node.group),
            group=node.group,
            instance_id=attempt_id,
            metadata={"Instance": {"FailureMessage": message, "NodeLogicalId": node.logical_id}},
        )
        if not cluster.continuous and cluster.status == CREATING:
            self._creation_failed(cluster, message)
        if cluster.continuous:  # "Handles failures: Automatically retries failed launches"
            delay = self._draw(self._timings(cluster, node).capacity_retry_seconds)
            self._after(delay, cluster, node, self._retry_launch, "retry launch")

    def _retry_launch(self, cluster: SimCluster, node: SimNode) -> None:
        node.status = PENDING
        node.message = None
        attempt_id = self.new_instance_id()
        self._log.record(
            cluster,
            resource_type="Instance",
            level="Info",
            description=texts.instance_operation_started(cluster.name, node.group, "Create"),
            group=node.group,
            instance_id=attempt_id,
            metadata={"Instance": {"NodeLogicalId": node.logical_id}},
        )
        self._attempt_launch(cluster, node, attempt_id)

    def _booted(self, cluster: SimCluster, node: SimNode) -> None:
        group = cluster.groups[node.group]
        if group.deep_health_checks:
            node.status = DEEP_HEALTH_CHECK
            self._tell(NodeChange.BOOTED, cluster, node)
            self._after(
                group.timings.deep_health_check_seconds, cluster, node, self._healthy, "health checks"
            )
        else:
            self._tell(NodeChange.BOOTED, cluster, node)
            self._healthy(cluster, node)

    def _healthy(self, cluster: SimCluster, node: SimNode) -> None:
        assert node.instance_id is not None
        node.status = RUNNING
        node.health = SCHEDULABLE
        description = (
            texts.replacement_completed(cluster.name, node.group, node.instance_id)
            if node.replacing
            else texts.instance_operation_completed(cluster.name, node.group, "Create", node.instance_id)
        )
        node.replacing = False
        self._tell(NodeChange.HEALTHY, cluster, node)
        self._record_instance_event(cluster, node, "Info", description)
        self._check_scaling_done(cluster, node.group)
        self._check_created(cluster)

    def _terminated(self, cluster: SimCluster, node: SimNode) -> None:
        assert node.instance_id is not None
        del cluster.nodes[node.logical_id]
        self._tell(NodeChange.TERMINATED, cluster, node)
        self._record_instance_event(
            cluster,
            node,
            "Info",
            texts.instance_operation_completed(cluster.name, node.group, "Delete", node.instance_id),
        )
        self._check_scaling_done(cluster, node.group)

    def _start_replacement(self, cluster: SimCluster, node: SimNode) -> None:
        assert node.instance_id is not None
        self._record_instance_event(
            cluster, node, "Info", texts.termination_in_progress(cluster.name, node.group, node.instance_id)
        )
        # The faulty instance's slot goes to its replacement: same type, new instance id.
        faulty = node.instance_id
        node.instance_id = self.new_instance_id()
        node.private_ip = None  # the faulty instance's address is released, the new one gets its own
        node.private_ip = self.new_private_ip(
            cluster.groups[node.group].subnet_in(str(node.availability_zone))
        )
        node.status = PENDING
        node.health = None
        node.replacing = True
        node.launch_time = wire_time(self._world.now())
        self._tell(NodeChange.REPLACEMENT_STARTED, cluster, node, previous_instance_id=faulty)
        self._record_instance_event(
            cluster, node, "Info", texts.replacement_started(cluster.name, node.group, node.instance_id)
        )
        self._after(
            self._draw(self._timings(cluster, node).boot_seconds), cluster, node, self._booted, "boot"
        )

    def _start_reboot(self, cluster: SimCluster, node: SimNode) -> None:
        assert node.instance_id is not None
        node.status = PENDING
        self._tell(NodeChange.REBOOTING, cluster, node)
        self._record_instance_event(
            cluster, node, "Info", texts.reboot_in_progress(cluster.name, node.group, node.instance_id)
        )
        self._after(self._timings(cluster, node).reboot_seconds, cluster, node, self._rebooted, "reboot")

    def _rebooted(self, cluster: SimCluster, node: SimNode) -> None:
        assert node.instance_id is not None
        node.status = RUNNING
        node.health = SCHEDULABLE
        self._tell(NodeChange.REBOOTED, cluster, node)
        self._record_instance_event(
            cluster,
            node,
            "Info",
            texts.instance_operation_completed(cluster.name, node.group, "Reboot", node.instance_id),
        )

    # -- helpers -----------------------------------------------------------------------------------

    def _check_scaling_done(self, cluster: SimCluster, group_name: str) -> None:
        group = cluster.groups.get(group_name)
        if group is None or not group.scaling:
            return
        nodes = [node for node in cluster.nodes.values() if node.group == group_name]
        if len(nodes) == group.target_count and all(node.status == RUNNING for node in nodes):
            group.scaling = False
            self._log.record(
                cluster,
                resource_type="InstanceGroup",
                level="Info",
                description=texts.group_operation_completed(cluster.name, group.name, "Scaling"),
                group=group.name,
                metadata={"InstanceGroupScaling": self._scaling_metadata(cluster, group)},
            )

    @staticmethod
    def _scaling_metadata(cluster: SimCluster, group: SimGroup) -> dict[str, int]:
        current = sum(
            1 for node in cluster.nodes.values() if node.group == group.name and node.instance_id is not None
        )
        return {"InstanceCount": current, "TargetCount": group.target_count, "MinCount": group.min_count}

    def _record_instance_event(
        self,
        cluster: SimCluster,
        node: SimNode,
        level: str,
        description: str,
        *,
        failure_message: str | None = None,
    ) -> None:
        """Record an Instance cluster event for `node`, as HyperPod reports one."""
        instance: dict[str, str] = {"NodeLogicalId": node.logical_id}
        if failure_message is not None:
            instance = {"FailureMessage": failure_message, **instance}
        self._log.record(
            cluster,
            resource_type="Instance",
            level=level,
            description=description,
            group=node.group,
            instance_id=node.instance_id,
            metadata={"Instance": instance},
        )

    def _tell(
        self,
        change: NodeChange,
        cluster: SimCluster,
        node: SimNode,
        *,
        previous_instance_id: str | None = None,
    ) -> None:
        if not self._observers:
            return
        eks = (cluster.orchestrator or {}).get("Eks") or {}
        transition = NodeTransition(
            change=change,
            at=self._world.now(),
            account=self._region.account,
            region=self._region.region,
            cluster=cluster.name,
            eks_cluster_arn=eks.get("ClusterArn"),
            group=node.group,
            logical_id=node.logical_id,
            instance_id=node.instance_id,
            instance_type=node.instance_type,
            availability_zone=node.availability_zone,
            status=node.status,
            health=node.health,
            previous_instance_id=previous_instance_id,
            message=node.message,
        )
        for observer in list(self._observers):
            observer(transition)

    def _has_capacity(self, instance_type: str, zone: str, capacity_type: str) -> bool:
        pool = self._region.capacity.get((instance_type, zone, capacity_type))
        return pool is None or self._region.running_instances(instance_type, zone, capacity_type) < pool

    @staticmethod
    def _timings(cluster: SimCluster, node: SimNode) -> Timings:
        # A group's nodes leave with it, so a node's group always exists.
        return cluster.groups[node.group].timings

    def _draw(self, bounds: tuple[float, float]) -> float:
        return self._world.random.uniform(*bounds)

    def _after(
        self,
        seconds: float,
        cluster: SimCluster,
        node: SimNode,
        step: Callable[[SimCluster, SimNode], None],
        what: str,
    ) -> None:
        generation = node.touch()

        def fire() -> None:
            with self._lock:
                current = self._region.clusters.get(cluster.name)
                if (
                    current is cluster
                    and cluster.nodes.get(node.logical_id) is node
                    and node.generation == generation
                ):
                    step(cluster, node)

        self._world.call_later(seconds, fire, name=f"hyperpod {cluster.name}/{node.logical_id}: {what}")
