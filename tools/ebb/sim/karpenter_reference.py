"""Karpenter's provisioning scheduler, re-implemented as the baseline ebb's node plans are compared to.

The behaviour follows kubernetes-sigs/karpenter ``pkg/controllers/provisioning/scheduling``
(``scheduler.go`` at commit 5ed25f098dd11609bf2353e4b74341b3b957a063, ``Scheduler.add``,
``calculateExistingNodeClaims``, ``subtractMax``, ``filterByRemainingResources``; the same steps
are in today's ``addToExistingNode``/``addToInflightNode``/``addToNewNodeClaim``):

* pods are taken largest first: CPU, then memory, descending (``queue.go``
  ``byCPUAndMemoryDescending``); ties keep the input order;
* each pod goes onto the first existing node it fits, existing nodes ordered initialized first,
  then by name (``sort.SliceStable`` in ``calculateExistingNodeClaims``);
* otherwise, **before every pod**, the NodeClaims opened in this run are re-sorted by how many pods
  they hold, fewest first (``sort.Slice(s.newNodeClaims, ... len(Pods) < len(Pods))``), and the pod
  joins the first one whose still-compatible instance types can hold it with the pods already
  there (the claim's type list narrows to those that can);
* otherwise it opens a new NodeClaim in the first NodePool (highest weight first) that has a
  compatible type fitting it and within the pool's limits: a type whose capacity exceeds what is
  left of any limit the pool names is left out (``filterByRemainingResources``), what is left is
  the limit minus the capacity of the pool's nodes, and each new claim takes off the largest
  capacity among its remaining types (``subtractMax``), so a pool at its limit launches nothing;
* when packing ends, each new claim launches the cheapest type still compatible with its pods.

Go's ``sort.Slice`` is not stable. For up to 12 claims it is an insertion sort
(golang/go ``src/sort/zsortfunc.go`` go1.21.0, ``pdqsort_func``: ``maxInsertion = 12``), which
keeps tied claims in their previous order; that is ``tie_seed=None`` here. Past 12 the order of
ties depends on pdqsort's pivots, so ``tie_seed=k`` breaks each re-sort's ties at random (seeded)
and :func:`karpenter_tie_spread` reports the cost over several such orders.

Daemonset overhead counts once per node, a type's allocatable is its capacity minus the kubelet
reservation, and offerings known to lack capacity are left out (Karpenter's unavailable-offerings
cache, :mod:`ebb.sim.karpenter_offerings`, passed as ``unavailable``; ebb's own record in the
input counts too). An instance group is one offering; paid-for groups cost nothing.

Placement constraints (zone and hostname spread, pod affinity and anti-affinity, preferences with
their relaxation) are Karpenter's topology groups (:mod:`ebb.sim.karpenter_topology`); the pods of
a group carrying one are scheduled one at a time through them.

Not modelled, said rather than hidden: HyperPod instance groups with several types are refused
(Karpenter has no notion of them); a group's ``max_count`` is not known to Karpenter, so the plan
ignores it and a launch beyond it fails like any capacity shortage (the simulator marks the
offering unavailable). Identical pods are placed on existing nodes together (a pod that did not
fit an existing node does not fit it later either), which gives exactly the per-pod result.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from ebb.core.nodes.catalogue import NODEPOOL_LABEL, ZONE_LABEL, InstanceGroup, InstanceType, node_labels
from ebb.core.nodes.inputs import PlanningInput
from ebb.core.nodes.nodepool import NodePool
from ebb.core.nodes.offerings import OfferingKey
from ebb.core.nodes.taints import blocking
from ebb.core.nodes.workload import NodeState, PodGroup
from ebb.sim.karpenter_offerings import Offering
from ebb.sim.karpenter_topology import (
    Relaxation,
    Topology,
    TopologyGroup,
    relaxation_order,
    with_node_preference,
)

_ACCEPTING = (NodeState.READY, NodeState.REGISTERED, NodeState.LAUNCHING)
# No limit on a resource: larger than any sum of capacities the benchmarks build.
_UNLIMITED = np.int64(2**62)
_LIMIT_NAMES = ("cpu", "memory", "nvidia.com/gpu", "nodes")


@dataclass
class ReferenceNode:
    """A new node of the reference plan."""

    node_pool: str
    instance_group: str
    instance_type: str
    price: float
    pods: dict[str, int] = field(default_factory=dict)
    zone: str = ""
    capacity_type: str = "on-demand"
    options: tuple[tuple[str, str, float], ...] = ()
    """The claim's remaining options as (instance group, instance type, price); it launches the cheapest."""

    @property
    def offering(self) -> Offering:
        """The offering the launch asks for (what a capacity shortage marks unavailable)."""
        return Offering(instance_type=self.instance_type, zone=self.zone, capacity_type=self.capacity_type)


