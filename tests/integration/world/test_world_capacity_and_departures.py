"""Nodes that do not come (no capacity), and nodes that go (deleted, replaced, rebooted).

HyperPod in Continuous mode reports a shortage late, as a node in `Failure` and an `Error`
cluster event carrying the failure message, and retries the launch by itself ("Continuous
provisioning for enhanced cluster operations on Amazon EKS"; "SageMaker HyperPod cluster events
reference"; README, HyperPod behaviours 1 and 2). BatchDeleteClusterNodes terminates the instance
and lowers the target count (API Reference; behaviour 3). Automatic node recovery labels the node
`UnschedulablePendingReplacement` or `UnschedulablePendingReboot`, then replaces the instance
(same NodeLogicalId, new instance id) or reboots it ("Automatic node recovery"; behaviour 8). A
node that leaves takes its pods: the pod garbage collector deletes pods bound to a node that no
longer exists, and their ReplicaSet makes Pending replacements (Kubernetes docs, "Garbage
Collection" and "ReplicaSet").
"""

from __future__ import annotations

import pytest

from ebb.local.cluster import HyperPodOnEks, node_name

from .world_testkit import (
    CLUSTER,
    DEEP_HEALTH_CHECKS,
    GPU_TYPE,
    WEB,
    ZONE,
    adapter,
    add_nodes,
    create_hyperpod_cluster,
    deployment,
    group,
    hyperpod_nodes,
    instance_ids,
    node_named,
    pods_by_state,
    received_events,
    scheduling_message,
)

pytestmark = pytest.mark.integration

CAPACITY_RETRY_MAX = 300.0  # the stand-in retries a failed launch 120-300 s later
BOOT = 300.0


def test_without_capacity_no_node_joins_and_when_capacity_returns_one_does(cluster: HyperPodOnEks) -> None:
    create_hyperpod_cluster(cluster, boot_seconds=BOOT)
    client = adapter(cluster)
    cluster.hyperpod.set_capacity(GPU_TYPE, 0, availability_zone=ZONE)
    (logical_id,) = add_nodes(cluster, 1)

    cluster.world.run_for(1800)
    assert client.list_nodes() == []
    (starved,) = hyperpod_nodes(cluster)
    assert starved["NodeLogicalId"] == logical_id
    assert starved["InstanceStatus"]["Status"] == "Failure"
    assert "sufficient capacity" in starved["InstanceStatus"]["Message"]
    failures = [
        event
        for event in received_events(cluster)
        if event["detail"]["EventDetails"]["EventLevel"] == "Error"
    ]
    assert len(failures) >= 5  # one per attempt: the first, then every 120-300 s
    first = failures[0]
    assert (first["source"], first["detail-type"]) == ("aws.sagemaker", "SageMaker HyperPod Cluster Event")
    assert first["resources"] == [cluster.hyperpod.cluster(CLUSTER).arn]
    details = first["detail"]["EventDetails"]
    assert details["ClusterName"] == CLUSTER
    assert details["InstanceGroupName"] == "gpu"
    assert details["ResourceType"] == "Instance"
    assert isinstance(details["EventTime"], int)  # epoch milliseconds
    instance = details["EventDetails"]["EventMetadata"]["Instance"]
    assert "sufficient capacity" in instance["FailureMessage"]
    assert instance["NodeLogicalId"] == logical_id

    cluster.hyperpod.set_capacity(GPU_TYPE, None, availability_zone=ZONE)
    cluster.world.run_for(CAPACITY_RETRY_MAX + BOOT)
    (instance_id,) = instance_ids(cluster)
    assert [node.name for node in client.list_nodes()] == [node_name(instance_id)]
    (launched,) = hyperpod_nodes(cluster)
    assert (launched["NodeLogicalId"], launched["InstanceStatus"]["Status"]) == (logical_id, "Running")
    client.close()


def _two_busy_nodes(cluster: HyperPodOnEks) -> list[str]:
    """Two usable nodes running eight Ready GPU pods (four each); their instance ids."""
    create_hyperpod_cluster(cluster, boot_seconds=BOOT)
    cluster.kubernetes.create(deployment(replicas=8))
    add_nodes(cluster, 2)
    cluster.world.run_for(5 + BOOT + 30 + 1 + 5 + 60 + 1)
    return instance_ids(cluster)


