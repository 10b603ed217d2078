"""What runs, or should run, on a NodePool: the scalers' pod groups and the nodes that exist."""

from collections.abc import Mapping
from enum import StrEnum
from typing import Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from ebb.core.nodes.quantities import ZERO, Resources, Vector
from ebb.core.nodes.requirements import NodeSelectorTerm, PreferredSchedulingTerm, affinity_matches
from ebb.core.nodes.taints import Taint, Toleration, untolerated
from ebb.core.nodes.topology import PodAffinityTerm, TopologySpread, WeightedPodAffinityTerm


class PodGroup(BaseModel):
    """The replicas of one scaler: identical pods, so the planner places them as a count."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    replicas: int = Field(ge=0)
    """The desired number of pods in total, running or not."""
    requests: Resources
    """One pod's effective request (see :func:`ebb.core.nodes.pod_requests.effective_requests`)."""
    node_selector: dict[str, str] = Field(default_factory=dict)
    node_affinity: tuple[NodeSelectorTerm, ...] = ()
    """``requiredDuringSchedulingIgnoredDuringExecution`` terms (ORed)."""
    tolerations: tuple[Toleration, ...] = ()
    do_not_disrupt: bool = False
    """The pods carry ``karpenter.sh/do-not-disrupt: "true"``."""
    namespace: str = "default"
    labels: dict[str, str] = Field(default_factory=dict)
    """The pods' labels, which other pods' label selectors (and their own) match."""
    topology_spread: tuple[TopologySpread, ...] = ()
    pod_affinity: tuple[PodAffinityTerm, ...] = ()
    """Required ``podAffinity`` terms (ANDed)."""
    pod_anti_affinity: tuple[PodAffinityTerm, ...] = ()
    """Required ``podAntiAffinity`` terms (ANDed)."""
    preferred_pod_affinity: tuple[WeightedPodAffinityTerm, ...] = ()
    """Preferred ``podAffinity`` terms: required while in force, relaxed heaviest first."""
    preferred_pod_anti_affinity: tuple[WeightedPodAffinityTerm, ...] = ()
    """Preferred ``podAntiAffinity`` terms: required while in force, relaxed heaviest first."""
    preferred_node_affinity: tuple[PreferredSchedulingTerm, ...] = ()
    """Preferred node affinity: the heaviest term in force is required, relaxed in turn."""

    @property
    def has_pod_constraints(self) -> bool:
        """Whether where these pods go depends on where other pods are."""
        return bool(
            self.topology_spread
            or self.pod_affinity
            or self.pod_anti_affinity
            or self.preferred_pod_affinity
            or self.preferred_pod_anti_affinity
        )

    @property
    def vector(self) -> Vector:
        """One pod's request, taking one pod slot."""
        requests = self.requests
        base = (requests.cpu_millis, requests.memory_bytes, requests.gpus, 1)
        return base + requests.vector[4:] if requests.extended else base

    def selects(self, labels: Mapping[str, str]) -> bool:
        """Whether the pod's node selector and required node affinity accept a node's labels."""
        if any(labels.get(key) != value for key, value in self.node_selector.items()):
            return False
        return affinity_matches(self.node_affinity, labels)

    def untolerated(self, taints: tuple[Taint, ...]) -> tuple[Taint, ...]:
        """The node taints that keep these pods away."""
        return untolerated(self.tolerations, taints)


class NodeState(StrEnum):
    """Where a node is in its life, as far as placing pods and disrupting it go."""

    LAUNCHING = "Launching"
    """Requested from HyperPod, not yet a Kubernetes node: its capacity is on the way."""
    REGISTERED = "Registered"
    """Joined but not usable yet (GPUs not allocatable, health checks running)."""
    READY = "Ready"
    """Initialized and schedulable."""
    NOT_READY = "NotReady"
    """Was initialized, is not ready now: takes no pods and counts against disruption budgets."""


class PodsOnNode(BaseModel):
    """How many pods of a group are bound (or nominated) to a node."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    group: str = Field(min_length=1)
    count: int = Field(gt=0)


class ExistingNode(BaseModel):
    """A node of a pool that exists or is being launched."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    node_pool: str = Field(min_length=1)
    instance_group: str = Field(min_length=1)
    instance_type: str | None = None
    """``None`` only while launching in a flexible group (the type is not known yet)."""
    state: NodeState = NodeState.READY
    pods: tuple[PodsOnNode, ...] = ()
    """ebb-managed pods on the node."""
    unmanaged: Resources = ZERO
    """Requests of other non-DaemonSet pods (a training job on a shared group, for one)."""
    unmanaged_pods: int = Field(default=0, ge=0)
    """How many such pods run here (they may request nothing and still pin the node)."""
    do_not_disrupt: bool = False
    """``karpenter.sh/do-not-disrupt`` on the node or on any pod running there."""
    deleting: bool = False
    """Cordoned or being deleted (by ebb or anyone else)."""
    launched_at: AwareDatetime | None = None
    initialized_at: AwareDatetime | None = None
    """When the node became usable (Karpenter's Initialized condition)."""
    last_pod_event_at: AwareDatetime | None = None
    """The last time a pod was scheduled to or removed from the node."""

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.instance_type is None and self.state is not NodeState.LAUNCHING:
            raise ValueError(f"node {self.name!r}: instance_type is required once the node has joined")
        groups = [p.group for p in self.pods]
        if len(set(groups)) != len(groups):
            raise ValueError(f"node {self.name!r}: pods lists group(s) twice")
        return self

    @property
    def has_unmanaged_pods(self) -> bool:
        """Whether pods ebb does not manage run here (the node is then never removed by ebb)."""
        return self.unmanaged_pods > 0 or not self.unmanaged.is_zero()
