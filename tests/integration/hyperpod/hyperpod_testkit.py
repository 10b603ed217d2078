"""Shared set-up of the HyperPod integration tests: clusters as ebb's users create them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ebb.adapters.hyperpod import SageMakerHyperPod

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/hyperpod-execution"
EKS = "arn:aws:eks:us-east-1:123456789012:cluster/inference"


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
    **extra: Any,
) -> str:
    """Create a cluster (Continuous, EKS-orchestrated by default); return its ARN."""
    request: dict[str, Any] = {
        "ClusterName": name,
        "InstanceGroups": list(groups) or [group("gpu"), group("cpu", "ml.c5.2xlarge")],
        "Orchestrator": {"Eks": {"ClusterArn": EKS}},
        "VpcConfig": {"SecurityGroupIds": ["sg-0123456789"], "Subnets": ["subnet-0123456789"]},
        **extra,
    }
    if continuous:
        request["NodeProvisioningMode"] = "Continuous"
    return client.create_cluster(**request)["ClusterArn"]
