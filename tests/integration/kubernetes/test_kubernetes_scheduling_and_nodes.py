"""Where pods land, when they are Ready, and what happens as HyperPod nodes come and go.

Scheduling: Kubernetes docs "Assigning Pods to Nodes" (nodeSelector, node affinity), "Taints and
Tolerations", "Resource Management for Pods and Containers" (requests against allocatable,
extended resources such as nvidia.com/gpu); an unschedulable pod stays Pending with condition
PodScheduled=False, reason Unschedulable (docs "Pod Lifecycle", pod conditions). HyperPod node
labels: Amazon SageMaker docs "Resilience-related Kubernetes labels by SageMaker HyperPod".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ebb.adapters.kubernetes import EksKubernetesClient, Pod, WorkloadRef
from ebb.local.kubernetes import MODEL_LOAD_ANNOTATION, KubernetesStandIn, ManualClock

pytestmark = pytest.mark.integration

WEB = WorkloadRef(namespace="default", name="web")


def _scheduled(pod: Pod) -> str:
    condition = pod.condition("PodScheduled")
    assert condition is not None
    return condition.message or ""


def test_a_pod_that_fits_no_node_stays_pending_with_the_schedulers_reasons(
    stand_in: KubernetesStandIn,
    client: EksKubernetesClient,
    clock: ManualClock,
    deployment: Callable[..., dict[str, Any]],
    gpu_node: Callable[..., None],
) -> None:
    gpu_node("gpu-small", gpus=1)
    gpu_node("gpu-other", gpus=8, labels={"team": "other"})
    stand_in.create(deployment("web", gpus=2, node_selector={"team": "search"}))
    clock.advance(61)

    (pod,) = client.pending_pods()

    assert pod.node_name is None
    assert pod.is_unschedulable
    assert _scheduled(pod).startswith(
        "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."
    )
    clock.advance(600)
    assert client.pending_pods()[0].node_name is None


def test_insufficient_gpus_are_named(
    stand_in: KubernetesStandIn,
    client: EksKubernetesClient,
    clock: ManualClock,
    deployment: Callable[..., dict[str, Any]],
    gpu_node: Callable[..., None],
) -> None:
    gpu_node("gpu-1", gpus=1)
    stand_in.create(deployment("web", gpus=2))
    clock.advance(61)

    (pod,) = client.pending_pods()

    assert _scheduled(pod).startswith("0/1 nodes are available: 1 Insufficient nvidia.com/gpu.")


def test_a_node_whose_gpus_are_not_yet_allocatable_gets_gpu_pods_only_once_they_are(
    stand_in: KubernetesStandIn,
    client: EksKubernetesClient,
    clock: ManualClock,
    deployment: Callable[..., dict[str, Any]],
    gpu_node: Callable[..., None],
) -> None:
    gpu_node("gpu-1", gpus=4)
    stand_in.create(deployment("web", gpus=1))
    clock.advance(2)

    (node,) = client.list_nodes()
    assert node.is_ready
    assert "nvidia.com/gpu" not in node.status.allocatable
    (pod,) = client.pending_pods()
    assert "Insufficient nvidia.com/gpu" in _scheduled(pod)

    clock.advance(29)  # the device plugin registers the GPUs at t=30; the scheduler binds at t=31
    (node,) = client.list_nodes()
    assert node.status.allocatable["nvidia.com/gpu"] == 4
    assert node.status.capacity["nvidia.com/gpu"] == 4
    assert [p.node_name for p in client.pods_of(WEB)] == ["gpu-1"]


def test_pods_are_ready_only_after_the_model_has_loaded(
    stand_in: KubernetesStandIn,
    client: EksKubernetesClient,
    clock: ManualClock,
    deployment: Callable[..., dict[str, Any]],
    gpu_node: Callable[..., None],
) -> None:
    gpu_node("cpu-1", gpus=0)
    manifest = deployment("web", gpus=0)
    manifest["spec"]["template"]["metadata"]["annotations"] = {MODEL_LOAD_ANNOTATION: "300"}
    stand_in.create(manifest)
    clock.advance(1 + 5)  # created and bound at 1, running at 6

    (pod,) = client.pods_of(WEB)
    assert (pod.status.phase, pod.is_ready) == ("Running", False)
    clock.advance(299)
    assert not client.pods_of(WEB)[0].is_ready
    clock.advance(1)
    assert client.pods_of(WEB)[0].is_ready
    clock.advance(1)
    assert client.read_workload(WEB).status.ready_replicas == 1


def test_taints_keep_pods_away_unless_tolerated(
    stand_in: KubernetesStandIn,
    client: EksKubernetesClient,
    clock: ManualClock,
    deployment: Callable[..., dict[str, Any]],
    gpu_node: Callable[..., None],
) -> None:
    taint = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
    gpu_node("gpu-1", taints=[taint])
    stand_in.create(deployment("plain", gpus=1))
    stand_in.create(
        deployment("tolerant", gpus=1, tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists"}])
    )
    clock.advance(31)

    placed = {p.metadata.labels["app"]: p.node_name for p in client.pods_on_node("gpu-1")}
    # Both are Pending (the bound one until its containers start); only one is unscheduled.
    (pending,) = [p for p in client.pending_pods() if p.node_name is None]

    assert placed == {"tolerant": "gpu-1"}
    assert pending.metadata.labels["app"] == "plain"
    assert "1 node(s) had untolerated taint {nvidia.com/gpu: present}" in _scheduled(pending)


def test_required_node_affinity_picks_the_instance_type(
    stand_in: KubernetesStandIn,
    client: EksKubernetesClient,
    clock: ManualClock,
    deployment: Callable[..., dict[str, Any]],
    gpu_node: Callable[..., None],
) -> None:
    gpu_node("small", labels={"node.kubernetes.io/instance-type": "ml.g5.12xlarge"})
    gpu_node("large", labels={"node.kubernetes.io/instance-type": "ml.g5.48xlarge"})
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {
                                "key": "node.kubernetes.io/instance-type",
                                "operator": "In",
                                "values": ["ml.g5.48xlarge"],
                            }
                        ]
                    }
                ]
            }
        }
    }
    stand_in.create(deployment("web", replicas=2, affinity=affinity))
    clock.advance(31)

    assert [p.node_name for p in client.pods_of(WEB)] == ["large", "large"]


def test_a_cordoned_node_gets_no_new_pods(
    stand_in: KubernetesStandIn,
    client: EksKubernetesClient,
    clock: ManualClock,
    deployment: Callable[..., dict[str, Any]],
    gpu_node: Callable[..., None],
) -> None:
    gpu_node("gpu-1")
    client.cordon("gpu-1")
    stand_in.create(deployment("web"))
    clock.advance(31)

    (pod,) = client.pending_pods()
    assert "1 node(s) were unschedulable" in _scheduled(pod)
    client.uncordon("gpu-1")
    clock.advance(1)
    assert client.pods_of(WEB)[0].node_name == "gpu-1"


def test_health_check_labels_follow_hyperpods_deep_health_checks(
    stand_in: KubernetesStandIn,
    client: EksKubernetesClient,
    clock: ManualClock,
    deployment: Callable[..., dict[str, Any]],
    gpu_node: Callable[..., None],
) -> None:
    gpu_node("gpu-1", deep_health_checks=True)
    healthy_only = {"sagemaker.amazonaws.com/node-health-status": "Schedulable"}
    stand_in.create(deployment("web", node_selector=healthy_only))
    clock.advance(31)

    (node,) = client.list_nodes()
    assert node.labels["sagemaker.amazonaws.com/node-health-status"] == "Unschedulable"
    assert node.labels["sagemaker.amazonaws.com/deep-health-check-status"] == "InProgress"
    assert client.pods_of(WEB)[0].node_name is None

    stand_in.node_health_checks_done("gpu-1")
    clock.advance(1)
    (node,) = client.list_nodes()
    assert node.labels["sagemaker.amazonaws.com/node-health-status"] == "Schedulable"
    assert node.labels["sagemaker.amazonaws.com/deep-health-check-status"] == "Passed"
    assert client.pods_of(WEB)[0].node_name == "gpu-1"


def test_a_node_that_fails_its_health_checks_is_marked_for_replacement(
    stand_in: KubernetesStandIn, client: EksKubernetesClient, gpu_node: Callable[..., None]
) -> None:
    gpu_node("gpu-1", deep_health_checks=True)

    stand_in.node_health_checks_done("gpu-1", passed=False)

    (node,) = client.list_nodes()
    assert node.labels["sagemaker.amazonaws.com/node-health-status"] == "UnschedulablePendingReplacement"
    assert node.labels["sagemaker.amazonaws.com/deep-health-check-status"] == "Failed"


def test_a_node_that_leaves_takes_its_pods_and_their_replacements_wait_pending(
    stand_in: KubernetesStandIn,
    client: EksKubernetesClient,
    clock: ManualClock,
    deployment: Callable[..., dict[str, Any]],
    gpu_node: Callable[..., None],
) -> None:
    gpu_node("gpu-1", gpus=4)
    stand_in.create(deployment("web", replicas=2))
    clock.advance(97)
    before = {p.name for p in client.pods_of(WEB)}

    stand_in.node_left("gpu-1")
    assert client.pods_of(WEB) == []  # deleted with the node
    clock.advance(1)

    after = client.pods_of(WEB)
    assert len(after) == 2
    assert not before & {p.name for p in after}
    assert all(p.node_name is None and p.is_unschedulable for p in after)
    assert client.read_workload(WEB).status.ready_replicas == 0


def test_a_node_that_stops_reporting_ready_is_tainted_not_ready(
    stand_in: KubernetesStandIn,
    client: EksKubernetesClient,
    clock: ManualClock,
    gpu_node: Callable[..., None],
) -> None:
    gpu_node("gpu-1")
    stand_in.set_node_ready("gpu-1", False)
    clock.advance(1)

    (node,) = client.list_nodes()
    assert not node.is_ready
    assert ("node.kubernetes.io/not-ready", "NoSchedule") in {(t.key, t.effect) for t in node.spec.taints}