def test_a_deleted_node_leaves_kubernetes_and_its_pods_go_back_to_pending(cluster: HyperPodOnEks) -> None:
    client = adapter(cluster)
    kept, deleted = _two_busy_nodes(cluster)
    assert pods_by_state(client) == {"pending": 0, "running": 0, "ready": 8}
    on_deleted = {pod.name for pod in client.pods_on_node(node_name(deleted))}
    assert len(on_deleted) == 4

    response = cluster.world.clients.client("sagemaker").batch_delete_cluster_nodes(
        ClusterName=CLUSTER, NodeIds=[deleted]
    )
    assert response["Successful"] == [deleted]
    cluster.world.run_for(1)
    leaving = node_named(client, node_name(deleted))
    assert leaving is not None
    assert not leaving.is_ready  # the instance is shutting down: its kubelet stopped
    assert {t.key for t in leaving.spec.taints} == {"node.kubernetes.io/not-ready"}

    cluster.world.run_for(90)  # ShuttingDown lasts 90 s; then the instance is gone
    assert [node.name for node in client.list_nodes()] == [node_name(kept)]
    assert [node["InstanceId"] for node in hyperpod_nodes(cluster)] == [kept]
    cluster.world.run_for(1)
    pods = client.pods_of(WEB)
    assert on_deleted.isdisjoint(pod.name for pod in pods)
    assert pods_by_state(client) == {"pending": 4, "running": 0, "ready": 4}
    assert all(pod.is_unschedulable for pod in client.pending_pods())
    message = scheduling_message(client.pending_pods()[0])
    assert "Insufficient nvidia.com/gpu" in message

    cluster.world.run_for(3600)  # the target count went down: HyperPod launches no replacement
    assert [node.name for node in client.list_nodes()] == [node_name(kept)]
    client.close()


def test_a_faulty_node_is_replaced_by_a_new_node_and_its_pods_move(cluster: HyperPodOnEks) -> None:
    client = adapter(cluster)
    healthy, faulty = _two_busy_nodes(cluster)
    (logical_id,) = [
        node["NodeLogicalId"] for node in hyperpod_nodes(cluster) if node["InstanceId"] == faulty
    ]

    cluster.hyperpod.inject_fault(CLUSTER, faulty, repair="Replace")
    node = node_named(client, node_name(faulty))
    assert node is not None
    assert node.labels["sagemaker.amazonaws.com/node-health-status"] == "UnschedulablePendingReplacement"

    cluster.world.run_for(30 + 1)  # recovery starts: the faulty instance is terminated
    assert node_named(client, node_name(faulty)) is None
    assert pods_by_state(client) == {"pending": 4, "running": 0, "ready": 4}
    (replacement,) = [node for node in hyperpod_nodes(cluster) if node["NodeLogicalId"] == logical_id]
    assert replacement["InstanceId"] != faulty

    cluster.world.run_for(BOOT)
    assert sorted(node.name for node in client.list_nodes()) == sorted(
        node_name(instance) for instance in (healthy, replacement["InstanceId"])
    )
    cluster.world.run_for(30 + 1 + 5 + 60 + 1)  # GPUs registered, pods bound, started, loaded
    assert pods_by_state(client) == {"pending": 0, "running": 0, "ready": 8}
    assert len(client.pods_on_node(node_name(replacement["InstanceId"]))) == 4
    client.close()


def test_a_rebooted_node_is_not_ready_while_it_reboots_and_keeps_its_name(cluster: HyperPodOnEks) -> None:
    client = adapter(cluster)
    _, rebooted = _two_busy_nodes(cluster)
    name = node_name(rebooted)

    cluster.hyperpod.inject_fault(CLUSTER, rebooted, repair="Reboot")
    node = node_named(client, name)
    assert node is not None
    assert node.labels["sagemaker.amazonaws.com/node-health-status"] == "UnschedulablePendingReboot"

    cluster.world.run_for(30 + 1)
    node = node_named(client, name)
    assert node is not None
    assert not node.is_ready
    cluster.world.run_for(240)  # the reboot takes 240 s
    node = node_named(client, name)
    assert node is not None
    assert node.is_ready
    assert node.labels["sagemaker.amazonaws.com/node-health-status"] == "Schedulable"
    assert len(client.pods_on_node(name)) == 4
    client.close()


def test_a_node_rebooted_during_its_deep_health_checks_comes_back_usable(cluster: HyperPodOnEks) -> None:
    create_hyperpod_cluster(cluster, group(OnStartDeepHealthChecks=DEEP_HEALTH_CHECKS), boot_seconds=BOOT)
    client = adapter(cluster)
    add_nodes(cluster, 1)
    cluster.world.run_for(5 + BOOT + 60)
    (instance,) = instance_ids(cluster)

    cluster.hyperpod.inject_fault(CLUSTER, instance, repair="Reboot")
    cluster.world.run_for(30 + 240 + 1)  # recovery starts, the reboot, the taint controller's pass

    assert hyperpod_nodes(cluster)[0]["InstanceStatus"]["Status"] == "Running"
    node = node_named(client, node_name(instance))
    assert node is not None
    assert node.is_ready
    assert node.labels["sagemaker.amazonaws.com/node-health-status"] == "Schedulable"
    assert node.labels["sagemaker.amazonaws.com/deep-health-check-status"] == "Passed"
    assert node.spec.taints == ()
    client.close()


def test_deleting_an_instance_group_takes_its_nodes_out_at_once(cluster: HyperPodOnEks) -> None:
    client = adapter(cluster)
    _two_busy_nodes(cluster)

    cluster.world.clients.client("sagemaker").update_cluster(
        ClusterName=CLUSTER, InstanceGroupsToDelete=["gpu"]
    )
    assert client.list_nodes() == []
    cluster.world.run_for(1)
    assert pods_by_state(client) == {"pending": 8, "running": 0, "ready": 0}
    client.close()
