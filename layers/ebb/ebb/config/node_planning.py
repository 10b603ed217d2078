"""The node core's inputs, translated from a validated configuration.

`ebb.core.nodes` plans in its own vocabulary (`InstanceType`, `InstanceGroup`, `NodePool`,
`PodGroup`); this module is the one place that maps the user's Karpenter, HyperPod and binding
documents (and the instance catalogue the configuration carries) onto it. Pure translation: no
I/O and no clock; what exists in the cluster (nodes, group counts) and the replicas wanted come in
as arguments.

Two things the core cannot say directly, handled here exactly:

* HyperPod instance groups carry their own labels and taints (their KubernetesConfig), which the
  core's `InstanceGroup` has no room for. Each config group has one instance type, so a group fixes
  every label its nodes carry; the pods a group can take are therefore known per group. When some
  group of the pool is closed to a scaler's pods (a taint they do not tolerate, a label their
  selector needs), the pod group gets a required node-affinity term on the instance-group label
  listing the groups that are open to it. When groups carry labels, the pod's own selector is
  replaced by that term (the core would not see those labels and would wrongly refuse the node).
* Karpenter NodePool `spec.template.metadata.labels` are reported unused by validation (ebb cannot
  label HyperPod nodes), so they are not passed on as node labels either.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from ebb.config.binding import InstanceGroupFacts
from ebb.config.catalogue import InstanceTypeSpec, cpu_reservation, memory_reservation_gib
from ebb.config.ebb_config import EbbConfig
from ebb.config.node_pool import NodePool as ConfigNodePool
from ebb.config.node_pool import NodeSelectorRequirementWithMinValues
from ebb.config.pod_spec import INSTANCE_GROUP_LABEL, Container, PodSpec
from ebb.config.scaled_object import ScaledObject
from ebb.config.scheduling import LabelSelector, PodAffinity, untolerated
from ebb.config.scheduling import NodeSelectorTerm as ConfigNodeSelectorTerm
from ebb.config.scheduling import Taint as ConfigTaint
from ebb.config.scheduling import Toleration as ConfigToleration
from ebb.core.nodes import (
    Budget,
    ConsolidationPolicy,
    ContainerResources,
    Disruption,
    DisruptionReason,
    ExistingNode,
    InstanceGroup,
    InstanceType,
    NodePool,
    NodeSelectorTerm,
    Operator,
    PlanningInput,
    PodGroup,
    PodResources,
    PoolLimits,
    Requirement,
    Resources,
    Taint,
    TaintEffect,
    Toleration,
    UnavailableOfferings,
    effective_requests,
    to_planner_resources,
)
from ebb.core.nodes.catalogue import node_labels
from ebb.core.nodes.quantities import CPU, MEMORY, NVIDIA_GPU, PODS, to_millis, to_units
from ebb.core.nodes.requirements import PreferredSchedulingTerm as CorePreferredSchedulingTerm
from ebb.core.nodes.topology import LabelSelector as CoreLabelSelector
from ebb.core.nodes.topology import PodAffinityTerm as CorePodAffinityTerm
from ebb.core.nodes.topology import (
    PodConstraints,
    SelectorOperator,
    SelectorRequirement,
    TopologySpread,
    WhenUnsatisfiable,
)
from ebb.core.nodes.topology import WeightedPodAffinityTerm as CoreWeightedPodAffinityTerm

GIB = Decimal(2**30)


class NodePlanningConfigError(ValueError):
    """The configuration lacks something the node planner needs (a pod template, a price)."""


@dataclass(frozen=True, slots=True)
class PoolStatics:
    """What the configuration alone says about one NodePool, in the node core's vocabulary."""

    node_pool: NodePool
    instance_groups: tuple[InstanceGroup, ...]
    """The pool's groups with their configured minimum; counts are unknown until observed."""
    instance_types: tuple[InstanceType, ...]
    scaled_objects: tuple[ScaledObject, ...]
    """The ScaledObjects whose pods land on this pool."""


def pod_group_name(scaled_object: ScaledObject) -> str:
    """The pod group's name: the ScaledObject's `namespace/name`, unique across the configuration."""
    return scaled_object.qualified_name


# --- instance types -------------------------------------------------------------------------------


