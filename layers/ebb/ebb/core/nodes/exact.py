"""Exact packing of small problems: the cheapest set of new nodes, found by dynamic programming.

A *pattern* is what one node can hold: a number of pods of each group that fits one launch option
allowed for all of them; its cost is the cheapest such option. The cheapest packing of a multiset
of pods is the cheapest pattern holding at least one pod of its first group plus the cheapest
packing of the rest, which a memoised recursion evaluates. Of equally cheap packings the one with
fewer nodes wins (:func:`~ebb.core.nodes.packing.better`), and the most nodes a set-aside equally
cheap packing needed is kept, so that the plan can say a tie-break decided. States are count
vectors stored in one integer with a guard bit per field, so "pattern fits in state" and "state
minus pattern" are one subtraction each. Options another option beats outright are left out first
(an optimal packing never needs them).

It ignores group maxima and pool limits; :func:`exact_pack` returns ``None`` when its answer would
break one, when the problem has too many states, or when its work budget runs out (the search is
pure Python: a budget in steps, not a clock, bounds it), and the caller falls back to heuristics.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from ebb.core.nodes.packing import (
    COST_TOLERANCE,
    Batch,
    Item,
    Limits,
    Option,
    Packing,
    bits,
    dominated,
    within,
)
from ebb.core.nodes.quantities import Vector, add, fits, largest

DEFAULT_WORK = 3_000_000
"""Steps one search may take by default (a step is one pattern tried or one node of the enumeration)."""


class WorkBudget:
    """A number of search steps that several searches may share."""

    def __init__(self, steps: int) -> None:
        self.steps = steps
        self.left = steps

    def spend(self, steps: int) -> bool:
        """Take ``steps``; ``False`` once the budget is exhausted."""
        self.left -= steps
        return self.left >= 0

    @property
    def spent(self) -> int:
        """Steps taken so far (past the budget too: the step that exhausts it counts whole)."""
        return self.steps - self.left


class WorkTally:
    """Steps several searches took, added up (what a caller that repeats whole plans pays)."""

    def __init__(self) -> None:
        self.steps = 0

    def add(self, budget: WorkBudget) -> None:
        """Count what ``budget`` has been spent."""
        self.steps += budget.spent


@dataclass(slots=True)
class _Pattern:
    encoded: int
    counts: tuple[int, ...]
    cost: float
    option: int


class _OutOfWork(Exception):
    pass


def state_count(items: list[Item]) -> int:
    """How many count vectors the search may visit."""
    return math.prod(item.count + 1 for item in items)


class _Choices:
    """Per set of allowed options: the options cheapest first, and the largest room any offers."""

    def __init__(self, options: list[Option], allowed: int) -> None:
        self.options = options
        self.allowed = allowed
        self._by_mask: dict[int, tuple[list[tuple[float, int, Vector]], Vector]] = {}

    def get(self, mask: int) -> tuple[list[tuple[float, int, Vector]], Vector]:
        known = self._by_mask.get(mask)
        if known is None:
            ranked = sorted(
                (self.options[i].cost, i, self.options[i].capacity) for i in bits(mask & self.allowed)
            )
            envelope: Vector = largest(c for _, _, c in ranked) if ranked else (-1, -1, -1, -1)
            known = (ranked, envelope)
            self._by_mask[mask] = known
        return known


def _patterns(
    items: list[Item], choices: _Choices, shifts: list[int], budget: WorkBudget
) -> list[list[_Pattern]]:
    """Every pattern, grouped by the index of its first group."""
    by_first: list[list[_Pattern]] = [[] for _ in items]
    counts = [0] * len(items)

    def visit(position: int, used: Vector, mask: int, encoded: int, first: int) -> None:
        if not budget.spend(1):
            raise _OutOfWork
        if position == len(items):
            if first < 0:
                return
            for cost, index, capacity in choices.get(mask)[0]:
                if fits(used, capacity):
                    by_first[first].append(_Pattern(encoded, tuple(counts), cost, index))
                    return
            return
        item = items[position]
        visit(position + 1, used, mask, encoded, first)
        narrowed = mask & item.mask
        if not narrowed:
            return
        envelope = choices.get(narrowed)[1]
        need = item.vector
        current = used
        for take in range(1, (item.count if item.cap is None else min(item.count, item.cap)) + 1):
            current = add(current, need)
            if not fits(current, envelope):
                break
            counts[position] = take
            visit(
                position + 1,
                current,
                narrowed,
                encoded + (take << shifts[position]),
                position if first < 0 else first,
            )
        counts[position] = 0

    visit(0, (0, 0, 0, 0), -1, 0, -1)
    return by_first


# Below this many pods the memoised recursion (which visits only reachable states) stays well
# within Python's default recursion limit; above it the bottom-up sweep takes over.
RECURSION_PODS = 600


class _Best(NamedTuple):
    """The cheapest packing of one state: its cost, its nodes, the first node's pattern.

    ``most`` is the largest node count among the equally cheap packings the search met.
    """

    cost: float
    nodes: int
    most: int
    pattern: _Pattern | None


_NOTHING = _Best(0.0, 0, 0, None)
_IMPOSSIBLE = _Best(math.inf, 0, 0, None)

_Solution = dict[int, _Best]


def _choose(candidates: list[_Pattern], guarded: int, guard: int, rest_of: Callable[[int], _Best]) -> _Best:
    """The best of ``candidates`` for one state (``guarded``: the state with its guard bits set).

    The search's innermost loop: :func:`~ebb.core.nodes.packing.better` and
    :func:`~ebb.core.nodes.packing.same_cost` are written out here, comparison for comparison.
    """
    tolerance = COST_TOLERANCE
    cost = math.inf
    nodes = 0
    most = 0
    chosen: _Pattern | None = None
    for pattern in candidates:
        rest = guarded - pattern.encoded
        # The rest costs at least nothing: a pattern dearer than the best total cannot tie it.
        if rest & guard != guard or pattern.cost > cost + tolerance:
            continue
        after = rest_of(rest & ~guard)
        total = pattern.cost + after.cost
        count = after.nodes + 1
        deepest = after.most + 1
        if total < cost - tolerance or (total <= cost + tolerance and count < nodes):
            if abs(total - cost) <= tolerance:
                deepest = max(deepest, most)
            cost, nodes, most, chosen = total, count, deepest, pattern
        elif abs(total - cost) <= tolerance and deepest > most:
            most = deepest
    return _Best(cost, nodes, most, chosen)


@dataclass(frozen=True, slots=True)
class _Layout:
    items: list[Item]
    shifts: list[int]
    guard: int
    value_bits: int
    field_of_bit: dict[int, int]
    by_first: list[list[_Pattern]]

    def candidates(self, state: int) -> list[_Pattern]:
        """The patterns holding a pod of the state's first group."""
        low = state & self.value_bits
        return self.by_first[self.field_of_bit[(low & -low).bit_length() - 1]]


