"""Which pods go when a workload scales down.

ReplicaSet order: kubernetes/kubernetes `pkg/controller/controller_utils.go`
`ActivePodsWithRanks.Less`, whose cases `controller_utils_test.go` `TestSortingActivePodsWithRanks`
pins down (the table below carries its pod shapes and expectations over), and the ReplicaSet
docs ("Scaling a ReplicaSet", "Pod deletion cost"). StatefulSets remove the highest ordinal
first, one at a time (docs "StatefulSets", deployment and scaling guarantees).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ebb.adapters.kubernetes import EksKubernetesClient, WorkloadRef
from ebb.local.kubernetes import KubernetesStandIn, ManualClock
from ebb.local.kubernetes.deletion_order import POD_DELETION_COST, precedes

pytestmark = pytest.mark.integration

WEB = WorkloadRef(namespace="default", name="web")
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def _at(delta: timedelta | None) -> str | None:
    return None if delta is None else (NOW - delta).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pod(
    node: str,
    phase: str,
    ready: bool,
    *,
    restarts: int = 0,
    ready_for: timedelta | None = None,
    age: timedelta | None = None,
    cost: int | None = None,
) -> dict[str, Any]:
    """The shape of the upstream test's `pod(...)` helper."""
    metadata: dict[str, Any] = {"name": "p", "uid": ""}
    if age is not None:
        metadata["creationTimestamp"] = _at(age)
    if cost is not None:
        metadata["annotations"] = {POD_DELETION_COST: str(cost)}
    status: dict[str, Any] = {"phase": phase}
    if ready:
        condition: dict[str, Any] = {"type": "Ready", "status": "True"}
        if ready_for is not None:
            condition["lastTransitionTime"] = _at(ready_for)
        status["conditions"] = [condition]
        status["containerStatuses"] = [{"restartCount": restarts}]
    return {"metadata": metadata, "spec": {"nodeName": node}, "status": status}


MONTH = timedelta(days=30)
ZERO = timedelta(0)
UNSCHEDULED = _pod("", "Pending", False)
SCHEDULED_PENDING = _pod("node", "Pending", False)
UNKNOWN_PHASE = _pod("node", "Unknown", False)
RUNNING_NOT_READY = _pod("node", "Running", False)
READY_NO_TRANSITION_TIME = _pod("node", "Running", True)
READY_NOW = _pod("node", "Running", True, ready_for=ZERO, age=ZERO)
READY_THEN = _pod("node", "Running", True, ready_for=MONTH, age=MONTH)
READY_NOW_HIGH_RESTARTS = _pod("node", "Running", True, restarts=9001, ready_for=ZERO, age=ZERO)
READY_NOW_CREATED_THEN = _pod("node", "Running", True, ready_for=ZERO, age=MONTH)
LOW_COST = _pod("node", "Running", True, ready_for=ZERO, age=MONTH, cost=10)
HIGH_COST = _pod("node", "Running", True, ready_for=ZERO, age=MONTH, cost=100)
READY_2_HOURS = _pod("", "Running", True, ready_for=timedelta(hours=2), age=MONTH)
READY_5_HOURS = _pod("", "Running", True, ready_for=timedelta(hours=5), age=MONTH)
READY_8_HOURS = _pod("", "Running", True, ready_for=timedelta(hours=8), age=MONTH)
UNSCHEDULED_5_HOURS = _pod("", "Pending", False, ready_for=timedelta(hours=5), age=timedelta(hours=5))
UNSCHEDULED_8_HOURS = _pod("", "Pending", False, ready_for=timedelta(hours=8), age=timedelta(hours=8))

# (first deleted, its rank), (then, its rank): the upstream inequality cases with both feature gates on.
BEFORE = [
    ((UNSCHEDULED, 1), (SCHEDULED_PENDING, 2)),
    ((UNSCHEDULED, 2), (SCHEDULED_PENDING, 1)),
    ((SCHEDULED_PENDING, 1), (UNKNOWN_PHASE, 2)),
    ((UNKNOWN_PHASE, 1), (RUNNING_NOT_READY, 2)),
    ((RUNNING_NOT_READY, 1), (READY_NO_TRANSITION_TIME, 1)),
    ((READY_NO_TRANSITION_TIME, 1), (READY_NOW, 1)),
    ((READY_NOW, 2), (READY_NO_TRANSITION_TIME, 1)),
    ((READY_NOW, 1), (READY_THEN, 1)),
    ((READY_NOW, 2), (READY_THEN, 1)),
    ((READY_NOW_HIGH_RESTARTS, 1), (READY_NOW, 1)),
    ((READY_NOW, 2), (READY_NOW_HIGH_RESTARTS, 1)),
    ((READY_NOW, 1), (READY_NOW_CREATED_THEN, 1)),
    ((READY_NOW_CREATED_THEN, 2), (READY_NOW, 1)),
    ((LOW_COST, 2), (HIGH_COST, 1)),
    ((READY_2_HOURS, 1), (READY_5_HOURS, 1)),
]
# Pods the order cannot tell apart (same log2 bucket of age: 5 h and 8 h both fall in 2^44 ns).
EQUAL = [(UNSCHEDULED_5_HOURS, UNSCHEDULED_8_HOURS), (READY_5_HOURS, READY_8_HOURS)]


@pytest.mark.parametrize(("first", "then"), BEFORE)
def test_upstream_inequality_cases(
    first: tuple[dict[str, Any], int], then: tuple[dict[str, Any], int]
) -> None:
    assert precedes(first[0], then[0], rank_a=first[1], rank_b=then[1], now=NOW)
    assert not precedes(then[0], first[0], rank_a=then[1], rank_b=first[1], now=NOW)