def instance_type(spec: InstanceTypeSpec) -> InstanceType:
    """A catalogue entry as the core's instance type.

    The kubelet reservation is the one validation uses (`cpu_reservation`,
    `memory_reservation_gib`), so `ebb validate`'s pods-per-node and the planner's agree. The
    numeric Karpenter labels (`karpenter.k8s.aws/instance-cpu|memory|gpu-count`) go on as node
    labels: the core evaluates a NodePool's Gt/Lt requirements against node labels.
    """
    if spec.on_demand_usd_per_hour is None:
        raise NodePlanningConfigError(
            f"instance type {spec.name} has no price in the instance catalogue; the node planner "
            "chooses the cheapest nodes, so give it one (ClusterBinding spec.instanceCatalogue)"
        )
    memory_gib = Decimal(str(spec.memory_gib))
    reserved = Resources(
        cpu_millis=to_millis(cpu_reservation(spec.vcpu)),
        memory_bytes=to_units(memory_reservation_gib(memory_gib) * GIB),
    )
    labels = {
        key: value
        for key, value in spec.requirement_facts().items()
        # The core sets the well-known labels itself.
        if key not in ("node.kubernetes.io/instance-type", "kubernetes.io/arch")
    }
    return InstanceType(
        name=spec.name,
        vcpus=spec.vcpu,
        # Whole MiB, rounded down: never promise memory the instance does not have.
        memory_mib=int(memory_gib * 1024),
        gpus=spec.gpus,
        extended=dict(spec.devices),
        arch=spec.architecture,
        price_per_hour=spec.on_demand_usd_per_hour,
        kube_reserved=reserved,
        labels=labels,
    )


# --- instance groups and pools --------------------------------------------------------------------


def instance_group(facts: InstanceGroupFacts, spec: InstanceTypeSpec | None = None) -> InstanceGroup:
    """A ClusterBinding instance group as the core's.

    Counts are observed, not configured: the current count starts at zero and the target is left
    for the core to count from the nodes it is given, unless `planning_input` has HyperPod's figure.
    """
    zone_price = None if spec is None else spec.zone_usd_per_hour.get(facts.availability_zone)
    return InstanceGroup(
        name=facts.name,
        zone=facts.availability_zone,
        instance_types=(facts.instance_type,),
        min_count=facts.min_instance_count,
        spot=facts.capacity_type == "spot",
        # The binding's own price for the group wins, then the catalogue's price in its zone.
        price_per_hour=facts.usd_per_hour if facts.usd_per_hour is not None else zone_price,
    )


def _requirement(requirement: NodeSelectorRequirementWithMinValues) -> Requirement:
    # Deprecated key spellings are normalized as Karpenter does, so they match the core's labels.
    return Requirement(
        key=requirement.normalized_key, operator=Operator(requirement.operator), values=requirement.values
    )


def taint(config_taint: ConfigTaint) -> Taint:
    """A taint in the core's vocabulary."""
    return Taint(
        key=config_taint.key, value=config_taint.value or "", effect=TaintEffect(config_taint.effect)
    )


def toleration(config_toleration: ConfigToleration) -> Toleration:
    """A toleration in the core's vocabulary (an empty effect tolerates every effect)."""
    return Toleration(
        key=config_toleration.key or "",
        operator=config_toleration.operator,
        value=config_toleration.value or "",
        effect=TaintEffect(config_toleration.effect) if config_toleration.effect else None,
    )


def pool_limits(pool: ConfigNodePool) -> PoolLimits:
    """`spec.limits`: cpu, memory, nvidia.com/gpu, nodes, pods and any other resource by name."""
    limits = {name: quantity.value for name, quantity in pool.spec.limits.items()}

    def whole(name: str) -> int | None:
        value = limits.get(name)
        return None if value is None else to_units(value)

    cpu = limits.get(CPU)
    # A node's capacity of a counted resource is whole, so a fractional cap allows what its
    # whole part does.
    counted = {
        name: math.floor(value)
        for name, value in limits.items()
        if name not in (CPU, MEMORY, NVIDIA_GPU, PODS, "nodes")
    }
    pods = limits.get(PODS)
    return PoolLimits(
        cpu_millis=None if cpu is None else to_millis(cpu),
        memory_bytes=whole(MEMORY),
        gpus=whole(NVIDIA_GPU),
        nodes=whole("nodes"),
        pods=None if pods is None else math.floor(pods),
        extended=counted,
    )


def disruption(pool: ConfigNodePool) -> Disruption:
    """`spec.disruption`, budgets included; `consolidateAfter: Never` is `None`."""
    config = pool.spec.disruption
    seconds = config.consolidate_after.seconds
    return Disruption(
        consolidation_policy=ConsolidationPolicy(config.consolidation_policy),
        consolidate_after=None if seconds is None else timedelta(seconds=seconds),
        budgets=tuple(
            Budget(
                nodes=budget.nodes,
                schedule=budget.schedule,
                duration=None
                if budget.duration is None or budget.duration.seconds is None
                else timedelta(seconds=budget.duration.seconds),
                reasons=None
                if budget.reasons is None
                else tuple(DisruptionReason(reason) for reason in budget.reasons),
            )
            for budget in config.budgets
        ),
    )


