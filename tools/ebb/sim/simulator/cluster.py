"""The simulated cluster: HyperPod instance groups, their nodes, one Deployment's pods, on event time.

What it models, each number stated (the local world's HyperPod stand-in uses the same ones,
`ebb.local.hyperpod.state.Timings`, so the two agree):
- A node added to a group (BatchAddClusterNodes) attempts its launch `LAUNCH_SECONDS` later. If
  its offering (type x zone) is short of capacity then, the launch fails: the node is failed for
  lack of capacity, without an instance (not billed), and HyperPod retries it by itself after a
  uniform 120-300 s, for as long as it stays in the group (Continuous provisioning mode).
- A launched node boots for a seeded time drawn uniformly within +-20 % of the boot delay, then
  is Ready with its GPUs allocatable (joining and the device plugin are inside the boot time).
  It is billed from its launch to its deletion.
- Pods are one Deployment's (one per scaler). A new pod is pending; the scheduler binds pending
  pods to Ready, uncordoned nodes with room, least allocated first (kube-scheduler's default
  `NodeResourcesFit` scoring strategy, LeastAllocated: kubernetes.io "Resource Bin Packing"),
  then by node name. A bound pod is Ready `model_load_seconds` later (60 s: the model load).
- Lowering replicas deletes pods in the ReplicaSet controller's order (kubernetes/kubernetes
  pkg/controller/controller_utils.go, `ActivePodsWithRanks.Less`): unbound first, then not Ready,
  then the lower `controller.kubernetes.io/pod-deletion-cost`, then pods on nodes with more of
  the Deployment's pods, then the most recently Ready. A pod's termination is immediate (its
  requests are freed at once): in-flight requests are not modelled beyond the queueing model.
- A cordoned node takes no new pod; deleting a node deletes its pods (the Deployment recreates
  them as pending pods).

Time is float seconds from the simulation's origin; the engine owns the event queue.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial

import numpy as np

LAUNCH_SECONDS = 5.0
"""From BatchAddClusterNodes to the EC2 launch attempt (the local world's `Timings.launch_seconds`)."""
CAPACITY_RETRY_SECONDS = (120.0, 300.0)
"""After a launch failed for lack of capacity, until HyperPod tries again (the local world's range)."""
BOOT_SPREAD = 0.2
"""Boot times are drawn uniformly within +-20 % of the boot delay."""


class NodePhase(StrEnum):
    """Where a simulated node is."""

    REQUESTED = "requested"
    """Added to its group, launch not attempted yet."""
    FAILED_CAPACITY = "failed_capacity"
    """Its launch found no capacity; HyperPod retries it."""
    BOOTING = "booting"
    READY = "ready"


@dataclass(frozen=True, slots=True)
class GroupSpec:
    """One HyperPod instance group as the simulator needs it."""

    name: str
    instance_type: str
    zone: str
    gpus: int
    pods_per_node: int
    """How many of the Deployment's pods fit one node (allocatable minus daemonset overhead)."""
    price_per_hour: float
    """What one node costs: the offering's price, the one the planner chooses by."""


@dataclass(frozen=True, slots=True)
class ShortageWindow:
    """An offering with no capacity from `start` to `end` (simulation seconds)."""

    instance_type: str
    zone: str
    start: float
    end: float

    def covers(self, instance_type: str, zone: str, t: float) -> bool:
        return self.instance_type == instance_type and self.zone == zone and self.start <= t < self.end


@dataclass(slots=True)
class SimNode:
    """One node of a group."""

    name: str
    group: GroupSpec
    requested_at: float
    phase: NodePhase = NodePhase.REQUESTED
    launched_at: float | None = None
    ready_at: float | None = None
    cordoned: bool = False
    pods: int = 0
    """Bound pods (loading or Ready)."""
    pod_event_at: float | None = None
    """When a pod was last bound to it or removed from it (Karpenter's last pod event)."""
    launch_attempts: int = 0


@dataclass(slots=True)
class SimPod:
    """One pod of the Deployment."""

    name: str
    created_at: float
    node: str | None = None
    bound_at: float | None = None
    ready_at: float | None = None
    """When it became Ready (``None`` while pending or loading)."""
    deletion_cost: int = 0


@dataclass
class Usage:
    """What the cluster cost and did, accumulated as it runs."""

    node_seconds: float = 0.0
    gpu_seconds: float = 0.0
    """Node-seconds times each node's GPUs: GPU-hours paid, x 3600."""
    cost: float = 0.0
    """USD: each node's seconds at its group's price (the offering's, `GroupSpec.price_per_hour`)."""
    group_node_seconds: dict[str, float] = field(default_factory=dict)
    """Node-seconds per instance group."""
    pod_gpu_seconds: float = 0.0
    """GPU-seconds held by bound pods (loading or Ready)."""
    launches: int = 0
    """Instances launched (a retried launch that finally succeeds counts once)."""
    node_requests: int = 0
    replica_changes: int = 0


class EventQueue:
    """Callbacks at simulation times, run in time order (ties in the order they were scheduled)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[float], object]]] = []
        self._seq = itertools.count()
        self.now = 0.0

    def at(self, t: float, callback: Callable[[float], object]) -> None:
        heapq.heappush(self._heap, (max(t, self.now), next(self._seq), callback))

    def run_until(self, end: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= end:
            t, _, callback = heapq.heappop(heap)
            self.now = t
            callback(t)
        self.now = end


class SimCluster:
    """Nodes and pods, changed by the policies, advanced by the event queue."""

    def __init__(
        self,
        groups: tuple[GroupSpec, ...],
        events: EventQueue,
        *,
        boot_delay: float,
        model_load_seconds: float,
        rng: np.random.Generator,
        shortages: tuple[ShortageWindow, ...] = (),
    ) -> None:
        self.groups = {g.name: g for g in groups}
        self.events = events
        self.boot_delay = boot_delay
        self.model_load_seconds = model_load_seconds
        self.rng = rng
        self.shortages = shortages
        self.nodes: dict[str, SimNode] = {}
        self.pods: dict[str, SimPod] = {}
        self.replicas = 0
        self.replica_log: list[tuple[float, int]] = []
        """Every change of the Deployment's replicas: (time, replicas)."""
        self.usage = Usage()
        self._node_ids = itertools.count(1)
        self._pod_ids = itertools.count(1)
        self._last_accrual = 0.0
        self.ready_pods = 0
        self.listeners: list[Callable[[float, str, SimNode], None]] = []
        """Called with (time, what, node) when a node is Ready or fails to launch (HyperPod's events)."""
        self.ready_listeners: list[Callable[[float, int], None]] = []
        """Called with (time, Ready pods) after the number of Ready pods may have changed."""

    # -- accounting ---------------------------------------------------------------------------------

    def accrue(self, t: float) -> None:
        """Bill every launched node and every bound pod up to `t`."""
        dt = t - self._last_accrual
        if dt <= 0:
            return
        for node in self.nodes.values():
            if node.launched_at is not None:
                group = node.group
                self.usage.node_seconds += dt
                self.usage.gpu_seconds += dt * group.gpus
                self.usage.cost += dt * group.price_per_hour / 3600.0
                seconds = self.usage.group_node_seconds
                seconds[group.name] = seconds.get(group.name, 0.0) + dt
        bound = sum(1 for pod in self.pods.values() if pod.node is not None)
        self.usage.pod_gpu_seconds += dt * bound
        self._last_accrual = t

    def _ready_changed(self, t: float) -> None:
        for listener in self.ready_listeners:
            listener(t, self.ready_pods)

    # -- HyperPod -----------------------------------------------------------------------------------

    def group_nodes(self, group: str) -> list[SimNode]:
        return [n for n in self.nodes.values() if n.group.name == group]

    def add_nodes(self, group: str, count: int, t: float) -> list[SimNode]:
        """BatchAddClusterNodes: `count` more nodes in `group` (its target count rises at once)."""
        added = []
        spec = self.groups[group]
        for _ in range(count):
            node = SimNode(name=f"{group}-n{next(self._node_ids)}", group=spec, requested_at=t)
            self.nodes[node.name] = node
            self.usage.node_requests += 1
            self.events.at(t + LAUNCH_SECONDS, partial(self._launch, node))
            added.append(node)
        return added

    def _short(self, node: SimNode, t: float) -> bool:
        return any(w.covers(node.group.instance_type, node.group.zone, t) for w in self.shortages)

    def _launch(self, node: SimNode, t: float) -> None:
        if self.nodes.get(node.name) is not node or node.phase not in (
            NodePhase.REQUESTED,
            NodePhase.FAILED_CAPACITY,
        ):
            return  # cancelled or deleted meanwhile
        node.launch_attempts += 1
        if self._short(node, t):
            first = node.phase is NodePhase.REQUESTED
            node.phase = NodePhase.FAILED_CAPACITY
            low, high = CAPACITY_RETRY_SECONDS
            retry = float(self.rng.uniform(low, high))
            self.events.at(t + retry, partial(self._launch, node))
            if first:
                for listener in self.listeners:
                    listener(t, "capacity-failure", node)
            return
        self.accrue(t)
        node.phase = NodePhase.BOOTING
        node.launched_at = t
        self.usage.launches += 1
        boot = float(self.rng.uniform(1 - BOOT_SPREAD, 1 + BOOT_SPREAD)) * self.boot_delay
        self.events.at(t + boot, partial(self._ready, node))

    def _ready(self, node: SimNode, t: float) -> None:
        if self.nodes.get(node.name) is not node or node.phase is not NodePhase.BOOTING:
            return
        node.phase = NodePhase.READY
        node.ready_at = t
        self.schedule(t)
        for listener in self.listeners:
            listener(t, "node-ready", node)

    def delete_node(self, name: str, t: float) -> None:
        """BatchDeleteClusterNodes: the node leaves now with its pods (recreated as pending)."""
        node = self.nodes.get(name)
        if node is None:
            return
        self.accrue(t)
        victims = [p for p in self.pods.values() if p.node == name]
        for pod in victims:
            del self.pods[pod.name]
            self.ready_pods -= pod.ready_at is not None
        del self.nodes[name]
        self._ready_changed(t)
        self._fill(t)
        self.schedule(t)

    def cordon(self, name: str) -> None:
        if name in self.nodes:
            self.nodes[name].cordoned = True

    # -- Kubernetes ---------------------------------------------------------------------------------

    def set_replicas(self, replicas: int, t: float, *, delete_first: frozenset[str] = frozenset()) -> None:
        """The Deployment's spec.replicas; `delete_first` nodes' pods get the lowest deletion cost."""
        if replicas != self.replicas:
            self.usage.replica_changes += 1
            self.replica_log.append((t, replicas))
        self.accrue(t)
        self.replicas = replicas
        for pod in self.pods.values():
            pod.deletion_cost = -1 if pod.node in delete_first else 0
        excess = len(self.pods) - replicas
        if excess > 0:
            per_node: dict[str | None, int] = {}
            for pod in self.pods.values():
                per_node[pod.node] = per_node.get(pod.node, 0) + 1
            ranked = sorted(
                self.pods.values(),
                key=lambda p: (
                    p.node is not None,
                    p.ready_at is not None,
                    p.deletion_cost,
                    -per_node[p.node],
                    -(p.ready_at or 0.0),
                    p.name,
                ),
            )
            for pod in ranked[:excess]:
                del self.pods[pod.name]
                self.ready_pods -= pod.ready_at is not None
                if pod.node is not None:
                    self.nodes[pod.node].pods -= 1
                    self.nodes[pod.node].pod_event_at = t
            self._ready_changed(t)
        self._fill(t)
        self.schedule(t)

    def _fill(self, t: float) -> None:
        while len(self.pods) < self.replicas:
            pod = SimPod(name=f"pod-{next(self._pod_ids)}", created_at=t)
            self.pods[pod.name] = pod

    def schedule(self, t: float) -> None:
        """Bind pending pods to Ready nodes with room, least allocated first."""
        pending = sorted((p for p in self.pods.values() if p.node is None), key=lambda p: p.name)
        if not pending:
            return
        self.accrue(t)
        open_nodes = [
            n
            for n in self.nodes.values()
            if n.phase is NodePhase.READY and not n.cordoned and n.pods < n.group.pods_per_node
        ]
        for pod in pending:
            if not open_nodes:
                break
            node = min(open_nodes, key=lambda n: (n.pods / n.group.pods_per_node, n.name))
            node.pods += 1
            node.pod_event_at = t
            pod.node = node.name
            pod.bound_at = t
            self.events.at(t + self.model_load_seconds, partial(self._pod_ready, pod))
            if node.pods >= node.group.pods_per_node:
                open_nodes.remove(node)

    def bind_as(self, pods_by_node: dict[str, int], t: float, *, ready: bool = True) -> None:
        """Put the Deployment's pods where another scheduler put them (`pods_by_node`), Ready or
        loading: to build a given cluster state (the local world's, in the snapshot check)."""
        self.accrue(t)
        for name, count in sorted(pods_by_node.items()):
            node = self.nodes[name]
            for _ in range(count):
                pod = SimPod(name=f"pod-{next(self._pod_ids)}", created_at=t, node=name, bound_at=t)
                pod.ready_at = t if ready else None
                self.pods[pod.name] = pod
                node.pods += 1
                node.pod_event_at = t
                self.ready_pods += ready
        self.replicas = len(self.pods)
        self._ready_changed(t)

    def _pod_ready(self, pod: SimPod, t: float) -> None:
        if self.pods.get(pod.name) is not pod or pod.node is None:
            return
        pod.ready_at = t
        self.ready_pods += 1
        self._ready_changed(t)

    # -- views --------------------------------------------------------------------------------------

    def pending_pods(self) -> int:
        return sum(1 for p in self.pods.values() if p.node is None)

    def pods_on(self, node: str) -> int:
        found = self.nodes.get(node)
        return found.pods if found else 0


@dataclass
class ReadyTimeline:
    """Per interval: the time-weighted mean of Ready pods, the share of time with none, and the
    most pods Ready at once (the targets an ALB saw healthy; a pod replaced within the interval
    is counted once, a stated simplification)."""

    interval: float
    count: int
    ready_seconds: np.ndarray = field(init=False)
    zero_seconds: np.ndarray = field(init=False)
    targets_seen: np.ndarray = field(init=False)
    _last: float = 0.0
    _level: int = 0

    def __post_init__(self) -> None:
        self.ready_seconds = np.zeros(self.count)
        self.zero_seconds = np.zeros(self.count)
        self.targets_seen = np.zeros(self.count, dtype=np.int64)

    def advance(self, t: float, level: int) -> None:
        """Account the level held since the last call up to `t`, then hold `level`."""
        start = self._last
        while start < t:
            index = int(start // self.interval)
            if index >= self.count:
                break
            end = min(t, (index + 1) * self.interval)
            self.ready_seconds[index] += self._level * (end - start)
            if self._level == 0:
                self.zero_seconds[index] += end - start
            elif self._level > self.targets_seen[index]:
                self.targets_seen[index] = self._level
            start = end
        self._last = max(self._last, t)
        self._level = level

    def mean_ready(self) -> np.ndarray:
        return self.ready_seconds / self.interval
