"""Scale-in: which pods go first when replicas fall, and which nodes consolidation removes.

Karpenter facts mirrored here, with their sources:

* Consolidation order and rules: https://karpenter.sh/docs/concepts/disruption/#consolidation
  (aws/karpenter-provider-aws ``website/content/en/docs/concepts/disruption.md``, commit
  007cee445bd9a0378294c671df17862c83ebfc02): empty node consolidation first, then multi-node, then
  single-node; delete when pods fit on other nodes' free capacity, replace with one cheaper node;
  prefer nodes running fewer pods; ``WhenEmpty`` only removes empty nodes; the
  ``karpenter.sh/do-not-disrupt: "true"`` annotation on a node or on a pod excludes the node.
* kubernetes-sigs/karpenter ``pkg/controllers/nodeclaim/disruption/consolidation.go`` (commit
  02bb97bdd806f2f581b5368b51082119c39cfaa8): a node is consolidatable once initialized and
  ``consolidateAfter`` has passed since the last pod event (or initialization); ``Never`` disables it.
* ``pkg/controllers/disruption/types.go`` (commit 00fa292b6c60fa3286614fe560c85c753375384c) and
  ``consolidation.go`` ``sortCandidates``: candidates in ascending disruption cost, which is the
  sum of per-pod eviction costs (1 each by default).
* Budgets: ``pkg/apis/v1/nodepool.go`` and the disruption docs (see ``test_node_budgets.py``).
* Pod deletion cost: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset/#pod-deletion-cost
  (the ReplicaSet deletes pods with the lower ``controller.kubernetes.io/pod-deletion-cost`` first).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ebb.core.nodes import (
    Budget,
    ConsolidationPolicy,
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

NOW = datetime(2025, 1, 6, 12, tzinfo=UTC)
LONG_AGO = NOW - timedelta(hours=2)
TYPES = (
    InstanceType(name="small", vcpus=4, memory_mib=16384, price_per_hour=0.20),
    InstanceType(name="large", vcpus=16, memory_mib=65536, price_per_hour=0.80),
)


def node(
    name: str, type_name: str = "large", pods: dict[str, int] | None = None, **fields: object
) -> ExistingNode:
    values: dict[str, object] = {
        "name": name,
        "node_pool": "default",
        "instance_group": f"ig-{type_name}",
        "instance_type": type_name,
        "pods": tuple(PodsOnNode(group=g, count=c) for g, c in (pods or {}).items()),
        "initialized_at": LONG_AGO,
        "launched_at": LONG_AGO,
    }
    values.update(fields)
    return ExistingNode.model_validate(values)


def decide(
    nodes: list[ExistingNode],
    web: int,
    *,
    web_cpu: str = "1",
    disruption: Disruption | None = None,
    min_large: int = 0,
    extra_groups: tuple[PodGroup, ...] = (),
    now: datetime = NOW,
    paid_for: bool = False,
) -> NodePlan:
    counts = {t.name: sum(1 for n in nodes if n.instance_type == t.name) for t in TYPES}
    groups = (
        InstanceGroup(name="ig-small", zone="z1", instance_types=("small",), target_count=counts["small"]),
        InstanceGroup(
            name="ig-large",
            zone="z1",
            instance_types=("large",),
            target_count=counts["large"],
            min_count=min_large,
            paid_for=paid_for,
            max_count=10 if paid_for else None,
        ),
    )
    pool = NodePool(
        name="default", instance_groups=("ig-small", "ig-large"), disruption=disruption or Disruption()
    )
    workload = (
        PodGroup(name="web", replicas=web, requests=Resources.of(cpu=web_cpu, memory="1Gi")),
        *extra_groups,
    )
    result = plan_nodes(
        PlanningInput(
            now=now,
            pod_groups=workload,
            node_pools=(pool,),
            instance_groups=groups,
            instance_types=TYPES,
            nodes=tuple(nodes),
        )
    )
    return result.for_pool("default")


def removed(decision: NodePlan) -> list[tuple[str, RemovalKind]]:
    return [(r.node, r.kind) for r in decision.removals]


EVERYTHING = Disruption(budgets=(Budget(nodes="100%"),))


def test_empty_nodes_go_first_dearest_first() -> None:
    nodes = [node("busy", pods={"web": 10}), node("idle-small", "small"), node("idle-large")]
    decision = decide(nodes, web=10, disruption=EVERYTHING)
    assert removed(decision) == [("idle-large", RemovalKind.EMPTY), ("idle-small", RemovalKind.EMPTY)]
    assert [(t.instance_group, t.target_after) for t in decision.targets] == [
        ("ig-small", 0),
        ("ig-large", 1),
    ]


def test_when_empty_leaves_underutilized_nodes_alone() -> None:
    nodes = [node("a", pods={"web": 2}), node("b", pods={"web": 2})]
    when_empty = Disruption(consolidation_policy=ConsolidationPolicy.WHEN_EMPTY)
    assert removed(decide(nodes, web=4, disruption=when_empty)) == []
    assert removed(decide(nodes, web=4)) == [("a", RemovalKind.DELETE)]


def test_an_underutilized_node_whose_pods_fit_elsewhere_is_deleted_with_its_moves() -> None:
    decision = decide([node("full", pods={"web": 12}), node("light", pods={"web": 2})], web=14)
    assert removed(decision) == [("light", RemovalKind.DELETE)]
    assert [(m.group, m.destination, m.count) for m in decision.moves] == [("web", "full", 2)]


def test_a_dear_node_is_replaced_by_a_cheaper_one() -> None:
    decision = decide([node("big", pods={"web": 3})], web=3)
    assert removed(decision) == [("big", RemovalKind.REPLACE)]
    (replacement,) = decision.replacements
    assert (replacement.instance_group, replacement.count, replacement.pods_per_node) == (
        "ig-small",
        1,
        (("web", 3),),
    )
    assert [(t.instance_group, t.target_before, t.target_after) for t in decision.targets] == [
        ("ig-small", 0, 1),
        ("ig-large", 1, 0),
    ]


def test_several_light_nodes_merge_into_one() -> None:
    nodes = [node(f"n{i}", pods={"web": 3}) for i in range(3)]
    decision = decide(nodes, web=9, disruption=EVERYTHING)
    assert sorted(removed(decision)) == [("n0", RemovalKind.DELETE), ("n1", RemovalKind.DELETE)]
    assert sum(m.count for m in decision.moves if m.destination == "n2") == 6
    # The default budget (10% of 3 nodes, rounded up) allows one at a time.
    assert len(decide(nodes, web=9).removals) == 1


def test_a_multi_node_replacement_of_a_candidates_own_type_is_refused() -> None:
    """filterOutSameType: [large, large] -> one large is just deleting one of them; delete instead."""
    nodes = [node("a", pods={"web": 2}), node("c", pods={"web": 9})]
    decision = decide(nodes, web=11, disruption=EVERYTHING)
    assert removed(decision) == [("a", RemovalKind.DELETE)]
    assert not decision.replacements


def test_fewest_pods_first() -> None:
    nodes = [node("four", pods={"web": 4}), node("one", pods={"web": 1}), node("host", pods={"web": 10})]
    assert removed(decide(nodes, web=15, disruption=Disruption(budgets=(Budget(nodes="1"),)))) == [
        ("one", RemovalKind.DELETE)
    ]


def test_budgets_limit_removals() -> None:
    nodes = [node(f"idle{i}") for i in range(4)]
    one = Disruption(budgets=(Budget(nodes="1"),))
    assert len(decide(nodes, web=0, disruption=one).removals) == 1
    # Karpenter's default budget: 10% of 4 nodes, rounded up: 1.
    assert len(decide(nodes, web=0).removals) == 1
    assert len(decide(nodes, web=0, disruption=Disruption(budgets=(Budget(nodes="50%"),))).removals) == 2


def test_a_scheduled_budget_blocks_only_inside_its_window() -> None:
    business_hours = Disruption(
        budgets=(Budget(nodes="0", schedule="0 9 * * 1-5", duration=timedelta(hours=8)), Budget(nodes="100%"))
    )
    nodes = [node("idle")]
    monday_noon = datetime(2025, 1, 6, 12, tzinfo=UTC)
    monday_evening = datetime(2025, 1, 6, 18, tzinfo=UTC)
    blocked = decide(nodes, web=0, disruption=business_hours, now=monday_noon)
    assert removed(blocked) == []
    assert "disruption budget" in blocked.blocked[0].why
    assert removed(decide(nodes, web=0, disruption=business_hours, now=monday_evening)) == [
        ("idle", RemovalKind.EMPTY)
    ]


def test_a_budget_for_other_reasons_does_not_hold_empty_nodes() -> None:
    only_underutilized = Disruption(budgets=(Budget(nodes="0", reasons=("Underutilized",)),))
    nodes = [node("idle"), node("a", pods={"web": 2}), node("b", pods={"web": 2})]
    decision = decide(nodes, web=4, disruption=only_underutilized)
    assert removed(decision) == [("idle", RemovalKind.EMPTY)]
    assert any(note.code == "BudgetExhausted" for note in decision.notes)


def test_never_below_the_group_minimum() -> None:
    nodes = [node("a"), node("b")]
    everything = Disruption(budgets=(Budget(nodes="100%"),))
    decision = decide(nodes, web=0, disruption=everything, min_large=1)
    assert removed(decision) == [("a", RemovalKind.EMPTY)]
    assert "min_count 1" in decision.blocked[0].why


def test_nodes_ebb_must_not_touch() -> None:
    everything = Disruption(budgets=(Budget(nodes="100%"),))
    nodes = [
        node("training", unmanaged=Resources.of(cpu="8"), unmanaged_pods=1),
        node("pinned", do_not_disrupt=True),
        node("joining", state=NodeState.REGISTERED, initialized_at=None),
        node("launching", state=NodeState.LAUNCHING, initialized_at=None),
        node("unknown-init", initialized_at=None),
    ]
    decision = decide(nodes, web=0, disruption=everything)
    assert removed(decision) == []
    why = {b.node: b.why for b in decision.blocked}
    assert why["training"] == "runs pods ebb does not manage"
    assert why["pinned"] == "karpenter.sh/do-not-disrupt"
    assert why["unknown-init"].startswith("not initialized")


def test_pods_marked_do_not_disrupt_pin_their_node() -> None:
    batch = PodGroup(name="batch", replicas=1, requests=Resources.of(cpu="1"), do_not_disrupt=True)
    nodes = [node("host", pods={"web": 10}), node("guarded", pods={"batch": 1})]
    decision = decide(nodes, web=10, extra_groups=(batch,))
    assert "guarded" not in [r.node for r in decision.removals]
    assert {b.node: b.why for b in decision.blocked}["guarded"] == "karpenter.sh/do-not-disrupt"


def test_consolidate_after_counts_from_the_last_pod_change() -> None:
    wait = Disruption(consolidate_after=timedelta(minutes=5))
    recent = node("idle", last_pod_event_at=NOW - timedelta(minutes=4))
    assert removed(decide([recent], web=0, disruption=wait)) == []
    settled = node("idle", last_pod_event_at=NOW - timedelta(minutes=5))
    assert removed(decide([settled], web=0, disruption=wait)) == [("idle", RemovalKind.EMPTY)]
    fresh = node("idle", initialized_at=NOW - timedelta(minutes=1))
    assert removed(decide([fresh], web=0, disruption=wait)) == []
    never = Disruption(consolidate_after=None)
    assert removed(decide([settled], web=0, disruption=never)) == []


def test_paid_for_nodes_are_kept_empty() -> None:
    decision = decide([node("reserved")], web=0, paid_for=True)
    assert removed(decision) == []
    assert "already paid for" in decision.blocked[0].why


def test_falling_replicas_empty_whole_nodes_and_say_which_pods_go_first() -> None:
    nodes = [node("a", pods={"web": 5}), node("b", pods={"web": 3}), node("c", pods={"web": 6})]
    decision = decide(nodes, web=8, disruption=EVERYTHING)
    assert [(d.node, d.count, d.rank) for d in decision.deletions] == [("b", 3, 0), ("a", 3, 1)]
    # "b" empties and goes; "a" keeps 2 pods, which fit on "c": it goes too, never onto "b".
    assert removed(decision) == [("b", RemovalKind.EMPTY), ("a", RemovalKind.DELETE)]
    assert [(m.destination, m.count) for m in decision.moves] == [("c", 2)]


def test_pods_changing_now_restart_the_consolidate_after_clock() -> None:
    nodes = [node("a", pods={"web": 2}), node("b", pods={"web": 6})]
    wait = Disruption(consolidate_after=timedelta(minutes=1), budgets=(Budget(nodes="100%"),))
    decision = decide(nodes, web=6, disruption=wait)
    assert [(d.node, d.count) for d in decision.deletions] == [("a", 2)]
    # "a" empties now, so its consolidateAfter starts now; "b" holds 6 of 16 vCPU but has nowhere to go.
    assert removed(decision) == []
    assert {b.node for b in decision.blocked} == {"a"}


def test_a_growing_pool_does_not_consolidate_underutilized_nodes() -> None:
    nodes = [node("a", pods={"web": 2}), node("b", pods={"web": 2})]
    big = PodGroup(name="big", replicas=1, requests=Resources.of(cpu="15"))
    decision = decide(nodes, web=4, extra_groups=(big,))
    assert decision.nodes_added == 1
    assert removed(decision) == []
    assert any(note.code == "ConsolidationDeferred" for note in decision.notes)


def test_a_node_that_receives_pending_pods_is_not_removed_in_the_same_plan() -> None:
    """'a' (small, 3 of 4 vCPU used) takes the pending pod; its pods would fit on 'b', but not now."""
    nodes = [node("a", "small", pods={"web": 3}), node("b", pods={"web": 1})]
    decision = decide(nodes, web=5, disruption=EVERYTHING)
    assert [(p.node, p.count) for p in decision.placements] == [("a", 1)]
    assert "a" not in [r.node for r in decision.removals]
    assert {b.node: b.why for b in decision.blocked} == {"a": "receives pending pods in this plan"}
