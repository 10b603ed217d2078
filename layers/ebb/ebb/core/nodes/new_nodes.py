"""Choosing the new nodes: exact search when small, otherwise the cheapest of several packings.

1. Pods no usable option can hold are set aside with the reason; options another option beats
   outright are dropped.
2. Problems with few enough pod-count combinations are solved exactly (:mod:`.exact`).
3. Otherwise several constructions run, each then moved to the cheapest options that hold its
   nodes (``right_size``) and with its last one-off nodes re-packed:

   * the pattern greedy (always; it scales to tens of thousands of pods), and below ten thousand
     pods a second run that fills every node with a proportional slice of what remains;
   * the greedy with look-ahead (mid-sized problems): before each node it tries the best few next
     nodes, completes each plan greedily and keeps the choice whose plan is cheapest;
   * first-fit with narrowing instance-type sets (Karpenter's construction) in four pod orders,
     and plain first-fit (when affordable), so the plan is never dearer than either.

4. The cheapest is improved by exact re-packs of single batches and of small sets of its most
   wasteful nodes (:mod:`.repack`), within a shared budget of search steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ebb.core.nodes.exact import DEFAULT_WORK, WorkBudget, WorkTally, exact_pack
from ebb.core.nodes.first_fit import first_fit_pack
from ebb.core.nodes.packing import (
    Batch,
    Greedy,
    Item,
    Limits,
    Option,
    Packing,
    better,
    bits,
    consume,
    dominated,
    explain_leftover,
    explain_leftovers,
    greedy_pack,
    limit_room,
    right_size,
    same_cost,
)
from ebb.core.nodes.quantities import fits, largest
from ebb.core.nodes.repack import improve

# Work bounds (pure Python): look-ahead below this many pods, first-fit below this many pod x option pairs.
LOOKAHEAD_MAX_PODS = 400
SECOND_GREEDY_MAX_PODS = 10_000
LOOKAHEAD_WIDTH = 6
FIRST_FIT_MAX_WORK = 2_000_000
# Search steps (exact re-packs of tails, batches and node subsets) all refinements share per pool.
IMPROVEMENT_WORK = 600_000


def _unplaced(packing: Packing) -> int:
    return sum(count for count, _, _ in packing.leftover.values())


@dataclass(frozen=True, slots=True)
class Effort:
    """How many search steps one packing may take: the exact search, then the refinements."""

    exact_work: int = DEFAULT_WORK
    improvement_work: int = IMPROVEMENT_WORK


FULL_EFFORT: Final = Effort()
"""What a plan's packings may search."""


def pack(
    items: list[Item],
    options: list[Option],
    limits: Limits,
    exact_states: int,
    *,
    tally: WorkTally | None = None,
    effort: Effort = FULL_EFFORT,
) -> Packing:
    """The cheapest packing found of ``items`` on new nodes of ``options``.

    ``tally`` adds up the search steps taken (the exact search and the refinements).
    """
    items, hopeless = _placeable(items, options, limits)
    if not items:
        return hopeless
    search = WorkBudget(effort.exact_work)
    exact = exact_pack(items, options, limits, exact_states, search)
    if tally is not None:
        tally.add(search)
    if exact is not None:
        exact.leftover.update(hopeless.leftover)
        return exact
    candidates = [greedy_pack(items, options, limits)]
    pods = sum(item.count for item in items)
    if pods <= SECOND_GREEDY_MAX_PODS:
        candidates.append(greedy_pack(items, options, limits, fills="slice"))
    if pods <= LOOKAHEAD_MAX_PODS:
        candidates.append(lookahead_pack(items, options, limits, LOOKAHEAD_WIDTH))
    if pods * len(options) <= FIRST_FIT_MAX_WORK:
        orders = first_fit_orders(items, options)
        for order in orders:
            first_fit = first_fit_pack(order, options, limits)
            if first_fit is not None:
                candidates.append(first_fit)
        plain = first_fit_pack(orders[0], options, limits, narrowing=False)
        if plain is not None:
            candidates.append(plain)
    budget = WorkBudget(effort.improvement_work)
    refined = [
        _repack_tail(
            right_size(c, items, options, limits),
            items,
            options=options,
            limits=limits,
            exact_states=exact_states,
            budget=budget,
        )
        for c in candidates
    ]
    best = _cheapest(refined, options)
    result = improve(best, items, options=options, limits=limits, exact_states=exact_states, budget=budget)
    if tally is not None:
        tally.add(budget)
    result.leftover.update(hopeless.leftover)
    return result


def _cheapest(packings: list[Packing], options: list[Option]) -> Packing:
    """The packing that places the most pods, then costs least, then launches fewest nodes.

    Equally cheap packings with more nodes are recorded on the winner (the plan says a tie-break
    decided).
    """
    best = packings[0]
    for packing in packings[1:]:
        if _unplaced(packing) < _unplaced(best) or (
            _unplaced(packing) == _unplaced(best)
            and better(packing.cost(options), packing.nodes, best.cost(options), best.nodes)
        ):
            best = packing
    for packing in packings:
        if _unplaced(packing) == _unplaced(best) and same_cost(packing.cost(options), best.cost(options)):
            best.note_tie(packing.tied_with or packing.nodes)
    return best


