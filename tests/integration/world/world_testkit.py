"""Shared pieces of the combined world's tests: the template, HyperPod clusters as ebb's users
create them, ebb's Kubernetes adapter pointed at the world's EKS cluster, and small readers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3

from ebb.adapters.kubernetes import EksKubernetesClient, Node, Pod, WorkloadRef
from ebb.local.cluster import HyperPodOnEks, node_name
from ebb.local.hyperpod.lifecycle import DEFAULT_CREATION_SECONDS
from ebb.local.kubernetes import StandInTimings

HERE = Path(__file__).parent
TEMPLATE = HERE / "template.yaml"
SEED = 23
REGION = "us-east-1"
ZONE = "us-east-1a"
ROLE = "arn:aws:iam::123456789012:role/hyperpod-execution"
CLUSTER = "inference"
GPU_TYPE = "ml.g5.12xlarge"  # 48 vCPUs, 192 GiB, 4 GPUs in ebb's catalogue
TIMINGS = StandInTimings(
    controller_delay_seconds=1,
    container_start_seconds=5,
    model_load_seconds=60,
    gpu_allocatable_delay_seconds=30,
    pod_termination_seconds=5,
)
WEB = WorkloadRef(namespace="default", name="web")
DEEP_HEALTH_CHECKS = ["InstanceStress", "InstanceConnectivity"]


def subnet(zone: str = ZONE) -> str:
    """The default subnet of `zone` in moto's default VPC (one per zone)."""
    return str(
        boto3.client("ec2", region_name=REGION).describe_subnets(
            Filters=[
                {"Name": "availability-zone", "Values": [zone]},
                {"Name": "default-for-az", "Values": ["true"]},
            ]
        )["Subnets"][0]["SubnetId"]
    )


def group(name: str = "gpu", instance_type: str = GPU_TYPE, count: int = 0, **extra: Any) -> dict[str, Any]:
    """An instance group specification of CreateCluster."""
    return {
        "InstanceGroupName": name,
        "InstanceType": instance_type,
        "InstanceCount": count,
        "LifeCycleConfig": {"SourceS3Uri": "s3://sagemaker-lifecycle/", "OnCreate": "on_create.sh"},
        "ExecutionRole": ROLE,
        **extra,
    }


def create_hyperpod_cluster(
    cluster: HyperPodOnEks,
    *groups: dict[str, Any],
    name: str = CLUSTER,
    eks_cluster_arn: str | None = None,
    boot_seconds: float | None = 300.0,
    deep_health_check_seconds: float = 1200.0,
) -> None:
    """A Continuous-mode cluster orchestrated by the world's EKS cluster, in us-east-1a, with fixed
    boot times (`boot_seconds=None`: the stand-in's default, drawn per node from the seeded
    generator); the world runs until the cluster is InService."""
    specifications = list(groups) or [group()]
    cluster.world.clients.client("sagemaker").create_cluster(
        ClusterName=name,
        InstanceGroups=specifications,
        Orchestrator={"Eks": {"ClusterArn": eks_cluster_arn or cluster.eks_cluster_arn}},
        VpcConfig={"SecurityGroupIds": ["sg-0123456789"], "Subnets": [subnet()]},
        NodeProvisioningMode="Continuous",
    )
    cluster.world.run_for(DEFAULT_CREATION_SECONDS)
    for specification in specifications:
        if boot_seconds is None:
            continue
        cluster.hyperpod.set_timings(
            name,
            specification["InstanceGroupName"],
            boot_seconds=(boot_seconds, boot_seconds),
            deep_health_check_seconds=deep_health_check_seconds,
        )


def add_nodes(
    cluster: HyperPodOnEks, count: int, *, group_name: str = "gpu", name: str = CLUSTER
) -> list[str]:
    """BatchAddClusterNodes through boto3; the NodeLogicalIds added."""
    response = cluster.world.clients.client("sagemaker").batch_add_cluster_nodes(
        ClusterName=name, NodesToAdd=[{"InstanceGroupName": group_name, "IncrementTargetCountBy": count}]
    )
    assert response["Failed"] == []
    return [entry["NodeLogicalId"] for entry in response["Successful"]]


def hyperpod_nodes(cluster: HyperPodOnEks, name: str = CLUSTER) -> list[dict[str, Any]]:
    """ListClusterNodes with IncludeNodeLogicalIds (nodes still being provisioned too)."""
    return list(
        cluster.world.clients.client("sagemaker").list_cluster_nodes(
            ClusterName=name, IncludeNodeLogicalIds=True
        )["ClusterNodeSummaries"]
    )


def instance_ids(cluster: HyperPodOnEks, name: str = CLUSTER) -> list[str]:
    """The instance ids of the cluster's launched nodes."""
    return sorted(node["InstanceId"] for node in hyperpod_nodes(cluster, name) if "InstanceId" in node)


def kubernetes_names(cluster: HyperPodOnEks, name: str = CLUSTER) -> list[str]:
    """The Kubernetes node names HyperPod's launched instances have (`hyperpod-<instance id>`)."""
    return [node_name(instance) for instance in instance_ids(cluster, name)]


def adapter(cluster: HyperPodOnEks) -> EksKubernetesClient:
    """ebb's Kubernetes adapter as in production: endpoint and CA from EKS DescribeCluster, an IAM
    token of the world's identity, TLS verified against the cluster CA."""
    return EksKubernetesClient.for_eks_cluster(
        cluster.config.eks_cluster_name, session=boto3.Session(region_name=REGION)
    )


def deployment(name: str = "web", *, replicas: int, gpus: int = 1) -> dict[str, Any]:
    """An inference Deployment whose pods each request `gpus` GPUs."""
    requests = {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": str(gpus)}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "server",
                            "image": "vllm/vllm-openai:v0.9.0",
                            "resources": {"requests": requests, "limits": {"nvidia.com/gpu": str(gpus)}},
                        }
                    ]
                },
            },
        },
    }


def node_named(client: EksKubernetesClient, name: str) -> Node | None:
    """The node called `name`, read over the API, or None."""
    return next((node for node in client.list_nodes() if node.name == name), None)


def pods_by_state(client: EksKubernetesClient, target: WorkloadRef = WEB) -> dict[str, int]:
    """How many of the target's live pods are pending, running but not Ready, and Ready."""
    counts = {"pending": 0, "running": 0, "ready": 0}
    for pod in client.pods_of(target):
        if pod.is_terminating:
            continue
        counts[_state(pod)] += 1
    return counts


def scheduling_message(pod: Pod) -> str:
    """The scheduler's message on the pod's PodScheduled condition ("0/N nodes are available: ...")."""
    condition = pod.condition("PodScheduled")
    return (condition.message or "") if condition is not None else ""


def _state(pod: Pod) -> str:
    if pod.is_ready:
        return "ready"
    return "running" if pod.status.phase == "Running" else "pending"


def received_events(cluster: HyperPodOnEks) -> list[dict[str, Any]]:
    """The HyperPod cluster events the template's rule delivered to its queue so far."""
    return [json.loads(message["Body"]) for message in cluster.world.receive_all("ClusterEvents")]