@dataclass
class ReferencePlan:
    """What Karpenter's provisioner would do."""

    new_nodes: list[ReferenceNode]
    on_existing: dict[str, dict[str, int]]
    unplaced: dict[str, int]
    reasons: dict[str, str] = field(default_factory=dict)
    """Why each unplaced group's pods stayed pending (Karpenter's scheduling error, in words)."""

    @property
    def cost_per_hour(self) -> float:
        """Price of the new nodes."""
        return float(sum(node.price for node in self.new_nodes))


@dataclass
class _Offering:
    pool: str
    group: str
    type_name: str
    zone: str
    capacity_type: str
    allocatable: np.ndarray
    counted: np.ndarray
    """What one node of this offering counts against the pool's limits: cpu, memory, gpus, 1 node."""
    price: float
    labels: dict[str, str]


def _pool_order(inp: PlanningInput) -> list[str]:
    return [p.name for p in sorted(inp.node_pools, key=lambda p: (-p.weight, p.name))]


def _single_type(inp: PlanningInput, group_name: str) -> str:
    group = next(g for g in inp.instance_groups if g.name == group_name)
    if len(group.instance_types) != 1:
        raise NotImplementedError(
            f"instance group {group.name!r} has {len(group.instance_types)} instance types: "
            "the reference models single-type instance groups only"
        )
    return group.instance_types[0]


def _counted(inp: PlanningInput, type_name: str) -> np.ndarray:
    capacity = next(t for t in inp.instance_types if t.name == type_name).capacity
    return np.array([capacity.cpu_millis, capacity.memory_bytes, capacity.gpus, 1], dtype=np.int64)


_OfferingKey = tuple[int, int, str, str, bool, tuple[str, ...], float | None, str]
_STATIC_OFFERINGS: dict[_OfferingKey, tuple[NodePool, InstanceType, _Offering | None]] = {}
"""Each (pool, group) offering as the configuration makes it, or None where the pool's
requirements do not admit it: frozen inputs make the same offering, and `ebb simulate` asks for
them at every batch and consolidation pass. Keyed by the pool's and the type's identity (kept
alive here) and the group fields an offering reads; the offerings are never modified."""


def _static_offering(
    pool: NodePool, instance_group: InstanceGroup, instance_type: InstanceType
) -> _Offering | None:
    key = (
        id(pool),
        id(instance_type),
        instance_group.name,
        instance_group.zone,
        instance_group.paid_for,
        instance_group.instance_types,
        instance_group.price_per_hour,
        instance_group.capacity_type,
    )
    cached = _STATIC_OFFERINGS.get(key)
    if cached is not None and cached[0] is pool and cached[1] is instance_type:
        return cached[2]
    pool_labels = {**pool.template_labels(), NODEPOOL_LABEL: pool.name}
    # The reference packs the four base dimensions; extended requests are refused in the planner.
    overhead = np.array(pool.daemonset_overhead.vector[:4], dtype=np.int64)
    labels = node_labels(instance_group, instance_type, pool_labels)
    capacity = instance_type.capacity
    offering = (
        _Offering(
            pool=pool.name,
            group=instance_group.name,
            type_name=instance_type.name,
            zone=instance_group.zone,
            capacity_type=instance_group.capacity_type,
            allocatable=np.maximum(
                np.array(instance_type.allocatable.vector[:4], dtype=np.int64) - overhead, 0
            ),
            counted=np.array([capacity.cpu_millis, capacity.memory_bytes, capacity.gpus, 1], dtype=np.int64),
            price=instance_group.node_price(instance_type),
            labels=labels,
        )
        if pool.admits(labels)
        else None
    )
    if len(_STATIC_OFFERINGS) > 1024:
        _STATIC_OFFERINGS.clear()
    _STATIC_OFFERINGS[key] = (pool, instance_type, offering)
    return offering


