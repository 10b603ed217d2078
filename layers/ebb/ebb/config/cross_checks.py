"""Checks that span documents: references resolve, nothing is claimed twice, pods can land and fit.

Each problem is reported on the document a user has to change, with the other document named in
the message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ebb.config.binding import ClusterBinding, InstanceGroupFacts
from ebb.config.catalogue import InstanceCatalogue, InstanceTypeSpec
from ebb.config.documents import ParsedDocument
from ebb.config.issues import IssueLog, PathPart
from ebb.config.keda_triggers import ALB_WAKE_METRICS, AwsCloudWatchTrigger, AwsSqsQueueTrigger
from ebb.config.model_base import Finding, independent_rules, judging_salvaged_models
from ebb.config.node_class import HyperpodNodeClass
from ebb.config.node_pool import NodePool
from ebb.config.placement import GroupPlacement, admission, node_labels, place
from ebb.config.pod_spec import INSTANCE_GROUP_LABEL, PodSpec
from ebb.config.polling import (
    SUB_MINUTE_INTERVALS,
    TICK_SECONDS,
    PoolShape,
    extra_decisions_per_minute,
    monthly_cost,
    poll_interval,
    smallest_interval,
)
from ebb.config.scaled_object import ScaledObject
from ebb.core.nodes.catalogue import CAPACITY_TYPE_LABEL, NODEPOOL_LABEL, OS_LABEL
from ebb.core.nodes.topology import HOSTNAME_KEY

ScaledObjectDoc = ParsedDocument[ScaledObject]
NodePoolDoc = ParsedDocument[NodePool]
NodeClassDoc = ParsedDocument[HyperpodNodeClass]
BindingDoc = ParsedDocument[ClusterBinding]
AnyDoc = ParsedDocument[Any]


@dataclass(frozen=True)
class DocumentSet:
    """The valid documents of a configuration, ready for cross-document checks."""

    scaled_objects: tuple[ScaledObjectDoc, ...]
    node_pools: tuple[NodePoolDoc, ...]
    node_classes: tuple[NodeClassDoc, ...]
    binding: BindingDoc
    # (kind, name) of documents that failed validation: references to them are not reported again.
    unparsed: frozenset[tuple[str, str]] = frozenset()


def check_documents(
    documents: DocumentSet, catalogue: InstanceCatalogue, log: IssueLog, *, salvaged: bool = False
) -> None:
    """Run every cross-document check, reporting to `log`.

    `salvaged`: some documents are what could be salvaged of invalid ones, and lack the fields
    that failed; a check that reads such a field cannot be judged and is skipped, each check on
    its own (`model_base.independent_rules`), so the others still report.
    """
    checks: tuple[Callable[[], None], ...] = (
        lambda: _unique_names(documents, log),
        lambda: _one_scaled_object_per_target(documents.scaled_objects, log),
        lambda: _node_class_references(documents, log),
        lambda: _instance_groups(documents, catalogue, log),
        lambda: _scaler_bindings(documents, log),
        lambda: _sub_minute_polling(documents, log),
        lambda: _load_balancer_rules(documents.scaled_objects, log),
        lambda: _regions(documents, log),
        lambda: _pool_taints(documents, log),
        lambda: _pool_admission(documents, catalogue, log),
        lambda: _placement(documents, catalogue, log),
        lambda: _limits(documents, catalogue, log),
    )
    if not salvaged:
        for check in checks:
            check()
        return
    with judging_salvaged_models():
        for _ in independent_rules(*(_as_rule(check) for check in checks)):
            pass


def _as_rule(check: Callable[[], None]) -> Callable[[], Iterable[Finding]]:
    def rule() -> Iterable[Finding]:
        check()
        return ()

    return rule


def _report(log: IssueLog, doc: AnyDoc, path: Iterable[PathPart], message: str) -> None:
    log.error(doc.file, doc.ref, tuple(path), message)


def _note(log: IssueLog, doc: AnyDoc, path: Iterable[PathPart], message: str) -> None:
    log.note(doc.file, doc.ref, tuple(path), message)


def _where(doc: AnyDoc) -> str:
    return f"{doc.file}, document {doc.ref.index}"


def _unique_names(documents: DocumentSet, log: IssueLog) -> None:
    groups: tuple[tuple[str, tuple[AnyDoc, ...]], ...] = (
        ("ScaledObject", documents.scaled_objects),
        ("NodePool", documents.node_pools),
        ("HyperpodNodeClass", documents.node_classes),
    )
    for kind, docs in groups:
        seen: dict[str, AnyDoc] = {}
        for doc in docs:
            model = doc.model
            key = model.qualified_name if isinstance(model, ScaledObject) else model.name
            if key in seen:
                _report(
                    log, doc, ("metadata", "name"), f"{kind} {key} is already defined in {_where(seen[key])}"
                )
            else:
                seen[key] = doc


def _one_scaled_object_per_target(docs: Iterable[ScaledObjectDoc], log: IssueLog) -> None:
    owners: dict[tuple[str, str, str, str], ScaledObjectDoc] = {}
    for doc in docs:
        ref = doc.model.spec.scale_target_ref
        key = (doc.model.namespace, ref.api_version, ref.kind, ref.name)
        first = owners.setdefault(key, doc)
        if first is not doc:
            # KEDA's admission webhook message (verifyScaledObjects).
            _report(
                log,
                doc,
                ("spec", "scaleTargetRef", "name"),
                f"the workload '{ref.name}' of type '{ref.api_version}.{ref.kind}' is already managed by "
                f"the ScaledObject '{first.model.name}' ({_where(first)})",
            )


def _node_class_references(documents: DocumentSet, log: IssueLog) -> None:
    classes = {doc.model.name for doc in documents.node_classes}
    used: set[str] = set()
    for doc in documents.node_pools:
        name = doc.model.node_class_name
        used.add(name)
        if name not in classes and ("HyperpodNodeClass", name) not in documents.unparsed:
            defined = ", ".join(sorted(classes)) or "none"
            _report(
                log,
                doc,
                ("spec", "template", "spec", "nodeClassRef", "name"),
                f"names HyperpodNodeClass {name!r}, which is not in the configuration; defined: {defined}",
            )
    for class_doc in documents.node_classes:
        if class_doc.model.name not in used and not documents.unparsed:
            _note(log, class_doc, (), "no NodePool uses this HyperpodNodeClass")


def _instance_groups(documents: DocumentSet, catalogue: InstanceCatalogue, log: IssueLog) -> None:
    binding = documents.binding
    facts = {g.name: g for g in binding.model.spec.hyper_pod_cluster.instance_groups}
    owner: dict[str, NodeClassDoc] = {}
    for doc in documents.node_classes:
        for index, name in enumerate(doc.model.instance_groups):
            path: tuple[PathPart, ...] = ("spec", "instanceGroups", index)
            if name in owner and owner[name] is not doc:
                _report(
                    log,
                    doc,
                    path,
                    f"instance group {name!r} is already in HyperpodNodeClass {owner[name].model.name} "
                    f"({_where(owner[name])}); an instance group may belong to one node class only",
                )
                continue
            owner[name] = doc
            if name not in facts:
                _report(
                    log,
                    doc,
                    path,
                    f"instance group {name!r} has no facts in the ClusterBinding; add it under "
                    "spec.hyperPodCluster.instanceGroups with its instanceType and availabilityZone",
                )
    for index, group in enumerate(binding.model.spec.hyper_pod_cluster.instance_groups):
        fact_path: tuple[PathPart, ...] = ("spec", "hyperPodCluster", "instanceGroups", index)
        if catalogue.get(group.instance_type) is None:
            _report(
                log,
                binding,
                (*fact_path, "instanceType"),
                f"{group.instance_type!r} is not in the instance catalogue; add it under "
                f"spec.instanceCatalogue or use one of: {', '.join(catalogue.names())}",
            )
        if group.name not in owner:
            _note(
                log,
                binding,
                fact_path,
                f"instance group {group.name!r} is in no HyperpodNodeClass; ebb will not use it",
            )
    pools_of_class: dict[str, NodePoolDoc] = {}
    for pool_doc in documents.node_pools:
        first = pools_of_class.setdefault(pool_doc.model.node_class_name, pool_doc)
        if first is not pool_doc:
            _report(
                log,
                pool_doc,
                ("spec", "template", "spec", "nodeClassRef", "name"),
                f"HyperpodNodeClass {pool_doc.model.node_class_name!r} is already used by NodePool "
                f"{first.model.name} ({_where(first)}); ebb plans each instance group for one NodePool",
            )


def _scaler_bindings(documents: DocumentSet, log: IssueLog) -> None:
    binding = documents.binding
    spec = binding.model.spec
    scaled = {doc.model.qualified_name: doc for doc in documents.scaled_objects}
    pools = {doc.model.name for doc in documents.node_pools}
    bound: set[str] = set()
    for index, entry in enumerate(spec.scalers):
        key = entry.scaled_object.qualified_name
        bound.add(key)
        if key not in scaled and ("ScaledObject", key) not in documents.unparsed:
            defined = ", ".join(sorted(scaled)) or "none"
            _report(
                log,
                binding,
                ("spec", "scalers", index, "scaledObject"),
                f"ScaledObject {key} is not in the configuration; defined: {defined}",
            )
        if entry.node_pool not in pools and ("NodePool", entry.node_pool) not in documents.unparsed:
            defined = ", ".join(sorted(pools)) or "none"
            _report(
                log,
                binding,
                ("spec", "scalers", index, "nodePool"),
                f"NodePool {entry.node_pool!r} is not in the configuration; defined: {defined}",
            )
    for key, doc in scaled.items():
        if key not in bound:
            _report(
                log,
                doc,
                (),
                "no ClusterBinding entry says which NodePool its pods land on; add {scaledObject: "
                f"{{name: {doc.model.name}, namespace: {doc.model.namespace}}}, nodePool: ...}} "
                "to spec.scalers",
            )
    for index, window in enumerate(spec.prewarm):
        key = window.scaled_object.qualified_name
        target = scaled.get(key)
        if target is None and ("ScaledObject", key) in documents.unparsed:
            continue
        if target is None:
            _report(
                log,
                binding,
                ("spec", "prewarm", index, "scaledObject"),
                f"ScaledObject {key} is not in the configuration",
            )
        elif window.min_replicas > target.model.spec.max_replicas:
            _report(
                log,
                binding,
                ("spec", "prewarm", index, "minReplicas"),
                f"{window.min_replicas} exceeds maxReplicaCount {target.model.spec.max_replicas} of {key}",
            )
    for index, name in enumerate(spec.pods_only):
        if name not in pools and ("NodePool", name) not in documents.unparsed:
            defined = ", ".join(sorted(pools)) or "none"
            _report(
                log,
                binding,
                ("spec", "podsOnly", index),
                f"NodePool {name!r} is not in the configuration; defined: {defined}",
            )
    bound_pools = {entry.node_pool for entry in spec.scalers}
    for pool_doc in documents.node_pools:
        if pool_doc.model.name not in bound_pools and not documents.unparsed:
            _note(log, pool_doc, (), "no ScaledObject lands on this NodePool")


def _sub_minute_polling(documents: DocumentSet, log: IssueLog) -> None:
    """What each scaler's `pollingInterval` and `subMinutePolling` imply (`ebb.config.polling`):
    notes only, since every combination is valid; the cost is the pool's, so it is stated."""
    binding = documents.binding
    scaled = {doc.model.qualified_name: doc.model for doc in documents.scaled_objects}
    entries = [
        (index, entry, scaled[entry.scaled_object.qualified_name])
        for index, entry in enumerate(binding.model.spec.scalers)
        if entry.scaled_object.qualified_name in scaled
    ]
    for pool in sorted({entry.node_pool for _, entry, _ in entries}):
        members = [(index, entry, so) for index, entry, so in entries if entry.node_pool == pool]
        current = smallest_interval(
            (entry.sub_minute_polling, so.spec.polling_interval) for _, entry, so in members
        )
        triggers = [trigger for _, _, so in members for trigger in so.spec.triggers]
        shape = PoolShape(
            scalers=len(members),
            cloudwatch_triggers=sum(isinstance(t, AwsCloudWatchTrigger) for t in triggers),
            sqs_triggers=sum(isinstance(t, AwsSqsQueueTrigger) for t in triggers),
        )
        for index, entry, so in members:
            seconds = so.spec.polling_interval
            asked = poll_interval(seconds)
            key = so.qualified_name
            if entry.sub_minute_polling and asked is None:
                _note(
                    log,
                    binding,
                    ("spec", "scalers", index, "subMinutePolling"),
                    f"ScaledObject {key} has pollingInterval {seconds} s: the one-minute tick decides "
                    f"NodePool {pool} that often already; subMinutePolling changes nothing",
                )
            elif entry.sub_minute_polling and asked != seconds:
                allowed = ", ".join(f"{i} s" for i in SUB_MINUTE_INTERVALS)
                shortest = (
                    "; 10 s is the shortest, as each poll is a whole pool decision" if seconds < 10 else ""
                )
                _note(
                    log,
                    binding,
                    ("spec", "scalers", index, "subMinutePolling"),
                    f"pollingInterval {seconds} s of ScaledObject {key} is polled every {asked} s: polls "
                    f"run at divisors of a minute ({allowed}), rounded down{shortest}",
                )
            elif (
                asked is not None
                and _stated(so.spec, "polling_interval")
                and not _stated(entry, "sub_minute_polling")  # `false` stated: the tick's cadence chosen
            ):
                if current is not None and current <= asked:
                    continue  # another scaler's opt-in polls the pool at least this often
                more = extra_decisions_per_minute(asked) - extra_decisions_per_minute(current)
                usd = monthly_cost(asked, shape) - monthly_cost(current, shape)
                now = f"every {TICK_SECONDS} s (the tick)" if current is None else f"every {current} s"
                _note(
                    log,
                    binding,
                    ("spec", "scalers", index),
                    f"ScaledObject {key} has pollingInterval {seconds} s, but NodePool {pool} is decided "
                    f"{now}, alarm edges and idle timers; subMinutePolling: true here polls it every "
                    f"{asked} s: {more} more decision{'s' if more > 1 else ''} a minute while not at rest, "
                    f"about ${usd:.2f} a month",
                )


