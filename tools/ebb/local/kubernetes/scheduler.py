"""kube-scheduler's filters and a least-allocated choice, for the pods ebb runs.

Filters in the default profile's order, a node failing at the first that rejects it
(kube-scheduler "Scheduling Framework" docs; plugins NodeUnschedulable, TaintToleration,
NodeAffinity, NodeResourcesFit, PodTopologySpread, InterPodAffinity): a cordoned node unless the
pod tolerates `node.kubernetes.io/unschedulable`; untolerated NoSchedule/NoExecute taints;
`nodeSelector` and required node affinity; requests (of every resource, extended ones such as
`nvidia.com/gpu` included) against allocatable minus what bound pods request, and the pod count;
DoNotSchedule topology spread constraints (kubernetes ``podtopologyspread/filtering.go``: a node
without the key is refused, pods count per domain of the nodes the pod's node affinity accepts,
in its namespace, not terminating; ``count + selfMatch - globalMin > maxSkew`` refuses, the
minimum taken as 0 below ``minDomains``); required pod affinity and anti-affinity, the existing
pods' anti-affinity included (``interpodaffinity/filtering.go``, with its first-pod exception for
a pod matching its own affinity terms when no pod matches anywhere). A pod no node
passes stays Pending with `PodScheduled=False`, reason `Unschedulable`, and the scheduler's
"0/N nodes are available: ..." message (reasons counted and sorted, as `FitError.Error` prints
them). Among feasible nodes the least allocated wins (the default NodeResourcesFit scoring
strategy), ties by name. Not simulated: preferred affinities and ScheduleAnyway spreads (scores,
not filters), preemption, volumes.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ebb.core.nodes.quantities import parse_quantity
from ebb.local.kubernetes.kubelet import Kubelet
from ebb.local.kubernetes.nodes import UNSCHEDULABLE_TAINT
from ebb.local.kubernetes.pods import effective_requests, set_condition
from ebb.local.kubernetes.resources import NODE, POD
from ebb.local.kubernetes.state import ClusterState
from ebb.local.kubernetes.store import JsonObject

SCHEDULER_NAME = "default-scheduler"
NOT_HELPFUL = "Preemption is not helpful for scheduling."


def _tolerates(tolerations: list[Mapping[str, Any]], taint: Mapping[str, Any]) -> bool:
    for toleration in tolerations:
        if toleration.get("effect") and toleration["effect"] != taint["effect"]:
            continue
        if toleration.get("key") and toleration["key"] != taint["key"]:
            continue
        if toleration.get("operator", "Equal") == "Exists" or toleration.get("value", "") == taint.get(
            "value", ""
        ):
            return True
    return False


def _requirement_matches(requirement: Mapping[str, Any], value: str | None) -> bool:
    operator = requirement["operator"]
    values = requirement.get("values", [])
    if operator == "In":
        return value is not None and value in values
    if operator == "NotIn":
        return value is None or value not in values
    if operator == "Exists":
        return value is not None
    if operator == "DoesNotExist":
        return value is None
    if value is None or len(values) != 1:
        return False
    try:
        number, bound = int(value), int(values[0])
    except ValueError:
        return False
    return number > bound if operator == "Gt" else number < bound


def _term_matches(term: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    expressions = term.get("matchExpressions", [])
    fields = term.get("matchFields", [])
    if not expressions and not fields:
        return False  # an empty term selects no node
    labels = node["metadata"].get("labels", {})
    return all(_requirement_matches(r, labels.get(r["key"])) for r in expressions) and all(
        r["key"] == "metadata.name" and _requirement_matches(r, node["metadata"]["name"]) for r in fields
    )


def node_matches_pod(pod: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """`nodeSelector` and required node affinity (terms ORed, requirements ANDed)."""
    labels = node["metadata"].get("labels", {})
    if any(labels.get(key) != value for key, value in pod["spec"].get("nodeSelector", {}).items()):
        return False
    required = (
        pod["spec"]
        .get("affinity", {})
        .get("nodeAffinity", {})
        .get("requiredDuringSchedulingIgnoredDuringExecution")
    )
    if required is None:
        return True
    return any(_term_matches(term, node) for term in required.get("nodeSelectorTerms", []))


SPREAD_NOT_MATCH = "node(s) didn't match pod topology spread constraints"
SPREAD_MISSING_LABEL = SPREAD_NOT_MATCH + " (missing required label)"
EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
AFFINITY_NOT_MATCH = "node(s) didn't match pod affinity rules"
ANTI_AFFINITY_NOT_MATCH = "node(s) didn't match pod anti-affinity rules"

Placed = list[tuple[Mapping[str, Any], Mapping[str, Any]]]
"""Pods that count for inter-pod rules, each with the node it is bound to."""


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """``metav1.LabelSelector`` semantics; a nil selector matches nothing."""
    if selector is None:
        return False
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for requirement in selector.get("matchExpressions", []):
        value = labels.get(requirement["key"])
        operator, values = requirement["operator"], requirement.get("values", [])
        if operator == "In" and (value is None or value not in values):
            return False
        if operator == "NotIn" and value is not None and value in values:
            return False
        if operator == "Exists" and value is None:
            return False
        if operator == "DoesNotExist" and value is not None:
            return False
    return True


def _labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    labels: Mapping[str, str] = obj["metadata"].get("labels", {})
    return labels


def _namespace(pod: Mapping[str, Any]) -> str:
    namespace: str = pod["metadata"].get("namespace", "default")
    return namespace


def spread_rejection(
    pod: Mapping[str, Any], node: Mapping[str, Any], nodes: list[JsonObject], placed: Placed
) -> str | None:
    """Why the pod's DoNotSchedule topology spread constraints refuse ``node``, or ``None``."""
    node_labels = _labels(node)
    for constraint in pod["spec"].get("topologySpreadConstraints", []):
        if constraint.get("whenUnsatisfiable", "DoNotSchedule") != "DoNotSchedule":
            continue
        key = constraint["topologyKey"]
        if key not in node_labels:
            return SPREAD_MISSING_LABEL
        selector = constraint.get("labelSelector")
        if selector is not None and constraint.get("matchLabelKeys"):
            own = _labels(pod)
            extra = {k: own[k] for k in constraint["matchLabelKeys"] if k in own}
            selector = {**selector, "matchLabels": {**selector.get("matchLabels", {}), **extra}}
        domains = {_labels(n)[key] for n in nodes if key in _labels(n) and node_matches_pod(pod, n)}
        counts: dict[str, int] = {}
        for other, where in placed:
            where_labels = _labels(where)
            if (
                key in where_labels
                and _namespace(other) == _namespace(pod)
                and selector_matches(selector, _labels(other))
                and node_matches_pod(pod, where)
            ):
                counts[where_labels[key]] = counts.get(where_labels[key], 0) + 1
        min_domains = constraint.get("minDomains")
        if min_domains is not None and len(domains) < min_domains:
            lowest = 0
        else:
            lowest = min((counts.get(d, 0) for d in domains), default=0)
        itself = 1 if selector_matches(selector, _labels(pod)) else 0
        if counts.get(node_labels[key], 0) + itself - lowest > constraint["maxSkew"]:
            return SPREAD_NOT_MATCH
    return None


