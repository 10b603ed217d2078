"""Observing one NodePool: its scalers' metrics, HyperPod's groups and nodes, the Kubernetes nodes
and pods, gathered through the adapters into the decision step's `PoolSnapshot`.

Reads per decision, and why they do not grow with the number of scalers except where they must:
- metrics: one GetQueueAttributes per SQS trigger; every CloudWatch trigger of the pool in
  GetMetricData calls batched per time window (500 queries a call);
- HyperPod: DescribeCluster and ListClusterNodes (IncludeNodeLogicalIds), once, or again when
  the two disagree (a provisioning round changed the cluster between them: `HYPERPOD_READS`);
- Kubernetes: one list of the pool's nodes by instance-group label; one list of the cluster's pods
  not in a terminal phase (those bound to the pool's nodes and the pending ones); per namespace the
  pool's scalers use, one list of each workload kind they target, one of HorizontalPodAutoscalers
  and one of KEDA ScaledObjects (another autoscaler on a target: ebb does not scale it). The
  configuration admits apps/v1 Deployments and StatefulSets only, whose objects carry what their
  `scale` subresource reports (kubernetes/kubernetes pkg/registry/apps/deployment/storage/storage.go,
  `scaleFromDeployment`: spec.replicas, status.replicas, the selector), so no `/scale` is read.
A pod belongs to a scaler when its controller is the scaler's target (a ReplicaSet named
`<deployment>-<pod-template-hash>`, or the StatefulSet itself), which needs no further read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from ebb.adapters.hyperpod import HyperPodCluster
from ebb.adapters.hyperpod_models import (
    NODE_HEALTH_LABEL,
    ClusterDescription,
    ClusterNode,
    NodeCondition,
    NodeHealth,
    classify_node,
)
from ebb.adapters.kubernetes import KubernetesCluster, KubernetesNotFound, Node, Pod, Workload, WorkloadRef
from ebb.adapters.kubernetes.objects import LabelSelector, PodSpec, WorkloadKind
from ebb.adapters.metrics import MetricQuery, MetricReader
from ebb.config import EbbConfig, ScaledObject
from ebb.config.keda_triggers import AwsCloudWatchTrigger, AwsSqsQueueTrigger
from ebb.config.keda_values import parse_strconv_bool, parse_strconv_int32
from ebb.config.node_planning import GroupCounts, planned_constraints, pod_group_name
from ebb.config.pod_spec import INSTANCE_GROUP_LABEL
from ebb.config.replica_policy import trigger_name
from ebb.core.nodes import NodeSelectorTerm, NodeState, Operator, Requirement, Resources, Toleration
from ebb.core.nodes.quantities import to_millis, to_units
from ebb.core.nodes.requirements import PreferredSchedulingTerm
from ebb.core.nodes.taints import TaintEffect
from ebb.core.nodes.topology import LabelSelector as CoreLabelSelector
from ebb.core.nodes.topology import (
    PodAffinityTerm,
    PodConstraints,
    SelectorOperator,
    SelectorRequirement,
    TopologySpread,
    WeightedPodAffinityTerm,
    WhenUnsatisfiable,
)
from ebb.core.replicas import Observation, ReplicaCounts, cloudwatch_query_window
from ebb.service.decision import NodeFailure, ObservedNode, PendingPod, PoolSnapshot, ScalerSnapshot
from ebb.service.decision.snapshot import TargetPause

GPU = "nvidia.com/gpu"
_REPAIRS: Final = frozenset(
    {NodeHealth.UNSCHEDULABLE_PENDING_REPLACEMENT, NodeHealth.UNSCHEDULABLE_PENDING_REBOOT}
)
DO_NOT_DISRUPT = "karpenter.sh/do-not-disrupt"
PAUSED_ANNOTATION = "ebb.dev/paused"
"""On a scaler's target: ebb keeps its replicas while set (any value but a Go `false`)."""
PAUSED_REPLICAS_ANNOTATION = "ebb.dev/paused-replicas"
"""On a scaler's target: ebb holds it at this many replicas while set; wins over `ebb.dev/paused`."""


