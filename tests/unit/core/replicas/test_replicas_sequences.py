"""Decisions in sequence: what `decide_replicas` stores, and how the next decision reads it back.

The HPA and KEDA keep their history in memory between syncs; ebb carries it in `ScalerState`
from one decision to the next. Each test here chains real decisions (the state one returns is
the state the next one gets, through JSON where it says so), so dropping or garbling any part of
the stored state changes an outcome. Edges are tested exactly at the boundary, where the
upstream comparison is strict or not.

Sources:

* kubernetes/kubernetes pkg/controller/podautoscaler/horizontal.go
  @ 88cca8337e1ddf5b2e8b7411ffa27bc2f27d980e: `reconcileAutoscaler` (out-of-range checks are
  `currentReplicas > MaxReplicas` and `< minReplicas`, so exactly at a bound the metrics decide),
  `stabilizeRecommendation` (legacy: a recommendation counts unless `timestamp.Before(cutoff)`),
  `stabilizeRecommendationWithBehaviors` (counts when `timestamp.After(cutoff)`),
  `getReplicasChangePerPeriod` (an event counts when `timestamp.After(cutoff)`), `storeScaleEvent`;
  the same rules the upstream tables TestNormalizeDesiredReplicasWithBehavior and
  TestScalingWithRules in horizontal_test.go (same commit) exercise one reconcile at a time.
* Kubernetes blog, "Kubernetes v1.33: HorizontalPodAutoscaler Configurable Tolerance"
  (https://kubernetes.io/blog/2025/04/28/kubernetes-v1-33-hpa-configurable-tolerance/) and
  KEP-4951: `behavior.scaleUp.tolerance` and `behavior.scaleDown.tolerance`, one per direction.
* kedacore/keda pkg/scaling/executor/scale_scaledobjects.go (cooldown:
  `lastActiveTime.Add(cooldownPeriod).Before(now)`; initial cooldown from the creation time) and
  the KEDA ScaledObject spec, https://keda.sh/docs/2.17/reference/scaledobject-spec/
  (cooldownPeriod, initialCooldownPeriod, fallback).
* kedacore/keda pkg/fallback/fallback.go @ dfe21b06f6bd9c3b7cf5bc1e5f985a5a975934e9 (`doFallback`:
  the metric `target * 1000 * replicas` milli-units, failures counted per trigger) and KEDA pull
  request #6655 "feat: add fallback support for value metric type" with the KEDA 2.18 ScaledObject
  spec (a `Value` target's fallback is divided by the target's `status.readyReplicas`, which
  must not be 0).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from ebb.core.replicas import (
    CloudWatchTrigger,
    Fallback,
    HpaBehavior,
    HpaScalingPolicy,
    HpaScalingRules,
    MetricFailure,
    MetricTargetType,
    Observation,
    Recommendation,
    ReplicaCounts,
    ReplicaDecision,
    Rule,
    ScaleEvent,
    ScalerPolicy,
    ScalerState,
    ScalingPolicyType,
    SqsQueueTrigger,
    decide_replicas,
    load_state,
)

from .replicas_testkit import NOW, ago, cloudwatch, counts, sqs

QUEUE = SqsQueueTrigger(name="queue", queue_length=5)


def _policy(*triggers: SqsQueueTrigger | CloudWatchTrigger, **fields: object) -> ScalerPolicy:
    return ScalerPolicy.model_validate(
        {"name": "orders", "min_replica_count": 1, "triggers": triggers or (QUEUE,)} | fields
    )


def _pods(value: int, period: int) -> tuple[HpaScalingPolicy, ...]:
    return (HpaScalingPolicy(type=ScalingPolicyType.PODS, value=value, period_seconds=period),)


def _quiet() -> ScalerState:
    # A scaler seen an hour ago, active just now, with an existing but empty history.
    return ScalerState(created_at=ago(3600), last_active_at=NOW, recommendations=())


def _reloaded(state: ScalerState) -> ScalerState:
    # What the next invocation reads: the state as stored (JSON) and loaded back.
    loaded = load_state(json.loads(json.dumps(state.model_dump(mode="json"))))
    assert loaded == state
    return loaded


def _at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


@dataclass(frozen=True)
class Step:
    """One decision of a sequence: when, what the queue held, and (optionally) the replicas."""

    after: float
    observation: Observation
    replicas: ReplicaCounts | None = None
    """`None`: the replicas the previous decision set (status and ready alike)."""


def _run(
    policy: ScalerPolicy, steps: Sequence[Step], state: ScalerState | None, first: int
) -> list[ReplicaDecision]:
    """Decide each step with the state (stored as JSON) and replicas the previous one left."""
    decisions: list[ReplicaDecision] = []
    current = first
    for step in steps:
        replicas = step.replicas or counts(current)
        name = policy.triggers[0].name
        decision = decide_replicas(policy, {name: step.observation}, replicas, state, _at(step.after))
        decisions.append(decision)
        state, current = _reloaded(decision.state), decision.desired_replicas
    return decisions


def _outcome(decision: ReplicaDecision) -> tuple[int, Rule]:
    return decision.desired_replicas, decision.explanation.rule


# --- rate limits across decisions: the stored scale events ---------------------------------------


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        pytest.param(59, (4, Rule.SCALE_UP_LIMIT), id="inside the period the first scale-up counts"),
        pytest.param(60, (6, Rule.SCALE_UP_LIMIT), id="exactly one period later it no longer counts"),
    ],
)
def test_a_scale_up_counts_against_the_policy_for_one_period(after: int, expected: tuple[int, Rule]) -> None:
    # scaleUp Pods 2 per 60 s: the first decision adds 2 (2 -> 4); the next one starts its period
    # from current - scale-ups inside it (getReplicasChangePerPeriod, strictly After the cutoff).
    policy = _policy(behavior=HpaBehavior(scale_up=HpaScalingRules(policies=_pods(2, 60))))

    first, second = _run(policy, [Step(0, sqs(100)), Step(after, sqs(100))], _quiet(), 2)

    assert _outcome(first) == (4, Rule.SCALE_UP_LIMIT)
    assert [(event.at, event.change) for event in first.state.scale_up_events] == [(NOW, 2)]
    assert [(entry.at, entry.replicas) for entry in first.state.recommendations or ()] == [(NOW, 20)]
    assert _outcome(second) == expected


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        pytest.param(59, (8, Rule.SCALE_DOWN_LIMIT), id="inside the period the first scale-down counts"),
        pytest.param(60, (6, Rule.SCALE_DOWN_LIMIT), id="exactly one period later it no longer counts"),
    ],
)
def test_a_scale_down_counts_against_the_policy_for_one_period(
    after: int, expected: tuple[int, Rule]
) -> None:
    # scaleDown Pods 2 per 60 s with no stabilization: 10 -> 8, then the period starts from
    # current + scale-downs inside it.
    behavior = HpaBehavior(scale_down=HpaScalingRules(stabilization_window_seconds=0, policies=_pods(2, 60)))

    first, second = _run(_policy(behavior=behavior), [Step(0, sqs(5)), Step(after, sqs(5))], _quiet(), 10)

    assert _outcome(first) == (8, Rule.SCALE_DOWN_LIMIT)
    assert [(event.at, event.change) for event in first.state.scale_down_events] == [(NOW, 2)]
    assert first.state.scale_up_events == ()
    assert _outcome(second) == expected
    if after == 59:
        # Held at 8: nothing changed, and the event still counts for the next decision.
        assert second.state.scale_down_events == first.state.scale_down_events


def test_a_decision_that_changed_nothing_keeps_the_events_for_the_next_one() -> None:
    # 2 -> 4 (Pods 2 per 120 s); 30 s later the load is within tolerance and nothing changes; the
    # state that decision stored, reloaded, still holds the scale-up, so 60 s after the first the
    # policy allows no more than 4.
    policy = _policy(behavior=HpaBehavior(scale_up=HpaScalingRules(policies=_pods(2, 120))))

    first, idle, third = _run(policy, [Step(0, sqs(100)), Step(30, sqs(21)), Step(60, sqs(100))], _quiet(), 2)

    assert _outcome(first) == (4, Rule.SCALE_UP_LIMIT)
    assert _outcome(idle) == (4, Rule.TOLERANCE)
    assert idle.state.scale_up_events == first.state.scale_up_events
    assert _outcome(third) == (4, Rule.SCALE_UP_LIMIT)


# --- stabilization across decisions: the stored recommendations ----------------------------------


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        pytest.param(119, (5, Rule.STABILIZATION), id="inside the window the earlier 5 holds"),
        pytest.param(120, (2, Rule.SCALE_DOWN_LIMIT), id="exactly at the window's age it is gone"),
    ],
)
def test_the_scale_down_window_of_the_behavior_holds_an_earlier_recommendation(
    after: int, expected: tuple[int, Rule]
) -> None:
    # scaleDown window 120 s (the behavior's own, not the controller's 300 s), Pods 4 per 15 s.
    # First 10 replicas want 5 and the policy allows 6; the raw 5 is recorded. Later 6 replicas
    # want 1: the window's highest recommendation, 5, holds them, until it is 120 s old (After).
    behavior = HpaBehavior(
        scale_down=HpaScalingRules(stabilization_window_seconds=120, policies=_pods(4, 15))
    )

    first, second = _run(_policy(behavior=behavior), [Step(0, sqs(25)), Step(after, sqs(5))], _quiet(), 10)

    assert _outcome(first) == (6, Rule.SCALE_DOWN_LIMIT)
    assert [(entry.at, entry.replicas) for entry in first.state.recommendations or ()] == [(NOW, 5)]
    assert _outcome(second) == expected


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        pytest.param(59, (4, Rule.STABILIZATION), id="inside the window the earlier 4 holds"),
        pytest.param(60, (8, Rule.SCALE_UP_LIMIT), id="exactly at the window's age it is gone"),
    ],
)
def test_the_scale_up_window_of_the_behavior_holds_an_earlier_recommendation(
    after: int, expected: tuple[int, Rule]
) -> None:
    # scaleUp window 60 s: 4 replicas within tolerance record 4; a burst wanting 20 is held at the
    # window's lowest recommendation until it is 60 s old, then the default policy allows 8.
    behavior = HpaBehavior(scale_up=HpaScalingRules(stabilization_window_seconds=60))

    first, second = _run(_policy(behavior=behavior), [Step(0, sqs(20)), Step(after, sqs(100))], _quiet(), 4)

    assert _outcome(first) == (4, Rule.TOLERANCE)
    assert _outcome(second) == expected
    held = "HPA: metrics want 20; stabilized to 4 (ScaleUpStabilized)"
    assert (held in str(second.explanation)) is (expected[1] is Rule.STABILIZATION)


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        pytest.param(120, 8, id="exactly at the window's age it still counts"),
        pytest.param(121, 2, id="older than the window it is gone"),
    ],
)
def test_without_behavior_the_highest_recommendation_of_the_window_wins(after: int, expected: int) -> None:
    # Legacy normalization with a 120 s downscale stabilization: 3 replicas want 8, the legacy
    # limit max(2 x 3, 4) allows 6, and the raw 8 is recorded. 6 replicas wanting 2 then get the
    # window's highest, 8, as long as it is not older than the window (`!Before`, inclusive).
    policy = _policy(downscale_stabilization_seconds=120)

    first, second = _run(policy, [Step(0, sqs(40)), Step(after, sqs(10))], _quiet(), 3)

    assert _outcome(first) == (6, Rule.SCALE_UP_LIMIT)
    assert second.desired_replicas == expected


# --- KEDA's activity record and the creation time ------------------------------------------------


def test_the_cooldown_counts_from_the_activity_an_earlier_decision_recorded() -> None:
    # The first decision sees a message and records the activity; with nothing left the target
    # waits cooldownPeriod (300 s) from then, strictly: at exactly 300 s it still waits.
    policy = _policy(min_replica_count=0)
    steps = [Step(0, sqs(10)), Step(300, sqs(0)), Step(301, sqs(0))]

    active, waiting, idle = _run(policy, steps, None, 1)

    assert active.state.last_active_at == NOW
    assert active.state.created_at == NOW
    assert (waiting.desired_replicas, waiting.explanation.rule, waiting.wake_at) == (
        2,
        Rule.COOLDOWN,
        _at(300),
    )
    assert waiting.state.last_active_at == NOW
    assert _outcome(idle) == (0, Rule.SCALE_TO_ZERO)


def test_the_initial_cooldown_counts_from_the_first_decision() -> None:
    # No trigger was ever active: KEDA waits initialCooldownPeriod from the ScaledObject's
    # creation, which ebb takes as its first decision and stores; strictly, as the cooldown.
    policy = _policy(min_replica_count=0, initial_cooldown_period=120)
    steps = [Step(0, sqs(0)), Step(120, sqs(0)), Step(121, sqs(0))]

    first, edge, idle = _run(policy, steps, None, 2)

    assert (first.desired_replicas, first.explanation.rule, first.wake_at) == (2, Rule.COOLDOWN, _at(120))
    assert first.state.created_at == NOW
    assert (edge.desired_replicas, edge.wake_at) == (2, _at(120))
    assert edge.state.created_at == NOW
    assert _outcome(idle) == (0, Rule.SCALE_TO_ZERO)


# --- KEDA's failure counts -----------------------------------------------------------------------


def test_failures_accumulate_across_decisions_until_the_fallback_and_a_success_resets_them() -> None:
    # failureThreshold 2: the third failure in a row falls back to 6; a success clears the count,
    # so the next failure is the first again and only holds the replicas.
    policy = _policy(fallback=Fallback(failure_threshold=2, replicas=6))
    failure = MetricFailure(reason="throttled")
    steps = [Step(0, failure), Step(15, failure), Step(30, failure), Step(45, sqs(30)), Step(60, failure)]

    decisions = _run(policy, steps, _quiet(), 3)

    assert [decision.state.consecutive_failures for decision in decisions] == [
        {"queue": 1},
        {"queue": 2},
        {"queue": 3},
        {},
        {"queue": 1},
    ]
    assert [_outcome(decision) for decision in decisions] == [
        (3, Rule.FAILED_METRICS),
        (3, Rule.FAILED_METRICS),
        (6, Rule.FALLBACK),
        (6, Rule.TOLERANCE),
        (6, Rule.FAILED_METRICS),
    ]


# --- every kind of decision stores a state the next invocation can read --------------------------


STORED_KINDS = [
    pytest.param(_policy(), sqs(21), counts(4), id="within tolerance, nothing changes"),
    pytest.param(_policy(paused=True), sqs(100), counts(4), id="paused"),
    pytest.param(_policy(paused_replicas=2), sqs(100), counts(4), id="paused-replicas"),
    pytest.param(_policy(min_replica_count=0), sqs(0), counts(4), id="scale to zero"),
    pytest.param(_policy(min_replica_count=3), sqs(0), counts(0), id="raised to the minimum"),
    pytest.param(_policy(), MetricFailure(reason="down"), counts(4), id="every trigger failed"),
    pytest.param(_policy(min_replica_count=0), sqs(50), counts(0), id="activation"),
]


@pytest.mark.parametrize(("policy", "observation", "replicas"), STORED_KINDS)
def test_every_decision_stores_a_state_that_reloads_and_decides_the_same(
    policy: ScalerPolicy, observation: Observation, replicas: ReplicaCounts
) -> None:
    state = ScalerState(
        created_at=ago(600),
        last_active_at=ago(400),
        recommendations=(Recommendation(at=ago(30), replicas=3),),
        consecutive_failures={"queue": 1},
    )
    decision = decide_replicas(policy, {"queue": observation}, replicas, state, NOW)
    later = counts(decision.desired_replicas)

    stored = json.loads(json.dumps(decision.state.model_dump(mode="json")))
    reloaded = load_state(stored)

    assert stored["version"] == 2
    assert reloaded == decision.state
    assert reloaded is not None
    kept = decide_replicas(policy, {"queue": sqs(7)}, later, decision.state, _at(15))
    read_back = decide_replicas(policy, {"queue": sqs(7)}, later, reloaded, _at(15))
    assert (kept.desired_replicas, kept.state) == (read_back.desired_replicas, read_back.state)


# --- bounds: exactly at maxReplicas and minReplicas the metrics still decide ---------------------


@pytest.mark.parametrize(
    ("current", "queue", "expected"),
    [
        pytest.param(10, 15, (3, Rule.METRICS), id="at maxReplicas a scale-down happens"),
        pytest.param(10, 100, (10, Rule.MAX_REPLICA_COUNT), id="at maxReplicas a scale-up stops there"),
        pytest.param(2, 40, (4, Rule.SCALE_UP_LIMIT), id="at minReplicas a scale-up happens"),
        pytest.param(2, 0, (2, Rule.MIN_REPLICA_COUNT), id="at minReplicas a scale-down stops there"),
    ],
)
def test_at_exactly_a_bound_the_metrics_still_decide(
    current: int, queue: int, expected: tuple[int, Rule]
) -> None:
    policy = _policy(min_replica_count=2, max_replica_count=10)

    decision = decide_replicas(policy, {"queue": sqs(queue)}, counts(current), _quiet(), NOW)

    assert _outcome(decision) == expected
    assert f"HPA: metrics want {queue // 5}" in str(decision.explanation)


# --- per-direction tolerance ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scale_up", "scale_down", "queue", "expected"),
    [
        pytest.param(None, None, 70, (14, Rule.METRICS), id="ratio 1.4 with the default 0.1 scales up"),
        pytest.param(0.5, None, 70, (10, Rule.TOLERANCE), id="ratio 1.4 inside scaleUp tolerance 0.5"),
        pytest.param(None, 0.5, 70, (14, Rule.METRICS), id="scaleDown tolerance does not widen scale-up"),
        pytest.param(None, None, 43, (9, Rule.METRICS), id="ratio 0.86 with the default 0.1 scales down"),
        pytest.param(None, 0.2, 43, (10, Rule.TOLERANCE), id="ratio 0.86 inside scaleDown tolerance 0.2"),
        pytest.param(0.2, None, 43, (9, Rule.METRICS), id="scaleUp tolerance does not widen scale-down"),
        pytest.param(0.0, None, 51, (11, Rule.METRICS), id="scaleUp tolerance 0 scales up at ratio 1.02"),
    ],
)
def test_a_behaviors_tolerance_applies_in_its_own_direction(
    scale_up: float | None, scale_down: float | None, queue: int, expected: tuple[int, Rule]
) -> None:
    behavior = HpaBehavior(
        scale_up=HpaScalingRules(tolerance=scale_up),
        scale_down=HpaScalingRules(tolerance=scale_down, stabilization_window_seconds=0),
    )

    decision = decide_replicas(_policy(behavior=behavior), {"queue": sqs(queue)}, counts(10), _quiet(), NOW)

    assert _outcome(decision) == expected
    (report,) = decision.explanation.triggers
    assert report.within_tolerance is (expected[1] is Rule.TOLERANCE)


# --- Value targets and ready pods ----------------------------------------------------------------


def _cloudwatch(metric_type: MetricTargetType) -> CloudWatchTrigger:
    return CloudWatchTrigger(
        name="cw",
        metric_type=metric_type,
        target_metric_value=10,
        min_metric_value=0,
        metric_collection_time=60,
        metric_stat_period=60,
    )


def _cloudwatch_value(value: float) -> Observation:
    # NOW is 15:09:26: a 60 s query covers [15:08:00, 15:09:00).
    return cloudwatch((NOW.replace(minute=8, second=0), value))


@pytest.mark.parametrize(
    ("replicas", "expected"),
    [
        pytest.param(counts(4, ready=2), (6, Rule.METRICS), id="ratio 3 times 2 ready pods"),
        pytest.param(counts(4, ready=4), (8, Rule.SCALE_UP_LIMIT), id="ratio 3 times 4 ready pods, limited"),
        pytest.param(
            ReplicaCounts(spec=5, status=6, ready=3), (9, Rule.METRICS), id="ready, not status or spec"
        ),
        pytest.param(counts(4, ready=0, status=0), (4, Rule.FAILED_METRICS), id="no pod listed"),
    ],
)
def test_a_value_target_multiplies_its_ratio_by_the_ready_pods(
    replicas: ReplicaCounts, expected: tuple[int, Rule]
) -> None:
    # replica_calculator.go GetExternalMetricReplicas: ceil(metric / target x ready pods); with no
    # pod at all the selector lists nothing, an error.
    policy = _policy(_cloudwatch(MetricTargetType.VALUE))

    decision = decide_replicas(policy, {"cw": _cloudwatch_value(30)}, replicas, _quiet(), NOW)

    assert _outcome(decision) == expected


@pytest.mark.parametrize(
    ("metric_type", "expected"),
    [
        pytest.param(MetricTargetType.VALUE, 1, id="Value: no pod is ready yet, so the HPA step adds none"),
        pytest.param(MetricTargetType.AVERAGE_VALUE, 3, id="AverageValue: ceil(25 / 10)"),
    ],
)
def test_activation_runs_the_hpa_step_on_a_target_with_no_ready_pod(
    metric_type: MetricTargetType, expected: int
) -> None:
    # Difference 1: after KEDA's activation (0 -> 1), the HPA's next sync runs in the same decision,
    # on one replica that exists but is not ready yet. A Value target's proposal scales with
    # ready pods (none), an AverageValue target's does not.
    policy = _policy(_cloudwatch(metric_type), min_replica_count=0)

    decision = decide_replicas(policy, {"cw": _cloudwatch_value(25)}, counts(0), None, NOW)

    assert _outcome(decision) == (expected, Rule.ACTIVATION)
    assert decision.explanation.steps[0] == "KEDA activated 0 -> 1"


# --- several triggers: the largest proposal, whatever the order ----------------------------------


TRIGGERS = (
    SqsQueueTrigger(name="steady", queue_length=5),
    SqsQueueTrigger(name="busy", queue_length=5),
    SqsQueueTrigger(name="empty", queue_length=5),
    SqsQueueTrigger(name="broken", queue_length=5),
)
READINGS: dict[str, Observation] = {
    "steady": sqs(20),  # 4 (inside the tolerance)
    "busy": sqs(35),  # 7
    "empty": sqs(0),  # 0
    "broken": MetricFailure(reason="throttled"),  # no proposal; a scale-up may still go ahead
}


@pytest.mark.parametrize(
    "order", list(itertools.permutations(TRIGGERS)), ids=lambda order: "-".join(t.name for t in order)
)
def test_the_largest_proposal_wins_whatever_the_trigger_order(order: tuple[SqsQueueTrigger, ...]) -> None:
    # horizontal.go computeReplicasForMetrics keeps the largest proposal of the valid metrics.
    policy = _policy(*order)

    decision = decide_replicas(policy, READINGS, counts(4), _quiet(), NOW)

    assert _outcome(decision) == (7, Rule.METRICS)
    proposals = {report.name: report.proposal for report in decision.explanation.triggers}
    assert proposals == {"steady": 4, "busy": 7, "empty": 0, "broken": None}


# --- fallback for Value and CloudWatch targets, KEDA-exact and not -------------------------------


@pytest.mark.parametrize(
    ("exact", "metric_type", "replicas", "expected"),
    [
        # 10 x 1000 x 6 = 60000 milli over 4 pods of target 10: ratio 1.5, ceil(60000 / 10000) = 6.
        pytest.param(True, MetricTargetType.AVERAGE_VALUE, counts(4), (6, Rule.FALLBACK), id="exact average"),
        # 6 / 3 ready = 2 per pod: 20000 milli, ratio 2 times 3 ready pods = 6.
        pytest.param(True, MetricTargetType.VALUE, counts(4, ready=3), (6, Rule.FALLBACK), id="exact value"),
        # One ready pod: 6 / 1 = 6 per pod, 60000 milli, ratio 6 times 1 ready pod = 6.
        pytest.param(
            True, MetricTargetType.VALUE, counts(4, ready=1), (6, Rule.FALLBACK), id="exact value, 1 ready"
        ),
        pytest.param(
            True,
            MetricTargetType.VALUE,
            counts(4, ready=0),
            (4, Rule.FAILED_METRICS),
            id="exact value, none ready",
        ),
        # 60000 milli over 11 pods: ratio 0.545, outside the tolerance: ceil(6) = 6.
        pytest.param(True, MetricTargetType.AVERAGE_VALUE, counts(11), (6, Rule.FALLBACK), id="exact down"),
        pytest.param(False, MetricTargetType.VALUE, counts(4, ready=0), (6, Rule.FALLBACK), id="ebb value"),
        pytest.param(False, MetricTargetType.AVERAGE_VALUE, counts(4), (6, Rule.FALLBACK), id="ebb average"),
    ],
)
def test_fallback_of_a_cloudwatch_trigger(
    exact: bool, metric_type: MetricTargetType, replicas: ReplicaCounts, expected: tuple[int, Rule]
) -> None:
    policy = _policy(
        _cloudwatch(metric_type), fallback=Fallback(failure_threshold=1, replicas=6), keda_exact=exact
    )
    state = _quiet().model_copy(update={"consecutive_failures": {"cw": 1}})

    decision = decide_replicas(policy, {"cw": MetricFailure(reason="timeout")}, replicas, state, NOW)

    assert _outcome(decision) == expected
    (report,) = decision.explanation.triggers
    assert report.consecutive_failures == 2
    if expected[1] is Rule.FAILED_METRICS:
        assert (report.fallback, report.detail) == (False, "status.readyReplicas is 0 in scaleTargetRef")
    else:
        assert (report.fallback, report.proposal) == (True, 6)


@pytest.mark.parametrize(("exact", "expected"), [(True, 11), (False, 10)])
def test_a_value_fallback_inside_the_tolerance_keeps_the_replicas_only_when_keda_exact(
    exact: bool, expected: int
) -> None:
    # KEDA: 10 fallback replicas over 11 ready pods is 909 milli per pod of target 1, a ratio of
    # 0.909, inside the HPA's tolerance: 11 stay. ebb (difference 2) sets the fallback count.
    trigger = _cloudwatch(MetricTargetType.VALUE).model_copy(update={"target_metric_value": 1.0})
    policy = _policy(trigger, fallback=Fallback(failure_threshold=0, replicas=10), keda_exact=exact)

    decision = decide_replicas(policy, {"cw": MetricFailure(reason="timeout")}, counts(11), _quiet(), NOW)

    assert decision.desired_replicas == expected


# --- what a decision keeps at exactly a window's edge, and a Percent scale-down ------------------


@pytest.mark.parametrize(("up_window", "down_window"), [(60, 120), (120, 60)])
def test_a_recommendation_exactly_a_window_old_is_kept_as_the_hpa_keeps_it(
    up_window: int, down_window: int
) -> None:
    # stabilizeRecommendationWithBehaviors replaces only a sample strictly older (Before) than the
    # longest window; one exactly that old stays in the history, though no cutoff reads it.
    behavior = HpaBehavior(
        scale_up=HpaScalingRules(stabilization_window_seconds=up_window),
        scale_down=HpaScalingRules(stabilization_window_seconds=down_window),
    )
    history = (
        Recommendation(at=ago(121), replicas=9),
        Recommendation(at=ago(120), replicas=8),
        Recommendation(at=ago(60), replicas=3),
    )
    state = _quiet().model_copy(update={"recommendations": history})

    decision = decide_replicas(_policy(behavior=behavior), {"queue": sqs(20)}, counts(4), state, NOW)

    kept = [(entry.at, entry.replicas) for entry in decision.state.recommendations or ()]
    assert kept == [(ago(120), 8), (ago(60), 3), (NOW, 4)]
    assert decision.desired_replicas == 4


def test_a_new_scale_event_takes_the_slot_of_an_outdated_one_as_the_hpa_stores_it() -> None:
    # storeScaleEvent: markScaleEventsOutdated marks events strictly older (Before) than the
    # direction's longest period; the new event takes the last outdated slot. Exactly 60 s old is
    # not outdated (and, not After the cutoff, no longer counts): from 4, only the 30 s old +1
    # counts, so Pods 2 per 60 s allows 3 + 2 = 5.
    behavior = HpaBehavior(scale_up=HpaScalingRules(policies=_pods(2, 60)))
    events = (
        ScaleEvent(at=ago(61), change=1),
        ScaleEvent(at=ago(60), change=2),
        ScaleEvent(at=ago(30), change=1),
    )
    state = _quiet().model_copy(update={"scale_up_events": events})

    decision = decide_replicas(_policy(behavior=behavior), {"queue": sqs(100)}, counts(4), state, NOW)

    assert _outcome(decision) == (5, Rule.SCALE_UP_LIMIT)
    assert [(event.at, event.change) for event in decision.state.scale_up_events] == [
        (NOW, 1),
        (ago(60), 2),
        (ago(30), 1),
    ]


def test_the_default_scale_up_window_is_zero() -> None:
    # HPA docs (default behavior): scaleUp stabilizationWindowSeconds 0, so even a recommendation
    # half a second old does not hold a scale-up.
    state = _quiet().model_copy(update={"recommendations": (Recommendation(at=ago(0.5), replicas=2),)})

    decision = decide_replicas(_policy(behavior=HpaBehavior()), {"queue": sqs(100)}, counts(2), state, NOW)

    assert _outcome(decision) == (6, Rule.SCALE_UP_LIMIT)
    assert "ScaleUpLimit -> 6, policy limit 6" in str(decision.explanation)


@pytest.mark.parametrize(
    ("queue", "expected"),
    [
        # Default policies from 2: max(2 + 4, 2 x 2) = 6. Wanting exactly 6 is within range.
        pytest.param(30, (6, Rule.METRICS), id="wanting exactly the scale-up limit"),
        pytest.param(35, (6, Rule.SCALE_UP_LIMIT), id="wanting one more"),
    ],
)
def test_a_proposal_equal_to_the_scale_up_limit_is_not_limited(
    queue: int, expected: tuple[int, Rule]
) -> None:
    # convertDesiredReplicasWithBehaviorRate: limited only when desired > the allowed maximum.
    decision = decide_replicas(
        _policy(behavior=HpaBehavior()), {"queue": sqs(queue)}, counts(2), _quiet(), NOW
    )

    assert _outcome(decision) == expected


@pytest.mark.parametrize(
    ("fields", "queue", "current", "expected"),
    [
        # max 6 equals the default limit from 2 (6): maxReplicas binds (TooManyReplicas).
        pytest.param({"max_replica_count": 6}, 100, 2, (6, Rule.MAX_REPLICA_COUNT), id="maxReplicas = limit"),
        # Pods 2 per 60 s from 4 allows 2, which is minReplicas: TooFewReplicas.
        pytest.param({"min_replica_count": 2}, 0, 4, (2, Rule.MIN_REPLICA_COUNT), id="minReplicas = limit"),
    ],
)
def test_a_bound_equal_to_the_rate_limit_is_reported_as_the_bound(
    fields: dict[str, object], queue: int, current: int, expected: tuple[int, Rule]
) -> None:
    # convertDesiredReplicasWithBehaviorRate: ScaleUpLimit only when maxReplicas > the limit, and
    # ScaleDownLimit only when minReplicas < the limit; at equality the bound is the reason.
    behavior = HpaBehavior(scale_down=HpaScalingRules(stabilization_window_seconds=0, policies=_pods(2, 60)))
    policy = _policy(behavior=behavior, **fields)

    decision = decide_replicas(policy, {"queue": sqs(queue)}, counts(current), _quiet(), NOW)

    assert _outcome(decision) == expected


def test_a_percent_scale_down_rounds_the_floor_down() -> None:
    # calculateScaleDownLimitWithBehaviors: int32(float64(start) * (1 - value / 100)); 200 pods
    # less 60 % is 80 (a scale-up rounds up instead).
    behavior = HpaBehavior(
        scale_down=HpaScalingRules(
            stabilization_window_seconds=0,
            policies=(HpaScalingPolicy(type=ScalingPolicyType.PERCENT, value=60, period_seconds=60),),
        )
    )
    policy = _policy(behavior=behavior, max_replica_count=300)

    decision = decide_replicas(policy, {"queue": sqs(50)}, counts(200), _quiet(), NOW)

    assert _outcome(decision) == (80, Rule.SCALE_DOWN_LIMIT)
    assert "ScaleDownLimit -> 80, policy limit 80" in str(decision.explanation)


def test_a_scale_up_keeps_the_scale_downs_of_the_period_and_both_count() -> None:
    # calculateScaleUpLimitWithScalingRules counts a policy's period from current - scale-ups +
    # scale-downs inside it. 10 -> 6 (Pods 4 down); 20 s later from 6 the period started at 10, so
    # Pods 2 up allows 12; the scale-up must not lose the scale-down from the stored state.
    behavior = HpaBehavior(
        scale_up=HpaScalingRules(policies=_pods(2, 60)),
        scale_down=HpaScalingRules(stabilization_window_seconds=0, policies=_pods(4, 60)),
    )
    steps = [Step(0, sqs(5)), Step(20, sqs(100)), Step(40, sqs(100))]

    down, up, again = _run(_policy(behavior=behavior), steps, _quiet(), 10)

    assert _outcome(down) == (6, Rule.SCALE_DOWN_LIMIT)
    # From 6 with 4 removed inside the period, the period started at 10: Pods 2 allows 12.
    assert _outcome(up) == (12, Rule.SCALE_UP_LIMIT)
    assert [(event.at, event.change) for event in up.state.scale_down_events] == [(NOW, 4)]
    assert [(event.at, event.change) for event in up.state.scale_up_events] == [(_at(20), 6)]
    # From 12: 12 - 6 + 4 = 10 at the period's start, so Pods 2 allows 12 again.
    assert _outcome(again) == (12, Rule.SCALE_UP_LIMIT)


def test_a_failing_trigger_does_not_block_staying_at_the_current_count() -> None:
    # computeReplicasForMetrics blocks only when some metric failed and the others would scale
    # down (replicas < specReplicas); wanting exactly the current count goes on to normalization.
    triggers = (SqsQueueTrigger(name="a", queue_length=5), SqsQueueTrigger(name="b", queue_length=5))
    observations: dict[str, Observation] = {"a": MetricFailure(reason="throttled"), "b": sqs(20)}

    decision = decide_replicas(_policy(*triggers), observations, counts(4), _quiet(), NOW)

    assert _outcome(decision) == (4, Rule.TOLERANCE)
    assert [(entry.at, entry.replicas) for entry in decision.state.recommendations or ()] == [(NOW, 4)]


def test_a_smaller_proposal_after_a_larger_one_does_not_replace_it() -> None:
    # 5 messages on 2 pods want 1, an empty queue wants 0: the HPA wants 1, in either order.
    triggers = (SqsQueueTrigger(name="a", queue_length=5), SqsQueueTrigger(name="b", queue_length=5))

    for order in (triggers, triggers[::-1]):
        decision = decide_replicas(_policy(*order), {"a": sqs(5), "b": sqs(0)}, counts(2), _quiet(), NOW)

        assert "HPA: metrics want 1" in str(decision.explanation)
        assert decision.desired_replicas == 1


def test_correcting_a_count_above_max_replicas_is_a_scale_event() -> None:
    # reconcileAutoscaler rescales a target above maxReplicas without reading metrics, and
    # storeScaleEvent records that rescale like any other, so it counts against the policies.
    behavior = HpaBehavior(scale_up=HpaScalingRules(policies=_pods(1, 60)))
    policy = _policy(behavior=behavior, max_replica_count=10)
    steps = [Step(0, sqs(100), counts(12)), Step(20, sqs(60))]

    corrected, later = _run(policy, steps, _quiet(), 12)

    assert _outcome(corrected) == (10, Rule.MAX_REPLICA_COUNT)
    assert [(event.at, event.change) for event in corrected.state.scale_down_events] == [(NOW, 2)]
    assert corrected.state.recommendations == ()
    # 10 replicas for 60 messages want 12, over maxReplicas: the scale-down does not lift the cap.
    assert _outcome(later) == (10, Rule.MAX_REPLICA_COUNT)
    assert later.state.scale_down_events == corrected.state.scale_down_events


def test_a_scale_down_older_than_its_own_periods_still_counts_for_a_longer_scale_up_period() -> None:
    # storeScaleEvent only marks an event older than its direction's longest period as outdated
    # (markScaleEventsOutdated) and reuses its slot for the next event of that direction; until
    # then calculateScaleUpLimitWithScalingRules counts it through getReplicasChangePerPeriod
    # (any event After the policy's cutoff). Scale-down here is 100 % per 15 s, scale-up Pods 1
    # per 60 s. 12 -> 10 at 0 s; at 20 s 56 messages want 12, allowed (the period started at
    # 10 + 2 = 12, so up to 13); at 30 s the period still started at 12 - 2 + 2 = 12: 13 allowed.
    behavior = HpaBehavior(
        scale_up=HpaScalingRules(policies=_pods(1, 60)),
        scale_down=HpaScalingRules(stabilization_window_seconds=0),
    )
    policy = _policy(behavior=behavior, max_replica_count=20)
    steps = [Step(0, sqs(50)), Step(20, sqs(56)), Step(30, sqs(100))]

    down, up, again = _run(policy, steps, _quiet(), 12)

    assert _outcome(down) == (10, Rule.METRICS)
    assert _outcome(up) == (12, Rule.METRICS)
    assert _outcome(again) == (13, Rule.SCALE_UP_LIMIT)
    assert [(event.at, event.change) for event in up.state.scale_down_events] == [(NOW, 2)]