def _placeable(items: list[Item], options: list[Option], limits: Limits) -> tuple[list[Item], Packing]:
    """The pods some usable option could hold (masks narrowed to those), and the rest explained.

    An option is unusable when its group is at its maximum, its offerings lack capacity, or one
    more node would break a pool limit. Setting hopeless pods aside first keeps them from spoiling
    the constructions that must place everything (exact search, first-fit).
    """
    usable = 0
    for option in options:
        if option.available != 0 and limit_room(limits, option.limit_usage) != 0:
            usable |= 1 << option.index
    kept: list[Item] = []
    hopeless = Packing()
    for item in items:
        if not item.count:
            continue
        mask = item.mask & usable
        if any(fits(item.vector, options[i].capacity) for i in bits(mask)):
            kept.append(Item(key=item.key, count=item.count, vector=item.vector, mask=mask, cap=item.cap))
        else:
            hopeless.leftover[item.key] = explain_leftover(item, item.count, options, limits)
    # Options another beats outright never help (see ``dominated``): drop them once for every search.
    beaten = sum(1 << i for i in dominated(options, kept, limits))
    kept = [Item(key=i.key, count=i.count, vector=i.vector, mask=i.mask & ~beaten, cap=i.cap) for i in kept]
    return kept, hopeless


def first_fit_orders(items: list[Item], options: list[Option]) -> list[list[Item]]:
    """Karpenter's order (as given: CPU, then memory, descending) and three other decreasing orders.

    Decreasing orders by memory, by the largest and by the sum of the shares of the pool's largest
    node each find packings the others miss when one dimension is tight.
    """
    # Every dimension counts, extended resources (EFA, MIG, Neuron) included.
    envelope = [size or 1 for size in largest(o.capacity for o in options)] if options else [1, 1, 1, 1]

    def shares(item: Item) -> list[float]:
        return [need / (envelope[d] if d < len(envelope) else 1) for d, need in enumerate(item.vector)]

    return [
        items,
        sorted(items, key=lambda i: (-i.vector[1], -i.vector[0], i.key)),
        sorted(items, key=lambda i: (-max(shares(i)), i.key)),
        sorted(items, key=lambda i: (-sum(shares(i)), i.key)),
    ]


def lookahead_pack(items: list[Item], options: list[Option], limits: Limits, width: int) -> Packing:
    """The pattern greedy that picks each next node by completing the plan for its best few choices."""
    greedy = Greedy(items, options, limits)
    packing = Packing()
    while True:
        choices = greedy.best_choices(width)
        if not choices:
            break
        best: tuple[tuple[int, float], int, list[tuple[int, int]]] | None = None
        for index, contents in choices:
            trial = greedy.copy()
            trial_packing = Packing(batches=list(packing.batches))
            trial.apply(index, contents, trial_packing)
            trial.run(trial_packing)
            explain_leftovers(trial_packing, trial, items, options)
            sized = right_size(trial_packing, items, options, limits)
            score = (_unplaced(sized), sized.cost(options))
            if best is None or score < best[0]:
                best = (score, index, contents)
        assert best is not None
        greedy.apply(best[1], best[2], packing)
    return explain_leftovers(packing, greedy, items, options)


def _repack_tail(
    packing: Packing,
    items: list[Item],
    *,
    options: list[Option],
    limits: Limits,
    exact_states: int,
    budget: WorkBudget,
) -> Packing:
    """Re-pack the pods of the last one-off nodes (where greedy constructions lose most).

    Their pods are packed again on their own (exactly when few enough), with what the other nodes
    hold reserved, and the result is kept when cheaper.
    """
    singles = [batch for batch in packing.batches if batch.count == 1]
    if len(singles) < 2:
        return packing
    tail = singles[-min(len(singles), 12) :]
    counts: dict[int, int] = {}
    for batch in tail:
        for key, count in batch.contents:
            counts[key] = counts.get(key, 0) + count
    by_key = {item.key: item for item in items}
    tail_items = [
        Item(key=key, count=count, vector=by_key[key].vector, mask=by_key[key].mask, cap=by_key[key].cap)
        for key, count in counts.items()
    ]
    kept = [batch for batch in packing.batches if not any(batch is t for t in tail)]
    reserved_options = [
        Option(
            index=o.index,
            capacity=o.capacity,
            cost=o.cost,
            available=None
            if o.available is None
            else o.available - sum(b.count for b in kept if b.option == o.index),
            limit_usage=o.limit_usage,
        )
        for o in options
    ]
    reserved_limits: Limits = limits
    for batch in kept:
        usage = options[batch.option].limit_usage
        reserved_limits = consume(reserved_limits, usage, batch.count)
    again = exact_pack(tail_items, reserved_options, reserved_limits, exact_states, budget)
    if again is None:
        again = right_size(
            greedy_pack(tail_items, reserved_options, reserved_limits),
            tail_items,
            reserved_options,
            reserved_limits,
        )
    before = sum(options[b.option].cost * b.count for b in tail)
    tail_nodes = sum(b.count for b in tail)
    if again.leftover or not better(again.cost(options), again.nodes, before, tail_nodes):
        return packing
    result = Packing(leftover=dict(packing.leftover), tied_with=packing.tied_with)
    result.batches = [
        *kept,
        *(Batch(option=b.option, count=b.count, contents=b.contents) for b in again.batches),
    ]
    if same_cost(again.cost(options), before):
        result.note_tie(packing.nodes)
    return result
