"""What ebb reads from DescribeCluster and ListClusterNodes, and each node's condition.

Status meanings: "Continuous provisioning for enhanced cluster operations on Amazon EKS"
(https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-hyperpod-scaling-eks.html): Running is
"healthy and registered with the cluster orchestrator", Failure is retried "with a new EC2
instance", Pending is "being provisioned or rebooted", DeepHealthCheckInProgress ends in Running or
a replacement. Labels: "Resilience-related Kubernetes labels by SageMaker HyperPod"
(.../sagemaker-hyperpod-eks-resiliency-node-labels.html). Recovery: "Automatic node recovery"
(.../sagemaker-hyperpod-eks-resiliency-node-recovery.html): with None, the agent labels faulty
nodes and nothing repairs them. The capacity message is the sample record of "SageMaker HyperPod
cluster events reference" (.../sagemaker-hyperpod-cluster-events-reference.html).
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.loaders import Loader

from ebb.adapters.hyperpod_errors import HyperPodAutoscalingConflict, NotContinuousProvisioning
from ebb.adapters.hyperpod_models import (
    DEEP_HEALTH_CHECK_LABEL,
    NODE_HEALTH_LABEL,
    ClusterDescription,
    ClusterNode,
    InstanceStatus,
    NodeCondition,
    NodeHealth,
    classify_node,
    ensure_ebb_may_scale,
    is_insufficient_capacity,
)
from ebb.adapters.hyperpod_outcomes import AdditionErrorCode, DeletionErrorCode

_SHAPES: dict[str, Any] = Loader().load_service_model("sagemaker", "service-2")["shapes"]
CAPACITY_MESSAGE = (
    "We currently do not have sufficient capacity to launch new ml.p5.48xlarge instances. Please try again."
)


def _node(status: str, message: str | None = None, **extra: Any) -> ClusterNode:
    summary: dict[str, Any] = {
        "InstanceGroupName": "p5",
        "InstanceId": "i-0391f86fa0fe0d465",
        "NodeLogicalId": "df268d19-f035-4f28-9b80-b956b92ae21e",
        "InstanceType": "ml.p5.48xlarge",
        "InstanceStatus": {"Status": status, **({"Message": message} if message else {})},
        **extra,
    }
    return ClusterNode.model_validate(summary)


def _cluster(**extra: Any) -> ClusterDescription:
    response = {
        "ClusterArn": "arn:aws:sagemaker:us-west-2:111122223333:cluster/abcdef123456",
        "ClusterName": "sample-cluster",
        "ClusterStatus": "InService",
        "InstanceGroups": [
            {
                "InstanceGroupName": "p5",
                "InstanceType": "ml.p5.48xlarge",
                "CurrentCount": 1,
                "TargetCount": 3,
            },
            {
                "InstanceGroupName": "flex",
                "InstanceRequirements": {"CurrentInstanceTypes": ["ml.g6e.12xlarge", "ml.g6.12xlarge"]},
                "CurrentCount": 0,
                "TargetCount": 0,
                "Status": "InService",
            },
        ],
        **extra,
    }
    return ClusterDescription.model_validate(response)


def test_ebbs_enums_are_the_service_models() -> None:
    known = [status.value for status in InstanceStatus if status is not InstanceStatus.UNKNOWN]
    assert known == _SHAPES["ClusterInstanceStatus"]["enum"]
    added = [code.value for code in AdditionErrorCode if code is not AdditionErrorCode.UNKNOWN]
    deleted = [code.value for code in DeletionErrorCode if code is not DeletionErrorCode.UNKNOWN]
    assert added == _SHAPES["BatchAddClusterNodesErrorCode"]["enum"]
    assert deleted == _SHAPES["BatchDeleteClusterNodesErrorCode"]["enum"]
    # A code AWS adds later is read as UNKNOWN, not refused with the rest of the response.
    assert AdditionErrorCode("SomethingNew") is AdditionErrorCode.UNKNOWN
    assert DeletionErrorCode("SomethingNew") is DeletionErrorCode.UNKNOWN


@pytest.mark.parametrize(
    ("status", "message", "condition"),
    [
        ("Pending", None, NodeCondition.PENDING),
        ("AttachInProgress", None, NodeCondition.PENDING),
        ("DeepHealthCheckInProgress", None, NodeCondition.RUNNING),
        ("SystemUpdating", None, NodeCondition.RUNNING),
        ("Running", None, NodeCondition.USABLE),
        ("Failure", CAPACITY_MESSAGE, NodeCondition.FAILED_CAPACITY),
        ("Failure", "Lifecycle script execution failed", NodeCondition.FAILED),
        ("Failure", None, NodeCondition.FAILED),
        ("ShuttingDown", None, NodeCondition.SHUTTING_DOWN),
        ("DetachInProgress", None, NodeCondition.SHUTTING_DOWN),
        ("NotFound", None, NodeCondition.SHUTTING_DOWN),
    ],
)
def test_condition_from_hyperpods_status(status: str, message: str | None, condition: NodeCondition) -> None:
    assert classify_node(_node(status, message), node_recovery="Automatic") is condition


@pytest.mark.parametrize(
    ("labels", "recovery", "condition"),
    [
        ({NODE_HEALTH_LABEL: NodeHealth.SCHEDULABLE}, "Automatic", NodeCondition.USABLE),
        ({NODE_HEALTH_LABEL: NodeHealth.UNSCHEDULABLE}, "Automatic", NodeCondition.RUNNING),
        ({DEEP_HEALTH_CHECK_LABEL: "InProgress"}, "Automatic", NodeCondition.RUNNING),
        (
            {NODE_HEALTH_LABEL: NodeHealth.UNSCHEDULABLE_PENDING_REPLACEMENT},
            "Automatic",
            NodeCondition.RECOVERING,
        ),
        ({NODE_HEALTH_LABEL: NodeHealth.UNSCHEDULABLE_PENDING_REBOOT}, "Automatic", NodeCondition.RECOVERING),
        ({NODE_HEALTH_LABEL: NodeHealth.UNSCHEDULABLE_PENDING_REPLACEMENT}, "None", NodeCondition.FAILED),
        ({}, "Automatic", NodeCondition.USABLE),
    ],
)
def test_labelled_unschedulable_nodes_are_not_usable(
    labels: dict[str, str], recovery: Any, condition: NodeCondition
) -> None:
    assert classify_node(_node("Running"), node_recovery=recovery, kubernetes_labels=labels) is condition


def test_a_node_being_replaced_is_recovering_not_pending() -> None:
    node = _node("Pending")

    assert (
        classify_node(node, node_recovery="Automatic", replacement_in_progress=True)
        is NodeCondition.RECOVERING
    )
    assert NodeCondition.RECOVERING.in_flight
    assert not NodeCondition.FAILED.in_flight


def test_capacity_messages_are_recognised_case_insensitively() -> None:
    assert is_insufficient_capacity(CAPACITY_MESSAGE)
    assert is_insufficient_capacity(
        "InsufficientInstanceCapacity: We currently do not have SUFFICIENT CAPACITY"
    )
    assert not is_insufficient_capacity("Lifecycle script failed")
    assert not is_insufficient_capacity(None)


def test_a_node_still_being_provisioned_has_no_instance_id() -> None:
    node = ClusterNode.model_validate(
        {
            "InstanceGroupName": "p5",
            "InstanceId": "",
            "NodeLogicalId": "df268d19-f035-4f28-9b80-b956b92ae21e",
            "InstanceType": "ml.p5.48xlarge",
            "InstanceStatus": {"Status": "Pending"},
        }
    )

    assert node.instance_id is None
    assert node.key == "df268d19-f035-4f28-9b80-b956b92ae21e"


def test_a_status_ebb_does_not_know_yet_is_present_but_never_usable() -> None:
    # AWS adds ClusterInstanceStatus values (AttachInProgress and DetachInProgress came late): one
    # node in a new state must neither fail the whole listing nor be given pods.
    node = _node("Sleeping")

    assert node.status is InstanceStatus.UNKNOWN
    assert classify_node(node, node_recovery="Automatic") is NodeCondition.RUNNING


def test_cluster_description_reads_groups_modes_and_flexible_types() -> None:
    cluster = _cluster(NodeProvisioningMode="Continuous", NodeRecovery="Automatic")

    assert cluster.continuous_provisioning
    assert not cluster.hyperpod_autoscaling
    assert cluster.node_recovery == "Automatic"
    p5 = cluster.group("p5")
    assert p5 is not None
    assert (p5.instance_types, p5.current_count, p5.target_count) == (("ml.p5.48xlarge",), 1, 3)
    flexible = cluster.group("flex")
    assert flexible is not None
    assert flexible.instance_types == ("ml.g6e.12xlarge", "ml.g6.12xlarge")
    assert cluster.group("missing") is None


def test_ebb_refuses_a_cluster_without_continuous_provisioning() -> None:
    with pytest.raises(NotContinuousProvisioning, match="needs Continuous"):
        ensure_ebb_may_scale(_cluster(), ["p5"], hyperpod_autoscaled_groups=None)


def test_ebb_refuses_groups_hyperpods_own_autoscaling_manages() -> None:
    cluster = _cluster(
        NodeProvisioningMode="Continuous",
        AutoScaling={"Mode": "Enable", "AutoScalerType": "Karpenter", "Status": "InService"},
    )

    with pytest.raises(HyperPodAutoscalingConflict, match="p5"):
        ensure_ebb_may_scale(cluster, ["p5"], hyperpod_autoscaled_groups=None)
    with pytest.raises(HyperPodAutoscalingConflict, match="p5"):
        ensure_ebb_may_scale(cluster, ["p5", "flex"], hyperpod_autoscaled_groups=frozenset({"p5"}))
    ensure_ebb_may_scale(cluster, ["flex"], hyperpod_autoscaled_groups=frozenset({"p5"}))
    disabled = _cluster(
        NodeProvisioningMode="Continuous", AutoScaling={"Mode": "Disable", "Status": "InService"}
    )
    ensure_ebb_may_scale(disabled, ["p5"], hyperpod_autoscaled_groups=None)