def _offerings(inp: PlanningInput, unavailable: frozenset[Offering]) -> list[_Offering]:
    types = {t.name: t for t in inp.instance_types}
    groups = {g.name: g for g in inp.instance_groups}
    pools = {p.name: p for p in inp.node_pools}
    avoided = inp.unavailable.active(inp.now)
    offerings: list[_Offering] = []
    for pool_name in _pool_order(inp):
        pool = pools[pool_name]
        for group_name in pool.instance_groups:
            instance_group = groups[group_name]
            instance_type = types[_single_type(inp, group_name)]
            offering = _static_offering(pool, instance_group, instance_type)
            if offering is None:
                continue
            key = OfferingKey(
                instance_group=instance_group.name, instance_type=instance_type.name, zone=instance_group.zone
            )
            if key in avoided or Offering.of_group(instance_group, instance_type.name) in unavailable:
                continue
            offerings.append(offering)
    return offerings


def _remaining_limits(inp: PlanningInput) -> dict[str, np.ndarray]:
    """Each pool's limits minus the capacity of its nodes (``calculateExistingNodeClaims``)."""
    remaining: dict[str, np.ndarray] = {}
    for pool in inp.node_pools:
        caps = pool.limits.as_vector()
        if len(caps) > 4:
            # Limits on pods or extended resources would need their capacities counted here too.
            raise NotImplementedError(
                "the Karpenter reference models limits on cpu, memory, nvidia.com/gpu and nodes only"
            )
        left = np.array([_UNLIMITED if cap is None else cap for cap in caps], dtype=np.int64)
        for node in inp.nodes:
            if node.node_pool != pool.name or node.deleting:
                continue
            type_name = node.instance_type or _single_type(inp, node.instance_group)
            left -= np.where(np.array([cap is None for cap in caps]), 0, _counted(inp, type_name))
        remaining[pool.name] = left
    return remaining


@dataclass
class _Existing:
    name: str
    pool: str
    labels: dict[str, str]
    free: np.ndarray
    pods: dict[str, int] = field(default_factory=dict)
    """Pods per group on the node, running and placed by this run."""


_STATIC_NODES: dict[_OfferingKey, tuple[NodePool, InstanceType, np.ndarray, dict[str, str]]] = {}
"""Each (pool, group, type)'s empty-node room (allocatable minus the daemonset overhead, not
clamped) and labels, keyed as `_STATIC_OFFERINGS`: `ebb simulate` rebuilds the existing nodes at
every batch and consolidation pass. The room is copied before use; the labels are only read."""


def _static_node(
    pool: NodePool, instance_group: InstanceGroup, instance_type: InstanceType
) -> tuple[np.ndarray, dict[str, str]]:
    key = (
        id(pool),
        id(instance_type),
        instance_group.name,
        instance_group.zone,
        instance_group.paid_for,
        instance_group.instance_types,
        instance_group.price_per_hour,
        instance_group.capacity_type,
    )
    cached = _STATIC_NODES.get(key)
    if cached is not None and cached[0] is pool and cached[1] is instance_type:
        return cached[2], cached[3]
    room = np.array(instance_type.allocatable.vector[:4], dtype=np.int64)
    room -= np.array(pool.daemonset_overhead.vector[:4], dtype=np.int64)
    labels = node_labels(instance_group, instance_type, {**pool.template_labels(), NODEPOOL_LABEL: pool.name})
    if len(_STATIC_NODES) > 1024:
        _STATIC_NODES.clear()
    _STATIC_NODES[key] = (pool, instance_type, room, labels)
    return room, labels


def _existing_nodes(inp: PlanningInput, *, initialized_only: bool) -> list[_Existing]:
    """Nodes that can take pods, initialized ones first, then by name (as upstream orders them)."""
    types = {t.name: t for t in inp.instance_types}
    groups = {g.name: g for g in inp.instance_groups}
    pools = {p.name: p for p in inp.node_pools}
    pod_groups = {g.name: np.array(g.vector[:4], dtype=np.int64) for g in inp.pod_groups}
    accepting = (NodeState.READY,) if initialized_only else _ACCEPTING
    existing = []
    ordered = sorted(inp.nodes, key=lambda n: (n.state is not NodeState.READY, n.name))
    for node in ordered:
        if node.state not in accepting or node.deleting:
            continue
        pool = pools[node.node_pool]
        instance_type = types[node.instance_type or _single_type(inp, node.instance_group)]
        room, labels = _static_node(pool, groups[node.instance_group], instance_type)
        free = room - np.array(node.unmanaged.vector[:4], dtype=np.int64)
        for placed in node.pods:
            free -= pod_groups[placed.group] * placed.count
        existing.append(_Existing(node.name, pool.name, labels, free, {p.group: p.count for p in node.pods}))
    return existing


