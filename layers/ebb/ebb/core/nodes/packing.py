"""Packing groups of identical pods onto new nodes: the numeric heart of the node planner.

Everything here works on plain integers and tuples (no models): a pod group is an :class:`Item`
(count, request vector, bitmask of the launch options it may use) and a launch option is an
:class:`Option` (allocatable vector, marginal price, how many more nodes it may add, what a node
counts against the pool limits). A result is a list of :class:`Batch`: ``count`` identical new
nodes of one option, each holding the same pods. Identical pods and identical nodes are handled
as counts throughout, so the work grows with the number of distinct shapes, not of pods.

This module holds the pattern greedy (:class:`Greedy`): for each launch option it fills one node
from the remaining pods, scores the node by the value of what it holds (each pod's fractional
cost on its cheapest fitting option) per unit of price, takes the best, and repeats that node as
many times as the remaining pods allow. :func:`right_size` then moves nodes to the cheapest option
that still holds their pods, as Karpenter does at launch. :mod:`ebb.core.nodes.new_nodes` combines
these with the other constructions and refinements.
"""

from __future__ import annotations

import copy
import heapq
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache

from ebb.core.nodes.quantities import (
    BASE_DIMENSIONS,
    POOL_PODS_DIMENSION,
    Vector,
    add,
    dimension_name,
    fits,
    largest,
    scale,
    short_of,
    sub,
)

Limits = tuple[int | None, ...]
"""What is left under a pool's limits, in limit-vector order (cpu, memory, gpus, nodes, pods, extended...)."""


@dataclass(slots=True)
class Item:
    """A group of identical pods still to place."""

    key: int
    count: int
    vector: Vector
    mask: int
    """Bit ``i`` set: the pods may run on option ``i``."""
    cap: int | None = None
    """At most this many of these pods on one node (hostname spread or anti-affinity)."""


@dataclass(slots=True)
class Option:
    """A kind of node the pool can launch."""

    index: int
    capacity: Vector
    cost: float
    available: int | None
    """How many more nodes of this option may be added (``None``: unbounded)."""
    limit_usage: Vector
    """What one node counts against the pool limits: (cpu, memory, gpus, 1 node, pods, extended...)."""


@dataclass(slots=True)
class Batch:
    """``count`` new nodes of one option, each holding ``contents`` (item key, pods per node)."""

    option: int
    count: int
    contents: tuple[tuple[int, int], ...]


class Shortfall(StrEnum):
    """Why pods could not be given a new node."""

    NO_FIT = "no allowed instance type fits the pods"
    UNAVAILABLE = "every fitting offering is out of capacity or at its group's maximum"
    LIMIT = "the node pool's limits are reached"


COST_TOLERANCE = 1e-9
"""Dollars per hour below which two plans cost the same (sums of float prices differ in the last bits)."""


def better(cost: float, nodes: int, than_cost: float, than_nodes: int) -> bool:
    """Whether a plan of ``cost`` and ``nodes`` beats another: cheaper, or as cheap with fewer nodes.

    Ties go to fewer launches: each launch can fail for capacity and carries the daemon sets'
    overhead (Karpenter's scheduler, too, opens a new node only when the pod fits on none it has).
    """
    if cost < than_cost - COST_TOLERANCE:
        return True
    return cost <= than_cost + COST_TOLERANCE and nodes < than_nodes


def same_cost(cost: float, other: float) -> bool:
    """Whether two prices are equal within :data:`COST_TOLERANCE`."""
    return abs(cost - other) <= COST_TOLERANCE


@dataclass(slots=True)
class Packing:
    """New nodes for the pods, and the pods left over with the reason."""

    batches: list[Batch] = field(default_factory=list)
    leftover: dict[int, tuple[int, Shortfall, str]] = field(default_factory=dict)
    """Item key -> (count, reason, detail)."""
    exact: bool = False
    tied_with: int | None = None
    """The most nodes an equally cheap packing that was set aside needed (``None``: no such tie)."""

    def cost(self, options: list[Option]) -> float:
        """Price per hour of the new nodes."""
        return sum(options[b.option].cost * b.count for b in self.batches)

    @property
    def nodes(self) -> int:
        """Number of new nodes."""
        return sum(b.count for b in self.batches)

    def note_tie(self, nodes: int) -> None:
        """Record that an equally cheap packing of ``nodes`` nodes lost on its node count."""
        if nodes > self.nodes:
            self.tied_with = max(self.tied_with or 0, nodes)


