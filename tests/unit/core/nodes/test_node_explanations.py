"""What the node plan says, word for word: why pods stay pending, what a budget allows, what limits bind.

These texts are what a user reads in ``ebb plan`` and in the decision log, so each is pinned here.
The rules behind them: NodePool limits compare with the capacity of the nodes launched, and a node
that reaches a limit exactly is still allowed (https://karpenter.sh/docs/concepts/nodepools/#speclimits:
"If the limit has been exceeded, nodes provisioning is prevented"); budgets as in
https://karpenter.sh/docs/concepts/disruption/#nodepool-disruption-budgets.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ebb.core.nodes import (
    Budget,
    DisruptionReason,
    ExistingNode,
    InstanceGroup,
    InstanceType,
    NodePlans,
    NodePool,
    PlanningInput,
    PodGroup,
    PoolLimits,
    Resources,
    UnplacedReason,
    plan_nodes,
)
from ebb.core.nodes.budgets import AllowedDisruptions, allowed_disruptions
from ebb.core.nodes.quantities import GIB, parse_quantity
from ebb.core.quantity import QuantityError

NOW = datetime(2025, 1, 6, 12, tzinfo=UTC)
SMALL = InstanceType(name="small", vcpus=4, memory_mib=16 * 1024, price_per_hour=0.20)
MEDIUM = InstanceType(name="medium", vcpus=8, memory_mib=32 * 1024, price_per_hour=0.38)


def group(type_name: str, **fields: object) -> InstanceGroup:
    return InstanceGroup.model_validate(
        {"name": f"ig-{type_name}", "zone": "z1", "instance_types": (type_name,), **fields}
    )


def pods(name: str, replicas: int, cpu: str, memory: str = "1Gi", **fields: object) -> PodGroup:
    return PodGroup.model_validate(
        {"name": name, "replicas": replicas, "requests": Resources.of(cpu=cpu, memory=memory), **fields}
    )


def plan(
    workload: list[PodGroup],
    *,
    types: tuple[InstanceType, ...] = (SMALL, MEDIUM),
    limits: PoolLimits | None = None,
    nodes: tuple[ExistingNode, ...] = (),
    groups: tuple[InstanceGroup, ...] | None = None,
) -> NodePlans:
    groups = groups if groups is not None else tuple(group(t.name) for t in types)
    pool = NodePool(
        name="default", instance_groups=tuple(g.name for g in groups), limits=limits or PoolLimits()
    )
    return plan_nodes(
        PlanningInput(
            now=NOW,
            pod_groups=tuple(workload),
            node_pools=(pool,),
            instance_groups=groups,
            instance_types=types,
            nodes=nodes,
        )
    )


def test_pods_too_big_for_every_type_say_so_and_nothing_more() -> None:
    (unplaced,) = plan([pods("huge", 1, "64")]).for_pool("default").unplaced
    assert str(unplaced) == "1 pod(s) of 'huge' cannot be placed in node pool 'default': FitsNoInstanceType"


def test_pods_no_pool_selects_say_what_excludes_them() -> None:
    arm = pods("arm", 2, "1", node_selector={"kubernetes.io/arch": "arm64"})
    (unplaced,) = plan([arm]).unplaced
    assert str(unplaced) == (
        "2 pod(s) of 'arm' cannot be placed: NoMatchingNodePool (no node pool's nodes match the pods' "
        "node selector, affinity and tolerations)"
    )


def test_a_limit_reached_exactly_still_allows_the_node_that_reaches_it() -> None:
    """Limits of 16 vCPU and 2 nodes: two mediums reach both exactly and are launched."""
    result = plan([pods("web", 4, "3")], types=(MEDIUM,), limits=PoolLimits(cpu_millis=16_000, nodes=2))
    decision = result.for_pool("default")
    assert decision.nodes_added == 2
    assert decision.unplaced == ()


def test_a_limit_names_only_the_resources_it_runs_out_of() -> None:
    """20 vCPU and 3 nodes: after two mediums 4 vCPU and one node are left; only cpu blocks a third."""
    result = plan([pods("web", 6, "3")], types=(MEDIUM,), limits=PoolLimits(cpu_millis=20_000, nodes=3))
    (unplaced,) = result.for_pool("default").unplaced
    assert (unplaced.reason, unplaced.count, unplaced.detail) == (
        UnplacedReason.POOL_LIMIT,
        2,
        "limit on cpu",
    )


def test_a_limit_lists_every_resource_it_runs_out_of() -> None:
    limits = PoolLimits(cpu_millis=12_000, memory_bytes=40 * GIB)
    (unplaced,) = plan([pods("web", 4, "3")], types=(MEDIUM,), limits=limits).for_pool("default").unplaced
    assert unplaced.detail == "limit on cpu, memory"
    assert str(unplaced) == (
        "2 pod(s) of 'web' cannot be placed in node pool 'default': NodePoolLimit (limit on cpu, memory)"
    )


def test_a_gpu_and_a_node_limit_are_named_as_kubernetes_names_them() -> None:
    gpu = InstanceType(name="gpu", vcpus=8, memory_mib=32 * 1024, gpus=1, price_per_hour=1.0)
    llm = PodGroup(name="llm", replicas=3, requests=Resources.of(cpu="1", memory="1Gi", gpus=1))
    limits = PoolLimits(gpus=2, nodes=2)
    (unplaced,) = plan([llm], types=(gpu,), limits=limits).for_pool("default").unplaced
    assert unplaced.detail == "limit on nvidia.com/gpu, nodes"


def test_budgets_read_with_their_schedule_and_reasons() -> None:
    budget = Budget(
        nodes="20%",
        schedule="0 9 * * 1-5",
        duration=timedelta(hours=8),
        reasons=(DisruptionReason.EMPTY, DisruptionReason.DRIFTED),
    )
    assert str(budget) == "nodes=20% schedule='0 9 * * 1-5' duration=8:00:00 reasons=Empty,Drifted"
    assert str(Budget(nodes="3")) == "nodes=3"
    assert str(AllowedDisruptions(allowed=None)) == "no active disruption budget applies"
    allowed = allowed_disruptions([Budget(nodes="3")], NOW, 10, 1, DisruptionReason.EMPTY)
    assert str(allowed) == "2 more node(s) allowed by budget nodes=3"


def test_resources_default_to_nothing_and_a_boolean_is_no_quantity() -> None:
    assert Resources.of().vector == (0, 0, 0, 0)
    assert Resources.of(gpus=1).vector == (0, 0, 1, 0)
    assert Resources.of(pods=2).vector == (0, 0, 0, 2)
    with pytest.raises(QuantityError) as raised:
        parse_quantity(True)
    assert str(raised.value) == "True is not a quantity"


def test_pods_no_pool_can_take_name_the_first_pool_and_the_others_tried() -> None:
    """NodePools are tried by descending weight (https://karpenter.sh/docs/concepts/scheduling/#weighted-nodepools):
    the pods are reported where they first fell short, with what the other pools said."""
    groups = (group("small"), group("medium"))
    pools = (
        NodePool(name="first", instance_groups=("ig-small",), weight=10),
        NodePool(name="second", instance_groups=("ig-medium",), limits=PoolLimits(nodes=0)),
    )
    result = plan_nodes(
        PlanningInput(
            now=NOW,
            pod_groups=(pods("web", 2, "6"),),
            node_pools=pools,
            instance_groups=groups,
            instance_types=(SMALL, MEDIUM),
        )
    )
    assert str(result) == (
        "node pool 'first': +0 node(s), +$0.0000/h\n"
        "  unplaced:\n"
        "    2 pod(s) of 'web' cannot be placed in node pool 'first': FitsNoInstanceType "
        "(also tried second: NodePoolLimit)\n"
        "node pool 'second': +0 node(s), +$0.0000/h"
    )