@dataclass(frozen=True, slots=True)
class ClusterAccess:
    """The adapters a pool is observed through."""

    metrics: MetricReader
    hyperpod: HyperPodCluster
    kubernetes: KubernetesCluster


def target_of(scaled_object: ScaledObject) -> WorkloadRef:
    """The scale target of a ScaledObject."""
    ref = scaled_object.spec.scale_target_ref
    return WorkloadRef(kind=ref.kind, namespace=scaled_object.namespace, name=ref.name)


def observe_pool(config: EbbConfig, node_pool: str, access: ClusterAccess, now: datetime) -> PoolSnapshot:
    """Read everything the decision of `node_pool` at `now` needs."""
    pool = config.node_pool(node_pool)
    if pool is None:
        raise KeyError(node_pool)
    scaled_objects = config.scaled_objects_of(pool)
    group_names = tuple(g.name for g in config.instance_groups_of(pool))

    observations = _read_metrics(scaled_objects, access.metrics, now)
    description, hyperpod_nodes = _read_hyperpod(access.hyperpod, group_names)
    kubernetes = access.kubernetes
    selector = f"{INSTANCE_GROUP_LABEL} in ({','.join(group_names)})"
    kubernetes_nodes = {node.name: node for node in kubernetes.list_nodes(selector)} if group_names else {}
    pods_by_node: dict[str, list[Pod]] = {name: [] for name in sorted(kubernetes_nodes)}
    waiting: list[Pod] = []
    for pod in kubernetes.list_live_pods():
        if pod.node_name is None:
            if pod.status.phase == "Pending":
                waiting.append(pod)
        elif pod.node_name in pods_by_node:
            pods_by_node[pod.node_name].append(pod)

    targets = {pod_group_name(so): target_of(so) for so in config.scaled_objects}
    pool_targets = {pod_group_name(so): targets[pod_group_name(so)] for so in scaled_objects}
    workloads = _read_workloads(kubernetes, pool_targets.values())
    held_by = _read_conflicts(kubernetes, pool_targets.values())
    scalers: dict[str, ScalerSnapshot] = {}
    for name, target in pool_targets.items():
        workload = workloads[_key(target)]
        ready = sum(
            1
            for pods in pods_by_node.values()
            for pod in pods
            if _owner(pod, targets) == name and pod.is_ready and not pod.is_terminating
        )
        scalers[name] = ScalerSnapshot(
            observations=observations[name],
            replicas=ReplicaCounts(spec=workload.spec.replicas, status=workload.status.replicas, ready=ready),
            unmodelled_constraints=_unmodelled(
                workload.spec.template.spec, planned_constraints(config, name)
            ),
            held_by=held_by.get(_key(target), ()),
            target_pause=target_pause(workload, target),
        )

    # A target another autoscaler holds: its pods are pods ebb does not manage.
    held = {name for name, scaler in scalers.items() if scaler.held_by}
    managed = set(pool_targets) - held
    group_gpus = {
        group.name: spec.gpus
        for group in config.instance_groups_of(pool)
        if (spec := config.catalogue.get(group.instance_type)) is not None
    }

    def observed(
        description: ClusterDescription, hyperpod_nodes: list[ClusterNode]
    ) -> tuple[ObservedNode, ...]:
        return _observed_nodes(
            hyperpod_nodes,
            kubernetes_nodes,
            pods_by_node,
            targets=targets,
            managed=managed,
            node_recovery=description.node_recovery,
            group_gpus=group_gpus,
        )

    nodes = observed(description, hyperpod_nodes)
    # DescribeCluster and ListClusterNodes are two reads: a provisioning round between them (an
    # addition, a cancellation, a deletion) leaves a group's target below the nodes listed for
    # it, a snapshot no single moment had and the planner refuses. Read the pair again until
    # they agree; past HYPERPOD_READS the planner's refusal stands (the decision is retried).
    for _ in range(HYPERPOD_READS - 1):
        if not _outnumbered(nodes, description, group_names):
            break
        description, hyperpod_nodes = _read_hyperpod(access.hyperpod, group_names)
        nodes = observed(description, hyperpod_nodes)
    pending = tuple(
        _pending(pod, held_scaler=owner if owner in held else None)
        for pod in waiting
        if not pod.is_terminating and ((owner := _owner(pod, targets)) is None or owner in held)
    )
    groups = {
        name: GroupCounts(current=state.current_count, target=state.target_count)
        for name in group_names
        if (state := description.group(name)) is not None
    }
    return PoolSnapshot(
        node_pool=node_pool,
        scalers=scalers,
        groups=groups,
        nodes=nodes,
        pending=pending,
        hyperpod_autoscaling=description.hyperpod_autoscaling,
    )


