"""The stand-in behaves as HyperPod in Continuous mode when capacity is short and nodes fail, and
ebb's adapter reads it right.

Sources: "Continuous provisioning for enhanced cluster operations on Amazon EKS"
(https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-hyperpod-scaling-eks.html): the system
"automatically retries failed launches"; Failure means "provisioning failed but the system will
automatically retry provisioning with a new EC2 instance"; DeepHealthCheckInProgress ends in
Running. "SageMaker HyperPod cluster events reference" (.../sagemaker-hyperpod-cluster-events-reference.html):
the insufficient-capacity record, the EventBridge envelope, the replacement descriptions.
"Automatic node recovery" (.../sagemaker-hyperpod-eks-resiliency-node-recovery.html) and
"Resilience-related Kubernetes labels by SageMaker HyperPod"
(.../sagemaker-hyperpod-eks-resiliency-node-labels.html).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from botocore.loaders import Loader
from hyperpod_testkit import ZONE, adapter, create_cluster, group

from ebb.adapters.hyperpod_errors import HyperPodAutoscalingConflict
from ebb.adapters.hyperpod_events import ClusterEventNotification, replacements_in_progress
from ebb.adapters.hyperpod_models import NodeCondition, classify_node, ensure_ebb_may_scale
from ebb.adapters.hyperpod_outcomes import DeletionErrorCode
from ebb.adapters.hyperpod_requests import GroupAddition, NodeAdditionRequest, NodeDeletionRequest
from ebb.local.hyperpod import LocalHyperPod, ManualWorld, install, uninstall
from ebb.local.hyperpod.service_model import response_problems
from ebb.local.hyperpod.standin import LIFECYCLE_FAILURE

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

    from ebb.adapters.hyperpod import SageMakerHyperPod

pytestmark = pytest.mark.integration

GPU = "ml.g6e.12xlarge"
HOUR = 3600.0


def _add(hyperpod_adapter: SageMakerHyperPod, count: int, token: str = "pool-g1-c0-r0") -> list[str]:
    request = NodeAdditionRequest(
        groups=(GroupAddition(instance_group="gpu", count=count),), client_token=token
    )
    return [node.logical_id for node in hyperpod_adapter.add_nodes(request).added]


def _conditions(hyperpod_adapter: SageMakerHyperPod, hyperpod: LocalHyperPod) -> dict[str, NodeCondition]:
    cluster = hyperpod_adapter.describe_cluster()
    replacing = replacements_in_progress(hyperpod_adapter.list_events())
    conditions = {}
    for node in hyperpod_adapter.list_nodes():
        labels = hyperpod.kubernetes_labels("inference", node.instance_id) if node.instance_id else None
        conditions[node.key] = classify_node(
            node,
            node_recovery=cluster.node_recovery,
            kubernetes_labels=labels,
            replacement_in_progress=node.instance_id in replacing,
        )
    return conditions


def test_capacity_failure_then_hyperpods_own_retries_then_recovery(
    client: SageMakerClient, hyperpod: LocalHyperPod, world: ManualWorld
) -> None:
    create_cluster(client)
    api = adapter(client)
    hyperpod.set_capacity(GPU, 1, availability_zone=ZONE)
    requested = _add(api, 3)
    world.advance(60)

    conditions = _conditions(api, hyperpod)
    assert sorted(conditions.values()) == sorted(
        [NodeCondition.PENDING, NodeCondition.FAILED_CAPACITY, NodeCondition.FAILED_CAPACITY]
    )
    starved = [key for key, condition in conditions.items() if condition is NodeCondition.FAILED_CAPACITY]
    # Only the launched node has an instance: the starved ones show only with IncludeNodeLogicalIds.
    assert len(client.list_cluster_nodes(ClusterName="inference")["ClusterNodeSummaries"]) == 1
    failures = [event for event in api.list_events() if event.level == "Error"]
    assert len(failures) == 2
    detail = client.describe_cluster_event(ClusterName="inference", EventId=failures[0].event_id)[
        "EventDetails"
    ]
    message = detail["EventDetails"]["EventMetadata"]["Instance"]["FailureMessage"]
    assert (
        message
        == f"We currently do not have sufficient capacity to launch new {GPU} instances. Please try again."
    )
    on_the_bus = [ClusterEventNotification.model_validate(event) for event in world.events]
    assert sum(notification.event.reports_insufficient_capacity for notification in on_the_bus) == 2

    # HyperPod keeps retrying by itself, towards the target count ebb set once.
    world.advance(2 * HOUR)
    retries = [
        event
        for event in api.list_events()
        if (event.description or "").startswith("Instance Create started")
    ]
    assert len(retries) >= 2 * 8
    assert {_conditions(api, hyperpod)[key] for key in starved} == {NodeCondition.FAILED_CAPACITY}
    gpu = api.describe_cluster().group("gpu")
    assert gpu is not None
    assert (gpu.current_count, gpu.target_count) == (1, 3)

    hyperpod.set_capacity(GPU, None, availability_zone=ZONE)
    world.advance(2 * HOUR)

    assert _conditions(api, hyperpod) == dict.fromkeys(requested, NodeCondition.USABLE)
    gpu = api.describe_cluster().group("gpu")
    assert gpu is not None
    assert (gpu.current_count, gpu.target_count) == (3, 3)


def test_a_launch_that_fails_otherwise_is_failed_not_short_and_is_retried(
    client: SageMakerClient, hyperpod: LocalHyperPod, world: ManualWorld
) -> None:
    create_cluster(client)
    api = adapter(client)
    hyperpod.fail_launches("inference", "gpu", times=1)
    (logical_id,) = _add(api, 1)
    world.advance(60)

    assert _conditions(api, hyperpod) == {logical_id: NodeCondition.FAILED}
    errors = [
        notification.event
        for notification in map(ClusterEventNotification.model_validate, world.events)
        if notification.event.level == "Error"
    ]
    assert [event.failure_message for event in errors] == [LIFECYCLE_FAILURE]
    assert not errors[0].reports_insufficient_capacity

    world.advance(2 * HOUR)
    assert _conditions(api, hyperpod) == {logical_id: NodeCondition.USABLE}


def test_cancelling_starved_nodes_stops_the_retries(
    client: SageMakerClient, hyperpod: LocalHyperPod, world: ManualWorld
) -> None:
    create_cluster(client)
    api = adapter(client)
    hyperpod.set_capacity(GPU, 0, availability_zone=ZONE)
    requested = _add(api, 2)
    world.advance(60)

    outcome = api.delete_nodes(NodeDeletionRequest(logical_ids=tuple(requested)))
    events_after_cancel = len(api.list_events())
    world.advance(2 * HOUR)

    assert outcome.deleted_logical_ids == tuple(requested)
    assert api.list_nodes() == ()
    assert len(api.list_events()) == events_after_cancel
    gpu = api.describe_cluster().group("gpu")
    assert gpu is not None
    assert gpu.target_count == 0


def test_automatic_recovery_replaces_a_faulty_node_under_the_same_logical_id(
    client: SageMakerClient, hyperpod: LocalHyperPod, world: ManualWorld
) -> None:
    create_cluster(client)
    api = adapter(client)
    (logical_id,) = _add(api, 1)
    world.advance(HOUR)
    (node,) = api.list_nodes()
    assert node.instance_id is not None

    hyperpod.inject_fault("inference", node.instance_id, repair="Replace")
    assert _conditions(api, hyperpod) == {logical_id: NodeCondition.RECOVERING}  # labelled, not yet acted on
    refused = api.delete_nodes(NodeDeletionRequest(node_ids=(node.instance_id,)))
    assert refused.failed[0].code is DeletionErrorCode.NODE_ID_IN_USE

    world.advance(60)
    (replacement,) = api.list_nodes()
    assert replacement.logical_id == logical_id
    assert replacement.instance_id not in {None, node.instance_id}
    assert _conditions(api, hyperpod) == {logical_id: NodeCondition.RECOVERING}
    assert replacements_in_progress(api.list_events()) == {replacement.instance_id}

    world.advance(HOUR)
    assert _conditions(api, hyperpod) == {logical_id: NodeCondition.USABLE}
    assert replacements_in_progress(api.list_events()) == frozenset()
    gpu = api.describe_cluster().group("gpu")
    assert gpu is not None
    assert (gpu.current_count, gpu.target_count) == (1, 1)


def test_automatic_recovery_reboots_a_node_that_asks_for_it(
    client: SageMakerClient, hyperpod: LocalHyperPod, world: ManualWorld
) -> None:
    create_cluster(client)
    api = adapter(client)
    (logical_id,) = _add(api, 1)
    world.advance(HOUR)
    (node,) = api.list_nodes()
    assert node.instance_id is not None

    hyperpod.inject_fault("inference", logical_id, repair="Reboot")
    world.advance(60)
    (rebooting,) = api.list_nodes()
    assert (rebooting.instance_id, rebooting.status) == (node.instance_id, "Pending")
    assert _conditions(api, hyperpod) == {logical_id: NodeCondition.RECOVERING}

    world.advance(HOUR)
    assert _conditions(api, hyperpod) == {logical_id: NodeCondition.USABLE}
    assert any(
        f"Reboot of EC2 Instance {node.instance_id}" in (e.description or "") for e in api.list_events()
    )


def test_without_automatic_recovery_a_faulty_node_stays_failed(
    client: SageMakerClient, hyperpod: LocalHyperPod, world: ManualWorld
) -> None:
    create_cluster(client, NodeRecovery="None")
    api = adapter(client)
    (logical_id,) = _add(api, 1)
    world.advance(HOUR)
    (node,) = api.list_nodes()
    assert node.instance_id is not None

    hyperpod.inject_fault("inference", node.instance_id)
    world.advance(5 * HOUR)

    assert _conditions(api, hyperpod) == {logical_id: NodeCondition.FAILED}
    assert api.list_nodes()[0].instance_id == node.instance_id


def test_deep_health_checks_keep_a_running_node_unusable_until_they_pass(
    client: SageMakerClient, hyperpod: LocalHyperPod, world: ManualWorld
) -> None:
    create_cluster(client, "inference", group("gpu", OnStartDeepHealthChecks=["InstanceStress"]))
    hyperpod.set_timings("inference", "gpu", boot_seconds=(300.0, 300.0), deep_health_check_seconds=1200.0)
    api = adapter(client)
    (logical_id,) = _add(api, 1)

    world.advance(400)
    assert api.list_nodes()[0].status == "DeepHealthCheckInProgress"
    assert _conditions(api, hyperpod) == {logical_id: NodeCondition.RUNNING}
    world.advance(1200)
    assert _conditions(api, hyperpod) == {logical_id: NodeCondition.USABLE}


def test_every_cluster_event_is_published_on_the_bus_as_listed(
    client: SageMakerClient, hyperpod: LocalHyperPod, world: ManualWorld
) -> None:
    create_cluster(client)
    api = adapter(client)
    hyperpod.set_capacity(GPU, 1, availability_zone=ZONE)
    _add(api, 2)
    world.advance(HOUR)

    listed = api.list_events()
    published = [ClusterEventNotification.model_validate(event) for event in world.events]

    # The listed summaries are the published records without their EventDetails metadata.
    summary_fields = {"failure_message", "logical_id"}
    assert [notification.event.model_dump(exclude=summary_fields) for notification in published] == [
        event.model_dump(exclude=summary_fields) for event in listed
    ]
    cluster_arn = api.describe_cluster().arn
    assert {notification.resources for notification in published} == {(cluster_arn,)}
    assert {notification.account for notification in published} == {"123456789012"}


def test_the_same_seed_gives_the_same_timeline(client: SageMakerClient, aws: None) -> None:
    def timeline(seed: int) -> list[tuple[str, str, str]]:
        world = ManualWorld(seed=seed)
        standin = LocalHyperPod(world)
        install(standin)
        try:
            create_cluster(client)
            standin.set_capacity(GPU, 2, availability_zone=ZONE)
            _add(adapter(client), 4)
            world.advance(3 * HOUR)
            return [
                (
                    event["detail"]["EventDetails"]["EventId"],
                    event["time"],
                    event["detail"]["EventDetails"]["Description"],
                )
                for event in world.events
            ]
        finally:
            uninstall()

    assert timeline(5) == timeline(5)
    assert timeline(5) != timeline(6)


def test_ebb_refuses_groups_under_hyperpods_own_autoscaling(
    client: SageMakerClient, hyperpod: LocalHyperPod
) -> None:
    create_cluster(
        client,
        AutoScaling={"Mode": "Enable", "AutoScalerType": "Karpenter"},
        ClusterRole="arn:aws:iam::123456789012:role/hyperpod-autoscaling",
    )
    cluster = adapter(client).describe_cluster()

    assert cluster.hyperpod_autoscaling
    with pytest.raises(HyperPodAutoscalingConflict, match="gpu"):
        ensure_ebb_may_scale(cluster, ["gpu"], hyperpod_autoscaled_groups=None)
    ensure_ebb_may_scale(cluster, ["cpu"], hyperpod_autoscaled_groups=frozenset({"gpu"}))


# The shape of the complete record in "SageMaker HyperPod cluster events reference" (its
# insufficient-capacity sample) and its field table: which members each event carries.
SAMPLE_ENVELOPE = {
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
}
SAMPLE_CAPACITY_RECORD = {
    "EventId",
    "ClusterArn",
    "ClusterName",
    "InstanceGroupName",
    "InstanceId",
    "ResourceType",
    "EventTime",
    "EventLevel",
    "Description",
    "EventDetails",
}
ALWAYS = {"EventId", "ClusterArn", "ClusterName", "EventTime", "ResourceType", "EventLevel"}
BY_RESOURCE_TYPE = {
    "Cluster": set(),
    "InstanceGroup": {"InstanceGroupName"},
    "Instance": {"InstanceGroupName", "InstanceId"},
}


def test_cluster_events_carry_the_fields_of_the_references_record(
    client: SageMakerClient, hyperpod: LocalHyperPod, world: ManualWorld
) -> None:
    # The documented field list is the model's: every member the sample shows is a member of
    # botocore's ClusterEventDetail, so the shape below is checked twice, by the page and the model.
    detail_shape = Loader().load_service_model("sagemaker", "service-2")["shapes"]["ClusterEventDetail"]
    assert set(detail_shape["members"]) >= SAMPLE_CAPACITY_RECORD
    create_cluster(client)
    api = adapter(client)
    hyperpod.set_capacity(GPU, 1, availability_zone=ZONE)
    _add(api, 2)
    world.advance(HOUR)  # one launch, one shortage and HyperPod's retries of it
    hyperpod.set_capacity(GPU, None, availability_zone=ZONE)
    world.advance(HOUR)

    assert {event.keys() == SAMPLE_ENVELOPE for event in world.events} == {True}
    records = [dict(event["detail"]["EventDetails"]) for event in world.events]
    assert {record["ResourceType"] for record in records} == set(BY_RESOURCE_TYPE)
    for record in records:
        expected = ALWAYS | BY_RESOURCE_TYPE[record["ResourceType"]]
        assert expected <= record.keys(), record
        assert isinstance(record["EventTime"], int)  # epoch milliseconds on EventBridge
        described = client.describe_cluster_event(ClusterName="inference", EventId=record["EventId"])
        assert response_problems("DescribeClusterEvent", described) == []
    shortage = next(record for record in records if record["EventLevel"] == "Error")
    assert shortage.keys() == SAMPLE_CAPACITY_RECORD
    assert shortage["Description"] == "Instance creation in Cluster inference and InstanceGroup gpu failed"
    assert shortage["EventDetails"]["EventMetadata"]["Instance"].keys() == {"FailureMessage", "NodeLogicalId"}
    listed = client.list_cluster_events(ClusterName="inference", MaxResults=100)
    assert response_problems("ListClusterEvents", listed) == []
