"""The adapter's models of Kubernetes objects: what they compute from the API's JSON.

Sources: Kubernetes docs "Init Containers" (resource sharing within containers: the effective
request is the larger of the app containers' sum and the highest init container), "Sidecar
Containers" (restartable init containers add to the pod's requests), "Pod Overhead" (added on
top), "Taints and Tolerations" (matching rules), "Labels and Selectors"; eviction.go's
`getPodDisruptionBudgets` ("a PDB with a nil or empty selector ... should match nothing");
ReplicaSet docs ("Pod deletion cost": 0 when unset).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from ebb.adapters.kubernetes import WorkloadRef, format_selector
from ebb.adapters.kubernetes.objects import (
    LabelSelector,
    Node,
    Pod,
    PodDisruptionBudget,
    PodSpec,
    Scale,
    Taint,
    Toleration,
)


def _container(
    name: str, *, cpu: str, memory: str = "0", restart_policy: str | None = None
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": name, "resources": {"requests": {"cpu": cpu, "memory": memory}}}
    if restart_policy:
        container["restartPolicy"] = restart_policy
    return container


def test_effective_requests_take_the_larger_of_app_containers_and_the_peak_init_container() -> None:
    spec = PodSpec.model_validate(
        {
            "containers": [_container("a", cpu="1", memory="1Gi"), _container("b", cpu="500m", memory="1Gi")],
            "initContainers": [_container("download", cpu="2", memory="512Mi")],
        }
    )

    assert spec.effective_requests() == {"cpu": Decimal("2"), "memory": Decimal(2 * 2**30)}


def test_sidecars_add_to_the_pod_and_run_beside_later_init_containers() -> None:
    spec = PodSpec.model_validate(
        {
            "containers": [_container("server", cpu="1")],
            "initContainers": [
                _container("proxy", cpu="250m", restart_policy="Always"),
                _container("warmup", cpu="1500m"),
            ],
            "overhead": {"cpu": "100m"},
        }
    )

    # Running: 1 + 0.25 (sidecar); init peak: 1.5 + 0.25 (warmup beside the proxy); plus overhead.
    assert spec.effective_requests()["cpu"] == Decimal("1.85")


def test_limits_stand_in_for_missing_requests() -> None:
    spec = PodSpec.model_validate(
        {"containers": [{"name": "gpu", "resources": {"limits": {"nvidia.com/gpu": 1}}}]}
    )

    assert spec.effective_requests() == {"nvidia.com/gpu": Decimal(1)}


@pytest.mark.parametrize(
    ("toleration", "tolerated"),
    [
        ({"key": "nvidia.com/gpu", "operator": "Exists"}, True),
        ({"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"}, True),
        ({"key": "nvidia.com/gpu", "value": "absent"}, False),
        ({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoExecute"}, False),
        ({"operator": "Exists"}, True),
        ({"key": "other", "operator": "Exists"}, False),
    ],
)
def test_tolerations_match_taints_as_kubernetes_matches_them(
    toleration: dict[str, Any], tolerated: bool
) -> None:
    taint = Taint(key="nvidia.com/gpu", value="present", effect="NoSchedule")

    assert Toleration.model_validate(toleration).tolerates(taint) is tolerated


def test_label_selectors_and_their_query_string_form() -> None:
    selector = LabelSelector.model_validate(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["gpu", "edge"]},
                {"key": "canary", "operator": "DoesNotExist"},
            ],
        }
    )

    assert selector.matches({"app": "web", "tier": "gpu"})
    assert not selector.matches({"app": "web", "tier": "cpu"})
    assert not selector.matches({"app": "web", "tier": "gpu", "canary": "1"})
    assert format_selector(selector) == "app=web,!canary,tier in (edge,gpu)"


def _pod(labels: dict[str, str], annotations: dict[str, str] | None = None) -> Pod:
    return Pod.model_validate(
        {
            "metadata": {
                "name": "p",
                "namespace": "default",
                "labels": labels,
                "annotations": annotations or {},
            },
            "spec": {"containers": [{"name": "c"}]},
        }
    )


def test_an_empty_budget_selector_covers_every_pod_of_its_namespace_and_a_null_one_none() -> None:
    # policy/v1 PodDisruptionBudgetSpec.selector: "A null selector will match no pods, while an
    # empty ({}) selector will select all pods within the namespace." (Kubernetes API reference)
    missing = PodDisruptionBudget.model_validate({"metadata": {"name": "none", "namespace": "default"}})
    empty = PodDisruptionBudget.model_validate(
        {"metadata": {"name": "all", "namespace": "default"}, "spec": {"selector": {}}}
    )
    web = PodDisruptionBudget.model_validate(
        {
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}},
        }
    )

    assert empty.covers(_pod({"app": "web"}))
    assert empty.covers(_pod({}))
    assert not missing.covers(_pod({"app": "web"}))
    assert web.covers(_pod({"app": "web"}))
    assert not web.covers(_pod({"app": "db"}))


def test_deletion_cost_defaults_to_zero() -> None:
    assert _pod({}).deletion_cost == 0
    assert _pod({}, {"controller.kubernetes.io/pod-deletion-cost": "-5"}).deletion_cost == -5


def test_node_quantities_are_exact() -> None:
    node = Node.model_validate(
        {
            "metadata": {"name": "n"},
            "status": {
                "allocatable": {"cpu": "47810m", "memory": "191Gi", "nvidia.com/gpu": "4"},
                "conditions": [{"type": "Ready", "status": "True"}],
            },
            "spec": {"providerID": "aws:///us-west-2a/i-0abc"},
        }
    )

    assert node.status.allocatable == {
        "cpu": Decimal("47.81"),
        "memory": Decimal(191 * 2**30),
        "nvidia.com/gpu": Decimal(4),
    }
    assert node.is_ready
    assert node.spec.provider_id == "aws:///us-west-2a/i-0abc"


def test_an_unparseable_quantity_is_refused_with_its_location() -> None:
    with pytest.raises(ValidationError, match=r"status\.allocatable\.cpu"):
        Node.model_validate({"metadata": {"name": "n"}, "status": {"allocatable": {"cpu": "lots"}}})


def test_scale_exposes_desired_replicas_and_resource_version() -> None:
    scale = Scale.model_validate(
        {
            "metadata": {"name": "web", "resourceVersion": "42"},
            "spec": {"replicas": 3},
            "status": {"replicas": 2, "selector": "app=web"},
        }
    )

    assert (scale.desired_replicas, scale.resource_version, scale.status.selector) == (3, "42", "app=web")


@pytest.mark.parametrize("name", ["", "Web", "web/../x", "a" * 254])
def test_workload_references_must_be_valid_object_names(name: str) -> None:
    with pytest.raises(ValidationError):
        WorkloadRef(namespace="default", name=name)
