"""Shared set-up of the HyperPod integration tests: clusters as ebb's users create them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3

from ebb.adapters.hyperpod import SageMakerHyperPod
from ebb.local.hyperpod import ManualWorld, installed
from ebb.local.hyperpod.lifecycle import DEFAULT_CREATION_SECONDS

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/hyperpod-execution"
EKS = "arn:aws:eks:us-east-1:123456789012:cluster/inference"
ZONE = "us-east-1a"
SECURITY_GROUP = "sg-0123456789"


def subnet(zone: str = ZONE) -> str:
    """The default subnet of `zone` in moto's default VPC (mock_aws creates one per zone)."""
    subnets = boto3.client("ec2", region_name=REGION).describe_subnets(
        Filters=[
            {"Name": "availability-zone", "Values": [zone]},
            {"Name": "default-for-az", "Values": ["true"]},
        ]
    )["Subnets"]
    return subnets[0]["SubnetId"]


def in_zones(*zones: str) -> dict[str, Any]:
    """An OverrideVpcConfig with one subnet in each of `zones`."""
    return {"SecurityGroupIds": [SECURITY_GROUP], "Subnets": [subnet(zone) for zone in zones]}


def adapter(client: SageMakerClient, cluster: str = "inference", **options: Any) -> SageMakerHyperPod:
    """ebb's adapter on `cluster`, over the test's client."""
    return SageMakerHyperPod(cluster, client_factory=lambda: client, **options)


def group(
    name: str,
    instance_type: str = "ml.g6e.12xlarge",
    count: int = 0,
    *,
    flexible: tuple[str, ...] = (),
    **extra: Any,
) -> dict[str, Any]:
    """An instance group specification of CreateCluster / UpdateCluster (flexible: several types)."""
    specification: dict[str, Any] = {
        "InstanceGroupName": name,
        "InstanceCount": count,
        "LifeCycleConfig": {"SourceS3Uri": "s3://sagemaker-lifecycle/", "OnCreate": "on_create.sh"},
        "ExecutionRole": ROLE,
        **extra,
    }
    if flexible:
        specification["InstanceRequirements"] = {"InstanceTypes": list(flexible)}
    else:
        specification["InstanceType"] = instance_type
    return specification


def create_cluster(
    client: SageMakerClient,
    name: str = "inference",
    *groups: dict[str, Any],
    continuous: bool = True,
    in_service: bool = True,
    **extra: Any,
) -> str:
    """Create a cluster (Continuous, EKS-orchestrated, in us-east-1a by default); return its ARN.

    With `in_service`, the installed stand-in's manual world is advanced past the cluster's
    creation, so that it is InService (in Continuous mode) when this returns."""
    request: dict[str, Any] = {
        "ClusterName": name,
        "InstanceGroups": list(groups) or [group("gpu"), group("cpu", "ml.c5.2xlarge")],
        "Orchestrator": {"Eks": {"ClusterArn": EKS}},
        "VpcConfig": {"SecurityGroupIds": [SECURITY_GROUP], "Subnets": [subnet()]},
        **extra,
    }
    if continuous:
        request["NodeProvisioningMode"] = "Continuous"
    arn = client.create_cluster(**request)["ClusterArn"]
    standin = installed()
    if in_service and standin is not None and isinstance(standin.world, ManualWorld):
        standin.world.advance(DEFAULT_CREATION_SECONDS)
    return arn
