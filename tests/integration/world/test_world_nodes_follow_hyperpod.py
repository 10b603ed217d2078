"""Kubernetes nodes follow the HyperPod stand-in's instances, on the world's one clock.

What users rely on, as HyperPod on EKS documents it: an instance added with BatchAddClusterNodes
registers as Kubernetes node `hyperpod-<instance id>` once it has booted (API Reference
BatchAddClusterNodes; "Continuous provisioning for enhanced cluster operations on Amazon EKS"),
labelled with its compute type, instance group and instance type (the HyperPod EKS guides select
nodes with `sagemaker.amazonaws.com/instance-group-name=<group>`) and with HyperPod's health labels
("Resilience-related Kubernetes labels by SageMaker HyperPod": Unschedulable and InProgress while
deep health checks run, Schedulable once they pass); its GPUs are allocatable once the NVIDIA
device plugin has registered them. Everything is read over HTTPS with ebb's adapter, which finds
the API server and its CA through EKS DescribeCluster, as in production.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from ebb.local.cluster import HyperPodOnEks, node_name

from .world_testkit import (
    DEEP_HEALTH_CHECKS,
    GPU_TYPE,
    WEB,
    adapter,
    add_nodes,
    create_hyperpod_cluster,
    deployment,
    group,
    hyperpod_nodes,
    instance_ids,
    node_named,
    pods_by_state,
    scheduling_message,
)

pytestmark = pytest.mark.integration

GIB = Decimal(2**30)


def test_a_booted_instance_joins_with_hyperpods_labels_and_its_instance_types_capacity(
    cluster: HyperPodOnEks,
) -> None:
    create_hyperpod_cluster(cluster, boot_seconds=300)
    client = adapter(cluster)
    (logical_id,) = add_nodes(cluster, 1)

    cluster.world.run_for(5 + 299)  # launched 5 s after the request, booting for 300 s
    (booting,) = hyperpod_nodes(cluster)
    assert booting["InstanceStatus"]["Status"] == "Pending"
    assert "InstanceId" in booting
    assert client.list_nodes() == []

    cluster.world.run_for(1)
    (instance,) = instance_ids(cluster)
    node = node_named(client, node_name(instance))
    assert node is not None
    assert node.name == f"hyperpod-{instance}"
    assert node.is_ready
    assert node.spec.provider_id == f"aws:///us-east-1a/{instance}"
    assert node.labels["sagemaker.amazonaws.com/compute-type"] == "hyperpod"
    assert node.labels["sagemaker.amazonaws.com/instance-group-name"] == "gpu"
    assert node.labels["node.kubernetes.io/instance-type"] == GPU_TYPE
    assert node.labels["topology.kubernetes.io/zone"] == "us-east-1a"
    assert node.labels["kubernetes.io/arch"] == "amd64"
    assert node.labels["sagemaker.amazonaws.com/node-health-status"] == "Schedulable"
    # ml.g5.12xlarge: 48 vCPUs and 192 GiB; the kubelet keeps some back from pods.
    assert node.status.capacity["cpu"] == 48
    assert node.status.capacity["memory"] == 192 * GIB
    assert 47 < node.status.allocatable["cpu"] < 48
    assert 190 * GIB < node.status.allocatable["memory"] < 192 * GIB
    assert node.spec.taints == ()
    # The ListClusterNodes view agrees: the same instance, now Running.
    (running,) = hyperpod_nodes(cluster)
    assert (running["NodeLogicalId"], running["InstanceStatus"]["Status"]) == (logical_id, "Running")
    client.close()


def test_gpus_become_allocatable_only_after_the_device_plugins_delay(cluster: HyperPodOnEks) -> None:
    create_hyperpod_cluster(cluster, boot_seconds=300)
    client = adapter(cluster)
    add_nodes(cluster, 1)
    cluster.world.run_for(305)
    (node,) = client.list_nodes()
    assert "nvidia.com/gpu" not in node.status.allocatable

    cluster.world.run_for(29)
    (node,) = client.list_nodes()
    assert "nvidia.com/gpu" not in node.status.allocatable

    cluster.world.run_for(1)
    (node,) = client.list_nodes()
    assert node.status.allocatable["nvidia.com/gpu"] == 4
    assert node.status.capacity["nvidia.com/gpu"] == 4
    client.close()


def test_pending_gpu_pods_are_scheduled_once_the_node_is_usable_and_ready_after_the_model_loads(
    cluster: HyperPodOnEks,
) -> None:
    create_hyperpod_cluster(cluster, boot_seconds=300)
    client = adapter(cluster)
    cluster.kubernetes.create(deployment(replicas=3))
    add_nodes(cluster, 1)

    cluster.world.run_for(300)
    pending = client.pending_pods()
    assert len(pending) == 3
    assert all(pod.is_unschedulable for pod in pending)
    assert all("0/0 nodes are available" in scheduling_message(pod) for pod in pending)

    # Joined at 305 s; GPUs allocatable at 335 s; the scheduler's next pass binds the pods.
    cluster.world.run_for(34)
    assert pods_by_state(client) == {"pending": 3, "running": 0, "ready": 0}
    assert all(pod.node_name is None for pod in client.pods_of(WEB))
    cluster.world.run_for(2)
    (instance,) = instance_ids(cluster)
    assert {pod.node_name for pod in client.pods_of(WEB)} == {node_name(instance)}

    cluster.world.run_for(5)  # containers started
    assert pods_by_state(client) == {"pending": 0, "running": 3, "ready": 0}
    cluster.world.run_for(59)
    assert pods_by_state(client) == {"pending": 0, "running": 3, "ready": 0}
    cluster.world.run_for(1)  # the model has loaded: readiness probes pass
    assert pods_by_state(client) == {"pending": 0, "running": 0, "ready": 3}
    cluster.world.run_for(1)  # the Deployment controller's next pass reports them
    assert client.read_workload(WEB).status.ready_replicas == 3
    client.close()


def test_deep_health_checks_keep_the_node_unschedulable_until_they_pass(cluster: HyperPodOnEks) -> None:
    create_hyperpod_cluster(
        cluster,
        group(OnStartDeepHealthChecks=DEEP_HEALTH_CHECKS),
        boot_seconds=300,
        deep_health_check_seconds=1200,
    )
    client = adapter(cluster)
    cluster.kubernetes.create(deployment(replicas=2))
    add_nodes(cluster, 1)
    cluster.world.run_for(305 + 60)

    (instance,) = instance_ids(cluster)
    (node,) = client.list_nodes()
    assert hyperpod_nodes(cluster)[0]["InstanceStatus"]["Status"] == "DeepHealthCheckInProgress"
    assert node.labels["sagemaker.amazonaws.com/node-health-status"] == "Unschedulable"
    assert node.labels["sagemaker.amazonaws.com/deep-health-check-status"] == "InProgress"
    assert [(t.key, t.value, t.effect) for t in node.spec.taints] == [
        ("sagemaker.amazonaws.com/node-health-status", "Unschedulable", "NoSchedule")
    ]
    # The device plugin tolerates the taint: the GPUs are there, yet no pod may use them.
    assert node.status.allocatable["nvidia.com/gpu"] == 4
    pending = client.pending_pods()
    assert len(pending) == 2
    message = scheduling_message(pending[0])
    assert "untolerated taint {sagemaker.amazonaws.com/node-health-status: Unschedulable}" in message

    cluster.world.run_for(1200 - 60 - 1)
    assert client.pending_pods() != []
    cluster.world.run_for(1)  # the checks pass
    (node,) = client.list_nodes()
    assert node.labels["sagemaker.amazonaws.com/node-health-status"] == "Schedulable"
    assert node.labels["sagemaker.amazonaws.com/deep-health-check-status"] == "Passed"
    assert node.spec.taints == ()
    assert hyperpod_nodes(cluster)[0]["InstanceStatus"]["Status"] == "Running"

    cluster.world.run_for(1 + 5 + 60)  # scheduled, started, model loaded
    assert pods_by_state(client) == {"pending": 0, "running": 0, "ready": 2}
    assert {pod.node_name for pod in client.pods_of(WEB)} == {node_name(instance)}
    client.close()


def test_nodes_of_a_cluster_orchestrated_by_another_eks_cluster_never_join(cluster: HyperPodOnEks) -> None:
    other = "arn:aws:eks:us-east-1:123456789012:cluster/someone-else"
    create_hyperpod_cluster(cluster, name="elsewhere", eks_cluster_arn=other)
    create_hyperpod_cluster(cluster)
    client = adapter(cluster)
    add_nodes(cluster, 2, name="elsewhere")
    add_nodes(cluster, 1)
    cluster.world.run_for(400)

    assert len(instance_ids(cluster, "elsewhere")) == 2
    assert [node.name for node in client.list_nodes()] == [node_name(i) for i in instance_ids(cluster)]
    client.close()


def test_instance_group_kubernetes_config_labels_and_taints_are_on_the_node(cluster: HyperPodOnEks) -> None:
    kubernetes_config = {
        "Labels": {"team": "search"},
        "Taints": [{"Key": "dedicated", "Value": "inference", "Effect": "NoSchedule"}],
    }
    create_hyperpod_cluster(cluster, group(KubernetesConfig=kubernetes_config))
    client = adapter(cluster)
    cluster.kubernetes.create(deployment(replicas=1))
    add_nodes(cluster, 1)
    cluster.world.run_for(400)

    (node,) = client.list_nodes()
    assert node.labels["team"] == "search"
    assert [(t.key, t.value, t.effect) for t in node.spec.taints] == [
        ("dedicated", "inference", "NoSchedule")
    ]
    (pod,) = client.pending_pods()  # the pod does not tolerate the group's taint
    assert "untolerated taint {dedicated: inference}" in scheduling_message(pod)
    client.close()
