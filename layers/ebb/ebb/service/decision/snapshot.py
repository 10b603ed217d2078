"""What the `decide` service observed for one NodePool at one instant, in the decision's vocabulary.

The adapters speak their systems' languages (ListClusterNodes summaries, Kubernetes Pods and
Nodes); the gatherer translates what it read into these values, so the decision step never sees
an adapter type and the simulator can build the same snapshot from its own cluster.
"""

from enum import StrEnum
from typing import Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from ebb.config.node_planning import GroupCounts
from ebb.core.nodes import NodeSelectorTerm, NodeState, Resources, Toleration
from ebb.core.nodes.quantities import ZERO
from ebb.core.nodes.topology import PodConstraints
from ebb.core.replicas import Observation, ReplicaCounts


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TargetPause(_Frozen):
    """A pause set on the scaler's target itself (`ebb.dev/paused`, `ebb.dev/paused-replicas`),
    read from the object decide lists anyway: the target keeps its replicas, or is held at
    `replicas`, as KEDA's `autoscaling.keda.sh/paused` and `paused-replicas` do on a ScaledObject."""

    target: str = Field(min_length=1)
    """`Deployment batch/batch-worker`."""
    annotation: str = Field(min_length=1)
    value: str
    replicas: int | None = Field(default=None, ge=0)
    """Held at this count (`paused-replicas`); `None`: at the current count."""

    def __str__(self) -> str:
        held = f"held at {self.replicas}" if self.replicas is not None else "replicas kept"
        return f"paused by annotation {self.annotation}: {self.value!r} on {self.target} ({held})"


class ScalerSnapshot(_Frozen):
    """One ScaledObject's metrics (per trigger name) and its target's replica counts."""

    observations: dict[str, Observation] = Field(default_factory=dict)
    replicas: ReplicaCounts
    unmodelled_constraints: tuple[str, ...] = ()
    """Scheduling constraints of the target's pod template the plan would not honour (a spread
    policy ebb does not model, or constraints that differ from the binding's ``podSpec`` it plans
    with): its pods are reported unplaceable with that reason rather than planned as if they fit."""
    held_by: tuple[str, ...] = ()
    """Other autoscalers on the same target (``HorizontalPodAutoscaler serving/web``, ``ScaledObject
    serving/web``): ebb refuses to fight them, so it scales nothing and plans the target's pods as
    pods it does not manage."""
    target_pause: TargetPause | None = None
    """The target's own pause annotation, while it is set."""


class NodeFailure(StrEnum):
    """Why HyperPod reports a node of the pool as failed."""

    CAPACITY = "InsufficientCapacity"
    """The launch found no capacity; in Continuous mode HyperPod keeps retrying it."""
    OTHER = "Failed"


class ObservedNode(_Frozen):
    """A node of the pool's instance groups: HyperPod's view joined with the Kubernetes Node."""

    name: str = Field(min_length=1)
    """The Kubernetes node name once joined, HyperPod's NodeLogicalId (or instance id) before."""
    instance_id: str | None = None
    """Its EC2 instance, once HyperPod has launched one."""
    instance_group: str = Field(min_length=1)
    instance_type: str = Field(min_length=1)
    state: NodeState | None
    """Where the node is for planning; ``None`` when it is no capacity at all (failed, leaving)."""
    failure: NodeFailure | None = None
    shutting_down: bool = False
    """HyperPod reports its instance ShuttingDown (or gone) and no repair was asked for it: a node
    that ebb removed, or one that went without ebb (a reclaimed Spot instance)."""
    launched_at: AwareDatetime | None = None
    pods: dict[str, int] = Field(default_factory=dict)
    """Bound, not terminating pods per scaler of this pool (``namespace/name``)."""
    unmanaged: Resources = ZERO
    """Requests of the other non-DaemonSet pods running here."""
    unmanaged_pods: int = Field(default=0, ge=0)
    do_not_disrupt: bool = False
    deleting: bool = False
    """Cordoned or being deleted."""

    @model_validator(mode="after")
    def _failed_is_no_capacity(self) -> Self:
        if (self.failure is not None or self.shutting_down) and self.state is not None:
            raise ValueError(f"node {self.name!r}: a failed or shutting-down node has no planning state")
        if any(count <= 0 for count in self.pods.values()):
            raise ValueError(f"node {self.name!r}: pod counts must be positive")
        return self


class PendingPod(_Frozen):
    """A pending pod that no scaler of the configuration owns, with what it asks of a node."""

    namespace: str = Field(min_length=1)
    name: str = Field(min_length=1)
    requests: Resources
    node_selector: dict[str, str] = Field(default_factory=dict)
    node_affinity: tuple[NodeSelectorTerm, ...] = ()
    tolerations: tuple[Toleration, ...] = ()
    unmodelled_constraints: tuple[str, ...] = ()
    labels: dict[str, str] = Field(default_factory=dict)
    constraints: PodConstraints = PodConstraints()
    """Topology spread and required pod (anti-)affinity: planned by the node core."""
    held_scaler: str | None = None
    """The scaler of the pool deciding whose target the pod belongs to, when another autoscaler
    holds that target: the pool its binding names plans a node for it (as for a scaler's pod),
    but as a pod ebb does not manage."""

    @property
    def qualified_name(self) -> str:
        """``namespace/name``."""
        return f"{self.namespace}/{self.name}"


class PoolSnapshot(_Frozen):
    """Everything observed for one NodePool's decision."""

    node_pool: str = Field(min_length=1)
    scalers: dict[str, ScalerSnapshot]
    """Every ScaledObject of the pool, by ``namespace/name``."""
    groups: dict[str, GroupCounts]
    """Every instance group of the pool, by name."""
    nodes: tuple[ObservedNode, ...] = ()
    pending: tuple[PendingPod, ...] = ()
    """Pending pods of no scaler, cluster-wide: the decision keeps those this pool owns."""
    hyperpod_autoscaling: bool = False
    """DescribeCluster's `AutoScaling.Mode` is `Enable`: HyperPod's own Karpenter provides nodes."""
