"""The MILP oracle's placement constraints, on instances small enough to solve by hand.

Each instance has one instance type per zone (or two sizes), so the optimum is a count of nodes the
docstring works out; the rules are kube-scheduler's (``podtopologyspread/filtering.go``:
``count + selfMatch - globalMin <= maxSkew``, the minimum 0 below ``minDomains``;
``interpodaffinity/filtering.go``: required anti-affinity and affinity, the first-pod exception)
and, for preferences, Karpenter's (``preferences.go``: required until relaxed). The node planner's
plan is checked to cost the same on each.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ebb.core.nodes import (
    InstanceGroup,
    InstanceType,
    NodePool,
    Operator,
    PlanningInput,
    PodGroup,
    Requirement,
    Resources,
    plan_nodes,
)
from ebb.core.nodes.catalogue import ZONE_LABEL
from ebb.core.nodes.requirements import NodeSelectorTerm, PreferredSchedulingTerm
from ebb.core.nodes.topology import (
    HOSTNAME_KEY,
    LabelSelector,
    PodAffinityTerm,
    TopologySpread,
    WeightedPodAffinityTerm,
    WhenUnsatisfiable,
)
from ebb.sim.milp_oracle import InfeasibleError, optimal_cost

NOW = datetime(2025, 1, 6, 12, tzinfo=UTC)
OWN = {"app": "web"}
SELF = LabelSelector(match_labels=OWN)
# One 1.5-CPU pod per SMALL node, five per BIG node (allocatable after kube-reserved and daemon sets).
SMALL = InstanceType(name="small", vcpus=2, memory_mib=8192, price_per_hour=1.0)
BIG = InstanceType(name="big", vcpus=8, memory_mib=32768, price_per_hour=2.5)


def instance(
    web: PodGroup,
    *,
    zones: tuple[str, ...] = ("z1", "z2", "z3"),
    types: tuple[InstanceType, ...] = (SMALL, BIG),
    only: dict[str, str] | None = None,
) -> PlanningInput:
    """``only`` maps a zone to the one type it offers."""
    groups = tuple(
        InstanceGroup(name=f"ig-{t.name}-{z}", zone=z, instance_types=(t.name,))
        for z in zones
        for t in types
        if only is None or only.get(z, t.name) == t.name
    )
    return PlanningInput(
        now=NOW,
        pod_groups=(web,),
        node_pools=(NodePool(name="pool", instance_groups=tuple(g.name for g in groups)),),
        instance_groups=groups,
        instance_types=types,
    )


def web(replicas: int, cpu: str = "1.5", **fields: object) -> PodGroup:
    return PodGroup.model_validate(
        {
            "name": "web",
            "replicas": replicas,
            "requests": Resources.of(cpu=cpu, memory="1Gi"),
            "labels": OWN,
            **fields,
        }
    )


def per_node(inp: PlanningInput) -> dict[str, int]:
    """How many 1.5-CPU pods each type holds, from the planner's own fit (kube-reserved included)."""
    from ebb.core.nodes.quantities import how_many_fit

    pool = inp.node_pools[0]
    return {
        t.name: how_many_fit(inp.pod_groups[0].vector, t.allocatable.minus(pool.daemonset_overhead).vector)
        for t in inp.instance_types
    }


def check(inp: PlanningInput, expected: float) -> None:
    optimum = optimal_cost(inp, time_limit=30)
    assert optimum.proven
    assert optimum.cost == pytest.approx(expected)
    plans = plan_nodes(inp)
    assert not plans.unplaced
    assert not any(p.unplaced for p in plans.plans)
    assert plans.added_cost_per_hour == pytest.approx(expected)


def test_the_fits_the_hand_counts_rely_on() -> None:
    assert per_node(instance(web(1))) == {"small": 1, "big": 5}


def test_unconstrained_four_pods_take_one_big_node() -> None:
    check(instance(web(4)), 2.5)


def test_zone_spread_max_skew_1_over_three_zones() -> None:
    """4 pods, maxSkew 1: 2/1/1 over the zones: a big node (or two small) in one, a small in each other.
    2 small = 2.0 < 2.5, so 2 + 1 + 1 small nodes: 4.0."""
    check(
        instance(
            web(
                4, topology_spread=(TopologySpread(topology_key=ZONE_LABEL, max_skew=1, label_selector=SELF),)
            )
        ),
        4.0,
    )


def test_zone_spread_max_skew_2_lets_the_pods_gather_more() -> None:
    """maxSkew 2 allows 3/1/0? No: the empty zone is eligible, minimum 0, so at most 2 per zone;
    4 pods: 2/2/0 -> 2+2 small nodes = 4.0, or 2/1/1 = 4.0; a big node (4 pods) is not allowed."""
    check(
        instance(
            web(
                4, topology_spread=(TopologySpread(topology_key=ZONE_LABEL, max_skew=2, label_selector=SELF),)
            )
        ),
        4.0,
    )


def test_zone_spread_max_skew_3_allows_one_big_node_for_three_pods() -> None:
    """3 pods, maxSkew 3: 3/0/0 keeps the skew; one big node (2.5) beats three small (3.0).

    The planner used to share the pods out one per zone (equal per-pod prices, ties to the
    emptiest zone) and pay 3.0; it now fills the slots of a node it has opened first."""
    check(
        instance(
            web(
                3, topology_spread=(TopologySpread(topology_key=ZONE_LABEL, max_skew=3, label_selector=SELF),)
            )
        ),
        2.5,
    )


