"""The project's template.yaml deployed into the local world with a generated fleet of NodePools:
what the tick's fan-out tests and `bench/bench_tick.py` run on.

Pool `pool-NN` has one single-AZ HyperPod instance group `g5-NN` (ml.g5.12xlarge), its own
HyperpodNodeClass, and its scalers in namespace `team-NN`: `worker-0` .. `worker-(k-1)`, apps/v1
Deployments at 0 replicas. Every scaler has an SQS trigger on its own queue, so that scaler `k`
also gets a CloudWatch trigger on that queue's `ApproximateNumberOfMessagesVisible` when the pool
has several scalers (CloudWatch triggers are batched into GetMetricData per time window). The
same differences from a real deployment as `stack_deployment` (configuration read from disk,
shadow mode set by the caller).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from ebb.config import EbbConfig, load_config_files
from ebb.local.cluster import HyperPodOnEks
from ebb.local.kubernetes import ClusterCertificates
from ebb.local.stack_deployment import (
    SEED,
    deployed_config,
)

REGION = "us-east-1"
ACCOUNT = "123456789012"
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}
GROUP_LABEL = "sagemaker.amazonaws.com/instance-group-name"


def pool_name(index: int) -> str:
    """The name of the fleet's pool `index`."""
    return f"pool-{index:02d}"


def queue_name(pool: int, scaler: int) -> str:
    """The SQS queue of scaler `scaler` of pool `pool`."""
    return f"{pool_name(pool)}-worker-{scaler}"


def _documents(
    scalers_per_pool: Sequence[int], weights: dict[int, int], shadow_mode: bool
) -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []
    groups = []
    bindings = []
    for index, count in enumerate(scalers_per_pool):
        pool, group = pool_name(index), f"g5-{index:02d}"
        zone = "us-east-1a" if index % 2 == 0 else "us-east-1b"
        groups.append(
            {
                "name": group,
                "instanceType": "ml.g5.12xlarge",
                "availabilityZone": zone,
                "minInstanceCount": 0,
                "taints": [GPU_TAINT],
            }
        )
        documents.append(
            {
                "apiVersion": "karpenter.sagemaker.amazonaws.com/v1",
                "kind": "HyperpodNodeClass",
                "metadata": {"name": pool},
                "spec": {"instanceGroups": [group]},
            }
        )
        documents.append(
            {
                "apiVersion": "karpenter.sh/v1",
                "kind": "NodePool",
                "metadata": {"name": pool},
                "spec": {
                    **({"weight": weights[index]} if index in weights else {}),
                    "template": {
                        "spec": {
                            "nodeClassRef": {
                                "group": "karpenter.sagemaker.amazonaws.com",
                                "kind": "HyperpodNodeClass",
                                "name": pool,
                            },
                            "requirements": [
                                {
                                    "key": "node.kubernetes.io/instance-type",
                                    "operator": "In",
                                    "values": ["ml.g5.12xlarge"],
                                },
                                {"key": "topology.kubernetes.io/zone", "operator": "In", "values": [zone]},
                            ],
                            "taints": [GPU_TAINT],
                            "expireAfter": "Never",
                        }
                    },
                    "limits": {"nvidia.com/gpu": "16", "nodes": "4"},
                    "disruption": {"consolidationPolicy": "WhenEmpty", "consolidateAfter": "5m"},
                },
            }
        )
        for scaler in range(count):
            name, namespace = f"worker-{scaler}", f"team-{index:02d}"
            queue = queue_name(index, scaler)
            triggers: list[dict[str, Any]] = [
                {
                    "type": "aws-sqs-queue",
                    "metadata": {
                        "queueURL": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{queue}",
                        "queueLength": "2",
                        "activationQueueLength": "0",
                        "awsRegion": REGION,
                    },
                }
            ]
            if count > 1:
                triggers.append(
                    {
                        "type": "aws-cloudwatch",
                        "name": "visible",
                        "metadata": {
                            "namespace": "AWS/SQS",
                            "metricName": "ApproximateNumberOfMessagesVisible",
                            "dimensionName": "QueueName",
                            "dimensionValue": queue,
                            "metricStat": "Maximum",
                            "metricStatPeriod": "60",
                            "metricCollectionTime": "120",
                            "targetMetricValue": "2",
                            "activationTargetMetricValue": "0",
                            "minMetricValue": "0",
                            "awsRegion": REGION,
                        },
                    }
                )
            documents.append(
                {
                    "apiVersion": "keda.sh/v1alpha1",
                    "kind": "ScaledObject",
                    "metadata": {"name": name, "namespace": namespace},
                    "spec": {
                        "scaleTargetRef": {"name": name},
                        "minReplicaCount": 0,
                        "maxReplicaCount": 8,
                        "cooldownPeriod": 300,
                        "triggers": triggers,
                    },
                }
            )
            bindings.append(
                {
                    "scaledObject": {"name": name, "namespace": namespace},
                    "nodePool": pool,
                    "podSpec": {
                        "containers": [
                            {
                                "name": "worker",
                                "image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/worker:1",
                                "resources": {
                                    "requests": {"cpu": "4", "memory": "24Gi", "nvidia.com/gpu": "1"},
                                    "limits": {"nvidia.com/gpu": "1"},
                                },
                            }
                        ],
                        "tolerations": [
                            {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
                        ],
                        "affinity": {
                            "nodeAffinity": {
                                "requiredDuringSchedulingIgnoredDuringExecution": {
                                    "nodeSelectorTerms": [
                                        {
                                            "matchExpressions": [
                                                {"key": GROUP_LABEL, "operator": "In", "values": [group]}
                                            ]
                                        }
                                    ]
                                }
                            }
                        },
                    },
                }
            )
    documents.append(
        {
            "apiVersion": "ebb.dev/v1alpha1",
            "kind": "ClusterBinding",
            "metadata": {"name": "fleet"},
            "spec": {
                "region": REGION,
                "hyperPodCluster": {"name": "ml-fleet", "instanceGroups": groups},
                "eksCluster": {"name": "ml-fleet-eks"},
                "shadowMode": shadow_mode,
                "nodeOverhead": {"cpu": "500m", "memory": "1Gi"},
                "scalers": bindings,
            },
        }
    )
    return documents


def write_fleet_config(
    directory: Path,
    scalers_per_pool: Sequence[int],
    *,
    weights: dict[int, int] | None = None,
    shadow_mode: bool = False,
) -> EbbConfig:
    """A configuration of `len(scalers_per_pool)` pools, pool `i` with `scalers_per_pool[i]`
    scalers (and NodePool weight `weights[i]` where given), written into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "fleet.yaml"
    path.write_text(
        yaml.safe_dump_all(_documents(scalers_per_pool, weights or {}, shadow_mode), sort_keys=False)
    )
    return load_config_files([path])


@contextmanager
def deployed_fleet(
    config_dir: Path,
    certificates: ClusterCertificates,
    scalers_per_pool: Sequence[int],
    *,
    shadow_mode: bool = False,
    seed: int = SEED,
) -> Iterator[tuple[HyperPodOnEks, EbbConfig]]:
    """The stack deployed from template.yaml over the fleet's HyperPod cluster, Deployments and queues."""
    config = write_fleet_config(config_dir, scalers_per_pool, shadow_mode=shadow_mode)
    with deployed_config(config_dir, config, certificates, seed=seed) as deployment:
        yield deployment