HYPERPOD_READS: Final = 3
"""DescribeCluster + ListClusterNodes pairs read at most, until a pair agrees (see observe_pool)."""


def target_pause(workload: Workload, target: WorkloadRef) -> TargetPause | None:
    """The target's own pause annotation, read as KEDA reads its pair on a ScaledObject.

    kedacore/keda apis/keda/v1alpha1/scaledobject_types.go (01ee1d30), NeedToBePausedByAnnotation
    and getBoolAnnotation: `paused-replicas` wins over `paused`; `paused` is a Go boolean, and a
    value that is not one counts as true. A `paused-replicas` that is not a non-negative 32-bit
    integer pauses at the current count (holding something it cannot read is the safe side).
    """
    annotations = workload.metadata.annotations
    where = f"{target.kind} {target.namespace}/{target.name}"
    replicas_text = annotations.get(PAUSED_REPLICAS_ANNOTATION)
    if replicas_text is not None:
        try:
            replicas: int | None = parse_strconv_int32(replicas_text)
        except ValueError:
            replicas = None
        if replicas is not None and replicas < 0:
            replicas = None
        return TargetPause(
            target=where, annotation=PAUSED_REPLICAS_ANNOTATION, value=replicas_text, replicas=replicas
        )
    paused_text = annotations.get(PAUSED_ANNOTATION)
    if paused_text is None or parse_strconv_bool(paused_text) is False:
        return None
    return TargetPause(target=where, annotation=PAUSED_ANNOTATION, value=paused_text)


def _read_hyperpod(
    hyperpod: HyperPodCluster, group_names: tuple[str, ...]
) -> tuple[ClusterDescription, list[ClusterNode]]:
    description = hyperpod.describe_cluster()
    return description, [n for n in hyperpod.list_nodes() if n.instance_group in group_names]


def _outnumbered(
    nodes: Iterable[ObservedNode], description: ClusterDescription, group_names: tuple[str, ...]
) -> list[str]:
    """The groups whose target is below their listed capacity: the planner's own check (a node
    that counts is one with a planning state, cordoned ones included, since decide takes those
    out of the target and out of the listed nodes alike)."""
    listed = Counter(node.instance_group for node in nodes if node.state is not None)
    return [
        name
        for name in group_names
        if (state := description.group(name)) is not None and listed[name] > state.target_count
    ]


WorkloadKey = tuple[str, str, str]
"""A target as (kind, namespace, name)."""


def _key(target: WorkloadRef) -> WorkloadKey:
    return (target.kind, target.namespace, target.name)


