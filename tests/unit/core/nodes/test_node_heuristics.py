"""The heuristic constructions against the proven optimum, on small problems where both can run.

When a pool has too many pod-count combinations, the planner falls back to several constructions
(pattern greedy, look-ahead, Karpenter's first-fit) and refines the cheapest (``new_nodes``
module docstring). On problems small enough for the exact search (itself checked against an
independent MILP solver in ``test_node_quality.py``) the heuristic plan must cost exactly what
the optimum costs, with as many nodes and the same pods left pending. The problems are seeded,
so a failure names its seed.
"""

from __future__ import annotations

import random

import pytest

from ebb.core.nodes import (
    InstanceGroup,
    InstanceType,
    NodePool,
    PlanningInput,
    PodGroup,
    PoolLimits,
    Resources,
    plan_nodes,
)

SEEDS = range(80)


def problem(seed: int) -> tuple[tuple[InstanceType, ...], tuple[PodGroup, ...]]:
    """Two to four instance types (CPU or GPU, several pod limits) and one to three pod groups."""
    draw = random.Random(seed)
    types = []
    for index in range(draw.randint(2, 4)):
        vcpus = draw.choice([2, 4, 8, 16, 32])
        gpus = draw.choice([0, 0, 1, 2, 4, 8])
        price = round(vcpus * 0.05 * draw.uniform(0.8, 1.2) + gpus * 0.9 * draw.uniform(0.8, 1.2), 3)
        types.append(
            InstanceType(
                name=f"t{index}",
                vcpus=vcpus,
                memory_mib=vcpus * draw.choice([2, 4, 8]) * 1024,
                gpus=gpus,
                max_pods=draw.choice([8, 20, 110]),
                price_per_hour=price,
            )
        )
    workload = tuple(
        PodGroup(
            name=f"p{index}",
            replicas=draw.randint(1, 12),
            requests=Resources.of(
                cpu=f"{draw.choice([250, 500, 1000, 1500, 3000])}m",
                memory=f"{draw.choice([256, 1024, 3072, 6144])}Mi",
                gpus=draw.choice([0, 0, 1, 2]),
            ),
        )
        for index in range(draw.randint(1, 3))
    )
    return tuple(types), workload


def outcome(seed: int, exact_search_states: int, *, bounded: bool = False) -> tuple[float, int, int, bool]:
    """Cost, nodes, pods left pending, and whether the plan is proven.

    ``bounded``: each group gets a drawn max_count and the pool drawn node and CPU limits.
    """
    types, workload = problem(seed)
    draw = random.Random(1000 + seed)
    groups = tuple(
        InstanceGroup(
            name=f"ig-{t.name}",
            zone="z1",
            instance_types=(t.name,),
            max_count=draw.choice([None, 1, 2, 3]) if bounded else None,
        )
        for t in types
    )
    limits = (
        PoolLimits(nodes=draw.choice([None, 2, 3, 5]), cpu_millis=draw.choice([None, 16_000, 40_000]))
        if bounded
        else PoolLimits()
    )
    plans = plan_nodes(
        PlanningInput(
            now="2025-01-06T12:00:00Z",
            pod_groups=workload,
            node_pools=(NodePool(name="pool", instance_groups=tuple(g.name for g in groups), limits=limits),),
            instance_groups=groups,
            instance_types=types,
            exact_search_states=exact_search_states,
        )
    )
    plan = plans.for_pool("pool")
    pending = sum(u.count for u in plan.unplaced) + sum(u.count for u in plans.unplaced)
    return round(plan.added_cost_per_hour, 6), plan.nodes_added, pending, plan.exact


@pytest.mark.parametrize(
    "exact_search_states", [0, 3], ids=["constructions-only", "constructions-and-refinement"]
)
def test_the_heuristics_find_the_optimum_of_small_problems(exact_search_states: int) -> None:
    mismatched = []
    heuristic = 0
    for seed in SEEDS:
        optimum = outcome(seed, 10**6)
        found = outcome(seed, exact_search_states)
        heuristic += not found[3]
        if found[:3] != optimum[:3]:
            mismatched.append((seed, optimum[:3], found[:3]))
    assert mismatched == []
    assert heuristic >= len(SEEDS) * 9 // 10  # the fallback really ran, not the exact search


def test_the_heuristics_find_the_optimum_within_group_maxima_and_pool_limits() -> None:
    """The same with drawn group maxima and node and CPU limits: the bounded optimum, pending pods too."""
    mismatched = []
    for seed in range(60):
        optimum = outcome(seed, 10**6, bounded=True)
        for states in (0, 3):
            found = outcome(seed, states, bounded=True)
            if found[:3] != optimum[:3]:
                mismatched.append((seed, states, optimum[:3], found[:3]))
    assert mismatched == []
