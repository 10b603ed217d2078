"""The Karpenter reference's topology groups and preference relaxation, on Karpenter's own tests.

Source: kubernetes-sigs/karpenter ``pkg/controllers/provisioning/scheduling/topology_test.go`` at
commit 025b80f7dcb2d9eaa60f730871730570b8c86d2f (the ``It`` quoted in each test) and
``suite_test.go`` at commit 008f4653825c237b9a4c84c3435f3583b25ab83e (``Describe("Preferential
Fallback")``). The fake cloud provider's three zones are one instance group each, of one 4-vCPU
type (so 2-CPU pods fill a node two at a time); ``ExpectSkew`` becomes pods per zone, sorted.
"""

from __future__ import annotations

from collections import Counter
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
)
from ebb.core.nodes.catalogue import ZONE_LABEL
from ebb.core.nodes.requirements import NodeSelectorTerm, PreferredSchedulingTerm
from ebb.core.nodes.topology import (
    HOSTNAME_KEY,
    LabelSelector,
    PodAffinityTerm,
    TopologySpread,
    WeightedPodAffinityTerm,
)
from ebb.sim.karpenter_reference import ReferencePlan, karpenter_plan
from ebb.sim.karpenter_topology import relaxation_order

NOW = datetime(2025, 1, 6, 12, tzinfo=UTC)
ZONES = ("test-zone-1", "test-zone-2", "test-zone-3")
LABELS = {"test": "test"}
S2 = {"security": "s2"}
TYPE = InstanceType(name="default-instance-type", vcpus=4, memory_mib=16384, price_per_hour=1.0)
GROUPS = tuple(InstanceGroup(name=f"ig-{z}", zone=z, instance_types=(TYPE.name,)) for z in ZONES)


def pods(name: str, replicas: int = 1, cpu: str = "100m", **fields: object) -> PodGroup:
    return PodGroup.model_validate(
        {"name": name, "replicas": replicas, "requests": Resources.of(cpu=cpu, memory="1Gi"), **fields}
    )


def reference(*groups: PodGroup) -> ReferencePlan:
    return karpenter_plan(
        PlanningInput(
            now=NOW,
            pod_groups=groups,
            node_pools=(NodePool(name="default", instance_groups=tuple(g.name for g in GROUPS)),),
            instance_groups=GROUPS,
            instance_types=(TYPE,),
        )
    )


def per_zone(plan: ReferencePlan, group: str) -> list[int]:
    counts: Counter[str] = Counter()
    for node in plan.new_nodes:
        if group in node.pods:
            counts[node.zone] += node.pods[group]
    return sorted(counts.values())


def zone_spread(max_skew: int = 1) -> tuple[TopologySpread, ...]:
    return (
        TopologySpread(
            topology_key=ZONE_LABEL, max_skew=max_skew, label_selector=LabelSelector(match_labels=LABELS)
        ),
    )


def test_should_balance_pods_across_zones_match_labels() -> None:
    """Context("Zonal") It("should balance pods across zones (match labels)"): 4 pods -> 1, 1, 2."""
    plan = reference(pods("web", 4, labels=LABELS, topology_spread=zone_spread()))
    assert per_zone(plan, "web") == [1, 1, 2]
    assert not plan.unplaced


def test_should_spread_one_per_node_with_hostname_anti_affinity() -> None:
    """A hostname spread of maxSkew 1: a new claim is an empty domain, the minimum 0
    (``topologygroup.go`` ``nextDomainTopologySpread``'s hostname case), so one pod per claim."""
    spread = (
        TopologySpread(
            topology_key=HOSTNAME_KEY, max_skew=1, label_selector=LabelSelector(match_labels=LABELS)
        ),
    )
    plan = reference(pods("web", 4, labels=LABELS, topology_spread=spread))
    assert [n.pods for n in plan.new_nodes] == [{"web": 1}] * 4


