"""Properties of plans with preferences, on generated problems (Hypothesis).

* a preference the plan does not keep is reported: a preferred anti-affinity (hostname or zone)
  or preferred node affinity term that the new nodes break is named in a ``Relaxed`` note;
* a required constraint is never relaxed: every ``Relaxed`` note names a preference
  (``preferredDuringSchedulingIgnoredDuringExecution`` or a ``ScheduleAnyway`` spread), and the
  required hostname anti-affinity and required node affinity hold on every new node;
* every pod is accounted for: placed, or reported unplaced.

Karpenter's rule being checked: preferences are required until relaxed, one at a time
(kubernetes-sigs/karpenter ``pkg/controllers/provisioning/scheduling/preferences.go``).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
from ebb.core.nodes.topology import HOSTNAME_KEY, LabelSelector, PodAffinityTerm, WeightedPodAffinityTerm

NOW = datetime(2025, 1, 6, 12, tzinfo=UTC)
ZONES = ("z1", "z2", "z3")


@st.composite
def problems(draw: st.DrawFn) -> PlanningInput:
    types = (
        InstanceType(name="small", vcpus=2, memory_mib=8192, price_per_hour=0.1),
        InstanceType(
            name="large", vcpus=8, memory_mib=32768, price_per_hour=draw(st.sampled_from([0.3, 0.5]))
        ),
    )
    groups = tuple(
        InstanceGroup(
            name=f"ig-{t.name}-{zone}",
            zone=zone,
            instance_types=(t.name,),
            max_count=draw(st.none() | st.integers(0, 3)),
        )
        for zone in ZONES
        for t in types
    )
    pod_groups = []
    for index in range(draw(st.integers(1, 3))):
        name = f"app{index}"
        own = LabelSelector(match_labels={"app": name})
        fields: dict[str, object] = {}
        if draw(st.booleans()):
            fields["pod_anti_affinity"] = (PodAffinityTerm(topology_key=HOSTNAME_KEY, label_selector=own),)
        preferred_anti = []
        for key in (HOSTNAME_KEY, ZONE_LABEL):
            if draw(st.booleans()):
                preferred_anti.append(
                    WeightedPodAffinityTerm(
                        weight=draw(st.integers(1, 100)),
                        term=PodAffinityTerm(topology_key=key, label_selector=own),
                    )
                )
        fields["preferred_pod_anti_affinity"] = tuple(preferred_anti)
        fields["preferred_node_affinity"] = tuple(
            PreferredSchedulingTerm(
                weight=draw(st.integers(1, 100)),
                preference=NodeSelectorTerm(
                    match_expressions=(Requirement(key=ZONE_LABEL, operator=Operator.IN, values=(zone,)),)
                ),
            )
            for zone in draw(st.lists(st.sampled_from(ZONES), max_size=2))
        )
        if draw(st.booleans()):
            fields["node_affinity"] = (
                NodeSelectorTerm(
                    match_expressions=(
                        Requirement(
                            key=ZONE_LABEL, operator=Operator.NOT_IN, values=(draw(st.sampled_from(ZONES)),)
                        ),
                    )
                ),
            )
        pod_groups.append(
            PodGroup.model_validate(
                {
                    "name": name,
                    "replicas": draw(st.integers(0, 10)),
                    "requests": Resources.of(
                        cpu=draw(st.sampled_from(["250m", "900m", "1.5"])), memory="1Gi"
                    ),
                    "labels": {"app": name},
                    **fields,
                }
            )
        )
    return PlanningInput(
        now=NOW,
        pod_groups=tuple(pod_groups),
        node_pools=(NodePool(name="pool", instance_groups=tuple(g.name for g in groups)),),
        instance_groups=groups,
        instance_types=types,
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_relaxed_preferences_are_reported_and_required_ones_never_relaxed(inp: PlanningInput) -> None:
    plans = plan_nodes(inp)
    notes = [n.message for p in plans.plans for n in p.notes if n.code == "Relaxed"]
    for message in notes:
        assert "preferredDuringSchedulingIgnoredDuringExecution" in message or "ScheduleAnyway" in message, (
            message
        )
    new = [(n.zone, dict(n.pods_per_node)) for p in plans.plans for n in p.new_nodes for _ in range(n.count)]
    unplaced = Counter[str]()
    for plan in plans.plans:
        for u in plan.unplaced:
            unplaced[u.group] += u.count
    for u in plans.unplaced:
        unplaced[u.group] += u.count
    for group in inp.pod_groups:
        mine = [(zone, contents[group.name]) for zone, contents in new if group.name in contents]
        per_zone = Counter[str]()
        for zone, count in mine:
            per_zone[zone] += count
        assert sum(per_zone.values()) + unplaced[group.name] == group.replicas
        # Required constraints hold, whatever was relaxed.
        if group.pod_anti_affinity:
            assert all(count == 1 for _, count in mine)
        assert all(group.selects({ZONE_LABEL: zone}) for zone in per_zone)
        # A preference the plan breaks is reported.
        reported = [m for m in notes if m.startswith(f"{group.name}: ")]
        for index, weighted in enumerate(group.preferred_pod_anti_affinity):
            if any(
                f"podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[{index}]" in m
                for m in reported
            ):
                continue
            if weighted.term.topology_key == HOSTNAME_KEY:
                assert all(count == 1 for _, count in mine), (group.name, mine, notes)
            else:
                assert all(count <= 1 for count in per_zone.values()), (group.name, per_zone, notes)
        kept = [
            (term.weight, -index, term)
            for index, term in enumerate(group.preferred_node_affinity)
            if not any(
                f"nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[{index}]" in m
                for m in reported
            )
        ]
        if kept:
            in_force = max(kept, key=lambda k: (k[0], k[1]))[2]
            assert all(in_force.preference.matches({ZONE_LABEL: zone}) for zone in per_zone), (
                group.name,
                per_zone,
            )
