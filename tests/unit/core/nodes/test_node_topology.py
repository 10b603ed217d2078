"""Topology spread and required pod (anti-)affinity in the node planner, from Karpenter's tests.

Each test names its source: kubernetes-sigs/karpenter
``pkg/controllers/provisioning/scheduling/topology_test.go`` at commit
025b80f7dcb2d9eaa60f730871730570b8c86d2f, ``Describe("Topology")`` and the ``It`` quoted. Karpenter's
fake cloud provider offers three zones (``test-zone-1..3``); here each zone is one HyperPod instance
group of one type, and Karpenter's NodePool zone requirements are the pool's requirements. Pods of
1.1 CPU on 2-vCPU nodes fill a node each, as the upstream tests arrange with the same request.
``ExpectSkew(...).To(ConsistOf(...))`` becomes the multiset of matching pods per zone after the
plan (running pods plus the plan's placements and new nodes).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from ebb.core.nodes import (
    ExistingNode,
    InstanceGroup,
    InstanceType,
    NodePlans,
    NodePool,
    Operator,
    PlanningInput,
    PodGroup,
    PodsOnNode,
    Requirement,
    Resources,
    UnplacedReason,
    plan_nodes,
)
from ebb.core.nodes.catalogue import ARCH_LABEL, ZONE_LABEL
from ebb.core.nodes.topology import (
    HOSTNAME_KEY,
    LabelSelector,
    PodAffinityTerm,
    SelectorOperator,
    SelectorRequirement,
    TopologySpread,
    WhenUnsatisfiable,
)

NOW = datetime(2025, 1, 6, 12, tzinfo=UTC)
ZONES = ("test-zone-1", "test-zone-2", "test-zone-3")
LABELS = {"test": "test"}
SMALL = InstanceType(name="c-2", vcpus=2, memory_mib=8192, price_per_hour=0.1)
BIG = InstanceType(name="c-16", vcpus=16, memory_mib=65536, price_per_hour=0.8)


def zone_groups(types: tuple[InstanceType, ...] = (SMALL,)) -> tuple[InstanceGroup, ...]:
    return tuple(
        InstanceGroup(name=f"ig-{t.name}-{zone}", zone=zone, instance_types=(t.name,))
        for zone in ZONES
        for t in types
    )


def pool(*zones: str, groups: tuple[InstanceGroup, ...] | None = None) -> NodePool:
    requirements = (Requirement(key=ZONE_LABEL, operator=Operator.IN, values=zones),) if zones else ()
    return NodePool(
        name="default",
        instance_groups=tuple(g.name for g in groups or zone_groups()),
        requirements=requirements,
    )


def spread(
    key: str = ZONE_LABEL,
    max_skew: int = 1,
    *,
    selector: LabelSelector | None = None,
    when: WhenUnsatisfiable = WhenUnsatisfiable.DO_NOT_SCHEDULE,
    min_domains: int | None = None,
) -> TopologySpread:
    return TopologySpread(
        topology_key=key,
        max_skew=max_skew,
        when_unsatisfiable=when,
        label_selector=LabelSelector(match_labels=LABELS) if selector is None else selector,
        min_domains=min_domains,
    )


def pods(
    name: str, replicas: int, cpu: str = "1.1", *, labels: dict[str, str] | None = None, **fields: object
) -> PodGroup:
    return PodGroup.model_validate(
        {
            "name": name,
            "replicas": replicas,
            "requests": Resources.of(cpu=cpu, memory="1Gi"),
            "labels": LABELS if labels is None else labels,
            **fields,
        }
    )


def node(name: str, zone: str, placed: dict[str, int], type_name: str = "c-2") -> ExistingNode:
    return ExistingNode(
        name=name,
        node_pool="default",
        instance_group=f"ig-{type_name}-{zone}",
        instance_type=type_name,
        pods=tuple(PodsOnNode(group=g, count=c) for g, c in placed.items()),
    )


def plan(
    pod_groups: tuple[PodGroup, ...],
    *,
    node_pool: NodePool | None = None,
    nodes: tuple[ExistingNode, ...] = (),
    types: tuple[InstanceType, ...] = (SMALL,),
) -> NodePlans:
    groups = zone_groups(types)
    return plan_nodes(
        PlanningInput(
            now=NOW,
            pod_groups=pod_groups,
            node_pools=(node_pool or pool(groups=groups),),
            instance_groups=groups,
            instance_types=types,
            nodes=nodes,
        )
    )


def zone_counts(
    plans: NodePlans, nodes: tuple[ExistingNode, ...] = (), counted: frozenset[str] | None = None
) -> list[int]:
    """Matching pods per zone after the plan, sorted (Gomega's ``ConsistOf`` ignores order)."""
    per_zone: Counter[str] = Counter()
    zone_of = {}
    for existing in nodes:
        zone_of[existing.name] = existing.instance_group.rsplit("-", 3)[-3:]
        for placed in existing.pods:
            if counted is None or placed.group in counted:
                per_zone["-".join(zone_of[existing.name])] += placed.count
    for one in plans.plans:
        for placement in one.placements:
            if counted is None or placement.group in counted:
                per_zone["-".join(zone_of[placement.node])] += placement.count
        for new in one.new_nodes:
            for group_name, count in new.pods_per_node:
                if counted is None or group_name in counted:
                    per_zone[new.zone] += count * new.count
    return sorted(count for count in per_zone.values() if count)


def unplaced(plans: NodePlans) -> dict[str, tuple[int, UnplacedReason]]:
    found = {u.group: (u.count, u.reason) for p in plans.plans for u in p.unplaced}
    found.update({u.group: (u.count, u.reason) for u in plans.unplaced})
    return found


def new_node_count(plans: NodePlans) -> int:
    return sum(n.count for p in plans.plans for n in p.new_nodes)


# --- It(...) in Describe("Topology") ------------------------------------------------------------------


def test_should_ignore_unknown_topology_keys() -> None:
    """It("should ignore unknown topology keys"): the constrained pod is not scheduled, the other is."""
    result = plan((pods("spread", 1, topology_spread=(spread("unknown"),)), pods("plain", 1, labels={})))
    assert unplaced(result) == {"spread": (1, UnplacedReason.TOPOLOGY_SPREAD)}
    assert new_node_count(result) == 1


def test_should_balance_pods_across_zones_match_labels() -> None:
    """Context("Zonal") It("should balance pods across zones (match labels)"): 4 pods -> 1, 1, 2."""
    result = plan((pods("web", 4, topology_spread=(spread(),)),))
    assert zone_counts(result) == [1, 1, 2]
    assert not unplaced(result)


def test_should_balance_pods_across_zones_match_expressions() -> None:
    """Context("Zonal") It("should balance pods across zones (match expressions)")."""
    selector = LabelSelector(
        match_expressions=(SelectorRequirement(key="test", operator=SelectorOperator.IN, values=("test",)),)
    )
    result = plan((pods("web", 4, topology_spread=(spread(selector=selector),)),))
    assert zone_counts(result) == [1, 1, 2]


def test_should_respect_nodepool_zonal_constraints() -> None:
    """Context("Zonal") It("should respect NodePool zonal constraints"): all three zones allowed."""
    result = plan((pods("web", 4, topology_spread=(spread(),)),), node_pool=pool(*ZONES))
    assert zone_counts(result) == [1, 1, 2]


def test_should_respect_nodepool_zonal_constraints_subset_with_requirements() -> None:
    """Context("Zonal") It("should respect NodePool zonal constraints (subset) with requirements")."""
    result = plan(
        (pods("web", 4, topology_spread=(spread(),)),), node_pool=pool("test-zone-1", "test-zone-2")
    )
    assert zone_counts(result) == [2, 2]


def test_should_respect_nodepool_zonal_constraints_subset_with_labels() -> None:
    """Context("Zonal") It("should respect NodePool zonal constraints (subset) with labels").

    One zone only: all four there.
    """
    result = plan((pods("web", 4, topology_spread=(spread(),)),), node_pool=pool("test-zone-1"))
    assert zone_counts(result) == [4]


def test_should_respect_nodepool_zonal_constraints_existing_pod() -> None:
    """Context("Zonal") It("should respect NodePool zonal constraints (existing pod)").

    A matching pod runs in zone 3, which the pool cannot launch in: zones 1 and 2 take two each
    before the skew would pass 1, and the last two of the six pods stay pending.
    """
    nodes = (node("n3", "test-zone-3", {"first": 1}),)
    result = plan(
        (pods("first", 1), pods("web", 6, topology_spread=(spread(),))),
        node_pool=pool("test-zone-1", "test-zone-2"),
        nodes=nodes,
    )
    assert zone_counts(result, nodes) == [1, 2, 2]
    assert unplaced(result) == {"web": (2, UnplacedReason.TOPOLOGY_SPREAD)}


def test_should_schedule_to_the_non_minimum_domain_if_its_all_thats_available() -> None:
    """Context("Zonal") It("should schedule to the non-minimum domain if its all that's available").

    maxSkew 5, one pod in each of zones 1 and 2, only zone 3 open: it takes 6, four stay pending.
    """
    web = (spread(max_skew=5),)
    nodes = (node("n1", "test-zone-1", {"web": 1}), node("n2", "test-zone-2", {"web": 1}))
    result = plan((pods("web", 12, topology_spread=web),), node_pool=pool("test-zone-3"), nodes=nodes)
    assert zone_counts(result, nodes) == [1, 1, 6]
    assert unplaced(result) == {"web": (4, UnplacedReason.TOPOLOGY_SPREAD)}


def test_should_only_schedule_to_minimum_domains_if_already_violating_max_skew() -> None:
    """Context("Zonal") It("should only schedule to minimum domains if already violating max skew").

    Three pods run in zone 1 (the others were deleted); three more recover the skew: 3, 1, 2.
    """
    nodes = tuple(node(f"n{i}", "test-zone-1", {"web": 1}) for i in range(3))
    result = plan((pods("web", 6, topology_spread=(spread(),)),), nodes=nodes)
    assert zone_counts(result, nodes) == [1, 2, 3]


def test_should_not_violate_max_skew_when_unsat_do_not_schedule() -> None:
    """Context("Zonal") It("should not violate max-skew when unsat = do not schedule"): 1, 2, 2."""
    nodes = (node("n1", "test-zone-1", {"web": 1}),)
    result = plan(
        (pods("web", 11, topology_spread=(spread(),)),),
        node_pool=pool("test-zone-2", "test-zone-3"),
        nodes=nodes,
    )
    assert zone_counts(result, nodes) == [1, 2, 2]
    assert unplaced(result) == {"web": (6, UnplacedReason.TOPOLOGY_SPREAD)}


def test_should_not_violate_max_skew_when_unsat_do_not_schedule_discover_domains() -> None:
    """Context("Zonal") It("should not violate max-skew when unsat = do not schedule (discover domains)").

    The pod in zone 1 has no spread of its own but matches the selector, so it counts.
    """
    nodes = (node("n1", "test-zone-1", {"first": 1}),)
    result = plan(
        (pods("first", 1), pods("web", 10, topology_spread=(spread(),))),
        node_pool=pool("test-zone-2", "test-zone-3"),
        nodes=nodes,
    )
    assert zone_counts(result, nodes) == [1, 2, 2]


def test_should_only_count_running_pods_with_matching_labels() -> None:
    """Context("Zonal") It("should only count running/scheduled pods with matching labels scheduled to
    nodes with a corresponding domain"): pods without the labels or of another namespace do not count.
    """
    nodes = (
        node("first", "test-zone-1", {"unlabelled": 1, "elsewhere": 1, "counted": 2}, type_name="c-16"),
        node("second", "test-zone-2", {"counted": 1}, type_name="c-16"),
    )
    groups = (
        pods("unlabelled", 1, "100m", labels={}),
        pods("elsewhere", 1, "100m", namespace="wrong-namespace"),
        pods("counted", 3, "100m"),
        pods("web", 2, "100m", topology_spread=(spread(),)),
    )
    result = plan(groups, nodes=nodes, types=(SMALL, BIG))
    assert zone_counts(result, nodes, frozenset({"counted", "web"})) == [1, 2, 2]


def test_should_match_all_pods_when_label_selector_is_not_specified() -> None:
    """Context("Zonal") It("should match all pods when labelSelector is not specified"): the pod is placed.

    A nil selector matches no pod (kube-scheduler), so the constraint never blocks.
    """
    nil = TopologySpread(topology_key=ZONE_LABEL, max_skew=1)
    result = plan((pods("web", 1, topology_spread=(nil,)),))
    assert zone_counts(result) == [1]


def test_should_handle_interdependent_selectors() -> None:
    """Context("Zonal") It("should handle interdependent selectors"): pods the selector does not match
    add nothing to the skew, so all five share one node.
    """
    result = plan((pods("web", 5, "100m", labels={}, topology_spread=(spread(HOSTNAME_KEY),)),))
    assert new_node_count(result) == 1
    assert not unplaced(result)


def test_should_respect_min_domains_constraints() -> None:
    """Context("Zonal") It("should respect minDomains constraints"): two zones for minDomains 3 -> 1, 1."""
    result = plan(
        (pods("web", 3, topology_spread=(spread(min_domains=3),)),),
        node_pool=pool("test-zone-1", "test-zone-2"),
    )
    assert zone_counts(result) == [1, 1]
    assert unplaced(result) == {"web": (1, UnplacedReason.TOPOLOGY_SPREAD)}


def test_satisfied_min_domains_constraints_equal() -> None:
    """Context("Zonal") It("satisfied minDomains constraints (equal) should allow expected pod
    scheduling").
    """
    result = plan((pods("web", 11, topology_spread=(spread(min_domains=3),)),), node_pool=pool(*ZONES))
    assert zone_counts(result) == [3, 4, 4]


def test_satisfied_min_domains_constraints_greater_than_minimum() -> None:
    """Context("Zonal") It("satisfied minDomains constraints (greater than minimum) should allow expected
    pod scheduling").
    """
    result = plan((pods("web", 11, topology_spread=(spread(min_domains=2),)),), node_pool=pool(*ZONES))
    assert zone_counts(result) == [3, 4, 4]


def test_hostname_should_balance_pods_across_nodes() -> None:
    """Context("Hostname") It("should balance pods across nodes"): 4 small pods, maxSkew 1 -> 4 nodes."""
    result = plan((pods("web", 4, "100m", topology_spread=(spread(HOSTNAME_KEY),)),))
    assert new_node_count(result) == 4
    assert all(
        per_node == (("web", 1),) for p in result.plans for n in p.new_nodes for per_node in [n.pods_per_node]
    )


def test_hostname_should_balance_pods_on_the_same_hostname_up_to_maxskew() -> None:
    """Context("Hostname") It("should balance pods on the same hostname up to maxskew").

    maxSkew 4: one node holds all four.
    """
    result = plan((pods("web", 4, "100m", topology_spread=(spread(HOSTNAME_KEY, 4),)),))
    assert new_node_count(result) == 1


def test_hostname_balance_multiple_deployments() -> None:
    """Context("Hostname") It("balance multiple deployments with hostname topology spread"): two nodes."""

    def app(name: str) -> PodGroup:
        own = {"app": name}
        return pods(
            name,
            2,
            "100m",
            labels=own,
            topology_spread=(spread(HOSTNAME_KEY, selector=LabelSelector(match_labels=own)),),
        )

    result = plan((app("app1"), app("app2")))
    assert new_node_count(result) == 2
    assert not unplaced(result)


def test_hostname_balance_multiple_deployments_varying_arch() -> None:
    """Context("Hostname") It("balance multiple deployments with hostname topology spread & varying arch"):
    the two apps need different architectures, so four nodes.
    """
    arm = InstanceType(name="g-2", vcpus=2, memory_mib=8192, price_per_hour=0.08, arch="arm64")

    def app(name: str, arch: str) -> PodGroup:
        own = {"app": name}
        return pods(
            name,
            2,
            "100m",
            labels=own,
            node_selector={"kubernetes.io/arch": arch},
            topology_spread=(spread(HOSTNAME_KEY, selector=LabelSelector(match_labels=own)),),
        )

    result = plan((app("app1", "amd64"), app("app2", "arm64")), types=(SMALL, arm))
    assert new_node_count(result) == 4
    assert not unplaced(result)


def test_should_violate_max_skew_when_unsat_schedule_anyway() -> None:
    """Context("CapacityType") It("should violate max-skew when unsat = schedule anyway (capacity type)"),
    on zones: one pod runs where the pool can no longer launch; ScheduleAnyway lets the other five
    gather in the open zone (1, 5), and the plan says the preference was relaxed.
    """
    nodes = (node("n1", "test-zone-1", {"web": 1}),)
    anyway = (spread(when=WhenUnsatisfiable.SCHEDULE_ANYWAY),)
    result = plan(
        (pods("web", 6, topology_spread=anyway),),
        node_pool=pool("test-zone-2"),
        nodes=nodes,
    )
    assert zone_counts(result, nodes) == [1, 5]
    assert not unplaced(result)
    notes = [n for p in result.plans for n in p.notes if n.code == "Relaxed"]
    assert len(notes) == 1
    assert "topologySpreadConstraints[0] on topology.kubernetes.io/zone (ScheduleAnyway" in notes[0].message


def test_should_not_violate_max_skew_when_unsat_do_not_schedule_capacity_type_on_instance_group() -> None:
    """Context("CapacityType") It("should not violate max-skew when unsat = do not schedule (capacity type)"),
    on the instance-group label (a value per HyperPod group, as capacity type is per offering): one
    pod on a group the pool no longer admits, five more -> 1, 2 and three pending.
    """
    key = "sagemaker.amazonaws.com/instance-group-name"
    nodes = (node("n1", "test-zone-1", {"web": 1}),)
    groups = zone_groups()
    only_two = NodePool(
        name="default",
        instance_groups=tuple(g.name for g in groups),
        requirements=(Requirement(key=key, operator=Operator.IN, values=("ig-c-2-test-zone-2",)),),
    )
    result = plan((pods("web", 6, topology_spread=(spread(key),)),), node_pool=only_two, nodes=nodes)
    assert zone_counts(result, nodes) == [1, 2]
    assert unplaced(result) == {"web": (3, UnplacedReason.TOPOLOGY_SPREAD)}


# --- Context("Pod Affinity/Anti-Affinity") -------------------------------------------------------------
# Where ebb's answer differs from Karpenter's the test says why: a HyperPod instance group has one
# zone, so ebb knows the zone of every node it plans and can keep a zonal anti-affinity in one plan
# where Karpenter, committing to a zone only when the node is created, needs a second batch.

S2 = {"security": "s2"}


def term(key: str, labels: dict[str, str] = S2) -> PodAffinityTerm:
    return PodAffinityTerm(topology_key=key, label_selector=LabelSelector(match_labels=labels))


def test_should_respect_self_pod_affinity_hostname() -> None:
    """It("should respect self pod affinity (hostname)"): three pods on one node."""
    result = plan((pods("aff", 3, "100m", labels=S2, pod_affinity=(term(HOSTNAME_KEY),)),))
    assert new_node_count(result) == 1
    assert not unplaced(result)


def test_should_respect_self_pod_affinity_for_first_empty_topology_domain_only_hostname() -> None:
    """It("should respect self pod affinity for first empty topology domain only (hostname)").

    The node holds five pods: one node with five, five pending; a second batch, with that node
    full, places none either.
    """
    five = InstanceType(name="c-2", vcpus=2, memory_mib=8192, price_per_hour=0.1, max_pods=5)
    group = pods("aff", 10, "100m", labels=S2, pod_affinity=(term(HOSTNAME_KEY),))
    first = plan((group,), types=(five,))
    assert new_node_count(first) == 1
    assert [n.pods_per_node for p in first.plans for n in p.new_nodes] == [(("aff", 5),)]
    assert unplaced(first) == {"aff": (5, UnplacedReason.POD_AFFINITY)}

    full = (node("n1", "test-zone-1", {"aff": 5}),)
    second = plan((group.model_copy(update={"replicas": 15}),), nodes=full, types=(five,))
    assert new_node_count(second) == 0
    assert unplaced(second) == {"aff": (10, UnplacedReason.POD_AFFINITY)}


def test_should_respect_self_pod_affinity_for_first_empty_domain_only_constrained_zones() -> None:
    """It("should respect self pod affinity for first empty topology domain only (hostname/constrained
    zones)"): a matching pod runs in zone 1, the new pods may only use zones 2 and 3: none schedule.
    """
    nodes = (node("n1", "test-zone-1", {"first": 1}),)
    zones_2_3 = {"topology.kubernetes.io/zone": "test-zone-2"}
    result = plan(
        (
            pods("first", 1, "100m", labels=S2),
            pods("aff", 10, "100m", labels=S2, node_selector=zones_2_3, pod_affinity=(term(HOSTNAME_KEY),)),
        ),
        nodes=nodes,
    )
    assert new_node_count(result) == 0
    assert unplaced(result) == {"aff": (10, UnplacedReason.POD_AFFINITY)}


def test_should_respect_self_pod_affinity_zone() -> None:
    """It("should respect self pod affinity (zone)"): three small pods, one zone, one node."""
    result = plan((pods("aff", 3, "100m", labels=S2, pod_affinity=(term(ZONE_LABEL),)),))
    assert new_node_count(result) == 1
    assert zone_counts(result) == [3]


def test_should_respect_self_pod_affinity_zone_with_constraint() -> None:
    """It("should respect self pod affinity (zone w/ constraint)"): the pods may only use zone 3."""
    result = plan(
        (
            pods(
                "aff",
                3,
                "100m",
                labels=S2,
                node_selector={ZONE_LABEL: "test-zone-3"},
                pod_affinity=(term(ZONE_LABEL),),
            ),
        )
    )
    zones = {n.zone for p in result.plans for n in p.new_nodes}
    assert zones == {"test-zone-3"}
    assert new_node_count(result) == 1


def test_should_separate_nodes_using_simple_pod_anti_affinity_on_hostname() -> None:
    """It("should separate nodes using simple pod anti-affinity on hostname").

    Two nodes, whatever the order.
    """
    for order in (0, 1):
        groups = [
            pods("aff1", 1, "100m", labels=S2),
            pods("aff2", 1, "100m", labels={}, pod_anti_affinity=(term(HOSTNAME_KEY),)),
        ]
        result = plan(tuple(groups[order:] + groups[:order]))
        assert new_node_count(result) == 2
        assert all(len(n.pods_per_node) == 1 for p in result.plans for n in p.new_nodes)


def test_should_not_violate_pod_anti_affinity_on_zone() -> None:
    """It("should not violate pod anti-affinity on zone"): a matching pod in every zone, the pod with
    anti-affinity stays pending.
    """
    zone_pods = tuple(
        pods(f"zone{i}", 1, "2", labels=S2, node_selector={ZONE_LABEL: f"test-zone-{i}"}) for i in (1, 2, 3)
    )
    anti = pods("aff", 1, "100m", labels={}, pod_anti_affinity=(term(ZONE_LABEL),))
    result = plan(
        (*zone_pods, anti),
        types=(SMALL, InstanceType(name="c-4", vcpus=4, memory_mib=16384, price_per_hour=0.2)),
    )
    assert unplaced(result) == {"aff": (1, UnplacedReason.POD_ANTI_AFFINITY)}
    assert zone_counts(result, counted=frozenset({"zone1", "zone2", "zone3"})) == [1, 1, 1]


def test_should_not_violate_pod_anti_affinity_on_zone_other_schedules_first() -> None:
    """It("should not violate pod anti-affinity on zone (other schedules first)").

    Karpenter leaves the pod with anti-affinity pending because it does not know the other pod's
    zone yet; ebb plans the other pod's zone itself, so both are placed, in different zones.
    """
    big = InstanceType(name="c-4", vcpus=4, memory_mib=16384, price_per_hour=0.2)
    result = plan(
        (
            pods("other", 1, "2", labels=S2),
            pods("aff", 1, "100m", labels={}, pod_anti_affinity=(term(ZONE_LABEL),)),
        ),
        types=(SMALL, big),
    )
    assert not unplaced(result)
    zone_of = {g: n.zone for p in result.plans for n in p.new_nodes for g, _ in n.pods_per_node}
    assert zone_of["other"] != zone_of["aff"]


def test_should_not_violate_pod_anti_affinity_on_zone_inverse() -> None:
    """It("should not violate pod anti-affinity on zone (inverse)"): pods with anti-affinity in every
    zone keep out the pod they match, which has no rule of its own.
    """
    zone_pods = tuple(
        pods(
            f"zone{i}",
            1,
            "2",
            labels={},
            node_selector={ZONE_LABEL: f"test-zone-{i}"},
            pod_anti_affinity=(term(ZONE_LABEL),),
        )
        for i in (1, 2, 3)
    )
    big = InstanceType(name="c-4", vcpus=4, memory_mib=16384, price_per_hour=0.2)
    result = plan((*zone_pods, pods("aff", 1, "100m", labels=S2)), types=(SMALL, big))
    assert unplaced(result) == {"aff": (1, UnplacedReason.POD_ANTI_AFFINITY)}


def test_should_not_violate_pod_anti_affinity_on_zone_inverse_with_existing_nodes() -> None:
    """It("should not violate pod anti-affinity on zone (inverse w/existing nodes)"): the same, with the
    pods with anti-affinity already running.
    """
    zone_pods = tuple(
        pods(f"zone{i}", 1, "1.1", labels={}, pod_anti_affinity=(term(ZONE_LABEL),)) for i in (1, 2, 3)
    )
    nodes = tuple(node(f"n{i}", f"test-zone-{i}", {f"zone{i}": 1}) for i in (1, 2, 3))
    result = plan((*zone_pods, pods("aff", 1, "100m", labels=S2)), nodes=nodes)
    assert unplaced(result) == {"aff": (1, UnplacedReason.POD_ANTI_AFFINITY)}
    assert new_node_count(result) == 0


def test_should_not_violate_pod_anti_affinity_on_zone_schrodinger() -> None:
    """It("should not violate pod anti-affinity on zone (Schrödinger)").

    Upstream the matching pod waits for a second batch, then lands in another zone; ebb knows the
    zone it plans for the first pod and places both at once, in different zones.
    """
    big = InstanceType(name="c-4", vcpus=4, memory_mib=16384, price_per_hour=0.2)
    result = plan(
        (
            pods("anywhere", 1, "2", labels={}, pod_anti_affinity=(term(ZONE_LABEL),)),
            pods("aff", 1, "100m", labels=S2),
        ),
        types=(SMALL, big),
    )
    assert not unplaced(result)
    zone_of = {g: n.zone for p in result.plans for n in p.new_nodes for g, _ in n.pods_per_node}
    assert zone_of["anywhere"] != zone_of["aff"]


def test_should_support_pod_anti_affinity_with_a_zone_topology() -> None:
    """It("should support pod anti-affinity with a zone topology"): one pod per zone, then nothing.

    Upstream takes one batch per zone (late committal); ebb plans the three at once and the
    fourth stays pending.
    """
    result = plan((pods("aff", 4, "100m", labels=S2, pod_anti_affinity=(term(ZONE_LABEL),)),))
    assert zone_counts(result) == [1, 1, 1]
    assert unplaced(result) == {"aff": (1, UnplacedReason.POD_ANTI_AFFINITY)}


def test_should_not_schedule_pods_with_affinity_to_a_non_existent_pod() -> None:
    """It("should not schedule pods with affinity to a non-existent pod")."""
    result = plan((pods("aff", 10, "100m", labels={}, pod_affinity=(term(ZONE_LABEL),)),))
    assert new_node_count(result) == 0
    assert unplaced(result) == {"aff": (10, UnplacedReason.POD_AFFINITY)}


def test_should_not_violate_pod_anti_affinity_arch() -> None:
    """It("should not violate pod anti-affinity (arch)"): the second pod avoids the first one's arch."""
    arm = InstanceType(name="g-2", vcpus=2, memory_mib=8192, price_per_hour=0.08, arch="arm64")
    tsc = (spread(HOSTNAME_KEY, selector=LabelSelector(match_labels=S2)),)
    first = pods("aff1", 1, "1.5", labels=S2, topology_spread=tsc, node_selector={ARCH_LABEL: "arm64"})
    second = pods("aff2", 1, "1", labels=S2, topology_spread=tsc, pod_anti_affinity=(term(ARCH_LABEL),))
    result = plan((first, second), types=(SMALL, arm))
    assert not unplaced(result)
    type_of = {g: n.instance_types for p in result.plans for n in p.new_nodes for g, _ in n.pods_per_node}
    assert type_of == {"aff1": ("g-2",), "aff2": ("c-2",)}


def test_hostname_anti_affinity_keeps_one_replica_per_node_with_running_pods() -> None:
    """One replica per node with replicas already running: the new ones skip nodes that hold one.

    kubernetes ``pkg/scheduler/framework/plugins/interpodaffinity/filtering_test.go`` (commit
    072825f9a367e9ca0f73f91830945f1b7f46e0d9) ``TestRequiredAffinitySingleNode``, case "satisfies the
    PodAffinity but doesn't satisfy the PodAntiAffinity with the existing pod": a node running a
    pod the required anti-affinity matches is filtered out.
    """
    big = InstanceType(name="c-16", vcpus=16, memory_mib=65536, price_per_hour=0.8)
    nodes = (node("n1", "test-zone-1", {"web": 1}, type_name="c-16"),)
    result = plan(
        (pods("web", 3, "100m", labels=S2, pod_anti_affinity=(term(HOSTNAME_KEY),)),),
        nodes=nodes,
        types=(SMALL, big),
    )
    assert not any(p.placements for p in result.plans)
    assert new_node_count(result) == 2
    assert all(n.pods_per_node == (("web", 1),) for p in result.plans for n in p.new_nodes)


def test_should_respect_nodepool_zonal_constraints_subset_with_labels_across_nodepools() -> None:
    """Two pools, zones split between them (It("should respect NodePool zonal constraints (subset) with
    labels across NodePools") in Context("Zonal")): the spread holds across pools, 2 and 2.
    """
    groups = zone_groups()
    first = NodePool(
        name="first",
        weight=10,
        instance_groups=(groups[0].name,),
        requirements=(Requirement(key=ZONE_LABEL, operator=Operator.IN, values=("test-zone-1",)),),
    )
    second = NodePool(name="second", instance_groups=(groups[1].name,))
    result: NodePlans = plan_nodes(
        PlanningInput(
            now=NOW,
            pod_groups=(pods("web", 4, topology_spread=(spread(),)),),
            node_pools=(first, second),
            instance_groups=groups,
            instance_types=(SMALL,),
        )
    )
    assert zone_counts(result) == [2, 2]
