"""Wall time of simulated hours in the combined local world: HyperPod, Kubernetes, AWS, one clock.

The scenario: a HyperPod cluster orchestrated by the world's EKS cluster grows to NODES
ml.g5.48xlarge nodes (8 GPUs each, boot times drawn from the stand-in's 300-600 s), running
PODS one-GPU inference pods in four Deployments. Every hour 5 nodes are deleted and 5 added
(BatchDeleteClusterNodes and BatchAddClusterNodes through boto3) and 2 develop faults that
automatic recovery replaces; every 15 minutes the Deployments are resized between 75% and 100% of
their share, as an autoscaler would. Pods follow: Pending when their node leaves, scheduled when
GPUs are free, Ready after the model loads. HyperPod cluster events go onto the world's bus.

Prints the world's start-up time, the wall time of the simulated hours, the simulated/real speed
ratio, and what happened (node transitions, clock steps). Run:
`.venv/bin/python bench/bench_local_world.py [--hours 4] [--nodes 50] [--pods 400] [--no-timeline]`.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from ebb.local.cluster import ClusterWorldConfig, HyperPodOnEks, start_cluster_world
from ebb.local.hyperpod import NodeTransition
from ebb.local.hyperpod.lifecycle import DEFAULT_CREATION_SECONDS
from ebb.local.world import LocalWorldConfig

INSTANCE_TYPE = "ml.g5.48xlarge"
DEPLOYMENTS = 4
TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  ClusterEvents:
    Type: AWS::SQS::Queue
  HyperPodClusterEvents:
    Type: AWS::Events::Rule
    Properties:
      EventPattern:
        source: [aws.sagemaker]
        detail-type: [SageMaker HyperPod Cluster Event]
      Targets:
        - Id: cluster-events
          Arn: !GetAtt ClusterEvents.Arn
"""


def _deployment(name: str, replicas: int) -> dict[str, Any]:
    requests = {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"}
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
                            "resources": {"requests": requests, "limits": {"nvidia.com/gpu": "1"}},
                        }
                    ]
                },
            },
        },
    }


