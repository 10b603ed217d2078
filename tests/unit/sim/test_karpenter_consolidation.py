"""Karpenter's consolidation in the reference, with tests transcribed from Karpenter's own.

Sources (kubernetes-sigs/karpenter):

* ``pkg/controllers/deprovisioning/machine_consolidation_test.go`` (commit
  9d672cb0e220ba43d0e044ef8833558288aa6e76), ``Context("TTL")``: "should wait for the node TTL for
  empty nodes before consolidating" (the empty node is deleted after the validation wait) and
  "should wait for the node TTL for non-empty nodes before consolidating" (two nodes of the least
  expensive type holding 2 and 1 pods: only the node with one pod is deleted). An earlier stored
  version of the same file (commit not shown by the index) has "can merge 3 nodes into 1" (three
  nodes of the most expensive type, one pod each: replaced by one node) and "won't merge 2 nodes
  into 1 of the same type".
* ``pkg/controllers/disruption/multinodeconsolidation.go`` (commit
  16a047534beaf0d825f44e1ef46d584c7abddeb7): ``firstNConsolidationOption`` (binary search over
  prefixes of at most 100 candidates, at least two) and ``filterOutSameType``.
* ``pkg/controllers/disruption/consolidation.go`` (commit 1a0d5fa48c1295bde2db424160cc2e0e029b3782):
  ``consolidationTTL = 15 * time.Second``; ``computeConsolidation`` (all pods must schedule, at
  most one new node, strictly cheaper than the candidates); ``ShouldDisrupt`` (no underutilized
  consolidation unless the policy allows it; ``consolidateAfter: Never`` disables it).
* Budgets: the disruption docs' default ``nodes: 10%`` (``ebb.core.nodes.budgets``, tested there).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ebb.core.nodes import (
    Disruption,
    ExistingNode,
    InstanceGroup,
    InstanceType,
    NodePool,
    NodeState,
    PlanningInput,
    PodGroup,
    Resources,
)
from ebb.core.nodes.budgets import Budget
from ebb.sim.karpenter_consolidation import (
    CONSOLIDATION_VALIDATION_DELAY,
    ConsolidationPlan,
    ConsolidationPolicyName,
    karpenter_consolidate,
)

NOW = datetime(2025, 1, 6, 12, tzinfo=UTC)
LONG_AGO = NOW - timedelta(hours=1)
# The fake provider's least and most expensive types, as far as these tests need them.
CHEAP = InstanceType(name="least-expensive", vcpus=32, memory_mib=131072, price_per_hour=1.0)
MIDDLE = InstanceType(name="middle", vcpus=32, memory_mib=131072, price_per_hour=2.0)
DEAR = InstanceType(name="most-expensive", vcpus=32, memory_mib=131072, price_per_hour=4.0)
TYPES = (CHEAP, MIDDLE, DEAR)
GROUPS = tuple(InstanceGroup(name=f"g-{t.name}", zone="z-a", instance_types=(t.name,)) for t in TYPES)
EVERYTHING = (Budget(nodes="100%"),)


def node(name: str, type_name: str, pods: int = 0, **fields: object) -> ExistingNode:
    return ExistingNode.model_validate(
        {
            "name": name,
            "node_pool": "default",
            "instance_group": f"g-{type_name}",
            "instance_type": type_name,
            "pods": [{"group": "app", "count": pods}] if pods else [],
            "initialized_at": LONG_AGO,
            **fields,
        }
    )


def consolidate(
    nodes: list[ExistingNode],
    *,
    policy: ConsolidationPolicyName = "WhenEmptyOrUnderutilized",
    groups: tuple[str, ...] = tuple(g.name for g in GROUPS),
    consolidate_after: timedelta | None = timedelta(0),
    budgets: tuple[Budget, ...] = EVERYTHING,
    replicas: int | None = None,
    instance_groups: tuple[InstanceGroup, ...] = GROUPS,
) -> ConsolidationPlan:
    running = sum(p.count for n in nodes for p in n.pods)
    pool = NodePool(
        name="default",
        instance_groups=groups,
        disruption=Disruption(consolidate_after=consolidate_after, budgets=budgets),
    )
    inp = PlanningInput(
        now=NOW,
        pod_groups=(
            PodGroup(
                name="app",
                replicas=running if replicas is None else replicas,
                requests=Resources.of(cpu="1", memory="1Gi"),
            ),
        ),
        node_pools=(pool,),
        instance_groups=instance_groups,
        instance_types=TYPES,
        nodes=tuple(nodes),
    )
    return karpenter_consolidate(inp, policy=policy, now=NOW)


def test_the_validation_wait_is_fifteen_seconds() -> None:
    """``consolidationTTL``; upstream's TTL tests step the clock 31 s past it to let the command run."""
    assert timedelta(seconds=15) == CONSOLIDATION_VALIDATION_DELAY


