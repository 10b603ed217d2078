"""First-fit with narrowing instance-type sets, the construction Karpenter's scheduler uses.

kubernetes-sigs/karpenter ``pkg/controllers/provisioning/scheduling/scheduler.go`` (``Solve``/``add``):
a pod goes onto the first node being built that can still take it, and only when none can is a
new node opened; ``nodeclaim.go`` (``NodeClaim.Add``) keeps the instance types that still hold
every pod added. A node filled to exactly its capacity is full, not over: the pod that fills it
belongs on it. These are the planner's candidate packing that makes ebb "never dearer than
Karpenter's approach" (``test_node_quality.py``), so its placements are pinned here.
"""

from __future__ import annotations

import pytest

from ebb.core.nodes.first_fit import first_fit_pack
from ebb.core.nodes.packing import Item, Option
from ebb.core.nodes.quantities import GIB, Vector

UNITS: dict[str, Vector] = {
    "cpu": (1000, 0, 0, 1),
    "memory": (0, GIB, 0, 1),
    "gpu": (0, 0, 1, 1),
    "pods": (0, 0, 0, 1),
}
"""One pod asking for one unit of a single resource (and its pod slot)."""
ROOMY: Vector = (1_000_000, 1_000 * GIB, 0, 110)


def four_units_of(dimension: str) -> Vector:
    """Room for exactly four pods of ``dimension`` (GPU nodes get GPUs, CPU nodes none)."""
    index = ("cpu", "memory", "gpu", "pods").index(dimension)
    room = list(ROOMY)
    room[index] = 4 if dimension in ("gpu", "pods") else 4 * UNITS[dimension][index]
    return (room[0], room[1], room[2], room[3])


@pytest.mark.parametrize("dimension", ["cpu", "memory", "gpu", "pods"])
def test_the_pod_that_fills_a_node_exactly_goes_onto_it(dimension: str) -> None:
    """Three pods of one group and one of another: together exactly one node's worth, one node."""
    option = Option(
        index=0, capacity=four_units_of(dimension), cost=1.0, available=None, limit_usage=(0, 0, 0, 1)
    )
    need = UNITS[dimension]
    items = [Item(key=0, count=3, vector=need, mask=1), Item(key=1, count=1, vector=need, mask=1)]
    packing = first_fit_pack(items, [option], (None, None, None, None))
    assert packing is not None
    assert [(b.option, b.count, b.contents) for b in packing.batches] == [(0, 1, ((0, 3), (1, 1)))]


@pytest.mark.parametrize("dimension", ["cpu", "memory", "gpu", "pods"])
def test_the_pod_that_does_not_fit_opens_a_second_node(dimension: str) -> None:
    option = Option(
        index=0, capacity=four_units_of(dimension), cost=1.0, available=None, limit_usage=(0, 0, 0, 1)
    )
    need = UNITS[dimension]
    items = [Item(key=0, count=3, vector=need, mask=1), Item(key=1, count=2, vector=need, mask=1)]
    packing = first_fit_pack(items, [option], (None, None, None, None))
    assert packing is not None
    assert sorted((b.count, b.contents) for b in packing.batches) == [(1, ((0, 3), (1, 1))), (1, ((1, 1),))]
