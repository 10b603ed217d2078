"""A target another autoscaler scales: the pool decision does not scale it, says why, and plans
its pods as pods ebb does not manage.

ebb refuses to fight another controller (design invariant). KEDA refuses the same fight from its
side: its admission webhook rejects a ScaledObject whose target an HPA already manages, "the
workload '%s' of type '%s' is already managed by the hpa '%s'" (kedacore/keda
apis/keda/v1alpha1/scaledobject_webhook.go, verifyHpas; tests/internals/scaled_object_validation,
testScaledWorkloadByOtherHpa). Holding the replicas is KEDA's pause (`autoscaling.keda.sh/paused`),
which keeps the current count and forgets the HPA's history.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ebb.config import EbbConfig, load_config_files
from ebb.core.nodes import NodeState, Resources, Toleration
from ebb.core.nodes.taints import TaintEffect
from ebb.core.replicas import CloudWatchResult, ReplicaCounts, ScalerState, SqsQueueAttributes
from ebb.core.replicas.state import Recommendation
from ebb.service.decision import (
    GroupCounts,
    ObservedNode,
    PendingPod,
    PoolSnapshot,
    PoolState,
    ScalerSnapshot,
    decide_pool,
)

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "gpu-inference"
# Before the example's weekday pre-warm window (08:00 UTC for 10 h), which would hold the LLM
# at one replica: these tests are about other rules.
NOW = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
LLM = "serving/llm-inference"
BATCH = "batch/batch-worker"
G5, G6E = "gpu-g5-use1a", "gpu-g6e-use1b"
HPA = "HorizontalPodAutoscaler batch/batch-worker"
GPU = Toleration(key="nvidia.com/gpu", operator="Exists", effect=TaintEffect.NO_SCHEDULE)
WORKER_REQUESTS = Resources(cpu_millis=4000, memory_bytes=24 * 2**30, gpus=1)


@pytest.fixture(scope="module")
def config() -> EbbConfig:
    return load_config_files(sorted(EXAMPLE.glob("*.yaml")))


def _batch(replicas: int, visible: int, held_by: tuple[str, ...] = ()) -> ScalerSnapshot:
    return ScalerSnapshot(
        observations={
            "s0-aws-sqs-queue": SqsQueueAttributes(
                attributes={
                    "ApproximateNumberOfMessages": str(visible),
                    "ApproximateNumberOfMessagesNotVisible": "0",
                }
            )
        },
        replicas=ReplicaCounts(spec=replicas, status=replicas, ready=replicas),
        held_by=held_by,
    )


def _llm() -> ScalerSnapshot:
    return ScalerSnapshot(
        observations={
            "requests-per-target": CloudWatchResult(datapoints=()),
            "wake-on-503": CloudWatchResult(datapoints=()),
        },
        replicas=ReplicaCounts(spec=0, status=0, ready=0),
    )


def _snapshot(
    batch: ScalerSnapshot, *, nodes: tuple[ObservedNode, ...] = (), pending: tuple[PendingPod, ...] = ()
) -> PoolSnapshot:
    count = sum(1 for n in nodes if n.instance_group == G5)
    return PoolSnapshot(
        node_pool="gpu",
        scalers={LLM: _llm(), BATCH: batch},
        groups={G5: GroupCounts(current=count, target=count), G6E: GroupCounts(current=0, target=0)},
        nodes=nodes,
        pending=pending,
    )


def _worker_pod(name: str) -> PendingPod:
    return PendingPod(
        namespace="batch",
        name=name,
        requests=WORKER_REQUESTS,
        tolerations=(GPU,),
        held_scaler=BATCH,
    )


def test_a_held_target_is_not_scaled_and_the_decision_names_who_holds_it(config: EbbConfig) -> None:
    free = decide_pool(_snapshot(_batch(0, visible=10)), PoolState(), config, NOW)
    assert [(a.scaler, a.replicas) for a in free.scale] == [(BATCH, 4)]  # what ebb does unhindered

    decision = decide_pool(_snapshot(_batch(0, visible=10, held_by=(HPA,))), PoolState(), config, NOW)

    assert decision.scale == ()
    (batch,) = [o for o in decision.scalers if o.scaler == BATCH]
    assert (batch.desired, batch.held_by) == (0, (HPA,))
    assert batch.decision.wake_at is None  # no idle timer for a target ebb does not scale
    assert decision.held == {BATCH: (HPA,)}
    held = f"held by {HPA}: ebb does not scale a target another autoscaler scales"
    assert batch.decision.explanation.steps[-1] == held
    assert f"{BATCH}: 0 -> 0 (paused, {held})" in decision.explain()
    assert decision.provisioning is None  # and no node for replicas ebb did not set


def test_a_held_target_keeps_the_replicas_its_autoscaler_set_and_ebb_forgets_its_own_history(
    config: EbbConfig,
) -> None:
    stored = ScalerState(
        created_at=NOW - timedelta(hours=1),
        recommendations=(Recommendation(at=NOW - timedelta(minutes=1), replicas=1),),
    )
    state = PoolState(scalers={BATCH: stored})
    # An empty queue: unhindered, ebb would take the worker's 6 replicas down.
    decision = decide_pool(_snapshot(_batch(6, visible=0, held_by=(HPA,))), state, config, NOW)

    assert decision.scale == ()
    assert decision.delete_first == ()
    assert decision.state.scalers[BATCH].recommendations is None


def test_the_pending_pods_of_a_held_target_get_nodes_as_pods_ebb_does_not_manage(config: EbbConfig) -> None:
    # The HPA set 2 replicas; their pods wait. ebb plans a node for them as for any pending pod.
    pending = (_worker_pod("batch-worker-7d9f-a"), _worker_pod("batch-worker-7d9f-b"))
    decision = decide_pool(
        _snapshot(_batch(2, visible=0, held_by=(HPA,)), pending=pending), PoolState(), config, NOW
    )

    assert decision.scale == ()
    assert decision.provisioning is not None
    assert decision.node_targets == {G5: 1, G6E: 0}
    (new,) = decision.plan.new_nodes
    assert (new.instance_group, new.count) == (G5, 1)
    assert dict(new.pods_per_node) == {
        "pending:batch/batch-worker-7d9f-a": 1,
        "pending:batch/batch-worker-7d9f-b": 1,
    }


def test_a_node_running_only_a_held_targets_pods_is_not_taken_away(config: EbbConfig) -> None:
    # The pods of a held target are unmanaged on their node (observe counts them so): scale-in
    # never evicts pods ebb does not manage.
    node = ObservedNode(
        name="gpu-1",
        instance_group=G5,
        instance_type="ml.g5.12xlarge",
        state=NodeState.READY,
        launched_at=NOW - timedelta(hours=2),
        unmanaged=WORKER_REQUESTS,
        unmanaged_pods=1,
    )
    memory = {
        "gpu-1": {"initialized_at": NOW - timedelta(hours=2), "last_pod_event_at": NOW - timedelta(hours=1)}
    }
    state = PoolState.model_validate({"nodes": memory, "node_targets": {G5: 1, G6E: 0}})
    decision = decide_pool(_snapshot(_batch(1, visible=0, held_by=(HPA,)), nodes=(node,)), state, config, NOW)

    assert decision.plan.removals == ()
    # Its replicas are the HPA's, already running: ebb plans no pod of its own for them.
    assert decision.plan.placements == ()
    assert decision.node_targets == {G5: 1, G6E: 0}
    assert decision.provisioning is None