def _stated(model: Any, field: str) -> bool:
    """Whether a field was given in the document (not left at its default)."""
    return field in model.model_fields_set


def _load_balancer_rules(docs: Iterable[ScaledObjectDoc], log: IssueLog) -> None:
    woken_by: dict[str, ScaledObjectDoc] = {}
    for doc in docs:
        spec = doc.model.spec
        watches = [
            (index, trigger)
            for index, trigger in enumerate(spec.triggers)
            if isinstance(trigger, AwsCloudWatchTrigger)
        ]
        wake = [(i, t) for i, t in watches if t.metadata.is_alb_wake_signal]
        if not spec.scales_to_zero:
            continue
        for index, trigger in watches:
            if trigger.metadata.is_alb_target_metric and not wake:
                _report(
                    log,
                    doc,
                    ("spec", "triggers", index, "metadata", "metricName"),
                    f"{trigger.metadata.metric_name} cannot wake this target from zero: with no replica "
                    "the load balancer has no target and answers 503 without counting a request. Add an "
                    f"aws-cloudwatch trigger on {' or '.join(sorted(ALB_WAKE_METRICS))} (namespace "
                    "AWS/ApplicationELB, dimensionName LoadBalancer), or keep minReplicaCount at 1 or more",
                )
        for index, trigger in wake:
            load_balancer = trigger.metadata.load_balancer or ""
            first = woken_by.setdefault(load_balancer, doc)
            if first is not doc:
                _report(
                    log,
                    doc,
                    ("spec", "triggers", index, "metadata", "dimensionValue"),
                    f"load balancer {load_balancer} already wakes ScaledObject "
                    f"{first.model.qualified_name} ({_where(first)}) from zero; its 5xx/503 counts cannot "
                    "tell which service a request was for, so ebb allows one scale-to-zero service per "
                    "load balancer. Give each its own load balancer, or set minReplicaCount: 1 on one of "
                    "them",
                )


