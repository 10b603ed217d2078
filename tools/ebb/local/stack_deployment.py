"""The project's own template.yaml deployed into the local world, as `sam deploy` would deploy
it into an account, with a configuration and the cluster that configuration describes (its
HyperPod cluster, the Deployments its ScaledObjects scale, their queues).

What the decide-path tests and benchmarks run on (and the demo will). Differences from a real
deployment, each stated: the configuration is read from a directory on disk (the `ConfigDir`
parameter) rather than the bundled layer, and shadow mode is set by the caller. The stack is
deployed before the HyperPod cluster exists (in an account the cluster comes first), so
`HyperPodClusterArn` is an ARN of the right shape in the cluster's account and region whose id is
not the one the stand-in draws at CreateCluster: the local world accepts IAM policies and never
enforces them, so no call depends on it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import yaml

from ebb.adapters.kubernetes import EksKubernetesClient, WorkloadRef
from ebb.config import EbbConfig, load_config_files
from ebb.local.cluster import ClusterWorldConfig, HyperPodOnEks, start_cluster_world
from ebb.local.kubernetes import ClusterCertificates, StandInTimings
from ebb.local.provisioning_invariants import run_deployment_checks
from ebb.local.world import LocalWorldConfig

ROOT = Path(__file__).resolve().parents[3]
"""The repository (tools/ebb/local/ is three levels down)."""
TEMPLATE = ROOT / "template.yaml"
EXAMPLE = ROOT / "examples" / "gpu-inference"
SEED = 11
STACK = "ebb-local"
ACCOUNT = "123456789012"
"""The local world's account (moto's default)."""
ROLE = f"arn:aws:iam::{ACCOUNT}:role/hyperpod-execution"
CLUSTER_ID = "000000000000"
"""The id in the `HyperPodClusterArn` parameter (see the module's docstring)."""
BOOT_SECONDS = 240.0
"""A HyperPod GPU instance from BatchAddClusterNodes to a Kubernetes node (fixed, so runs are exact)."""
TIMINGS = StandInTimings(
    controller_delay_seconds=1,
    container_start_seconds=10,
    model_load_seconds=60,
    gpu_allocatable_delay_seconds=30,
    pod_termination_seconds=5,
)
LLM = WorkloadRef(namespace="serving", name="llm-inference")
BATCH = WorkloadRef(namespace="batch", name="batch-worker")


def write_config(
    directory: Path,
    *,
    shadow_mode: bool = False,
    fallback: dict[str, int] | None = None,
    sub_minute_polling: tuple[str, ...] = (),
) -> EbbConfig:
    """The example, with `shadowMode` set (and the batch worker's `fallback`, and
    `subMinutePolling: true` for the scalers named `namespace/name`), into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    for path in sorted(EXAMPLE.glob("*.yaml")):
        documents = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
        for document in documents:
            if document.get("kind") == "ClusterBinding":
                document["spec"]["shadowMode"] = shadow_mode
                for entry in document["spec"]["scalers"]:
                    ref = entry["scaledObject"]
                    if f"{ref['namespace']}/{ref['name']}" in sub_minute_polling:
                        entry["subMinutePolling"] = True
            if (
                fallback
                and document.get("kind") == "ScaledObject"
                and document["metadata"]["name"] == "batch-worker"
            ):
                document["spec"]["fallback"] = fallback
        (directory / path.name).write_text(yaml.safe_dump_all(documents, sort_keys=False), encoding="utf-8")
    return load_config_files(sorted(directory.glob("*.yaml")))


@contextmanager
def deployed(
    config_dir: Path,
    certificates: ClusterCertificates,
    *,
    shadow_mode: bool = False,
    fallback: dict[str, int] | None = None,
    sub_minute_polling: tuple[str, ...] = (),
    seed: int = SEED,
) -> Iterator[tuple[HyperPodOnEks, EbbConfig]]:
    """The stack deployed from template.yaml, the example's HyperPod cluster and Deployments."""
    config = write_config(
        config_dir, shadow_mode=shadow_mode, fallback=fallback, sub_minute_polling=sub_minute_polling
    )
    with deployed_config(config_dir, config, certificates, seed=seed) as deployment:
        yield deployment


@contextmanager
def deployed_config(
    config_dir: Path, config: EbbConfig, certificates: ClusterCertificates, *, seed: int = SEED
) -> Iterator[tuple[HyperPodOnEks, EbbConfig]]:
    """The stack deployed from template.yaml with the configuration in `config_dir` (loaded as
    `config`), over its HyperPod cluster and its scalers' Deployments."""
    binding = config.binding.spec
    world_config = LocalWorldConfig(
        seed=seed,
        region=binding.region,
        stack_name=STACK,
        parameters={
            "HyperPodClusterName": binding.hyper_pod_cluster.name,
            "HyperPodClusterArn": f"arn:aws:sagemaker:{binding.region}:{ACCOUNT}:cluster/{CLUSTER_ID}",
            "EksClusterName": binding.eks_cluster.name,
            "ConfigDir": str(config_dir),
        },
    )
    cluster_config = ClusterWorldConfig(
        eks_cluster_name=binding.eks_cluster.name, kubernetes_timings=TIMINGS, catalogue=config.catalogue
    )
    with start_cluster_world(TEMPLATE, world_config, cluster_config, certificates=certificates) as cluster:
        create_example_workloads(cluster, config)
        create_example_cluster(cluster, config)
        yield cluster, config
        # What the block did, checked before the world closes (the invariants of every test
        # that deploys the stack: `ebb.local.provisioning_invariants`).
        run_deployment_checks(cluster, config)


def create_example_cluster(cluster: HyperPodOnEks, config: EbbConfig) -> None:
    """The binding's HyperPod cluster: Continuous provisioning, empty groups, each group in a
    subnet of its stated zone, fixed boot times; returns once the cluster is InService."""
    hyperpod = config.binding.spec.hyper_pod_cluster
    # The default VPC moto's EC2 has in the region: one default subnet per zone.
    subnets = {
        subnet["AvailabilityZone"]: subnet["SubnetId"]
        for subnet in cluster.world.clients.client("ec2").describe_subnets(
            Filters=[{"Name": "default-for-az", "Values": ["true"]}]
        )["Subnets"]
    }
    groups = []
    for facts in hyperpod.instance_groups:
        kubernetes: dict[str, Any] = {}
        if facts.labels:
            kubernetes["Labels"] = dict(facts.labels)
        if facts.taints:
            kubernetes["Taints"] = [
                {"Key": t.key, **({"Value": t.value} if t.value else {}), "Effect": t.effect}
                for t in facts.taints
            ]
        groups.append(
            {
                "InstanceGroupName": facts.name,
                "InstanceType": facts.instance_type,
                "InstanceCount": facts.min_instance_count,
                "MinInstanceCount": facts.min_instance_count,
                "LifeCycleConfig": {"SourceS3Uri": "s3://sagemaker-lifecycle/", "OnCreate": "on_create.sh"},
                "ExecutionRole": ROLE,
                # One zone per group, as HyperPod's Karpenter requires ("Create a NodeClass").
                "OverrideVpcConfig": {
                    "SecurityGroupIds": ["sg-0123456789"],
                    "Subnets": [subnets[facts.availability_zone]],
                },
                **({"KubernetesConfig": kubernetes} if kubernetes else {}),
                **({"CapacityRequirements": {"Spot": {}}} if facts.capacity_type == "spot" else {}),
            }
        )
    sagemaker = cluster.world.clients.client("sagemaker")
    sagemaker.create_cluster(
        ClusterName=hyperpod.name,
        InstanceGroups=groups,
        Orchestrator={"Eks": {"ClusterArn": cluster.eks_cluster_arn}},
        VpcConfig={
            "SecurityGroupIds": ["sg-0123456789"],
            "Subnets": [subnets[hyperpod.instance_groups[0].availability_zone]],
        },
        NodeProvisioningMode="Continuous",
    )
    for facts in hyperpod.instance_groups:
        cluster.hyperpod.set_timings(hyperpod.name, facts.name, boot_seconds=(BOOT_SECONDS, BOOT_SECONDS))
    for _ in range(20):
        if sagemaker.describe_cluster(ClusterName=hyperpod.name)["ClusterStatus"] == "InService":
            return
        cluster.world.run_for(15)
    raise AssertionError(f"HyperPod cluster {hyperpod.name!r} did not become InService")


def run_past_next_tick(cluster: HyperPodOnEks, *, margin: float = 10.0) -> datetime:
    """Run until the next tick has fired and `margin` seconds more (its decision is done by then);
    returns that moment, from which the tests read what happened.

    Scheduler fires a rate schedule at a moment of its minute, not on the second (EventBridge
    Scheduler User Guide, "Schedule types"), so the tick is watched for, not assumed.
    """
    world = cluster.world

    def ticks() -> int:
        return sum(1 for i in world.scheduler.invocations if i.schedule_arn.endswith("SignalsFunctionTick"))

    fired = ticks()
    for _ in range(30):
        world.run_for(5)
        if ticks() > fired:
            world.run_for(margin)
            return world.now()
    raise AssertionError("no tick within 150 s")


def create_example_workloads(cluster: HyperPodOnEks, config: EbbConfig) -> None:
    """Each ScaledObject's Deployment at 0 replicas (pods from the binding's podSpec) and its queue."""
    for scaled_object in config.scaled_objects:
        entry = config.scaler_binding(scaled_object)
        assert entry.pod_spec is not None
        name = scaled_object.spec.scale_target_ref.name
        cluster.kubernetes.create(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": name, "namespace": scaled_object.namespace},
                "spec": {
                    "replicas": 0,
                    "selector": {"matchLabels": {"app": name}},
                    "template": {
                        "metadata": {"labels": {"app": name}},
                        "spec": entry.pod_spec.model_dump(mode="json", by_alias=True, exclude_none=True),
                    },
                },
            }
        )
        for trigger in scaled_object.spec.triggers:
            metadata = trigger.metadata
            if getattr(metadata, "queue_url", None):
                cluster.world.clients.client("sqs").create_queue(QueueName=metadata.queue_name)  # type: ignore[union-attr]


