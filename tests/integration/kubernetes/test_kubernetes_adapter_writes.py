"""Every write ebb makes, through the adapter: scale, pod-deletion-cost, cordon, uncordon, eviction.

Optimistic concurrency: Kubernetes docs "Kubernetes API Concepts" (resource versions; an update
carrying a stale resourceVersion is refused with 409 Conflict) and client-go's RetryOnConflict.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from ebb.adapters.kubernetes import EksKubernetesClient, KubernetesConflict, KubernetesNotFound, WorkloadRef
from ebb.local.kubernetes import KubernetesStandIn, ManualClock
from ebb.local.kubernetes.api_server import ApiRequest

pytestmark = pytest.mark.integration

WEB = WorkloadRef(namespace="default", name="web")
COST = "controller.kubernetes.io/pod-deletion-cost"


def _scale_puts(stand_in: KubernetesStandIn) -> list[ApiRequest]:
    return [r for r in stand_in.requests if r.method == "PUT" and r.path.endswith("/scale")]


def test_scale_presents_the_resource_version_it_read_and_the_controller_follows(
    stand_in: KubernetesStandIn,
    client: EksKubernetesClient,
    clock: ManualClock,
    deployment: Callable[..., dict[str, Any]],
    gpu_node: Callable[..., None],
) -> None:
    gpu_node("gpu-1")
    stand_in.create(deployment("web", replicas=1))
    clock.advance(97)
    read_version = client.read_scale(WEB).resource_version

    result = client.scale(WEB, 3)

    (put,) = _scale_puts(stand_in)
    assert put.query == {"fieldValidation": "Strict"}
    assert read_version is not None
    assert json.loads(put.body)["metadata"]["resourceVersion"] == read_version
    assert result.desired_replicas == 3
    assert result.resource_version != read_version
    clock.advance(1)
    assert len(client.pods_of(WEB)) == 3
    assert stand_in.existing("Deployment", "web")["metadata"]["generation"] == 2


def test_scale_to_the_current_replicas_writes_nothing(
    stand_in: KubernetesStandIn, client: EksKubernetesClient, deployment: Callable[..., dict[str, Any]]
) -> None:
    stand_in.create(deployment("web", replicas=2))

    assert client.scale(WEB, 2).desired_replicas == 2
    assert _scale_puts(stand_in) == []


def test_scale_rereads_and_retries_when_another_writer_got_there_first(
    stand_in: KubernetesStandIn,
    client: EksKubernetesClient,
    sleeps: list[float],
    deployment: Callable[..., dict[str, Any]],
) -> None:
    stand_in.create(deployment("web", replicas=1))
    raced: list[str] = []

    def another_writer(request: ApiRequest) -> None:
        # Between ebb's GET and its first PUT, someone changes the Deployment: a new resourceVersion.
        if request.method == "PUT" and not raced:
            raced.append(request.path)
            stand_in.update(
                "Deployment", "web", lambda d: d["metadata"].setdefault("labels", {}).update(x="y")
            )

    stand_in.on_request(another_writer)

    result = client.scale(WEB, 4)

    assert result.desired_replicas == 4
    assert len(_scale_puts(stand_in)) == 2  # the first met 409 Conflict, the second went through
    assert sleeps == [0.01]


def test_scale_gives_up_with_a_conflict_after_repeated_races(
    stand_in: KubernetesStandIn, client: EksKubernetesClient, deployment: Callable[..., dict[str, Any]]
) -> None:
    stand_in.create(deployment("web", replicas=1))

    def always_race(request: ApiRequest) -> None:
        if request.method == "PUT":
            stand_in.update(
                "Deployment", "web", lambda d: d["metadata"].setdefault("annotations", {}).update(n="1")
            )

    stand_in.on_request(always_race)

    with pytest.raises(KubernetesConflict) as raised:
        client.scale(WEB, 4)
    assert raised.value.status == 409
    assert len(_scale_puts(stand_in)) == 5


def test_stale_resource_version_is_refused_with_409_and_a_conflict_status(
    stand_in: KubernetesStandIn, raw: Callable[..., Any], deployment: Callable[..., dict[str, Any]]
) -> None:
    stand_in.create(deployment("web", replicas=1))
    path = "/apis/apps/v1/namespaces/default/deployments/web/scale"
    stale = raw("GET", path).json()["metadata"]["resourceVersion"]
    stand_in.update("Deployment", "web", lambda d: d["metadata"].setdefault("labels", {}).update(x="y"))
    body = {
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {"name": "web", "namespace": "default", "resourceVersion": stale},
        "spec": {"replicas": 2},
    }

    answer = raw("PUT", path, body=body)

    assert answer.status == 409
    assert answer.headers["content-type"] == "application/json"
    status = answer.json()
    assert (status["kind"], status["status"], status["reason"], status["code"]) == (
        "Status",
        "Failure",
        "Conflict",
        409,
    )
    assert status["details"] == {"name": "web", "group": "apps", "kind": "deployments"}
    assert "the object has been modified" in status["message"]
    assert stand_in.existing("Deployment", "web")["spec"]["replicas"] == 1


def test_scaling_a_missing_target_raises_not_found(client: EksKubernetesClient) -> None:
    with pytest.raises(KubernetesNotFound) as raised:
        client.scale(WorkloadRef(namespace="default", name="nope"), 1)
    assert raised.value.reason == "NotFound"


def test_pod_deletion_cost_is_written_as_an_annotation(
    stand_in: KubernetesStandIn,
    client: EksKubernetesClient,
    clock: ManualClock,
    deployment: Callable[..., dict[str, Any]],
) -> None:
    stand_in.create(deployment("web", replicas=1, gpus=0))
    clock.advance(1)
    (pod,) = client.pods_of(WEB)

    client.set_pod_deletion_cost("default", pod.name, -250)

    (patched,) = client.pods_of(WEB)
    assert patched.deletion_cost == -250
    assert patched.metadata.annotations[COST] == "-250"
    patch = next(r for r in stand_in.requests if r.method == "PATCH")
    assert patch.headers["content-type"] == "application/merge-patch+json"


def test_cordon_and_uncordon_flip_unschedulable(
    stand_in: KubernetesStandIn,
    client: EksKubernetesClient,
    clock: ManualClock,
    gpu_node: Callable[..., None],
) -> None:
    gpu_node("gpu-1")

    client.cordon("gpu-1")
    clock.advance(1)
    assert stand_in.existing("Node", "gpu-1")["spec"]["unschedulable"] is True

    client.uncordon("gpu-1")
    clock.advance(1)
    node = stand_in.existing("Node", "gpu-1")
    # Uncordon removes the field (merge patch with null), as `kubectl uncordon` does.
    assert "unschedulable" not in node["spec"]
    assert "taints" not in node["spec"]
    assert client.list_nodes()[0].spec.unschedulable is False


def test_cordoning_a_missing_node_raises_not_found(client: EksKubernetesClient) -> None:
    with pytest.raises(KubernetesNotFound):
        client.cordon("gone")


def test_eviction_deletes_the_pod_and_a_second_one_finds_it_gone(
    stand_in: KubernetesStandIn,
    client: EksKubernetesClient,
    clock: ManualClock,
    deployment: Callable[..., dict[str, Any]],
    gpu_node: Callable[..., None],
) -> None:
    gpu_node("gpu-1")
    stand_in.create(deployment("web", replicas=1))
    clock.advance(97)
    (pod,) = client.pods_of(WEB)

    assert client.evict("default", pod.name) == "evicted"
    evicting = next(p for p in client.pods_of(WEB) if p.name == pod.name)
    assert evicting.is_terminating
    clock.advance(5)  # the containers stop (pod_termination_seconds)
    assert client.evict("default", pod.name) == "already_gone"
    evictions = [r for r in stand_in.requests if r.path.endswith("/eviction")]
    assert [r.query for r in evictions] == [{"fieldValidation": "Strict"}] * 2