def _regions(documents: DocumentSet, log: IssueLog) -> None:
    region = documents.binding.model.spec.region
    for doc in documents.scaled_objects:
        for index, trigger in enumerate(doc.model.spec.triggers):
            if trigger.metadata.aws_region != region:
                # The stack reads CloudWatch and owns its alarms in its own region, and IAM allows
                # GetQueueAttributes on that region's queues only: another region's metric would
                # never be read nor wake anything.
                _report(
                    log,
                    doc,
                    ("spec", "triggers", index, "metadata", "awsRegion"),
                    f"{trigger.metadata.aws_region} differs from the ClusterBinding's region {region}; ebb "
                    f"reads metrics and keeps its alarms in its own region only: deploy ebb in "
                    f"{trigger.metadata.aws_region}, or read a metric of {region}",
                )


def _pool_taints(documents: DocumentSet, log: IssueLog) -> None:
    groups = {g.name: g for g in documents.binding.model.spec.hyper_pod_cluster.instance_groups}
    for doc in documents.node_pools:
        for index, taint in enumerate(doc.model.taints):
            missing = [
                name
                for name in _pool_groups(documents, doc.model)
                if name in groups and not any(t.describe() == taint.describe() for t in groups[name].taints)
            ]
            if missing:
                _note(
                    log,
                    doc,
                    ("spec", "template", "spec", "taints", index),
                    f"{taint.describe()} is not stated on instance group(s) {', '.join(missing)}: HyperPod "
                    "taints nodes through the instance group's KubernetesConfig, ebb cannot; pods must "
                    "still tolerate it",
                )


