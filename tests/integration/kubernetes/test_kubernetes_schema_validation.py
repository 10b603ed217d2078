"""Request bodies and objects are checked against the official Kubernetes schemas, on both sides.

The reference is the maintained `kubernetes-validate` package (willthames/kubernetes-validate,
the Kubernetes 1.33 OpenAPI definitions as JSON Schema), called through its own `validate`, so that
neither the stand-in nor the adapter is checked against a schema it wrote itself. Field
validation: the `fieldValidation` parameter of the Kubernetes OpenAPI spec (Strict: a BadRequest
naming every unknown field; Warn, the default since 1.23: a `Warning` header per dropped field) and
Kubernetes docs "Kubernetes API Concepts" (field validation). Wrong JSON types cannot be decoded
(400); failed validation is 422 Invalid; an unknown patch format is 415. Pod deletion cost values
that are not int32 are refused (ReplicaSet docs, "Pod deletion cost").
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import kubernetes_validate
import pytest

from ebb.adapters.kubernetes import EksKubernetesClient, WorkloadRef
from ebb.local.kubernetes import KubernetesStandIn, ManifestRejected, ManualClock

pytestmark = pytest.mark.integration

SCALE_PATH = "/apis/apps/v1/namespaces/default/deployments/web/scale"
KUBERNETES_VERSION = "1.33"
WEB = WorkloadRef(namespace="default", name="web")


def _scale(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "web"}, "spec": spec}


@pytest.fixture
def web(stand_in: KubernetesStandIn, deployment: Callable[..., dict[str, Any]]) -> None:
    stand_in.create(deployment("web", replicas=1, gpus=0))


def _official(obj: dict[str, Any]) -> str:
    """The Kubernetes version whose strict schema `obj` passes (raises when it does not)."""
    return str(kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True))


@pytest.mark.usefixtures("web")
def test_every_body_the_adapter_sends_is_valid_under_the_official_schemas(
    stand_in: KubernetesStandIn,
    client: EksKubernetesClient,
    clock: ManualClock,
    gpu_node: Callable[..., None],
) -> None:
    gpu_node("gpu-1")
    clock.advance(7)
    client.scale(WEB, 2)
    clock.advance(1)
    pod = client.pods_of(WEB)[0]
    client.set_pod_deletion_cost("default", pod.name, 7)
    client.cordon("gpu-1")
    client.uncordon("gpu-1")
    client.evict("default", pod.name, uid=pod.metadata.uid)

    sent = [r for r in stand_in.requests if r.body]
    checked = 0
    for request in sent:
        body = json.loads(request.body)
        if request.method in ("PUT", "POST"):  # whole objects: a Scale, an Eviction
            assert _official(body) == KUBERNETES_VERSION
            checked += 1
    assert checked == 2
    assert {r.method for r in sent} == {"PUT", "PATCH", "POST"}


def test_every_object_the_stand_in_serves_is_valid_under_the_official_schemas(
    raw: Callable[..., Any],
    stand_in: KubernetesStandIn,
    clock: ManualClock,
    deployment: Callable[..., dict[str, Any]],
    gpu_node: Callable[..., None],
) -> None:
    gpu_node("gpu-1", deep_health_checks=True)
    gpu_node("gpu-2")
    stand_in.create(deployment("web", replicas=3))
    stand_in.create(deployment("db", replicas=2, kind="StatefulSet", gpus=0))
    stand_in.create(
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}},
        }
    )
    stand_in.create(
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 1,
                "maxReplicas": 4,
            },
        }
    )
    clock.advance(100)  # pods scheduled, running and ready; statuses reported
    stand_in.update("Node", "gpu-2", lambda node: node["spec"].update(unschedulable=True))
    clock.advance(2)

    collections = {
        "/api/v1/pods": ("v1", "Pod"),
        "/api/v1/nodes": ("v1", "Node"),
        "/apis/apps/v1/deployments": ("apps/v1", "Deployment"),
        "/apis/apps/v1/replicasets": ("apps/v1", "ReplicaSet"),
        "/apis/apps/v1/statefulsets": ("apps/v1", "StatefulSet"),
        "/apis/policy/v1/poddisruptionbudgets": ("policy/v1", "PodDisruptionBudget"),
        "/apis/autoscaling/v2/horizontalpodautoscalers": ("autoscaling/v2", "HorizontalPodAutoscaler"),
    }
    served = 0
    for path, (api_version, kind) in collections.items():
        listed = raw("GET", path).json()
        assert _official(listed) == KUBERNETES_VERSION  # the List itself
        assert listed["items"], path
        for item in listed["items"]:
            # List items carry no apiVersion/kind (clients put them back, as client-go does).
            assert _official({"apiVersion": api_version, "kind": kind, **item}) == KUBERNETES_VERSION
            served += 1
    for scale_path in ("deployments/web/scale", "statefulsets/db/scale"):
        scale = raw("GET", f"/apis/apps/v1/namespaces/default/{scale_path}").json()
        assert _official(scale) == KUBERNETES_VERSION
    assert served >= 12


@pytest.mark.usefixtures("web")
def test_strict_validation_refuses_an_unknown_field(
    raw: Callable[..., Any], stand_in: KubernetesStandIn
) -> None:
    answer = raw("PUT", SCALE_PATH + "?fieldValidation=Strict", body=_scale(replica=3))

    assert answer.status == 400
    status = answer.json()
    assert status["reason"] == "BadRequest"
    assert status["message"] == 'strict decoding error: unknown field "spec.replica"'
    assert stand_in.existing("Deployment", "web")["spec"]["replicas"] == 1


@pytest.mark.usefixtures("web")
def test_by_default_an_unknown_field_is_dropped_with_a_warning(raw: Callable[..., Any]) -> None:
    answer = raw("PUT", SCALE_PATH, body=_scale(replicas=2, replica=3))

    assert answer.status == 200
    assert answer.headers["warning"] == '299 - "unknown field \\"spec.replica\\""'
    assert answer.json()["spec"] == {"replicas": 2}


@pytest.mark.usefixtures("web")
def test_a_value_of_the_wrong_type_cannot_be_decoded(raw: Callable[..., Any]) -> None:
    answer = raw("PUT", SCALE_PATH, body=_scale(replicas="three"))

    assert answer.status == 400
    assert answer.json()["reason"] == "BadRequest"
    assert "spec.replicas" in answer.json()["message"]


@pytest.mark.usefixtures("web")
def test_negative_replicas_are_invalid(raw: Callable[..., Any]) -> None:
    answer = raw("PUT", SCALE_PATH, body=_scale(replicas=-1))

    assert answer.status == 422
    status = answer.json()
    assert status["reason"] == "Invalid"
    assert status["details"]["causes"][0]["field"] == "spec.replicas"
    assert status["message"].startswith(
        'Scale.autoscaling "web" is invalid: spec.replicas: Invalid value: -1'
    )


@pytest.mark.usefixtures("web")
def test_a_name_that_differs_from_the_url_is_a_bad_request(raw: Callable[..., Any]) -> None:
    body = _scale(replicas=1)
    body["metadata"]["name"] = "other"

    assert raw("PUT", SCALE_PATH, body=body).status == 400


@pytest.mark.usefixtures("web")
def test_a_deletion_cost_that_is_not_an_int32_is_invalid(
    raw: Callable[..., Any], client: EksKubernetesClient, clock: ManualClock
) -> None:
    clock.advance(1)
    pod = client.pods_of(WEB)[0]
    patch = {"metadata": {"annotations": {"controller.kubernetes.io/pod-deletion-cost": "3000000000"}}}

    answer = raw(
        "PATCH",
        f"/api/v1/namespaces/default/pods/{pod.name}",
        body=patch,
        content_type="application/merge-patch+json",
    )

    assert answer.status == 422
    with pytest.raises(ValueError, match="int32"):
        client.set_pod_deletion_cost("default", pod.name, 3_000_000_000)


def test_a_patch_in_a_format_the_stand_in_does_not_apply_is_415(
    raw: Callable[..., Any], gpu_node: Callable[..., None]
) -> None:
    gpu_node("gpu-1")
    patch = [{"op": "replace", "path": "/spec/unschedulable", "value": True}]

    answer = raw("PATCH", "/api/v1/nodes/gpu-1", body=patch, content_type="application/json-patch+json")

    assert answer.status == 415
    assert answer.json()["reason"] == "UnsupportedMediaType"


def test_unserved_verbs_and_paths(raw: Callable[..., Any], gpu_node: Callable[..., None]) -> None:
    gpu_node("gpu-1")

    assert raw("DELETE", "/api/v1/nodes/gpu-1").json()["reason"] == "MethodNotAllowed"
    missing = raw("GET", "/apis/example.com/v1/widgets")
    assert (missing.status, missing.json()["message"]) == (
        404,
        "the server could not find the requested resource",
    )
    gone = raw("GET", "/api/v1/nodes/nope").json()
    assert (gone["code"], gone["message"], gone["details"]) == (
        404,
        'nodes "nope" not found',
        {"name": "nope", "kind": "nodes"},
    )


def test_objects_given_to_the_stand_in_are_validated_too(
    stand_in: KubernetesStandIn, deployment: Callable[..., dict[str, Any]]
) -> None:
    broken = deployment("web")
    del broken["spec"]["selector"]
    with pytest.raises(ManifestRejected) as missing:
        stand_in.create(broken)
    assert missing.value.status == 422
    assert str(missing.value) == 'Deployment.apps "web" is invalid: spec.selector: Required value'

    typo = deployment("web")
    typo["spec"]["replica"] = 2
    with pytest.raises(ManifestRejected) as unknown:
        stand_in.create(typo)
    assert unknown.value.status == 400

    bad_quantity = deployment("web", cpu="four")
    with pytest.raises(ManifestRejected, match="quantities must match"):
        stand_in.create(bad_quantity)


def test_a_misspelt_field_deep_in_a_pod_template_is_refused(
    stand_in: KubernetesStandIn, raw: Callable[..., Any], deployment: Callable[..., dict[str, Any]]
) -> None:
    # The official Container schema lists every field, so a typo anywhere in a template is caught
    # (a hand-written subset that left Container open accepted this one).
    manifest = deployment("web", gpus=0)
    manifest["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(ManifestRejected, match="imagePullPolicyy") as typo:
        stand_in.create(manifest)
    assert typo.value.status == 400

    stand_in.create(deployment("web", gpus=0))
    patch = {"spec": {"template": {"spec": {"terminationGracePeriodSecond": 5}}}}
    answer = raw(
        "PATCH",
        "/apis/apps/v1/namespaces/default/deployments/web?fieldValidation=Strict",
        body=patch,
        content_type="application/merge-patch+json",
    )
    assert answer.status == 400
    assert answer.json()["message"] == (
        'strict decoding error: unknown field "spec.template.spec.terminationGracePeriodSecond"'
    )