def stop_ticking(cluster: HyperPodOnEks) -> None:
    """Disable the stack's tick schedule, as if ticks were lost (only the other signals remain)."""
    scheduler = cluster.world.clients.client("scheduler")
    tick = scheduler.get_schedule(Name=f"{STACK}-SignalsFunctionTick")
    scheduler.update_schedule(
        Name=tick["Name"],
        ScheduleExpression=tick["ScheduleExpression"],
        FlexibleTimeWindow=tick["FlexibleTimeWindow"],
        Target=tick["Target"],
        State="DISABLED",
    )


def kubernetes(cluster: HyperPodOnEks, config: EbbConfig) -> EksKubernetesClient:
    """ebb's Kubernetes adapter against the world's EKS cluster, for reading what happened."""
    return EksKubernetesClient.for_eks_cluster(
        config.binding.spec.eks_cluster.name, session=boto3.Session(region_name=config.binding.spec.region)
    )


def audit(cluster: HyperPodOnEks, subject: str, since: datetime | None = None) -> list[dict[str, Any]]:
    """The audit records of a scaler (`namespace/name`) or `POOL#<pool>`, newest first (those of
    decisions from `since` on, when given)."""
    table = cluster.world.clients.client("dynamodb")
    name = f"{STACK}-StateTable"
    items = table.query(
        TableName=name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"AUDIT#{subject}"}},
        ScanIndexForward=False,
    )["Items"]
    records = [json.loads(item["record"]["S"]) for item in items]
    if since is None:
        return records
    return [r for r in records if datetime.fromisoformat(r["at"]) >= since]


def send_jobs(cluster: HyperPodOnEks, count: int, queue: str = "batch-jobs") -> None:
    """`count` messages on a scaler's queue."""
    sqs = cluster.world.clients.client("sqs")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    for start in range(0, count, 10):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "MessageBody": f"job-{i}"} for i in range(start, min(start + 10, count))],
        )
