"""Preferred node affinity, preferred pod (anti-)affinity and their relaxation, from Karpenter's tests.

Sources (kubernetes-sigs/karpenter):

* ``pkg/controllers/provisioning/scheduling/suite_test.go`` at commit
  008f4653825c237b9a4c84c3435f3583b25ab83e: ``Describe("Preferential Fallback")`` and
  ``Context("Well Known Labels")``, the ``It`` quoted in each test;
* ``pkg/controllers/provisioning/scheduling/topology_test.go`` at commit
  025b80f7dcb2d9eaa60f730871730570b8c86d2f: the preferred pod (anti-)affinity ``It``s;
* the relaxation order: ``pkg/controllers/provisioning/scheduling/preferences.go``
  (``Preferences.Relax``) at commit 08de6e34f5285296bad321cd79207f4b8398a843; the heaviest
  preferred node term required: ``pkg/scheduling/requirements.go`` (``newPodRequirements``) at
  commit 81ea6741fd055682876c19494068f6493f0a9b3c.

Karpenter's fake cloud provider offers three zones (``test-zone-1..3``) and types named
``default-instance-type`` and ``arm-instance-type``; here each (zone, type) is one HyperPod instance
group. ``ExpectScheduled`` becomes "placed, none unplaced"; ``node.Labels[zone]`` the zone of the
new node; each relaxation must appear as a ``Relaxed`` note of the plan.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ebb.core.nodes import (
    InstanceGroup,
    InstanceType,
    NodePlans,
    NodePool,
    Operator,
    PlanningInput,
    PodGroup,
    Requirement,
    Resources,
    UnplacedReason,
    plan_nodes,
)
from ebb.core.nodes.catalogue import INSTANCE_TYPE_LABEL, ZONE_LABEL
from ebb.core.nodes.preferences import (
    Preference,
    PreferenceKind,
    describe,
    in_force,
    next_relaxation,
    relaxation_order,
)
from ebb.core.nodes.requirements import NodeSelectorTerm, PreferredSchedulingTerm
from ebb.core.nodes.topology import (
    HOSTNAME_KEY,
    LabelSelector,
    PodAffinityTerm,
    TopologySpread,
    WeightedPodAffinityTerm,
    WhenUnsatisfiable,
)

NOW = datetime(2025, 1, 6, 12, tzinfo=UTC)
ZONES = ("test-zone-1", "test-zone-2", "test-zone-3")
LABELS = {"test": "test"}
DEFAULT = InstanceType(name="default-instance-type", vcpus=4, memory_mib=16384, price_per_hour=0.2)
ARM = InstanceType(name="arm-instance-type", vcpus=16, memory_mib=65536, arch="arm64", price_per_hour=0.7)


def groups(
    types: tuple[InstanceType, ...] = (DEFAULT, ARM), max_count: int | None = None
) -> tuple[InstanceGroup, ...]:
    return tuple(
        InstanceGroup(name=f"ig-{t.name}-{zone}", zone=zone, instance_types=(t.name,), max_count=max_count)
        for zone in ZONES
        for t in types
    )


def req(key: str, operator: Operator, *values: str) -> Requirement:
    return Requirement(key=key, operator=operator, values=values)


def prefer(weight: int, *expressions: Requirement) -> PreferredSchedulingTerm:
    return PreferredSchedulingTerm(weight=weight, preference=NodeSelectorTerm(match_expressions=expressions))


def weighted(weight: int, key: str, labels: dict[str, str]) -> WeightedPodAffinityTerm:
    return WeightedPodAffinityTerm(
        weight=weight,
        term=PodAffinityTerm(topology_key=key, label_selector=LabelSelector(match_labels=labels)),
    )


def pods(name: str, replicas: int = 1, cpu: str = "1", **fields: object) -> PodGroup:
    return PodGroup.model_validate(
        {"name": name, "replicas": replicas, "requests": Resources.of(cpu=cpu, memory="1Gi"), **fields}
    )


def plan(
    pod_groups: tuple[PodGroup, ...],
    *,
    requirements: tuple[Requirement, ...] = (),
    instance_groups: tuple[InstanceGroup, ...] | None = None,
) -> NodePlans:
    igs = instance_groups or groups()
    return plan_nodes(
        PlanningInput(
            now=NOW,
            pod_groups=pod_groups,
            node_pools=(
                NodePool(
                    name="default", instance_groups=tuple(g.name for g in igs), requirements=requirements
                ),
            ),
            instance_groups=igs,
            instance_types=(DEFAULT, ARM),
        )
    )


def unplaced(plans: NodePlans) -> dict[str, tuple[int, UnplacedReason]]:
    found = {u.group: (u.count, u.reason) for p in plans.plans for u in p.unplaced}
    found.update({u.group: (u.count, u.reason) for u in plans.unplaced})
    return found


def relaxed(plans: NodePlans) -> list[str]:
    return [n.message for p in plans.plans for n in p.notes if n.code == "Relaxed"]


def zones_of(plans: NodePlans, group: str) -> set[str]:
    return {
        n.zone for p in plans.plans for n in p.new_nodes if any(name == group for name, _ in n.pods_per_node)
    }


def types_of(plans: NodePlans, group: str) -> set[str]:
    return {
        t
        for p in plans.plans
        for n in p.new_nodes
        if any(name == group for name, _ in n.pods_per_node)
        for t in n.instance_types
    }


def affinity(*preferred: PreferredSchedulingTerm) -> dict[str, object]:
    return {"preferred_node_affinity": preferred}


# --- Describe("Preferential Fallback") ---------------------------------------------------------------


def test_required_should_not_relax_the_final_term() -> None:
    """Context("Required") It("should not relax the final term"): a required term is never relaxed."""
    result = plan(
        (
            pods(
                "pod",
                node_affinity=(
                    NodeSelectorTerm(match_expressions=(req(ZONE_LABEL, Operator.IN, "invalid"),)),
                ),
            ),
        ),
        requirements=(
            req(ZONE_LABEL, Operator.IN, "test-zone-1"),
            req(INSTANCE_TYPE_LABEL, Operator.IN, "default-instance-type"),
        ),
    )
    assert unplaced(result) == {"pod": (1, UnplacedReason.NO_MATCHING_POOL)}
    assert relaxed(result) == []


def test_required_should_relax_multiple_terms() -> None:
    """Context("Required") It("should relax multiple terms"): terms invalid, invalid, zone-1, zone-2.

    Karpenter tries the ORed terms one at a time and lands in test-zone-1; ebb plans the ORed terms
    together (what they mean), so the pod lands in a zone a valid term names, and nothing is
    reported relaxed (no preference was given up). Here zone-2 is dearer, so zone-1 is also ebb's.
    """
    dear_zone_2 = tuple(
        g if g.zone != "test-zone-2" else g.model_copy(update={"instance_types": ("arm-instance-type",)})
        for g in groups((DEFAULT,))
    )
    terms = tuple(
        NodeSelectorTerm(match_expressions=(req(ZONE_LABEL, Operator.IN, zone),))
        for zone in ("invalid", "invalid", "test-zone-1", "test-zone-2")
    )
    result = plan((pods("pod", node_affinity=terms),), instance_groups=dear_zone_2)
    assert not unplaced(result)
    assert zones_of(result, "pod") == {"test-zone-1"}
    assert relaxed(result) == []


def test_preferred_should_relax_all_terms() -> None:
    """Context("Preferred") It("should relax all terms"): two unsatisfiable preferences, both go."""
    result = plan(
        (
            pods(
                "pod",
                **affinity(
                    prefer(1, req(ZONE_LABEL, Operator.IN, "invalid")),
                    prefer(1, req(INSTANCE_TYPE_LABEL, Operator.IN, "invalid")),
                ),
            ),
        )
    )
    assert not unplaced(result)
    messages = relaxed(result)
    assert len(messages) == 2
    assert "preferredDuringSchedulingIgnoredDuringExecution[0]" in messages[0]
    assert "preferredDuringSchedulingIgnoredDuringExecution[1]" in messages[1]


def test_preferred_should_relax_to_use_lighter_weights() -> None:
    """Context("Preferred") It("should relax to use lighter weights"): 100 fails, 50 (zone-2) holds."""
    result = plan(
        (
            pods(
                "pod",
                **affinity(
                    prefer(100, req(INSTANCE_TYPE_LABEL, Operator.IN, "test-zone-3")),
                    prefer(50, req(ZONE_LABEL, Operator.IN, "test-zone-2")),
                    prefer(1, req(ZONE_LABEL, Operator.IN, "test-zone-1")),  # never reached
                ),
            ),
        ),
        requirements=(req(ZONE_LABEL, Operator.IN, "test-zone-1", "test-zone-2"),),
    )
    assert not unplaced(result)
    assert zones_of(result, "pod") == {"test-zone-2"}
    messages = relaxed(result)
    assert len(messages) == 1
    assert "weight 100" in messages[0]


def test_preferred_should_schedule_even_if_preference_is_conflicting_with_requirement() -> None:
    """Context("Preferred") It("should schedule even if preference is conflicting with requirement")."""
    result = plan(
        (
            pods(
                "pod",
                node_affinity=(
                    NodeSelectorTerm(match_expressions=(req(ZONE_LABEL, Operator.IN, "test-zone-3"),)),
                ),
                **affinity(prefer(1, req(ZONE_LABEL, Operator.NOT_IN, "test-zone-3"))),
            ),
        )
    )
    assert not unplaced(result)
    assert zones_of(result, "pod") == {"test-zone-3"}
    assert len(relaxed(result)) == 1


def test_preferred_should_schedule_even_if_preference_requirements_are_conflicting() -> None:
    """Context("Preferred") It("should schedule even if preference requirements are conflicting")."""
    result = plan(
        (
            pods(
                "pod",
                **affinity(
                    prefer(
                        1,
                        req(ZONE_LABEL, Operator.IN, "invalid"),
                        req(ZONE_LABEL, Operator.NOT_IN, "invalid"),
                    )
                ),
            ),
        )
    )
    assert not unplaced(result)
    assert len(relaxed(result)) == 1


# --- Context("Well Known Labels"): NodePreferences (one preferred term of weight 1) -----------------

ANY_ZONE = NodeSelectorTerm(
    match_expressions=(req(ZONE_LABEL, Operator.IN, "test-zone-1", "test-zone-2", "test-zone-3", "unknown"),)
)


def test_should_schedule_compatible_preferences_and_requirements_with_operator_in() -> None:
    """It("should schedule compatible preferences and requirements with Operator=In"): zone-2."""
    result = plan(
        (
            pods(
                "pod",
                node_affinity=(ANY_ZONE,),
                **affinity(prefer(1, req(ZONE_LABEL, Operator.IN, "test-zone-2", "unknown"))),
            ),
        )
    )
    assert zones_of(result, "pod") == {"test-zone-2"}
    assert relaxed(result) == []


def test_should_schedule_incompatible_preferences_and_requirements_with_operator_in() -> None:
    """It("should schedule incompatible preferences and requirements with Operator=In")."""
    result = plan(
        (
            pods(
                "pod",
                node_affinity=(ANY_ZONE,),
                **affinity(prefer(1, req(ZONE_LABEL, Operator.IN, "unknown"))),
            ),
        )
    )
    assert not unplaced(result)
    assert len(relaxed(result)) == 1


def test_should_schedule_compatible_preferences_and_requirements_with_operator_not_in() -> None:
    """It("should schedule compatible preferences and requirements with Operator=NotIn"): zone-2."""
    result = plan(
        (
            pods(
                "pod",
                node_affinity=(ANY_ZONE,),
                **affinity(prefer(1, req(ZONE_LABEL, Operator.NOT_IN, "test-zone-1", "test-zone-3"))),
            ),
        )
    )
    assert zones_of(result, "pod") == {"test-zone-2"}
    assert relaxed(result) == []


def test_preference_steers_the_instance_type_while_it_can_be_met() -> None:
    """ebb's own, on the pattern of the Operator=In case above: a preference for the (dearer) arm
    type is kept while it can be met, since a preference in force is a requirement."""
    result = plan(
        (pods("pod", **affinity(prefer(1, req(INSTANCE_TYPE_LABEL, Operator.IN, "arm-instance-type")))),)
    )
    assert types_of(result, "pod") == {"arm-instance-type"}
    assert relaxed(result) == []


# --- topology_test.go: preferred pod (anti-)affinity -------------------------------------------------


def test_should_allow_violation_of_preferred_pod_affinity() -> None:
    """It("should allow violation of preferred pod affinity"): no pod matches security=s2 anywhere;
    the preference is relaxed and the pod scheduled, next to 10 hostname-spread pods."""
    topology = (
        TopologySpread(
            topology_key=HOSTNAME_KEY, max_skew=1, label_selector=LabelSelector(match_labels=LABELS)
        ),
    )
    result = plan(
        (
            pods("spread", 10, labels=LABELS, topology_spread=topology),
            pods("aff-pod-2", preferred_pod_affinity=(weighted(50, HOSTNAME_KEY, {"security": "s2"}),)),
        )
    )
    assert not unplaced(result)
    messages = relaxed(result)
    assert messages == [
        "aff-pod-2: podAffinity.preferredDuringSchedulingIgnoredDuringExecution[0] on kubernetes.io/hostname "
        "(weight 50) relaxed: the pods could not all be placed keeping it"
    ]


def test_should_allow_violation_of_preferred_pod_anti_affinity() -> None:
    """It("should allow violation of preferred pod anti-affinity"): 3 zone-spread pods labelled
    test=test land one per zone; 10 pods preferring no test=test pod in their zone cannot keep it
    and are scheduled anyway."""
    spread = (
        TopologySpread(
            topology_key=ZONE_LABEL, max_skew=1, label_selector=LabelSelector(match_labels=LABELS)
        ),
    )
    result = plan(
        (
            pods("spread", 3, "2", labels=LABELS, topology_spread=spread),
            pods("aff", 10, "100m", preferred_pod_anti_affinity=(weighted(50, ZONE_LABEL, LABELS),)),
        )
    )
    assert not unplaced(result)
    assert zones_of(result, "spread") == set(ZONES)
    assert any(m.startswith("aff: podAntiAffinity.preferred") for m in relaxed(result))


def test_should_violate_preferred_pod_anti_affinity_on_zone_inverse() -> None:
    """It("should violate preferred pod anti-affinity on zone (inverse)"): three pods pinned one per
    zone prefer no security=s2 pod in their zone; an s2 pod still schedules (a preferred
    anti-affinity does not keep other pods away), and nothing needs relaxing."""
    anti = (weighted(10, ZONE_LABEL, {"security": "s2"}),)
    zone_pods = tuple(
        pods(f"zone{i}", cpu="2", node_selector={ZONE_LABEL: zone}, preferred_pod_anti_affinity=anti)
        for i, zone in enumerate(ZONES, start=1)
    )
    result = plan((*zone_pods, pods("aff-pod", labels={"security": "s2"})))
    assert not unplaced(result)
    assert relaxed(result) == []


# --- ebb's own: a preference in force is honoured, relaxed only when it cannot be met ----------------


def test_preferred_hostname_anti_affinity_is_kept_while_it_can_be() -> None:
    """Treated as required (preferences.go, topology.go ``newForAffinities`` adds the preferred
    terms): three pods that prefer not to share a node get three nodes, nothing relaxed."""
    own = {"app": "web"}
    result = plan(
        (pods("web", 3, "100m", labels=own, preferred_pod_anti_affinity=(weighted(1, HOSTNAME_KEY, own),)),)
    )
    assert sum(n.count for p in result.plans for n in p.new_nodes) == 3
    assert relaxed(result) == []


def test_preferred_hostname_anti_affinity_is_relaxed_and_reported_when_nodes_run_out() -> None:
    """With one node per instance group (six in all), eight pods cannot each have a node: the
    preference is relaxed, every pod placed, and the plan says so."""
    own = {"app": "web"}
    result = plan(
        (pods("web", 8, "100m", labels=own, preferred_pod_anti_affinity=(weighted(1, HOSTNAME_KEY, own),)),),
        instance_groups=groups(max_count=1),
    )
    assert not unplaced(result)
    assert len(relaxed(result)) == 1
    assert "podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0]" in relaxed(result)[0]


def test_required_anti_affinity_is_never_relaxed_beside_a_preference() -> None:
    """The same with the anti-affinity required: six pods placed, two reported, and only the
    (unsatisfiable) node preference relaxed, never the required term."""
    own = {"app": "web"}
    result = plan(
        (
            pods(
                "web",
                8,
                "100m",
                labels=own,
                pod_anti_affinity=(
                    PodAffinityTerm(
                        topology_key=HOSTNAME_KEY, label_selector=LabelSelector(match_labels=own)
                    ),
                ),
                **affinity(prefer(5, req(ZONE_LABEL, Operator.IN, "invalid"))),
            ),
        ),
        instance_groups=groups(max_count=1),
    )
    assert unplaced(result)["web"][0] == 2
    messages = relaxed(result)
    assert len(messages) == 1
    assert "nodeAffinity.preferred" in messages[0]


# --- the relaxation order (preferences.go Relax) -----------------------------------------------------


def test_relaxation_order_is_karpenters() -> None:
    """Relax: pod affinity, then pod anti-affinity, then node affinity, each heaviest first (stable
    on ties), then ScheduleAnyway spreads in the order Go's swap-remove takes them."""
    anyway = [
        TopologySpread(topology_key=key, max_skew=1, when_unsatisfiable=when)
        for key, when in (
            (ZONE_LABEL, WhenUnsatisfiable.SCHEDULE_ANYWAY),
            (HOSTNAME_KEY, WhenUnsatisfiable.DO_NOT_SCHEDULE),
            ("a", WhenUnsatisfiable.SCHEDULE_ANYWAY),
            ("b", WhenUnsatisfiable.SCHEDULE_ANYWAY),
        )
    ]
    group = pods(
        "g",
        preferred_pod_affinity=(weighted(1, ZONE_LABEL, LABELS), weighted(9, ZONE_LABEL, LABELS)),
        preferred_pod_anti_affinity=(weighted(5, ZONE_LABEL, LABELS), weighted(5, HOSTNAME_KEY, LABELS)),
        preferred_node_affinity=(prefer(2, req("x", Operator.EXISTS)), prefer(3, req("y", Operator.EXISTS))),
        topology_spread=tuple(anyway),
    )
    order = [(p.kind, p.index) for p in relaxation_order(group)]
    assert order == [
        (PreferenceKind.POD_AFFINITY, 1),
        (PreferenceKind.POD_AFFINITY, 0),
        (PreferenceKind.POD_ANTI_AFFINITY, 0),
        (PreferenceKind.POD_ANTI_AFFINITY, 1),
        (PreferenceKind.NODE_AFFINITY, 1),
        (PreferenceKind.NODE_AFFINITY, 0),
        # [0, 1, 2, 3]: remove 0 (3 moves in) -> [3, 1, 2]: remove 3 -> [2, 1]: remove 2.
        (PreferenceKind.SPREAD, 0),
        (PreferenceKind.SPREAD, 3),
        (PreferenceKind.SPREAD, 2),
    ]
    assert next_relaxation(group, frozenset(relaxation_order(group))) is None