def _terms(pod: Mapping[str, Any], kind: str) -> list[Mapping[str, Any]]:
    terms: list[Mapping[str, Any]] = (
        pod["spec"]
        .get("affinity", {})
        .get(kind, {})
        .get("requiredDuringSchedulingIgnoredDuringExecution", [])
    )
    return terms


def _term_counts(term: Mapping[str, Any], owner: Mapping[str, Any], other: Mapping[str, Any]) -> bool:
    namespaces = term.get("namespaces") or [_namespace(owner)]
    return _namespace(other) in namespaces and selector_matches(term.get("labelSelector"), _labels(other))


def affinity_rejection(pod: Mapping[str, Any], node: Mapping[str, Any], placed: Placed) -> str | None:
    """Why required inter-pod affinity (the pod's, and existing pods' anti-affinity) refuses ``node``."""
    node_labels = _labels(node)
    for other, where in placed:
        for term in _terms(other, "podAntiAffinity"):
            key = term["topologyKey"]
            if (
                key in node_labels
                and _labels(where).get(key) == node_labels[key]
                and _term_counts(term, other, pod)
            ):
                return EXISTING_ANTI_AFFINITY
    affinity = _terms(pod, "podAffinity")
    if affinity:
        anywhere = any(_term_counts(t, pod, other) for t in affinity for other, _ in placed)
        first = not anywhere and all(_term_counts(t, pod, pod) for t in affinity)
        for term in affinity:
            key = term["topologyKey"]
            if key not in node_labels:
                return AFFINITY_NOT_MATCH
            near = any(
                _labels(where).get(key) == node_labels[key] and _term_counts(term, pod, other)
                for other, where in placed
            )
            if not near and not first:
                return AFFINITY_NOT_MATCH
    for term in _terms(pod, "podAntiAffinity"):
        key = term["topologyKey"]
        if key not in node_labels:
            continue
        if any(
            _labels(where).get(key) == node_labels[key] and _term_counts(term, pod, other)
            for other, where in placed
        ):
            return ANTI_AFFINITY_NOT_MATCH
    return None


