"""Consolidation at its edges: free room in every dimension, destinations that cannot take pods,
the longest removable set of nodes, groups at their minimum, and which pods go first.

Karpenter rules mirrored (sources as in ``test_node_consolidation.py``):

* https://karpenter.sh/docs/concepts/disruption/#consolidation: a node is deleted when its pods fit
  on the free capacity of other nodes, replaced when they fit one cheaper new node; multi-node
  consolidation removes as many nodes as it can at once; nodes running fewer pods go first;
* kubernetes-sigs/karpenter ``pkg/controllers/provisioning/scheduling/existingnode.go``
  (``ExistingNode.CanAdd``): pods only go onto a node with room for every resource they request,
  pod slots included (https://kubernetes.io/docs/reference/config-api/kubelet-config.v1beta1/
  ``maxPods``); ``pkg/controllers/state/statenode.go``: a node that is not ready or is being
  deleted takes no pods;
* ``consolidateAfter: Never`` disables consolidation
  (``pkg/controllers/nodeclaim/disruption/consolidation.go``);
* pod deletion cost (https://kubernetes.io/docs/concepts/workloads/controllers/replicaset/#pod-deletion-cost):
  the pods ebb ranks first are those of nodes not running yet, then of nodes with fewer pods, dearer first.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ebb.core.nodes import (
    Disruption,
    ExistingNode,
    InstanceGroup,
    InstanceType,
    NodePlan,
    NodePool,
    NodeState,
    PlanningInput,
    PodGroup,
    PodsOnNode,
    RemovalKind,
    Resources,
    plan_nodes,
)
from ebb.core.nodes.budgets import Budget

NOW = datetime(2025, 1, 6, 12, tzinfo=UTC)
LONG_AGO = NOW - timedelta(hours=2)
LARGE = InstanceType(name="large", vcpus=16, memory_mib=64 * 1024, price_per_hour=0.80)
GPU8 = InstanceType(name="gpu8", vcpus=64, memory_mib=512 * 1024, gpus=8, price_per_hour=8.0)
FEW_SLOTS = InstanceType(name="few", vcpus=16, memory_mib=64 * 1024, max_pods=9, price_per_hour=0.80)
EVERYTHING = Disruption(budgets=(Budget(nodes="100%"),))


def pods(name: str, replicas: int, cpu: str = "100m", memory: str = "100Mi", gpus: int = 0) -> PodGroup:
    return PodGroup(name=name, replicas=replicas, requests=Resources.of(cpu=cpu, memory=memory, gpus=gpus))


def node(name: str, kind: InstanceType, held: dict[str, int], **fields: object) -> ExistingNode:
    values: dict[str, object] = {
        "name": name,
        "node_pool": "default",
        "instance_group": fields.pop("instance_group", f"ig-{kind.name}"),
        "instance_type": kind.name,
        "pods": tuple(PodsOnNode(group=g, count=c) for g, c in held.items()),
        "initialized_at": LONG_AGO,
        "launched_at": LONG_AGO,
    }
    values.update(fields)
    return ExistingNode.model_validate(values)


def run(
    workload: list[PodGroup],
    nodes: tuple[ExistingNode, ...],
    *,
    types: tuple[InstanceType, ...],
    groups: tuple[InstanceGroup, ...] | None = None,
    disruption: Disruption = EVERYTHING,
) -> NodePlan:
    if groups is None:
        groups = tuple(
            InstanceGroup(
                name=f"ig-{t.name}",
                zone="z1",
                instance_types=(t.name,),
                target_count=sum(1 for n in nodes if n.instance_group == f"ig-{t.name}"),
            )
            for t in types
        )
    pool = NodePool(name="default", instance_groups=tuple(g.name for g in groups), disruption=disruption)
    return plan_nodes(
        PlanningInput(
            now=NOW,
            pod_groups=tuple(workload),
            node_pools=(pool,),
            instance_groups=groups,
            instance_types=types,
            nodes=nodes,
        )
    ).for_pool("default")


def removed(plan: NodePlan) -> list[tuple[str, RemovalKind]]:
    return [(r.node, r.kind) for r in plan.removals]


# --- room on the destination, dimension by dimension ---------------------------------------------
# "light" holds two groups of two pods; the host has room for three of the four in one dimension
# and plenty in the others. Moving both groups must count what the first one takes; no cheaper
# replacement exists (a single instance type), so the node stays.


def test_memory_taken_by_one_group_is_not_offered_to_the_next() -> None:
    """3536Mi free on the host: three of the four 1000Mi pods; with 4036Mi all four."""
    light = node("light", LARGE, {"a": 2, "b": 2})
    moving = [pods("a", 2, memory="1000Mi"), pods("b", 2, memory="1000Mi")]
    host = node("host", LARGE, {"filler": 5})
    assert removed(run([pods("filler", 5, memory="12400Mi"), *moving], (host, light), types=(LARGE,))) == []
    roomier = [pods("filler", 5, memory="12300Mi"), *moving]
    assert removed(run(roomier, (host, light), types=(LARGE,))) == [("light", RemovalKind.DELETE)]


def test_gpus_taken_by_one_group_are_not_offered_to_the_next() -> None:
    """Six GPUs free on the host: three of the four 2-GPU pods; with eight all four."""
    light = node("light", GPU8, {"a": 2, "b": 2})
    moving = [pods("a", 2, gpus=2), pods("b", 2, gpus=2)]
    host = node("host", GPU8, {"filler": 5, "gpu-filler": 1})
    workload = [pods("filler", 5), pods("gpu-filler", 1, gpus=2), *moving]
    assert removed(run(workload, (host, light), types=(GPU8,))) == []
    roomier_host = node("host", GPU8, {"filler": 5})
    roomier = [pods("filler", 5), *moving]
    assert removed(run(roomier, (roomier_host, light), types=(GPU8,))) == [("light", RemovalKind.DELETE)]


def test_pod_slots_taken_by_one_group_are_not_offered_to_the_next() -> None:
    """Three pod slots free on the host: three of the four pods; with four all four."""
    light = node("light", FEW_SLOTS, {"a": 2, "b": 2})
    moving = [pods("a", 2), pods("b", 2)]
    host = node("host", FEW_SLOTS, {"filler": 6})
    assert removed(run([pods("filler", 6), *moving], (host, light), types=(FEW_SLOTS,))) == []
    fewer_host = node("host", FEW_SLOTS, {"filler": 5})
    fewer = [pods("filler", 5), *moving]
    assert removed(run(fewer, (fewer_host, light), types=(FEW_SLOTS,))) == [("light", RemovalKind.DELETE)]


def test_pods_may_spread_over_several_destinations() -> None:
    """Two pods, one free slot on each of two hosts: both move and the node goes."""
    hosts = (node("host-a", FEW_SLOTS, {"filler": 8}), node("host-b", FEW_SLOTS, {"filler": 8}))
    light = node("light", FEW_SLOTS, {"web": 2})
    plan = run([pods("filler", 16), pods("web", 2)], (*hosts, light), types=(FEW_SLOTS,))
    assert removed(plan) == [("light", RemovalKind.DELETE)]
    assert sorted((m.group, m.destination, m.count) for m in plan.moves) == [
        ("web", "host-a", 1),
        ("web", "host-b", 1),
    ]


@pytest.mark.parametrize(
    "fields", [{"state": NodeState.NOT_READY}, {"deleting": True}], ids=["not-ready", "deleting"]
)
def test_no_pod_moves_onto_a_node_that_is_not_ready_or_going(fields: dict[str, object]) -> None:
    host = node("host", LARGE, {}, **fields)
    light = node("light", LARGE, {"web": 1})
    plan = run([pods("web", 1)], (host, light), types=(LARGE,))
    assert ("light", RemovalKind.DELETE) not in removed(plan)


# --- which nodes go ---------------------------------------------------------------------------------


def test_multi_node_consolidation_finds_the_longest_set_that_can_go() -> None:
    """Two one-pod nodes can empty onto the three full ones; no set with a full node can go.

    With five candidates the bisection tries three nodes first, fails, and must still try two.
    """
    full = tuple(node(f"full-{i}", LARGE, {"fat": 2}) for i in range(3))
    light = (node("light-0", LARGE, {"web": 1}), node("light-1", LARGE, {"web": 1}))
    plan = run([pods("fat", 6, cpu="7500m"), pods("web", 2, cpu="1")], (*full, *light), types=(LARGE,))
    assert removed(plan) == [("light-0", RemovalKind.DELETE), ("light-1", RemovalKind.DELETE)]


def test_a_group_that_may_lose_one_node_loses_only_one() -> None:
    """Both one-pod nodes could empty onto the host, but their group is one above its minimum."""
    group = InstanceGroup(name="ig-large", zone="z1", instance_types=("large",), target_count=3, min_count=2)
    nodes = (
        node("light-0", LARGE, {"web": 1}),
        node("light-1", LARGE, {"web": 1}),
        node("host", LARGE, {"web": 2}),
    )
    assert removed(run([pods("web", 4)], nodes, types=(LARGE,), groups=(group,))) == [
        ("light-0", RemovalKind.DELETE)
    ]


def test_a_node_its_group_cannot_lose_is_skipped_for_the_next() -> None:
    """'pinned-group' runs fewest pods but its group is at its minimum: 'light' goes instead."""
    kept = InstanceGroup(name="ig-kept", zone="z1", instance_types=("large",), target_count=1, min_count=1)
    free = InstanceGroup(name="ig-large", zone="z1", instance_types=("large",), target_count=2)
    nodes = (
        node("pinned-group", LARGE, {"web": 1}, instance_group="ig-kept"),
        node("light", LARGE, {"web": 2}),
        node("host", LARGE, {"web": 3}),
    )
    plan = run([pods("web", 6)], nodes, types=(LARGE,), groups=(kept, free))
    assert removed(plan) == [("light", RemovalKind.DELETE)]


def test_consolidate_after_never_keeps_every_node_and_says_so() -> None:
    never = Disruption(consolidate_after=None, budgets=(Budget(nodes="100%"),))
    plan = run([], (node("idle", LARGE, {}),), types=(LARGE,), disruption=never)
    assert removed(plan) == []
    assert [(b.node, b.why) for b in plan.blocked] == [("idle", "consolidateAfter is Never")]


# --- which pods go first when replicas fall ------------------------------------------------------


def test_pods_of_a_node_still_launching_are_deleted_first() -> None:
    nodes = (
        node("a-ready", LARGE, {"web": 1}),
        node("b-launching", LARGE, {"web": 1}, state=NodeState.LAUNCHING, initialized_at=None),
    )
    plan = run([pods("web", 1)], nodes, types=(LARGE,))
    assert [(d.node, d.count, d.rank) for d in plan.deletions] == [("b-launching", 1, 0)]


def test_among_nodes_with_as_many_pods_the_dearer_gives_its_pod_first() -> None:
    dear = InstanceType(name="dear", vcpus=16, memory_mib=64 * 1024, price_per_hour=0.90)
    nodes = (node("a-cheap", LARGE, {"web": 1}), node("b-dear", dear, {"web": 1}))
    plan = run([pods("web", 1)], nodes, types=(LARGE, dear))
    assert [(d.node, d.count) for d in plan.deletions] == [("b-dear", 1)]


def test_pods_placed_in_this_plan_count_when_choosing_which_pods_go() -> None:
    """'a' gets the two pending 'api' pods, so it runs three pods and 'b' two: 'b' gives up its pod first."""
    nodes = (node("a", LARGE, {"web": 1}), node("b", LARGE, {"web": 2}))
    plan = run([pods("web", 2), pods("api", 2)], nodes, types=(LARGE,))
    assert [(p.node, p.group, p.count) for p in plan.placements] == [("a", "api", 2)]
    assert [(d.node, d.group, d.count) for d in plan.deletions] == [("b", "web", 1)]


def test_pods_placed_on_a_node_add_to_what_it_runs() -> None:
    """Placed pods add to a node's count, whether it already runs their group or not.

    'a' runs one 'web' pod and takes the pending 'api' pod: two pods, as many as 'b', so the name
    decides and 'a' gives up its 'web' pod. 'c' runs 'web' and 'api' and takes a pending 'web' pod:
    three pods, more than 'd', so 'd' gives up its 'api' pod.
    """
    plan = run(
        [pods("web", 2), pods("api", 1)],
        (node("a", LARGE, {"web": 1}), node("b", LARGE, {"web": 2})),
        types=(LARGE,),
    )
    assert [(p.node, p.group, p.count) for p in plan.placements] == [("a", "api", 1)]
    assert [(d.node, d.group, d.count) for d in plan.deletions] == [("a", "web", 1)]
    nodes = (node("c", LARGE, {"web": 1, "api": 1}), node("d", LARGE, {"api": 2}))
    plan = run([pods("web", 2), pods("api", 2)], nodes, types=(LARGE,))
    assert [(p.node, p.group, p.count) for p in plan.placements] == [("c", "web", 1)]
    assert [(d.node, d.group, d.count) for d in plan.deletions] == [("d", "api", 1)]


# --- the replacement node -------------------------------------------------------------------------
SMALL = InstanceType(name="small", vcpus=4, memory_mib=16 * 1024, price_per_hour=0.20)
MEDIUM = InstanceType(name="medium", vcpus=8, memory_mib=32 * 1024, price_per_hour=0.38)


def test_a_replacement_suits_every_group_it_takes() -> None:
    """'a' may only run on a medium node: the replacement is a medium, not the cheaper small."""
    from ebb.core.nodes import NodeSelectorTerm, Operator, Requirement
    from ebb.core.nodes.catalogue import INSTANCE_TYPE_LABEL

    only_medium = NodeSelectorTerm(
        match_expressions=(Requirement(key=INSTANCE_TYPE_LABEL, operator=Operator.IN, values=("medium",)),)
    )
    picky = PodGroup(
        name="a", replicas=1, requests=Resources.of(cpu="1", memory="100Mi"), node_affinity=(only_medium,)
    )
    plan = run(
        [picky, pods("b", 1, cpu="1")],
        (node("light", LARGE, {"a": 1, "b": 1}),),
        types=(LARGE, SMALL, MEDIUM),
    )
    assert removed(plan) == [("light", RemovalKind.REPLACE)]
    assert [(r.instance_group, r.pods_per_node) for r in plan.replacements] == [
        ("ig-medium", (("a", 1), ("b", 1)))
    ]


def test_a_replacement_fits_exactly_or_not_at_all() -> None:
    """Four 4Gi pods fill a small node's 16Gi, four pods a 4-slot node's slots: the small one replaces."""
    full_memory = [pods("web", 4, cpu="100m", memory="4Gi")]
    plan = run(full_memory, (node("light", LARGE, {"web": 4}),), types=(LARGE, SMALL, MEDIUM))
    assert [(r.instance_group, r.count) for r in plan.replacements] == [("ig-small", 1)]
    four_slots = InstanceType(name="small", vcpus=4, memory_mib=16 * 1024, max_pods=4, price_per_hour=0.20)
    plan = run([pods("web", 4)], (node("light", LARGE, {"web": 4}),), types=(LARGE, four_slots, MEDIUM))
    assert [(r.instance_group, r.count) for r in plan.replacements] == [("ig-small", 1)]


def test_a_replacement_may_use_the_last_node_a_group_may_add() -> None:
    groups = (
        InstanceGroup(name="ig-large", zone="z1", instance_types=("large",), target_count=1),
        InstanceGroup(name="ig-small", zone="z1", instance_types=("small",), target_count=2, max_count=3),
    )
    nodes = (node("light", LARGE, {"web": 1}),)
    plan = run([pods("web", 1)], nodes, types=(LARGE, SMALL), groups=groups)
    assert [(r.instance_group, r.count) for r in plan.replacements] == [("ig-small", 1)]
    full = (groups[0], groups[1].model_copy(update={"target_count": 3}))
    assert run([pods("web", 1)], nodes, types=(LARGE, SMALL), groups=full).replacements == ()


def test_among_equally_cheap_replacements_the_first_group_listed_wins() -> None:
    twin = InstanceType(name="small-b", vcpus=4, memory_mib=16 * 1024, price_per_hour=0.20)
    plan = run([pods("web", 1)], (node("light", LARGE, {"web": 1}),), types=(LARGE, SMALL, twin))
    assert [r.instance_group for r in plan.replacements] == ["ig-small"]


# --- where moved pods go ---------------------------------------------------------------------------


def test_the_largest_pods_move_first_so_that_all_fit() -> None:
    """Free room: 2 vCPU on h1, 1 vCPU on h2. The 2-vCPU pod must take h1 before the 1-vCPU pod does."""
    hosts = (node("h1", LARGE, {"fill": 14}), node("h2", LARGE, {"fill": 15}))
    light = node("light", LARGE, {"a-tiny": 1, "b-big": 1})
    workload = [pods("fill", 29, cpu="1"), pods("a-tiny", 1, cpu="1"), pods("b-big", 1, cpu="2")]
    plan = run(workload, (*hosts, light), types=(LARGE,))
    assert removed(plan) == [("light", RemovalKind.DELETE)]
    assert sorted((m.group, m.destination) for m in plan.moves) == [("a-tiny", "h2"), ("b-big", "h1")]


def test_with_equal_cpu_the_pods_with_more_memory_move_first() -> None:
    """Free memory: 2048Mi on h1, 1024Mi on h2; the 2Gi pod must take h1."""
    hosts = (node("h1", LARGE, {"fill-1": 4}), node("h2", LARGE, {"fill-2": 4}))
    light = node("light", LARGE, {"a-tiny": 1, "b-big": 1})
    workload = [
        pods("fill-1", 4, memory="15872Mi"),
        pods("fill-2", 4, memory="16128Mi"),
        pods("a-tiny", 1, memory="1Gi"),
        pods("b-big", 1, memory="2Gi"),
    ]
    plan = run(workload, (*hosts, light), types=(LARGE,))
    assert removed(plan) == [("light", RemovalKind.DELETE)]
    assert sorted((m.group, m.destination) for m in plan.moves) == [("a-tiny", "h2"), ("b-big", "h1")]


def test_pods_may_move_onto_another_pools_nodes() -> None:
    """Consolidation simulates scheduling on every node: 'light' (pool 'a') empties onto 'host' (pool 'b')."""
    groups = (
        InstanceGroup(name="ig-a", zone="z1", instance_types=("large",), target_count=1),
        InstanceGroup(name="ig-b", zone="z1", instance_types=("large",), target_count=1),
    )
    pools = (
        NodePool(name="a", instance_groups=("ig-a",), disruption=EVERYTHING),
        NodePool(name="b", instance_groups=("ig-b",), disruption=EVERYTHING),
    )
    nodes = (
        node("light", LARGE, {"web": 1}, node_pool="a", instance_group="ig-a"),
        node("host", LARGE, {"web": 3}, node_pool="b", instance_group="ig-b"),
    )
    plans = plan_nodes(
        PlanningInput(
            now=NOW,
            pod_groups=(pods("web", 4),),
            node_pools=pools,
            instance_groups=groups,
            instance_types=(LARGE,),
            nodes=nodes,
        )
    )
    assert removed(plans.for_pool("a")) == [("light", RemovalKind.DELETE)]
    assert [(m.group, m.destination, m.count) for m in plans.for_pool("a").moves] == [("web", "host", 1)]