def test_should_not_violate_pod_anti_affinity_on_zone_inverse() -> None:
    """It("should not violate pod anti-affinity on zone (inverse)"): three pods pinned one per zone
    with anti-affinity to security=s2; the s2 pod (no rules of its own) cannot schedule."""
    anti = (PodAffinityTerm(topology_key=ZONE_LABEL, label_selector=LabelSelector(match_labels=S2)),)
    zone_pods = [
        pods(f"zone{i}", cpu="2", node_selector={ZONE_LABEL: z}, pod_anti_affinity=anti)
        for i, z in enumerate(ZONES)
    ]
    plan = reference(*zone_pods, pods("aff-pod", labels=S2))
    assert plan.unplaced == {"aff-pod": 1}


def test_should_violate_preferred_pod_anti_affinity_on_zone_inverse() -> None:
    """It("should violate preferred pod anti-affinity on zone (inverse)"): the same with preferred
    terms: the s2 pod schedules (inverse groups count required terms only)."""
    anti = (
        WeightedPodAffinityTerm(
            weight=10,
            term=PodAffinityTerm(topology_key=ZONE_LABEL, label_selector=LabelSelector(match_labels=S2)),
        ),
    )
    zone_pods = [
        pods(f"zone{i}", cpu="2", node_selector={ZONE_LABEL: z}, preferred_pod_anti_affinity=anti)
        for i, z in enumerate(ZONES)
    ]
    plan = reference(*zone_pods, pods("aff-pod", labels=S2))
    assert not plan.unplaced


def test_should_not_violate_pod_anti_affinity_on_zone_schrodinger() -> None:
    """It("should not violate pod anti-affinity on zone (Schrödinger)"): the anti-affinity pod's
    claim may be in any zone, so every zone is blocked for the s2 pod in this batch."""
    anti = (PodAffinityTerm(topology_key=ZONE_LABEL, label_selector=LabelSelector(match_labels=S2)),)
    plan = reference(pods("anywhere", cpu="2", pod_anti_affinity=anti), pods("aff-pod", labels=S2))
    assert plan.unplaced == {"aff-pod": 1}
    assert len(plan.new_nodes) == 1


def test_should_allow_violation_of_preferred_pod_affinity() -> None:
    """It("should allow violation of preferred pod affinity"): no s2 pod exists; relaxed, scheduled."""
    preferred = (
        WeightedPodAffinityTerm(
            weight=50,
            term=PodAffinityTerm(topology_key=HOSTNAME_KEY, label_selector=LabelSelector(match_labels=S2)),
        ),
    )
    spread = (
        TopologySpread(
            topology_key=HOSTNAME_KEY, max_skew=1, label_selector=LabelSelector(match_labels=LABELS)
        ),
    )
    plan = reference(
        pods("spread", 10, labels=LABELS, topology_spread=spread),
        pods("aff-pod-2", preferred_pod_affinity=preferred),
    )
    assert not plan.unplaced


def test_should_relax_to_use_lighter_weights() -> None:
    """suite_test.go Context("Preferred") It("should relax to use lighter weights"): zone-2."""

    def prefer(weight: int, key: str, value: str) -> PreferredSchedulingTerm:
        return PreferredSchedulingTerm(
            weight=weight,
            preference=NodeSelectorTerm(
                match_expressions=(Requirement(key=key, operator=Operator.IN, values=(value,)),)
            ),
        )

    group = pods(
        "pod",
        node_affinity=(
            NodeSelectorTerm(
                match_expressions=(Requirement(key=ZONE_LABEL, operator=Operator.IN, values=ZONES[:2]),)
            ),
        ),
        preferred_node_affinity=(
            prefer(100, "node.kubernetes.io/instance-type", "test-zone-3"),
            prefer(50, ZONE_LABEL, "test-zone-2"),
            prefer(1, ZONE_LABEL, "test-zone-1"),
        ),
    )
    plan = reference(group)
    assert [n.zone for n in plan.new_nodes] == ["test-zone-2"]
    assert relaxation_order(group)[:2] == [("preferred_node_affinity", 0), ("preferred_node_affinity", 1)]


def test_other_topology_keys_are_refused() -> None:
    spread = (
        TopologySpread(topology_key="rack", max_skew=1, label_selector=LabelSelector(match_labels=LABELS)),
    )
    with pytest.raises(NotImplementedError, match="zone and hostname topology keys only"):
        reference(pods("web", 2, labels=LABELS, topology_spread=spread))
