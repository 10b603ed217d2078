"""observe reads HyperPod as one consistent snapshot: DescribeCluster then ListClusterNodes are two
calls, and a provisioning round between them (BatchAddClusterNodes raises a group's target and
lists its new nodes) must not give the planner a target below the nodes listed.

The interleaving is injected: the first DescribeCluster answers as before the round, the
ListClusterNodes after it already lists the round's nodes (SageMaker API Reference,
BatchAddClusterNodes: `IncrementTargetCountBy` raises the group's target and the nodes appear in
ListClusterNodes as Pending). The adapters are fakes that record their calls.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ebb.adapters.hyperpod_models import ClusterDescription, ClusterNode
from ebb.adapters.kubernetes import Workload, WorkloadRef
from ebb.adapters.metrics import MetricQuery
from ebb.config import EbbConfig, load_config_files
from ebb.core.replicas import CloudWatchResult, SqsQueueAttributes
from ebb.service.decision import PoolState, decide_pool
from ebb.service.observe import HYPERPOD_READS, ClusterAccess, observe_pool

ROOT = Path(__file__).resolve().parents[3]
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
G5, G6E = "gpu-g5-use1a", "gpu-g6e-use1b"
ARN = "arn:aws:sagemaker:us-east-1:123456789012:cluster/abcdef012345"


@pytest.fixture(scope="module")
def config() -> EbbConfig:
    return load_config_files(sorted((ROOT / "examples" / "gpu-inference").glob("*.yaml")))


def _description(g5_target: int) -> ClusterDescription:
    return ClusterDescription.model_validate(
        {
            "ClusterName": "ml-inference",
            "ClusterArn": ARN,
            "ClusterStatus": "InService",
            "InstanceGroups": [
                {"InstanceGroupName": G5, "InstanceType": "ml.g5.12xlarge", "TargetCount": g5_target},
                {"InstanceGroupName": G6E, "InstanceType": "ml.g6e.12xlarge", "TargetCount": 0},
            ],
        }
    )


def _pending(logical_id: str) -> ClusterNode:
    return ClusterNode.model_validate(
        {
            "InstanceGroupName": G5,
            "NodeLogicalId": logical_id,
            "InstanceType": "ml.g5.12xlarge",
            "InstanceStatus": {"Status": "Pending"},
        }
    )


@dataclass
class Cluster:
    """HyperPod, Kubernetes and the metrics, answering from scripted reads, recording each call."""

    descriptions: list[ClusterDescription]
    listings: list[tuple[ClusterNode, ...]]
    calls: list[str] = field(default_factory=list)

    def describe_cluster(self) -> ClusterDescription:
        self.calls.append("DescribeCluster")
        return self.descriptions.pop(0) if len(self.descriptions) > 1 else self.descriptions[0]

    def list_nodes(self) -> tuple[ClusterNode, ...]:
        self.calls.append("ListClusterNodes")
        return self.listings.pop(0) if len(self.listings) > 1 else self.listings[0]

    def read_cloudwatch(self, queries: Sequence[MetricQuery]) -> dict[str, CloudWatchResult]:
        return {q.query_id: CloudWatchResult(datapoints=()) for q in queries}

    def read_queue(self, queue_url: str, attribute_names: Sequence[str]) -> SqsQueueAttributes:
        return SqsQueueAttributes(attributes=dict.fromkeys(attribute_names, "0"))

    def list_nodes_k8s(self, label_selector: str | None = None) -> list[Any]:
        return []

    def list_live_pods(self) -> list[Any]:
        return []

    def list_workloads(self, kind: str, namespace: str, *, name: str | None = None) -> list[Workload]:
        names = [name] if name else ["llm-inference", "batch-worker"]
        return [
            Workload.model_validate(
                {
                    "metadata": {"name": n},
                    "spec": {
                        "replicas": 0,
                        "selector": {"matchLabels": {"app": n}},
                        "template": {"spec": {"containers": [{"name": "c"}]}},
                    },
                    "status": {"replicas": 0},
                }
            )
            for n in names
        ]

    def conflicting_hpas(self, namespace: str, targets: Collection[WorkloadRef]) -> list[Any]:
        return []

    def conflicting_scaled_objects(self, namespace: str, targets: Collection[WorkloadRef]) -> list[Any]:
        return []


class Kubernetes:
    """The Kubernetes half of `Cluster` (its `list_nodes` is HyperPod's)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cluster, "list_nodes_k8s" if name == "list_nodes" else name)


def _access(cluster: Cluster) -> ClusterAccess:
    return ClusterAccess(metrics=cluster, hyperpod=cluster, kubernetes=Kubernetes(cluster))  # type: ignore[arg-type]


def test_a_round_between_describe_and_list_is_read_again_into_a_snapshot_the_planner_accepts(
    config: EbbConfig,
) -> None:
    # Before the round: target 1, one pending node. The round adds one: target 2, two listed.
    cluster = Cluster(
        descriptions=[_description(1), _description(2)],
        listings=[(_pending("node-a"), _pending("node-b"))],
    )
    snapshot = observe_pool(config, "gpu", _access(cluster), NOW)

    assert cluster.calls == ["DescribeCluster", "ListClusterNodes", "DescribeCluster", "ListClusterNodes"]
    assert snapshot.groups[G5].target == 2
    assert len([n for n in snapshot.nodes if n.instance_group == G5]) == 2
    decide_pool(snapshot, PoolState(), config, NOW)  # the planner takes it (it refused target 1)


def test_reads_that_agree_are_made_once(config: EbbConfig) -> None:
    cluster = Cluster(descriptions=[_description(2)], listings=[(_pending("node-a"), _pending("node-b"))])
    observe_pool(config, "gpu", _access(cluster), NOW)
    assert cluster.calls == ["DescribeCluster", "ListClusterNodes"]


def test_reads_that_never_agree_stop_after_their_bound_and_the_planner_still_refuses(
    config: EbbConfig,
) -> None:
    cluster = Cluster(descriptions=[_description(1)], listings=[(_pending("node-a"), _pending("node-b"))])
    snapshot = observe_pool(config, "gpu", _access(cluster), NOW)

    assert cluster.calls == ["DescribeCluster", "ListClusterNodes"] * HYPERPOD_READS
    with pytest.raises(ValueError, match=r"'gpu-g5-use1a': target_count 1 is below the 2 node\(s\) listed"):
        decide_pool(snapshot, PoolState(), config, NOW)