def test_min_domains_above_the_zones_caps_each_zone_at_max_skew() -> None:
    """minDomains 3 with two zones: the minimum is 0, so at most maxSkew (1) per zone: 2 pods, 2 nodes."""
    spread = TopologySpread(topology_key=ZONE_LABEL, max_skew=1, label_selector=SELF, min_domains=3)
    check(instance(web(2, topology_spread=(spread,)), zones=("z1", "z2")), 2.0)
    with pytest.raises(InfeasibleError, match="no plan places every pod"):
        optimal_cost(instance(web(3, topology_spread=(spread,)), zones=("z1", "z2")))


def test_hostname_anti_affinity_one_pod_per_node() -> None:
    """3 pods, one per node: three small nodes (3.0) rather than one big (2.5)."""
    check(
        instance(
            web(3, pod_anti_affinity=(PodAffinityTerm(topology_key=HOSTNAME_KEY, label_selector=SELF),))
        ),
        3.0,
    )


def test_hostname_spread_max_skew_2_caps_each_node_at_two() -> None:
    """4 pods, at most 2 per node: two small cannot hold 2 each (1 fits), so 2 big (5.0) or 4 small (4.0)."""
    check(
        instance(
            web(
                4,
                topology_spread=(TopologySpread(topology_key=HOSTNAME_KEY, max_skew=2, label_selector=SELF),),
            )
        ),
        4.0,
    )


def test_zone_anti_affinity_one_pod_per_zone() -> None:
    """3 pods, one per zone: 3 small nodes; a fourth pod has no zone left."""
    term = (PodAffinityTerm(topology_key=ZONE_LABEL, label_selector=SELF),)
    check(instance(web(3, pod_anti_affinity=term)), 3.0)
    with pytest.raises(InfeasibleError, match="no plan places every pod"):
        optimal_cost(instance(web(4, pod_anti_affinity=term)))


def test_hostname_affinity_to_itself_puts_every_pod_on_one_node() -> None:
    """2 pods that must share a node: one big node (2.5), not two small (2.0)."""
    check(
        instance(web(2, pod_affinity=(PodAffinityTerm(topology_key=HOSTNAME_KEY, label_selector=SELF),))), 2.5
    )


def test_zone_affinity_to_itself_keeps_the_pods_in_one_zone() -> None:
    """z1 offers only small nodes, z2 only big ones. 6 pods unconstrained: a big node and a small
    one (3.5); all in one zone: 6 small in z1 (6.0) or 2 big in z2 (5.0): 5.0."""
    only = {"z1": "small", "z2": "big"}
    assert optimal_cost(instance(web(6), zones=("z1", "z2"), only=only)).cost == pytest.approx(3.5)
    term = (PodAffinityTerm(topology_key=ZONE_LABEL, label_selector=SELF),)
    check(instance(web(6, pod_affinity=term), zones=("z1", "z2"), only=only), 5.0)


def test_preferred_anti_affinity_is_required_when_it_can_be_met() -> None:
    """As required hostname anti-affinity (Karpenter keeps a preference while it can): 3.0."""
    preferred = (
        WeightedPodAffinityTerm(
            weight=1, term=PodAffinityTerm(topology_key=HOSTNAME_KEY, label_selector=SELF)
        ),
    )
    result = optimal_cost(instance(web(3, preferred_pod_anti_affinity=preferred)))
    assert (result.cost, result.preferences_kept) == (pytest.approx(3.0), True)
    assert optimal_cost(
        instance(web(3, preferred_pod_anti_affinity=preferred)), preferences=False
    ).cost == pytest.approx(2.5)


def test_preferences_that_cannot_be_met_are_dropped_together() -> None:
    """One pod per zone preferred, 4 pods, 3 zones: cannot be kept, so the optimum has none: 2.5."""
    preferred = (
        WeightedPodAffinityTerm(weight=1, term=PodAffinityTerm(topology_key=ZONE_LABEL, label_selector=SELF)),
    )
    result = optimal_cost(instance(web(4, preferred_pod_anti_affinity=preferred)))
    assert (result.cost, result.preferences_kept) == (pytest.approx(2.5), False)


def test_schedule_anyway_spread_is_required_when_it_can_be_met() -> None:
    spread = TopologySpread(
        topology_key=ZONE_LABEL,
        max_skew=1,
        label_selector=SELF,
        when_unsatisfiable=WhenUnsatisfiable.SCHEDULE_ANYWAY,
    )
    check(instance(web(4, topology_spread=(spread,))), 4.0)


def test_the_heaviest_preferred_node_term_narrows_the_types() -> None:
    """Preferring the big type (weight 50) over the small (weight 10): one pod on a big node, 2.5."""
    big = PreferredSchedulingTerm(
        weight=50,
        preference=NodeSelectorTerm(
            match_expressions=(
                Requirement(key="node.kubernetes.io/instance-type", operator=Operator.IN, values=("big",)),
            )
        ),
    )
    small = big.model_copy(
        update={
            "weight": 10,
            "preference": NodeSelectorTerm(
                match_expressions=(
                    Requirement(
                        key="node.kubernetes.io/instance-type", operator=Operator.IN, values=("small",)
                    ),
                )
            ),
        }
    )
    check(instance(web(1, preferred_node_affinity=(small, big))), 2.5)


def test_unmodelled_shapes_are_refused() -> None:
    other = LabelSelector(match_labels={"app": "other"})
    with pytest.raises(NotImplementedError, match="zone and hostname topology keys only"):
        optimal_cost(
            instance(
                web(
                    1, topology_spread=(TopologySpread(topology_key="rack", max_skew=1, label_selector=SELF),)
                )
            )
        )
    with pytest.raises(NotImplementedError, match="required affinity to the group's own pods only"):
        optimal_cost(
            instance(web(1, pod_affinity=(PodAffinityTerm(topology_key=ZONE_LABEL, label_selector=other),)))
        )
