"""The stand-in's Spot instance groups, and a Spot instance EC2 reclaims, as HyperPod documents them.

Sources: "Spot instances in Amazon SageMaker HyperPod"
(https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-hyperpod-spot.html): a group is Spot
with `CapacityRequirements: {"Spot": {}}`, which "cannot be modified once an Instance Group is
created"; DescribeCluster shows it, DescribeClusterNode's sample has `"CapacityType": "Spot"`;
on an interruption HyperPod taints the node, evicts its pods and replaces the capacity, and for a
group outside Karpenter "attempts to scale up within the same instance group until the required
capacity becomes available". "SageMaker HyperPod cluster events reference"
(.../sagemaker-hyperpod-cluster-events-reference.html): no row names Spot or an interruption; the
instance's going is the "EC2 instance termination in progress" row, "Termination of EC2 Instance
<instance-id> is currently in progress in Cluster <cluster-name> and IG <instance-group-name>",
in the record shape of the reference's complete sample.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from botocore.exceptions import ClientError
from hyperpod_testkit import ZONE, adapter, create_cluster, group

from ebb.adapters.hyperpod_events import ClusterEventNotification
from ebb.adapters.hyperpod_models import InstanceStatus
from ebb.adapters.hyperpod_requests import GroupAddition, NodeAdditionRequest
from ebb.local.hyperpod import LocalHyperPod, ManualWorld, NodeChange, NodeTransition
from ebb.local.hyperpod.errors import StandInMisuse
from ebb.local.hyperpod.service_model import response_problems

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

pytestmark = pytest.mark.integration

GPU = "ml.g5.12xlarge"
SPOT = {"CapacityRequirements": {"Spot": {}}}
# The "EC2 instance termination in progress" row of the events reference.
TERMINATION = re.compile(
    r"^Termination of EC2 Instance (i-[0-9a-f]{17}) is currently in progress"
    r" in Cluster inference and IG spot$"
)
# The members of the reference's complete sample record (its Instance event).
SAMPLE_RECORD = {
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


def _spot_cluster(client: SageMakerClient, world: ManualWorld, running: int = 1) -> str:
    create_cluster(client, "inference", group("spot", GPU, **SPOT), group("gpu", GPU))
    api = adapter(client)
    api.add_nodes(
        NodeAdditionRequest(
            groups=(GroupAddition(instance_group="spot", count=running),), client_token="pool-g1-c0-r0"
        )
    )
    world.advance(1200)  # launched, booted, Running
    (node,) = [n for n in api.list_nodes() if n.instance_group == "spot"][:1]
    assert node.status is InstanceStatus.RUNNING
    assert node.instance_id is not None
    return node.instance_id


def test_a_spot_group_says_so_in_describe_cluster_and_describe_cluster_node(
    client: SageMakerClient, hyperpod: LocalHyperPod, world: ManualWorld
) -> None:
    instance = _spot_cluster(client, world)
    groups = {
        g["InstanceGroupName"]: g for g in client.describe_cluster(ClusterName="inference")["InstanceGroups"]
    }
    assert groups["spot"]["CapacityRequirements"] == {"Spot": {}}
    assert "CapacityRequirements" not in groups["gpu"]
    described = client.describe_cluster_node(ClusterName="inference", NodeId=instance)
    assert response_problems("DescribeClusterNode", described) == []
    assert described["NodeDetails"]["CapacityType"] == "Spot"
    with pytest.raises(ClientError, match="CapacityRequirements cannot be modified"):
        client.update_cluster(
            ClusterName="inference",
            InstanceGroups=[group("spot", GPU, 1, CapacityRequirements={"OnDemand": {}})],
        )


def test_a_reclaimed_spot_instance_is_noticed_terminated_with_the_documented_event_and_replaced(
    client: SageMakerClient, hyperpod: LocalHyperPod, world: ManualWorld
) -> None:
    instance = _spot_cluster(client, world)
    changes: list[NodeTransition] = []
    hyperpod.add_node_observer(changes.append)
    # EC2 takes its Spot capacity back: the pool has room for no instance of the type there.
    hyperpod.set_capacity(GPU, 0, availability_zone=ZONE, capacity_type="Spot")
    seen = len(world.events)
    hyperpod.interrupt_spot("inference", instance)

    assert [c.change for c in changes] == [NodeChange.INTERRUPTION_NOTICE]
    world.advance(119)  # the notice: the instance still runs
    (node,) = [n for n in adapter(client).list_nodes() if n.instance_group == "spot"]
    assert node.status is InstanceStatus.RUNNING
    world.advance(1)

    api = adapter(client)
    (node,) = [n for n in api.list_nodes() if n.instance_group == "spot"]
    assert (node.instance_id, node.status) == (instance, InstanceStatus.SHUTTING_DOWN)
    (published,) = world.events[seen:]
    # Exactly the reference's record: its envelope and members, the termination row's text.
    record = published["detail"]["EventDetails"]
    assert record.keys() == SAMPLE_RECORD
    assert (record["ResourceType"], record["InstanceGroupName"], record["InstanceId"]) == (
        "Instance",
        "spot",
        instance,
    )
    found = TERMINATION.match(record["Description"])
    assert found is not None
    assert found.group(1) == instance
    assert record["EventDetails"]["EventMetadata"]["Instance"].keys() == {"NodeLogicalId"}
    notification = ClusterEventNotification.model_validate(published)
    assert notification.event.terminating_instance == instance
    spot = api.describe_cluster().group("spot")
    assert spot is not None
    assert spot.target_count == 1

    world.advance(90)  # the shutdown: gone, and a new node in the group, short of Spot capacity
    world.advance(60)
    spot_nodes = [n for n in api.list_nodes() if n.instance_group == "spot"]
    assert [n.instance_id for n in spot_nodes if n.instance_id] == []
    (replacement,) = spot_nodes
    assert replacement.status is InstanceStatus.FAILURE
    assert "sufficient capacity" in (replacement.message or "")
    assert [c.change for c in changes][:4] == [
        NodeChange.INTERRUPTION_NOTICE,
        NodeChange.SHUTTING_DOWN,
        NodeChange.TERMINATED,
        NodeChange.LAUNCH_FAILED,
    ]
    # The on-demand pool of the same type and zone is another pool: it still launches.
    api.add_nodes(
        NodeAdditionRequest(
            groups=(GroupAddition(instance_group="gpu", count=1),), client_token="pool-g2-c0-r0"
        )
    )
    world.advance(20)
    assert [n.instance_id is not None for n in api.list_nodes() if n.instance_group == "gpu"] == [True]

    # Spot capacity comes back: HyperPod's retries find it.
    hyperpod.set_capacity(GPU, None, availability_zone=ZONE, capacity_type="Spot")
    world.advance(1500)
    (replacement,) = [n for n in api.list_nodes() if n.instance_group == "spot"]
    assert replacement.status is InstanceStatus.RUNNING


def test_without_notice_the_instance_goes_at_once(
    client: SageMakerClient, hyperpod: LocalHyperPod, world: ManualWorld
) -> None:
    instance = _spot_cluster(client, world)
    hyperpod.interrupt_spot("inference", instance, notice_seconds=0)
    (node,) = [n for n in adapter(client).list_nodes() if n.instance_group == "spot"]
    assert node.status is InstanceStatus.SHUTTING_DOWN


def test_only_a_spot_instance_that_runs_is_reclaimed(
    client: SageMakerClient, hyperpod: LocalHyperPod, world: ManualWorld
) -> None:
    instance = _spot_cluster(client, world)
    api = adapter(client)
    api.add_nodes(
        NodeAdditionRequest(
            groups=(GroupAddition(instance_group="gpu", count=1),), client_token="pool-g2-c0-r0"
        )
    )
    world.advance(20)
    (on_demand,) = [n for n in api.list_nodes() if n.instance_group == "gpu"]
    with pytest.raises(StandInMisuse, match="group gpu is OnDemand, not Spot"):
        hyperpod.interrupt_spot("inference", str(on_demand.instance_id))
    hyperpod.interrupt_spot("inference", instance, notice_seconds=0)
    with pytest.raises(StandInMisuse, match="no instance to reclaim"):
        hyperpod.interrupt_spot("inference", instance)