def _top_down(layout: _Layout, full: int, budget: WorkBudget) -> _Solution | None:
    """Memoised recursion from the full state: only states some packing reaches are solved."""
    best: _Solution = {0: _NOTHING}

    def solve(state: int) -> _Best:
        known = best.get(state)
        if known is not None:
            return known
        candidates = layout.candidates(state)
        if not budget.spend(len(candidates) + 1):
            raise _OutOfWork
        choice = _choose(candidates, state | layout.guard, layout.guard, solve)
        best[state] = choice
        return choice

    try:
        solve(full)
    except _OutOfWork:
        return None
    return best


def _bottom_up(layout: _Layout, full: int, budget: WorkBudget) -> _Solution | None:
    """Every count vector in increasing order of its encoding (remainders are always smaller)."""
    best: _Solution = {0: _NOTHING}
    items, shifts, guard = layout.items, layout.shifts, layout.guard
    counts = [0] * len(items)
    state = 0
    while state != full:
        position = 0
        while counts[position] == items[position].count:
            state -= counts[position] << shifts[position]
            counts[position] = 0
            position += 1
        counts[position] += 1
        state += 1 << shifts[position]
        candidates = layout.candidates(state)
        if not budget.spend(len(candidates) + 1):
            return None
        best[state] = _choose(candidates, state | guard, guard, best.__getitem__)
    return best


def exact_pack(
    items: list[Item],
    options: list[Option],
    limits: Limits,
    max_states: int,
    budget: WorkBudget | None = None,
) -> Packing | None:
    """The cheapest packing of ``items`` on new nodes, or ``None`` when not applicable."""
    items = [item for item in items if item.count]
    if not items or state_count(items) > max_states:
        return None
    budget = budget if budget is not None else WorkBudget(DEFAULT_WORK)
    beaten = dominated(options, items, limits)
    allowed = sum(1 << o.index for o in options if o.index not in beaten)
    shifts: list[int] = []
    guard = 0
    value_bits = 0
    position = 0
    field_of_bit: dict[int, int] = {}
    for index, item in enumerate(items):
        width = item.count.bit_length()
        shifts.append(position)
        for bit in range(position, position + width):
            field_of_bit[bit] = index
        value_bits |= ((1 << width) - 1) << position
        guard |= 1 << (position + width)
        position += width + 1
    try:
        by_first = _patterns(items, _Choices(options, allowed), shifts, budget)
    except _OutOfWork:
        return None
    full = sum(item.count << shift for item, shift in zip(items, shifts, strict=True))
    layout = _Layout(items, shifts, guard, value_bits, field_of_bit, by_first)
    solved = _top_down(layout, full, budget) if sum(i.count for i in items) <= RECURSION_PODS else None
    if solved is None:
        solved = _bottom_up(layout, full, budget)
    if solved is None or math.isinf(solved[full].cost):
        return None
    best = solved

    nodes: dict[tuple[int, tuple[tuple[int, int], ...]], int] = {}
    state = full
    while state:
        pattern = best[state].pattern
        assert pattern is not None
        contents = tuple((items[i].key, n) for i, n in enumerate(pattern.counts) if n)
        nodes[(pattern.option, contents)] = nodes.get((pattern.option, contents), 0) + 1
        state = ((state | guard) - pattern.encoded) & ~guard
    packing = Packing(exact=True)
    packing.batches = [Batch(option=o, count=c, contents=contents) for (o, contents), c in nodes.items()]
    if not within(packing, options, limits):
        return None
    packing.note_tie(best[full].most)
    return packing