@lru_cache(maxsize=4096)
def bits(mask: int) -> tuple[int, ...]:
    """Indices of the set bits of ``mask``, lowest first.

    Memoised: a plan asks for the same few masks (a pool's options, narrowed per zone or per
    node selector) once per pod group and per search step, and walking a 400-bit mask in Python
    costs more than the work done with its indices.
    """
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return tuple(out)


def content_vector(contents: tuple[tuple[int, int], ...], vectors: dict[int, Vector]) -> Vector:
    """Total request of one node's pods."""
    total: Vector = (0, 0, 0, 0)
    for key, count in contents:
        total = add(total, scale(vectors[key], count))
    return total


def within(packing: Packing, options: list[Option], limits: Limits) -> bool:
    """Whether a packing respects every option's availability and the pool limits."""
    used: dict[int, int] = {}
    usage: Vector = (0, 0, 0, 0)
    for batch in packing.batches:
        used[batch.option] = used.get(batch.option, 0) + batch.count
        usage = add(usage, scale(options[batch.option].limit_usage, batch.count))
    for index, count in used.items():
        available = options[index].available
        if available is not None and count > available:
            return False
    return all(cap is None or index >= len(usage) or usage[index] <= cap for index, cap in enumerate(limits))


def pod_values(items: list[Item], options: list[Option], among: int = -1) -> dict[int, float]:
    """Each pod's fractional cost on its cheapest compatible option that can hold it.

    ``among`` restricts the options looked at (a bitmask); dominated options never give the minimum.
    """
    return {key: appraisal.value for key, appraisal in appraise(items, options, among).items()}


@dataclass(slots=True)
class Appraisal:
    """What the greedy needs to know of one item against the options it may use."""

    value: float
    """The pod's fractional cost on its cheapest option that holds it (0 when none does)."""
    size: float
    """How hard the pod is to place: its largest share of any dimension on its best option."""
    fitting: tuple[int, ...]
    """The options (in ``among``) that can hold one pod, lowest index first."""


def appraise(
    items: list[Item], options: list[Option], among: int = -1, *, generic: bool = False
) -> dict[int, Appraisal]:
    """Per item key, its :class:`Appraisal` over the options of its mask within ``among``.

    Items of one shape, mask and cap appraise alike (a constrained group split over zones repeats
    them), so each is computed once, in one pass over its options. A pod asking only for the four
    base resources is appraised by :func:`_appraise_base` (``generic``: by :func:`_appraise_any`
    all the same, which gives equal floats; the tests compare the two).
    """
    appraisals: dict[int, Appraisal] = {}
    known: dict[tuple[Vector, int, int | None], Appraisal] = {}
    for item in items:
        mask = item.mask & among
        shape = (item.vector, mask, item.cap)
        appraisal = known.get(shape)
        if appraisal is None:
            if len(item.vector) == BASE_DIMENSIONS and not generic:
                appraisal = _appraise_base(item.vector, item.cap, mask, options)
            else:
                appraisal = _appraise_any(item.vector, item.cap, mask, options)
            known[shape] = appraisal
        appraisals[item.key] = appraisal
    return appraisals


def _appraise_any(vector: Vector, cap: int | None, mask: int, options: list[Option]) -> Appraisal:
    value: float | None = None
    size: float | None = None
    fitting = []
    for index in bits(mask):
        option = options[index]
        if not fits(vector, option.capacity):
            continue
        fitting.append(index)
        share = max(
            # A vector lacks trailing zeros: pairs beyond the shorter one are 0 or unrequested.
            need / room if room else 0.0
            for need, room in zip(vector, option.capacity, strict=False)
        )
        size = share if size is None else min(size, share)
        if cap is not None:
            share = max(share, 1 / cap)  # a capped pod takes at least its share of a node
        cost = option.cost * share
        value = cost if value is None else min(value, cost)
    return Appraisal(
        value=0.0 if value is None else value, size=0.0 if size is None else size, fitting=tuple(fitting)
    )


