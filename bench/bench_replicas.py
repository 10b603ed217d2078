"""Time to decide 500 scalers with 3 triggers each and full histories, in one process.

"Full" means every history the state can hold is at its bound: a recommendation every 15 s over
the longest stabilization window and a scale event every 15 s over each direction's longest
policy period. The baseline runs the same scalers, metrics and replicas with empty histories, so
the ratio shows what the histories cost. Run: `.venv/bin/python bench/bench_replicas.py`.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from ebb.core.replicas import (
    CloudWatchDatapoint,
    CloudWatchResult,
    CloudWatchTrigger,
    Fallback,
    HpaBehavior,
    HpaScalingPolicy,
    HpaScalingRules,
    MetricFailure,
    Observation,
    Recommendation,
    ReplicaCounts,
    ScaleEvent,
    ScalerPolicy,
    ScalerState,
    ScalingPolicyType,
    SqsQueueAttributes,
    SqsQueueTrigger,
    decide_replicas,
    load_state,
)
from ebb.core.replicas.metrics import cloudwatch_query_window

SCALERS = 500
RUNS = 7
TARGET_SECONDS = 0.5
NOW = datetime(2025, 3, 14, 15, 9, 26, tzinfo=UTC)
CADENCE = timedelta(seconds=15)

Case = tuple[ScalerPolicy, dict[str, Observation], ReplicaCounts, ScalerState, ScalerState]


def _behavior(rng: random.Random) -> HpaBehavior | None:
    if rng.random() < 0.3:
        return None
    return HpaBehavior(
        scale_up=HpaScalingRules(
            stabilization_window_seconds=rng.choice([0, 60, 120]),
            policies=(
                HpaScalingPolicy(type=ScalingPolicyType.PODS, value=4, period_seconds=60),
                HpaScalingPolicy(type=ScalingPolicyType.PERCENT, value=100, period_seconds=120),
            ),
        ),
        scale_down=HpaScalingRules(
            stabilization_window_seconds=rng.choice([300, 600]),
            policies=(HpaScalingPolicy(type=ScalingPolicyType.PERCENT, value=10, period_seconds=60),),
        ),
    )


def _recommendations(count: int, start: datetime, rng: random.Random) -> tuple[Recommendation, ...]:
    return tuple(Recommendation(at=start - CADENCE * i, replicas=rng.randrange(1, 40)) for i in range(count))


def _events(count: int, start: datetime, rng: random.Random) -> tuple[ScaleEvent, ...]:
    return tuple(ScaleEvent(at=start - CADENCE * i, change=rng.randrange(1, 4)) for i in range(count))


def _case(index: int, rng: random.Random) -> Case:
    triggers = (
        SqsQueueTrigger(name="requests", queue_length=rng.randrange(2, 20), activation_queue_length=1),
        SqsQueueTrigger(name="batch", queue_length=rng.randrange(20, 100), scale_on_delayed=True),
        CloudWatchTrigger(
            name="latency",
            target_metric_value=rng.uniform(0.2, 2.0),
            min_metric_value=0,
            metric_collection_time=300,
            metric_stat_period=60,
        ),
    )
    behavior = _behavior(rng)
    policy = ScalerPolicy(
        name=f"scaler-{index}",
        min_replica_count=rng.choice([0, 0, 1, 2]),
        max_replica_count=rng.randrange(20, 200),
        fallback=Fallback(failure_threshold=3, replicas=4) if rng.random() < 0.5 else None,
        behavior=behavior,
        triggers=triggers,
        keda_exact=rng.random() < 0.2,
    )
    start, _ = cloudwatch_query_window(NOW, 60, 0, 300)
    datapoints = tuple(
        CloudWatchDatapoint(timestamp=start + timedelta(minutes=minute), value=rng.uniform(0, 3))
        for minute in range(5)
    )
    observations: dict[str, Observation] = {
        "requests": SqsQueueAttributes(
            attributes={
                "ApproximateNumberOfMessages": str(rng.randrange(0, 500)),
                "ApproximateNumberOfMessagesNotVisible": str(rng.randrange(0, 100)),
            }
        ),
        "batch": SqsQueueAttributes(
            attributes={
                "ApproximateNumberOfMessages": str(rng.randrange(0, 5000)),
                "ApproximateNumberOfMessagesNotVisible": str(rng.randrange(0, 500)),
                "ApproximateNumberOfMessagesDelayed": str(rng.randrange(0, 500)),
            }
        ),
        "latency": CloudWatchResult(datapoints=datapoints)
        if rng.random() > 0.1
        else MetricFailure(reason="throttled"),
    }
    spec = rng.randrange(0, 30)
    replicas = ReplicaCounts(spec=spec, status=spec, ready=spec)
    window = 300 if behavior is None else 600
    recent = NOW - CADENCE
    full = ScalerState(
        created_at=NOW - timedelta(days=3),
        last_active_at=NOW - timedelta(seconds=rng.randrange(0, 900)),
        recommendations=_recommendations(window // 15, recent, rng),
        scale_up_events=_events(120 // 15, recent, rng) if behavior else (),
        scale_down_events=_events(60 // 15, recent, rng) if behavior else (),
        consecutive_failures={"latency": rng.randrange(0, 6)},
    )
    empty = ScalerState(created_at=full.created_at, last_active_at=full.last_active_at, recommendations=())
    return policy, observations, replicas, full, empty


def _pass(cases: Sequence[Case], *, full: bool) -> float:
    started = time.perf_counter()
    for policy, observations, replicas, full_state, empty_state in cases:
        decide_replicas(policy, observations, replicas, full_state if full else empty_state, NOW)
    return time.perf_counter() - started


def _pass_with_storage(cases: Sequence[Case], stored: Sequence[dict[str, object]]) -> float:
    # What a tick adds around the decisions: reading each state from JSON and writing it back.
    started = time.perf_counter()
    for (policy, observations, replicas, _, _), document in zip(cases, stored, strict=True):
        decision = decide_replicas(policy, observations, replicas, load_state(document), NOW)
        json.dumps(decision.state.model_dump(mode="json"))
    return time.perf_counter() - started


def main() -> None:
    """Print the time of one pass over all scalers, full histories against empty ones."""
    rng = random.Random(4)
    cases = [_case(index, rng) for index in range(SCALERS)]
    entries = sum(
        len(full.recommendations or ()) + len(full.scale_up_events) + len(full.scale_down_events)
        for *_, full, _ in cases
    )
    stored = [json.loads(json.dumps(full.model_dump(mode="json"))) for *_, full, _ in cases]
    _pass(cases, full=True)  # warm up
    full_median = statistics.median(_pass(cases, full=True) for _ in range(RUNS))
    empty_median = statistics.median(_pass(cases, full=False) for _ in range(RUNS))
    storage_median = statistics.median(_pass_with_storage(cases, stored) for _ in range(RUNS))
    print(f"scalers: {SCALERS} x {len(cases[0][0].triggers)} triggers, history entries in all: {entries}")
    for label, seconds in (
        ("full histories", full_median),
        ("empty histories (baseline)", empty_median),
        ("full + state JSON load/dump", storage_median),
    ):
        print(
            f"{label:28}: median {seconds * 1000:6.1f} ms per pass ({seconds / SCALERS * 1e6:4.0f} us/scaler)"
        )
    print(f"ratio full/empty: {full_median / empty_median:.2f}")
    verdict = "within" if full_median < TARGET_SECONDS else "OVER"
    print(f"target {TARGET_SECONDS:.1f} s per pass: {verdict} ({full_median / TARGET_SECONDS:.0%} of it)")


if __name__ == "__main__":
    main()
