"""Writes the real API server refuses are refused here too, with the Status it writes (422 Invalid).

Rules and messages from kubernetes/kubernetes: `pkg/apis/apps/validation/validation.go`
(ValidateDeploymentSpec: ValidateNonnegativeField on spec.replicas, "`selector` does not match
template `labels`"; ValidateStatefulSetUpdate: "updates to statefulset spec for fields other than
... are forbidden"), `pkg/registry/apps/deployment/strategy.go` (ValidateUpdate: apps/v1 selectors
are immutable, apimachinery's ValidateImmutableField "field is immutable"),
`pkg/apis/autoscaling/validation/validation.go` (ValidateScale),
`staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/validation/validation.go` (ValidateLabels,
ValidateLabelName) and `staging/src/k8s.io/apimachinery/pkg/util/validation/validation.go`
(IsQualifiedName, IsValidLabelValue and their messages); the Status shape from
`staging/src/k8s.io/apimachinery/pkg/api/errors/errors.go` (NewInvalid: code 422, reason Invalid,
`details.causes` with the field error's type, field and body, the message aggregating them).
The selector's printed value is Go's `%#v` of a metav1.LabelSelector, as in the message users of a
real cluster see ("spec.selector: Invalid value: v1.LabelSelector{MatchLabels:...}: field is
immutable").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ebb.local.kubernetes import KubernetesStandIn, ManifestRejected, ManualClock

pytestmark = pytest.mark.integration

MERGE = "application/merge-patch+json"
DEPLOYMENT_PATH = "/apis/apps/v1/namespaces/default/deployments/web"
QUALIFIED_NAME_PART = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an"
    " alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is"
    " '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)


@pytest.fixture
def web(stand_in: KubernetesStandIn, deployment: Callable[..., dict[str, Any]]) -> None:
    stand_in.create(deployment("web", replicas=1, gpus=0))


def _patch(raw: Callable[..., Any], path: str, patch: dict[str, Any]) -> Any:
    return raw("PATCH", path, body=patch, content_type=MERGE)


@pytest.mark.usefixtures("web")
def test_negative_replicas_in_a_deployment_are_invalid(
    raw: Callable[..., Any], stand_in: KubernetesStandIn
) -> None:
    answer = _patch(raw, DEPLOYMENT_PATH, {"spec": {"replicas": -1}})

    assert answer.status == 422
    assert answer.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1: must be greater'
        " than or equal to 0",
        "reason": "Invalid",
        "details": {
            "name": "web",
            "kind": "Deployment",
            "causes": [
                {
                    "reason": "FieldValueInvalid",
                    "message": "Invalid value: -1: must be greater than or equal to 0",
                    "field": "spec.replicas",
                }
            ],
            "group": "apps",
        },
        "code": 422,
    }
    assert stand_in.existing("Deployment", "web")["spec"]["replicas"] == 1


def test_a_deployment_created_with_negative_replicas_is_refused(
    stand_in: KubernetesStandIn, deployment: Callable[..., dict[str, Any]]
) -> None:
    with pytest.raises(ManifestRejected, match=r"spec\.replicas: Invalid value: -1") as refused:
        stand_in.create(deployment("web", replicas=-1))
    assert refused.value.status == 422


@pytest.mark.usefixtures("web")
def test_a_deployment_selector_is_immutable(raw: Callable[..., Any], stand_in: KubernetesStandIn) -> None:
    answer = _patch(
        raw,
        DEPLOYMENT_PATH,
        {
            "spec": {
                "selector": {"matchLabels": {"app": "other"}},
                "template": {"metadata": {"labels": {"app": "other"}}},
            }
        },
    )

    assert answer.status == 422
    status = answer.json()
    assert status["reason"] == "Invalid"
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"other"},'
            " MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable",
            "field": "spec.selector",
        }
    ]
    assert (
        status["message"]
        == 'Deployment.apps "web" is invalid: spec.selector: ' + (status["details"]["causes"][0]["message"])
    )
    assert stand_in.existing("Deployment", "web")["spec"]["selector"] == {"matchLabels": {"app": "web"}}


@pytest.mark.usefixtures("web")
def test_several_errors_are_aggregated_in_brackets(raw: Callable[..., Any]) -> None:
    # Only the selector changes: it is immutable and no longer matches the template's labels.
    answer = _patch(raw, DEPLOYMENT_PATH, {"spec": {"selector": {"matchLabels": {"app": "other"}}}})

    status = answer.json()
    assert [cause["field"] for cause in status["details"]["causes"]] == [
        "spec.template.metadata.labels",
        "spec.selector",
    ]
    assert status["details"]["causes"][0]["message"] == (
        'Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`'
    )
    assert status["message"].startswith(
        'Deployment.apps "web" is invalid: [spec.template.metadata.labels: Invalid value: '
    )
    assert status["message"].endswith(": field is immutable]")


def test_a_stateful_set_selector_cannot_change_either(
    raw: Callable[..., Any], stand_in: KubernetesStandIn, deployment: Callable[..., dict[str, Any]]
) -> None:
    stand_in.create(deployment("db", kind="StatefulSet", gpus=0))

    answer = _patch(
        raw,
        "/apis/apps/v1/namespaces/default/statefulsets/db",
        {"spec": {"selector": {"matchLabels": {"app": "db", "tier": "x"}}}},
    )

    assert answer.status == 422
    causes = answer.json()["details"]["causes"]
    assert (causes[-1]["reason"], causes[-1]["field"]) == ("FieldValueForbidden", "spec")
    assert causes[-1]["message"].startswith(
        "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template',"
    )


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        (DEPLOYMENT_PATH, "Deployment.apps"),
        ("/api/v1/nodes/gpu-1", "Node"),
    ],
)
@pytest.mark.usefixtures("web")
def test_an_invalid_label_key_is_refused(
    raw: Callable[..., Any], gpu_node: Callable[..., None], path: str, kind: str
) -> None:
    gpu_node("gpu-1")

    answer = _patch(raw, path, {"metadata": {"labels": {"bad key!": "x"}}})

    assert answer.status == 422
    status = answer.json()
    name = path.rsplit("/", 1)[1]
    assert status["message"] == (
        f'{kind} "{name}" is invalid: metadata.labels: Invalid value: "bad key!": {QUALIFIED_NAME_PART}'
    )
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": f'Invalid value: "bad key!": {QUALIFIED_NAME_PART}',
            "field": "metadata.labels",
        }
    ]


@pytest.mark.usefixtures("web")
def test_a_label_key_with_an_invalid_prefix_or_value_is_refused(raw: Callable[..., Any]) -> None:
    answer = _patch(raw, DEPLOYMENT_PATH, {"metadata": {"labels": {"Example.COM/team": "a b"}}})

    messages = [cause["message"] for cause in answer.json()["details"]["causes"]]
    assert messages == [
        'Invalid value: "Example.COM/team": prefix part a lowercase RFC 1123 subdomain must consist of lower'
        " case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
        " (e.g. 'example.com', regex used for validation is"
        " '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        'Invalid value: "a b": a valid label must be an empty string or consist of alphanumeric characters,'
        " '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or"
        " 'my_value',  or '12345', regex used for validation is"
        " '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
    ]


@pytest.mark.usefixtures("web")
def test_a_valid_label_is_accepted(raw: Callable[..., Any], stand_in: KubernetesStandIn) -> None:
    answer = _patch(raw, DEPLOYMENT_PATH, {"metadata": {"labels": {"example.com/team": "inference"}}})

    assert answer.status == 200
    assert stand_in.existing("Deployment", "web")["metadata"]["labels"] == {"example.com/team": "inference"}


def test_a_template_whose_labels_the_selector_does_not_match_is_refused(
    stand_in: KubernetesStandIn, deployment: Callable[..., dict[str, Any]]
) -> None:
    manifest = deployment("web")
    manifest["spec"]["template"]["metadata"]["labels"] = {"app": "other"}

    with pytest.raises(ManifestRejected, match="`selector` does not match template `labels`") as refused:
        stand_in.create(manifest)
    assert refused.value.status == 422


@pytest.mark.usefixtures("web")
def test_scale_validation_names_the_scale_and_the_workload_keeps_its_replicas(
    raw: Callable[..., Any], stand_in: KubernetesStandIn, clock: ManualClock
) -> None:
    body = {
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {"name": "web"},
        "spec": {"replicas": -3},
    }

    answer = raw("PUT", DEPLOYMENT_PATH + "/scale", body=body)

    assert answer.status == 422
    status = answer.json()
    assert status["message"] == (
        'Scale.autoscaling "web" is invalid: spec.replicas: Invalid value: -3: must be greater than or'
        " equal to 0"
    )
    assert (status["details"]["kind"], status["details"]["group"]) == ("Scale", "autoscaling")
    clock.advance(2)
    assert stand_in.existing("Deployment", "web")["spec"]["replicas"] == 1