class _Claims:
    """The NodeClaims opened in this run, in arrays that grow by doubling.

    ``order`` is ``s.newNodeClaims`` as upstream leaves it after its stable re-sort by pod count:
    between two pods only one claim changes (it gains a pod, or is new with one), so the re-sort
    moves that claim alone, to the end of the claims with its new count (ties keep their order).
    """

    def __init__(self, offerings: int) -> None:
        self.count = 0
        self.used = np.zeros((8, 4), dtype=np.int64)
        self.masks = np.zeros((8, offerings), dtype=bool)
        self.envelopes = np.zeros((8, 4), dtype=np.int64)
        self.pods = np.zeros(8, dtype=np.int64)
        self.rank = np.zeros(8, dtype=np.int64)
        self.order = np.zeros(0, dtype=np.int64)
        self.contents: list[dict[str, int]] = []

    def open(self, mask: np.ndarray, envelope: np.ndarray, request: np.ndarray, group: str) -> int:
        """A new claim holding one pod of ``group``."""
        if self.count == len(self.pods):
            grow = len(self.pods)
            self.used = np.vstack([self.used, np.zeros((grow, 4), dtype=np.int64)])
            self.masks = np.vstack([self.masks, np.zeros((grow, self.masks.shape[1]), dtype=bool)])
            self.envelopes = np.vstack([self.envelopes, np.zeros((grow, 4), dtype=np.int64)])
            self.pods = np.concatenate([self.pods, np.zeros(grow, dtype=np.int64)])
            self.rank = np.concatenate([self.rank, np.zeros(grow, dtype=np.int64)])
        index = self.count
        self.count += 1
        self.masks[index] = mask
        self.envelopes[index] = envelope
        self.used[index] = request
        self.pods[index] = 1
        self.contents.append({group: 1})
        # Appended last, then re-sorted: it lands after every claim holding at most one pod.
        position = int(np.searchsorted(self.pods[self.order], 1, side="right"))
        self.order = np.insert(self.order, position, index)
        self.rank[self.order[position:]] = np.arange(position, len(self.order))
        return index

    def candidates(
        self, usable: np.ndarray, request: np.ndarray, rng: np.random.Generator | None
    ) -> np.ndarray:
        """Claims that may hold one more pod of ``request``, in the order upstream tries them."""
        n = self.count
        ok = np.flatnonzero(usable[:n] & np.all(self.used[:n] + request <= self.envelopes[:n], axis=1))
        if rng is None:
            ranked: np.ndarray = ok[np.argsort(self.rank[ok])]
            return ranked
        # Ties ordered at random by every re-sort: fewest pods first, then a fresh random key.
        shuffled: np.ndarray = ok[np.lexsort((rng.random(len(ok)), self.pods[ok]))]
        return shuffled

    def join(
        self, index: int, allowed: np.ndarray, allocatable: np.ndarray, request: np.ndarray, group: str
    ) -> None:
        """Claim ``index`` takes one more pod; its types narrow to ``allowed``."""
        self.used[index] += request
        self.masks[index] = allowed
        self.envelopes[index] = allocatable[allowed].max(axis=0)
        self.contents[index][group] = self.contents[index].get(group, 0) + 1
        count = int(self.pods[index])
        start = int(self.rank[index])
        end = int(np.searchsorted(self.pods[self.order], count, side="right"))
        self.order[start : end - 1] = self.order[start + 1 : end]
        self.order[end - 1] = index
        self.rank[self.order[start:end]] = np.arange(start, end)
        self.pods[index] = count + 1


def karpenter_plan(
    inp: PlanningInput, *, unavailable: frozenset[Offering] = frozenset(), tie_seed: int | None = None
) -> ReferencePlan:
    """Plan ``inp`` the way Karpenter's provisioner would.

    ``unavailable``: offerings Karpenter's cache holds as lacking capacity (see
    :class:`ebb.sim.karpenter_offerings.UnavailableOfferings.active`). ``tie_seed``: ``None`` keeps
    tied NodeClaims in their previous order (Go's insertion sort, exact up to 12 claims); an int
    orders the ties of every re-sort at random from that seed.
    """
    return schedule(inp, unavailable=unavailable, tie_seed=tie_seed, initialized_only=False)