def _pool_groups(documents: DocumentSet, pool: NodePool) -> tuple[str, ...]:
    for doc in documents.node_classes:
        if doc.model.name == pool.node_class_name:
            return doc.model.instance_groups
    return ()


def _pool_admission(documents: DocumentSet, catalogue: InstanceCatalogue, log: IssueLog) -> None:
    groups = {g.name: g for g in documents.binding.model.spec.hyper_pod_cluster.instance_groups}
    for doc in documents.node_pools:
        refused = []
        any_admitted = False
        for name in _pool_groups(documents, doc.model):
            group = groups.get(name)
            if group is None:
                continue
            admitted, reason = admission(doc.model, group, catalogue.get(group.instance_type))
            any_admitted = any_admitted or admitted
            if not admitted:
                refused.append(f"{name} ({group.instance_type}, {group.availability_zone}): {reason}")
        if refused and not any_admitted:
            _report(
                log,
                doc,
                ("spec", "template", "spec", "requirements"),
                f"the requirements admit none of the NodePool's instance groups: {'; '.join(refused)}",
            )
        elif refused:
            # Often a typo in a zone or type list: the group silently gets no node, and with it
            # the fallback it was there for (a second zone) is gone.
            _note(
                log,
                doc,
                ("spec", "template", "spec", "requirements"),
                f"the requirements leave out instance group(s) of the NodePool's node class, which get no "
                f"node: {'; '.join(refused)}",
            )


