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

from collections.abc import Callable
from typing import Any

import pytest

from ebb.local.kubernetes import KubernetesStandIn, ManualClock

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