def test_node_preference_in_force_is_the_heaviest_not_relaxed() -> None:
    """newPodRequirements: the heaviest preferred term is required; once relaxed, the next one."""
    group = pods(
        "g",
        node_affinity=(NodeSelectorTerm(match_expressions=(req("r", Operator.EXISTS),)),),
        **affinity(prefer(2, req("x", Operator.EXISTS)), prefer(3, req("y", Operator.EXISTS))),
    )
    assert in_force(group, frozenset()).node_affinity == (
        NodeSelectorTerm(match_expressions=(req("r", Operator.EXISTS), req("y", Operator.EXISTS))),
    )
    first = Preference("g", PreferenceKind.NODE_AFFINITY, 1)
    assert in_force(group, frozenset({first})).node_affinity == (
        NodeSelectorTerm(match_expressions=(req("r", Operator.EXISTS), req("x", Operator.EXISTS))),
    )
    both = frozenset({first, Preference("g", PreferenceKind.NODE_AFFINITY, 0)})
    assert in_force(group, both) is group


def test_an_empty_preferred_term_constrains_nothing() -> None:
    """core/v1 PreferredSchedulingTerm: "An empty preferred scheduling term matches all objects"."""
    group = pods(
        "g", preferred_node_affinity=(PreferredSchedulingTerm(weight=1, preference=NodeSelectorTerm()),)
    )
    assert in_force(group, frozenset()).node_affinity == ()