@pytest.mark.parametrize(("a", "b"), EQUAL)
def test_upstream_equality_cases(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert not precedes(a, b, rank_a=1, rank_b=1, now=NOW)
    assert not precedes(b, a, rank_a=1, rank_b=1, now=NOW)


@pytest.fixture
def four_pods_on_two_nodes(
    stand_in: KubernetesStandIn,
    clock: ManualClock,
    deployment: Callable[..., dict[str, Any]],
    gpu_node: Callable[..., None],
) -> None:
    gpu_node("gpu-a", gpus=2)
    gpu_node("gpu-b", gpus=2)
    stand_in.create(deployment("web", replicas=4, gpus=1))
    clock.advance(97)


@pytest.mark.usefixtures("four_pods_on_two_nodes")
@pytest.mark.parametrize("emptied", ["gpu-a", "gpu-b"])
def test_the_lowest_deletion_cost_goes_first_so_ebb_can_empty_the_node_it_chose(
    client: EksKubernetesClient, clock: ManualClock, emptied: str
) -> None:
    pods = client.pods_of(WEB)
    assert sorted(p.node_name or "" for p in pods) == ["gpu-a", "gpu-a", "gpu-b", "gpu-b"]
    for pod in pods:
        if pod.node_name == emptied:
            client.set_pod_deletion_cost("default", pod.name, -100)

    client.scale(WEB, 2)
    clock.advance(1)

    remaining = [p for p in client.pods_of(WEB) if not p.is_terminating]
    assert len(remaining) == 2
    assert {p.node_name for p in remaining} == ({"gpu-a", "gpu-b"} - {emptied})


@pytest.mark.usefixtures("four_pods_on_two_nodes")
def test_without_costs_a_doubled_up_node_loses_a_pod_first(
    stand_in: KubernetesStandIn, client: EksKubernetesClient, clock: ManualClock
) -> None:
    stand_in.update("Deployment", "web", lambda d: d["spec"].update(replicas=3))
    clock.advance(1)
    client.scale(WEB, 2)  # three on two nodes: the node holding two loses one
    clock.advance(1)

    remaining = [p.node_name for p in client.pods_of(WEB) if not p.is_terminating]
    assert sorted(n or "" for n in remaining) == ["gpu-a", "gpu-b"]


def test_an_unschedulable_pod_goes_before_running_ones_whatever_its_cost(
    stand_in: KubernetesStandIn,
    client: EksKubernetesClient,
    clock: ManualClock,
    deployment: Callable[..., dict[str, Any]],
    gpu_node: Callable[..., None],
) -> None:
    gpu_node("gpu-a", gpus=2)
    stand_in.create(deployment("web", replicas=3, gpus=1))
    clock.advance(97)
    pending = next(p for p in client.pods_of(WEB) if p.node_name is None)
    client.set_pod_deletion_cost("default", pending.name, 1_000_000)

    client.scale(WEB, 2)
    clock.advance(1)

    assert pending.name not in {p.name for p in client.pods_of(WEB)}
    assert all(p.is_ready for p in client.pods_of(WEB))


def test_a_pod_still_loading_its_model_goes_before_serving_ones(
    stand_in: KubernetesStandIn,
    client: EksKubernetesClient,
    clock: ManualClock,
    deployment: Callable[..., dict[str, Any]],
    gpu_node: Callable[..., None],
) -> None:
    gpu_node("gpu-a", gpus=4)
    stand_in.create(deployment("web", replicas=2, gpus=1))
    clock.advance(97)
    client.scale(WEB, 3)
    clock.advance(1 + 5 + 1)  # the new pod runs but is not Ready
    loading = next(p for p in client.pods_of(WEB) if not p.is_ready)
    for pod in client.pods_of(WEB):
        client.set_pod_deletion_cost("default", pod.name, 50 if pod.name == loading.name else -50)

    client.scale(WEB, 2)
    clock.advance(1)

    assert loading.name in {p.name for p in client.pods_of(WEB) if p.is_terminating}


def test_a_statefulset_removes_its_highest_ordinal_regardless_of_cost(
    stand_in: KubernetesStandIn,
    client: EksKubernetesClient,
    clock: ManualClock,
    deployment: Callable[..., dict[str, Any]],
    gpu_node: Callable[..., None],
) -> None:
    gpu_node("gpu-a", gpus=4)
    stand_in.create(deployment("llm", replicas=3, gpus=1, kind="StatefulSet"))
    target = WorkloadRef(kind="StatefulSet", namespace="default", name="llm")
    # OrderedReady: each ordinal is created once the one before it is Running and Ready.
    clock.advance(96)  # llm-0 Ready at 96 (GPUs at 30, bound at 31, running at 36)
    assert [p.name for p in client.pods_of(target)] == ["llm-0"]
    clock.advance(1)
    assert [p.name for p in client.pods_of(target)] == ["llm-0", "llm-1"]
    clock.advance(132)  # llm-1 Ready at 162, llm-2 created at 163 and Ready at 228
    assert sorted(p.name for p in client.pods_of(target)) == ["llm-0", "llm-1", "llm-2"]
    client.set_pod_deletion_cost("default", "llm-0", -1000)

    client.scale(target, 1)
    clock.advance(1)
    assert [p.name for p in client.pods_of(target) if p.is_terminating] == ["llm-2"]
    clock.advance(5 + 1)  # llm-2 gone; only then llm-1 goes
    assert [p.name for p in client.pods_of(target) if p.is_terminating] == ["llm-1"]
    clock.advance(6)
    assert [p.name for p in client.pods_of(target)] == ["llm-0"]
