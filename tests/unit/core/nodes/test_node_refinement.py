"""The packing refinements behind the node planner, on hand-built problems with known answers.

:mod:`ebb.core.nodes.repack` ``split_batches`` fixes what a greedy construction gets wrong: a big
node holding pods that several small nodes hold for less (its module docstring: "four 1-GPU pods
on a 4-GPU node instead of four 1-GPU nodes"). A split applies to every node of the batch, so it
must fit as many times over within the group maxima and the pool limits that the other nodes leave;
the dearest batches are split first; an equally cheap split is not taken (fewer nodes win a tie).
:mod:`ebb.core.nodes.exact` solves a pool exactly, bottom-up above 600 pods, within a shared
budget of search steps. Pool limits are Karpenter's ``spec.limits``
(https://karpenter.sh/docs/concepts/nodepools/#speclimits).
"""

from __future__ import annotations

import pytest

from ebb.core.nodes import (
    InstanceGroup,
    InstanceType,
    NodePool,
    PlanningInput,
    PodGroup,
    Resources,
    plan_nodes,
)
from ebb.core.nodes.exact import WorkBudget, exact_pack
from ebb.core.nodes.packing import Batch, Item, Limits, Option, Packing
from ebb.core.nodes.quantities import GIB
from ebb.core.nodes.repack import split_batches

NO_LIMITS: Limits = (None, None, None, None)
POD = (1000, GIB, 1, 1)
"""One 1-GPU pod: 1 vCPU, 1 GiB, one GPU, one pod slot."""


def big(available: int | None = None) -> Option:
    """A 4-GPU node at $5/h: four pods."""
    return Option(
        index=0,
        capacity=(4000, 4 * GIB, 4, 110),
        cost=5.0,
        available=available,
        limit_usage=(4000, 4 * GIB, 4, 1),
    )


