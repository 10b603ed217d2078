"""The node plan's details, through :func:`plan_nodes`: where pending pods may go, what limits and
minimums allow, how budgets and free room constrain consolidation, and offering expiry edges.

Karpenter facts these mirror, with their sources:

* kubernetes-sigs/karpenter ``pkg/controllers/provisioning/scheduling/existingnode.go``
  (``ExistingNode.CanAdd``): a pod goes onto an existing or in-flight node only when it tolerates
  the node's taints, its requirements match the node's labels and its requests fit what is left;
  ``pkg/controllers/state/statenode.go``: nodes marked for deletion take no new pods.
* Budgets per reason: https://karpenter.sh/docs/concepts/disruption/#reasons (a budget listing
  ``reasons`` limits only those; ``Empty`` and ``Underutilized`` are separate reasons).
* NodePool limits count the capacity of launched nodes (https://karpenter.sh/docs/concepts/nodepools/#speclimits).
* Multi-node consolidation: "several nodes ... replaced with a single cheaper node"
  (https://karpenter.sh/docs/concepts/disruption/#consolidation).
* The offering cache: aws/karpenter-provider-aws ``pkg/cache/unavailableofferings.go``: an entry is
  avoided until its TTL passes (a go-cache item expires when ``now > expiration``; ebb expires it at
  ``now >= until``, see ``ebb.core.nodes.offerings``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ebb.core.nodes import (
    BlockedNode,
    Budget,
    Disruption,
    DisruptionReason,
    ExistingNode,
    ExistingPlacement,
    GroupTarget,
    InstanceGroup,
    InstanceType,
    NewNodes,
    NodePlan,
    NodePlans,
    NodePool,
    NodeRemoval,
    NodeSelectorTerm,
    NodeState,
    OfferingKey,
    Operator,
    PlanningInput,
    PlanNote,
    PodDeletion,
    PodGroup,
    PodMove,
    PodsOnNode,
    PoolLimits,
    RemovalKind,
    Requirement,
    Resources,
    Taint,
    TaintEffect,
    Toleration,
    UnavailableOfferings,
    UnplacedPods,
    UnplacedReason,
    plan_nodes,
)
from ebb.core.nodes.catalogue import INSTANCE_GROUP_LABEL, INSTANCE_TYPE_LABEL

NOW = datetime(2025, 1, 6, 12, tzinfo=UTC)
LONG_AGO = NOW - timedelta(hours=2)
SMALL = InstanceType(name="small", vcpus=4, memory_mib=16384, price_per_hour=0.20)
LARGE = InstanceType(name="large", vcpus=16, memory_mib=65536, price_per_hour=0.80)
TYPES = (SMALL, LARGE)
EVERYTHING = Disruption(budgets=(Budget(nodes="100%"),))


def web(replicas: int, cpu: str = "1", name: str = "web", **fields: object) -> PodGroup:
    return PodGroup.model_validate(
        {"name": name, "replicas": replicas, "requests": Resources.of(cpu=cpu, memory="1Gi"), **fields}
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


def ig(type_name: str, **fields: object) -> InstanceGroup:
    return InstanceGroup.model_validate(
        {"name": f"ig-{type_name}", "zone": "z1", "instance_types": (type_name,), **fields}
    )


def run(
    workload: list[PodGroup],
    *,
    nodes: tuple[ExistingNode, ...] = (),
    types: tuple[InstanceType, ...] = TYPES,
    groups: tuple[InstanceGroup, ...] | None = None,
    pools: tuple[NodePool, ...] | None = None,
    disruption: Disruption = EVERYTHING,
    limits: PoolLimits | None = None,
    unavailable: UnavailableOfferings | None = None,
    now: datetime = NOW,
    exact_search_states: int = 20_000,
) -> NodePlans:
    groups = groups if groups is not None else tuple(ig(t.name) for t in types)
    pools = pools or (
        NodePool(
            name="default",
            instance_groups=tuple(g.name for g in groups),
            disruption=disruption,
            limits=limits or PoolLimits(),
        ),
    )
    return plan_nodes(
        PlanningInput(
            now=now,
            pod_groups=tuple(workload),
            node_pools=pools,
            instance_groups=groups,
            instance_types=types,
            nodes=nodes,
            unavailable=unavailable or UnavailableOfferings(),
            exact_search_states=exact_search_states,
        )
    )


def placed(plan: NodePlan) -> list[tuple[str, str, int]]:
    return [(p.node, p.group, p.count) for p in plan.placements]


def launched(plan: NodePlan) -> dict[str, int]:
    out: dict[str, int] = {}
    for nodes in plan.new_nodes:
        out[nodes.instance_group] = out.get(nodes.instance_group, 0) + nodes.count
    return out


# --- pending pods and existing nodes --------------------------------------------------------------


def test_pending_pods_skip_an_existing_node_whose_labels_they_do_not_select() -> None:
    """The small node has room, but the pods select large nodes: a large node is launched."""
    picky = web(2, node_selector={INSTANCE_TYPE_LABEL: "large"})
    plan = run([picky], nodes=(node("roomy-small", "small"),)).for_pool("default")
    assert placed(plan) == []
    assert launched(plan) == {"ig-large": 1}
    assert [(n.instance_group, n.pods_per_node) for n in plan.new_nodes] == [("ig-large", (("web", 2),))]


def test_pending_pods_skip_the_nodes_of_a_pool_whose_taints_they_do_not_tolerate() -> None:
    """The tainted pool is tried first (weight) and has an empty node; the pods go to the open pool."""
    dedicated = Taint(key="dedicated", value="training", effect=TaintEffect.NO_SCHEDULE)
    pools = (
        NodePool(name="tainted", instance_groups=("ig-large",), taints=(dedicated,), weight=50),
        NodePool(name="open", instance_groups=("ig-small",)),
    )
    nodes = (node("empty-tainted", node_pool="tainted"),)
    plans = run([web(2)], nodes=nodes, pools=pools)
    assert placed(plans.for_pool("tainted")) == []
    assert launched(plans.for_pool("tainted")) == {}
    assert launched(plans.for_pool("open")) == {"ig-small": 1}
    tolerant = web(2, tolerations=(Toleration(key="dedicated", operator="Exists"),))
    assert placed(run([tolerant], nodes=nodes, pools=pools).for_pool("tainted")) == [
        ("empty-tainted", "web", 2)
    ]


@pytest.mark.parametrize(
    ("fields", "takes_pods"),
    [
        ({"state": NodeState.READY}, True),
        ({"state": NodeState.REGISTERED, "initialized_at": None}, True),
        ({"state": NodeState.LAUNCHING, "initialized_at": None}, True),
        ({"state": NodeState.NOT_READY}, False),
        ({"deleting": True}, False),
    ],
    ids=["ready", "registered", "launching", "not-ready", "deleting"],
)
def test_pending_pods_go_only_onto_nodes_that_take_pods(fields: dict[str, object], takes_pods: bool) -> None:
    plan = run([web(2)], nodes=(node("existing", **fields),)).for_pool("default")
    if takes_pods:
        assert placed(plan) == [("existing", "web", 2)]
        assert plan.new_nodes == ()
    else:
        assert placed(plan) == []
        assert launched(plan) == {"ig-small": 1}


def test_a_node_without_a_free_pod_slot_takes_no_pod_whatever_its_cpu() -> None:
    tight = InstanceType(name="large", vcpus=16, memory_mib=65536, price_per_hour=0.80, max_pods=3)
    full = node("full", pods={"web": 3})
    plan = run([web(4)], nodes=(full,), types=(SMALL, tight)).for_pool("default")
    assert placed(plan) == []
    assert launched(plan) == {"ig-small": 1}


def test_two_pending_groups_share_an_existing_node_and_its_free_room() -> None:
    """The larger pods go first; the smaller ones get what is left, the rest a new node."""
    big, small = web(2, cpu="5", name="big"), web(3, cpu="3", name="small")
    plan = run([small, big], nodes=(node("host"),)).for_pool("default")
    assert placed(plan) == [("host", "big", 2), ("host", "small", 2)]
    assert launched(plan) == {"ig-small": 1}
    assert plan.new_nodes[0].pods_per_node == (("small", 1),)


# --- pool limits ----------------------------------------------------------------------------------

CHEAP_BIG = InstanceType(name="cheap-big", vcpus=16, memory_mib=65536, price_per_hour=0.50)
DEAR_SMALL = InstanceType(name="dear-small", vcpus=4, memory_mib=16384, price_per_hour=1.00)


@pytest.mark.parametrize("exact_search_states", [20_000, 0], ids=["exact", "heuristic"])
def test_a_cpu_limit_keeps_the_cheaper_larger_type_to_what_fits_under_it(exact_search_states: int) -> None:
    """20 vCPU allowed: one 16-vCPU node (4 pods) and one 4-vCPU node (1 pod), never two large ones."""
    plan = run(
        [web(5, cpu="3500m")],
        types=(CHEAP_BIG, DEAR_SMALL),
        limits=PoolLimits(cpu_millis=20_000),
        exact_search_states=exact_search_states,
    ).for_pool("default")
    assert launched(plan) == {"ig-cheap-big": 1, "ig-dear-small": 1}
    assert plan.unplaced == ()
    assert plan.added_cost_per_hour == pytest.approx(1.5)


@pytest.mark.parametrize("exact_search_states", [20_000, 0], ids=["exact", "heuristic"])
def test_a_node_limit_caps_the_nodes_of_every_batch_together(exact_search_states: int) -> None:
    """Two pod shapes want five nodes; three are allowed; the rest is reported against the limit."""
    plan = run(
        [web(4, cpu="9", name="wide"), web(4, cpu="6", name="narrow")],
        types=(LARGE,),
        limits=PoolLimits(nodes=3),
        exact_search_states=exact_search_states,
    ).for_pool("default")
    assert plan.nodes_added == 3
    pods_placed = sum(count * n.count for n in plan.new_nodes for _, count in n.pods_per_node)
    assert pods_placed + sum(u.count for u in plan.unplaced) == 8
    assert {u.reason for u in plan.unplaced} == {UnplacedReason.POOL_LIMIT}
    assert all(u.detail.startswith("limit on nodes") for u in plan.unplaced)


# --- targets --------------------------------------------------------------------------------------


def test_several_batches_of_one_group_add_up_in_its_target() -> None:
    """3 x (9 + 7 vCPU) and 1 x (7 + 7 vCPU) on 16-vCPU nodes: two batches, four nodes."""
    groups = (ig("large", target_count=2),)
    plan = run(
        [web(3, cpu="9", name="wide"), web(5, cpu="7", name="narrow")], types=(LARGE,), groups=groups
    ).for_pool("default")
    assert sorted((n.count, n.pods_per_node) for n in plan.new_nodes) == [
        (1, (("narrow", 2),)),
        (3, (("wide", 1), ("narrow", 1))),
    ]
    assert [(t.instance_group, t.target_before, t.target_after) for t in plan.targets] == [("ig-large", 2, 6)]


def test_a_group_at_its_minimum_keeps_its_nodes_empty_or_not() -> None:
    groups = (ig("small", target_count=1), ig("large", target_count=2, min_count=2))
    nodes = (node("idle"), node("light", pods={"web": 1}), node("spare-small", "small"))
    plan = run([web(1)], nodes=nodes, groups=groups).for_pool("default")
    assert [(r.node, r.kind) for r in plan.removals] == [("spare-small", RemovalKind.EMPTY)]
    assert {b.node: b.why for b in plan.blocked} == {
        "idle": "empty, but instance group ig-large is at its min_count 2"
    }
    assert [(t.instance_group, t.target_after) for t in plan.targets] == [("ig-small", 0)]


# --- budgets and consolidation --------------------------------------------------------------------


def test_a_budget_for_empty_nodes_only_holds_them_and_not_underutilized_ones() -> None:
    only_empty = Disruption(budgets=(Budget(nodes="0", reasons=(DisruptionReason.EMPTY,)),))
    nodes = (node("idle", "small"), node("light", pods={"web": 1}), node("host", pods={"web": 12}))
    plan = run([web(13)], nodes=nodes, disruption=only_empty).for_pool("default")
    assert [(r.node, r.kind, r.reason) for r in plan.removals] == [
        ("light", RemovalKind.DELETE, DisruptionReason.UNDERUTILIZED)
    ]
    assert [(b.node, b.why) for b in plan.blocked] == [
        (
            "idle",
            "empty, held by the disruption budget (0 more node(s) allowed by budget nodes=0 reasons=Empty)",
        )
    ]


def test_an_underutilized_budget_counts_the_empty_nodes_removed_first() -> None:
    """Two may go in all: the empty node and one underutilized node, not two of those."""
    two = Disruption(budgets=(Budget(nodes="2"),))
    nodes = (
        node("idle"),
        node("a", pods={"web": 1}),
        node("b", pods={"web": 1}),
        node("host", pods={"web": 4}),
    )
    plan = run([web(6)], nodes=nodes, disruption=two).for_pool("default")
    assert [(r.node, r.kind) for r in plan.removals] == [
        ("idle", RemovalKind.EMPTY),
        ("a", RemovalKind.DELETE),
    ]


def test_pods_of_several_groups_moving_onto_one_node_share_its_free_room() -> None:
    """6 vCPU are free on the host: 2 x 2 vCPU and 3 x 1 vCPU each fit, together they do not."""
    api = web(2, cpu="2", name="api")
    nodes = (node("host", pods={"web": 10}), node("light", pods={"api": 2, "web": 3}))
    only_large = (ig("large", target_count=2),)
    plan = run([api, web(13)], nodes=nodes, types=(LARGE,), groups=only_large).for_pool("default")
    assert plan.removals == ()
    roomier = (node("host", pods={"web": 9}), node("light", pods={"api": 2, "web": 3}))
    plan = run([api, web(12)], nodes=roomier, types=(LARGE,), groups=only_large).for_pool("default")
    assert [(r.node, r.kind) for r in plan.removals] == [("light", RemovalKind.DELETE)]
    assert sorted((m.group, m.destination, m.count) for m in plan.moves) == [
        ("api", "host", 2),
        ("web", "host", 3),
    ]


def test_a_multi_node_replacement_is_reported_as_one() -> None:
    """Three large nodes with one pod each become one small node: three Replace removals, one launch."""
    nodes = tuple(node(f"l{i}", pods={"web": 1}) for i in range(3))
    plan = run([web(3)], nodes=nodes).for_pool("default")
    assert [(r.node, r.kind, r.reason, r.saves_per_hour) for r in plan.removals] == [
        (f"l{i}", RemovalKind.REPLACE, DisruptionReason.UNDERUTILIZED, 0.80) for i in range(3)
    ]
    (replacement,) = plan.replacements
    assert (replacement.instance_group, replacement.count, replacement.pods_per_node) == (
        "ig-small",
        1,
        (("web", 3),),
    )
    assert replacement.price_per_hour == pytest.approx(0.20)
    assert [(m.group, m.destination, m.count) for m in plan.moves] == [("web", "new", 3)]
    assert [(t.instance_group, t.target_before, t.target_after) for t in plan.targets] == [
        ("ig-small", 0, 1),
        ("ig-large", 3, 0),
    ]
    assert plan.new_nodes == ()


# --- offering expiry at the edge ------------------------------------------------------------------


def test_an_unavailable_offering_is_avoided_until_the_instant_it_expires() -> None:
    cheap = InstanceType(name="cheap", vcpus=8, memory_mib=32768, price_per_hour=0.30)
    dear = InstanceType(name="dear", vcpus=8, memory_mib=32768, price_per_hour=0.45)
    short = UnavailableOfferings().mark(
        OfferingKey(instance_group="ig-cheap", instance_type="cheap", zone="z1"), NOW
    )
    until = NOW + timedelta(minutes=3)
    just_before = until - timedelta(microseconds=1)

    def chosen(now: datetime) -> dict[str, int]:
        return launched(
            run([web(2, cpu="3")], types=(cheap, dear), unavailable=short, now=now).for_pool("default")
        )

    assert chosen(just_before) == {"ig-dear": 1}
    assert chosen(until) == {"ig-cheap": 1}
    assert short.next_expiry(just_before) == until
    assert short.next_expiry(until) is None
    assert short.prune(just_before) == short
    assert short.prune(until).entries == ()


# --- what the plan says ---------------------------------------------------------------------------


def test_a_plan_reads_section_by_section() -> None:
    plan = NodePlan(
        node_pool="gpu",
        placements=(ExistingPlacement(node="n1", group="web", count=2),),
        new_nodes=(
            NewNodes(
                instance_group="ig-a",
                instance_types=("t1", "t2"),
                zone="z1",
                count=2,
                pods_per_node=(("web", 3), ("api", 1)),
                price_per_hour=1.25,
            ),
        ),
        targets=(GroupTarget(instance_group="ig-a", target_before=1, target_after=3),),
        unplaced=(
            UnplacedPods(
                group="big",
                count=1,
                reason=UnplacedReason.POOL_LIMIT,
                node_pool="gpu",
                detail="limit on nodes",
            ),
        ),
        removals=(
            NodeRemoval(
                node="n2",
                instance_group="ig-a",
                kind=RemovalKind.DELETE,
                reason=DisruptionReason.UNDERUTILIZED,
                saves_per_hour=0.5,
            ),
        ),
        replacements=(
            NewNodes(
                instance_group="ig-b",
                instance_types=("t3",),
                zone="z2",
                count=1,
                pods_per_node=(("web", 1),),
                price_per_hour=0.25,
            ),
        ),
        moves=(PodMove(group="web", destination="n1", count=1),),
        deletions=(PodDeletion(node="n2", group="web", count=1, rank=0),),
        blocked=(BlockedNode(node="n3", why="not ready"),),
        notes=(PlanNote(code="Heuristic", message="chosen by heuristics"),),
    )
    assert str(plan) == "\n".join(
        [
            "node pool 'gpu': +2 node(s), +$2.5000/h",
            "  on existing nodes:",
            "    2 pod(s) of 'web' -> existing node 'n1'",
            "  new nodes:",
            "    2 new node(s) in ig-a (t1|t2, z1) at $1.2500/h each, holding 3 x web, 1 x api per node",
            "  targets:",
            "    ig-a: target 1 -> 3",
            "  unplaced:",
            "    1 pod(s) of 'big' cannot be placed in node pool 'gpu': NodePoolLimit (limit on nodes)",
            "  removals:",
            "    remove 'n2' (ig-a, Delete, $0.5000/h)",
            "  replacements:",
            "    1 new node(s) in ig-b (t3, z2) at $0.2500/h each, holding 1 x web per node",
            "  expected moves:",
            "    1 pod(s) of 'web' -> n1",
            "  delete first:",
            "    #0: delete 1 pod(s) of 'web' on 'n2'",
            "  kept:",
            "    'n3' kept: not ready",
            "  notes:",
            "    [Heuristic] chosen by heuristics",
        ]
    )
    nowhere = UnplacedPods(group="odd", count=2, reason=UnplacedReason.NO_MATCHING_POOL)
    both = NodePlans(plans=(NodePlan(node_pool="empty"),), unplaced=(nowhere,))
    assert str(both) == (
        "node pool 'empty': +0 node(s), +$0.0000/h\n"
        "unplaced: 2 pod(s) of 'odd' cannot be placed: NoMatchingNodePool"
    )
    assert both.added_cost_per_hour == 0
    with pytest.raises(KeyError, match="other"):
        both.for_pool("other")


def test_a_not_ready_node_is_kept_and_says_so() -> None:
    plan = run([web(0)], nodes=(node("sick", state=NodeState.NOT_READY),)).for_pool("default")
    assert [(b.node, b.why) for b in plan.blocked] == [("sick", "not ready")]


def test_consolidation_moves_pods_only_onto_nodes_they_may_run_on() -> None:
    """'light' goes first (fewest pods), but its pod's affinity keeps it off the host's group."""
    groups = (
        ig("large", target_count=1),
        InstanceGroup(name="ig-other", zone="z1", instance_types=("large",), target_count=1),
    )
    only_large = NodeSelectorTerm(
        match_expressions=(Requirement(key=INSTANCE_GROUP_LABEL, operator=Operator.IN, values=("ig-large",)),)
    )
    other = web(2, name="other")
    nodes = (node("light", pods={"web": 1}), node("host", pods={"other": 2}, instance_group="ig-other"))
    free = run([web(1), other], nodes=nodes, types=(LARGE,), groups=groups).for_pool("default")
    assert [r.node for r in free.removals] == ["light"]
    picky = run([web(1, node_affinity=(only_large,)), other], nodes=nodes, types=(LARGE,), groups=groups)
    assert [r.node for r in picky.for_pool("default").removals] == ["host"]


def test_memory_on_the_destination_bounds_what_moves_there() -> None:
    """The host has CPU to spare but only 3Gi free: a 2 x 2Gi node cannot empty onto it."""
    mem = PodGroup(name="mem", replicas=2, requests=Resources.of(cpu="100m", memory="2Gi"))
    filler = PodGroup(name="filler", replicas=1, requests=Resources.of(cpu="100m", memory="61Gi"))
    nodes = (node("host", pods={"filler": 1}), node("light", pods={"mem": 2}))
    plan = run([mem, filler], nodes=nodes, types=(LARGE,), groups=(ig("large", target_count=2),)).for_pool(
        "default"
    )
    assert plan.removals == ()


def test_gt_and_lt_compare_decimal_integers() -> None:
    """k8s.io/apimachinery labels.Requirement.Matches parses Gt/Lt values as base-10 integers."""
    ten = Requirement(key="k", operator=Operator.GT, values=("9",))
    assert ten.matches({"k": "10"})
    assert not ten.matches({"k": "a"})  # "a" is a number in base 11, not in base 10
    assert Requirement(key="k", operator=Operator.LT, values=("10",)).matches({"k": "9"})


def test_marked_offerings_are_kept_in_a_stable_order() -> None:
    first = OfferingKey(instance_group="b-group", instance_type="t", zone="z")
    second = OfferingKey(instance_group="a-group", instance_type="t", zone="z")
    record = UnavailableOfferings().mark(first, NOW).mark(second, NOW)
    assert [entry.offering for entry in record.entries] == [second, first]


def test_pods_on_pinned_nodes_are_deleted_last() -> None:
    """Falling replicas take pods from a node consolidation could remove, not from a pinned one."""
    nodes = (node("a-pinned", pods={"web": 1}, do_not_disrupt=True), node("b-free", pods={"web": 1}))
    plan = run([web(1)], nodes=nodes).for_pool("default")
    assert [(d.node, d.count) for d in plan.deletions] == [("b-free", 1)]


def test_when_every_offering_lacks_capacity_the_detail_names_only_the_groups_the_pods_may_use() -> None:
    only_large = NodeSelectorTerm(
        match_expressions=(Requirement(key=INSTANCE_TYPE_LABEL, operator=Operator.IN, values=("large",)),)
    )
    short = UnavailableOfferings()
    for type_name in ("small", "large"):
        short = short.mark(
            OfferingKey(instance_group=f"ig-{type_name}", instance_type=type_name, zone="z1"), NOW
        )
    plan = run([web(1, node_affinity=(only_large,))], unavailable=short).for_pool("default")
    (unplaced,) = plan.unplaced
    assert unplaced.reason is UnplacedReason.OFFERINGS_UNAVAILABLE
    assert unplaced.detail == "ig-large: large lack capacity"


def test_the_unavailable_detail_names_each_group_and_each_type_that_lacks_capacity() -> None:
    """A flexible group whose every type lacks capacity, and a group at its maximum, each said."""
    flex = InstanceGroup(name="ig-flex", zone="z1", instance_types=("small", "large"))
    capped = ig("large", target_count=2, max_count=2)
    short = UnavailableOfferings()
    for type_name in ("small", "large"):
        short = short.mark(OfferingKey(instance_group="ig-flex", instance_type=type_name, zone="z1"), NOW)
    nodes = (node("a", pods={"filler": 1}), node("b", pods={"filler": 1}))
    filler = PodGroup(name="filler", replicas=2, requests=Resources.of(cpu="15", memory="1Gi"))
    plan = run([web(1, cpu="2"), filler], nodes=nodes, groups=(flex, capped), unavailable=short)
    (unplaced,) = plan.for_pool("default").unplaced
    assert unplaced.reason is UnplacedReason.OFFERINGS_UNAVAILABLE
    assert unplaced.detail == "ig-flex: small, large lack capacity; ig-large: at max_count 2"