class Scheduler:
    """Binds Pending pods to nodes, one pass at a time."""

    def __init__(self, state: ClusterState, kubelet: Kubelet) -> None:
        self._state = state
        self._kubelet = kubelet

    def schedule_pass(self) -> None:
        """Try every unscheduled pod, highest priority then oldest first."""
        store = self._state.store
        nodes = list(store.live_objects(NODE))
        by_name = {node["metadata"]["name"]: node for node in nodes}
        used: dict[str, dict[str, Decimal]] = {node["metadata"]["name"]: {} for node in nodes}
        waiting: list[JsonObject] = []
        placed: Placed = []
        for pod in store.live_objects(POD):
            node_name = pod["spec"].get("nodeName")
            if node_name:
                if node_name in used and pod.get("status", {}).get("phase") not in ("Succeeded", "Failed"):
                    _add(used[node_name], effective_requests(pod["spec"]))
                    _add(used[node_name], {"pods": Decimal(1)})
                    if pod["metadata"].get("deletionTimestamp") is None:
                        placed.append((pod, by_name[node_name]))
            elif (
                pod["metadata"].get("deletionTimestamp") is None
                and pod["spec"].get("schedulerName", SCHEDULER_NAME) == SCHEDULER_NAME
            ):
                waiting.append(pod)
        waiting.sort(
            key=lambda p: (
                -p["spec"].get("priority", 0),
                p["metadata"]["creationTimestamp"],
                p["metadata"]["name"],
            )
        )
        for pod in waiting:
            self._schedule(pod, nodes, used, placed)

    def _schedule(
        self, pod: JsonObject, nodes: list[JsonObject], used: dict[str, dict[str, Decimal]], placed: Placed
    ) -> None:
        requests = effective_requests(pod["spec"])
        requests["pods"] = Decimal(1)
        reasons: dict[str, int] = {}
        feasible: list[tuple[Decimal, str]] = []
        for node in nodes:
            rejection = self._filter(pod, node, requests, used[node["metadata"]["name"]])
            if not rejection:
                inter_pod = spread_rejection(pod, node, nodes, placed) or affinity_rejection(
                    pod, node, placed
                )
                rejection = [inter_pod] if inter_pod else []
            if rejection:
                for reason in rejection:
                    reasons[reason] = reasons.get(reason, 0) + 1
            else:
                feasible.append(
                    (
                        self._free_share(node, requests, used[node["metadata"]["name"]]),
                        node["metadata"]["name"],
                    )
                )
        now = self._state.now()
        if not feasible:
            counts = ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))
            total = len(nodes)
            message = (
                f"0/{total} nodes are available: {counts}." if counts else f"0/{total} nodes are available."
            )
            message += f" preemption: 0/{total} nodes are available: {total} {NOT_HELPFUL}"
            before = dict(
                next(
                    (c for c in pod.get("status", {}).get("conditions", []) if c["type"] == "PodScheduled"),
                    {},
                )
            )
            set_condition(pod, "PodScheduled", "False", now, reason="Unschedulable", message=message)
            if before != next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled"):
                self._state.store.touch(pod)
            return
        feasible.sort(key=lambda choice: (-choice[0], choice[1]))
        chosen = feasible[0][1]
        _add(used[chosen], requests)
        placed.append((pod, next(n for n in nodes if n["metadata"]["name"] == chosen)))
        pod["spec"]["nodeName"] = chosen
        set_condition(pod, "PodScheduled", "True", now)
        self._state.store.touch(pod)
        self._kubelet.pod_bound(pod)

    @staticmethod
    def _filter(
        pod: JsonObject, node: JsonObject, requests: dict[str, Decimal], used: dict[str, Decimal]
    ) -> list[str]:
        tolerations = pod["spec"].get("tolerations", [])
        if node["spec"].get("unschedulable") and not _tolerates(
            tolerations, {"key": UNSCHEDULABLE_TAINT, "effect": "NoSchedule"}
        ):
            return ["node(s) were unschedulable"]
        for taint in node["spec"].get("taints", []):
            if taint["effect"] in ("NoSchedule", "NoExecute") and not _tolerates(tolerations, taint):
                return [f"node(s) had untolerated taint {{{taint['key']}: {taint.get('value', '')}}}"]
        if not node_matches_pod(pod, node):
            return ["node(s) didn't match Pod's node affinity/selector"]
        allocatable = {
            name: parse_quantity(value) for name, value in node["status"].get("allocatable", {}).items()
        }
        insufficient = []
        for name, amount in requests.items():
            if amount > 0 and used.get(name, Decimal(0)) + amount > allocatable.get(name, Decimal(0)):
                insufficient.append("Too many pods" if name == "pods" else f"Insufficient {name}")
        return insufficient

    @staticmethod
    def _free_share(node: JsonObject, requests: dict[str, Decimal], used: dict[str, Decimal]) -> Decimal:
        allocatable = node["status"].get("allocatable", {})
        shares = []
        for name in ("cpu", "memory"):
            capacity = parse_quantity(allocatable.get(name, 0))
            if capacity > 0:
                shares.append(
                    (capacity - used.get(name, Decimal(0)) - requests.get(name, Decimal(0))) / capacity
                )
        return sum(shares, Decimal(0)) / len(shares) if shares else Decimal(0)


def _add(total: dict[str, Decimal], extra: Mapping[str, Decimal]) -> None:
    for name, amount in extra.items():
        total[name] = total.get(name, Decimal(0)) + amount
