"""The stored state: one versioned, serializable value, migrated from older versions and bounded in size."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import pytest

from ebb.core.replicas import (
    HpaBehavior,
    HpaScalingPolicy,
    HpaScalingRules,
    MetricFailure,
    Observation,
    Recommendation,
    ScaleEvent,
    ScalerPolicy,
    ScalerState,
    ScalingPolicyType,
    SqsQueueTrigger,
    StateError,
    decide_replicas,
    load_state,
)

from .replicas_testkit import NOW, ago, counts, sqs

QUEUES = (SqsQueueTrigger(name="queue", queue_length=5), SqsQueueTrigger(name="backlog", queue_length=20))


def _policy(**fields: object) -> ScalerPolicy:
    return ScalerPolicy.model_validate(
        {"name": "orders", "max_replica_count": 50, "triggers": QUEUES} | fields
    )


def test_a_decided_state_survives_a_json_round_trip() -> None:
    first = decide_replicas(_policy(), {"queue": sqs(80), "backlog": sqs(10)}, counts(2), None, NOW)

    stored = json.loads(json.dumps(first.state.model_dump(mode="json")))

    assert stored["version"] == 2
    assert load_state(stored) == first.state


def test_a_version_1_state_without_history_migrates_to_no_history() -> None:
    # No recommendations in version 1 means none recorded yet (the HPA seeds them), not an empty
    # history; zero changes and zero failure counts carry nothing and are dropped.
    stored = {
        "version": 1,
        "last_active": None,
        "recommendations": None,
        "scale_events": [[ago(40).isoformat(), 1], [ago(30).isoformat(), 0], [ago(20).isoformat(), -1]],
        "failures": {"queue": 1, "backlog": 0},
    }

    state = load_state(stored)

    assert state == ScalerState(
        recommendations=None,
        scale_up_events=(ScaleEvent(at=ago(40), change=1),),
        scale_down_events=(ScaleEvent(at=ago(20), change=1),),
        consecutive_failures={"queue": 1},
    )


def test_no_stored_state_is_none() -> None:
    assert load_state(None) is None


def test_a_version_1_state_is_migrated_without_losing_anything() -> None:
    stored = {
        "version": 1,
        "last_active": ago(30).isoformat(),
        "recommendations": [[ago(90).isoformat(), 6], [ago(30).isoformat(), 4]],
        "scale_events": [[ago(40).isoformat(), 3], [ago(20).isoformat(), -1]],
        "failures": {"queue": 2, "backlog": 0},
    }

    state = load_state(stored)

    assert state == ScalerState(
        created_at=None,
        last_active_at=ago(30),
        recommendations=(Recommendation(at=ago(90), replicas=6), Recommendation(at=ago(30), replicas=4)),
        scale_up_events=(ScaleEvent(at=ago(40), change=3),),
        scale_down_events=(ScaleEvent(at=ago(20), change=1),),
        consecutive_failures={"queue": 2},
    )


def test_a_migrated_state_decides_like_the_state_it_came_from() -> None:
    policy = _policy(behavior=HpaBehavior())
    observations: dict[str, Observation] = {"queue": sqs(3), "backlog": sqs(0)}
    migrated = load_state(
        {
            "version": 1,
            "last_active": ago(30).isoformat(),
            "recommendations": [[ago(120).isoformat(), 9]],
            "scale_events": [[ago(10).isoformat(), -2]],
            "failures": {},
        }
    )
    assert migrated is not None
    current = migrated.model_copy(update={"created_at": ago(3600)})
    written_today = ScalerState(
        created_at=ago(3600),
        last_active_at=ago(30),
        recommendations=(Recommendation(at=ago(120), replicas=9),),
        scale_down_events=(ScaleEvent(at=ago(10), change=2),),
    )

    old = decide_replicas(policy, observations, counts(9), current, NOW)
    new = decide_replicas(policy, observations, counts(9), written_today, NOW)

    assert old.desired_replicas == new.desired_replicas == 9
    assert old.state == new.state


@pytest.mark.parametrize(
    ("stored", "message"),
    [
        ({"version": 3}, "version 3; this ebb reads versions 1 and 2"),
        ({}, "version None"),
        ({"version": 2, "recommendations": [{"at": "yesterday", "replicas": 1}]}, r"recommendations\.0\.at"),
        ({"version": 2, "scale_up_events": [{"at": NOW.isoformat(), "change": 0}]}, "greater than 0"),
        ({"version": 1, "recommendations": [["2025-01-01T00:00:00", 1]]}, "timezone"),
    ],
)
def test_an_unreadable_state_is_refused_with_its_reason(stored: dict[str, object], message: str) -> None:
    with pytest.raises(StateError, match=message):
        load_state(stored)


def test_failure_counts_of_removed_triggers_are_forgotten() -> None:
    state = ScalerState(created_at=ago(60), consecutive_failures={"gone": 7, "queue": 1})

    decision = decide_replicas(
        _policy(), {"queue": MetricFailure(reason="down"), "backlog": sqs(1)}, counts(2), state, NOW
    )

    assert decision.state.consecutive_failures == {"queue": 2}


@pytest.mark.slow
def test_the_state_stays_bounded_over_a_day_of_decisions() -> None:
    # A decision every 15 s for 24 h with a noisy queue: the recommendation history never exceeds
    # the longest stabilization window and the events never exceed the longest policy period.
    behavior = HpaBehavior(
        scale_up=HpaScalingRules(
            stabilization_window_seconds=60,
            policies=(HpaScalingPolicy(type=ScalingPolicyType.PODS, value=2, period_seconds=120),),
        ),
        scale_down=HpaScalingRules(stabilization_window_seconds=600),
    )
    policy = _policy(behavior=behavior, min_replica_count=1)
    noise = random.Random(20250314)
    state: ScalerState | None = None
    replicas = 1
    largest = (0, 0, 0)
    for step in range(24 * 60 * 4):
        now = NOW + timedelta(seconds=15 * step)
        observations: dict[str, Observation] = {
            "queue": sqs(noise.randrange(0, 200)),
            "backlog": sqs(noise.randrange(0, 100))
            if noise.random() > 0.05
            else MetricFailure(reason="throttled"),
        }
        decision = decide_replicas(policy, observations, counts(replicas), state, now)
        state, replicas = decision.state, decision.desired_replicas
        largest = (
            max(largest[0], len(state.recommendations or ())),
            max(largest[1], len(state.scale_up_events)),
            max(largest[2], len(state.scale_down_events)),
        )

    assert largest[0] <= 600 // 15 + 1
    assert largest[1] <= 120 // 15 + 1
    assert largest[2] <= 15 // 15 + 1
    assert state is not None
    assert len(json.dumps(state.model_dump(mode="json"))) < 8_000
