"""First-fit decreasing with narrowing instance-type sets: Karpenter's way of opening nodes.

Kept as one of the planner's candidate packings because it is sometimes the best, and because
taking the cheapest candidate then makes ebb's plan never dearer than this construction (nor than
plain first-fit, the variant that opens each node on the cheapest option holding its first pod). Pods
come in the planner's order (largest CPU, then memory, first); each goes onto the first open
node some still-allowed option of which holds it with what is already there (the node's options
narrow to those), else it opens a node with every option that fits it; at the end each node
takes the cheapest option left. Identical pods are placed together.
"""

from __future__ import annotations

from ebb.core.nodes.packing import Batch, Item, Limits, Option, Packing, bits, within
from ebb.core.nodes.quantities import Vector, add, fits, how_many_fit, largest, sub


def _envelope(options: list[Option], mask: int) -> Vector:
    return largest(options[i].capacity for i in bits(mask))


def first_fit_pack(
    items: list[Item], options: list[Option], limits: Limits, *, narrowing: bool = True
) -> Packing | None:
    """The first-fit packing, or ``None`` if some pod fits nowhere or it breaks a bound.

    With ``narrowing`` (Karpenter's way) a new node keeps every option that fits its first pods;
    without it (plain first-fit) a new node is the cheapest option that holds the pod opening it.
    """
    used: list[list[int]] = []
    masks: list[int] = []
    envelopes: list[Vector] = []
    contents: list[dict[int, int]] = []
    for item in items:
        left = item.count
        need = item.vector
        start = 0
        while left:
            placed = False
            for index in range(start, len(used)):
                u = used[index]
                envelope = envelopes[index]
                if (
                    u[0] + need[0] > envelope[0]
                    or u[1] + need[1] > envelope[1]
                    or u[2] + need[2] > envelope[2]
                    or u[3] + need[3] > envelope[3]
                    or (len(need) > 4 and not fits(add(tuple(u), need), envelope))
                ):
                    continue
                allowed = masks[index] & item.mask
                if not allowed:
                    continue
                fitting = []
                for option in bits(allowed):
                    cap = options[option].capacity
                    fitting.append(
                        (
                            option,
                            how_many_fit(need, sub(cap, tuple(u))),
                        )
                    )
                take = min(left, max(f for _, f in fitting))
                if item.cap is not None:
                    take = min(take, item.cap - contents[index].get(item.key, 0))
                if take <= 0:
                    continue
                masks[index] = sum(1 << o for o, f in fitting if f >= take)
                envelopes[index] = _envelope(options, masks[index])
                if len(need) > len(u):
                    u.extend([0] * (len(need) - len(u)))
                for d, amount in enumerate(need):
                    u[d] += amount * take
                contents[index][item.key] = contents[index].get(item.key, 0) + take
                left -= take
                start = index
                placed = True
                break
            if placed:
                continue
            fitting = [(o, how_many_fit(need, options[o].capacity)) for o in bits(item.mask)]
            if not narrowing:
                fitting = [
                    min(
                        ((o, f) for o, f in fitting if f > 0),
                        key=lambda c: (options[c[0]].cost, c[0]),
                        default=(0, 0),
                    )
                ]
            best = max((f for _, f in fitting), default=0)
            if best <= 0:
                return None
            take = min(left, best) if item.cap is None else min(left, best, item.cap)
            mask = sum(1 << o for o, f in fitting if f >= take)
            used.append([amount * take for amount in need])
            masks.append(mask)
            envelopes.append(_envelope(options, mask))
            contents.append({item.key: take})
            left -= take
            start = len(used) - 1
    merged: dict[tuple[int, tuple[tuple[int, int], ...]], int] = {}
    for mask, pods in zip(masks, contents, strict=True):
        cheapest = min(bits(mask), key=lambda o: (options[o].cost, o))
        key = (cheapest, tuple(sorted(pods.items())))
        merged[key] = merged.get(key, 0) + 1
    packing = Packing()
    packing.batches = [Batch(option=o, count=c, contents=pods) for (o, pods), c in merged.items()]
    return packing if within(packing, options, limits) else None
