"""Every read ebb makes, through the adapter, against the stand-in over verified TLS.

Paths and list semantics: Kubernetes docs "Kubernetes API Concepts" (collections, `limit` and
`continue`, list items), "Field Selectors" (spec.nodeName, status.phase), "Labels and Selectors".
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from ebb.adapters.kubernetes import EksKubernetesClient, WorkloadRef
from ebb.local.kubernetes import KubernetesStandIn, ManualClock

pytestmark = pytest.mark.integration

WEB = WorkloadRef(namespace="default", name="web")


def test_scale_and_workload_report_desired_observed_and_ready_replicas(
    stand_in: KubernetesStandIn,
    client: EksKubernetesClient,
    clock: ManualClock,
    deployment: Callable[..., dict[str, Any]],
    gpu_node: Callable[..., None],
) -> None:
    gpu_node("gpu-1")
    stand_in.create(deployment("web", replicas=2))
    # t=1 pods created, Pending: the node has no allocatable GPU until the device plugin registers (t=30);
    # t=31 the scheduler binds them; t=36 containers run; t=96 models loaded; t=97 status reported.
    clock.advance(31)

    scale = client.read_scale(WEB)
    assert (scale.desired_replicas, scale.status.replicas, scale.status.selector) == (2, 2, "app=web")
    assert scale.resource_version == stand_in.existing("Deployment", "web")["metadata"]["resourceVersion"]
    assert client.read_workload(WEB).status.ready_replicas == 0

    clock.advance(66)
    workload = client.read_workload(WEB)
    assert (workload.spec.replicas, workload.status.replicas, workload.status.ready_replicas) == (2, 2, 2)
    assert workload.status.observed_generation == workload.metadata.generation == 1


def test_workload_pod_template_gives_requests_selectors_affinity_and_tolerations(
    stand_in: KubernetesStandIn, client: EksKubernetesClient, deployment: Callable[..., dict[str, Any]]
) -> None:
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {
                                "key": "node.kubernetes.io/instance-type",
                                "operator": "In",
                                "values": ["ml.g5.12xlarge", "ml.g5.48xlarge"],
                            }
                        ]
                    }
                ]
            }
        }
    }
    stand_in.create(
        deployment(
            "web",
            gpus=2,
            cpu="3500m",
            memory="24Gi",
            node_selector={"sagemaker.amazonaws.com/node-health-status": "Schedulable"},
            tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
            affinity=affinity,
        )
    )

    spec = client.read_workload(WEB).spec.template.spec

    assert spec.effective_requests() == {
        "cpu": Decimal("3.5"),
        "memory": Decimal(24 * 2**30),
        "nvidia.com/gpu": Decimal(2),
    }
    assert spec.node_selector == {"sagemaker.amazonaws.com/node-health-status": "Schedulable"}
    assert (spec.tolerations[0].key, spec.tolerations[0].operator) == ("nvidia.com/gpu", "Exists")
    assert spec.affinity is not None
    assert spec.affinity.node_affinity is not None
    required = spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution
    assert required is not None
    assert required.node_selector_terms[0].match_expressions[0].values == ("ml.g5.12xlarge", "ml.g5.48xlarge")


def test_statefulset_targets_are_read_through_their_own_scale(
    stand_in: KubernetesStandIn, client: EksKubernetesClient, deployment: Callable[..., dict[str, Any]]
) -> None:
    stand_in.create(deployment("llm", replicas=3, kind="StatefulSet"))
    target = WorkloadRef(kind="StatefulSet", namespace="default", name="llm")

    assert client.read_scale(target).desired_replicas == 3
    assert client.read_workload(target).spec.selector.match_labels == {"app": "llm"}
    assert stand_in.requests[-1].path == "/apis/apps/v1/namespaces/default/statefulsets/llm"


def test_nodes_report_allocatable_labels_taints_cordon_and_readiness(
    stand_in: KubernetesStandIn,
    client: EksKubernetesClient,
    clock: ManualClock,
    gpu_node: Callable[..., None],
) -> None:
    gpu_node("gpu-1", taints=[{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}])
    gpu_node("gpu-2", labels={"team": "search"})
    clock.advance(31)
    client.cordon("gpu-2")
    clock.advance(1)

    nodes = {node.name: node for node in client.list_nodes()}

    assert nodes["gpu-1"].status.allocatable["nvidia.com/gpu"] == 4
    assert nodes["gpu-1"].status.allocatable["memory"] == 192 * 2**30
    assert nodes["gpu-1"].is_ready
    assert not nodes["gpu-1"].spec.unschedulable
    assert [(t.key, t.value, t.effect) for t in nodes["gpu-1"].spec.taints] == [
        ("nvidia.com/gpu", "present", "NoSchedule")
    ]
    assert nodes["gpu-2"].spec.unschedulable
    # The node lifecycle controller taints a cordoned node (TaintNodesByCondition).
    assert "node.kubernetes.io/unschedulable" in {t.key for t in nodes["gpu-2"].spec.taints}
    assert [n.name for n in client.list_nodes("team=search")] == ["gpu-2"]


def test_pods_by_node_pending_pods_and_pods_of_a_target(
    stand_in: KubernetesStandIn,
    client: EksKubernetesClient,
    clock: ManualClock,
    deployment: Callable[..., dict[str, Any]],
    gpu_node: Callable[..., None],
) -> None:
    gpu_node("gpu-1", gpus=4)
    stand_in.create(deployment("web", replicas=3, gpus=2))  # only two fit on the node
    stand_in.create(deployment("batch", replicas=1, gpus=0, namespace="jobs"))
    clock.advance(31)

    on_node = client.pods_on_node("gpu-1")
    pending = client.pending_pods()

    assert sorted(p.metadata.labels["app"] for p in on_node) == ["batch", "web", "web"]
    unscheduled = [p for p in pending if p.node_name is None]
    assert len(unscheduled) == 1
    assert unscheduled[0].is_unschedulable
    assert {p.namespace for p in client.pods_of(WEB)} == {"default"}
    assert len(client.pods_of(WEB)) == 3
    query = stand_in.requests[-1].query
    assert query["labelSelector"] == "app=web"


def test_lists_are_read_in_pages(
    stand_in: KubernetesStandIn,
    client: EksKubernetesClient,
    clock: ManualClock,
    deployment: Callable[..., dict[str, Any]],
    gpu_node: Callable[..., None],
) -> None:
    for index in range(5):
        gpu_node(f"gpu-{index}")
    paged = EksKubernetesClient(client._api, page_size=2)

    names = [node.name for node in paged.list_nodes()]

    assert names == [f"gpu-{index}" for index in range(5)]
    node_requests = [r for r in stand_in.requests if r.path == "/api/v1/nodes"]
    assert [r.query.get("limit") for r in node_requests] == ["2", "2", "2"]
    assert "continue" not in node_requests[0].query
    assert all("continue" in r.query for r in node_requests[1:])


def test_disruption_budgets_are_listed_with_their_status(
    stand_in: KubernetesStandIn,
    client: EksKubernetesClient,
    clock: ManualClock,
    deployment: Callable[..., dict[str, Any]],
    gpu_node: Callable[..., None],
) -> None:
    gpu_node("gpu-1")
    stand_in.create(deployment("web", replicas=2))
    stand_in.create(
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "web"}}},
        }
    )
    clock.advance(97)  # GPUs at 30, pods bound at 31, running at 36, Ready at 96, counted at 97

    (budget,) = client.list_disruption_budgets("default")

    assert budget.spec.max_unavailable == 1
    assert (budget.status.expected_pods, budget.status.current_healthy, budget.status.desired_healthy) == (
        2,
        2,
        1,
    )
    assert budget.status.disruptions_allowed == 1
    assert [b.metadata.name for b in client.list_disruption_budgets()] == ["web"]


def test_other_autoscalers_on_the_same_target_are_found(
    stand_in: KubernetesStandIn, client: EksKubernetesClient, deployment: Callable[..., dict[str, Any]]
) -> None:
    stand_in.create(deployment("web"))
    stand_in.create(deployment("other"))
    stand_in.create(
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web-hpa", "namespace": "default"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 1,
                "maxReplicas": 4,
            },
        }
    )
    # KEDA's scaleTargetRef defaults to an apps/v1 Deployment (KEDA docs, ScaledObject specification).
    stand_in.create(
        {
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "ScaledObject",
            "metadata": {"name": "web-so", "namespace": "default"},
            "spec": {
                "scaleTargetRef": {"name": "web"},
                "triggers": [{"type": "aws-sqs-queue", "metadata": {"queueURL": "q", "queueLength": "5"}}],
            },
        }
    )
    stand_in.create(
        {
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "ScaledObject",
            "metadata": {"name": "other-so", "namespace": "default"},
            "spec": {
                "scaleTargetRef": {"name": "other"},
                "triggers": [{"type": "cpu", "metadata": {"value": "50"}}],
            },
        }
    )

    conflicts = client.find_autoscaler_conflicts(WEB)

    assert sorted((c.kind, c.name) for c in conflicts) == [
        ("HorizontalPodAutoscaler", "web-hpa"),
        ("ScaledObject", "web-so"),
    ]
    assert (
        client.find_autoscaler_conflicts(WorkloadRef(kind="StatefulSet", namespace="default", name="web"))
        == []
    )


def test_a_cluster_without_keda_has_no_scaled_object_conflicts(
    start_stand_in: Callable[..., KubernetesStandIn],
    make_client: Callable[..., EksKubernetesClient],
    deployment: Callable[..., dict[str, Any]],
) -> None:
    # Without the CRD, the API server answers 404 for the whole resource type.
    server = start_stand_in(keda_installed=False)
    server.create(deployment("web"))
    client = make_client(server=server)

    assert client.find_autoscaler_conflicts(WEB) == []
    assert server.requests[-1].path == "/apis/keda.sh/v1alpha1/namespaces/default/scaledobjects"
