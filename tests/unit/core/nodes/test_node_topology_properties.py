"""Properties of plans under topology spread and pod anti-affinity, on generated problems (Hypothesis).

* no plan breaks a required constraint: a DoNotSchedule zone spread holds for every zone that
  receives pods (its count minus the lowest count of the eligible zones is at most maxSkew: the
  filter of kube-scheduler's ``podtopologyspread/filtering.go`` for the last pod placed there); a
  hostname spread leaves no node that receives pods above maxSkew; a required anti-affinity on
  hostname or zone leaves one pod of the group in each node or zone that receives one, and none
  joins a node or zone already holding one;
* a ScheduleAnyway spread the final plan does not keep is reported as relaxed (a ``Relaxed`` note);
* every pending pod is accounted for: placed, or reported unplaced.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ebb.core.nodes import (
    ExistingNode,
    InstanceGroup,
    InstanceType,
    NodePlans,
    NodePool,
    PlanningInput,
    PodGroup,
    PodsOnNode,
    Resources,
    plan_nodes,
)
from ebb.core.nodes.catalogue import ZONE_LABEL
from ebb.core.nodes.topology import (
    HOSTNAME_KEY,
    LabelSelector,
    PodAffinityTerm,
    TopologySpread,
    WhenUnsatisfiable,
)

NOW = datetime(2025, 1, 6, 12, tzinfo=UTC)
ZONES = ("z1", "z2", "z3")


@st.composite
def problems(draw: st.DrawFn) -> PlanningInput:
    zones = ZONES[: draw(st.integers(1, 3))]
    types = [
        InstanceType(name="small", vcpus=2, memory_mib=8192, price_per_hour=0.1),
        InstanceType(
            name="large", vcpus=8, memory_mib=32768, price_per_hour=draw(st.sampled_from([0.3, 0.4, 0.5]))
        ),
    ]
    groups = []
    for zone in zones:
        for t in types:
            groups.append(
                InstanceGroup(
                    name=f"ig-{t.name}-{zone}",
                    zone=zone,
                    instance_types=(t.name,),
                    max_count=draw(st.none() | st.integers(0, 4)),
                )
            )
    pod_groups = []
    for index in range(draw(st.integers(1, 3))):
        name = f"app{index}"
        own = LabelSelector(match_labels={"app": name})
        spreads = []
        if draw(st.booleans()):
            spreads.append(
                TopologySpread(
                    topology_key=ZONE_LABEL,
                    max_skew=draw(st.integers(1, 2)),
                    when_unsatisfiable=draw(st.sampled_from(list(WhenUnsatisfiable))),
                    label_selector=own,
                )
            )
        if draw(st.booleans()):
            spreads.append(
                TopologySpread(
                    topology_key=HOSTNAME_KEY, max_skew=draw(st.integers(1, 3)), label_selector=own
                )
            )
        anti = []
        kind = draw(st.sampled_from(["none", "none", HOSTNAME_KEY, ZONE_LABEL]))
        if kind != "none":
            anti.append(PodAffinityTerm(topology_key=kind, label_selector=own))
        pod_groups.append(
            PodGroup(
                name=name,
                replicas=draw(st.integers(0, 14)),
                requests=Resources.of(cpu=draw(st.sampled_from(["250m", "900m", "1.5", "3"])), memory="1Gi"),
                labels={"app": name},
                topology_spread=tuple(spreads),
                pod_anti_affinity=tuple(anti),
            )
        )
    nodes = []
    for index in range(draw(st.integers(0, 4))):
        group = draw(st.sampled_from(groups))
        placed = {}
        for pods in pod_groups:
            if draw(st.booleans()):
                placed[pods.name] = draw(st.integers(1, 2))
        nodes.append(
            ExistingNode(
                name=f"n{index}",
                node_pool="pool",
                instance_group=group.name,
                instance_type=group.instance_types[0],
                pods=tuple(PodsOnNode(group=g, count=c) for g, c in placed.items()),
            )
        )
    # Existing nodes count against the groups' maxima: raise a maximum below them.
    listed = Counter(n.instance_group for n in nodes)
    groups = [
        g
        if g.max_count is None or g.max_count >= listed[g.name]
        else g.model_copy(update={"max_count": listed[g.name]})
        for g in groups
    ]
    return PlanningInput(
        now=NOW,
        pod_groups=tuple(pod_groups),
        node_pools=(NodePool(name="pool", instance_groups=tuple(g.name for g in groups)),),
        instance_groups=tuple(groups),
        instance_types=tuple(types),
        nodes=tuple(nodes),
    )


def _after(
    inp: PlanningInput, plans: NodePlans
) -> tuple[
    dict[str, Counter[str]], dict[str, Counter[str]], list[tuple[str, dict[str, int]]], dict[str, set[str]]
]:
    """Pods per zone and per existing node after the plan, new nodes' contents, and receiving domains."""
    zone_of_group = {g.name: g.zone for g in inp.instance_groups}
    per_zone: dict[str, Counter[str]] = {g.name: Counter() for g in inp.pod_groups}
    per_node: dict[str, Counter[str]] = {g.name: Counter() for g in inp.pod_groups}
    receiving: dict[str, set[str]] = {g.name: set() for g in inp.pod_groups}
    zone_of_node = {}
    for node in inp.nodes:
        zone_of_node[node.name] = zone_of_group[node.instance_group]
        for placed in node.pods:
            per_zone[placed.group][zone_of_node[node.name]] += placed.count
            per_node[placed.group][node.name] += placed.count
    new: list[tuple[str, dict[str, int]]] = []
    for plan in plans.plans:
        for placement in plan.placements:
            per_zone[placement.group][zone_of_node[placement.node]] += placement.count
            per_node[placement.group][placement.node] += placement.count
            receiving[placement.group].add(zone_of_node[placement.node])
        for nodes in plan.new_nodes:
            contents = dict(nodes.pods_per_node)
            for _ in range(nodes.count):
                new.append((nodes.zone, contents))
            for name, count in contents.items():
                per_zone[name][nodes.zone] += count * nodes.count
                receiving[name].add(nodes.zone)
    return per_zone, per_node, new, receiving