def node_overhead(config: EbbConfig) -> Resources:
    """The binding's `nodeOverhead` (DaemonSets on every node) as the core's per-node overhead.

    `pods` is the DaemonSet pods' share of the node's pod slots (validation allows only the four
    resources the core packs, and whole numbers of GPUs and pods).
    """
    overhead = config.node_overhead()
    return Resources(
        cpu_millis=to_millis(overhead.get(CPU, Decimal(0))),
        memory_bytes=to_units(overhead.get(MEMORY, Decimal(0))),
        gpus=to_units(overhead.get(NVIDIA_GPU, Decimal(0))),
        pods=to_units(overhead.get(PODS, Decimal(0))),
    )


def node_pool(config: EbbConfig, pool: ConfigNodePool) -> NodePool:
    """A NodePool with its HyperpodNodeClass's instance groups, in the core's vocabulary."""
    return NodePool(
        name=pool.name,
        instance_groups=tuple(group.name for group in config.instance_groups_of(pool)),
        requirements=tuple(_requirement(r) for r in pool.requirements),
        taints=tuple(taint(t) for t in pool.taints),
        limits=pool_limits(pool),
        # Karpenter treats an unset weight as 0.
        weight=pool.spec.weight or 0,
        disruption=disruption(pool),
        daemonset_overhead=node_overhead(config),
    )


_STATICS: dict[str, tuple[EbbConfig, PoolStatics]] = {}
"""The last configuration's statics per pool. A loaded configuration is immutable, so they are
computed once per configuration object: the decision step reads them on every decision, and
the simulator makes 10^5 decisions in a run."""


def pool_statics(config: EbbConfig, pool_name: str) -> PoolStatics:
    """Everything the configuration says about NodePool `pool_name`, for the node core."""
    cached = _STATICS.get(pool_name)
    if cached is not None and cached[0] is config:
        return cached[1]
    statics = _pool_statics(config, pool_name)
    _STATICS[pool_name] = (config, statics)
    return statics


def _pool_statics(config: EbbConfig, pool_name: str) -> PoolStatics:
    pool = config.node_pool(pool_name)
    if pool is None:
        raise KeyError(pool_name)
    groups = config.instance_groups_of(pool)
    type_names = sorted({group.instance_type for group in groups})
    specs = []
    for name in type_names:
        spec = config.catalogue.get(name)
        if spec is None:
            raise NodePlanningConfigError(f"instance type {name} is not in the instance catalogue")
        specs.append(spec)
    return PoolStatics(
        node_pool=node_pool(config, pool),
        instance_groups=tuple(
            instance_group(group, config.catalogue.get(group.instance_type)) for group in groups
        ),
        instance_types=tuple(instance_type(spec) for spec in specs),
        scaled_objects=config.scaled_objects_of(pool),
    )


# --- pod groups -----------------------------------------------------------------------------------


def _container(container: Container) -> ContainerResources:
    return ContainerResources(
        name=container.name,
        requests={name: q.value for name, q in container.resources.requests.items()},
        limits={name: q.value for name, q in container.resources.limits.items()},
        restart_policy=container.restart_policy,
    )


def pod_requests(pod_spec: PodSpec) -> Resources:
    """One pod's effective request, by the core's scheduler rules (sidecars, init peaks, overhead)."""
    resources = PodResources(
        containers=tuple(_container(c) for c in pod_spec.containers),
        init_containers=tuple(_container(c) for c in pod_spec.init_containers),
        overhead={name: q.value for name, q in pod_spec.overhead.items()},
    )
    return to_planner_resources(effective_requests(resources))


def _affinity_terms(pod_spec: PodSpec) -> tuple[NodeSelectorTerm, ...]:
    required = pod_spec.required_node_affinity
    if required is None:
        return ()
    terms = []
    for term in required.node_selector_terms:
        if term.match_fields:
            raise NodePlanningConfigError(
                "matchFields cannot be planned (it names nodes that do not exist yet)"
            )
        terms.append(
            NodeSelectorTerm(
                match_expressions=tuple(
                    Requirement(key=e.key, operator=Operator(e.operator), values=e.values)
                    for e in term.match_expressions
                )
            )
        )
    return tuple(terms)


def _node_term(term: ConfigNodeSelectorTerm) -> NodeSelectorTerm:
    return NodeSelectorTerm(
        match_expressions=tuple(
            Requirement(key=e.key, operator=Operator(e.operator), values=e.values)
            for e in term.match_expressions
        )
    )


