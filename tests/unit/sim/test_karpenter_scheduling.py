"""The Karpenter reference's scheduling order: in-flight NodeClaims fewest pods first, existing nodes
initialized first then by name, and the spread over the order of tied claims.

Sources:

* kubernetes-sigs/karpenter ``pkg/controllers/provisioning/scheduling/scheduler.go`` (commit
  5ed25f098dd11609bf2353e4b74341b3b957a063), ``Scheduler.add``: existing nodes first, then
  ``sort.Slice(s.newNodeClaims, func(a, b int) bool { return len(s.newNodeClaims[a].Pods) <
  len(s.newNodeClaims[b].Pods) })`` before every pod, then the first claim the pod fits, else a new
  claim; ``calculateExistingNodeClaims``: ``sort.SliceStable`` with initialized nodes first, then by
  ``Name()``.
* golang/go ``src/sort/zsortfunc.go`` (go1.21.0), ``pdqsort_func``: slices of up to
  ``maxInsertion = 12`` elements are insertion-sorted, which keeps tied elements in order; longer
  ones are not sorted stably.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ebb.core.nodes import (
    ExistingNode,
    InstanceGroup,
    InstanceType,
    NodePool,
    NodeState,
    PlanningInput,
    PodGroup,
    PodsOnNode,
    Resources,
)
from ebb.sim.karpenter_reference import karpenter_plan, karpenter_tie_spread

NOW = datetime(2025, 1, 6, 12, tzinfo=UTC)
TYPES = (
    InstanceType(name="big", vcpus=4, memory_mib=16384, price_per_hour=1.0),
    InstanceType(name="small", vcpus=2, memory_mib=8192, price_per_hour=0.6),
)
GROUPS = tuple(InstanceGroup(name=f"g-{t.name}", zone="z-a", instance_types=(t.name,)) for t in TYPES)
POOL = NodePool(name="default", instance_groups=tuple(g.name for g in GROUPS))


def pending(*shapes: tuple[str, int], nodes: tuple[ExistingNode, ...] = ()) -> PlanningInput:
    """Pod groups ``p0, p1, ...`` of ``(cpu, replicas)``, 1 GiB each, in one pool over both types."""
    pods = tuple(
        PodGroup(name=f"p{i}", replicas=count, requests=Resources.of(cpu=cpu, memory="1Gi"))
        for i, (cpu, count) in enumerate(shapes)
    )
    return PlanningInput(
        now=NOW,
        pod_groups=pods,
        node_pools=(POOL,),
        instance_groups=GROUPS,
        instance_types=TYPES,
        nodes=nodes,
    )


def test_each_pod_joins_the_in_flight_claim_with_the_fewest_pods() -> None:
    """Three shapes, two claims in flight: the second 0.5-CPU pod goes to the claim with fewer pods.

    p0 (3 CPU) opens claim A (big only); p1 (2 CPU) does not fit A and opens claim B (big or
    small). The first p2 (0.5 CPU): both hold one pod, the tie keeps A first, A takes it (3.5 CPU).
    The second p2: B has fewer pods (1 against 2) so it comes first and takes it although A still
    has room; B now needs 2.5 CPU, so only big is left for it. Offering each pod to the oldest claim
    first (the reference before this order was fixed) put both p2 on A and launched B as small,
    $1.60 instead of $2.00.
    """
    plan = karpenter_plan(pending(("3", 1), ("2", 1), ("500m", 2)))
    assert [(n.instance_type, n.pods) for n in plan.new_nodes] == [
        ("big", {"p0": 1, "p2": 1}),
        ("big", {"p1": 1, "p2": 1}),
    ]
    assert plan.cost_per_hour == 2.0
    assert not plan.unplaced


def test_existing_nodes_are_tried_initialized_first_then_by_name() -> None:
    """A joining node is tried after every ready one, and ready nodes by name, whatever their pool
    weight or input order (``calculateExistingNodeClaims``'s ``sort.SliceStable``)."""
    heavy = NodePool(name="heavy", instance_groups=("g-small",), weight=50)
    light = NodePool(name="light", instance_groups=("g-big",))
    nodes = (
        ExistingNode(
            name="a-joining",
            node_pool="light",
            instance_group="g-big",
            instance_type="big",
            state=NodeState.REGISTERED,
        ),
        ExistingNode(name="z-ready", node_pool="heavy", instance_group="g-small", instance_type="small"),
        ExistingNode(name="m-ready", node_pool="light", instance_group="g-big", instance_type="big"),
    )
    inp = PlanningInput(
        now=NOW,
        pod_groups=(PodGroup(name="web", replicas=6, requests=Resources.of(cpu="1", memory="1Gi")),),
        node_pools=(heavy, light),
        instance_groups=GROUPS,
        instance_types=TYPES,
        nodes=nodes,
    )
    plan = karpenter_plan(inp)
    # m-ready (4 CPU) fills first, then z-ready (2 CPU, in the heavier pool), the joining node last.
    assert list(plan.on_existing.items()) == [("m-ready", {"web": 4}), ("z-ready", {"web": 2})]
    assert not plan.new_nodes


def test_pods_already_bound_count_and_only_the_rest_are_placed() -> None:
    nodes = (
        ExistingNode(
            name="n1",
            node_pool="default",
            instance_group="g-big",
            instance_type="big",
            pods=(PodsOnNode(group="p0", count=3),),
        ),
    )
    plan = karpenter_plan(pending(("1", 5), nodes=nodes))
    assert plan.on_existing == {"n1": {"p0": 1}}
    assert [(n.instance_type, n.pods) for n in plan.new_nodes] == [("small", {"p0": 1})]


# A problem whose cost depends on how tied claims are ordered (found by search over seeded shapes).
TIE_SENSITIVE = (("3000m", 6), ("1500m", 3), ("1000m", 1), ("500m", 3))


def test_the_order_of_tied_claims_changes_the_cost_and_the_spread_reports_it() -> None:
    inp = pending(*TIE_SENSITIVE)
    spread = karpenter_tie_spread(inp, tie_seeds=range(1, 9))
    assert spread.costs[0] == karpenter_plan(inp).cost_per_hour
    assert len(spread.costs) == 9
    assert (spread.minimum, spread.maximum) == (7.6, 8.0)
    assert spread.minimum <= spread.median <= spread.maximum


def test_a_tie_seed_gives_the_same_plan_every_time() -> None:
    inp = pending(*TIE_SENSITIVE)
    first = karpenter_plan(inp, tie_seed=5)
    again = karpenter_plan(inp, tie_seed=5)
    assert [(n.instance_type, n.pods) for n in first.new_nodes] == [
        (n.instance_type, n.pods) for n in again.new_nodes
    ]
