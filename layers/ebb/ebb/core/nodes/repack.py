"""Improving a packing by re-packing a few nodes at a time exactly (large-neighbourhood search).

Greedy constructions go wrong in ways a local view can fix:

* a big node holding pods that several small nodes hold for less (four 1-GPU pods on a 4-GPU
  node): :func:`split_batches` re-packs one node of each batch on its own and, when cheaper,
  applies the split to every node of the batch;
* three half-empty nodes whose pods fit one cheaper node, or two nodes whose pods, swapped
  around, fit into fewer: :func:`improve` takes the most wasteful nodes (price minus the value of
  what they hold) and re-packs every pair and triple of them.

Each re-pack is the exact search with the other nodes' use of group maxima and pool limits held
back; a cheaper result replaces the nodes. Both stop when nothing improves or the shared budget
of search steps is spent.
"""

from __future__ import annotations

from itertools import combinations

from ebb.core.nodes.exact import WorkBudget, exact_pack, state_count
from ebb.core.nodes.packing import (
    Batch,
    Item,
    Limits,
    Option,
    Packing,
    better,
    consume,
    pod_values,
    same_cost,
)

# How many of the most wasteful nodes are combined, and how many exact re-packs one call may run.
CANDIDATE_NODES = 8
MAX_REPACKS = 150
MAX_SPLITS = 80


def _nodes(packing: Packing) -> list[Batch]:
    """One batch per node (a batch of ``count`` identical nodes becomes ``count`` batches)."""
    return [
        Batch(option=b.option, count=1, contents=b.contents) for b in packing.batches for _ in range(b.count)
    ]


def _merge(nodes: list[Batch], original: Packing, tied_with: int | None) -> Packing:
    merged: dict[tuple[int, tuple[tuple[int, int], ...]], int] = {}
    for node in nodes:
        key = (node.option, tuple(sorted(node.contents)))
        merged[key] = merged.get(key, 0) + 1
    packing = Packing(leftover=dict(original.leftover), exact=original.exact, tied_with=tied_with)
    packing.batches = [Batch(option=o, count=c, contents=contents) for (o, contents), c in merged.items()]
    return packing


def split_batches(
    packing: Packing,
    items: list[Item],
    *,
    options: list[Option],
    limits: Limits,
    exact_states: int,
    budget: WorkBudget,
) -> Packing:
    """Re-pack one node of each large batch on its own; a cheaper split applies to the whole batch.

    The greedy sometimes fills a big node with pods that several small nodes hold for less (four
    1-GPU pods on a 4-GPU node instead of four 1-GPU nodes); an exact re-pack of one such node finds
    that. Batches are taken by what they cost in total, dearest first, within a work budget.
    """
    by_key = {item.key: item for item in items}
    batches = list(packing.batches)
    order = sorted(range(len(batches)), key=lambda i: -options[batches[i].option].cost * batches[i].count)
    replaced: dict[int, list[Batch]] = {}
    tried = 0
    for position in order:
        if tried >= MAX_SPLITS:
            break
        batch = batches[position]
        if len(batch.contents) == 1 and batch.contents[0][1] == 1:
            continue
        sub_items = [
            Item(key=key, count=count, vector=by_key[key].vector, mask=by_key[key].mask, cap=by_key[key].cap)
            for key, count in batch.contents
        ]
        if state_count(sub_items) > exact_states:
            continue
        others = [b for i, b in enumerate(batches) if i != position and i not in replaced]
        others += [b for split in replaced.values() for b in split]
        sub_options, sub_limits = _reserve(options, limits, others)
        # The split must fit ``count`` times over: share out what the others leave.
        shared = [
            Option(
                index=o.index,
                capacity=o.capacity,
                cost=o.cost,
                available=None if o.available is None else o.available // batch.count,
                limit_usage=o.limit_usage,
            )
            for o in sub_options
        ]
        shared_limits: Limits = tuple(None if cap is None else cap // batch.count for cap in sub_limits)
        tried += 1
        again = exact_pack(sub_items, shared, shared_limits, exact_states, budget)
        if budget.left <= 0:
            break
        if again is None or again.cost(options) >= options[batch.option].cost - 1e-9:
            continue
        replaced[position] = [
            Batch(option=b.option, count=b.count * batch.count, contents=b.contents) for b in again.batches
        ]
    result = Packing(leftover=dict(packing.leftover), exact=packing.exact, tied_with=packing.tied_with)
    result.batches = [b for i, b in enumerate(batches) if i not in replaced]
    result.batches += [b for split in replaced.values() for b in split]
    return result


def improve(
    packing: Packing,
    items: list[Item],
    *,
    options: list[Option],
    limits: Limits,
    exact_states: int,
    budget: WorkBudget,
) -> Packing:
    """A packing at most as expensive as ``packing``, often cheaper, within ``budget`` search steps."""
    if exact_states <= 0:
        return packing
    packing = split_batches(
        packing, items, options=options, limits=limits, exact_states=exact_states, budget=budget
    )
    by_key = {item.key: item for item in items}
    values = pod_values(items, options)  # masks arrive narrowed to undominated options
    nodes = _nodes(packing)
    tied_with = packing.tied_with
    repacks = 0
    improved = True
    while improved and repacks < MAX_REPACKS and budget.left > 0:
        improved = False

        def waste(node: Batch) -> float:
            return options[node.option].cost - sum(values[key] * count for key, count in node.contents)

        worst = sorted(range(len(nodes)), key=lambda i: -waste(nodes[i]))[:CANDIDATE_NODES]
        for size in (2, 3):
            for chosen in combinations(worst, size):
                if repacks >= MAX_REPACKS:
                    break
                subset = [nodes[i] for i in chosen]
                counts: dict[int, int] = {}
                for node in subset:
                    for key, count in node.contents:
                        counts[key] = counts.get(key, 0) + count
                sub_items = [
                    Item(
                        key=key,
                        count=count,
                        vector=by_key[key].vector,
                        mask=by_key[key].mask,
                        cap=by_key[key].cap,
                    )
                    for key, count in counts.items()
                ]
                if state_count(sub_items) > exact_states:
                    continue
                others = [node for i, node in enumerate(nodes) if i not in chosen]
                sub_options, sub_limits = _reserve(options, limits, others)
                repacks += 1
                again = exact_pack(sub_items, sub_options, sub_limits, exact_states, budget)
                if budget.left <= 0:
                    return _merge(nodes, packing, tied_with)
                before = sum(options[node.option].cost for node in subset)
                if again is None or not better(again.cost(options), again.nodes, before, len(subset)):
                    continue
                if same_cost(again.cost(options), before):
                    tied_with = max(tied_with or 0, len(nodes))
                nodes = others + _nodes(again)
                improved = True
                break
            if improved or repacks >= MAX_REPACKS:
                break
    result = _merge(nodes, packing, None)
    if tied_with is not None:
        result.note_tie(tied_with)
    return result


def _reserve(options: list[Option], limits: Limits, kept: list[Batch]) -> tuple[list[Option], Limits]:
    """Options and limits with what ``kept`` nodes use already taken."""
    used: dict[int, int] = {}
    remaining = limits
    for node in kept:
        used[node.option] = used.get(node.option, 0) + node.count
        remaining = consume(remaining, options[node.option].limit_usage, node.count)
    reserved = [
        Option(
            index=o.index,
            capacity=o.capacity,
            cost=o.cost,
            available=None if o.available is None else max(o.available - used.get(o.index, 0), 0),
            limit_usage=o.limit_usage,
        )
        for o in options
    ]
    return reserved, remaining
