"""PodDisruptionBudgets: the disruption controller's status, and the Eviction API's decision.

Status as the disruption controller computes it (kubernetes/kubernetes
`pkg/controller/disruption/disruption.go`, `getExpectedPodCount` and `updatePdbStatus`): with an
integer `minAvailable`, expected pods are the selected pods and `desiredHealthy` is minAvailable;
with a percentage, or with `maxUnavailable`, expected pods are the replicas of the pods'
controllers, and percentages round up. Healthy pods are Ready, not being deleted and not
recently evicted; `disruptionsAllowed` is healthy minus desired, never below zero.

Eviction as the eviction subresource decides (`pkg/registry/core/pod/storage/eviction.go`;
Kubernetes docs "API-initiated Eviction"): terminal, Pending and already-deleting pods go without
checking budgets; more than one budget is a 500; a budget whose status has not caught up with its
generation refuses with 429 and `Retry-After: 10`; an unready pod may go if the budget is
otherwise met (or always, with `unhealthyPodEvictionPolicy: AlwaysAllow`); otherwise no allowed
disruption means 429 with a `DisruptionBudget` cause, and an allowed one is used up at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from ebb.local.kubernetes.kubelet import Kubelet
from ebb.local.kubernetes.pods import controller_uid, is_ready
from ebb.local.kubernetes.resources import DEPLOYMENT, POD, POD_DISRUPTION_BUDGET, REPLICA_SET, STATEFUL_SET
from ebb.local.kubernetes.selectors import selector_is_empty, selector_matches
from ebb.local.kubernetes.state import ClusterState
from ebb.local.kubernetes.store import JsonObject, rfc3339

DISRUPTION_BUDGET_CAUSE = "DisruptionBudget"
REFUSAL_MESSAGE = "Cannot evict pod as it would violate the pod's disruption budget."
MULTIPLE_BUDGETS_MESSAGE = (
    "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
)
# The disruption controller forgets an eviction it never saw complete after this long.
DELETION_TIMEOUT = timedelta(minutes=2)


@dataclass(frozen=True)
class EvictionDecision:
    """What the eviction subresource answers: evicted, refused (429) or misconfigured (500)."""

    outcome: Literal["evicted", "refused", "misconfigured"]
    message: str = ""
    causes: list[dict[str, str]] = field(default_factory=list)
    retry_after_seconds: int = 0


def _scaled(value: int | str, total: int) -> int:
    if isinstance(value, int):
        return value
    return math.ceil(int(value.rstrip("%")) * total / 100)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class DisruptionController:
    """Keeps PodDisruptionBudget status current and decides evictions."""

    def __init__(self, state: ClusterState, kubelet: Kubelet) -> None:
        self._state = state
        self._kubelet = kubelet

    def status_pass(self) -> None:
        """Recompute every budget's status."""
        for budget in self._state.store.live_objects(POD_DISRUPTION_BUDGET):
            self._update(budget)

    def evict(self, pod: JsonObject, delete_options: dict[str, Any]) -> EvictionDecision:
        """Decide and, when allowed, carry out the eviction of a live pod."""
        grace = delete_options.get("gracePeriodSeconds")
        phase = pod.get("status", {}).get("phase")
        if phase in ("Succeeded", "Failed", "Pending") or pod["metadata"].get("deletionTimestamp"):
            self._kubelet.terminate(pod, grace)
            return EvictionDecision("evicted")
        budgets = [
            b
            for b in self._state.store.live_objects(POD_DISRUPTION_BUDGET, pod["metadata"]["namespace"])
            if self._covers(b, pod)
        ]
        if len(budgets) > 1:
            return EvictionDecision("misconfigured", MULTIPLE_BUDGETS_MESSAGE)
        if not budgets:
            self._kubelet.terminate(pod, grace)
            return EvictionDecision("evicted")
        budget = budgets[0]
        name = budget["metadata"]["name"]
        status = budget.get("status", {})
        if status.get("observedGeneration", 0) < budget["metadata"]["generation"]:
            cause = f"The disruption budget {name} is still being processed by the server."
            return EvictionDecision("refused", REFUSAL_MESSAGE, [self._cause(cause)], retry_after_seconds=10)
        if not is_ready(pod):
            policy = budget["spec"].get("unhealthyPodEvictionPolicy", "IfHealthyBudget")
            healthy_enough = (
                status["currentHealthy"] >= status["desiredHealthy"] and status["desiredHealthy"] > 0
            )
            if policy == "AlwaysAllow" or healthy_enough:
                self._kubelet.terminate(pod, grace)
                return EvictionDecision("evicted")
        if status["disruptionsAllowed"] <= 0:
            cause = (
                f"The disruption budget {name} needs {status['desiredHealthy']} healthy pods"
                f" and has {status['currentHealthy']} currently"
            )
            return EvictionDecision("refused", REFUSAL_MESSAGE, [self._cause(cause)])
        status["disruptionsAllowed"] -= 1
        status.setdefault("disruptedPods", {})[pod["metadata"]["name"]] = rfc3339(self._state.now())
        self._state.store.touch(budget)
        self._kubelet.terminate(pod, grace)
        return EvictionDecision("evicted")

    @staticmethod
    def _cause(message: str) -> dict[str, str]:
        return {"reason": DISRUPTION_BUDGET_CAUSE, "message": message}

    @staticmethod
    def _covers(budget: JsonObject, pod: JsonObject) -> bool:
        # policy/v1: a null selector matches no pods, an empty one every pod of the namespace.
        selector = budget["spec"].get("selector")
        if selector is None:
            return False
        return selector_is_empty(selector) or selector_matches(selector, pod["metadata"].get("labels", {}))

    def _update(self, budget: JsonObject) -> None:
        store = self._state.store
        now = self._state.now()
        namespace = budget["metadata"]["namespace"]
        pods = [p for p in store.live_objects(POD, namespace) if self._covers(budget, p)]
        previous = budget.get("status", {})
        disrupted = {
            name: at
            for name, at in previous.get("disruptedPods", {}).items()
            if store.live(POD, namespace, name) is not None and now - _time(at) < DELETION_TIMEOUT
        }
        spec = budget["spec"]
        if spec.get("maxUnavailable") is not None:
            expected = self._expected_scale(pods)
            desired = max(expected - _scaled(spec["maxUnavailable"], expected), 0)
        elif isinstance(spec.get("minAvailable"), int):
            expected = len(pods)
            desired = spec["minAvailable"]
        elif spec.get("minAvailable") is not None:
            expected = self._expected_scale(pods)
            desired = _scaled(spec["minAvailable"], expected)
        else:
            expected, desired = len(pods), 0
        healthy = sum(
            1
            for p in pods
            if p["metadata"].get("deletionTimestamp") is None
            and p["metadata"]["name"] not in disrupted
            and is_ready(p)
        )
        allowed = healthy - desired if expected > 0 and healthy > desired else 0
        condition_status = "True" if allowed > 0 else "False"
        old_condition: dict[str, Any] = next(iter(previous.get("conditions", [])), {})
        status: dict[str, Any] = {
            "observedGeneration": budget["metadata"]["generation"],
            "disruptionsAllowed": allowed,
            "currentHealthy": healthy,
            "desiredHealthy": desired,
            "expectedPods": expected,
            "conditions": [
                {
                    "type": "DisruptionAllowed",
                    "status": condition_status,
                    "reason": "SufficientPods" if allowed > 0 else "InsufficientPods",
                    "message": "",
                    "observedGeneration": budget["metadata"]["generation"],
                    "lastTransitionTime": old_condition.get("lastTransitionTime", rfc3339(now))
                    if old_condition.get("status") == condition_status
                    else rfc3339(now),
                }
            ],
        }
        if disrupted:
            status["disruptedPods"] = disrupted
        if previous != status:
            budget["status"] = status
            store.touch(budget)

    def _expected_scale(self, pods: list[JsonObject]) -> int:
        store = self._state.store
        seen: dict[str, int] = {}
        for pod in pods:
            uid = controller_uid(pod)
            if uid is None or uid in seen:
                continue
            namespace = pod["metadata"]["namespace"]
            owner = next(
                (o for o in store.live_objects(REPLICA_SET, namespace) if o["metadata"]["uid"] == uid), None
            )
            if owner is not None:
                parent_uid = controller_uid(owner)
                parent = next(
                    (
                        d
                        for d in store.live_objects(DEPLOYMENT, namespace)
                        if d["metadata"]["uid"] == parent_uid
                    ),
                    None,
                )
                seen[uid] = (parent or owner)["spec"].get("replicas", 1)
                continue
            stateful = next(
                (s for s in store.live_objects(STATEFUL_SET, namespace) if s["metadata"]["uid"] == uid), None
            )
            if stateful is not None:
                seen[uid] = stateful["spec"].get("replicas", 1)
        return sum(seen.values())
