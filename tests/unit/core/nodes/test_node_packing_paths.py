"""The greedy's four-integer fast path and its generic resource-vector path plan alike (Hypothesis).

When no pod asks for an extended resource the greedy fills nodes on four unpacked integers
(cpu, memory, GPUs, pod slots); otherwise it walks the whole vector. On problems with only the
four base resources both must give the same packing, batch for batch, and the same appraisals
(values, sizes, fitting options: equal floats, not merely close ones).
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ebb.core.nodes.packing import Greedy, Item, Limits, Option, appraise, greedy_pack

GIB = 2**30


@st.composite
def base_problems(draw: st.DrawFn) -> tuple[list[Item], list[Option], Limits]:
    """Pods of cpu, memory, GPUs and one slot; options some of which also carry extended devices."""
    options = []
    for index in range(draw(st.integers(1, 6))):
        vcpus = draw(st.sampled_from([2, 4, 8, 16, 48]))
        gpus = draw(st.sampled_from([0, 0, 1, 4, 8]))
        capacity: tuple[int, ...] = (
            vcpus * 1000 - draw(st.integers(0, 400)),
            vcpus * draw(st.sampled_from([2, 4, 8])) * GIB,
            gpus,
            draw(st.sampled_from([4, 8, 29, 110])),
        )
        if draw(st.booleans()):
            # An EFA interface or a Neuron device no pod here asks for: the fast path still runs.
            capacity = (*capacity, 0, draw(st.integers(0, 4)))
        options.append(
            Option(
                index=index,
                capacity=capacity,
                cost=round(0.04 * vcpus + 0.9 * gpus + draw(st.floats(0.0, 0.5)), 4),
                available=draw(st.none() | st.integers(0, 12)),
                limit_usage=(capacity[0], capacity[1], capacity[2], 1, capacity[3]),
            )
        )
    every = (1 << len(options)) - 1
    items = []
    for key in range(draw(st.integers(1, 8))):
        items.append(
            Item(
                key=key,
                count=draw(st.integers(1, 60)),
                vector=(
                    draw(st.integers(0, 6000)),
                    draw(st.integers(0, 24)) * GIB // 2,
                    draw(st.sampled_from([0, 0, 0, 1, 2, 4])),
                    1,
                ),
                mask=draw(st.integers(1, every)),
                cap=draw(st.none() | st.integers(1, 3)),
            )
        )
    limits: Limits = (
        draw(st.none() | st.integers(0, 400_000)),
        None,
        draw(st.none() | st.integers(0, 40)),
        draw(st.none() | st.integers(0, 30)),
        draw(st.none() | st.integers(0, 2000)),
    )
    return items, options, limits


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(base_problems(), st.sampled_from(["both", "largest", "slice"]))
def test_fast_and_generic_paths_pack_alike(
    problem: tuple[list[Item], list[Option], Limits], fills: str
) -> None:
    items, options, limits = problem
    assert Greedy(items, options, limits, fills).base_only
    assert not Greedy(items, options, limits, fills, generic=True).base_only

    fast = greedy_pack(items, options, limits, fills)
    generic = greedy_pack(items, options, limits, fills, generic=True)

    assert fast == generic


@settings(max_examples=200, deadline=None, derandomize=True)
@given(base_problems(), st.integers(0, 63))
def test_fast_and_generic_appraisals_are_equal(
    problem: tuple[list[Item], list[Option], Limits], among: int
) -> None:
    items, options, _ = problem

    assert appraise(items, options, among) == appraise(items, options, among, generic=True)


def test_a_pod_asking_for_a_device_takes_the_generic_path() -> None:
    """One EFA request in the problem: every fill walks the whole vector, and the device binds."""
    efa_pod: tuple[int, ...] = (1000, GIB, 0, 1, 0, 1)
    items = [Item(key=0, count=5, vector=efa_pod, mask=0b1)]
    options = [
        Option(index=0, capacity=(8000, 32 * GIB, 0, 29, 0, 2), cost=1.0, available=None, limit_usage=())
    ]

    greedy = Greedy(items, options, ())
    packing = greedy_pack(items, options, ())

    assert not greedy.base_only
    # Two interfaces a node: 2 + 2 + 1 pods, though CPU, memory and slots would hold all five.
    assert sorted((b.count, b.contents) for b in packing.batches) == [(1, ((0, 1),)), (2, ((0, 2),))]