def _read_workloads(
    kubernetes: KubernetesCluster, targets: Iterable[WorkloadRef]
) -> dict[WorkloadKey, Workload]:
    """The targets' objects: one list per (kind, namespace), narrowed by name when it holds one target."""
    wanted: dict[tuple[WorkloadKind, str], set[str]] = {}
    for target in targets:
        wanted.setdefault((target.kind, target.namespace), set()).add(target.name)
    found: dict[WorkloadKey, Workload] = {}
    for (kind, namespace), names in sorted(wanted.items()):
        only = next(iter(names)) if len(names) == 1 else None
        listed = {w.metadata.name: w for w in kubernetes.list_workloads(kind, namespace, name=only)}
        if missing := sorted(names - listed.keys()):
            # What a GET of each missing object would have answered.
            raise KubernetesNotFound(
                f"{kind} {', '.join(f'{namespace}/{name}' for name in missing)} not found", status=404
            )
        found.update({(kind, namespace, name): listed[name] for name in names})
    return found


def _read_conflicts(
    kubernetes: KubernetesCluster, targets: Iterable[WorkloadRef]
) -> dict[WorkloadKey, tuple[str, ...]]:
    """Other autoscalers on the targets, named: one list of HPAs and one of ScaledObjects per namespace."""
    by_namespace: dict[str, list[WorkloadRef]] = {}
    for target in targets:
        by_namespace.setdefault(target.namespace, []).append(target)
    held: dict[WorkloadKey, list[str]] = {}
    for namespace, in_namespace in sorted(by_namespace.items()):
        conflicts = kubernetes.conflicting_hpas(
            namespace, in_namespace
        ) + kubernetes.conflicting_scaled_objects(namespace, in_namespace)
        for conflict in conflicts:
            held.setdefault(_key(conflict.target), []).append(
                f"{conflict.kind} {conflict.namespace}/{conflict.name}"
            )
    return {key: tuple(sorted(names)) for key, names in held.items()}


def _read_metrics(
    scaled_objects: Iterable[ScaledObject], reader: MetricReader, now: datetime
) -> dict[str, dict[str, Observation]]:
    observations: dict[str, dict[str, Observation]] = {}
    queries: list[MetricQuery] = []
    owners: dict[str, tuple[str, str]] = {}
    for scaled_object in scaled_objects:
        name = pod_group_name(scaled_object)
        found: dict[str, Observation] = {}
        observations[name] = found
        for index, trigger in enumerate(scaled_object.spec.triggers):
            trigger_id = trigger_name(index, trigger)
            if isinstance(trigger, AwsSqsQueueTrigger):
                found[trigger_id] = reader.read_queue(
                    trigger.metadata.queue_url, trigger.metadata.attribute_names
                )
                continue
            query = _query(f"q{len(queries)}", trigger, now)
            owners[query.query_id] = (name, trigger_id)
            queries.append(query)
    for query_id, result in reader.read_cloudwatch(queries).items():
        scaler, trigger_id = owners[query_id]
        observations[scaler][trigger_id] = result
    return observations


def _query(query_id: str, trigger: AwsCloudWatchTrigger, now: datetime) -> MetricQuery:
    # The query KEDA makes, over exactly the window the replica core keeps datapoints from.
    metadata = trigger.metadata
    window = cloudwatch_query_window(
        now, metadata.metric_stat_period, metadata.metric_end_time_offset, metadata.metric_collection_time
    )
    return MetricQuery(query=metadata.metric_data_query(query_id), start=window.start, end=window.end)


def _owner(pod: Pod, targets: Mapping[str, WorkloadRef]) -> str | None:
    """The scaler whose target controls `pod`, from its controller reference alone."""
    controller = pod.metadata.controller
    if controller is None:
        return None
    namespace = pod.namespace
    if controller.kind == "ReplicaSet":
        template_hash = pod.metadata.labels.get("pod-template-hash")
        if not template_hash or not controller.name.endswith(f"-{template_hash}"):
            return None
        owner_kind, owner_name = "Deployment", controller.name[: -len(template_hash) - 1]
    else:
        owner_kind, owner_name = controller.kind, controller.name
    for scaler, target in targets.items():
        if (target.kind, target.namespace, target.name) == (owner_kind, namespace, owner_name):
            return scaler
    return None


