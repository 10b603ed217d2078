"""How good the new-node plans are: against the exact optimum and against Karpenter's approach.

* The optimum comes from ``ebb.sim.milp_oracle.optimal_cost`` (``scipy.optimize.milp``) on the
  pinned generator ``ebb.sim.node_instances.small_instance`` (at most 12 pods and 8 instance
  types, discrete GPU counts, a GPU price premium and a fixed cost per node). Requirement: the
  worst instance within 1.02x of the optimum.
* The baseline is ``ebb.sim.karpenter_reference.karpenter_plan``, Karpenter's scheduling
  approach (kubernetes-sigs/karpenter ``pkg/controllers/provisioning/scheduling``: pods by CPU
  then memory descending, first existing node, first open node whose remaining types hold it,
  else a new node with every compatible type; each launches the cheapest type left).
  Requirement: never dearer.
"""

from __future__ import annotations

import pytest

from ebb.core.nodes import (
    ExistingNode,
    InstanceGroup,
    InstanceType,
    NodePool,
    PlanningInput,
    PodGroup,
    PodsOnNode,
    Resources,
    plan_nodes,
)
from ebb.sim.karpenter_reference import karpenter_plan
from ebb.sim.milp_oracle import lp_lower_bound, optimal_cost
from ebb.sim.node_instances import EPOCH, small_instance

MILP_SEEDS = range(30)
REFERENCE_SEEDS = range(300)


@pytest.mark.slow
def test_worst_small_instance_is_within_two_percent_of_the_optimum() -> None:
    ratios = []
    for seed in MILP_SEEDS:
        inp = small_instance(seed)
        plans = plan_nodes(inp)
        assert not plans.unplaced, seed
        assert not plans.plans[0].unplaced, seed
        optimum = optimal_cost(inp, time_limit=30)
        assert optimum.proven, seed
        ratios.append((plans.added_cost_per_hour / optimum.cost, seed))
    worst, seed = max(ratios)
    assert worst <= 1.02 + 1e-9, f"seed {seed}: {worst:.4f}x the optimum"


@pytest.mark.parametrize("exact_states", [20_000, 0], ids=["default", "heuristics-only"])
def test_never_dearer_than_karpenters_approach(exact_states: int) -> None:
    """With and without the exact search (the heuristics alone keep the guarantee too)."""
    for seed in REFERENCE_SEEDS:
        inp = small_instance(seed).model_copy(update={"exact_search_states": exact_states})
        ours = plan_nodes(inp).added_cost_per_hour
        reference = karpenter_plan(inp).cost_per_hour
        assert ours <= reference + 1e-9, f"seed {seed}: {ours:.4f} > {reference:.4f}"


def test_the_lp_bound_is_below_every_plan() -> None:
    for seed in range(20):
        inp = small_instance(seed)
        assert lp_lower_bound(inp) <= plan_nodes(inp).added_cost_per_hour + 1e-6


def test_the_generator_is_pinned() -> None:
    """Same seed, same problem; different seeds, different problems."""
    assert small_instance(3) == small_instance(3)
    assert small_instance(3) != small_instance(4)
    assert all(sum(g.replicas for g in small_instance(s).pod_groups) <= 12 for s in range(50))
    assert all(len(small_instance(s).instance_types) <= 8 for s in range(50))


def _types() -> tuple[InstanceType, ...]:
    return (
        InstanceType(name="a", vcpus=4, memory_mib=16384, price_per_hour=0.20),
        InstanceType(name="b", vcpus=8, memory_mib=32768, price_per_hour=0.30),
    )


def _input(replicas: int, nodes: tuple[ExistingNode, ...] = ()) -> PlanningInput:
    types = _types()
    return PlanningInput(
        now=EPOCH,
        pod_groups=(PodGroup(name="web", replicas=replicas, requests=Resources.of(cpu="3")),),
        node_pools=(NodePool(name="p", instance_groups=("ig-a", "ig-b")),),
        instance_groups=tuple(
            InstanceGroup(name=f"ig-{t.name}", zone="z", instance_types=(t.name,)) for t in types
        ),
        instance_types=types,
        nodes=nodes,
    )


def test_reference_narrows_the_types_of_a_node_then_launches_the_cheapest_left() -> None:
    """Two 3-vCPU pods: the node opens with {a, b}; the second pod only fits b's 8 vCPU; b launches."""
    plan = karpenter_plan(_input(2))
    assert [(n.instance_type, n.pods) for n in plan.new_nodes] == [("b", {"web": 2})]
    three = karpenter_plan(_input(3))
    assert [(n.instance_type, n.pods) for n in three.new_nodes] == [("b", {"web": 2}), ("a", {"web": 1})]


def test_reference_fills_existing_nodes_first() -> None:
    existing = (ExistingNode(name="n", node_pool="p", instance_group="ig-b", instance_type="b"),)
    plan = karpenter_plan(_input(3, existing))
    assert plan.on_existing == {"n": {"web": 2}}
    assert [n.instance_type for n in plan.new_nodes] == ["a"]
    running = (
        ExistingNode(
            name="n",
            node_pool="p",
            instance_group="ig-b",
            instance_type="b",
            pods=(PodsOnNode(group="web", count=2),),
        ),
    )
    assert karpenter_plan(_input(2, running)).new_nodes == []
