"""The Eviction API and PodDisruptionBudgets, as the adapter meets them.

Upstream: kubernetes/kubernetes `pkg/registry/core/pod/storage/eviction.go` (`Create`,
`checkAndDecrement`, `createTooManyRequestsError`, `canIgnorePDB`) and the docs page
"API-initiated Eviction" (429 when a budget refuses, 500 when several budgets select the pod).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ebb.adapters.kubernetes import EksKubernetesClient, EvictionRefused, KubernetesConflict, WorkloadRef
from ebb.local.kubernetes import KubernetesStandIn, ManualClock

pytestmark = pytest.mark.integration

WEB = WorkloadRef(namespace="default", name="web")


def _budget(name: str = "web", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec},
    }


@pytest.fixture
def two_ready_pods(
    stand_in: KubernetesStandIn,
    clock: ManualClock,
    deployment: Callable[..., dict[str, Any]],
    gpu_node: Callable[..., None],
) -> None:
    gpu_node("gpu-1")
    stand_in.create(deployment("web", replicas=2))
    clock.advance(97)


@pytest.mark.usefixtures("two_ready_pods")
def test_a_budget_with_no_disruption_left_refuses_at_once_without_retrying(
    stand_in: KubernetesStandIn, client: EksKubernetesClient, clock: ManualClock, sleeps: list[float]
) -> None:
    stand_in.create(_budget(minAvailable=2))
    clock.advance(1)
    pod = client.pods_of(WEB)[0]

    with pytest.raises(EvictionRefused) as raised:
        client.evict("default", pod.name)

    refusal = raised.value
    assert (refusal.namespace, refusal.pod, refusal.status) == ("default", pod.name, 429)
    assert refusal.budget_messages == ("The disruption budget web needs 2 healthy pods and has 2 currently",)
    assert "Cannot evict pod as it would violate the pod's disruption budget." in str(refusal)
    assert sleeps == []
    assert len([r for r in stand_in.requests if r.path.endswith("/eviction")]) == 1
    assert all(p.is_ready and not p.is_terminating for p in client.pods_of(WEB))


@pytest.mark.usefixtures("two_ready_pods")
def test_a_budget_with_an_empty_selector_protects_every_pod_of_its_namespace(
    stand_in: KubernetesStandIn, client: EksKubernetesClient, clock: ManualClock
) -> None:
    # policy/v1: "an empty ({}) selector will select all pods within the namespace" (API reference,
    # PodDisruptionBudgetSpec); a namespace-wide budget must hold ebb's drains too.
    budget = _budget("everything", minAvailable=2)
    budget["spec"]["selector"] = {}
    stand_in.create(budget)
    clock.advance(1)
    pod = client.pods_of(WEB)[0]

    with pytest.raises(EvictionRefused):
        client.evict("default", pod.name)
    assert all(b.covers(pod) for b in client.list_disruption_budgets("default"))


@pytest.mark.usefixtures("two_ready_pods")
def test_a_budget_allows_one_disruption_then_refuses_until_a_replacement_is_ready(
    stand_in: KubernetesStandIn, client: EksKubernetesClient, clock: ManualClock
) -> None:
    stand_in.create(_budget(maxUnavailable=1))
    clock.advance(1)
    first, second = (p.name for p in client.pods_of(WEB))

    assert client.evict("default", first) == "evicted"
    with pytest.raises(EvictionRefused):
        client.evict("default", second)

    clock.advance(1 + 5 + 60 + 1)  # the ReplicaSet's replacement starts, loads its model, is counted
    assert client.evict("default", second) == "evicted"


@pytest.mark.usefixtures("two_ready_pods")
def test_a_budget_not_yet_observed_refuses_even_though_it_carries_retry_after(
    stand_in: KubernetesStandIn, client: EksKubernetesClient, raw: Callable[..., Any], sleeps: list[float]
) -> None:
    stand_in.create(_budget(maxUnavailable=1))  # the disruption controller has not run yet
    pod = client.pods_of(WEB)[0]
    body = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": pod.name, "namespace": "default"},
    }

    answer = raw("POST", f"/api/v1/namespaces/default/pods/{pod.name}/eviction", body=body)
    assert answer.status == 429
    assert answer.headers["retry-after"] == "10"
    assert answer.json()["details"]["causes"] == [
        {
            "reason": "DisruptionBudget",
            "message": "The disruption budget web is still being processed by the server.",
        }
    ]

    # A DisruptionBudget cause makes it a refusal, not API Priority and Fairness throttling.
    with pytest.raises(EvictionRefused):
        client.evict("default", pod.name)
    assert sleeps == []


@pytest.mark.usefixtures("two_ready_pods")
def test_two_budgets_on_one_pod_is_a_server_error_that_the_adapter_refuses_without_retrying(
    stand_in: KubernetesStandIn,
    client: EksKubernetesClient,
    clock: ManualClock,
    raw: Callable[..., Any],
    sleeps: list[float],
) -> None:
    stand_in.create(_budget("web-a", maxUnavailable=1))
    stand_in.create(_budget("web-b", maxUnavailable=1))
    clock.advance(1)
    pod = client.pods_of(WEB)[0]
    body = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": pod.name, "namespace": "default"},
    }

    answer = raw("POST", f"/api/v1/namespaces/default/pods/{pod.name}/eviction", body=body)

    assert answer.status == 500
    assert answer.json()["message"] == (
        "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
    )
    # The API server gives the same answer until the budgets change: retrying cannot help.
    with pytest.raises(EvictionRefused) as refused:
        client.evict("default", pod.name)
    assert refused.value.status == 500
    assert sleeps == []


@pytest.mark.usefixtures("two_ready_pods")
def test_a_retried_eviction_never_evicts_a_pod_recreated_under_the_same_name(
    client: EksKubernetesClient,
) -> None:
    # A drain task retried after its eviction went through must not evict whatever now carries the
    # name (StatefulSet pods come back under it): with the UID precondition the API server answers
    # 409 for another incarnation (apimachinery Preconditions; Eviction's deleteOptions), which
    # the adapter reports as already gone, and the pod that has the name now keeps running.
    first, second = client.pods_of(WEB)
    assert first.metadata.uid is not None
    assert second.metadata.uid is not None

    assert client.evict("default", second.name, uid="uid-of-an-earlier-incarnation") == "already_gone"
    assert second.name in {p.name for p in client.pods_of(WEB) if p.is_ready and not p.is_terminating}
    assert client.evict("default", first.name, uid=first.metadata.uid) == "evicted"


@pytest.mark.usefixtures("two_ready_pods")
def test_a_conflict_without_a_uid_precondition_is_not_taken_as_already_gone(
    stand_in: KubernetesStandIn, client: EksKubernetesClient, sleeps: list[float]
) -> None:
    # Without a UID precondition a 409 says nothing about the pod: the eviction handler retries
    # conflicts (the pod or its budget written concurrently) a few times, then returns the Conflict
    # (eviction.go `Create`: retry.OnError(EvictionsRetry, errors.IsConflict, ...)). The pod is
    # still there; reporting it gone would let a drain delete a node under a running pod.
    pod = client.pods_of(WEB)[0]
    stand_in.fail_next(1, 409)

    with pytest.raises(KubernetesConflict, match="409") as raised:
        client.evict("default", pod.name)

    assert type(raised.value) is KubernetesConflict
    assert raised.value.reason == "Conflict"
    assert sleeps == []  # the caller decides when to try again
    assert stand_in.get("Pod", pod.name) is not None
    assert client.evict("default", pod.name) == "evicted"  # once the conflict is over


def test_pending_pods_are_evicted_regardless_of_budgets(
    stand_in: KubernetesStandIn,
    client: EksKubernetesClient,
    clock: ManualClock,
    deployment: Callable[..., dict[str, Any]],
) -> None:
    stand_in.create(deployment("web", replicas=2))  # no node: both stay Pending
    stand_in.create(_budget(minAvailable=2))
    clock.advance(1)
    pod = client.pods_of(WEB)[0]

    assert client.evict("default", pod.name) == "evicted"
    assert pod.name not in {p.name for p in client.pods_of(WEB)}  # unscheduled: deleted at once


def test_an_unready_pod_may_go_when_the_budget_is_otherwise_met(
    stand_in: KubernetesStandIn,
    client: EksKubernetesClient,
    clock: ManualClock,
    deployment: Callable[..., dict[str, Any]],
    gpu_node: Callable[..., None],
) -> None:
    gpu_node("gpu-1")
    stand_in.create(deployment("web", replicas=3))
    stand_in.create(_budget(minAvailable=2))
    clock.advance(97)
    stand_in.update("Deployment", "web", lambda d: d["spec"].update(replicas=4))
    clock.advance(1 + 5 + 1)  # the fourth pod runs but is still loading its model
    loading = next(p for p in client.pods_of(WEB) if not p.is_ready)
    assert loading.status.phase == "Running"

    # Three healthy, two needed: no disruption is spent on a pod that is not serving anyway.
    assert client.evict("default", loading.name) == "evicted"
    (budget,) = client.list_disruption_budgets("default")
    assert budget.status.disruptions_allowed == 1