def small(available: int | None = None, cost: float = 1.0) -> Option:
    """A 1-GPU node at $1/h: one pod (it counts more than a quarter of a big node against limits)."""
    return Option(
        index=1,
        capacity=(1500, 3 * GIB // 2, 2, 110),
        cost=cost,
        available=available,
        limit_usage=(1500, 3 * GIB // 2, 2, 1),
    )


def split(
    batches: list[Batch],
    options: list[Option],
    *,
    limits: Limits = NO_LIMITS,
    pods: int = 8,
    exact_states: int = 1000,
) -> list[tuple[int, int, tuple[tuple[int, int], ...]]]:
    packing = Packing(batches=batches)
    result = split_batches(
        packing,
        [Item(key=0, count=pods, vector=POD, mask=0b11)],
        options=options,
        limits=limits,
        exact_states=exact_states,
        budget=WorkBudget(1_000_000),
    )
    return sorted((b.option, b.count, b.contents) for b in result.batches)


TWO_BIG = [Batch(option=0, count=2, contents=((0, 4),))]
"""Eight pods on two 4-GPU nodes ($10/h) that eight 1-GPU nodes hold for $8/h."""


def test_a_cheaper_split_of_one_node_applies_to_every_node_of_its_batch() -> None:
    assert split(TWO_BIG, [big(), small()]) == [(1, 8, ((0, 1),))]


def test_the_split_is_searched_exactly_up_to_the_state_bound_and_not_beyond() -> None:
    """Four pods of one group: five count vectors, so a bound of five still allows the split."""
    assert split(TWO_BIG, [big(), small()], exact_states=5) == [(1, 8, ((0, 1),))]
    assert split(TWO_BIG, [big(), small()], exact_states=4) == [(0, 2, ((0, 4),))]


def test_an_equally_cheap_split_is_not_taken() -> None:
    """Four $1.25 nodes cost what one $5 node costs: the batch keeps its fewer nodes."""
    assert split(TWO_BIG, [big(), small(cost=1.25)]) == [(0, 2, ((0, 4),))]


def test_a_split_must_fit_the_group_maximum_as_many_times_as_the_batch_has_nodes() -> None:
    """Seven more small nodes allowed: three per big node, one short of a split."""
    assert split(TWO_BIG, [big(), small(available=7)]) == [(0, 2, ((0, 4),))]
    assert split(TWO_BIG, [big(), small(available=8)]) == [(1, 8, ((0, 1),))]


@pytest.mark.parametrize(
    ("limits", "fits"),
    [
        ((11_999, None, None, None), False),
        ((12_000, None, None, None), True),
        ((None, 12 * GIB - 1, None, None), False),
        ((None, 12 * GIB, None, None), True),
        ((None, None, 15, None), False),
        ((None, None, 16, None), True),
        ((None, None, None, 7), False),
        ((None, None, None, 8), True),
    ],
    ids=["cpu-short", "cpu", "memory-short", "memory", "gpu-short", "gpu", "nodes-short", "nodes"],
)
def test_a_split_must_fit_each_pool_limit_shared_out_over_the_batch(limits: Limits, fits: bool) -> None:
    """Eight small nodes use 12 vCPU, 12 GiB, 16 GPUs and 8 nodes of the limits; two big ones less."""
    expected = [(1, 8, ((0, 1),))] if fits else [(0, 2, ((0, 4),))]
    assert split(TWO_BIG, [big(), small()], limits=limits) == expected


def test_what_the_other_nodes_use_is_held_back_from_a_split() -> None:
    """Two small nodes exist in the plan already; six may be added: a split of the big node needs four."""
    others = Batch(option=1, count=2, contents=((0, 1),))
    one_big = Batch(option=0, count=1, contents=((0, 4),))
    assert split([others, one_big], [big(), small(available=6)], pods=6) == [
        (1, 2, ((0, 1),)),
        (1, 4, ((0, 1),)),
    ]
    assert split([others, one_big], [big(), small(available=5)], pods=6) == [
        (0, 1, ((0, 4),)),
        (1, 2, ((0, 1),)),
    ]
    # The same with a node limit: 6 nodes in all, two of them taken by the others.
    assert split([others, one_big], [big(), small()], limits=(None, None, None, 6), pods=6) == [
        (1, 2, ((0, 1),)),
        (1, 4, ((0, 1),)),
    ]
    assert split([others, one_big], [big(), small()], limits=(None, None, None, 5), pods=6) == [
        (0, 1, ((0, 4),)),
        (1, 2, ((0, 1),)),
    ]


def test_other_nodes_of_the_same_type_in_several_batches_all_count() -> None:
    """Two batches of one small node each take one of five: three left, one short of the split."""
    others = [Batch(option=1, count=1, contents=((0, 1),)), Batch(option=1, count=1, contents=((0, 1),))]
    one_big = Batch(option=0, count=1, contents=((0, 4),))
    assert split([*others, one_big], [big(), small(available=5)], pods=6) == [
        (0, 1, ((0, 4),)),
        (1, 1, ((0, 1),)),
        (1, 1, ((0, 1),)),
    ]


def test_the_dearest_batch_is_split_first_when_both_cannot_be() -> None:
    """Room for eight small nodes: splitting the two-node batch saves $2/h, the one-node batch $1/h."""
    one = Batch(option=0, count=1, contents=((0, 4),))
    two = Batch(option=0, count=2, contents=((0, 4),))
    result = split([one, two], [big(), small(available=8)], pods=12)
    assert result == [(0, 1, ((0, 4),)), (1, 8, ((0, 1),))]


def test_a_work_budget_is_spent_down_to_zero_and_no_further() -> None:
    budget = WorkBudget(3)
    assert budget.spend(2)
    assert budget.left == 1
    assert budget.spend(1)
    assert budget.left == 0
    assert not budget.spend(1)
    assert budget.left == -1


P5 = (
    InstanceType(name="p5.4x", vcpus=16, memory_mib=256 * 1024, gpus=1, max_pods=110, price_per_hour=7.912),
    InstanceType(
        name="p5.48x", vcpus=192, memory_mib=2048 * 1024, gpus=8, max_pods=110, price_per_hour=63.296
    ),
)


def test_two_groups_above_six_hundred_pods_are_solved_exactly_bottom_up() -> None:
    """608 one-GPU pods and 8 CPU pods (616 pods): 76 eight-GPU nodes, the CPU pods in their spare room.

    Eight one-GPU nodes cost exactly one eight-GPU node, so the tie goes to fewer nodes, and a CPU
    pod never needs a node of its own. The memoised recursion stops at 600 pods; the bottom-up sweep
    has to enumerate every count vector of both groups to find this.
    """
    groups = tuple(InstanceGroup(name=f"ig-{t.name}", zone="z1", instance_types=(t.name,)) for t in P5)
    llm = PodGroup(name="llm", replicas=608, requests=Resources.of(cpu="4", memory="32Gi", gpus=1))
    web = PodGroup(name="web", replicas=8, requests=Resources.of(cpu="20", memory="1Gi"))
    plans = plan_nodes(
        PlanningInput(
            now="2025-01-06T12:00:00Z",
            pod_groups=(llm, web),
            node_pools=(NodePool(name="default", instance_groups=tuple(g.name for g in groups)),),
            instance_groups=groups,
            instance_types=P5,
        )
    )
    decision = plans.for_pool("default")
    assert decision.exact
    assert decision.unplaced == ()
    assert {n.instance_group for n in decision.new_nodes} == {"ig-p5.48x"}
    assert decision.nodes_added == 76
    assert decision.added_cost_per_hour == pytest.approx(76 * 63.296)
    held = dict.fromkeys(("llm", "web"), 0)
    for nodes in decision.new_nodes:
        for name, count in nodes.pods_per_node:
            held[name] += count * nodes.count
    assert held == {"llm": 608, "web": 8}


@pytest.mark.parametrize("small_first", [True, False], ids=["small-first", "large-first"])
def test_the_tie_with_more_nodes_is_recorded_whichever_group_the_search_meets_first(
    small_first: bool,
) -> None:
    """Three 1-GPU and three 2-GPU pods on 2-GPU ($2) and 3-GPU ($3) nodes: every full packing costs
    $9; three 3-GPU nodes win on fewer nodes, and the plan says it beat a four-node plan of that price
    (the explanation's "3 new node(s) rather than 4")."""
    options = [
        Option(index=0, capacity=(2000, 2000, 2, 110), cost=2.0, available=None, limit_usage=(0, 0, 0, 1)),
        Option(index=1, capacity=(3000, 3000, 3, 110), cost=3.0, available=None, limit_usage=(0, 0, 0, 1)),
    ]
    one = Item(key=0, count=3, vector=(1000, 1000, 1, 1), mask=0b11)
    two = Item(key=1, count=3, vector=(2000, 2000, 2, 1), mask=0b11)
    packing = exact_pack([one, two] if small_first else [two, one], options, NO_LIMITS, 10_000)
    assert packing is not None
    assert [(b.option, b.count, sorted(b.contents)) for b in packing.batches] == [(1, 3, [(0, 1), (1, 1)])]
    assert packing.tied_with == 4


def test_three_groups_above_six_hundred_pods_are_solved_exactly_bottom_up() -> None:
    """600 one-GPU pods, two and one pods of two CPU groups (603 pods): 75 eight-GPU nodes hold them all.

    With three groups the sweep's carry runs through the middle group too (its count wraps to zero
    while the last one steps up), which two groups never exercise.
    """
    groups = tuple(InstanceGroup(name=f"ig-{t.name}", zone="z1", instance_types=(t.name,)) for t in P5)
    workload = (
        PodGroup(name="llm", replicas=600, requests=Resources.of(cpu="4", memory="32Gi", gpus=1)),
        PodGroup(name="web", replicas=2, requests=Resources.of(cpu="20", memory="1Gi")),
        PodGroup(name="api", replicas=1, requests=Resources.of(cpu="10", memory="1Gi")),
    )
    plans = plan_nodes(
        PlanningInput(
            now="2025-01-06T12:00:00Z",
            pod_groups=workload,
            node_pools=(NodePool(name="default", instance_groups=tuple(g.name for g in groups)),),
            instance_groups=groups,
            instance_types=P5,
        )
    )
    decision = plans.for_pool("default")
    assert decision.exact
    assert decision.unplaced == ()
    assert (decision.nodes_added, {n.instance_group for n in decision.new_nodes}) == (75, {"ig-p5.48x"})
    held = dict.fromkeys(("llm", "web", "api"), 0)
    for nodes in decision.new_nodes:
        for name, count in nodes.pods_per_node:
            held[name] += count * nodes.count
    assert held == {"llm": 600, "web": 2, "api": 1}


def test_a_batch_too_large_to_search_is_passed_over_for_the_next() -> None:
    """The dearest batch mixes two groups (nine count vectors, above the bound of five): the next is split."""
    items = [Item(key=0, count=8, vector=POD, mask=0b11), Item(key=1, count=4, vector=POD, mask=0b11)]
    mixed = Batch(option=0, count=2, contents=((0, 2), (1, 2)))
    plain = Batch(option=0, count=1, contents=((0, 4),))
    result = split_batches(
        Packing(batches=[plain, mixed]),
        items,
        options=[big(), small()],
        limits=NO_LIMITS,
        exact_states=5,
        budget=WorkBudget(1_000_000),
    )
    assert sorted((b.option, b.count, b.contents) for b in result.batches) == [
        (0, 2, ((0, 2), (1, 2))),
        (1, 4, ((0, 1),)),
    ]


def test_no_node_is_added_to_a_group_the_other_nodes_already_fill() -> None:
    """Two pods fit one $1 two-pod node, but the other nodes use all three the group may add."""
    pair = Option(
        index=1, capacity=(2000, 2 * GIB, 2, 110), cost=1.0, available=3, limit_usage=(2000, 2 * GIB, 2, 1)
    )
    others = Batch(option=1, count=3, contents=((0, 2),))
    half_full = Batch(option=0, count=1, contents=((0, 2),))
    result = split_batches(
        Packing(batches=[others, half_full]),
        [Item(key=0, count=8, vector=POD, mask=0b11)],
        options=[big(), pair],
        limits=NO_LIMITS,
        exact_states=1000,
        budget=WorkBudget(1_000_000),
    )
    assert sorted((b.option, b.count, b.contents) for b in result.batches) == [
        (0, 1, ((0, 2),)),
        (1, 3, ((0, 2),)),
    ]