def _placement(documents: DocumentSet, catalogue: InstanceCatalogue, log: IssueLog) -> None:
    binding = documents.binding
    spec = binding.model.spec
    groups = {g.name: g for g in spec.hyper_pod_cluster.instance_groups}
    specs = {name: s for name in catalogue.names() if (s := catalogue.get(name)) is not None}
    overhead = {name: q.value for name, q in spec.node_overhead.items()}
    pools = {doc.model.name: doc for doc in documents.node_pools}
    scaled = {doc.model.qualified_name for doc in documents.scaled_objects}
    for index, entry in enumerate(spec.scalers):
        pool_doc = pools.get(entry.node_pool)
        if pool_doc is None or entry.scaled_object.qualified_name not in scaled:
            continue
        pool_groups = _pool_groups(documents, pool_doc.model)
        placements = place(
            entry.pod_spec, pool_doc.model, pool_groups, groups=groups, specs=specs, node_overhead=overhead
        )
        if not any(p.in_pool and p.admitted for p in placements):
            continue  # no usable group: reported with the NodePool or its node class
        path: tuple[PathPart, ...] = ("spec", "scalers", index)
        if entry.pod_spec is None:
            _note(
                log,
                binding,
                path,
                "pod placement and fit are not checked: state the target's podSpec here to check them "
                "offline (at run time ebb reads the pod template from the cluster)",
            )
            continue
        _check_pod_placement(
            log,
            binding,
            (*path, "podSpec"),
            pod_spec=entry.pod_spec,
            pool_name=entry.node_pool,
            placements=placements,
        )
        landing = [p for p in placements if p.lands]
        keys = {HOSTNAME_KEY, CAPACITY_TYPE_LABEL, NODEPOOL_LABEL, OS_LABEL}
        for placement in landing:
            keys.update(node_labels(groups[placement.instance_group], specs.get(placement.instance_type)))
        _check_topology_keys(log, binding, (*path, "podSpec"), entry.pod_spec, keys, entry.node_pool)