@pytest.mark.parametrize("weight", [0, 101])
def test_weights_outside_1_to_100_are_refused(weight: int) -> None:
    """core/v1 validation: a preference's weight is in 1-100."""
    with pytest.raises(ValueError, match="weight"):
        PreferredSchedulingTerm(weight=weight, preference=NodeSelectorTerm())
    with pytest.raises(ValueError, match="weight"):
        WeightedPodAffinityTerm(weight=weight, term=PodAffinityTerm(topology_key=ZONE_LABEL))


@pytest.mark.parametrize("key", [HOSTNAME_KEY, ZONE_LABEL])
def test_required_affinity_to_pods_that_run_nowhere_is_never_placed(key: str) -> None:
    """kube-scheduler ``interpodaffinity/filtering.go`` (``satisfyPodAffinity``): a required
    affinity no running pod matches, and that the pod does not match itself, filters every node.
    Found while adding preferences: on hostname such pods were packed onto new nodes anyway."""
    term = PodAffinityTerm(topology_key=key, label_selector=LabelSelector(match_labels={"security": "s2"}))
    spread = (
        TopologySpread(
            topology_key=HOSTNAME_KEY, max_skew=1, label_selector=LabelSelector(match_labels=LABELS)
        ),
    )
    result = plan(
        (pods("spread", 3, labels=LABELS, topology_spread=spread), pods("aff", pod_affinity=(term,)))
    )
    assert unplaced(result) == {"aff": (1, UnplacedReason.POD_AFFINITY)}
    assert zones_of(result, "aff") == set()