def _selector(raw: LabelSelector | Mapping[str, Any] | None) -> CoreLabelSelector | None:
    if raw is None:
        return None
    if not isinstance(raw, LabelSelector):
        raw = LabelSelector.model_validate(raw)
    return CoreLabelSelector(
        match_labels=dict(raw.match_labels),
        match_expressions=tuple(
            SelectorRequirement(key=e.key, operator=SelectorOperator(e.operator), values=e.values)
            for e in raw.match_expressions
        ),
    )


def pod_constraints(spec: PodSpec) -> tuple[PodConstraints, tuple[str, ...]]:
    """A pod spec's topology spread, pod (anti-)affinity and node preferences in the core's vocabulary, and
    the parts the node core does not model (those pods are reported, never planned as if they fit)."""
    unmodelled: list[str] = []
    spreads = []
    for raw in spec.topology_spread_constraints:
        # The defaults are kube-scheduler's; other policies change which domains count.
        if (
            raw.get("nodeAffinityPolicy", "Honor") != "Honor"
            or raw.get("nodeTaintsPolicy", "Ignore") != "Ignore"
        ):
            unmodelled.append("topologySpreadConstraints (nodeAffinityPolicy/nodeTaintsPolicy)")
            continue
        spreads.append(
            TopologySpread(
                topology_key=raw["topologyKey"],
                max_skew=raw["maxSkew"],
                when_unsatisfiable=WhenUnsatisfiable(raw.get("whenUnsatisfiable", "DoNotSchedule")),
                label_selector=_selector(raw.get("labelSelector")),
                min_domains=raw.get("minDomains"),
                match_label_keys=tuple(raw.get("matchLabelKeys", ())),
            )
        )
    affinity = spec.affinity
    terms: dict[str, tuple[PodAffinityTerm, ...]] = {}
    preferred: dict[str, tuple[WeightedPodAffinityTerm, ...]] = {}
    for name, rules in (
        ("podAffinity", affinity.pod_affinity if affinity else None),
        ("podAntiAffinity", affinity.pod_anti_affinity if affinity else None),
    ):
        required = rules.required_during_scheduling_ignored_during_execution if rules else ()
        terms[name] = tuple(
            PodAffinityTerm(
                topology_key=t.topology_key,
                label_selector=_selector(t.label_selector),
                namespaces=t.namespaces,
            )
            for t in required
        )
        weighted = rules.preferred_during_scheduling_ignored_during_execution if rules else ()
        preferred[name] = tuple(
            WeightedPodAffinityTerm(
                weight=w.weight,
                term=PodAffinityTerm(
                    topology_key=w.pod_affinity_term.topology_key,
                    label_selector=_selector(w.pod_affinity_term.label_selector),
                    namespaces=w.pod_affinity_term.namespaces,
                ),
            )
            for w in weighted
        )
    node_preferences: list[PreferredSchedulingTerm] = []
    for term in (
        affinity.node_affinity.preferred_during_scheduling_ignored_during_execution
        if affinity and affinity.node_affinity
        else ()
    ):
        if term.preference.match_fields:
            unmodelled.append("nodeAffinity preferred term with matchFields (names nodes not launched yet)")
            continue
        node_preferences.append(
            PreferredSchedulingTerm(
                weight=term.weight,
                preference=NodeSelectorTerm(
                    match_expressions=tuple(
                        Requirement(key=e.key, operator=Operator(e.operator), values=e.values)
                        for e in term.preference.match_expressions
                    )
                ),
            )
        )
    return (
        PodConstraints(
            topology_spread=tuple(spreads),
            pod_affinity=terms["podAffinity"],
            pod_anti_affinity=terms["podAntiAffinity"],
            preferred_pod_affinity=preferred["podAffinity"],
            preferred_pod_anti_affinity=preferred["podAntiAffinity"],
            preferred_node_affinity=tuple(node_preferences),
        ),
        tuple(unmodelled),
    )