def _check_topology_keys(  # noqa: PLR0917 - one check of ``_placement``, on its loop's values
    log: IssueLog,
    binding: BindingDoc,
    pod_path: tuple[PathPart, ...],
    pod_spec: PodSpec,
    keys: set[str],
    pool_name: str,
) -> None:
    """A required spread or pod (anti-)affinity on a label no node the pods may land on carries.

    kube-scheduler and Karpenter never schedule such pods (kubernetes-sigs/karpenter
    ``topology_test.go`` It("should ignore unknown topology keys")), so ebb refuses the binding.
    """
    for index, spread in enumerate(pod_spec.topology_spread_constraints):
        if spread.when_unsatisfiable == "DoNotSchedule" and spread.topology_key not in keys:
            _report(
                log,
                binding,
                (*pod_path, "topologySpreadConstraints", index, "topologyKey"),
                f"no node of NodePool {pool_name} the pods may use carries the label "
                f"{spread.topology_key!r}: the pods would never be scheduled",
            )
    affinity = pod_spec.affinity
    for name, rules in (
        ("podAffinity", affinity.pod_affinity if affinity else None),
        ("podAntiAffinity", affinity.pod_anti_affinity if affinity else None),
    ):
        for index, term in enumerate(rules.required if rules else ()):
            if term.topology_key not in keys:
                _report(
                    log,
                    binding,
                    (*pod_path, "affinity", name, "requiredDuringSchedulingIgnoredDuringExecution", index),
                    f"no node of NodePool {pool_name} the pods may use carries the label "
                    f"{term.topology_key!r}",
                )


def _check_pod_placement(
    log: IssueLog,
    binding: BindingDoc,
    pod_path: tuple[PathPart, ...],
    *,
    pod_spec: PodSpec,
    pool_name: str,
    placements: tuple[GroupPlacement, ...],
) -> None:
    pool_groups = [p.instance_group for p in placements if p.in_pool]
    if not pod_spec.constrains_label(INSTANCE_GROUP_LABEL):
        _report(
            log,
            binding,
            pod_path,
            f"the pods may land on any node: select NodePool {pool_name}'s instance groups "
            f"({', '.join(pool_groups)}) with nodeSelector or required node affinity on "
            f"{INSTANCE_GROUP_LABEL}",
        )
    outside = [p.instance_group for p in placements if p.selected and not p.in_pool]
    if outside:
        _report(
            log,
            binding,
            pod_path,
            f"the pods select instance groups outside NodePool {pool_name}: {', '.join(outside)}",
        )
    eligible = [p for p in placements if p.in_pool and p.admitted]
    selected = [p for p in eligible if p.selected]
    if not selected:
        _report(
            log,
            binding,
            pod_path,
            f"the pods select none of NodePool {pool_name}'s instance groups ({', '.join(pool_groups)})",
        )
        return
    blocked = [p for p in selected if p.untolerated_taints]
    if len(blocked) == len(selected):
        taints = sorted({t for p in blocked for t in p.untolerated_taints})
        _report(
            log,
            binding,
            (*pod_path, "tolerations"),
            f"the pods do not tolerate {', '.join(taints)}, which the instance groups of NodePool "
            f"{pool_name} carry; add a toleration for it",
        )
        return
    fitting = [p for p in selected if p.fit is None or p.fit.fits]
    if not fitting:
        reasons = "; ".join(
            f"{p.instance_group} ({p.instance_type}): {p.fit.reason}" for p in selected if p.fit is not None
        )
        _report(log, binding, pod_path, f"the pods fit no instance type of NodePool {pool_name}: {reasons}")


def _limits(documents: DocumentSet, catalogue: InstanceCatalogue, log: IssueLog) -> None:
    groups = {g.name: g for g in documents.binding.model.spec.hyper_pod_cluster.instance_groups}
    for doc in documents.node_pools:
        limits = doc.model.spec.limits
        if not limits:
            continue
        specs = _pool_specs(_pool_groups(documents, doc.model), groups, catalogue)
        if not specs:
            continue
        nodes = limits.get("nodes")
        if nodes is not None and nodes.value < 1:
            _note(
                log, doc, ("spec", "limits", "nodes"), "allows no node: this NodePool will never launch one"
            )
            continue
        for name, limit in limits.items():
            capacities = [s.capacity().get(name) for s in specs if name != "nodes"]
            known = [c for c in capacities if c is not None]
            if known and all(limit.value < capacity for capacity in known):
                _report(
                    log,
                    doc,
                    ("spec", "limits", name),
                    f"{limit} is less than one node of any of the pool's instance types, so no node can "
                    "launch (Karpenter compares limits with the capacity of the node it would launch)",
                )


def _pool_specs(
    names: Iterable[str], groups: Mapping[str, InstanceGroupFacts], catalogue: InstanceCatalogue
) -> list[InstanceTypeSpec]:
    specs = []
    for name in names:
        group = groups.get(name)
        spec = None if group is None else catalogue.get(group.instance_type)
        if spec is not None:
            specs.append(spec)
    return specs