def test_should_wait_for_the_node_ttl_for_empty_nodes_before_consolidating() -> None:
    plan = consolidate([node("node1", DEAR.name)])
    assert (plan.method, plan.delete, plan.replacements) == ("emptiness", ("node1",), ())
    assert plan.savings_per_hour == DEAR.price_per_hour


def test_should_wait_for_the_node_ttl_for_non_empty_nodes_before_consolidating() -> None:
    """Two nodes of the least expensive type hold 2 and 1 pods: only the one with 1 pod goes.

    Merging both into one node of the same type is refused (``filterOutSameType``), so
    single-node consolidation deletes the node with the fewest pods, whose pod fits on the other.
    """
    plan = consolidate([node("node1", CHEAP.name, pods=2), node("node2", CHEAP.name, pods=1)])
    assert (plan.method, plan.delete, plan.replacements) == ("single-node", ("node2",), ())


def test_can_merge_3_nodes_into_1() -> None:
    """Three nodes of the most expensive type, one pod each: one cheaper node replaces them."""
    plan = consolidate([node(f"node{i}", DEAR.name, pods=1) for i in (1, 2, 3)])
    # The search's largest prefix is all three (max = len - 1 is the last index of the prefix);
    # their 3 pods need one new node, cheaper than the three together: the cheapest type.
    assert plan.method == "multi-node"
    assert plan.delete == ("node1", "node2", "node3")
    assert [(r.instance_type, r.pods) for r in plan.replacements] == [(CHEAP.name, {"app": 3})]
    assert plan.savings_per_hour == 3 * DEAR.price_per_hour - CHEAP.price_per_hour


def test_a_merge_that_needs_two_nodes_falls_back_to_replacing_one() -> None:
    """Pods that would need two new nodes stop the merge ("Can't remove without creating 2")."""
    plan = consolidate(
        [node(f"node{i}", DEAR.name, pods=20) for i in (1, 2)] + [node("full", DEAR.name, pods=32)]
    )
    # "full" holds 32 pods of 1 CPU (no room); node1 + node2 (40 pods) would need two new nodes,
    # so multi-node finds nothing; single-node moves 12 of node1's pods onto node2 and the other 8
    # onto one new node of the cheapest type.
    assert plan.method == "single-node"
    assert plan.delete == ("node1",)
    assert [(r.instance_type, r.price, r.pods) for r in plan.replacements] == [(CHEAP.name, 1.0, {"app": 8})]
    assert plan.savings_per_hour == DEAR.price_per_hour - CHEAP.price_per_hour


def test_wont_merge_nodes_into_1_of_the_same_type() -> None:
    """Three least-expensive nodes, one pod each: merging all three into one node of that type is
    refused (``filterOutSameType``), so the search settles on deleting two, whose pods fit on the
    third, with no new node (replacing all three would save the same and disrupt more)."""
    plan = consolidate([node(f"node{i}", CHEAP.name, pods=1) for i in (1, 2, 3)])
    assert (plan.method, plan.delete, plan.replacements) == ("multi-node", ("node1", "node2"), ())


def test_a_replacement_must_be_strictly_cheaper() -> None:
    """One middle-priced node whose pods fit nowhere else: replaced by the cheaper type; a node
    already of the cheapest type is kept ("Can't replace with a cheaper node")."""
    assert [r.instance_type for r in consolidate([node("n", MIDDLE.name, pods=5)]).replacements] == [
        CHEAP.name
    ]
    kept = consolidate([node("n", CHEAP.name, pods=5)])
    assert (kept.method, kept.why) == (None, "no candidate can be removed or replaced by a cheaper node")