def _unmodelled(spec: PodSpec, planned: PodConstraints | None = None) -> tuple[str, ...]:
    """What of a pod spec's inter-pod constraints the node plan would not honour.

    For a scaler's target, ``planned`` holds what the plan uses (from the binding's ``podSpec``):
    a live template whose constraints differ is reported rather than planned with the binding's.
    """
    live, found = pod_constraints(spec)
    unmodelled = list(found)
    if planned is not None:
        for name, ours, theirs in (
            ("topologySpreadConstraints", planned.topology_spread, live.topology_spread),
            ("podAffinity", planned.pod_affinity, live.pod_affinity),
            ("podAntiAffinity", planned.pod_anti_affinity, live.pod_anti_affinity),
            ("podAffinity (preferred)", planned.preferred_pod_affinity, live.preferred_pod_affinity),
            (
                "podAntiAffinity (preferred)",
                planned.preferred_pod_anti_affinity,
                live.preferred_pod_anti_affinity,
            ),
            ("nodeAffinity (preferred)", planned.preferred_node_affinity, live.preferred_node_affinity),
        ):
            if ours != theirs:
                unmodelled.append(f"{name} (the live pod template's differ from the binding's podSpec)")
    return tuple(unmodelled)


def _instance_id(node: Node) -> str | None:
    provider = node.spec.provider_id or ""
    return provider.rsplit("/", 1)[-1] or None


def _node_state(condition: NodeCondition, joined: Node | None, *, gpus: int) -> NodeState | None:
    if condition is NodeCondition.SHUTTING_DOWN or condition in (
        NodeCondition.FAILED,
        NodeCondition.FAILED_CAPACITY,
    ):
        return None
    if joined is None:
        return NodeState.LAUNCHING
    if condition is NodeCondition.RECOVERING:
        return NodeState.NOT_READY
    usable = (
        condition is NodeCondition.USABLE
        and joined.is_ready
        and not joined.spec.unschedulable
        # A GPU node takes GPU pods only once the device plugin has registered its GPUs. Until
        # then the kubelet lists no GPU at all, so the instance type says whether to wait
        # (Karpenter's initialization waits for every resource the instance type offers to be
        # allocatable: kubernetes-sigs/karpenter pkg/controllers/nodeclaim/lifecycle/initialization.go,
        # RequestedResourcesRegistered).
        and (bool(joined.status.allocatable.get(GPU, 0)) or not (gpus or GPU in joined.status.capacity))
    )
    return NodeState.READY if usable else NodeState.REGISTERED


