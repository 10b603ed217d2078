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

import pytest
from pydantic import ValidationError

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
    assert [str(note) for note in decision.notes] == [
        "[BudgetExhausted] underutilized consolidation held by the disruption budget "
        "(0 more node(s) allowed by budget nodes=0 reasons=Underutilized)"
    ]


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
    assert [str(note) for note in decision.notes] == [
        "[ConsolidationDeferred] the pool is adding capacity for pending pods; "
        "no underutilized node is removed"
    ]


def test_a_node_that_receives_pending_pods_is_not_removed_in_the_same_plan() -> None:
    """'a' (small, 3 of 4 vCPU used) takes the pending pod; its pods would fit on 'b', but not now."""
    nodes = [node("a", "small", pods={"web": 3}), node("b", pods={"web": 1})]
    decision = decide(nodes, web=5, disruption=EVERYTHING)
    assert [(p.node, p.count) for p in decision.placements] == [("a", 1)]
    assert "a" not in [r.node for r in decision.removals]
    assert {b.node: b.why for b in decision.blocked} == {"a": "receives pending pods in this plan"}


# --- the same-type rule across instance groups ---------------------------------------------------
# kubernetes-sigs/karpenter ``pkg/controllers/disruption/multinodeconsolidation.go``
# ``filterOutSameType`` (commit 16a047534beaf0d825f44e1ef46d584c7abddeb7; renamed
# ``filterOutSameInstanceType`` later): when a candidate's instance type is among the replacement's
# options, every option must be strictly cheaper than the cheapest candidate of that type, or the
# command is dropped ("we should just keep that one and do a deletion only to reduce cluster
# disruption"). Its test in the consolidation suite: "won't merge 2 nodes into 1 of the same type"
# (expects the node with the fewest pods deleted and the other left alone). The price filter it
# calls keeps only options cheaper than that price (``filterByPrice``).

TWIN_TYPES = (
    InstanceType(name="tiny", vcpus=2, memory_mib=8192, price_per_hour=0.10),
    *TYPES,
)


def decide_in_two_zones(nodes: list[ExistingNode], web: int, groups: tuple[InstanceGroup, ...]) -> NodePlan:
    """The README's layout: one pool over instance groups of one type, one group per zone."""
    groups = tuple(
        g.model_copy(update={"target_count": sum(1 for n in nodes if n.instance_group == g.name)})
        for g in groups
    )
    pool = NodePool(name="default", instance_groups=tuple(g.name for g in groups), disruption=EVERYTHING)
    workload = (PodGroup(name="web", replicas=web, requests=Resources.of(cpu="1", memory="1Gi")),)
    return plan_nodes(
        PlanningInput(
            now=NOW,
            pod_groups=workload,
            node_pools=(pool,),
            instance_groups=groups,
            instance_types=TWIN_TYPES,
            nodes=tuple(nodes),
        )
    ).for_pool("default")


def zone_group(name: str, zone: str, type_name: str) -> InstanceGroup:
    return InstanceGroup(name=name, zone=zone, instance_types=(type_name,))


def test_multi_node_consolidation_never_launches_a_twin_in_the_other_zone() -> None:
    """Two large nodes in zone a hold 2 and 1 pods; a large node in zone b is no replacement."""
    groups = (zone_group("large-a", "z-a", "large"), zone_group("large-b", "z-b", "large"))
    nodes = [
        node("two", pods={"web": 2}, instance_group="large-a"),
        node("one", pods={"web": 1}, instance_group="large-a"),
    ]
    decision = decide_in_two_zones(nodes, 3, groups)
    assert removed(decision) == [("one", RemovalKind.DELETE)]
    assert not decision.replacements
    assert [(m.group, m.destination, m.count) for m in decision.moves] == [("web", "two", 1)]


def test_the_twin_rule_holds_when_the_candidates_sit_in_both_zones() -> None:
    groups = (zone_group("large-a", "z-a", "large"), zone_group("large-b", "z-b", "large"))
    nodes = [
        node("two", pods={"web": 2}, instance_group="large-a"),
        node("one", pods={"web": 1}, instance_group="large-b"),
    ]
    decision = decide_in_two_zones(nodes, 3, groups)
    assert removed(decision) == [("one", RemovalKind.DELETE)]
    assert not decision.replacements


def test_a_strictly_cheaper_type_still_replaces_several_nodes() -> None:
    """filterOutSameType's second example: [2xl, 2xl, small] -> nano is kept, small is filtered out."""
    groups = (
        zone_group("large-a", "z-a", "large"),
        zone_group("small-a", "z-a", "small"),
        zone_group("small-b", "z-b", "small"),
        zone_group("tiny-b", "z-b", "tiny"),
    )
    nodes = [
        node("l1", pods={"web": 1}, instance_group="large-a"),
        node("l2", pods={"web": 1}, instance_group="large-a"),
    ]
    # Both large nodes go; the cheapest option holding 2 pods is tiny (small would be allowed too:
    # no candidate is small, but tiny is cheaper).
    decision = decide_in_two_zones(nodes, 2, groups)
    assert sorted(removed(decision)) == [("l1", RemovalKind.REPLACE), ("l2", RemovalKind.REPLACE)]
    assert [(r.instance_group, r.count) for r in decision.replacements] == [("tiny-b", 1)]


