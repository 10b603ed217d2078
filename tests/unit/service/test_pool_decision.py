"""The pool decision step: replicas per scaler, one node plan per pool, targets and generations.

These drive `decide_pool` through the shipped example (two GPU instance groups in two zones, an
LLM server on ALB metrics and a batch worker on SQS depth, one NodePool) with snapshots built by
hand, as the `decide` service and the simulator build them from what they observe.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ebb.config import EbbConfig, load_config_files
from ebb.core.nodes import NodeState, Resources, Toleration
from ebb.core.nodes.taints import TaintEffect
from ebb.core.replicas import (
    CloudWatchDatapoint,
    CloudWatchResult,
    ReplicaCounts,
    ScalerState,
    SqsQueueAttributes,
)
from ebb.core.replicas.state import Recommendation
from ebb.service.decision import (
    GroupCounts,
    NodeFailure,
    ObservedNode,
    PendingPod,
    PoolSnapshot,
    PoolState,
    ScalerSnapshot,
    decide_pool,
    owning_pool,
)
from ebb.service.decision.pool_decision import UNMODELLED_CONSTRAINT

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "gpu-inference"
# Before the example's weekday pre-warm window (08:00 UTC for 10 h), which would hold the LLM
# at one replica: these tests are about other rules.
NOW = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
LLM = "serving/llm-inference"
BATCH = "batch/batch-worker"
G5, G6E = "gpu-g5-use1a", "gpu-g6e-use1b"
GPU_TOLERATION = Toleration(key="nvidia.com/gpu", operator="Exists", effect=TaintEffect.NO_SCHEDULE)


@pytest.fixture(scope="module")
def config() -> EbbConfig:
    return load_config_files(sorted(EXAMPLE.glob("*.yaml")))


def _cloudwatch(value: float | None, now: datetime = NOW) -> CloudWatchResult:
    if value is None:
        return CloudWatchResult(datapoints=())
    return CloudWatchResult(
        datapoints=(CloudWatchDatapoint(timestamp=now - timedelta(minutes=2), value=value),)
    )


def _llm(replicas: int = 0, per_target: float | None = None, errors: float | None = None) -> ScalerSnapshot:
    return ScalerSnapshot(
        observations={"requests-per-target": _cloudwatch(per_target), "wake-on-503": _cloudwatch(errors)},
        replicas=ReplicaCounts(spec=replicas, status=replicas, ready=replicas),
    )


def _batch(replicas: int = 0, visible: int = 0) -> ScalerSnapshot:
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
    )


def _snapshot(
    llm: ScalerSnapshot | None = None,
    batch: ScalerSnapshot | None = None,
    *,
    groups: dict[str, int] | None = None,
    nodes: tuple[ObservedNode, ...] = (),
    pending: tuple[PendingPod, ...] = (),
) -> PoolSnapshot:
    targets = groups or {G5: 0, G6E: 0}
    return PoolSnapshot(
        node_pool="gpu",
        scalers={LLM: llm or _llm(), BATCH: batch or _batch()},
        groups={name: GroupCounts(current=count, target=count) for name, count in targets.items()},
        nodes=nodes,
        pending=pending,
    )


def _node(name: str, group: str = G5, pods: dict[str, int] | None = None, **fields: object) -> ObservedNode:
    instance_type = "ml.g5.12xlarge" if group == G5 else "ml.g6e.12xlarge"
    return ObservedNode.model_validate(
        {
            "name": name,
            "instance_group": group,
            "instance_type": instance_type,
            "state": NodeState.READY,
            "pods": pods or {},
            "launched_at": NOW - timedelta(hours=1),
            **fields,
        }
    )


def test_work_at_zero_scales_pods_up_and_orders_nodes_as_a_new_generation(config: EbbConfig) -> None:
    decision = decide_pool(_snapshot(batch=_batch(visible=10)), PoolState(), config, NOW)

    (batch,) = [o for o in decision.scalers if o.scaler == BATCH]
    # 10 messages at queueLength 2 want 5; KEDA activates 0 -> 1 and the HPA, which has no
    # `behavior` here, caps a scale-up at max(2 x current, 4) (kubernetes/kubernetes
    # pkg/controller/podautoscaler/horizontal.go, calculateScaleUpLimit).
    assert batch.desired == 4
    assert [(a.namespace, a.name, a.replicas_before, a.replicas) for a in decision.scale] == [
        ("batch", "batch-worker", 0, 4)
    ]
    # Four 1-GPU pods fill one ml.g5.12xlarge (4 GPUs), the cheapest node that holds them.
    assert decision.node_targets == {G5: 1, G6E: 0}
    order = decision.provisioning
    assert order is not None
    assert order.generation == 1
    assert order.node_targets == decision.node_targets
    assert decision.state.generation == 1
    assert decision.state.node_targets == decision.node_targets
    assert decision.state.provisioning_open


def test_the_same_observations_decided_again_start_nothing_new(config: EbbConfig) -> None:
    first = decide_pool(_snapshot(batch=_batch(visible=8)), PoolState(), config, NOW)
    # The replicas were applied and HyperPod has the new targets in flight (nodes launching).
    launching = tuple(
        _node(f"{group}-{i}", group, state=NodeState.LAUNCHING)
        for group, count in first.node_targets.items()
        for i in range(count)
    )
    again = decide_pool(
        _snapshot(batch=_batch(replicas=4, visible=8), groups=dict(first.node_targets), nodes=launching),
        first.state,
        config,
        NOW + timedelta(minutes=1),
    )
    assert again.scale == ()
    assert again.provisioning is None
    assert again.state.generation == 1
    assert again.node_targets == first.node_targets


def test_a_replica_change_that_fits_existing_nodes_starts_no_provisioning(config: EbbConfig) -> None:
    # One g5 node (4 GPUs) running one batch pod: two more fit on it.
    node = _node("ip-10-0-0-1", pods={BATCH: 1})
    state = PoolState(generation=3, node_targets={G5: 1, G6E: 0})
    decision = decide_pool(
        _snapshot(batch=_batch(replicas=1, visible=6), groups={G5: 1, G6E: 0}, nodes=(node,)),
        state,
        config,
        NOW,
    )
    assert [a.replicas for a in decision.scale] == [3]
    assert decision.provisioning is None
    assert decision.state.generation == 3
    assert decision.node_targets == {G5: 1, G6E: 0}


def test_a_capacity_shortage_marks_the_offering_and_plans_the_other_zone(config: EbbConfig) -> None:
    failed = _node("hp-node-1", G5, state=None, failure=NodeFailure.CAPACITY)
    state = PoolState(generation=1, node_targets={G5: 1, G6E: 0}, provisioning_open=True)
    decision = decide_pool(
        _snapshot(batch=_batch(replicas=2, visible=4), groups={G5: 1, G6E: 0}, nodes=(failed,)),
        state,
        config,
        NOW,
    )
    (entry,) = decision.state.unavailable.entries
    assert (entry.offering.instance_group, entry.offering.zone) == (G5, "us-east-1a")
    assert decision.node_targets[G6E] >= 1
    assert decision.provisioning is not None
    assert decision.provisioning.generation == 2


def test_pods_with_a_constraint_the_planner_does_not_model_are_reported_not_planned(
    config: EbbConfig,
) -> None:
    batch = _batch(visible=10).model_copy(update={"unmodelled_constraints": ("topologySpreadConstraints",)})
    decision = decide_pool(_snapshot(batch=batch), PoolState(), config, NOW)
    assert [a.replicas for a in decision.scale] == [4]  # replicas are still the scaler's
    assert decision.node_targets == {G5: 0, G6E: 0}
    assert decision.provisioning is None
    (report,) = [u for u in decision.unplaceable if u.pods == BATCH]
    assert (report.count, report.reason, report.detail) == (
        4,
        UNMODELLED_CONSTRAINT,
        "topologySpreadConstraints",
    )


def _pending(name: str, **fields: object) -> PendingPod:
    return PendingPod.model_validate(
        {
            "namespace": "research",
            "name": name,
            "requests": Resources.of(cpu="4", memory="16Gi", gpus=1),
            "tolerations": (GPU_TOLERATION,),
            **fields,
        }
    )


def test_a_pending_pod_of_no_scaler_gets_a_node_from_the_pool_that_owns_it(config: EbbConfig) -> None:
    pod = _pending("notebook-0")
    assert owning_pool(config, pod) == "gpu"
    decision = decide_pool(_snapshot(pending=(pod,)), PoolState(), config, NOW)
    assert sum(decision.node_targets.values()) == 1
    assert decision.provisioning is not None


def test_a_pending_pod_no_pool_can_take_is_not_planned(config: EbbConfig) -> None:
    untolerated = _pending("cpu-job", tolerations=())  # the GPU groups are tainted
    assert owning_pool(config, untolerated) is None
    decision = decide_pool(_snapshot(pending=(untolerated,)), PoolState(), config, NOW)
    assert decision.node_targets == {G5: 0, G6E: 0}


def test_lowering_replicas_marks_the_pods_on_the_node_to_empty_first(config: EbbConfig) -> None:
    nodes = (_node("a", pods={BATCH: 3}), _node("b", pods={BATCH: 1}))
    # The HPA's 300 s downscale stabilization has seen no more than 3 lately.
    history = ScalerState(
        created_at=NOW - timedelta(hours=1),
        last_active_at=NOW,
        recommendations=(Recommendation(at=NOW - timedelta(minutes=1), replicas=3),),
    )
    decision = decide_pool(
        _snapshot(batch=_batch(replicas=4, visible=6), groups={G5: 2, G6E: 0}, nodes=nodes),
        PoolState(node_targets={G5: 2, G6E: 0}, scalers={BATCH: history}),
        config,
        NOW,
    )
    assert [a.replicas for a in decision.scale] == [3]
    assert [(d.node, d.group, d.count) for d in decision.delete_first] == [("b", BATCH, 1)]


def test_node_memory_records_initialization_and_pod_events(config: EbbConfig) -> None:
    node = _node("a", pods={BATCH: 1})
    snapshot = _snapshot(batch=_batch(replicas=1, visible=2), groups={G5: 1, G6E: 0}, nodes=(node,))
    first = decide_pool(snapshot, PoolState(node_targets={G5: 1, G6E: 0}), config, NOW)
    later = NOW + timedelta(minutes=5)
    second = decide_pool(snapshot, first.state, config, later)
    assert second.state.nodes["a"].initialized_at == NOW
    assert second.state.nodes["a"].last_pod_event_at == NOW
    moved = _snapshot(
        batch=_batch(replicas=2, visible=4), groups={G5: 1, G6E: 0}, nodes=(_node("a", pods={BATCH: 2}),)
    )
    third = decide_pool(moved, second.state, config, later + timedelta(minutes=1))
    assert third.state.nodes["a"].last_pod_event_at == later + timedelta(minutes=1)


def test_an_empty_node_counts_consolidate_after_from_its_initialization_not_its_registration(
    config: EbbConfig,
) -> None:
    """A node that never ran a pod has no pod event: consolidateAfter counts from initialization.

    kubernetes-sigs/karpenter pkg/controllers/nodeclaim/disruption/consolidation.go (Reconcile):
    "If the lastPodEvent is zero, use the time that the nodeclaim was initialized"; the podevents
    controller sets lastPodEventTime only when a pod binds to the node or leaves it. A node seen
    registered (GPUs not yet allocatable) before it is usable must not have that sighting taken
    for a pod event, or it is consolidated before consolidateAfter since it became usable.
    """
    groups = {G5: 1, G6E: 0}
    registered = _snapshot(groups=groups, nodes=(_node("a", state=NodeState.REGISTERED),))
    first = decide_pool(registered, PoolState(node_targets=groups), config, NOW)
    assert first.state.nodes["a"].initialized_at is None
    assert first.state.nodes["a"].last_pod_event_at is None
    usable = NOW + timedelta(seconds=30)
    second = decide_pool(_snapshot(groups=groups, nodes=(_node("a"),)), first.state, config, usable)
    assert second.state.nodes["a"].initialized_at == usable
    assert second.state.nodes["a"].last_pod_event_at is None


def test_a_snapshot_that_misses_a_scaler_or_group_is_refused(config: EbbConfig) -> None:
    snapshot = _snapshot()
    partial = snapshot.model_copy(
        update={"scalers": {LLM: _llm()}, "groups": {G5: GroupCounts(current=0, target=0)}}
    )
    with pytest.raises(ValueError, match=r"no observation of scaler\(s\) batch/batch-worker.*gpu-g6e-use1b"):
        decide_pool(partial, PoolState(), config, NOW)


def test_the_idle_timer_is_the_cooldown_end(config: EbbConfig) -> None:
    # Active a minute ago, nothing now: KEDA's cooldownPeriod (300 s for the batch worker) runs.
    state = PoolState(
        scalers={
            BATCH: ScalerState(created_at=NOW - timedelta(hours=1), last_active_at=NOW - timedelta(minutes=1))
        },
        node_targets={G5: 1, G6E: 0},
    )
    node = _node("a", pods={BATCH: 1})
    decision = decide_pool(
        _snapshot(batch=_batch(replicas=1, visible=0), groups={G5: 1, G6E: 0}, nodes=(node,)),
        state,
        config,
        NOW,
    )
    assert decision.scale == ()
    assert decision.idle_timers[BATCH] == NOW - timedelta(minutes=1) + timedelta(seconds=300)


def test_a_node_being_drained_does_not_count_toward_its_groups_target(config: EbbConfig) -> None:
    # Generation 3 removes node b (target 2 -> 1); the scale-in has cordoned it, and HyperPod
    # still counts it until BatchDeleteClusterNodes. A node marked for deletion is not capacity
    # (Karpenter's cluster state excludes it, docs "Disruption", "Control Flow"): the decisions
    # taken during the drain keep generation 3 rather than restoring the target and superseding it.
    state = PoolState(generation=3, node_targets={G5: 1, G6E: 0}, provisioning_open=True)
    snapshot = _snapshot(
        batch=_batch(replicas=1),
        groups={G5: 2, G6E: 0},
        nodes=(_node("a", pods={BATCH: 1}), _node("b", deleting=True)),
    )
    decision = decide_pool(snapshot, state, config, NOW)
    assert decision.provisioning is None
    assert decision.node_targets == {G5: 1, G6E: 0}
    assert decision.state.generation == 3