def _spread_holds(spread: TopologySpread, counts: Counter[str], zones: set[str], receiving: set[str]) -> bool:
    lowest = min(counts.get(z, 0) for z in zones)
    return all(counts.get(z, 0) - lowest <= spread.max_skew for z in receiving)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_no_plan_breaks_a_required_constraint_and_relaxations_are_reported(inp: PlanningInput) -> None:
    plans = plan_nodes(inp)
    per_zone, per_node, new, receiving = _after(inp, plans)
    zones = {g.zone for g in inp.instance_groups}
    placed_on = {g.name: Counter[str]() for g in inp.pod_groups}
    for plan in plans.plans:
        for placement in plan.placements:
            placed_on[placement.group][placement.node] += placement.count
    relaxed = " ".join(n.message for p in plans.plans for n in p.notes if n.code == "Relaxed")
    for group in inp.pod_groups:
        for index, spread in enumerate(group.topology_spread):
            if spread.topology_key == ZONE_LABEL:
                holds = _spread_holds(spread, per_zone[group.name], zones, receiving[group.name])
                if spread.when_unsatisfiable is WhenUnsatisfiable.DO_NOT_SCHEDULE:
                    assert holds, (group.name, dict(per_zone[group.name]), str(plans))
                elif not holds:
                    assert f"{group.name}: topologySpreadConstraints[{index}]" in relaxed
            else:
                for _, contents in new:
                    assert contents.get(group.name, 0) <= spread.max_skew
                for node_name in placed_on[group.name]:
                    assert per_node[group.name][node_name] <= spread.max_skew
        for term in group.pod_anti_affinity:
            if term.topology_key == HOSTNAME_KEY:
                for _, contents in new:
                    assert contents.get(group.name, 0) <= 1
                for node_name in placed_on[group.name]:
                    assert per_node[group.name][node_name] == 1
            else:
                for zone in receiving[group.name]:
                    assert per_zone[group.name][zone] == 1, (group.name, dict(per_zone[group.name]))
    # Every pending pod is placed or reported.
    running = Counter[str]()
    for node in inp.nodes:
        for placed in node.pods:
            running[placed.group] += placed.count
    for group in inp.pod_groups:
        pending = max(group.replicas - running[group.name], 0)
        placed = sum(placed_on[group.name].values()) + sum(c.get(group.name, 0) for _, c in new)
        reported = sum(u.count for p in plans.plans for u in p.unplaced if u.group == group.name)
        reported += sum(u.count for u in plans.unplaced if u.group == group.name)
        assert placed + reported == pending, (group.name, placed, reported, pending, str(plans))