def _observed_nodes(
    hyperpod_nodes: Iterable[ClusterNode],
    kubernetes_nodes: Mapping[str, Node],
    pods_by_node: Mapping[str, list[Pod]],
    *,
    targets: Mapping[str, WorkloadRef],
    managed: set[str],
    node_recovery: str | None,
    group_gpus: Mapping[str, int],
) -> tuple[ObservedNode, ...]:
    by_instance = {_instance_id(node): node for node in kubernetes_nodes.values()}
    observed = []
    for hyperpod_node in sorted(hyperpod_nodes, key=lambda n: n.key):
        joined = by_instance.get(hyperpod_node.instance_id) if hyperpod_node.instance_id else None
        condition = classify_node(
            hyperpod_node,
            node_recovery=node_recovery,  # type: ignore[arg-type]
            kubernetes_labels=joined.labels if joined else None,
        )
        # A node HyperPod is shutting down is leaving: ebb removed it, or it went without ebb
        # (the decision tells which). One whose health agent asked for a repair is being repaired.
        repairing = joined is not None and joined.labels.get(NODE_HEALTH_LABEL) in _REPAIRS
        failure = None
        if condition is NodeCondition.FAILED_CAPACITY:
            failure = NodeFailure.CAPACITY
        elif condition is NodeCondition.FAILED:
            failure = NodeFailure.OTHER
        pods: dict[str, int] = {}
        unmanaged = Resources()
        unmanaged_pods = 0
        do_not_disrupt = False
        for pod in pods_by_node.get(joined.name, []) if joined else []:
            if pod.is_terminating or pod.status.phase in ("Succeeded", "Failed") or _is_daemon(pod):
                continue
            do_not_disrupt = do_not_disrupt or pod.metadata.annotations.get(DO_NOT_DISRUPT) == "true"
            owner = _owner(pod, targets)
            if owner in managed:
                pods[owner] = pods.get(owner, 0) + 1
            else:
                unmanaged = unmanaged + _requests(pod)
                unmanaged_pods += 1
        if joined is not None:
            do_not_disrupt = do_not_disrupt or joined.metadata.annotations.get(DO_NOT_DISRUPT) == "true"
        observed.append(
            ObservedNode(
                name=joined.name if joined else hyperpod_node.key,
                instance_id=hyperpod_node.instance_id,
                instance_group=hyperpod_node.instance_group,
                instance_type=hyperpod_node.instance_type,
                state=_node_state(condition, joined, gpus=group_gpus.get(hyperpod_node.instance_group, 0)),
                failure=failure,
                shutting_down=condition is NodeCondition.SHUTTING_DOWN and not repairing,
                launched_at=hyperpod_node.launch_time,
                pods=pods,
                unmanaged=unmanaged,
                unmanaged_pods=unmanaged_pods,
                do_not_disrupt=do_not_disrupt,
                deleting=bool(joined and joined.spec.unschedulable),
            )
        )
    return tuple(observed)


def _is_daemon(pod: Pod) -> bool:
    controller = pod.metadata.controller
    return controller is not None and controller.kind == "DaemonSet"


def _requests(pod: Pod) -> Resources:
    """What the pod requests, every extended resource (EFA, MIG, Neuron) by name; no pod slot."""
    requests = pod.spec.effective_requests()
    zero = Decimal(0)
    return Resources(
        cpu_millis=to_millis(requests.get("cpu", zero)),
        memory_bytes=to_units(requests.get("memory", zero)),
        gpus=to_units(requests.get(GPU, zero)),
        # The API server admits only whole amounts of an extended resource.
        extended=tuple(
            (name, to_units(amount))
            for name, amount in requests.items()
            if amount and name not in _BASE_RESOURCES
        ),
    )


# Packed in their own fields, or (node-local storage) no instance-group dimension ebb chooses by.
_BASE_RESOURCES = frozenset({"cpu", "memory", GPU, "pods", "ephemeral-storage"})


def _pending(pod: Pod, *, held_scaler: str | None = None) -> PendingPod:
    spec = pod.spec
    constraints, unmodelled = pod_constraints(spec)
    terms: tuple[NodeSelectorTerm, ...] = ()
    required = (
        spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution
        if (spec.affinity and spec.affinity.node_affinity)
        else None
    )
    if required is not None:
        terms = tuple(
            NodeSelectorTerm(
                match_expressions=tuple(
                    Requirement(key=e.key, operator=Operator(e.operator), values=e.values)
                    for e in term.match_expressions
                )
            )
            for term in required.node_selector_terms
        )
    return PendingPod(
        namespace=pod.namespace,
        name=pod.name,
        requests=_requests(pod),
        node_selector=dict(spec.node_selector),
        node_affinity=terms,
        tolerations=tuple(
            Toleration(
                key=t.key or "",
                operator=t.operator,
                value=t.value or "",
                effect=TaintEffect(t.effect) if t.effect else None,
            )
            for t in spec.tolerations
        ),
        unmodelled_constraints=unmodelled,
        held_scaler=held_scaler,
        labels=dict(pod.metadata.labels),
        constraints=constraints,
    )
