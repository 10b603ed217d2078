"""Lists as kube-apiserver serves them: copies, consistent pages, expiring continue tokens, field
selectors and watch requests.

Sources: Kubernetes docs "Kubernetes API Concepts" (retrieving large results sets in chunks: every
chunk comes from the snapshot of the first, and a continue token expires, with 410 Gone, once that
snapshot is compacted, five minutes by default), "Field Selectors"; kubernetes/kubernetes
`pkg/registry/core/pod/strategy.go` (ToSelectableFields) and `pkg/apis/core/v1/conversion.go` (the
pod and node field labels, "field label not supported: ..."),
`staging/src/k8s.io/apiserver/pkg/storage/errors.go` / `etcd3` (the 410 Expired Status), and
`staging/src/k8s.io/apiserver/pkg/endpoints/handlers/get.go` (ListResource: `watch`).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest

from ebb.adapters.kubernetes import EksKubernetesClient
from ebb.local.kubernetes import KubernetesStandIn, ManualClock
from ebb.local.kubernetes.api_server import ApiRequest

pytestmark = pytest.mark.integration


def test_listing_replica_sets_and_stateful_sets_leaves_the_stored_objects_whole(
    raw: Callable[..., Any],
    stand_in: KubernetesStandIn,
    clock: ManualClock,
    deployment: Callable[..., dict[str, Any]],
) -> None:
    # Regression: list items lose apiVersion/kind (as the API writes them), and the stand-in used to
    # strip them from the stored objects themselves; the next pod created crashed the clock.
    stand_in.create(deployment("web", replicas=1, gpus=0))
    stand_in.create(deployment("db", replicas=1, gpus=0, kind="StatefulSet"))
    clock.advance(2)

    replica_sets = raw("GET", "/apis/apps/v1/namespaces/default/replicasets").json()
    stateful_sets = raw("GET", "/apis/apps/v1/statefulsets").json()

    assert [set(item) & {"apiVersion", "kind"} for item in replica_sets["items"]] == [set()]
    assert [set(item) & {"apiVersion", "kind"} for item in stateful_sets["items"]] == [set()]
    name = replica_sets["items"][0]["metadata"]["name"]
    again = raw("GET", f"/apis/apps/v1/namespaces/default/replicasets/{name}").json()
    assert (again["apiVersion"], again["kind"]) == ("apps/v1", "ReplicaSet")
    assert raw("GET", "/apis/apps/v1/namespaces/default/statefulsets/db").json()["kind"] == "StatefulSet"

    stand_in.update("Deployment", "web", lambda d: d["spec"].update(replicas=2))
    stand_in.update("StatefulSet", "db", lambda s: s["spec"].update(replicas=2))
    clock.advance(2)  # the controllers create pods owned by the listed objects

    owners = {
        (ref["apiVersion"], ref["kind"])
        for pod in stand_in.objects("Pod")
        for ref in pod["metadata"]["ownerReferences"]
    }
    assert owners == {("apps/v1", "ReplicaSet"), ("apps/v1", "StatefulSet")}


def _continue_query(token: str) -> str:
    return "continue=" + urllib.parse.quote(token, safe="")


def test_every_page_of_a_list_comes_from_the_snapshot_of_the_first(
    raw: Callable[..., Any], stand_in: KubernetesStandIn, gpu_node: Callable[..., None]
) -> None:
    for index in range(4):
        gpu_node(f"gpu-{index}")

    first = raw("GET", "/api/v1/nodes?limit=2").json()
    stand_in.node_left("gpu-3")  # gone after the first page
    gpu_node("gpu-4")  # new after the first page
    stand_in.update("Node", "gpu-2", lambda node: node["metadata"]["labels"].update(changed="yes"))
    rest = raw("GET", "/api/v1/nodes?limit=2&" + _continue_query(first["metadata"]["continue"])).json()

    assert [n["metadata"]["name"] for n in first["items"]] == ["gpu-0", "gpu-1"]
    assert [n["metadata"]["name"] for n in rest["items"]] == ["gpu-2", "gpu-3"]
    assert "changed" not in rest["items"][0]["metadata"]["labels"]
    assert rest["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert "continue" not in rest["metadata"]
    # A new list sees the present.
    names = [n["metadata"]["name"] for n in raw("GET", "/api/v1/nodes").json()["items"]]
    assert names == ["gpu-0", "gpu-1", "gpu-2", "gpu-4"]


def test_a_continue_token_expires_after_five_minutes_with_410_and_an_inconsistent_token(
    raw: Callable[..., Any], stand_in: KubernetesStandIn, clock: ManualClock, gpu_node: Callable[..., None]
) -> None:
    for index in range(3):
        gpu_node(f"gpu-{index}")
    first = raw("GET", "/api/v1/nodes?limit=2").json()
    token = first["metadata"]["continue"]
    clock.advance(299)
    assert raw("GET", "/api/v1/nodes?limit=2&" + _continue_query(token)).status == 200

    clock.advance(1)
    gpu_node("gpu-3")
    gone = raw("GET", "/api/v1/nodes?limit=2&" + _continue_query(token))

    assert gone.status == 410
    status = gone.json()
    assert (status["reason"], status["code"]) == ("Expired", 410)
    assert status["message"].startswith(
        "The provided continue parameter is too old to display a consistent list result. You can start a"
        " new list without the continue parameter, or use the continue token in this response"
    )
    # The inconsistent token goes on from the same place, in the present (gpu-3 is new).
    rest = raw("GET", "/api/v1/nodes?limit=2&" + _continue_query(status["metadata"]["continue"])).json()
    assert [n["metadata"]["name"] for n in rest["items"]] == ["gpu-2", "gpu-3"]


def test_the_adapter_restarts_a_list_whose_continue_token_expired(
    stand_in: KubernetesStandIn,
    client: EksKubernetesClient,
    clock: ManualClock,
    gpu_node: Callable[..., None],
) -> None:
    for index in range(5):
        gpu_node(f"gpu-{index}")
    paged = EksKubernetesClient(client._api, page_size=2)
    stalled: list[str] = []

    def stall_before_the_second_page(request: ApiRequest) -> None:
        # The Lambda paused between pages for longer than the token lives.
        if "continue" in request.query and not stalled:
            stalled.append(request.query["continue"])
            clock.advance(301)

    stand_in.on_request(stall_before_the_second_page)

    names = [node.name for node in paged.list_nodes()]

    assert names == [f"gpu-{index}" for index in range(5)]
    node_requests = [r for r in stand_in.requests if r.path == "/api/v1/nodes"]
    # Page 1, page 2 refused (410), then the whole list again from the start in three pages.
    assert ["continue" in r.query for r in node_requests] == [False, True, False, True, True]
    assert node_requests[1].query["continue"] == stalled[0]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("spec.nodeName=gpu-1", ["bound"]),
        ("spec.host=gpu-1", ["bound"]),  # the old name of spec.nodeName
        ("status.phase=Pending", ["pending"]),
        ("metadata.name={bound}", ["bound"]),
        ("metadata.namespace=default", ["bound", "pending"]),
        ("spec.schedulerName=default-scheduler", ["bound", "pending"]),
        ("spec.serviceAccountName=reader", ["bound"]),
        ("spec.restartPolicy=Always", ["bound", "pending"]),
        ("spec.hostNetwork=false", ["pending"]),
        ("spec.hostNetwork=true", ["bound"]),
        ("status.podIP=10.0.0.7", ["bound"]),
        ("status.podIPs=10.0.0.7", []),  # accepted, but not a selectable field
        ("status.nominatedNodeName=gpu-2", ["pending"]),
        ("spec.nodeName!=gpu-1,status.phase=Pending", ["pending"]),
    ],
)
def test_pod_field_selectors(
    raw: Callable[..., Any], two_pods: dict[str, str], selector: str, expected: list[str]
) -> None:
    pods = two_pods
    query = urllib.parse.quote(selector.format(**pods))

    answer = raw("GET", "/api/v1/namespaces/default/pods?fieldSelector=" + query)

    assert answer.status == 200
    assert [p["metadata"]["name"] for p in answer.json()["items"]] == [pods[role] for role in expected]


@pytest.mark.parametrize(
    ("path", "selector", "label"),
    [
        ("/api/v1/pods", "spec.containers=x", "spec.containers"),
        ("/api/v1/pods", "status.hostIP=10.0.0.1", "status.hostIP"),
        ("/api/v1/nodes", "metadata.namespace=default", "metadata.namespace"),
        ("/apis/apps/v1/deployments", "spec.replicas=1", "spec.replicas"),
    ],
)
def test_unsupported_field_selectors_are_a_bad_request(
    raw: Callable[..., Any], path: str, selector: str, label: str
) -> None:
    answer = raw("GET", f"{path}?fieldSelector={urllib.parse.quote(selector)}")

    assert answer.status == 400
    status = answer.json()
    assert (status["reason"], status["message"]) == ("BadRequest", f"field label not supported: {label}")


@pytest.mark.parametrize("value", ["true", "1", "", "TRUE"])
def test_a_watch_is_refused_not_answered_as_a_list(raw: Callable[..., Any], value: str) -> None:
    answer = raw("GET", f"/apis/apps/v1/namespaces/default/deployments?watch={value}")

    assert answer.status == 405
    assert answer.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'watch is not supported on resources of kind "deployments.apps"',
        "reason": "MethodNotAllowed",
        "details": {"kind": "deployments", "group": "apps"},
        "code": 405,
    }


@pytest.mark.parametrize("value", ["false", "0", "False"])
def test_watch_false_is_a_plain_list(raw: Callable[..., Any], value: str) -> None:
    answer = raw("GET", f"/api/v1/pods?watch={value}")

    assert (answer.status, answer.json()["kind"]) == (200, "PodList")


@pytest.fixture
def two_pods(
    stand_in: KubernetesStandIn, clock: ManualClock, deployment: Callable[..., dict[str, Any]]
) -> dict[str, str]:
    """Two pods of a Deployment, by role: one made bound and running with host networking (as a
    kubelet would report it), one left pending with a nominated node. No controller runs after."""
    stand_in.create(deployment("web", replicas=2, gpus=0))
    clock.advance(1)  # the pods exist, Pending: there is no node
    bound, pending = sorted(pod["metadata"]["name"] for pod in stand_in.objects("Pod"))
    stand_in.update(
        "Pod",
        bound,
        lambda pod: (
            pod["spec"].update(nodeName="gpu-1", hostNetwork=True, serviceAccountName="reader"),
            pod["status"].update(phase="Running", podIP="10.0.0.7", podIPs=[{"ip": "10.0.0.7"}]),
        ),
    )
    stand_in.update("Pod", pending, lambda pod: pod["status"].update(nominatedNodeName="gpu-2"))
    return {"bound": bound, "pending": pending}