def _appraise_base(vector: Vector, cap: int | None, mask: int, options: list[Option]) -> Appraisal:
    """:func:`_appraise_any` for a pod of cpu, memory, GPUs and a slot only (the common case).

    The same divisions and the same ``max`` as the generic loop (equal floats), unrolled; an
    option's extended resources do not matter to a pod that asks for none.
    """
    need_cpu, need_memory, need_gpus, need_slots = vector
    value: float | None = None
    size: float | None = None
    fitting = []
    for index in bits(mask):
        option = options[index]
        capacity = option.capacity
        room_cpu, room_memory, room_gpus, room_slots = capacity if len(capacity) == 4 else capacity[:4]
        if (
            need_cpu > room_cpu
            or need_memory > room_memory
            or need_gpus > room_gpus
            or need_slots > room_slots
        ):
            continue
        fitting.append(index)
        share = max(
            need_cpu / room_cpu if room_cpu else 0.0,
            need_memory / room_memory if room_memory else 0.0,
            need_gpus / room_gpus if room_gpus else 0.0,
            need_slots / room_slots if room_slots else 0.0,
        )
        size = share if size is None else min(size, share)
        if cap is not None:
            share = max(share, 1 / cap)  # a capped pod takes at least its share of a node
        cost = option.cost * share
        value = cost if value is None else min(value, cost)
    return Appraisal(
        value=0.0 if value is None else value, size=0.0 if size is None else size, fitting=tuple(fitting)
    )


def dominated(options: list[Option], items: list[Item], limits: Limits) -> set[int]:
    """Options another option beats outright, so that no packing needs them.

    ``b`` beats ``a`` when it is at least as large in every dimension, no dearer, has no cap on
    its node count, may run every pod ``a`` may, and (when the pool has limits) counts no more
    against them.
    """
    runs: dict[int, int] = {}
    for position, item in enumerate(items):
        for index in bits(item.mask):
            runs[index] = runs.get(index, 0) | 1 << position
    limited = any(cap is not None for cap in limits)
    # Options no pod may use are irrelevant here (and the caller never fills them).
    ranked = sorted((options[i] for i in runs), key=lambda o: (o.cost, [-c for c in o.capacity], o.index))
    out: set[int] = set()
    for position, a in enumerate(ranked):
        runs_a = runs[a.index]
        for b in ranked[:position]:
            # The cheap test first: options of other zones or selectors run other pods.
            if (
                runs_a & ~runs[b.index] == 0
                and b.available is None
                and b.index not in out
                and fits(a.capacity, b.capacity)
                and (not limited or fits(b.limit_usage, a.limit_usage))
            ):
                out.add(a.index)
                break
    return out