def _preferred_node_terms(pod_spec: PodSpec) -> tuple[CorePreferredSchedulingTerm, ...]:
    affinity = pod_spec.affinity
    if affinity is None or affinity.node_affinity is None:
        return ()
    for term in affinity.node_affinity.preferred:
        if term.preference.match_fields:
            raise NodePlanningConfigError(
                "matchFields cannot be planned (it names nodes that do not exist yet)"
            )
    return tuple(
        CorePreferredSchedulingTerm(weight=term.weight, preference=_node_term(term.preference))
        for term in affinity.node_affinity.preferred
    )


def _selector(selector: LabelSelector | None) -> CoreLabelSelector | None:
    if selector is None:
        return None
    return CoreLabelSelector(
        match_labels=dict(selector.match_labels),
        match_expressions=tuple(
            SelectorRequirement(key=e.key, operator=SelectorOperator(e.operator), values=e.values)
            for e in selector.match_expressions
        ),
    )


def _terms(affinity: PodAffinity | None) -> tuple[CorePodAffinityTerm, ...]:
    if affinity is None:
        return ()
    return tuple(
        CorePodAffinityTerm(
            topology_key=term.topology_key,
            label_selector=_selector(term.label_selector),
            namespaces=term.namespaces,
        )
        for term in affinity.required
    )


def _preferred_terms(affinity: PodAffinity | None) -> tuple[CoreWeightedPodAffinityTerm, ...]:
    if affinity is None:
        return ()
    return tuple(
        CoreWeightedPodAffinityTerm(
            weight=weighted.weight,
            term=CorePodAffinityTerm(
                topology_key=weighted.pod_affinity_term.topology_key,
                label_selector=_selector(weighted.pod_affinity_term.label_selector),
                namespaces=weighted.pod_affinity_term.namespaces,
            ),
        )
        for weighted in affinity.preferred
    )


def pod_constraints(pod_spec: PodSpec) -> PodConstraints:
    """The pod spec's topology spread, pod (anti-)affinity and node preferences, in the core's vocabulary."""
    affinity = pod_spec.affinity
    return PodConstraints(
        topology_spread=tuple(
            TopologySpread(
                topology_key=c.topology_key,
                max_skew=c.max_skew,
                when_unsatisfiable=WhenUnsatisfiable(c.when_unsatisfiable),
                label_selector=_selector(c.label_selector),
                min_domains=c.min_domains,
                match_label_keys=c.match_label_keys,
            )
            for c in pod_spec.topology_spread_constraints
        ),
        pod_affinity=_terms(affinity.pod_affinity if affinity else None),
        pod_anti_affinity=_terms(affinity.pod_anti_affinity if affinity else None),
        preferred_pod_affinity=_preferred_terms(affinity.pod_affinity if affinity else None),
        preferred_pod_anti_affinity=_preferred_terms(affinity.pod_anti_affinity if affinity else None),
        preferred_node_affinity=_preferred_node_terms(pod_spec),
    )


def planned_constraints(config: EbbConfig, scaler: str) -> PodConstraints | None:
    """The constraints the plan uses for a scaler's pods (``namespace/name``): its binding's podSpec's."""
    for scaled_object in config.scaled_objects:
        if pod_group_name(scaled_object) == scaler:
            pod_spec = config.scaler_binding(scaled_object).pod_spec
            return None if pod_spec is None else pod_constraints(pod_spec)
    return None


def _open_groups(config: EbbConfig, statics: PoolStatics, pod_spec: PodSpec) -> tuple[tuple[str, ...], bool]:
    """The pool's groups whose own labels and taints let these pods in, and whether any has labels.

    A node's labels are fixed by its group (one instance type per group), so the pod's selector is
    evaluated here on the full labels, group labels included, and its tolerations against the
    group's taints; the pool's own taints and requirements are left to the core.
    """
    types = {t.name: t for t in statics.instance_types}
    pool_labels = statics.node_pool.template_labels()
    open_names: list[str] = []
    any_labels = False
    for core_group in statics.instance_groups:
        facts = config.instance_group(core_group.name)
        if facts is None:  # pragma: no cover - a valid configuration states every pool group
            raise KeyError(core_group.name)
        any_labels = any_labels or bool(facts.labels)
        labels = node_labels(core_group, types[facts.instance_type], pool_labels)
        labels.update(facts.labels)
        if pod_spec.selects(labels) and not untolerated(pod_spec.tolerations, facts.taints):
            open_names.append(core_group.name)
    return tuple(open_names), any_labels


