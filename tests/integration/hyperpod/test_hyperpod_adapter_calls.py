"""ebb's HyperPod adapter against the stand-in, for every call ebb makes.

Behaviour pinned here is documented in the SageMaker API Reference: DescribeCluster,
ListClusterNodes (IncludeNodeLogicalIds: "When set to False (default), only nodes with assigned
InstanceIds are returned"), BatchAddClusterNodes (ClientToken "valid for 8 hours ... the same
parameters ... returns the same set of NodeLogicalIds with their latest status"; "only supported
for clusters using Continuous"), BatchDeleteClusterNodes, ListClusterEvents.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError
from hyperpod_testkit import REGION, ZONE, adapter, create_cluster, group, in_zones

from ebb.adapters.hyperpod import SageMakerHyperPod
from ebb.adapters.hyperpod_errors import (
    ClientTokenConflict,
    HyperPodClusterNotFound,
    HyperPodQuotaExceeded,
    HyperPodThrottled,
    HyperPodUnavailable,
    IncompatibleAvailabilityZones,
    IncompatibleInstanceTypes,
    InstanceGroupBusy,
    InstanceGroupNotFound,
    NotContinuousProvisioning,
)
from ebb.adapters.hyperpod_models import InstanceStatus, NodeCondition, classify_node
from ebb.adapters.hyperpod_outcomes import AdditionErrorCode, DeletionErrorCode
from ebb.adapters.hyperpod_requests import (
    GroupAddition,
    NodeAdditionRequest,
    NodeDeletionRequest,
    chunk_additions,
    client_token,
)
from ebb.local.hyperpod import LocalHyperPod, ManualWorld

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

pytestmark = pytest.mark.integration

BOOTED = 3600.0  # past launch, boot and health checks with the default timings


def _add(groups: dict[str, int], *, execution: str = "pool-g1-c0", chunk: int = 0) -> NodeAdditionRequest:
    return NodeAdditionRequest(
        groups=tuple(GroupAddition(instance_group=name, count=count) for name, count in groups.items()),
        client_token=client_token(execution, 0, chunk),
    )


def test_describe_cluster_reads_groups_and_modes(client: SageMakerClient, hyperpod: LocalHyperPod) -> None:
    arn = create_cluster(
        client, "inference", group("gpu", count=2), group("cpu", "ml.c5.2xlarge"), NodeRecovery="None"
    )

    cluster = adapter(client).describe_cluster()

    assert (cluster.arn, cluster.name, cluster.status) == (arn, "inference", "InService")
    assert cluster.continuous_provisioning
    assert cluster.node_recovery == "None"
    gpu = cluster.group("gpu")
    assert gpu is not None
    assert (gpu.instance_types, gpu.target_count, gpu.status) == (("ml.g6e.12xlarge",), 2, "InService")


def test_an_unknown_cluster_is_not_found(client: SageMakerClient, hyperpod: LocalHyperPod) -> None:
    with pytest.raises(HyperPodClusterNotFound, match="DescribeCluster"):
        adapter(client, "nowhere").describe_cluster()


def test_added_nodes_are_pending_and_seen_before_they_have_an_instance(
    client: SageMakerClient, hyperpod: LocalHyperPod, world: ManualWorld
) -> None:
    create_cluster(client)
    outcome = adapter(client).add_nodes(_add({"gpu": 2}))

    assert [node.status for node in outcome.added] == [InstanceStatus.PENDING] * 2
    nodes = adapter(client).list_nodes()
    assert {node.logical_id for node in nodes} == {added.logical_id for added in outcome.added}
    assert all(node.instance_id is None for node in nodes)
    assert all(classify_node(node, node_recovery="Automatic") is NodeCondition.PENDING for node in nodes)
    # The same call without IncludeNodeLogicalIds does not show them: a planner using it would
    # request them again.
    assert client.list_cluster_nodes(ClusterName="inference")["ClusterNodeSummaries"] == []

    world.advance(BOOTED)
    usable = adapter(client).list_nodes()
    assert all(node.instance_id is not None for node in usable)
    assert {classify_node(node, node_recovery="Automatic") for node in usable} == {NodeCondition.USABLE}
    gpu = adapter(client).describe_cluster().group("gpu")
    assert gpu is not None
    assert (gpu.current_count, gpu.target_count) == (2, 2)


def test_list_nodes_reads_every_page(client: SageMakerClient, hyperpod: LocalHyperPod) -> None:
    create_cluster(client)
    added = adapter(client).add_nodes(_add({"gpu": 5, "cpu": 2})).added

    nodes = adapter(client, page_size=2).list_nodes()

    assert sorted(node.key for node in nodes) == sorted(node.logical_id for node in added)


def test_a_retried_request_replays_instead_of_adding_twice(
    client: SageMakerClient, hyperpod: LocalHyperPod, world: ManualWorld
) -> None:
    create_cluster(client)
    request = _add({"gpu": 3})
    first = adapter(client).add_nodes(request)
    world.advance(BOOTED)

    again = adapter(client).add_nodes(request)

    assert [node.logical_id for node in again.added] == [node.logical_id for node in first.added]
    assert {node.status for node in again.added} == {InstanceStatus.RUNNING}
    gpu = adapter(client).describe_cluster().group("gpu")
    assert gpu is not None
    assert gpu.target_count == 3
    assert len(adapter(client).list_nodes()) == 3


def test_a_replayed_request_reports_deleted_nodes_as_not_found(
    client: SageMakerClient, hyperpod: LocalHyperPod, world: ManualWorld
) -> None:
    create_cluster(client)
    request = _add({"gpu": 2})
    first = adapter(client).add_nodes(request)
    adapter(client).delete_nodes(NodeDeletionRequest(logical_ids=(first.added[0].logical_id,)))

    statuses = [node.status for node in adapter(client).add_nodes(request).added]

    assert statuses == [InstanceStatus.NOT_FOUND, InstanceStatus.PENDING]


def test_a_client_token_reused_with_other_parameters_is_refused(
    client: SageMakerClient, hyperpod: LocalHyperPod
) -> None:
    create_cluster(client)
    adapter(client).add_nodes(_add({"gpu": 1}))

    with pytest.raises(ClientTokenConflict, match="BatchAddClusterNodes"):
        adapter(client).add_nodes(_add({"gpu": 2}))
    gpu = adapter(client).describe_cluster().group("gpu")
    assert gpu is not None
    assert gpu.target_count == 1


def test_a_client_token_is_forgotten_after_8_hours(
    client: SageMakerClient, hyperpod: LocalHyperPod, world: ManualWorld
) -> None:
    create_cluster(client)
    adapter(client).add_nodes(_add({"gpu": 1}))
    world.advance(8 * 3600 + 1)

    adapter(client).add_nodes(_add({"gpu": 1}))

    gpu = adapter(client).describe_cluster().group("gpu")
    assert gpu is not None
    assert gpu.target_count == 2


def test_chunks_of_a_large_scale_out_each_add_their_share(
    client: SageMakerClient, hyperpod: LocalHyperPod
) -> None:
    create_cluster(client)
    chunks = chunk_additions({"gpu": 80, "cpu": 30}, execution_name="pool-g2-c0", round_index=0)

    added = [node for chunk in chunks for node in adapter(client).add_nodes(chunk).added]

    assert len(chunks) == 3
    assert len(added) == 110
    cluster = adapter(client).describe_cluster()
    assert [(group.name, group.target_count) for group in cluster.instance_groups] == [
        ("gpu", 80),
        ("cpu", 30),
    ]


def test_the_service_refuses_more_than_50_nodes_or_5_groups(
    client: SageMakerClient, hyperpod: LocalHyperPod
) -> None:
    # The adapter cannot build such requests (unit tests); the stand-in refuses them as SageMaker does.
    create_cluster(client, "inference", *(group(f"g{i}") for i in range(6)))
    too_many_groups: list[Any] = [
        {"InstanceGroupName": f"g{i}", "IncrementTargetCountBy": 1} for i in range(6)
    ]
    too_many_nodes: list[Any] = [
        {"InstanceGroupName": "g0", "IncrementTargetCountBy": 30},
        {"InstanceGroupName": "g1", "IncrementTargetCountBy": 21},
    ]

    for nodes, expected in [
        (too_many_groups, "length less than or equal to 5"),
        (too_many_nodes, "cannot exceed 50"),
        ([{"InstanceGroupName": "g0", "IncrementTargetCountBy": 51}], "value less than or equal to 50"),
    ]:
        with pytest.raises(ClientError) as caught:
            client.batch_add_cluster_nodes(ClusterName="inference", NodesToAdd=nodes)
        assert caught.value.response["Error"]["Code"] == "ValidationException"
        assert expected in caught.value.response["Error"]["Message"]
    assert all(group.target_count == 0 for group in adapter(client).describe_cluster().instance_groups)


def test_an_unknown_group_fails_alone(client: SageMakerClient, hyperpod: LocalHyperPod) -> None:
    create_cluster(client)

    outcome = adapter(client).add_nodes(_add({"gpu": 2, "typo": 3}))

    assert [(node.instance_group, node.status) for node in outcome.added] == [
        ("gpu", InstanceStatus.PENDING)
    ] * 2
    assert [(failure.instance_group, failure.code, failure.failed_count) for failure in outcome.failed] == [
        ("typo", AdditionErrorCode.INSTANCE_GROUP_NOT_FOUND, 3)
    ]
    with pytest.raises(InstanceGroupNotFound, match="typo"):
        outcome.raise_for_failures()


def test_a_group_that_is_updating_refuses_nodes_for_now(
    client: SageMakerClient, hyperpod: LocalHyperPod
) -> None:
    create_cluster(client)
    hyperpod.set_instance_group_status("inference", "gpu", "Updating")

    outcome = adapter(client).add_nodes(_add({"gpu": 1}))

    assert outcome.failed[0].code is AdditionErrorCode.INVALID_INSTANCE_GROUP_STATUS
    with pytest.raises(InstanceGroupBusy):
        outcome.raise_for_failures()


def test_incompatible_zones_and_types_are_per_group_failures(
    client: SageMakerClient, hyperpod: LocalHyperPod
) -> None:
    flex = group(
        "flex",
        flexible=("ml.g6e.12xlarge", "ml.g6.12xlarge"),
        OverrideVpcConfig=in_zones("us-east-1a", "us-east-1b"),
    )
    create_cluster(client, "inference", flex)
    request = NodeAdditionRequest(
        groups=(GroupAddition(instance_group="flex", count=1, instance_types=("ml.p5.48xlarge",)),),
        client_token="t-types",
    )
    zones = NodeAdditionRequest(
        groups=(GroupAddition(instance_group="flex", count=1, availability_zones=("us-east-1c",)),),
        client_token="t-zones",
    )
    fits = NodeAdditionRequest(
        groups=(
            GroupAddition(
                instance_group="flex",
                count=1,
                instance_types=("ml.g6.12xlarge",),
                availability_zones=("us-east-1b",),
            ),
        ),
        client_token="t-fits",
    )

    with pytest.raises(IncompatibleInstanceTypes):
        adapter(client).add_nodes(request).raise_for_failures()
    with pytest.raises(IncompatibleAvailabilityZones):
        adapter(client).add_nodes(zones).raise_for_failures()
    assert len(adapter(client).add_nodes(fits).added) == 1


def test_a_cluster_not_in_continuous_mode_is_named_as_the_reason(
    client: SageMakerClient, hyperpod: LocalHyperPod
) -> None:
    create_cluster(client, continuous=False)

    with pytest.raises(NotContinuousProvisioning, match="BatchAddClusterNodes"):
        adapter(client).add_nodes(_add({"gpu": 1}))
    with pytest.raises(NotContinuousProvisioning, match="ListClusterEvents"):
        adapter(client).list_events()

    client.update_cluster(ClusterName="inference", NodeProvisioningMode="Continuous")
    assert len(adapter(client).add_nodes(_add({"gpu": 1})).added) == 1


def test_a_quota_refuses_the_whole_request(client: SageMakerClient, hyperpod: LocalHyperPod) -> None:
    create_cluster(client, "inference", group("p5", "ml.p5.48xlarge"), group("cpu", "ml.c5.2xlarge"))
    hyperpod.set_quota("ml.p5.48xlarge", 2)
    adapter(client).add_nodes(_add({"p5": 2}, chunk=0))

    with pytest.raises(HyperPodQuotaExceeded) as caught:
        adapter(client).add_nodes(_add({"p5": 1, "cpu": 1}, chunk=1))

    assert caught.value.quota_name == "ml.p5.48xlarge for cluster usage"
    cluster = adapter(client).describe_cluster()
    assert [(group.name, group.target_count) for group in cluster.instance_groups] == [("p5", 2), ("cpu", 0)]


@pytest.mark.parametrize(
    ("code", "error"),
    [("ThrottlingException", HyperPodThrottled), ("ServiceUnavailable", HyperPodUnavailable)],
)
def test_throttling_and_outages_are_retryable_and_retrying_works(
    client: SageMakerClient, hyperpod: LocalHyperPod, code: str, error: type[Exception]
) -> None:
    create_cluster(client)
    request = _add({"gpu": 1})
    hyperpod.inject_errors("BatchAddClusterNodes", code)
    hyperpod.inject_errors("ListClusterNodes", code)

    with pytest.raises(error):
        adapter(client).add_nodes(request)
    with pytest.raises(error):
        adapter(client).list_nodes()
    assert len(adapter(client).add_nodes(request).added) == 1
    assert len(adapter(client).list_nodes()) == 1


def test_delete_by_instance_id_and_by_logical_id(
    client: SageMakerClient, hyperpod: LocalHyperPod, world: ManualWorld
) -> None:
    create_cluster(client)
    adapter(client).add_nodes(_add({"gpu": 3}))
    world.advance(BOOTED)
    running, *_ = adapter(client).list_nodes()
    hyperpod.set_capacity("ml.g6e.12xlarge", 3, availability_zone=ZONE)
    pending = adapter(client).add_nodes(_add({"gpu": 1}, chunk=1)).added[0]
    assert running.instance_id is not None

    outcome = adapter(client).delete_nodes(
        NodeDeletionRequest(
            node_ids=(running.instance_id, "i-00000000000000000"), logical_ids=(pending.logical_id,)
        )
    )

    assert outcome.deleted_ids == (running.instance_id,)
    assert outcome.deleted_logical_ids == (pending.logical_id,)
    assert outcome.already_gone == ("i-00000000000000000",)
    assert outcome.failed[0].code is DeletionErrorCode.NODE_ID_NOT_FOUND
    nodes = {node.key: node for node in adapter(client).list_nodes()}
    assert pending.logical_id not in nodes  # never launched: gone at once
    assert running.logical_id is not None
    assert classify_node(nodes[running.logical_id], node_recovery="Automatic") is NodeCondition.SHUTTING_DOWN
    gpu = adapter(client).describe_cluster().group("gpu")
    assert gpu is not None
    assert gpu.target_count == 2  # the deletions lowered the target: nothing replaces them

    world.advance(BOOTED)
    assert len(adapter(client).list_nodes()) == 2
    again = adapter(client).delete_nodes(NodeDeletionRequest(node_ids=(running.instance_id,)))
    assert again.already_gone == (running.instance_id,)


def test_a_node_shutting_down_cannot_be_deleted_again(
    client: SageMakerClient, hyperpod: LocalHyperPod, world: ManualWorld
) -> None:
    create_cluster(client)
    adapter(client).add_nodes(_add({"gpu": 1}))
    world.advance(BOOTED)
    node = adapter(client).list_nodes()[0]
    assert node.instance_id is not None
    adapter(client).delete_nodes(NodeDeletionRequest(node_ids=(node.instance_id,)))

    outcome = adapter(client).delete_nodes(NodeDeletionRequest(node_ids=(node.instance_id,)))

    assert outcome.failed[0].code is DeletionErrorCode.INVALID_NODE_STATUS
    assert outcome.retry_later == (node.instance_id,)


def test_list_events_reads_every_page_oldest_first(
    client: SageMakerClient, hyperpod: LocalHyperPod, world: ManualWorld
) -> None:
    create_cluster(client)
    adapter(client).add_nodes(_add({"gpu": 4}))
    world.advance(BOOTED)

    events = adapter(client, page_size=3).list_events()

    assert len(events) > 3
    assert [event.time for event in events] == sorted(event.time for event in events)
    later = adapter(client).list_events(after=events[-2].time)
    assert [event.event_id for event in later] == [
        event.event_id for event in events if event.time > events[-2].time
    ]


def test_the_client_is_created_on_first_use_and_only_once(
    client: SageMakerClient, hyperpod: LocalHyperPod
) -> None:
    created: list[SageMakerClient] = []

    def factory() -> SageMakerClient:
        created.append(client)
        return client

    api = SageMakerHyperPod("inference", client_factory=factory)
    assert created == []  # constructing the adapter (e.g. at a Lambda's import) creates no client
    create_cluster(client)

    api.describe_cluster()
    api.list_nodes()

    assert len(created) == 1


def test_the_adapters_own_client_is_mocked_when_made_under_the_mock(
    client: SageMakerClient, hyperpod: LocalHyperPod
) -> None:
    create_cluster(client)

    described = SageMakerHyperPod("inference", region_name=REGION, sdk_attempts=1).describe_cluster()

    assert described.name == "inference"


def test_a_partly_failed_request_names_each_added_node_with_its_own_group(
    client: SageMakerClient, hyperpod: LocalHyperPod, world: ManualWorld
) -> None:
    # Failed groups come first and in between, with counts unlike the others', so that a mapping
    # by position (of the request's groups, or of the response's entries) shows. The API Reference
    # of BatchAddClusterNodes: Successful lists each NodeLogicalId with its InstanceGroupName,
    # Failed each group's ErrorCode and FailedCount; a retry with the same ClientToken "returns
    # the same set of NodeLogicalIds with their latest status".
    create_cluster(client, "inference", group("busy"), group("gpu"), group("cpu", "ml.c5.2xlarge"))
    hyperpod.set_instance_group_status("inference", "busy", "Updating")
    request = NodeAdditionRequest(
        groups=(
            GroupAddition(instance_group="busy", count=3),
            GroupAddition(instance_group="gpu", count=2),
            GroupAddition(instance_group="typo", count=1),
            GroupAddition(instance_group="cpu", count=4),
        ),
        client_token=client_token("pool-g3-c0", 0, 0),
    )

    outcome = adapter(client).add_nodes(request)
    replayed = adapter(client).add_nodes(request)
    world.advance(60)

    where = {
        node.logical_id: client.describe_cluster_node(ClusterName="inference", NodeLogicalId=node.logical_id)[
            "NodeDetails"
        ]["InstanceGroupName"]
        for node in outcome.added
    }
    assert where == {node.logical_id: node.instance_group for node in outcome.added}
    assert sorted(where.values()) == ["cpu"] * 4 + ["gpu"] * 2
    assert sorted((f.instance_group, f.code, f.failed_count) for f in outcome.failed) == [
        ("busy", AdditionErrorCode.INVALID_INSTANCE_GROUP_STATUS, 3),
        ("typo", AdditionErrorCode.INSTANCE_GROUP_NOT_FOUND, 1),
    ]
    listed = client.list_cluster_nodes(ClusterName="inference", IncludeNodeLogicalIds=True)
    assert {
        node["NodeLogicalId"]: node["InstanceGroupName"] for node in listed["ClusterNodeSummaries"]
    } == where
    targets = {group.name: group.target_count for group in adapter(client).describe_cluster().instance_groups}
    assert targets == {"busy": 0, "gpu": 2, "cpu": 4}
    # The replay names the same nodes with the same groups, and the same groups as failed.
    assert {node.logical_id: node.instance_group for node in replayed.added} == where
    assert replayed.failed == outcome.failed
