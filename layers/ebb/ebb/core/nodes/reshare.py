"""Re-sharing constrained groups over their cells once the plan is packed (a bounded local search).

The planner shares a zone-spread group's pods over the zones pod by pod, each into the cheapest
zone its rules allow *for that group*, before any packing: the share cannot see the room that
other groups' nodes leave in a zone. Two pods of a GPU model shared 3/2/2 over three zones may
open two one-GPU nodes in the third zone where 3/3/1 fits the third pod beside the others on a
big node that a zone already needs.

This module searches over the shares once the plan is known: it moves one pod of one group from
one cell to another, asks the planner for the whole plan with the shares so steered, and keeps
the move when the plan is cheaper (or as cheap on fewer nodes) and leaves no more pods pending;
it repeats from the better plan until no move helps or the trials run out. The planner steers an
allocation without forcing it (:func:`ebb.core.nodes.domains.allocate`): every pod still passes
the rules' filter, so a move the rules forbid is not made, and the plan compared is the plan
returned. The search is deterministic (groups, cells and moves in a fixed order) and pure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from ebb.core.nodes.domains import Cell
from ebb.core.nodes.packing import better

Shares = dict[str, dict[Cell, int]]
"""Per constrained group, its pending pods per cell."""

Plan = TypeVar("Plan")


@dataclass(frozen=True, slots=True)
class Outcome(Generic[Plan]):
    """A whole plan made with some shares, as the search compares plans."""

    cost: float
    """Price per hour of its new nodes."""
    nodes: int
    """How many new nodes it launches."""
    pending: int
    """Pods it leaves pending."""
    shares: Shares
    """The shares it was made with (what the allocation gave, steered or not)."""
    plan: Plan


def improves(trial: Outcome[Plan], than: Outcome[Plan]) -> bool:
    """Whether ``trial`` leaves no more pods pending and is cheaper, or as cheap on fewer nodes."""
    return trial.pending <= than.pending and better(trial.cost, trial.nodes, than.cost, than.nodes)


def moves(shares: Shares, cells: Mapping[str, tuple[Cell, ...]]) -> Iterator[Shares]:
    """Every share with one group's pods moved between two of its cells: one pod, or swapped.

    Moving one pod evens or tilts a share; swapping two cells' shares (all of one cell's pods
    into an empty one among them) puts a group's larger share where another group's nodes are,
    which one-pod moves reach only through plans that cost as much. Groups in name order, then
    the cells in cell order; the one-pod moves of a group before its swaps.
    """
    for name in sorted(shares):
        own = shares[name]
        group_cells = cells.get(name, ())
        for source in group_cells:
            if not own.get(source):
                continue
            for target in group_cells:
                if target != source:
                    yield {**shares, name: _moved(own, {source: -1, target: 1})}
        for first, source in enumerate(group_cells):
            for target in group_cells[first + 1 :]:
                here, there = own.get(source, 0), own.get(target, 0)
                if here != there and (here, there) not in ((0, 1), (1, 0)):  # (0, 1): a one-pod move
                    yield {**shares, name: _moved(own, {source: there - here, target: here - there})}


def _moved(own: dict[Cell, int], changes: Mapping[Cell, int]) -> dict[Cell, int]:
    moved = dict(own)
    for cell, change in changes.items():
        moved[cell] = moved.get(cell, 0) + change
        if not moved[cell]:
            del moved[cell]
    return moved


def _frozen(shares: Shares) -> frozenset[tuple[str, frozenset[tuple[Cell, int]]]]:
    return frozenset((name, frozenset(own.items())) for name, own in shares.items())


def reshare(
    start: Outcome[Plan],
    cells: Mapping[str, tuple[Cell, ...]],
    *,
    allows: Callable[[Shares], bool],
    attempt: Callable[[Shares], Outcome[Plan] | None],
    afford: Callable[[], bool],
    trials: int,
) -> Outcome[Plan]:
    """The best plan found from ``start`` by moving one pod at a time, within ``trials`` plans.

    ``allows`` says whether the rules let the shares be made as asked (cheap: the allocation
    alone); a move they do not allow is passed over without a plan. ``attempt`` makes the whole
    plan with the shares steered as given (``None``: it cannot, for instance because a cell fell
    short of its share). The first move that improves is taken and the search starts again from
    it. It stops after ``trials`` plans, or once ``afford`` says the plans made cost enough.
    Never worse than ``start``: only improvements are kept.
    """
    best = start
    seen = {_frozen(start.shares)}
    improved = True
    while improved:
        improved = False
        for shares in moves(best.shares, cells):
            if trials <= 0 or not afford():
                return best
            key = _frozen(shares)
            if key in seen:
                continue
            seen.add(key)
            if not allows(shares):
                continue
            trials -= 1
            outcome = attempt(shares)
            if outcome is not None and improves(outcome, best):
                best = outcome
                improved = True
                break
    return best