_POD_GROUPS: dict[str, tuple[EbbConfig, ScaledObject, PodGroup]] = {}
"""The last configuration's pod group per ScaledObject (``namespace/name``), at zero replicas:
everything in it but the count comes from the immutable configuration, and translating the pod
spec was an eighth of a decision's time in the simulator."""


def pod_group(config: EbbConfig, scaled_object: ScaledObject, replicas: int) -> PodGroup:
    """The pods `replicas` replicas of a ScaledObject's target need, from the binding's `podSpec`."""
    key = scaled_object.qualified_name
    cached = _POD_GROUPS.get(key)
    if cached is not None and cached[0] is config and cached[1] is scaled_object and replicas >= 0:
        # `model_copy` does not validate: the one field it changes is checked just above.
        return cached[2].model_copy(update={"replicas": replicas})
    group = _pod_group(config, scaled_object, replicas)
    _POD_GROUPS[key] = (config, scaled_object, group.model_copy(update={"replicas": 0}))
    return group


def _pod_group(config: EbbConfig, scaled_object: ScaledObject, replicas: int) -> PodGroup:
    binding = config.scaler_binding(scaled_object)
    pod_spec = binding.pod_spec
    if pod_spec is None:
        raise NodePlanningConfigError(
            f"ScaledObject {scaled_object.qualified_name} has no podSpec in the ClusterBinding; "
            "the node planner needs its pods' requests and node constraints"
        )
    statics = pool_statics(config, binding.node_pool)
    open_groups, groups_have_labels = _open_groups(config, statics, pod_spec)
    node_selector = dict(pod_spec.node_selector)
    terms = _affinity_terms(pod_spec)
    all_groups = tuple(group.name for group in statics.instance_groups)
    if groups_have_labels or open_groups != all_groups:
        if not open_groups:
            raise NodePlanningConfigError(
                f"ScaledObject {scaled_object.qualified_name}: no instance group of node pool "
                f"{binding.node_pool!r} takes its pods (group labels or taints)"
            )
        only_open = Requirement(key=INSTANCE_GROUP_LABEL, operator=Operator.IN, values=open_groups)
        if groups_have_labels:
            # The group decides every label, so "one of the open groups" is the selector, exactly.
            node_selector, terms = {}, (NodeSelectorTerm(match_expressions=(only_open,)),)
        elif terms:
            terms = tuple(
                NodeSelectorTerm(match_expressions=(*term.match_expressions, only_open)) for term in terms
            )
        else:
            terms = (NodeSelectorTerm(match_expressions=(only_open,)),)
    return PodGroup(
        name=pod_group_name(scaled_object),
        replicas=replicas,
        requests=pod_requests(pod_spec),
        node_selector=node_selector,
        node_affinity=terms,
        tolerations=tuple(toleration(t) for t in pod_spec.tolerations),
        namespace=scaled_object.namespace,
        labels=dict(binding.pod_labels),
        **pod_constraints(pod_spec).fields(),
    )


# --- the whole input ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupCounts:
    """What HyperPod reports for an instance group: instances that exist, and its requested target."""

    current: int
    target: int


def planning_input(
    config: EbbConfig,
    pool_name: str,
    *,
    now: datetime,
    replicas: Mapping[str, int],
    nodes: tuple[ExistingNode, ...] = (),
    group_counts: Mapping[str, GroupCounts] | None = None,
    unavailable: UnavailableOfferings | None = None,
) -> PlanningInput:
    """The node core's input for one NodePool.

    `replicas` maps each pod group's name (`pod_group_name`) to its desired replicas; a
    ScaledObject of the pool not named there wants none. `group_counts` are the groups' observed
    counts (HyperPod's DescribeCluster); absent, a group's target is the number of `nodes` listed
    for it that are not being deleted.
    """
    statics = pool_statics(config, pool_name)
    known = {pod_group_name(so) for so in statics.scaled_objects}
    strangers = sorted(set(replicas) - known)
    if strangers:
        raise KeyError(f"pod groups not on node pool {pool_name!r}: {', '.join(strangers)}")
    counts = group_counts or {}
    groups = tuple(
        group.model_copy(
            update={"current_count": counts[group.name].current, "target_count": counts[group.name].target}
        )
        if group.name in counts
        else group
        for group in statics.instance_groups
    )
    return PlanningInput(
        now=now,
        pod_groups=tuple(
            pod_group(config, so, replicas.get(pod_group_name(so), 0)) for so in statics.scaled_objects
        ),
        node_pools=(statics.node_pool,),
        instance_groups=groups,
        instance_types=statics.instance_types,
        nodes=nodes,
        unavailable=unavailable or UnavailableOfferings(),
    )