def test_a_candidates_type_in_the_options_caps_every_option_at_its_price() -> None:
    """[large, large, small] -> one small elsewhere is capped at the small candidate's price: refused."""
    groups = (
        zone_group("large-a", "z-a", "large"),
        zone_group("small-a", "z-a", "small"),
        zone_group("small-b", "z-b", "small"),
    )
    nodes = [
        node("s", "small", pods={"web": 1}, instance_group="small-a"),
        node("l1", pods={"web": 1}, instance_group="large-a"),
        node("l2", pods={"web": 1}, instance_group="large-a"),
    ]
    decision = decide_in_two_zones(nodes, 3, groups)
    # Without tiny, a small replacement costs what keeping "s" costs: delete the large nodes instead.
    assert sorted(removed(decision)) == [("l1", RemovalKind.DELETE), ("l2", RemovalKind.DELETE)]
    assert not decision.replacements
    assert sorted((m.destination, m.count) for m in decision.moves) == [("s", 2)]


def test_single_node_replacement_never_launches_its_own_type_elsewhere() -> None:
    """singlenodeconsolidation: the replacement must be strictly cheaper than the candidate."""
    groups = (zone_group("large-a", "z-a", "large"), zone_group("large-b", "z-b", "large"))
    decision = decide_in_two_zones([node("only", pods={"web": 14}, instance_group="large-a")], 14, groups)
    assert removed(decision) == []
    assert not decision.replacements


# --- an instance group's target and the nodes listed for it --------------------------------------


def _idle_pool_input(target_count: int | None, *, deleting: bool = False) -> PlanningInput:
    fields: dict[str, object] = {"name": "ig-large", "zone": "z1", "instance_types": ("large",)}
    if target_count is not None:
        fields["target_count"] = target_count
    return PlanningInput(
        now=NOW,
        pod_groups=(PodGroup(name="web", replicas=0, requests=Resources.of(cpu="1")),),
        node_pools=(NodePool(name="default", instance_groups=("ig-large",), disruption=EVERYTHING),),
        instance_groups=(InstanceGroup.model_validate(fields),),
        instance_types=TYPES,
        nodes=(node("idle-1"), node("idle-2", deleting=deleting)),
    )


def test_an_unset_target_is_the_nodes_listed_for_the_group() -> None:
    """A caller who leaves target_count out still gets scale-in, counted from the nodes given."""
    decision = plan_nodes(_idle_pool_input(None)).for_pool("default")
    assert removed(decision) == [("idle-1", RemovalKind.EMPTY), ("idle-2", RemovalKind.EMPTY)]
    assert [(t.target_before, t.target_after) for t in decision.targets] == [(2, 0)]


def test_a_node_being_deleted_is_not_counted_in_a_derived_target() -> None:
    """Its removal is already under way: counting it would let the group fall below its minimum."""
    decision = plan_nodes(_idle_pool_input(None, deleting=True)).for_pool("default")
    assert removed(decision) == [("idle-1", RemovalKind.EMPTY)]
    assert [(t.target_before, t.target_after) for t in decision.targets] == [(1, 0)]


def test_a_target_below_the_nodes_listed_is_refused() -> None:
    with pytest.raises(
        ValidationError,
        match=r"instance_groups\[0\] 'ig-large': target_count 0 is below the 2 node\(s\) listed "
        r"for it that are not being deleted",
    ):
        _idle_pool_input(0)
    # A node being deleted may already be out of HyperPod's target: 1 is consistent.
    assert _idle_pool_input(1, deleting=True).nodes[1].deleting


def test_a_target_above_the_nodes_listed_counts_nodes_still_to_come() -> None:
    """HyperPod may not list a requested node yet: the target, not the list, floors the group."""
    decision = plan_nodes(_idle_pool_input(3)).for_pool("default")
    assert [(t.target_before, t.target_after) for t in decision.targets] == [(3, 1)]


def test_consolidation_never_moves_pods_whose_place_depends_on_other_pods() -> None:
    """Two light nodes merge into one (as in ``test_when_empty_leaves_underutilized_nodes_alone``),
    unless the pods are one per node: a required hostname anti-affinity (or any spread or
    affinity) pins them, and Karpenter's consolidation only removes a node when its pods can be
    rescheduled (https://karpenter.sh/docs/concepts/disruption/#consolidation), which here they
    cannot. ebb does not simulate moving such pods at all; their nodes go only once empty.
    """
    from ebb.core.nodes.topology import HOSTNAME_KEY, LabelSelector, PodAffinityTerm

    nodes = [node("a", pods={"web": 1}), node("b", pods={"web": 1})]
    assert removed(decide(nodes, web=2)) == [("a", RemovalKind.DELETE)]
    apart = PodGroup(
        name="web",
        replicas=2,
        requests=Resources.of(cpu="1", memory="1Gi"),
        labels={"app": "web"},
        pod_anti_affinity=(
            PodAffinityTerm(
                topology_key=HOSTNAME_KEY, label_selector=LabelSelector(match_labels={"app": "web"})
            ),
        ),
    )
    counts = {"small": 0, "large": 2}
    result = plan_nodes(
        PlanningInput(
            now=NOW,
            pod_groups=(apart,),
            node_pools=(NodePool(name="default", instance_groups=("ig-small", "ig-large")),),
            instance_groups=(
                InstanceGroup(
                    name="ig-small", zone="z1", instance_types=("small",), target_count=counts["small"]
                ),
                InstanceGroup(
                    name="ig-large", zone="z1", instance_types=("large",), target_count=counts["large"]
                ),
            ),
            instance_types=TYPES,
            nodes=tuple(nodes),
        )
    ).for_pool("default")
    assert removed(result) == []
    assert not result.replacements
