"""What happens to a node, told to observers the moment it happens.

The stand-in's node lifecycle reports each transition (an instance launched, booted, passed its
health checks, was found faulty, rebooted, replaced, told of a Spot interruption, shut down,
terminated) to the observers
registered with `LocalHyperPod.add_node_observer`. The local world uses it to make Kubernetes
nodes follow HyperPod's instances, as HyperPod's own agents make an EKS node appear when an
instance has booted and disappear when it is gone. Observers run synchronously, on the clock's
thread, under the stand-in's lock: they must not wait, and may read the stand-in (its lock is
re-entrant) but must not call its API.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class NodeChange(StrEnum):
    """The kinds of transition a node goes through."""

    LAUNCHED = "Launched"
    """An EC2 instance was launched for the node; it is booting (status Pending)."""
    LAUNCH_FAILED = "LaunchFailed"
    """The launch failed (for capacity or otherwise); `message` says why. No instance exists."""
    BOOTED = "Booted"
    """The instance booted, ran its lifecycle scripts and registered with the orchestrator; its
    status is DeepHealthCheckInProgress when the group runs deep health checks, else Pending until
    the HEALTHY transition that follows at once."""
    HEALTHY = "Healthy"
    """Running and Schedulable (after deep health checks, if any; after a replacement too)."""
    FAULT_DETECTED = "FaultDetected"
    """The health agent found a fault and labelled the node for reboot or replacement (`health`)."""
    REBOOTING = "Rebooting"
    REBOOTED = "Rebooted"
    REPLACEMENT_STARTED = "ReplacementStarted"
    """The faulty instance (`previous_instance_id`) is being terminated and a new one
    (`instance_id`) launched in its place, under the same NodeLogicalId."""
    INTERRUPTION_NOTICE = "InterruptionNotice"
    """EC2's notice that it reclaims the node's Spot instance: HyperPod taints the node and evicts
    its pods; the instance shuts down when the notice ends."""
    SHUTTING_DOWN = "ShuttingDown"
    """The node is being deleted (or its Spot instance reclaimed); its instance is shutting down."""
    TERMINATED = "Terminated"
    """The node's instance is gone, and so is the node."""
    CANCELLED = "Cancelled"
    """A node without an instance (pending or failed) was removed."""


@dataclass(frozen=True)
class NodeTransition:
    """One transition of one node, with the node's state right after it."""

    change: NodeChange
    at: datetime
    account: str
    region: str
    cluster: str
    eks_cluster_arn: str | None
    """The EKS cluster orchestrating the HyperPod cluster (None for Slurm or none)."""
    group: str
    logical_id: str
    instance_id: str | None
    instance_type: str | None
    availability_zone: str | None
    status: str
    health: str | None
    previous_instance_id: str | None = None
    message: str | None = None


NodeObserver = Callable[[NodeTransition], None]
