"""Which pods a ReplicaSet deletes first when it scales down.

The order of kubernetes/kubernetes `pkg/controller/controller_utils.go`, `ActivePodsWithRanks.Less`
(with the PodDeletionCost and LogarithmicScaleDown feature gates on, their default since 1.22),
ranked as `pkg/controller/replicaset/replica_set.go` `getPodsRankedByRelatedPodsOnSameNode` ranks
them; the ReplicaSet documentation ("Scaling a ReplicaSet", "Pod deletion cost") states the same
rules. Applied in turn until one decides:

1. unassigned before assigned;
2. Pending before Unknown before Running;
3. not ready before ready;
4. lower `controller.kubernetes.io/pod-deletion-cost` before higher;
5. more active related pods on the same node ("doubled up") before fewer;
6. ready for less time before longer (times bucketed by log2 of their age, ties by UID);
7. more container restarts before fewer;
8. created more recently before older (same log2 buckets, ties by UID).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ebb.local.kubernetes.pods import PHASE_ORDINAL, is_active, is_ready, ready_since

POD_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
Ranked = tuple[Mapping[str, Any], int]


def deletion_cost(pod: Mapping[str, Any]) -> int:
    """The annotation's value, 0 when absent (the API server refuses values that are not int32)."""
    raw = pod["metadata"].get("annotations", {}).get(POD_DELETION_COST)
    return int(raw) if raw is not None else 0


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def _log_rank(moment: datetime, now: datetime) -> int:
    age = (now - moment).total_seconds() * 1e9  # Go compares durations in nanoseconds
    return int(math.log2(age)) if age > 0 else -1


def _restarts(pod: Mapping[str, Any]) -> int:
    return max(
        (s.get("restartCount", 0) for s in pod.get("status", {}).get("containerStatuses", [])), default=0
    )


def _time_rule(
    a: Mapping[str, Any], b: Mapping[str, Any], ta: datetime | None, tb: datetime | None, now: datetime
) -> int:
    """Newer first, on a log scale; unset times first; 0 when the rule does not decide."""
    if ta == tb:
        return 0
    if ta is None or tb is None:
        return -1 if ta is None else 1
    difference = _log_rank(ta, now) - _log_rank(tb, now)
    if difference == 0:
        uid_a, uid_b = a["metadata"].get("uid", ""), b["metadata"].get("uid", "")
        return 0 if uid_a == uid_b else (-1 if uid_a < uid_b else 1)
    return -1 if difference < 0 else 1


def _compare(a: Ranked, b: Ranked, now: datetime) -> int:
    pod_a, rank_a = a
    pod_b, rank_b = b
    node_a = pod_a["spec"].get("nodeName", "")
    node_b = pod_b["spec"].get("nodeName", "")
    if node_a != node_b and (not node_a or not node_b):
        return -1 if not node_a else 1
    phase_a = PHASE_ORDINAL.get(pod_a.get("status", {}).get("phase", ""), 0)
    phase_b = PHASE_ORDINAL.get(pod_b.get("status", {}).get("phase", ""), 0)
    if phase_a != phase_b:
        return -1 if phase_a < phase_b else 1
    if is_ready(pod_a) != is_ready(pod_b):
        return -1 if not is_ready(pod_a) else 1
    cost_a, cost_b = deletion_cost(pod_a), deletion_cost(pod_b)
    if cost_a != cost_b:
        return -1 if cost_a < cost_b else 1
    if rank_a != rank_b:
        return -1 if rank_a > rank_b else 1
    if is_ready(pod_a) and is_ready(pod_b):
        decided = _time_rule(pod_a, pod_b, _time(ready_since(pod_a)), _time(ready_since(pod_b)), now)
        if decided:
            return decided
    if _restarts(pod_a) != _restarts(pod_b):
        return -1 if _restarts(pod_a) > _restarts(pod_b) else 1
    created_a = _time(pod_a["metadata"].get("creationTimestamp"))
    created_b = _time(pod_b["metadata"].get("creationTimestamp"))
    return _time_rule(pod_a, pod_b, created_a, created_b, now)


def precedes(a: Mapping[str, Any], b: Mapping[str, Any], *, rank_a: int, rank_b: int, now: datetime) -> bool:
    """Whether pod `a` (with `rank_a` related pods on its node) is deleted before pod `b`."""
    return _compare((a, rank_a), (b, rank_b), now) < 0


def pods_to_delete(
    pods: Sequence[Mapping[str, Any]], related: Sequence[Mapping[str, Any]], count: int, now: datetime
) -> list[Mapping[str, Any]]:
    """The `count` pods of `pods` a ReplicaSet deletes first; `related` are all its owner's pods."""
    on_node: dict[str, int] = {}
    for pod in related:
        if is_active(pod):
            node = pod["spec"].get("nodeName", "")
            on_node[node] = on_node.get(node, 0) + 1
    ranked: list[Ranked] = [(pod, on_node.get(pod["spec"].get("nodeName", ""), 0)) for pod in pods]

    def compare(a: Ranked, b: Ranked) -> int:
        return _compare(a, b, now)

    ranked.sort(key=functools.cmp_to_key(compare))
    return [pod for pod, _ in ranked[:count]]