def _set_up(cluster: HyperPodOnEks, nodes: int, pods: int) -> None:
    sagemaker = cluster.world.clients.client("sagemaker")
    # A default subnet of moto's default VPC: HyperPod takes each group's zone from its subnets.
    subnet = cluster.world.clients.client("ec2").describe_subnets(
        Filters=[{"Name": "default-for-az", "Values": ["true"]}]
    )["Subnets"][0]["SubnetId"]
    sagemaker.create_cluster(
        ClusterName="bench",
        InstanceGroups=[
            {
                "InstanceGroupName": "gpu",
                "InstanceType": INSTANCE_TYPE,
                "InstanceCount": 0,
                "LifeCycleConfig": {"SourceS3Uri": "s3://lifecycle/", "OnCreate": "on_create.sh"},
                "ExecutionRole": "arn:aws:iam::123456789012:role/hyperpod",
            }
        ],
        Orchestrator={"Eks": {"ClusterArn": cluster.eks_cluster_arn}},
        VpcConfig={"SecurityGroupIds": ["sg-0123456789"], "Subnets": [subnet]},
        NodeProvisioningMode="Continuous",
    )
    cluster.world.run_for(DEFAULT_CREATION_SECONDS)  # Creating until then: no nodes can be added
    for start in range(0, nodes, 50):  # at most 50 nodes a call
        sagemaker.batch_add_cluster_nodes(
            ClusterName="bench",
            NodesToAdd=[{"InstanceGroupName": "gpu", "IncrementTargetCountBy": min(50, nodes - start)}],
        )
    for index in range(DEPLOYMENTS):
        cluster.kubernetes.create(_deployment(f"model-{index}", pods // DEPLOYMENTS))


def _running_instances(cluster: HyperPodOnEks) -> list[str]:
    nodes = cluster.hyperpod.cluster("bench").nodes.values()
    return sorted(node.instance_id for node in nodes if node.instance_id and node.status == "Running")


def _churn(cluster: HyperPodOnEks, rng: random.Random) -> None:
    """An hour's disturbance: 5 nodes deleted and 5 added, 2 faults."""
    running = _running_instances(cluster)
    doomed = rng.sample(running, min(5, len(running)))
    sagemaker = cluster.world.clients.client("sagemaker")
    if doomed:
        sagemaker.batch_delete_cluster_nodes(ClusterName="bench", NodeIds=doomed)
        sagemaker.batch_add_cluster_nodes(
            ClusterName="bench",
            NodesToAdd=[{"InstanceGroupName": "gpu", "IncrementTargetCountBy": len(doomed)}],
        )
    for instance in rng.sample([i for i in running if i not in doomed], min(2, len(running) - len(doomed))):
        cluster.hyperpod.inject_fault("bench", instance, repair="Replace")


def _resize(cluster: HyperPodOnEks, rng: random.Random, pods: int) -> None:
    share = pods // DEPLOYMENTS
    for index in range(DEPLOYMENTS):
        replicas = rng.randint(share * 3 // 4, share)

        def scale(deployment: dict[str, Any], replicas: int = replicas) -> None:
            deployment["spec"]["replicas"] = replicas
            deployment["metadata"]["generation"] += 1

        cluster.kubernetes.update("Deployment", f"model-{index}", scale)


def main() -> None:
    """Run the scenario and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=4.0)
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--pods", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--no-timeline", action="store_true", help="do not record the node and pod timeline (on by default)"
    )
    arguments = parser.parse_args()

    transitions: list[NodeTransition] = []
    rng = random.Random(arguments.seed)
    with tempfile.TemporaryDirectory() as directory:
        template = Path(directory) / "template.yaml"
        template.write_text(TEMPLATE, encoding="utf-8")
        started = time.perf_counter()
        with start_cluster_world(
            template,
            LocalWorldConfig(seed=arguments.seed),
            ClusterWorldConfig(record_timeline=not arguments.no_timeline),
        ) as cluster:
            startup = time.perf_counter() - started
            cluster.hyperpod.add_node_observer(transitions.append)
            _set_up(cluster, arguments.nodes, arguments.pods)
            simulated = arguments.hours * 3600.0
            quarter = 900.0
            began = time.perf_counter()
            elapsed = 0.0
            while elapsed < simulated:
                step = min(quarter, simulated - elapsed)
                cluster.world.run_for(step)
                elapsed += step
                if elapsed % 3600.0 == 0:
                    _churn(cluster, rng)
                _resize(cluster, rng, arguments.pods)
            wall = time.perf_counter() - began
            pods = cluster.kubernetes.objects("Pod")
            ready = sum(
                any(
                    c["type"] == "Ready" and c["status"] == "True"
                    for c in p.get("status", {}).get("conditions", [])
                )
                for p in pods
            )
            nodes = len(cluster.kubernetes.objects("Node"))
            switches = cluster.world.clock.switches
            events = len(cluster.world.eventbridge.published)

    print(
        f"combined local world: {arguments.nodes} x {INSTANCE_TYPE}, {arguments.pods} GPU pods, "
        f"seed {arguments.seed}"
    )
    print(f"  start-up (template, moto, stand-ins, API server): {startup:.2f} s")
    print(f"  {arguments.hours:g} simulated hours in {wall:.2f} s wall: {simulated / wall:,.0f}x real time")
    print(f"  timeline recording: {'off' if arguments.no_timeline else 'on'}")
    print(f"  HyperPod node transitions: {len(transitions)}; cluster events on the bus: {events}")
    print(f"  at the end: {nodes} Kubernetes nodes, {len(pods)} pods ({ready} Ready)")
    print(f"  actor switches: {switches}")


if __name__ == "__main__":
    main()
