"""The stand-in's operations answer with the shapes, enums and limits of botocore's service model,
and behave as the SageMaker API Reference documents them.

Every response below is checked against the model with `response_problems` (required members,
no unknown members, enums, lengths, ranges, patterns), so the stand-in is held to the model, not to
what ebb's adapter happens to read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError
from hyperpod_testkit import ZONE, create_cluster, group, in_zones

from ebb.local.hyperpod import LocalHyperPod, ManualWorld
from ebb.local.hyperpod.lifecycle import DEFAULT_CREATION_SECONDS
from ebb.local.hyperpod.service_model import response_problems

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

pytestmark = pytest.mark.integration

HOUR = 3600.0
# ClusterNodeSummary.InstanceId is required by the model, yet the API Reference says nodes "still
# being provisioned" have none ("only nodes with assigned InstanceIds are returned" without
# IncludeNodeLogicalIds). The stand-in leaves it out for them; nothing else may be missing.
NO_INSTANCE_YET = "Value 'null' at 'ClusterNodeSummaries.{}.member.InstanceId' failed to satisfy constraint"


def _clean(operation: str, response: Any, *, allowed: tuple[str, ...] = ()) -> None:
    problems = [
        problem for problem in response_problems(operation, response) if not problem.startswith(allowed)
    ]
    assert problems == [], f"{operation}: {problems}"


def _error(call: Any, **request: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**request)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def test_every_operation_answers_in_the_models_shapes(
    client: SageMakerClient, hyperpod: LocalHyperPod, world: ManualWorld
) -> None:
    hyperpod.set_capacity("ml.g6e.12xlarge", 1, availability_zone=ZONE)
    create = client.create_cluster(
        ClusterName="inference",
        InstanceGroups=[
            group("gpu", OnStartDeepHealthChecks=["InstanceStress"], ThreadsPerCore=1),
            group("flex", flexible=("ml.g6.12xlarge", "ml.g6e.12xlarge"), count=1),
        ],
        NodeProvisioningMode="Continuous",
        NodeRecovery="Automatic",
        Orchestrator={"Eks": {"ClusterArn": "arn:aws:eks:us-east-1:123456789012:cluster/inference"}},
        VpcConfig=in_zones(ZONE),
    )
    _clean("CreateCluster", create)
    world.advance(DEFAULT_CREATION_SECONDS)
    added = client.batch_add_cluster_nodes(
        ClusterName="inference",
        ClientToken="token-1",
        NodesToAdd=[
            {"InstanceGroupName": "gpu", "IncrementTargetCountBy": 2},
            {"InstanceGroupName": "nope", "IncrementTargetCountBy": 1},
        ],
    )
    _clean("BatchAddClusterNodes", added)
    world.advance(60)
    listed = client.list_cluster_nodes(ClusterName="inference", IncludeNodeLogicalIds=True)
    unlaunched = [
        index
        for index, node in enumerate(listed["ClusterNodeSummaries"], start=1)
        if "InstanceId" not in node
    ]
    assert unlaunched  # capacity for one: the others are still being provisioned
    _clean(
        "ListClusterNodes",
        listed,
        allowed=tuple(NO_INSTANCE_YET.format(index) for index in unlaunched),
    )
    world.advance(HOUR)
    launched = next(node for node in listed["ClusterNodeSummaries"] if "InstanceId" in node)
    responses: dict[str, Any] = {
        "DescribeCluster": client.describe_cluster(ClusterName=create["ClusterArn"]),
        "ListClusters": client.list_clusters(),
        "DescribeClusterNode": client.describe_cluster_node(
            ClusterName="inference", NodeId=launched["InstanceId"]
        ),
        "UpdateCluster": client.update_cluster(
            ClusterName="inference", InstanceGroups=[group("cpu", "ml.c5.xlarge", 1)]
        ),
        "ListClusterEvents": client.list_cluster_events(ClusterName="inference"),
    }
    event_id = responses["ListClusterEvents"]["Events"][0]["EventId"]
    responses["DescribeClusterEvent"] = client.describe_cluster_event(
        ClusterName="inference", EventId=event_id
    )
    responses["BatchDeleteClusterNodes"] = client.batch_delete_cluster_nodes(
        ClusterName="inference", NodeIds=[launched["InstanceId"], "i-00000000000000000"]
    )
    responses["DeleteCluster"] = client.delete_cluster(ClusterName="inference")
    for operation, response in responses.items():
        _clean(operation, response)
    assert set(responses) | {"CreateCluster", "BatchAddClusterNodes", "ListClusterNodes"} == set(
        hyperpod.operations
    )


def test_requests_are_validated_as_the_model_constrains_them(
    client: SageMakerClient, hyperpod: LocalHyperPod
) -> None:
    create_cluster(client)

    code, message = _error(client.list_cluster_events, ClusterName="inference", SortOrder="Sideways")
    assert code == "ValidationException"
    assert "Value 'Sideways' at 'sortOrder' failed to satisfy constraint" in message
    code, message = _error(client.describe_cluster, ClusterName="not_a_valid_name!")
    assert (code, "regular expression pattern") == (
        "ValidationException",
        message.split(": Member must satisfy ")[1][:26],
    )
    code, message = _error(client.list_cluster_nodes, ClusterName="inference", MaxResults=101)
    assert "Member must have value less than or equal to 100" in message


def test_ebbs_instance_types_are_accepted_beyond_motos_own_list(
    client: SageMakerClient, hyperpod: LocalHyperPod
) -> None:
    # The families of ebb's instance catalogue, and HyperPod's GPU types; moto 5.2.5's fixed list
    # has none of g6, g6e or p5en.
    types = [
        "ml.g5.12xlarge",
        "ml.g6.48xlarge",
        "ml.g6e.12xlarge",
        "ml.g6e.48xlarge",
        "ml.p5.48xlarge",
        "ml.p5en.48xlarge",
    ]
    create_cluster(client, "inference", *(group(f"g{index}", kind) for index, kind in enumerate(types)))

    described = client.describe_cluster(ClusterName="inference")["InstanceGroups"]

    assert [entry["InstanceType"] for entry in described] == types
    code, message = _error(
        client.create_cluster, ClusterName="other", InstanceGroups=[group("x", "ml.banana.large")]
    )
    assert code == "ValidationException"
    assert "ml.banana.large" in message


def test_provisioning_mode_recovery_and_autoscaling_are_kept(
    client: SageMakerClient, hyperpod: LocalHyperPod
) -> None:
    create_cluster(
        client,
        NodeRecovery="None",
        AutoScaling={"Mode": "Enable", "AutoScalerType": "Karpenter"},
        ClusterRole="arn:aws:iam::123456789012:role/hyperpod-autoscaling",
    )

    described = client.describe_cluster(ClusterName="inference")

    assert described["NodeProvisioningMode"] == "Continuous"
    assert described["NodeRecovery"] == "None"
    assert described["AutoScaling"] == {
        "Mode": "Enable",
        "AutoScalerType": "Karpenter",
        "Status": "InService",
    }
    code, _ = _error(
        client.create_cluster,
        ClusterName="legacy",
        InstanceGroups=[group("gpu")],
        AutoScaling={"Mode": "Enable", "AutoScalerType": "Karpenter"},
        ClusterRole="arn:aws:iam::123456789012:role/hyperpod-autoscaling",
    )
    assert code == "ValidationException"  # autoscaling is built on Continuous provisioning


def test_update_cluster_scales_adds_and_deletes_groups(
    client: SageMakerClient, hyperpod: LocalHyperPod, world: ManualWorld
) -> None:
    create_cluster(
        client, "inference", group("gpu", count=3), group("old", "ml.c5.large", 1), continuous=False
    )
    world.advance(HOUR)
    hyperpod.set_capacity("ml.g6e.12xlarge", 3, availability_zone=ZONE)
    client.update_cluster(ClusterName="inference", InstanceGroups=[group("gpu", count=4)])
    world.advance(60)
    starved = {
        node.logical_id for node in hyperpod.cluster("inference").nodes.values() if node.instance_id is None
    }
    assert len(starved) == 1

    client.update_cluster(
        ClusterName="inference",
        InstanceGroups=[group("gpu", count=2), group("new", "ml.c5.xlarge", 1)],
        InstanceGroupsToDelete=["old"],
        NodeProvisioningMode="Continuous",
    )

    nodes = hyperpod.cluster("inference").nodes.values()
    # HyperPod removes unlaunched nodes first, then the newest.
    assert starved.isdisjoint(node.logical_id for node in nodes)
    assert sorted(node.status for node in nodes if node.group == "gpu") == [
        "Running",
        "Running",
        "ShuttingDown",
    ]
    described = client.describe_cluster(ClusterName="inference")
    assert [(entry["InstanceGroupName"], entry["TargetCount"]) for entry in described["InstanceGroups"]] == [
        ("gpu", 2),
        ("new", 1),
    ]
    assert described["NodeProvisioningMode"] == "Continuous"


def test_describe_cluster_node_by_either_id_but_not_both(
    client: SageMakerClient, hyperpod: LocalHyperPod, world: ManualWorld
) -> None:
    create_cluster(client, "inference", group("gpu", count=1))
    world.advance(HOUR)
    (node,) = client.list_cluster_nodes(ClusterName="inference", IncludeNodeLogicalIds=True)[
        "ClusterNodeSummaries"
    ]

    by_id = client.describe_cluster_node(ClusterName="inference", NodeId=node["InstanceId"])["NodeDetails"]
    by_logical = client.describe_cluster_node(ClusterName="inference", NodeLogicalId=node["NodeLogicalId"])

    assert by_id == by_logical["NodeDetails"]
    assert by_id["NodeLogicalId"] == node["NodeLogicalId"]
    assert (
        _error(
            client.describe_cluster_node,
            ClusterName="inference",
            NodeId=node["InstanceId"],
            NodeLogicalId=node["NodeLogicalId"],
        )[0]
        == "ValidationException"
    )
    assert _error(client.describe_cluster_node, ClusterName="inference", NodeId="i-00000000000000000")[0] == (
        "ResourceNotFound"
    )


def test_cluster_events_filter_sort_and_page(
    client: SageMakerClient, hyperpod: LocalHyperPod, world: ManualWorld
) -> None:
    create_cluster(client, "inference", group("gpu", count=3), group("cpu", "ml.c5.large", 1))
    world.advance(HOUR)
    instance_id = client.list_cluster_nodes(ClusterName="inference", InstanceGroupNameContains="cpu")[
        "ClusterNodeSummaries"
    ][0]["InstanceId"]

    everything = client.list_cluster_events(ClusterName="inference")["Events"]
    times = [event["EventTime"] for event in everything]
    assert times == sorted(times, reverse=True)  # Descending by default
    assert {event["ResourceType"] for event in everything} == {"Cluster", "InstanceGroup", "Instance"}
    groups = client.list_cluster_events(
        ClusterName="inference", ResourceType="InstanceGroup", InstanceGroupName="cpu"
    )
    assert {(event["ResourceType"], event["InstanceGroupName"]) for event in groups["Events"]} == {
        ("InstanceGroup", "cpu")
    }
    one_node = client.list_cluster_events(ClusterName="inference", NodeId=instance_id)["Events"]
    assert one_node
    assert {event["InstanceId"] for event in one_node} == {instance_id}
    first = client.list_cluster_events(ClusterName="inference", MaxResults=4, SortOrder="Ascending")
    second = client.list_cluster_events(
        ClusterName="inference", MaxResults=4, SortOrder="Ascending", NextToken=first["NextToken"]
    )
    paged = [event["EventId"] for event in first["Events"] + second["Events"]]
    assert paged == [event["EventId"] for event in reversed(everything)][:8]
    assert (
        _error(client.list_cluster_events, ClusterName="inference", NextToken="forged")[0]
        == "ValidationException"
    )
    assert _error(
        client.describe_cluster_event, ClusterName="inference", EventId="00000000-0000-4000-8000-000000000000"
    )[0] == ("ResourceNotFound")


def test_events_exist_only_in_continuous_mode(
    client: SageMakerClient, hyperpod: LocalHyperPod, world: ManualWorld
) -> None:
    create_cluster(client, "legacy", group("gpu", count=1), continuous=False)
    world.advance(HOUR)

    code, message = _error(client.list_cluster_events, ClusterName="legacy")

    assert code == "ValidationException"
    assert "Continuous" in message
    assert world.events == []


def test_clusters_are_listed_and_names_are_unique(client: SageMakerClient, hyperpod: LocalHyperPod) -> None:
    create_cluster(client, "b-cluster")
    create_cluster(client, "a-cluster")

    names = [summary["ClusterName"] for summary in client.list_clusters(SortBy="NAME")["ClusterSummaries"]]

    assert names == ["a-cluster", "b-cluster"]
    assert (
        _error(client.create_cluster, ClusterName="a-cluster", InstanceGroups=[group("gpu")])[0]
        == "ResourceInUse"
    )
    assert (
        _error(
            client.batch_add_cluster_nodes,
            ClusterName="nowhere",
            NodesToAdd=[{"InstanceGroupName": "gpu", "IncrementTargetCountBy": 1}],
        )[0]
        == "ResourceNotFound"
    )
