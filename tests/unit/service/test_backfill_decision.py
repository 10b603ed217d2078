"""A backfill's floor in the pool decision step: node targets never below it while its window is
open, replicas still the replica core's with the floor applied after, and normal scaling (scale-in
by the usual rules) once the window has ended.

The pool is the shipped example's: `gpu` over ml.g5.12xlarge in us-east-1a ($7.09/h in the
catalogue) and ml.g6e.12xlarge in us-east-1b ($13.12/h), at most 8 nodes, consolidation
`WhenEmpty` after 5 minutes within a budget of one node at a time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ebb.config import EbbConfig, load_config_files
from ebb.core.nodes import DEFAULT_UNAVAILABLE_TTL, NodeState, OfferingKey, UnavailableOfferings
from ebb.core.replicas import ReplicaCounts, SqsQueueAttributes
from ebb.service.decision import (
    BackfillFloor,
    GroupCounts,
    NodeMemory,
    ObservedNode,
    PoolSnapshot,
    PoolState,
    ScalerSnapshot,
    decide_pool,
)

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "gpu-inference"
# Before the example's weekday pre-warm window (08:00 UTC for 10 h), which would hold the LLM
# at one replica: these tests are about other rules.
NOW = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
UNTIL = NOW + timedelta(hours=1)  # ends before the pre-warm window opens
LLM = "serving/llm-inference"
BATCH = "batch/batch-worker"
G5, G6E = "gpu-g5-use1a", "gpu-g6e-use1b"


@pytest.fixture(scope="module")
def config() -> EbbConfig:
    return load_config_files(sorted(EXAMPLE.glob("*.yaml")))


def _llm(replicas: int = 0) -> ScalerSnapshot:
    from ebb.core.replicas import CloudWatchResult

    return ScalerSnapshot(
        observations={
            "requests-per-target": CloudWatchResult(datapoints=()),
            "wake-on-503": CloudWatchResult(datapoints=()),
        },
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
    *,
    batch: ScalerSnapshot | None = None,
    groups: dict[str, int] | None = None,
    nodes: tuple[ObservedNode, ...] = (),
) -> PoolSnapshot:
    targets = groups or {G5: 0, G6E: 0}
    return PoolSnapshot(
        node_pool="gpu",
        scalers={LLM: _llm(), BATCH: batch or _batch()},
        groups={name: GroupCounts(current=count, target=count) for name, count in targets.items()},
        nodes=nodes,
    )


def _empty_node(name: str, group: str = G5) -> ObservedNode:
    return ObservedNode.model_validate(
        {
            "name": name,
            "instance_group": group,
            "instance_type": "ml.g5.12xlarge" if group == G5 else "ml.g6e.12xlarge",
            "state": NodeState.READY,
            "pods": {},
            "launched_at": NOW - timedelta(hours=2),
        }
    )


def _floor(**fields: object) -> BackfillFloor:
    return BackfillFloor.model_validate({"name": "nightly", "until": UNTIL, **fields})


def test_a_total_floor_goes_to_the_cheapest_group_and_takes_a_generation(config: EbbConfig) -> None:
    state = PoolState(backfill=_floor(nodes=3))
    decision = decide_pool(_snapshot(), state, config, NOW)

    # No work at all: the plan alone wants no node; the floor wants three, on the cheaper group.
    assert decision.node_targets == {G5: 3, G6E: 0}
    assert decision.provisioning is not None
    assert decision.provisioning.node_targets == {G5: 3, G6E: 0}
    assert decision.state.generation == 1
    assert decision.state.backfill == state.backfill
    assert decision.backfill_notes == (
        f"backfill 'nightly' floor until {UNTIL.isoformat()}: 3 node(s) in total: adds {G5}+3",
    )
    assert "adds gpu-g5-use1a+3" in decision.explain()


def test_a_total_floor_avoids_an_offering_marked_unavailable(config: EbbConfig) -> None:
    out = UnavailableOfferings().mark(
        OfferingKey(instance_group=G5, instance_type="ml.g5.12xlarge", zone="us-east-1a"),
        NOW,
        DEFAULT_UNAVAILABLE_TTL,
    )
    state = PoolState(backfill=_floor(nodes=2), unavailable=out)
    decision = decide_pool(_snapshot(), state, config, NOW)

    assert decision.node_targets == {G5: 0, G6E: 2}


def test_a_total_floor_stops_at_the_node_pools_limit_and_says_how_many_are_short(config: EbbConfig) -> None:
    decision = decide_pool(_snapshot(), PoolState(backfill=_floor(nodes=11)), config, NOW)

    # `limits.nodes: 8`: Karpenter launches no node past a NodePool's limits (karpenter.sh docs,
    # Concepts > NodePools, "spec.limits").
    assert decision.node_targets == {G5: 8, G6E: 0}
    assert any("3 node(s) short" in note for note in decision.backfill_notes)


def test_group_floors_hold_per_group_and_the_larger_of_plan_and_floor_wins(config: EbbConfig) -> None:
    # 8 messages want 4 batch workers, one g5 node; the floor asks one g6e node besides.
    state = PoolState(backfill=_floor(group_nodes={G6E: 1}))
    decision = decide_pool(_snapshot(batch=_batch(visible=8)), state, config, NOW)
    assert decision.node_targets == {G5: 1, G6E: 1}

    # A total floor below what the plan needs changes nothing.
    plain = decide_pool(_snapshot(batch=_batch(visible=8)), PoolState(), config, NOW)
    floored = decide_pool(
        _snapshot(batch=_batch(visible=8)), PoolState(backfill=_floor(nodes=1)), config, NOW
    )
    assert floored.node_targets == plain.node_targets == {G5: 1, G6E: 0}
    assert floored.backfill_notes == ()


def test_the_replica_floor_is_applied_after_the_replica_core_and_explained(config: EbbConfig) -> None:
    state = PoolState(backfill=_floor(replicas={BATCH: 6}))
    decision = decide_pool(_snapshot(), state, config, NOW)

    (batch,) = [o for o in decision.scalers if o.scaler == BATCH]
    assert batch.desired == 6
    assert batch.decision.explanation.desired == 6
    assert batch.decision.explanation.steps[-1] == (
        f"backfill floor until {UNTIL.isoformat()}: at least 6 (backfill 'nightly')"
    )
    assert [(a.name, a.replicas_before, a.replicas) for a in decision.scale] == [("batch-worker", 0, 6)]
    # Six one-GPU workers need two 4-GPU nodes: the replicas' floor shows in the node plan too.
    assert decision.node_targets == {G5: 2, G6E: 0}


def test_a_replica_floor_above_what_the_metrics_want_only_when_it_binds(config: EbbConfig) -> None:
    # 16 messages at queueLength 2 want 8 workers (the maximum); a floor of 2 does not bind.
    state = PoolState(backfill=_floor(replicas={BATCH: 2}))
    decision = decide_pool(_snapshot(batch=_batch(replicas=8, visible=16)), state, config, NOW)
    (batch,) = [o for o in decision.scalers if o.scaler == BATCH]
    assert batch.desired == 8
    assert not any("backfill" in step for step in batch.decision.explanation.steps)


def _idle_pool_state(**fields: object) -> PoolState:
    # Two empty nodes, seen empty for an hour: past consolidateAfter (5m), so WhenEmpty removes one.
    seen = NodeMemory(
        initialized_at=NOW - timedelta(hours=2), pods={}, last_pod_event_at=NOW - timedelta(hours=1)
    )
    return PoolState.model_validate(
        {
            "generation": 4,
            "node_targets": {G5: 2, G6E: 0},
            "nodes": {"g5-a": seen, "g5-b": seen},
            **fields,
        }
    )


def test_during_the_window_an_idle_pool_keeps_its_floor_and_scales_in_after_it(config: EbbConfig) -> None:
    snapshot = _snapshot(groups={G5: 2, G6E: 0}, nodes=(_empty_node("g5-a"), _empty_node("g5-b")))

    without = decide_pool(snapshot, _idle_pool_state(), config, NOW)
    assert without.node_targets == {G5: 1, G6E: 0}, "the example scales an idle pool in"

    during = decide_pool(snapshot, _idle_pool_state(backfill=_floor(nodes=2)), config, NOW)
    assert during.node_targets == {G5: 2, G6E: 0}
    assert during.provisioning is None
    assert during.state.backfill is not None
    assert during.backfill_notes == (
        f"backfill 'nightly' floor until {UNTIL.isoformat()}: 2 node(s) in total: keeps g5-a",
    )

    after = UNTIL + timedelta(minutes=1)
    ended = decide_pool(snapshot, _idle_pool_state(backfill=_floor(nodes=2)), config, after)
    assert ended.node_targets == {G5: 1, G6E: 0}
    assert ended.provisioning is not None
    assert [r.node for r in ended.provisioning.removals] == ["g5-a"]
    assert ended.state.backfill is None
    assert ended.backfill_notes == (
        f"backfill 'nightly' floor until {UNTIL.isoformat()}: 2 node(s) in total ended: "
        "normal scaling resumes",
    )


def test_a_group_floor_keeps_consolidation_from_removing_below_it(config: EbbConfig) -> None:
    snapshot = _snapshot(groups={G5: 2, G6E: 0}, nodes=(_empty_node("g5-a"), _empty_node("g5-b")))
    decision = decide_pool(snapshot, _idle_pool_state(backfill=_floor(group_nodes={G5: 2})), config, NOW)
    assert decision.node_targets == {G5: 2, G6E: 0}
    assert decision.plan.removals == ()


def test_a_new_generation_is_taken_when_asked_even_if_the_targets_stay(config: EbbConfig) -> None:
    snapshot = _snapshot(groups={G5: 2, G6E: 0}, nodes=(_empty_node("g5-a"), _empty_node("g5-b")))
    state = _idle_pool_state(backfill=_floor(nodes=2))
    decision = decide_pool(snapshot, state, config, NOW, new_generation="backfill 'nightly' set")
    assert decision.provisioning is not None
    assert (decision.provisioning.generation, decision.provisioning.reason) == (5, "backfill 'nightly' set")
    assert decision.provisioning.node_targets == {G5: 2, G6E: 0}
    assert decision.provisioning.removals == ()
    assert decision.state.generation == 5
