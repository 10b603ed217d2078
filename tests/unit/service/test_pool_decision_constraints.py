"""The decide path plans pods with topology spread and pod anti-affinity instead of reporting them.

One replica per node: pending pods of no scaler with a required hostname anti-affinity on their own
labels each get their own node, as kube-scheduler would place them
(kubernetes-sigs/karpenter ``pkg/controllers/provisioning/scheduling/topology_test.go`` commit
025b80f7dcb2d9eaa60f730871730570b8c86d2f, It("should separate nodes using simple pod anti-affinity
on hostname")).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ebb.config import EbbConfig, load_config_files
from ebb.core.nodes import Resources, Toleration
from ebb.core.nodes.taints import TaintEffect
from ebb.core.nodes.topology import HOSTNAME_KEY, LabelSelector, PodAffinityTerm, PodConstraints
from ebb.core.replicas import CloudWatchResult, ReplicaCounts, SqsQueueAttributes
from ebb.service.decision import (
    GroupCounts,
    PendingPod,
    PoolSnapshot,
    PoolState,
    ScalerSnapshot,
    decide_pool,
)

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "gpu-inference"
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
LLM = "serving/llm-inference"
BATCH = "batch/batch-worker"
G5, G6E = "gpu-g5-use1a", "gpu-g6e-use1b"
GPU_TOLERATION = Toleration(key="nvidia.com/gpu", operator="Exists", effect=TaintEffect.NO_SCHEDULE)
APART = PodConstraints(
    pod_anti_affinity=(
        PodAffinityTerm(topology_key=HOSTNAME_KEY, label_selector=LabelSelector(match_labels={"app": "nb"})),
    )
)


@pytest.fixture(scope="module")
def config() -> EbbConfig:
    return load_config_files(sorted(EXAMPLE.glob("*.yaml")))


def _idle() -> dict[str, ScalerSnapshot]:
    empty = CloudWatchResult(datapoints=())
    zero = ReplicaCounts(spec=0, status=0, ready=0)
    return {
        LLM: ScalerSnapshot(observations={"requests-per-target": empty, "wake-on-503": empty}, replicas=zero),
        BATCH: ScalerSnapshot(
            observations={
                "s0-aws-sqs-queue": SqsQueueAttributes(
                    attributes={
                        "ApproximateNumberOfMessages": "0",
                        "ApproximateNumberOfMessagesNotVisible": "0",
                    }
                )
            },
            replicas=zero,
        ),
    }


def _pending(name: str, constraints: PodConstraints) -> PendingPod:
    return PendingPod(
        namespace="research",
        name=name,
        requests=Resources.of(cpu="4", memory="16Gi", gpus=1),
        tolerations=(GPU_TOLERATION,),
        labels={"app": "nb"},
        constraints=constraints,
    )


def _decide(config: EbbConfig, constraints: PodConstraints) -> dict[str, int]:
    snapshot = PoolSnapshot(
        node_pool="gpu",
        scalers=_idle(),
        groups={G5: GroupCounts(current=0, target=0), G6E: GroupCounts(current=0, target=0)},
        pending=tuple(_pending(f"nb-{i}", constraints) for i in range(3)),
    )
    decision = decide_pool(snapshot, PoolState(), config, NOW)
    assert not decision.unplaceable
    return decision.node_targets


def test_pending_pods_with_hostname_anti_affinity_get_one_node_each(config: EbbConfig) -> None:
    # Without the constraint three 1-GPU pods share one 4-GPU node; with it, three nodes.
    assert sum(_decide(config, PodConstraints()).values()) == 1
    assert sum(_decide(config, APART).values()) == 3
