"""Where HyperPod puts a group's instances, what a zone's shortage does, and a cluster's own life.

Zones come from EC2, not from the stand-in: each test reads the subnets of moto's default VPC with
EC2's DescribeSubnets and expects the stand-in to agree with it. Sources:
- "Create a NodeClass" (https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-hyperpod-eks-autoscaling-nodeclass.html):
  "Subnets used by the instance group should belong to the same AZ. Subnets are specified either
  using OverrideVpcConfig at the instance group" level or the cluster's VpcConfig.
- EC2's insufficient capacity is per Availability Zone ("We currently do not have sufficient
  p4d.24xlarge capacity in the Availability Zone you requested (us-east-1d) ... by choosing
  us-east-1a, us-east-1b", EC2 error InsufficientInstanceCapacity); HyperPod reports it with the
  message of the cluster events reference's sample.
- botocore's SageMaker model: CreateClusterRequest.NodeProvisioningMode ("Your clusters and
  instance groups remain InService while scaling"; the API Reference of UpdateCluster adds "The
  cluster becomes operational once cluster-level resources are ready"), the ClusterStatus enum,
  ClusterNodeDetails' PrivatePrimaryIp, PrivateDnsHostname and Placement patterns.
- "Subnet CIDR blocks" (Amazon VPC User Guide): the first four and the last address of a subnet are
  reserved; "Hostname types" (Amazon EC2 User Guide): IP names `ip-<a-b-c-d>.ec2.internal` in
  us-east-1 (moto's EC2 `Instance.private_dns_name` writes them so too).
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any, get_args

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.loaders import Loader
from hyperpod_testkit import EKS, adapter, create_cluster, group, in_zones, subnet

from ebb.adapters.hyperpod_models import ClusterStatus, NodeCondition, classify_node
from ebb.adapters.hyperpod_outcomes import AdditionErrorCode
from ebb.adapters.hyperpod_requests import GroupAddition, NodeAdditionRequest, client_token
from ebb.local.hyperpod import LocalHyperPod, ManualWorld
from ebb.local.hyperpod.errors import StandInMisuse
from ebb.local.hyperpod.lifecycle import DEFAULT_CREATION_SECONDS
from ebb.local.hyperpod.service_model import response_problems

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

pytestmark = pytest.mark.integration

GPU = "ml.g5.12xlarge"
HOUR = 3600.0
SHORT = "us-east-1a"
AMPLE = "us-east-1b"
_SHAPES: dict[str, Any] = Loader().load_service_model("sagemaker", "service-2")["shapes"]


def _ec2_subnet(zone: str) -> dict[str, Any]:
    subnets = boto3.client("ec2", region_name="us-east-1").describe_subnets(SubnetIds=[subnet(zone)])
    found: dict[str, Any] = subnets["Subnets"][0]
    return found


def _add(
    groups: dict[str, int], *, zones: tuple[str, ...] | None = None, chunk: int = 0
) -> NodeAdditionRequest:
    return NodeAdditionRequest(
        groups=tuple(
            GroupAddition(instance_group=name, count=count, availability_zones=zones)
            for name, count in groups.items()
        ),
        client_token=client_token("zones", 0, chunk),
    )


def _node_details(client: SageMakerClient, logical_id: str) -> dict[str, Any]:
    details: dict[str, Any] = client.describe_cluster_node(ClusterName="inference", NodeLogicalId=logical_id)[
        "NodeDetails"
    ]
    return details


def test_one_zone_out_of_a_type_leaves_the_other_zone_launching(
    client: SageMakerClient, hyperpod: LocalHyperPod, world: ManualWorld
) -> None:
    # The README's layout: one instance group per zone, both of one GPU type.
    create_cluster(
        client,
        "inference",
        group("gpu-a", GPU, OverrideVpcConfig=in_zones(SHORT)),
        group("gpu-b", GPU, OverrideVpcConfig=in_zones(AMPLE)),
    )
    hyperpod.set_capacity(GPU, 0, availability_zone=SHORT)
    api = adapter(client)

    outcome = api.add_nodes(_add({"gpu-a": 1, "gpu-b": 1}))
    world.advance(HOUR)

    by_group = {node.instance_group: node for node in api.list_nodes()}
    starved, launched = by_group["gpu-a"], by_group["gpu-b"]
    assert classify_node(starved, node_recovery="Automatic") is NodeCondition.FAILED_CAPACITY
    assert starved.message == (
        f"We currently do not have sufficient capacity to launch new {GPU} instances. Please try again."
    )
    assert classify_node(launched, node_recovery="Automatic") is NodeCondition.USABLE
    placement = _node_details(client, str(launched.logical_id))["Placement"]
    ec2 = _ec2_subnet(AMPLE)
    assert placement == {"AvailabilityZone": AMPLE, "AvailabilityZoneId": ec2["AvailabilityZoneId"]}
    assert {node.instance_group for node in outcome.added} == {"gpu-a", "gpu-b"}

    # Capacity returns in us-east-1a: HyperPod's own retries launch the starved node there.
    hyperpod.set_capacity(GPU, None, availability_zone=SHORT)
    world.advance(HOUR)
    assert _node_details(client, str(starved.logical_id))["Placement"]["AvailabilityZone"] == SHORT


def test_a_group_over_two_zones_falls_back_to_the_zone_with_room_unless_the_request_names_one(
    client: SageMakerClient, hyperpod: LocalHyperPod, world: ManualWorld
) -> None:
    create_cluster(client, "inference", group("gpu", GPU, OverrideVpcConfig=in_zones(SHORT, AMPLE)))
    hyperpod.set_capacity(GPU, 1, availability_zone=SHORT)
    api = adapter(client)

    first = api.add_nodes(_add({"gpu": 2}, chunk=0))
    pinned = api.add_nodes(_add({"gpu": 1}, zones=(SHORT,), chunk=1))
    world.advance(HOUR)

    zones = sorted(
        _node_details(client, node.logical_id).get("Placement", {}).get("AvailabilityZone", "none")
        for node in first.added
    )
    assert zones == [SHORT, AMPLE]
    (only_short,) = pinned.added
    details = _node_details(client, only_short.logical_id)
    assert details["InstanceStatus"]["Status"] == "Failure"
    assert "sufficient capacity" in details["InstanceStatus"]["Message"]
    assert "Placement" not in details  # no instance: no zone yet


def test_capacity_is_set_per_zone_of_the_region(hyperpod: LocalHyperPod) -> None:
    with pytest.raises(StandInMisuse, match=r"'us-west-2a' is not a zone of us-east-1"):
        hyperpod.set_capacity(GPU, 1, availability_zone="us-west-2a")
    with pytest.raises(StandInMisuse, match="available: -1 is negative"):
        hyperpod.set_capacity(GPU, -1, availability_zone=SHORT)


def test_a_groups_zone_is_its_own_subnets_else_the_clusters(
    client: SageMakerClient, hyperpod: LocalHyperPod, world: ManualWorld
) -> None:
    # The cluster's subnet is in us-east-1c; one group overrides it with us-east-1d.
    create_cluster(
        client,
        "inference",
        group("gpu", GPU),
        group("gpu-d", GPU, OverrideVpcConfig=in_zones("us-east-1d")),
        VpcConfig=in_zones("us-east-1c"),
    )
    api = adapter(client)
    outcome = api.add_nodes(_add({"gpu": 1, "gpu-d": 1}))
    world.advance(HOUR)

    zones = {
        node.instance_group: _node_details(client, node.logical_id)["Placement"]["AvailabilityZone"]
        for node in outcome.added
    }
    assert zones == {"gpu": "us-east-1c", "gpu-d": "us-east-1d"}
    # What the Kubernetes node is labelled with follows (topology.kubernetes.io/zone).
    for node in api.list_nodes():
        assert node.instance_id is not None
        labels = hyperpod.kubernetes_labels("inference", node.instance_id)
        assert labels["topology.kubernetes.io/zone"] == zones[node.instance_group]
    # A zone the group's subnets do not cover is refused for that group alone.
    refused = api.add_nodes(_add({"gpu-d": 1}, zones=("us-east-1c",), chunk=1))
    assert [(failure.instance_group, failure.code) for failure in refused.failed] == [
        ("gpu-d", AdditionErrorCode.INCOMPATIBLE_AVAILABILITY_ZONES)
    ]


def test_a_cluster_needs_subnets_ec2_knows(client: SageMakerClient, hyperpod: LocalHyperPod) -> None:
    base: dict[str, Any] = {
        "ClusterName": "inference",
        "Orchestrator": {"Eks": {"ClusterArn": EKS}},
        "NodeProvisioningMode": "Continuous",
    }
    with pytest.raises(ClientError) as caught:
        client.create_cluster(
            **base,
            InstanceGroups=[group("gpu")],
            VpcConfig={"SecurityGroupIds": ["sg-0123456789"], "Subnets": ["subnet-0123456789abcdef0"]},
        )
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "Subnet subnet-0123456789abcdef0 does not exist" in caught.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as caught:
        client.create_cluster(**base, InstanceGroups=[group("gpu")])
    assert "Instance group gpu: no subnets" in caught.value.response["Error"]["Message"]
    with pytest.raises(ClientError):
        client.describe_cluster(ClusterName="inference")  # nothing was created


def test_a_launched_node_has_a_private_address_of_its_subnet_and_ec2s_name_for_it(
    client: SageMakerClient, hyperpod: LocalHyperPod, world: ManualWorld
) -> None:
    create_cluster(client, "inference", group("gpu", GPU, OverrideVpcConfig=in_zones(AMPLE)))
    api = adapter(client)
    outcome = api.add_nodes(_add({"gpu": 3}))
    world.advance(HOUR)

    network = ipaddress.ip_network(_ec2_subnet(AMPLE)["CidrBlock"])
    addresses = []
    for added in outcome.added:
        response = client.describe_cluster_node(ClusterName="inference", NodeLogicalId=added.logical_id)
        assert response_problems("DescribeClusterNode", response) == []  # the model's IP/DNS patterns
        details = response["NodeDetails"]
        address = ipaddress.ip_address(details["PrivatePrimaryIp"])
        assert address in network
        assert network[4] <= address < network[-1]  # AWS's reserved addresses are never given
        assert details["PrivateDnsHostname"] == "ip-{}.ec2.internal".format(str(address).replace(".", "-"))
        addresses.append(address)
    assert len(set(addresses)) == 3
    listed = client.list_cluster_nodes(ClusterName="inference")["ClusterNodeSummaries"]
    expected_names = {"ip-{}.ec2.internal".format(str(address).replace(".", "-")) for address in addresses}
    assert {summary["PrivateDnsHostname"] for summary in listed} == expected_names

    # A replacement is a new instance: a new address in the same subnet, the same NodeLogicalId.
    replaced = outcome.added[0].logical_id
    hyperpod.inject_fault("inference", replaced, repair="Replace")
    world.advance(HOUR)
    details = _node_details(client, replaced)
    assert ipaddress.ip_address(details["PrivatePrimaryIp"]) in network
    assert ipaddress.ip_address(details["PrivatePrimaryIp"]) != addresses[0]


def test_a_new_cluster_is_creating_then_in_service_and_refuses_nodes_meanwhile(
    client: SageMakerClient, hyperpod: LocalHyperPod, world: ManualWorld
) -> None:
    create_cluster(client, in_service=False)
    api = adapter(client)

    creating = api.describe_cluster()
    assert creating.status == "Creating"
    assert {group.status for group in creating.instance_groups} == {"Creating"}
    refused = api.add_nodes(_add({"gpu": 1}))
    assert [failure.code for failure in refused.failed] == [AdditionErrorCode.INVALID_INSTANCE_GROUP_STATUS]

    world.advance(DEFAULT_CREATION_SECONDS)
    in_service = api.describe_cluster()
    assert in_service.status == "InService"
    assert {group.status for group in in_service.instance_groups} == {"InService"}
    assert api.add_nodes(_add({"gpu": 1}, chunk=1)).failed == ()
    clusters = [event for event in api.list_events() if event.resource_type == "Cluster"]
    assert [(event.level, event.description) for event in clusters] == [
        ("Info", "Cluster inference Create started successfully"),
        ("Info", "Cluster inference Create completed successfully"),
    ]
    # The statuses ebb reads are botocore's ClusterStatus enum, no more, no less.
    assert set(get_args(ClusterStatus)) == set(_SHAPES["ClusterStatus"]["enum"])


def test_without_continuous_provisioning_creation_waits_for_its_instances_or_fails(
    client: SageMakerClient, hyperpod: LocalHyperPod, world: ManualWorld
) -> None:
    create_cluster(client, "inference", group("gpu", GPU, count=2), continuous=False, in_service=False)
    world.advance(HOUR)
    assert client.describe_cluster(ClusterName="inference")["ClusterStatus"] == "InService"
    client.delete_cluster(ClusterName="inference")

    hyperpod.set_capacity(GPU, 1, availability_zone="us-east-1a")
    create_cluster(client, "inference", group("gpu", GPU, count=2), continuous=False, in_service=False)
    world.advance(HOUR)
    described = client.describe_cluster(ClusterName="inference")
    assert described["ClusterStatus"] == "Failed"
    assert "sufficient capacity" in described["FailureMessage"]
    assert response_problems("DescribeCluster", described) == []
