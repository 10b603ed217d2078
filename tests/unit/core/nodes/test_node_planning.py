"""Scale-out planning: which new nodes, of which instance groups, hold which pods, and why not.

Karpenter behaviour mirrored here, kubernetes-sigs/karpenter ``pkg/controllers/provisioning``
(``scheduling/queue.go`` commit 3c16d48c27cf25338a6f1f634ffb30a1fd03d7d9 and the scheduler):
existing and in-flight nodes are used before new ones; daemonset overhead is reserved once per
node; NodePools are tried by descending weight; NodePool limits compare with the capacity of the
nodes launched; an offering that lacked capacity is skipped for three minutes
(aws/karpenter-provider-aws ``pkg/cache/cache.go`` ``UnavailableOfferingsTTL``). The kubelet's
pod limit counts every pod, DaemonSet pods included
(https://kubernetes.io/docs/reference/config-api/kubelet-config.v1beta1/ ``maxPods``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from ebb.core.nodes import (
    ExistingNode,
    InstanceGroup,
    InstanceType,
    NodePlans,
    NodePool,
    NodeSelectorTerm,
    NodeState,
    OfferingKey,
    Operator,
    PlanningInput,
    PodGroup,
    PodsOnNode,
    PoolLimits,
    Requirement,
    Resources,
    Taint,
    TaintEffect,
    Toleration,
    UnavailableOfferings,
    UnplacedReason,
    plan_nodes,
)
from ebb.core.nodes.catalogue import INSTANCE_TYPE_LABEL
from ebb.core.nodes.quantities import GIB, ZERO

NOW = datetime(2025, 1, 6, 12, tzinfo=UTC)


def itype(
    name: str, vcpus: int, memory_gib: int, price: float, *, gpus: int = 0, max_pods: int = 110
) -> InstanceType:
    return InstanceType(
        name=name,
        vcpus=vcpus,
        memory_mib=memory_gib * 1024,
        gpus=gpus,
        max_pods=max_pods,
        price_per_hour=price,
    )


def group(type_name: str, **fields: object) -> InstanceGroup:
    return InstanceGroup.model_validate(
        {"name": f"ig-{type_name}", "zone": "z1", "instance_types": (type_name,), **fields}
    )


def pods(
    name: str, replicas: int, cpu: str, memory: str = "1Gi", gpus: int = 0, **fields: object
) -> PodGroup:
    return PodGroup.model_validate(
        {
            "name": name,
            "replicas": replicas,
            "requests": Resources.of(cpu=cpu, memory=memory, gpus=gpus),
            **fields,
        }
    )


def plan(
    types: list[InstanceType],
    workload: list[PodGroup],
    *,
    groups: list[InstanceGroup] | None = None,
    pools: list[NodePool] | None = None,
    nodes: tuple[ExistingNode, ...] = (),
    unavailable: UnavailableOfferings | None = None,
    now: datetime = NOW,
    overhead: Resources = ZERO,
    exact_search_states: int = 20_000,
) -> NodePlans:
    groups = groups if groups is not None else [group(t.name) for t in types]
    pools = (
        pools
        if pools is not None
        else [
            NodePool(
                name="default", instance_groups=tuple(g.name for g in groups), daemonset_overhead=overhead
            )
        ]
    )
    return plan_nodes(
        PlanningInput(
            now=now,
            pod_groups=tuple(workload),
            node_pools=tuple(pools),
            instance_groups=tuple(groups),
            instance_types=tuple(types),
            nodes=nodes,
            unavailable=unavailable or UnavailableOfferings(),
            exact_search_states=exact_search_states,
        )
    )


def launched(plans: NodePlans, pool: str = "default") -> dict[str, int]:
    """Instance group -> new nodes."""
    out: dict[str, int] = {}
    for nodes in plans.for_pool(pool).new_nodes:
        out[nodes.instance_group] = out.get(nodes.instance_group, 0) + nodes.count
    return out


CATALOGUE = [itype("small", 4, 16, 0.20), itype("medium", 8, 32, 0.38), itype("large", 16, 64, 0.80)]


def test_the_smallest_type_that_fits_is_chosen() -> None:
    assert launched(plan(CATALOGUE, [pods("web", 1, "3")])) == {"ig-small": 1}
    assert launched(plan(CATALOGUE, [pods("web", 1, "6")])) == {"ig-medium": 1}


def test_the_cheapest_combination_of_types_wins() -> None:
    """Three 3-vCPU pods: a medium (two pods) and a small ($0.58) beat three smalls ($0.60) or a large."""
    result = plan(CATALOGUE, [pods("web", 3, "3")])
    assert launched(result) == {"ig-medium": 1, "ig-small": 1}
    assert result.added_cost_per_hour == pytest.approx(0.58)


def test_many_pods_share_a_node_up_to_the_pod_limit_daemonsets_included() -> None:
    roomy = [itype("roomy", 64, 256, 1.0, max_pods=10)]
    overhead = Resources(cpu_millis=100, memory_bytes=GIB // 4, pods=2)
    result = plan(roomy, [pods("tiny", 20, "10m", "10Mi")], overhead=overhead)
    new = result.for_pool("default").new_nodes
    assert sum(n.count for n in new) == 3
    assert all(sum(count for _, count in n.pods_per_node) <= 8 for n in new)


def test_overhead_is_counted_once_per_node() -> None:
    """4 vCPU - 100m kubelet - 400m daemonsets leaves 3500m: seven 500m pods per node."""
    small = [
        InstanceType(
            name="small",
            vcpus=4,
            memory_mib=16384,
            price_per_hour=0.2,
            kube_reserved=Resources(cpu_millis=100),
        )
    ]
    overhead = Resources(cpu_millis=400)
    assert launched(plan(small, [pods("web", 14, "500m", "100Mi")], overhead=overhead)) == {"ig-small": 2}
    assert launched(plan(small, [pods("web", 15, "500m", "100Mi")], overhead=overhead)) == {"ig-small": 3}


def test_gpu_pods_only_land_on_gpu_groups() -> None:
    """Three 1-GPU pods need three 1-GPU nodes ($3.60 < one 4-GPU node at $5); web pods use spare CPU."""
    types = [*CATALOGUE, itype("gpu1", 8, 32, 1.2, gpus=1), itype("gpu4", 48, 192, 5.0, gpus=4)]
    result = plan(types, [pods("llm", 3, "4", "16Gi", gpus=1), pods("web", 2, "1")])
    assert launched(result) == {"ig-gpu1": 3}
    assert result.added_cost_per_hour == pytest.approx(3.6)
    cpu_only = plan(CATALOGUE, [pods("llm", 1, "1", gpus=1)])
    assert cpu_only.for_pool("default").unplaced[0].reason is UnplacedReason.FITS_NO_TYPE


def test_two_scalers_share_nodes_when_that_is_cheaper() -> None:
    result = plan(CATALOGUE, [pods("a", 1, "5", "2Gi"), pods("b", 1, "2", "2Gi")])
    assert launched(result) == {"ig-medium": 1}
    assert set(dict(result.for_pool("default").new_nodes[0].pods_per_node)) == {"a", "b"}


def test_limits_stop_growth_and_say_which() -> None:
    limited = NodePool(name="default", instance_groups=("ig-medium",), limits=PoolLimits(cpu_millis=16_000))
    result = plan(CATALOGUE, [pods("web", 6, "3")], groups=[group("medium")], pools=[limited])
    assert launched(result) == {"ig-medium": 2}
    (unplaced,) = result.for_pool("default").unplaced
    assert (unplaced.group, unplaced.count, unplaced.reason) == ("web", 2, UnplacedReason.POOL_LIMIT)
    assert "cpu" in unplaced.detail


def test_limits_count_nodes_that_exist() -> None:
    limited = NodePool(name="default", instance_groups=("ig-small",), limits=PoolLimits(nodes=2))
    existing = (
        ExistingNode(name="n1", node_pool="default", instance_group="ig-small", instance_type="small"),
    )
    result = plan(
        CATALOGUE,
        [pods("web", 5, "3")],
        groups=[group("small", target_count=1)],
        pools=[limited],
        nodes=existing,
    )
    assert launched(result) == {"ig-small": 1}
    assert result.for_pool("default").unplaced[0].count == 3


def test_fallback_while_the_cheapest_group_lacks_capacity_and_return_after_expiry() -> None:
    types = [itype("cheap", 8, 32, 0.30), itype("dear", 8, 32, 0.45)]
    short = UnavailableOfferings().mark(
        OfferingKey(instance_group="ig-cheap", instance_type="cheap", zone="z1"), NOW
    )
    workload = [pods("web", 2, "3")]
    assert launched(plan(types, workload)) == {"ig-cheap": 1}
    assert launched(plan(types, workload, unavailable=short)) == {"ig-dear": 1}
    almost = NOW + timedelta(minutes=2, seconds=59)
    assert launched(plan(types, workload, unavailable=short, now=almost)) == {"ig-dear": 1}
    assert launched(plan(types, workload, unavailable=short, now=NOW + timedelta(minutes=3))) == {
        "ig-cheap": 1
    }


def test_every_fitting_offering_out_of_capacity_is_reported() -> None:
    types = [itype("only", 8, 32, 0.3)]
    short = UnavailableOfferings().mark(
        OfferingKey(instance_group="ig-only", instance_type="only", zone="z1"), NOW
    )
    (unplaced,) = plan(types, [pods("web", 2, "3")], unavailable=short).for_pool("default").unplaced
    assert unplaced.reason is UnplacedReason.OFFERINGS_UNAVAILABLE
    assert "ig-only" in unplaced.detail


def test_a_group_at_its_maximum_is_skipped() -> None:
    types = [itype("cheap", 8, 32, 0.30), itype("dear", 8, 32, 0.45)]
    groups = [group("cheap", target_count=3, max_count=3), group("dear")]
    assert launched(plan(types, [pods("web", 2, "3")], groups=groups)) == {"ig-dear": 1}
    capped = plan(types, [pods("web", 2, "3")], groups=groups[:1])
    assert capped.for_pool("default").unplaced[0].reason is UnplacedReason.OFFERINGS_UNAVAILABLE
    assert "max_count 3" in capped.for_pool("default").unplaced[0].detail


def test_pods_that_fit_nowhere_say_why() -> None:
    huge = plan(CATALOGUE, [pods("huge", 1, "64")])
    assert huge.for_pool("default").unplaced[0].reason is UnplacedReason.FITS_NO_TYPE
    arm_only = pods("arm", 1, "1", node_selector={"kubernetes.io/arch": "arm64"})
    result = plan(CATALOGUE, [arm_only])
    assert result.unplaced[0].reason is UnplacedReason.NO_MATCHING_POOL
    assert result.added_cost_per_hour == 0


def test_required_affinity_and_selectors_pick_the_group() -> None:
    only_large = NodeSelectorTerm(
        match_expressions=(Requirement(key=INSTANCE_TYPE_LABEL, operator=Operator.IN, values=("large",)),)
    )
    assert launched(plan(CATALOGUE, [pods("web", 1, "1", node_affinity=(only_large,))])) == {"ig-large": 1}
    by_selector = pods(
        "web", 1, "1", node_selector={"sagemaker.amazonaws.com/instance-group-name": "ig-medium"}
    )
    assert launched(plan(CATALOGUE, [by_selector])) == {"ig-medium": 1}


def test_pool_requirements_and_taints_filter_what_runs_there() -> None:
    groups = [group(t.name) for t in CATALOGUE]
    gpu_pool = NodePool(
        name="tainted",
        instance_groups=("ig-large",),
        taints=(Taint(key="dedicated", value="ml", effect=TaintEffect.NO_SCHEDULE),),
        weight=50,
    )
    general = NodePool(
        name="general",
        instance_groups=("ig-small", "ig-medium"),
        requirements=(Requirement(key=INSTANCE_TYPE_LABEL, operator=Operator.NOT_IN, values=("medium",)),),
    )
    tolerant = pods("ml", 1, "1", tolerations=(Toleration(key="dedicated", operator="Exists"),))
    result = plan(CATALOGUE, [tolerant, pods("web", 1, "6")], groups=groups, pools=[gpu_pool, general])
    assert launched(result, "tainted") == {"ig-large": 1}
    assert [n.pods_per_node for n in result.for_pool("tainted").new_nodes] == [(("ml", 1),)]
    # "web" does not tolerate the taint, and the general pool excludes the only type that fits it.
    (unplaced,) = result.for_pool("general").unplaced
    assert (unplaced.group, unplaced.reason) == ("web", UnplacedReason.FITS_NO_TYPE)


def test_heavier_pools_first_then_the_next_when_limits_bind() -> None:
    groups = [group("small"), group("medium")]
    first = NodePool(name="first", instance_groups=("ig-medium",), weight=10, limits=PoolLimits(nodes=1))
    second = NodePool(name="second", instance_groups=("ig-small",))
    result = plan(CATALOGUE, [pods("web", 4, "3")], groups=groups, pools=[second, first])
    assert launched(result, "first") == {"ig-medium": 1}
    assert launched(result, "second") == {"ig-small": 2}
    assert not result.for_pool("first").unplaced


def test_existing_and_launching_nodes_are_filled_first() -> None:
    nodes = (
        ExistingNode(
            name="ready",
            node_pool="default",
            instance_group="ig-medium",
            instance_type="medium",
            pods=(PodsOnNode(group="web", count=1),),
        ),
        ExistingNode(
            name="coming",
            node_pool="default",
            instance_group="ig-medium",
            instance_type="medium",
            state=NodeState.LAUNCHING,
        ),
    )
    groups = [group("small"), group("medium", target_count=2, current_count=1), group("large")]
    result = plan(CATALOGUE, [pods("web", 5, "3")], groups=groups, nodes=nodes)
    placements = {(p.node, p.count) for p in result.for_pool("default").placements}
    assert placements == {("ready", 1), ("coming", 2)}
    assert launched(result) == {"ig-small": 1}


def test_unmanaged_pods_and_deleting_nodes_take_room_or_give_pods_back() -> None:
    nodes = (
        ExistingNode(
            name="shared",
            node_pool="default",
            instance_group="ig-medium",
            instance_type="medium",
            unmanaged=Resources.of(cpu="6"),
            unmanaged_pods=1,
        ),
        ExistingNode(
            name="going",
            node_pool="default",
            instance_group="ig-medium",
            instance_type="medium",
            deleting=True,
            pods=(PodsOnNode(group="web", count=2),),
        ),
    )
    groups = [group("small"), group("medium", target_count=2, current_count=2), group("large")]
    result = plan(CATALOGUE, [pods("web", 2, "3")], groups=groups, nodes=nodes)
    # 2 vCPU left on "shared" is too little; the pods of "going" need a new home: one medium.
    assert not result.for_pool("default").placements
    assert launched(result) == {"ig-medium": 1}


def test_a_flexible_group_is_planned_for_its_worst_type() -> None:
    """HyperPod may launch either type: assume the smaller capacity and the higher price."""
    types = [itype("a", 8, 64, 0.40), itype("b", 16, 32, 0.50)]
    flexible = InstanceGroup(name="flex", zone="z1", instance_types=("a", "b"))
    result = plan(types, [pods("web", 2, "3", "20Gi")], groups=[flexible])
    (nodes,) = result.for_pool("default").new_nodes
    assert (nodes.count, nodes.price_per_hour, nodes.instance_types) == (2, 0.50, ("a", "b"))


def test_paid_for_capacity_is_used_first_and_up_to_its_size() -> None:
    types = [itype("reserved", 8, 32, 0.90), itype("ondemand", 8, 32, 0.30)]
    groups = [group("reserved", paid_for=True, max_count=2), group("ondemand")]
    result = plan(types, [pods("web", 4, "7")], groups=groups)
    assert launched(result) == {"ig-reserved": 2, "ig-ondemand": 2}
    assert result.added_cost_per_hour == pytest.approx(0.60)


def test_targets_and_explanations() -> None:
    result = plan(CATALOGUE, [pods("web", 3, "3")], groups=[group(t.name, target_count=1) for t in CATALOGUE])
    decision = result.for_pool("default")
    assert [(t.instance_group, t.target_before, t.target_after) for t in decision.targets] == [
        ("ig-small", 1, 2),
        ("ig-medium", 1, 2),
    ]
    assert decision.exact
    text = str(result)
    assert "node pool 'default': +2 node(s), +$0.5800/h" in text
    assert "1 new node(s) in ig-medium (medium, z1) at $0.3800/h each, holding 2 x web per node" in text


def test_inputs_are_checked_with_the_path_of_the_problem() -> None:
    with pytest.raises(ValidationError, match=r"node_pools\[0\] 'default': instance group 'ig-missing'"):
        PlanningInput(
            now=NOW,
            node_pools=(NodePool(name="default", instance_groups=("ig-missing",)),),
            instance_groups=(group("small"),),
            instance_types=tuple(CATALOGUE),
        )
    with pytest.raises(ValidationError, match=r"nodes\[0\] 'n': runs pods of 'ghost'"):
        PlanningInput(
            now=NOW,
            node_pools=(NodePool(name="default", instance_groups=("ig-small",)),),
            instance_groups=(group("small"),),
            instance_types=tuple(CATALOGUE),
            nodes=(
                ExistingNode(
                    name="n",
                    node_pool="default",
                    instance_group="ig-small",
                    instance_type="small",
                    pods=(PodsOnNode(group="ghost", count=1),),
                ),
            ),
        )
    with pytest.raises(ValidationError, match="paid_for capacity needs max_count"):
        group("small", paid_for=True)


# --- equal-cost plans ----------------------------------------------------------------------------
# kubernetes-sigs/karpenter pkg/controllers/provisioning/scheduling/suite_test.go, "should create new
# nodes when a node is at capacity" (commit 008f4653825c237b9a4c84c3435f3583b25ab83e): 40 pods that
# fit two to a node land on 20 nodes of the largest type, never on more, smaller nodes; the
# scheduler opens a node only for a pod that fits on none it has.

# The shipped catalogue's figures (layers/ebb/ebb/config/instance_catalogue.json, sagemaker-us-east-1):
# eight ml.p5.4xlarge cost exactly one ml.p5.48xlarge.
P5 = [
    itype("ml.p5.4xlarge", 16, 256, 7.912, gpus=1),
    itype("ml.p5.48xlarge", 192, 2048, 63.296, gpus=8),
]


def tie_note(plans: NodePlans) -> str:
    (note,) = [n for n in plans.for_pool("default").notes if n.code == "TieBreak"]
    return note.message


@pytest.mark.parametrize("exact_search_states", [20_000, 0], ids=["exact", "heuristic"])
def test_equal_cost_plans_go_to_fewer_nodes(exact_search_states: int) -> None:
    result = plan(P5, [pods("llm", 8, "4", "32Gi", gpus=1)], exact_search_states=exact_search_states)
    assert launched(result) == {"ig-ml.p5.48xlarge": 1}
    assert result.for_pool("default").exact is bool(exact_search_states)
    assert tie_note(result).startswith("1 new node(s) rather than 8 at the same $63.2960/h")


@pytest.mark.parametrize("exact_search_states", [20_000, 0], ids=["exact", "heuristic"])
def test_prices_that_differ_in_the_last_bits_are_a_tie(exact_search_states: int) -> None:
    """3 x 0.7 is 2.0999999999999996 in floating point: not cheaper than one node at 2.1."""
    types = [itype("one-gpu", 8, 32, 0.7, gpus=1), itype("three-gpu", 24, 96, 2.1, gpus=3)]
    result = plan(types, [pods("llm", 3, "2", "8Gi", gpus=1)], exact_search_states=exact_search_states)
    assert launched(result) == {"ig-three-gpu": 1}
    assert "rather than 3" in tie_note(result)


def test_a_cheaper_plan_wins_over_fewer_nodes_and_says_no_tie() -> None:
    types = [itype("one-gpu", 8, 32, 0.69, gpus=1), itype("three-gpu", 24, 96, 2.1, gpus=3)]
    result = plan(types, [pods("llm", 3, "2", "8Gi", gpus=1)])
    assert launched(result) == {"ig-one-gpu": 3}
    assert not [n for n in result.for_pool("default").notes if n.code == "TieBreak"]


def test_many_pods_are_solved_exactly_bottom_up_with_the_same_tie_break() -> None:
    """640 pods (above the memoised recursion's 600): the bottom-up sweep finds 80 large nodes."""
    result = plan(P5, [pods("llm", 640, "4", "32Gi", gpus=1)])
    assert result.for_pool("default").exact
    assert launched(result) == {"ig-ml.p5.48xlarge": 80}
    assert tie_note(result).startswith("80 new node(s) rather than 640 at the same $5063.6800/h")


def test_many_pods_bottom_up_still_take_the_cheaper_plan() -> None:
    cheaper_small = [itype("ml.p5.4xlarge", 16, 256, 7.9, gpus=1), P5[1]]
    result = plan(cheaper_small, [pods("llm", 610, "4", "32Gi", gpus=1)])
    assert result.for_pool("default").exact
    assert launched(result) == {"ig-ml.p5.4xlarge": 610}
    assert not [n for n in result.for_pool("default").notes if n.code == "TieBreak"]


def test_a_heuristic_plan_says_it_is_not_proven() -> None:
    """Too many combinations for the exact search (9 > 5): heuristics, refined, and said so."""
    result = plan(P5, [pods("llm", 8, "4", "32Gi", gpus=1)], exact_search_states=5)
    assert result.for_pool("default").exact is False
    assert launched(result) == {"ig-ml.p5.48xlarge": 1}
    assert [str(n) for n in result.for_pool("default").notes] == [
        "[Heuristic] new nodes chosen by heuristics: too many pod combinations to prove the cheapest",
        "[TieBreak] 1 new node(s) rather than 8 at the same $63.2960/h: equal-cost plans go to fewer "
        "launches (each can fail for capacity and carries the daemon sets' overhead)",
    ]