def limit_room(limits: Limits, usage: Vector) -> int | None:
    """How many nodes with ``usage`` still fit under ``limits`` (``None``: unbounded)."""
    room: int | None = None
    # A component one side lacks is uncapped or unused.
    for cap, use in zip(limits, usage, strict=False):
        if cap is None or use == 0:
            continue
        allowed = max(cap // use, 0)
        room = allowed if room is None else min(room, allowed)
    return room


def limit_name(index: int) -> str:
    """The resource a limit-vector component caps."""
    if index == 3:
        return "nodes"
    if index == POOL_PODS_DIMENSION:
        return "pods"
    return dimension_name(index)


def _limit_blocker(limits: Limits, usage: Vector) -> str:
    blocked = [
        limit_name(index)
        for index, (cap, use) in enumerate(zip(limits, usage, strict=False))
        if cap is not None and use > cap
    ]
    return ", ".join(blocked)


def consume(limits: Limits, usage: Vector, count: int) -> Limits:
    """The limits left after ``count`` nodes that each use ``usage`` (``count`` may be negative)."""

    return tuple(
        None if cap is None else cap - (usage[index] if index < len(usage) else 0) * count
        for index, cap in enumerate(limits)
    )


class Greedy:
    """The pattern greedy (step 2 of the module's strategy), resumable for look-ahead.

    ``fill`` walks an option's compatible groups largest first and stops as soon as the room left
    is below the smallest CPU or memory request still ahead (suffix minima), so a full node costs
    about its number of distinct groups. ``run`` evaluates options lazily: a node's value per
    unit of price only falls as pods run out, so an option whose stale score is below the best
    fresh one need not be filled again.

    When every pod asks only for the four base resources (cpu, memory, ``nvidia.com/gpu``, a pod
    slot: the common case), the fills run on four unpacked integers (:meth:`_fill_base`,
    :meth:`_slice_fill_base`); otherwise on the whole resource vector (:meth:`_fill_any`,
    :meth:`_slice_fill_any`). Both take the same pods in the same order; ``generic`` forces the
    second, for the tests that compare them.
    """

    def __init__(
        self,
        items: list[Item],
        options: list[Option],
        limits: Limits,
        fills: str = "both",
        *,
        generic: bool = False,
    ) -> None:
        self.fills = fills
        self.options = options
        self.limits = limits
        self.remaining = {item.key: item.count for item in items}
        self.vectors = {item.key: item.vector for item in items}
        self.masks = {item.key: item.mask for item in items}
        self.base_only = not generic and all(len(item.vector) == BASE_DIMENSIONS for item in items)
        """Whether the four-integer fills run (no pod asks for an extended resource)."""
        # A hostname spread or anti-affinity caps a group per node; uncapped groups take the slots.
        self.caps = {item.key: item.cap for item in items if item.cap is not None}
        self.available = {o.index: o.available for o in options}
        beaten = dominated(options, items, limits)
        self.candidates = [o.index for o in options if o.index not in beaten]
        among = sum(1 << index for index in self.candidates)
        appraisals = appraise(items, options, among, generic=generic)
        self.values = {key: appraisal.value for key, appraisal in appraisals.items()}
        self.among = among
        self.order = sorted(
            (item.key for item in items),
            key=lambda key: (-appraisals[key].size, -self.vectors[key][0], -self.vectors[key][1], key),
        )
        self.per_option: dict[int, list[tuple[int, Vector, float, int, int]]] = {}
        # Rows of groups that ran out since an option's rows were last compacted (see ``_rows``).
        self.spent: dict[int, int] = {}
        # What each option's rows still ask for, kept up to date by ``apply`` (for slice fills).
        self.demand: dict[int, list[int]] = {}
        self.holders: dict[int, list[int]] = {item.key: [] for item in items}
        # Each option's groups in ``order``: one pass over the groups and the options that hold
        # them (a group's mask names the few options of its zone or selector), not options x groups.
        keys_of: dict[int, list[int]] = {index: [] for index in self.candidates}
        for key in self.order:
            for index in appraisals[key].fitting:
                keys_of[index].append(key)
        for index in self.candidates:
            keys = keys_of[index]
            self.per_option[index] = self._suffix_rows(keys)
            self.spent[index] = 0
            demand = [0] * max([BASE_DIMENSIONS, *(len(self.vectors[key]) for key in keys)])
            for key in keys:
                self.holders[key].append(index)
                count = self.remaining[key]
                for d, need in enumerate(self.vectors[key]):
                    demand[d] += need * count
            self.demand[index] = demand

    def _suffix_rows(self, keys: list[int]) -> list[tuple[int, Vector, float, int, int]]:
        """Rows (key, vector, value, least CPU and least memory from this row on) for ``keys``."""
        rows: list[tuple[int, Vector, float, int, int]] = []
        low_cpu = low_memory = 1 << 62
        for key in reversed(keys):
            vector = self.vectors[key]
            low_cpu = min(low_cpu, vector[0])
            low_memory = min(low_memory, vector[1])
            rows.append((key, vector, self.values[key], low_cpu, low_memory))
        rows.reverse()
        return rows

    def _rows(self, index: int) -> list[tuple[int, Vector, float, int, int]]:
        """Option ``index``'s rows, without the groups that ran out once they are a quarter of them.

        Dropping a spent row changes no fill (it takes nothing), and the suffix minima recomputed
        over the rows left only stop a fill where every later row would take nothing anyway.
        """
        rows = self.per_option[index]
        if self.spent[index] * 4 > len(rows):
            remaining = self.remaining
            rows = self._suffix_rows([row[0] for row in rows if remaining[row[0]]])
            self.per_option[index] = rows
            self.spent[index] = 0
        return rows

    def fill(self, index: int) -> tuple[list[tuple[int, int]], float]:
        """One node of option ``index`` filled from the remaining pods, and the value it holds."""
        return self._fill_base(index) if self.base_only else self._fill_any(index)

    def slice_fill(self, index: int) -> tuple[list[tuple[int, int]], float]:
        """One node holding a proportional slice of every remaining group, topped up largest first.

        Nodes cut as slices of the remaining mix use every dimension about as the whole mix does,
        which is what a fractional (LP) packing does; the largest-first fill instead leaves
        lopsided nodes for last.
        """
        return self._slice_fill_base(index) if self.base_only else self._slice_fill_any(index)

    def _fill_base(self, index: int) -> tuple[list[tuple[int, int]], float]:
        """:meth:`fill` on four integers (every pod asks only for the base resources)."""
        capacity = self.options[index].capacity
        cpu, memory, gpus, slots = capacity if len(capacity) == 4 else capacity[:4]
        contents: list[tuple[int, int]] = []
        value = 0.0
        remaining = self.remaining
        caps = self.caps
        # The hot loop of the planner: comparisons rather than calls to ``min``.
        for key, vector, pod_value, low_cpu, low_memory in self._rows(index):
            if cpu < low_cpu or memory < low_memory:
                break
            left = remaining[key]
            if not left:
                continue
            need_cpu, need_memory, need_gpus, _ = vector
            take = left if left < slots else slots
            if caps and key in caps and caps[key] < take:
                take = caps[key]
            if need_cpu and cpu // need_cpu < take:
                take = cpu // need_cpu
            if need_memory and memory // need_memory < take:
                take = memory // need_memory
            if need_gpus and gpus // need_gpus < take:
                take = gpus // need_gpus
            if take > 0:
                contents.append((key, take))
                value += take * pod_value
                cpu -= need_cpu * take
                memory -= need_memory * take
                gpus -= need_gpus * take
                slots -= take
                if not slots:
                    break
        return contents, value

    def _fill_any(self, index: int) -> tuple[list[tuple[int, int]], float]:
        """:meth:`fill` on the whole resource vector (extended resources included)."""
        capacity = self.options[index].capacity
        cpu, memory, gpus, slots = capacity[:4]
        # Extended resources (EFA, MIG, Neuron) left on the node, past the limit-only pods index.
        extended = list(capacity[4:])
        contents: list[tuple[int, int]] = []
        value = 0.0
        remaining = self.remaining
        caps = self.caps
        for key, vector, pod_value, low_cpu, low_memory in self._rows(index):
            if cpu < low_cpu or memory < low_memory:
                break
            left = remaining[key]
            if not left:
                continue
            take = self._most(vector, min(left, slots), cpu=cpu, memory=memory, gpus=gpus, extended=extended)
            if caps and key in caps and caps[key] < take:
                take = caps[key]
            if take > 0:
                contents.append((key, take))
                value += take * pod_value
                cpu -= vector[0] * take
                memory -= vector[1] * take
                gpus -= vector[2] * take
                slots -= take
                for d in range(4, len(vector)):
                    if vector[d]:
                        extended[d - 4] -= vector[d] * take
                if not slots:
                    break
        return contents, value

    @staticmethod
    def _most(vector: Vector, take: int, *, cpu: int, memory: int, gpus: int, extended: list[int]) -> int:
        """``take`` lowered to how many pods of ``vector`` the room left holds."""
        if vector[0] and cpu // vector[0] < take:
            take = cpu // vector[0]
        if vector[1] and memory // vector[1] < take:
            take = memory // vector[1]
        if vector[2] and gpus // vector[2] < take:
            take = gpus // vector[2]
        for d in range(4, len(vector)):
            # A node without the device (a shorter capacity) holds none of the pods asking for it.
            room = extended[d - 4] if d - 4 < len(extended) else 0
            if vector[d] and room // vector[d] < take:
                take = room // vector[d]
        return take

    def _slice_fraction(self, index: int) -> float:
        """The share of the remaining demand of option ``index``'s rows that one node holds."""
        capacity = self.options[index].capacity
        demand = self.demand[index]
        # Every dimension the rows ask for; a row fits the option, so its capacity is there too.
        return min(capacity[d] / need if need else 1.0 for d, need in enumerate(demand) if d < len(capacity))

    def _slice_fill_base(self, index: int) -> tuple[list[tuple[int, int]], float]:
        """:meth:`slice_fill` on four integers (every pod asks only for the base resources)."""
        capacity = self.options[index].capacity
        cap_cpu, cap_memory, cap_gpus, cap_slots = capacity if len(capacity) == 4 else capacity[:4]
        rows = self._rows(index)
        remaining = self.remaining
        caps = self.caps
        demand_cpu, demand_memory, demand_gpus, demand_slots = self.demand[index]
        # The same divisions and ``min`` as :meth:`_slice_fraction`, unrolled.
        fraction = min(
            cap_cpu / demand_cpu if demand_cpu else 1.0,
            cap_memory / demand_memory if demand_memory else 1.0,
            cap_gpus / demand_gpus if demand_gpus else 1.0,
            cap_slots / demand_slots if demand_slots else 1.0,
        )
        if fraction >= 1.0:
            return self._fill_base(index)
        cpu, memory, gpus, slots = cap_cpu, cap_memory, cap_gpus, cap_slots
        taken: dict[int, int] = {}
        value = 0.0
        # First the slice: each group's share of the node (a group appears once per option, so
        # nothing is taken yet); comparisons rather than calls to ``min`` (the planner's hot loop).
        for key, vector, pod_value, low_cpu, low_memory in rows:
            if cpu < low_cpu or memory < low_memory:
                break  # every later row needs more CPU or memory than is left: none takes a pod
            take = int(remaining[key] * fraction)
            if take <= 0:
                continue
            take = min(take, slots)
            if caps and key in caps and caps[key] < take:
                take = caps[key]
            need_cpu, need_memory, need_gpus, _ = vector
            if need_cpu and cpu // need_cpu < take:
                take = cpu // need_cpu
            if need_memory and memory // need_memory < take:
                take = memory // need_memory
            if need_gpus and gpus // need_gpus < take:
                take = gpus // need_gpus
            if take > 0:
                taken[key] = take
                value += take * pod_value
                cpu -= need_cpu * take
                memory -= need_memory * take
                gpus -= need_gpus * take
                slots -= take
                if not slots:
                    return list(taken.items()), value
        # Then topped up largest first with what the slice left.
        for key, vector, pod_value, low_cpu, low_memory in rows:
            if cpu < low_cpu or memory < low_memory:
                break
            already = taken.get(key, 0)
            left = remaining[key] - already
            if not left:
                continue
            take = left if left < slots else slots
            if caps and key in caps and caps[key] - already < take:
                take = caps[key] - already
            need_cpu, need_memory, need_gpus, _ = vector
            if need_cpu and cpu // need_cpu < take:
                take = cpu // need_cpu
            if need_memory and memory // need_memory < take:
                take = memory // need_memory
            if need_gpus and gpus // need_gpus < take:
                take = gpus // need_gpus
            if take > 0:
                taken[key] = already + take
                value += take * pod_value
                cpu -= need_cpu * take
                memory -= need_memory * take
                gpus -= need_gpus * take
                slots -= take
                if not slots:
                    break
        return list(taken.items()), value

    def _slice_fill_any(self, index: int) -> tuple[list[tuple[int, int]], float]:
        """:meth:`slice_fill` on the whole resource vector (extended resources included)."""
        fraction = self._slice_fraction(index)
        if fraction >= 1.0:
            return self._fill_any(index)
        capacity = self.options[index].capacity
        rows = self._rows(index)
        remaining = self.remaining
        caps = self.caps
        cpu, memory, gpus, slots = capacity[:4]
        extended = list(capacity[4:])
        taken: dict[int, int] = {}
        value = 0.0
        # First the slice (each group's share of the node), then topped up largest first; a row
        # past which every later one needs more CPU or memory than is left ends either pass.
        for share in (True, False):
            for key, vector, pod_value, low_cpu, low_memory in rows:
                if cpu < low_cpu or memory < low_memory:
                    break
                already = taken.get(key, 0)
                left = remaining[key] - already
                if not left:
                    continue
                take = int(left * fraction) if share else left
                if take <= 0:
                    continue
                take = self._most(
                    vector, min(take, slots), cpu=cpu, memory=memory, gpus=gpus, extended=extended
                )
                if caps and key in caps and caps[key] - already < take:
                    take = caps[key] - already
                if take > 0:
                    taken[key] = already + take
                    value += take * pod_value
                    cpu -= vector[0] * take
                    memory -= vector[1] * take
                    gpus -= vector[2] * take
                    slots -= take
                    for d in range(4, len(vector)):
                        if vector[d]:
                            extended[d - 4] -= vector[d] * take
                    if not slots:
                        return list(taken.items()), value
        return list(taken.items()), value

    def _score(self, index: int) -> tuple[float, float, list[tuple[int, int]]] | None:
        option = self.options[index]
        if self.available[index] == 0 or limit_room(self.limits, option.limit_usage) == 0:
            return None
        if self.fills == "slice":
            contents, value = self.slice_fill(index)
        else:
            contents, value = self.fill(index)
            if self.fills == "both":
                sliced, sliced_value = self.slice_fill(index)
                if sliced_value > value:
                    contents, value = sliced, sliced_value
        if not contents:
            return None
        # Free (already paid-for) nodes come first; then value per unit of price.
        return (float("inf") if option.cost == 0 else value / option.cost), value, contents

    def best_choices(self, width: int) -> list[tuple[int, list[tuple[int, int]]]]:
        """The ``width`` best next nodes, freshly evaluated (for look-ahead)."""
        scored = []
        for index in self.candidates:
            score = self._score(index)
            if score is not None:
                scored.append((score[0], score[1], -index, score[2]))
        scored.sort(key=lambda s: (s[0], s[1], s[2]), reverse=True)
        return [(-s[2], s[3]) for s in scored[:width]]

    def apply(self, index: int, contents: list[tuple[int, int]], packing: Packing) -> None:
        """Add as many nodes of ``contents`` on option ``index`` as the pods, group and limits allow."""
        option = self.options[index]
        repeat = min(self.remaining[key] // count for key, count in contents)
        available = self.available[index]
        if available is not None:
            repeat = min(repeat, available)
            self.available[index] = available - repeat
        room = limit_room(self.limits, option.limit_usage)
        if room is not None:
            repeat = min(repeat, room)
        self.limits = consume(self.limits, option.limit_usage, repeat)
        for key, count in contents:
            taken = count * repeat
            self.remaining[key] -= taken
            vector = self.vectors[key]
            spent = not self.remaining[key]
            for holder in self.holders[key]:
                if spent:
                    self.spent[holder] += 1
                demand = self.demand[holder]
                demand[0] -= vector[0] * taken
                demand[1] -= vector[1] * taken
                demand[2] -= vector[2] * taken
                demand[3] -= vector[3] * taken
                for d in range(4, len(vector)):
                    demand[d] -= vector[d] * taken
        packing.batches.append(Batch(option=index, count=repeat, contents=tuple(contents)))

    def run(self, packing: Packing | None = None) -> Packing:
        """Complete ``packing`` (or a new one) greedily."""
        packing = packing if packing is not None else Packing()
        stale: list[tuple[float, float, int]] = []
        for index in self.candidates:
            score = self._score(index)
            if score is not None:
                heapq.heappush(stale, (-score[0], -score[1], index))
        while stale:
            _, _, index = heapq.heappop(stale)
            score = self._score(index)
            if score is None:
                continue
            if stale and (-score[0], -score[1], index) > stale[0]:
                heapq.heappush(stale, (-score[0], -score[1], index))
                continue
            self.apply(index, score[2], packing)
            again = self._score(index)
            if again is not None:
                heapq.heappush(stale, (-again[0], -again[1], index))
        return packing

    def copy(self) -> Greedy:
        """An independent copy of the current state (for trying a choice)."""
        twin = copy.copy(self)
        twin.remaining = dict(self.remaining)
        twin.available = dict(self.available)
        # Compaction replaces an option's rows by the ones its own state still needs.
        twin.per_option = dict(self.per_option)
        twin.spent = dict(self.spent)
        twin.demand = {index: list(demand) for index, demand in self.demand.items()}
        return twin


def explain_leftover(
    item: Item, count: int, options: list[Option], limits: Limits
) -> tuple[int, Shortfall, str]:
    """Why ``count`` pods of ``item`` get no new node: nothing fits, nothing is available, or limits."""
    fitting = [options[i] for i in bits(item.mask) if fits(item.vector, options[i].capacity)]
    if not fitting:
        allowed = [options[i].capacity for i in bits(item.mask)]
        short = short_of(item.vector, largest(allowed)) if allowed else ()
        # A device no allowed type has at all (EFA, a MIG profile, Neuron) is named: it is not
        # as plain as a pod larger than every node.
        missing = [name for name in short if name not in ("cpu", "memory", "pods")]
        detail = f"no allowed instance type offers enough {', '.join(missing)}" if missing else ""
        return count, Shortfall.NO_FIT, detail
    if all(o.available == 0 for o in fitting):
        return count, Shortfall.UNAVAILABLE, ""
    blocked = [_limit_blocker(limits, o.limit_usage) for o in fitting]
    detail = min((b for b in blocked if b), default="")
    return count, Shortfall.LIMIT, detail


def right_size(packing: Packing, items: list[Item], options: list[Option], limits: Limits) -> Packing:
    """Move nodes to the cheapest option that still holds their pods, within availability and limits.

    Every node first keeps its option; a move only uses what no other node has reserved, so the
    result is always feasible and never dearer.
    """
    vectors = {item.key: item.vector for item in items}
    masks = {item.key: item.mask for item in items}
    available = {o.index: o.available for o in options}
    remaining_limits = limits
    for batch in packing.batches:
        if available[batch.option] is not None:
            available[batch.option] = (available[batch.option] or 0) - batch.count
        remaining_limits = consume(remaining_limits, options[batch.option].limit_usage, batch.count)
    every = (1 << len(options)) - 1
    merged: dict[tuple[int, tuple[tuple[int, int], ...]], int] = {}
    for batch in sorted(packing.batches, key=lambda b: (-options[b.option].cost, b.option)):
        current = options[batch.option]
        need = content_vector(batch.contents, vectors)
        mask = every
        for key, _ in batch.contents:
            mask &= masks[key]
        cheaper = sorted(
            (o for o in (options[i] for i in bits(mask)) if o.cost < current.cost and fits(need, o.capacity)),
            key=lambda o: (o.cost, o.index),
        )
        left = batch.count
        for option in cheaper:
            if not left:
                break
            take = left
            if available[option.index] is not None:
                take = min(take, available[option.index] or 0)
            new, old = option.limit_usage, current.limit_usage
            delta = sub(new, old)
            for cap, grow in zip(remaining_limits, delta, strict=False):
                if cap is not None and grow > 0:
                    take = min(take, max(cap, 0) // grow)
            if take <= 0:
                continue
            if available[option.index] is not None:
                available[option.index] = (available[option.index] or 0) - take
            if current.available is not None:
                available[current.index] = (available[current.index] or 0) + take
            remaining_limits = consume(remaining_limits, delta, take)
            merged[(option.index, batch.contents)] = merged.get((option.index, batch.contents), 0) + take
            left -= take
        if left:
            merged[(batch.option, batch.contents)] = merged.get((batch.option, batch.contents), 0) + left
    result = Packing(leftover=dict(packing.leftover), exact=packing.exact, tied_with=packing.tied_with)
    result.batches = [Batch(option=o, count=c, contents=contents) for (o, contents), c in merged.items()]
    return result


def explain_leftovers(packing: Packing, greedy: Greedy, items: list[Item], options: list[Option]) -> Packing:
    """Record why the pods the greedy could not place are left over."""
    for item in items:
        left = greedy.remaining[item.key]
        if left:
            packing.leftover[item.key] = explain_leftover(item, left, options, greedy.limits)
    return packing


def greedy_pack(
    items: list[Item], options: list[Option], limits: Limits, fills: str = "both", *, generic: bool = False
) -> Packing:
    """Pack with the pattern greedy, then explain what is left over.

    ``fills`` chooses how a node is filled: ``largest`` first, a proportional ``slice`` of what
    remains, or ``both`` (the one holding more value). ``generic``: see :class:`Greedy`.
    """
    greedy = Greedy(items, options, limits, fills, generic=generic)
    return explain_leftovers(greedy.run(), greedy, items, options)