def test_a_candidate_is_priced_by_its_offering_not_its_types_list_price() -> None:
    """``getCandidatePrices`` prices each candidate by its instance type's offering in the node's
    zone and capacity type: a middle-type node whose group costs $0.50/h (a Spot or negotiated
    price) is not "replaced" by the cheapest type's $1.00/h, which its list price ($2.00) would
    allow; at its list price it is."""
    discounted = tuple(
        g.model_copy(update={"price_per_hour": 0.5}) if g.name == f"g-{MIDDLE.name}" else g for g in GROUPS
    )
    kept = consolidate([node("n", MIDDLE.name, pods=5)], instance_groups=discounted)
    assert (kept.method, kept.why) == (None, "no candidate can be removed or replaced by a cheaper node")
    replaced = consolidate([node("n", MIDDLE.name, pods=5)])
    assert (replaced.method, replaced.savings_per_hour) == ("single-node", MIDDLE.price_per_hour - 1.0)


def test_when_empty_leaves_underutilized_nodes_alone() -> None:
    plan = consolidate(
        [node("node1", DEAR.name, pods=1), node("node2", DEAR.name, pods=1)], policy="WhenEmpty"
    )
    assert (plan.method, plan.delete) == (None, ())


def test_consolidate_after_must_have_passed_since_the_last_pod_event() -> None:
    recent = node("recent", DEAR.name, last_pod_event_at=NOW - timedelta(seconds=20))
    plan = consolidate([recent], consolidate_after=timedelta(seconds=30))
    assert plan.method is None
    assert plan.not_candidates == {"recent": "consolidateAfter not elapsed (until 2025-01-06T12:00:10+00:00)"}
    assert consolidate([recent], consolidate_after=timedelta(seconds=20)).delete == ("recent",)


def test_consolidate_after_never_disables_consolidation() -> None:
    plan = consolidate([node("idle", DEAR.name)], consolidate_after=None)
    assert plan.method is None
    assert plan.not_candidates == {"idle": "consolidateAfter: Never"}


def test_nodes_that_are_not_candidates_say_why() -> None:
    nodes = [
        node("joining", DEAR.name, state=NodeState.REGISTERED),
        node("pinned", DEAR.name, do_not_disrupt=True),
        node("going", DEAR.name, deleting=True),
    ]
    plan = consolidate(nodes)
    assert plan.method is None
    assert plan.not_candidates == {
        "going": "being deleted",
        "joining": "not initialized and ready (Registered)",
        "pinned": "karpenter.sh/do-not-disrupt",
    }


def test_the_default_budget_lets_one_of_ten_empty_nodes_go_per_command() -> None:
    nodes = [node(f"n{i:02d}", CHEAP.name) for i in range(10)]
    assert len(consolidate(nodes, budgets=(Budget(nodes="10%"),)).delete) == 1
    assert len(consolidate(nodes).delete) == 10


def test_pods_do_not_move_onto_nodes_that_are_not_initialized() -> None:
    """``SimulateScheduling`` fails a pod placed on a node that is not initialized: the candidate's
    pod cannot count on the joining node's room, so the candidate is replaced, not deleted."""
    nodes = [
        node("candidate", MIDDLE.name, pods=1),
        node("joining", CHEAP.name, state=NodeState.REGISTERED, initialized_at=None),
    ]
    plan = consolidate(nodes)
    assert plan.method == "single-node"
    assert [r.instance_type for r in plan.replacements] == [CHEAP.name]


def test_pending_pods_that_fit_nowhere_do_not_block_a_command() -> None:
    """``AllNonPendingPodsScheduled``: only the candidates' pods must schedule."""
    giant = PodGroup(name="giant", replicas=1, requests=Resources.of(cpu="64", memory="1Gi"))
    nodes = (node("idle", DEAR.name),)
    pool = NodePool(
        name="default",
        instance_groups=tuple(g.name for g in GROUPS),
        disruption=Disruption(budgets=EVERYTHING),
    )
    inp = PlanningInput(
        now=NOW,
        pod_groups=(PodGroup(name="app", replicas=0, requests=Resources.of(cpu="1")), giant),
        node_pools=(pool,),
        instance_groups=GROUPS,
        instance_types=TYPES,
        nodes=nodes,
    )
    assert karpenter_consolidate(inp, policy="WhenEmptyOrUnderutilized", now=NOW).delete == ("idle",)


def test_a_node_of_the_cheapest_type_with_pods_stays() -> None:
    """Its pods fit nowhere else and no cheaper node could replace it."""
    plan = consolidate([node("only", CHEAP.name, pods=3)])
    assert plan.method is None