def schedule(
    inp: PlanningInput,
    *,
    unavailable: frozenset[Offering] = frozenset(),
    tie_seed: int | None = None,
    initialized_only: bool = False,
) -> ReferencePlan:
    """:func:`karpenter_plan`, optionally placing onto initialized existing nodes only.

    Consolidation's simulation counts a pod placed on a node that is not initialized as not
    scheduled (``SimulateScheduling``), which ``initialized_only=True`` stands for.
    """
    offerings = _offerings(inp, unavailable)
    pools = {p.name: p for p in inp.node_pools}
    allocatable = np.array([o.allocatable for o in offerings], dtype=np.int64).reshape(-1, 4)
    counted = np.array([o.counted for o in offerings], dtype=np.int64).reshape(-1, 4)
    prices = np.array([o.price for o in offerings])
    pool_order = _pool_order(inp)
    in_pool = {name: np.array([o.pool == name for o in offerings], dtype=bool) for name in pools}
    remaining_limits = _remaining_limits(inp)
    existing = _existing_nodes(inp, initialized_only=initialized_only)
    rng = None if tie_seed is None else np.random.default_rng(tie_seed)
    running: dict[str, int] = {}
    for node in inp.nodes:
        if not node.deleting:
            for placed in node.pods:
                running[placed.group] = running.get(placed.group, 0) + placed.count

    running_by_zone: dict[str, dict[str, int]] = {}
    for target in existing:
        zone_pods = running_by_zone.setdefault(target.labels.get(ZONE_LABEL, ""), {})
        for name, count in target.pods.items():
            zone_pods[name] = zone_pods.get(name, 0) + count
    topology = Topology(inp, running_by_zone)
    zone_of = np.array([o.zone for o in offerings], dtype=object)
    placing = _Placing(
        topology=topology,
        claims=None,  # set below
        offerings=offerings,
        allocatable=allocatable,
        counted=counted,
        zone_of=zone_of,
        existing=existing,
        pools=pools,
        pool_order=pool_order,
        in_pool=in_pool,
        remaining_limits=remaining_limits,
        rng=rng,
        on_existing={},
    )

    indexed = sorted(
        enumerate(inp.pod_groups),
        key=lambda pair: (-pair[1].requests.cpu_millis, -pair[1].requests.memory_bytes, pair[0]),
    )
    claims = _Claims(len(offerings))
    placing.claims = claims
    on_existing = placing.on_existing
    unplaced: dict[str, int] = {}
    reasons: dict[str, str] = {}

    for _, pods in indexed:
        remaining = max(pods.replicas - running.get(pods.name, 0), 0)
        if not remaining:
            continue
        if len(pods.vector) > 4:
            raise NotImplementedError(
                f"pod group {pods.name!r} requests extended resources: the Karpenter reference models "
                "cpu, memory, nvidia.com/gpu and pods only"
            )
        if topology.constrained(pods.name) or pods.preferred_node_affinity:
            # Pod by pod, with Karpenter's topology and preference relaxation.
            for _pod in range(remaining):
                why = placing.place_one(pods)
                if why is not None:
                    unplaced[pods.name] = unplaced.get(pods.name, 0) + 1
                    reasons[pods.name] = why
            continue
        request = np.array(pods.vector, dtype=np.int64)
        tolerated = {name: not pods.untolerated(blocking(pool.taints)) for name, pool in pools.items()}

        # Existing nodes in their fixed order: identical pods fill the first that fits, then the next.
        nonzero = request > 0
        for target in existing:
            if not remaining:
                break
            if not tolerated[target.pool] or not pods.selects(target.labels):
                continue
            take = min(remaining, max(int(np.min(target.free[nonzero] // request[nonzero])), 0))
            if take:
                np.subtract(target.free, request * take, out=target.free)
                placed_here = on_existing.setdefault(target.name, {})
                placed_here[pods.name] = placed_here.get(pods.name, 0) + take
                target.pods[pods.name] = target.pods.get(pods.name, 0) + take
                topology.record(pods.name, {target.labels.get(ZONE_LABEL, "")}, take)
                remaining -= take
        if not remaining:
            continue

        compatible = np.array(
            [tolerated[o.pool] and pods.selects(o.labels) for o in offerings], dtype=np.bool_
        ).reshape(len(offerings))
        # Which open claims still have a type these pods may use; only the claim a pod joins changes.
        usable = np.any(claims.masks[: claims.count] & compatible, axis=1)

        while remaining:
            joined = False
            for index in claims.candidates(usable, request, rng):
                allowed = (
                    claims.masks[index]
                    & compatible
                    & np.all(allocatable >= claims.used[index] + request, axis=1)
                )
                if allowed.any():
                    claims.join(int(index), allowed, allocatable, request, pods.name)
                    if pods.name in topology.counted:
                        topology.record(pods.name, set(zone_of[allowed]))
                    usable[index] = True
                    joined = True
                    break
            if joined:
                remaining -= 1
                continue
            opened = _open_claim(
                claims,
                offerings=offerings,
                pool_order=pool_order,
                in_pool=in_pool,
                compatible=compatible,
                allocatable=allocatable,
                counted=counted,
                request=request,
                group=pods.name,
                remaining_limits=remaining_limits,
            )
            if isinstance(opened, str):
                # Nothing changed since this pod failed, so its identical siblings fail too.
                unplaced[pods.name] = unplaced.get(pods.name, 0) + remaining
                reasons[pods.name] = opened
                break
            if pods.name in topology.counted:
                topology.record(pods.name, set(zone_of[claims.masks[opened]]))
            usable = np.append(usable, True)
            remaining -= 1

    new_nodes = []
    for index in range(claims.count):
        choices = np.flatnonzero(claims.masks[index])
        offering = offerings[int(choices[np.argmin(prices[choices])])]
        new_nodes.append(
            ReferenceNode(
                node_pool=offering.pool,
                instance_group=offering.group,
                instance_type=offering.type_name,
                price=offering.price,
                pods=claims.contents[index],
                zone=offering.zone,
                capacity_type=offering.capacity_type,
                options=tuple(
                    (offerings[i].group, offerings[i].type_name, offerings[i].price) for i in choices
                ),
            )
        )
    return ReferencePlan(new_nodes=new_nodes, on_existing=on_existing, unplaced=unplaced, reasons=reasons)


def _open_claim(
    claims: _Claims,
    *,
    offerings: list[_Offering],
    pool_order: list[str],
    in_pool: dict[str, np.ndarray],
    compatible: np.ndarray,
    allocatable: np.ndarray,
    counted: np.ndarray,
    request: np.ndarray,
    group: str,
    remaining_limits: dict[str, np.ndarray],
) -> int | str:
    """Open a claim for one pod in the first pool that can take it; else say why none could."""
    if not offerings:
        return "no instance type of any NodePool is available"
    fits = compatible & np.all(allocatable >= request, axis=1)
    why = "incompatible with every NodePool, or no instance type fits the pod"
    for pool_name in pool_order:
        candidates = in_pool[pool_name] & fits
        if not candidates.any():
            continue
        left = remaining_limits[pool_name]
        within = candidates & np.all(counted <= left, axis=1)
        if not within.any():
            over = np.any(counted[candidates] > left, axis=0)
            exceeded = ", ".join(name for name, hit in zip(_LIMIT_NAMES, over, strict=True) if hit)
            why = f"all available instance types exceed limits for nodepool {pool_name!r} ({exceeded})"
            continue
        index = claims.open(within, allocatable[within].max(axis=0), request, group)
        # subtractMax: the claim may launch any of its types, so the largest counts against the limits.
        left -= np.where(left < _UNLIMITED, counted[within].max(axis=0), 0)
        return index
    return why


@dataclass
class _Placing:
    """What placing one constrained pod needs (the state :func:`schedule` shares with it)."""

    topology: Topology
    claims: _Claims | None
    offerings: list[_Offering]
    allocatable: np.ndarray
    counted: np.ndarray
    zone_of: np.ndarray
    existing: list[_Existing]
    pools: dict[str, NodePool]
    pool_order: list[str]
    in_pool: dict[str, np.ndarray]
    remaining_limits: dict[str, np.ndarray]
    rng: np.random.Generator | None
    on_existing: dict[str, dict[str, int]]

    def place_one(self, pods: PodGroup) -> str | None:
        """Place one pod, relaxing its preferences one at a time as it fails; ``None`` once placed."""
        relaxed: set[Relaxation] = set()
        order = relaxation_order(pods)
        while True:
            why = self._try(with_node_preference(pods, relaxed), relaxed)
            if why is None:
                return None
            step = next((r for r in order if r not in relaxed), None)
            if step is None:
                return why
            relaxed.add(step)

    def _try(self, pods: PodGroup, relaxed: set[Relaxation]) -> str | None:
        claims = self.claims
        assert claims is not None
        request = np.array(pods.vector, dtype=np.int64)
        tolerated = {name: not pods.untolerated(blocking(pool.taints)) for name, pool in self.pools.items()}
        compatible = np.array(
            [tolerated[o.pool] and pods.selects(o.labels) for o in self.offerings], dtype=np.bool_
        ).reshape(len(self.offerings))
        universe = set(self.zone_of[compatible]) | {
            t.labels.get(ZONE_LABEL, "")
            for t in self.existing
            if tolerated[t.pool] and pods.selects(t.labels)
        }
        blocked: TopologyGroup | None = None
        nonzero = request > 0
        for target in self.existing:
            if not tolerated[target.pool] or not pods.selects(target.labels):
                continue
            if not np.all(target.free[nonzero] >= request[nonzero]):
                continue
            zone = {target.labels.get(ZONE_LABEL, "")}
            left, why = self.topology.allowed(pods.name, relaxed, zone, target.pods, universe)
            if not left:
                blocked = blocked or why
                continue
            np.subtract(target.free, request, out=target.free)
            placed_here = self.on_existing.setdefault(target.name, {})
            placed_here[pods.name] = placed_here.get(pods.name, 0) + 1
            target.pods[pods.name] = target.pods.get(pods.name, 0) + 1
            self.topology.record(pods.name, zone)
            return None
        usable = np.any(claims.masks[: claims.count] & compatible, axis=1)
        for index in claims.candidates(usable, request, self.rng):
            base = (
                claims.masks[index]
                & compatible
                & np.all(self.allocatable >= claims.used[index] + request, axis=1)
            )
            if not base.any():
                continue
            left, why = self.topology.allowed(
                pods.name, relaxed, set(self.zone_of[base]), claims.contents[index], universe
            )
            mask = base & np.isin(self.zone_of, list(left))
            if not mask.any():
                blocked = blocked or why
                continue
            claims.join(int(index), mask, self.allocatable, request, pods.name)
            self.topology.record(pods.name, set(self.zone_of[mask]))
            return None
        fits = compatible & np.all(self.allocatable >= request, axis=1)
        left, why = self.topology.allowed(pods.name, relaxed, set(self.zone_of[fits]), {}, universe)
        if not left:
            blocked = blocked or why
            return f"topology: {blocked.kind} on {blocked.key}" if blocked else "no compatible offering"
        opened = _open_claim(
            claims,
            offerings=self.offerings,
            pool_order=self.pool_order,
            in_pool=self.in_pool,
            compatible=compatible & np.isin(self.zone_of, list(left)),
            allocatable=self.allocatable,
            counted=self.counted,
            request=request,
            group=pods.name,
            remaining_limits=self.remaining_limits,
        )
        if isinstance(opened, str):
            return opened
        self.topology.record(pods.name, set(self.zone_of[claims.masks[opened]]))
        return None


@dataclass(frozen=True)
class TieSpread:
    """The reference's cost over several orders of tied NodeClaims (Go's sort is not stable)."""

    costs: tuple[float, ...]
    """The first is ``tie_seed=None`` (ties keep their order), then one per seed."""

    @property
    def minimum(self) -> float:
        return min(self.costs)

    @property
    def median(self) -> float:
        return float(statistics.median(self.costs))

    @property
    def maximum(self) -> float:
        return max(self.costs)


def karpenter_tie_spread(
    inp: PlanningInput,
    *,
    tie_seeds: Iterable[int] = range(1, 5),
    unavailable: frozenset[Offering] = frozenset(),
) -> TieSpread:
    """:func:`karpenter_plan`'s cost with ties kept in order and with each of ``tie_seeds``."""
    costs = [karpenter_plan(inp, unavailable=unavailable).cost_per_hour]
    costs.extend(
        karpenter_plan(inp, unavailable=unavailable, tie_seed=seed).cost_per_hour for seed in tie_seeds
    )
    return TieSpread(costs=tuple(costs))