ANYWAY = WhenUnsatisfiable.SCHEDULE_ANYWAY


def test_each_relaxed_preference_is_named_exactly_as_the_pod_spec_writes_it() -> None:
    """The plan's `Relaxed` note names the field, its index, its key or expressions and its weight
    (or maxSkew), so a user finds the term in the pod spec."""
    group = pods(
        "g",
        preferred_pod_affinity=(weighted(1, ZONE_LABEL, LABELS), weighted(9, HOSTNAME_KEY, LABELS)),
        preferred_pod_anti_affinity=(weighted(5, ZONE_LABEL, LABELS), weighted(7, HOSTNAME_KEY, LABELS)),
        preferred_node_affinity=(
            prefer(2, req("x", Operator.EXISTS)),
            prefer(3, req("y", Operator.IN, "a", "b"), req("z", Operator.NOT_IN, "c")),
        ),
        topology_spread=(
            TopologySpread(
                topology_key=ZONE_LABEL, max_skew=1, when_unsatisfiable=WhenUnsatisfiable.SCHEDULE_ANYWAY
            ),
            TopologySpread(
                topology_key="rack", max_skew=4, when_unsatisfiable=WhenUnsatisfiable.SCHEDULE_ANYWAY
            ),
        ),
    )
    assert [describe(group, p) for p in relaxation_order(group)] == [
        "podAffinity.preferredDuringSchedulingIgnoredDuringExecution[1] on kubernetes.io/hostname (weight 9)",
        f"podAffinity.preferredDuringSchedulingIgnoredDuringExecution[0] on {ZONE_LABEL} (weight 1)",
        "podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[1] on kubernetes.io/hostname "
        "(weight 7)",
        f"podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0] on {ZONE_LABEL} (weight 5)",
        "nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[1] (y In [a, b], z NotIn [c]; "
        "weight 3)",
        "nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0] (x Exists; weight 2)",
        f"topologySpreadConstraints[0] on {ZONE_LABEL} (ScheduleAnyway, maxSkew 1)",
        "topologySpreadConstraints[1] on rack (ScheduleAnyway, maxSkew 4)",
    ]
