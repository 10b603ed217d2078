"""The explanation of each kind of decision, word for word, and what a paused decision stores.

The explanation is what an operator reads in the logs and the audit trail to know why a scaler
got its count, so its text is part of the behaviour: each case below pins the whole line for one
rule, and the per-trigger details the line leaves out.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from ebb.core.replicas import (
    CloudWatchResult,
    CloudWatchTrigger,
    Fallback,
    FallbackBehavior,
    HpaBehavior,
    MetricFailure,
    MetricTargetType,
    Observation,
    ObservationMismatch,
    Recommendation,
    ReplicaCounts,
    ScaleEvent,
    ScalerPolicy,
    ScalerState,
    SqsQueueTrigger,
    TriggerReport,
    decide_replicas,
)

from .replicas_testkit import NOW, ago, cloudwatch, counts, sqs

QUEUE = SqsQueueTrigger(name="queue", queue_length=5)
BACKLOG = SqsQueueTrigger(name="backlog", queue_length=20)
CW = CloudWatchTrigger(
    name="cw",
    metric_type=MetricTargetType.VALUE,
    target_metric_value=10,
    min_metric_value=0,
    metric_collection_time=60,
    metric_stat_period=60,
)


FAILED = MetricFailure(reason="throttled")
TWO = (SqsQueueTrigger(name="a", queue_length=5), SqsQueueTrigger(name="b", queue_length=5))


def _policy(*triggers: SqsQueueTrigger | CloudWatchTrigger, **fields: object) -> ScalerPolicy:
    return ScalerPolicy.model_validate({"name": "orders", "triggers": triggers or (QUEUE,)} | fields)


def _state(**fields: object) -> ScalerState:
    return ScalerState.model_validate(
        {"created_at": ago(3600), "last_active_at": NOW, "recommendations": ()} | fields
    )


CASES = [
    pytest.param(
        _policy(paused=True),
        {"queue": sqs(100)},
        counts(4),
        _state(),
        "orders: 4 -> 4 (paused) | autoscaling paused",
        id="paused",
    ),
    pytest.param(
        _policy(paused_replicas=2),
        {"queue": sqs(100)},
        counts(4),
        _state(),
        "orders: 4 -> 2 (paused-replicas) | paused-replicas holds 2",
        id="paused-replicas",
    ),
    pytest.param(
        _policy(keda_exact=True),
        {"queue": sqs(21)},
        counts(4),
        _state(),
        "orders: 4 -> 4 (tolerance) [keda-exact] | HPA: metrics want 4 | "
        "queue=21 (AverageValue 5, active) -> 4 within tolerance",
        id="keda-exact, within tolerance",
    ),
    pytest.param(
        _policy(QUEUE, BACKLOG),
        {"queue": sqs(20), "backlog": sqs(0)},
        counts(4),
        _state(),
        # Not the tolerance rule: the idle trigger's 0 is outside its band, and 4 is the larger.
        "orders: 4 -> 4 (metrics) | HPA: metrics want 4 | "
        "queue=20 (AverageValue 5, active) -> 4 within tolerance, backlog=0 (AverageValue 20) -> 0",
        id="two triggers, one inactive",
    ),
    pytest.param(
        _policy(min_replica_count=0),
        {"queue": sqs(0)},
        counts(3),
        _state(last_active_at=ago(400)),
        "orders: 3 -> 0 (scale-to-zero) | KEDA scaled to zero (0): cooldown passed since last activity "
        "15:02:46 | queue=0 (AverageValue 5) -> 0",
        id="scale to zero after the cooldown",
    ),
    pytest.param(
        _policy(min_replica_count=0),
        {"queue": sqs(0)},
        counts(3),
        _state(last_active_at=None),
        "orders: 3 -> 0 (scale-to-zero) | KEDA scaled to zero (0): cooldown passed since creation | "
        "queue=0 (AverageValue 5) -> 0",
        id="scale to zero, never active",
    ),
    pytest.param(
        _policy(min_replica_count=2, idle_replica_count=0),
        {"queue": sqs(0)},
        counts(3),
        _state(last_active_at=ago(400)),
        "orders: 3 -> 0 (scale-to-idle) | KEDA scaled to idleReplicaCount (0): cooldown passed since last "
        "activity 15:02:46 | queue=0 (AverageValue 5) -> 0",
        id="scale to idle",
    ),
    pytest.param(
        _policy(min_replica_count=0),
        {"queue": sqs(0)},
        counts(3),
        _state(last_active_at=ago(60)),
        # While KEDA waits out the cooldown, the HPA still scales down to its own minimum, 1.
        "orders: 3 -> 1 (min-replica-count) | KEDA: no trigger active, cooldown ends 15:13:26; "
        "HPA: metrics want 0; TooFewReplicas -> 1 | queue=0 (AverageValue 5) -> 0",
        id="cooling down",
    ),
    pytest.param(
        _policy(min_replica_count=3),
        {"queue": sqs(0)},
        counts(0),
        _state(),
        "orders: 0 -> 3 (min-replica-count) | KEDA raised to minReplicaCount 3 | "
        "queue=0 (AverageValue 5) -> 0",
        id="raised to the minimum",
    ),
    pytest.param(
        _policy(min_replica_count=1),
        {"queue": MetricFailure(reason="throttled")},
        counts(3),
        _state(),
        "orders: 3 -> 3 (failed-metrics) | KEDA: no trigger active but a trigger failed, so no scale to "
        "zero; HPA: every trigger failed, no change | queue=failed (throttled; 1 in a row)",
        id="every trigger failed",
    ),
    pytest.param(
        _policy(fallback=Fallback(failure_threshold=0, replicas=6)),
        {"queue": MetricFailure(reason="timeout")},
        counts(4),
        _state(consecutive_failures={"queue": 2}),
        "orders: 4 -> 6 (fallback) | KEDA: no trigger active but a trigger failed, so no scale to zero; "
        "HPA: metrics want 6 | queue=failed 3 times, fallback -> 6",
        id="fallback",
    ),
    pytest.param(
        _policy(min_replica_count=0),
        {"queue": sqs(50)},
        counts(0),
        None,
        "orders: 0 -> 4 (activation) | KEDA activated 0 -> 1; HPA: metrics want 10; "
        "ScaleUpLimit -> 4, policy limit 4 | queue=50 (AverageValue 5, active) -> 10",
        id="activation, then the legacy scale-up limit",
    ),
    pytest.param(
        _policy(max_replica_count=4),
        {"queue": sqs(100)},
        counts(1),
        _state(),
        # convertDesiredReplicasWithRules: the scale-up limit binds only when maxReplicas > limit.
        "orders: 1 -> 4 (max-replica-count) | HPA: metrics want 20; TooManyReplicas -> 4 | "
        "queue=100 (AverageValue 5, active) -> 20",
        id="maxReplicas equal to the legacy limit binds as maxReplicas",
    ),
    pytest.param(
        _policy(CW, min_replica_count=0),
        {"cw": cloudwatch((NOW.replace(minute=8, second=0), 0.0))},
        counts(0),
        _state(),
        "orders: 0 -> 0 (inactive) | HPA: scaling disabled at 0 replicas | cw=0 (Value 10) -> 0",
        id="a Value target at zero replicas proposes without a tolerance band",
    ),
    pytest.param(
        _policy(CW),
        {"cw": cloudwatch((NOW.replace(minute=8, second=0), 10.5))},
        counts(4),
        _state(),
        "orders: 4 -> 4 (tolerance) | HPA: metrics want 4 | "
        "cw=10.5 [10500m] (Value 10, active) -> 4 within tolerance",
        id="a Value target within tolerance",
    ),
    pytest.param(
        _policy(CW),
        {"cw": cloudwatch((NOW.replace(minute=8, second=0), 15))},
        counts(4),
        _state(),
        "orders: 4 -> 6 (metrics) | HPA: metrics want 6 | cw=15 (Value 10, active) -> 6",
        id="a Value target outside tolerance",
    ),
    pytest.param(
        _policy(paused_scale_out=True, min_replica_count=0),
        {"queue": sqs(50)},
        counts(0),
        _state(),
        "orders: 0 -> 0 (scaling-disabled) | HPA: scaling disabled at 0 replicas | "
        "queue=50 (AverageValue 5, active) -> 10",
        id="paused-scale-out at zero, min 0",
    ),
    pytest.param(
        _policy(paused_scale_out=True, min_replica_count=2),
        {"queue": sqs(50)},
        counts(0),
        _state(),
        "orders: 0 -> 2 (min-replica-count) | KEDA raised to minReplicaCount 2 | "
        "queue=50 (AverageValue 5, active) -> 10",
        id="paused-scale-out at zero, min 2",
    ),
    pytest.param(
        _policy(*TWO, keda_exact=True),
        {"a": sqs(20), "b": FAILED},
        counts(3),
        _state(),
        "orders: 3 -> 4 (metrics) [keda-exact] | HPA: metrics want 4 | "
        "a=20 (AverageValue 5, active) -> 4, b=failed (throttled; 1 in a row)",
        id="keda-exact active with a failing trigger",
    ),
    pytest.param(
        _policy(min_replica_count=3),
        {"queue": FAILED},
        counts(3),
        _state(),
        "orders: 3 -> 3 (failed-metrics) | KEDA: no trigger active but a trigger failed, so no scale to "
        "zero; "
        "HPA: every trigger failed, no change | "
        "queue=failed (throttled; 1 in a row)",
        id="failing at the minimum",
    ),
    pytest.param(
        _policy(min_replica_count=2),
        {"queue": FAILED},
        counts(0),
        _state(),
        "orders: 0 -> 2 (min-replica-count) | KEDA raised to minReplicaCount 2 | "
        "queue=failed (throttled; 1 in a row)",
        id="failing at zero below the minimum",
    ),
    pytest.param(
        _policy(paused_scale_in=True, min_replica_count=0),
        {"queue": sqs(0)},
        counts(2),
        _state(last_active_at=ago(400)),
        "orders: 2 -> 2 (scale-down-limit) | HPA: metrics want 0; ScaleDownLimit -> 2, policy limit 2 | "
        "queue=0 (AverageValue 5) -> 0",
        id="paused-scale-in past the cooldown",
    ),
    pytest.param(
        _policy(idle_replica_count=0, min_replica_count=2),
        {"queue": sqs(20)},
        counts(3),
        _state(),
        "orders: 3 -> 4 (metrics) | HPA: metrics want 4 | queue=20 (AverageValue 5, active) -> 4",
        id="idle mode above the minimum, active",
    ),
    pytest.param(
        _policy(idle_replica_count=0, min_replica_count=2),
        {"queue": sqs(10)},
        counts(2),
        _state(),
        "orders: 2 -> 2 (tolerance) | HPA: metrics want 2 | "
        "queue=10 (AverageValue 5, active) -> 2 within tolerance",
        id="idle mode at the minimum, active",
    ),
    pytest.param(
        _policy(idle_replica_count=0, min_replica_count=2),
        {"queue": sqs(0)},
        counts(0),
        _state(last_active_at=ago(400)),
        "orders: 0 -> 0 (inactive) | HPA: scaling disabled at 0 replicas | queue=0 (AverageValue 5) -> 0",
        id="idle mode at the idle count, inactive",
    ),
    pytest.param(
        _policy(min_replica_count=0, fallback=Fallback(failure_threshold=3, replicas=0)),
        {"queue": FAILED},
        counts(2),
        _state(last_active_at=ago(400)),
        "orders: 2 -> 0 (scale-to-zero) | KEDA scaled to zero (0): cooldown passed since last activity "
        "15:02:46 | "
        "queue=failed (throttled; 1 in a row)",
        id="a fallback of 0 replicas lets the cooldown scale to zero",
    ),
    pytest.param(
        _policy(min_replica_count=0, fallback=Fallback(failure_threshold=3, replicas=1)),
        {"queue": FAILED},
        counts(2),
        _state(last_active_at=ago(400)),
        "orders: 2 -> 2 (failed-metrics) | KEDA: no trigger active but a trigger failed, so no scale to "
        "zero; "
        "HPA: every trigger failed, no change | "
        "queue=failed (throttled; 1 in a row)",
        id="a fallback of 1 replica holds on errors",
    ),
    pytest.param(
        _policy(min_replica_count=0, keda_exact=True),
        {"queue": sqs(50)},
        counts(0),
        None,
        "orders: 0 -> 1 (activation) [keda-exact] | KEDA activated 0 -> 1 | "
        "queue=50 (AverageValue 5, active) -> 10",
        id="keda-exact activation",
    ),
    pytest.param(
        _policy(max_replica_count=10),
        {"queue": sqs(100)},
        counts(12),
        _state(),
        "orders: 12 -> 10 (max-replica-count) | HPA: 12 is out of range, set to 10 (TooManyReplicas) | "
        "queue=100 (AverageValue 5, active) -> 20",
        id="above maxReplicas",
    ),
    pytest.param(
        _policy(
            SqsQueueTrigger(name="queue", queue_length=5, activation_queue_length=11), min_replica_count=0
        ),
        {"queue": sqs(11)},
        counts(2),
        _state(last_active_at=ago(400)),
        "orders: 2 -> 0 (scale-to-zero) | KEDA scaled to zero (0): cooldown passed since last activity "
        "15:02:46 | "
        "queue=11 (AverageValue 5) -> 2 within tolerance",
        id="scale to zero, the inactive trigger proposes on the current replicas",
    ),
]


@pytest.mark.parametrize(("policy", "observations", "replicas", "state", "text"), CASES)
def test_each_kind_of_decision_explains_itself_in_one_line(
    policy: ScalerPolicy,
    observations: dict[str, Observation],
    replicas: ReplicaCounts,
    state: ScalerState | None,
    text: str,
) -> None:
    decision = decide_replicas(policy, observations, replicas, state, NOW)

    assert str(decision.explanation) == text
    # Whatever KEDA's executor did, the activity it had recorded is never lost.
    if state is not None and state.last_active_at is not None:
        assert decision.state.last_active_at is not None


@pytest.mark.parametrize(
    ("observation", "detail"),
    [
        pytest.param(CloudWatchResult(datapoints=None), "no result, minMetricValue", id="no result"),
        pytest.param(
            cloudwatch((NOW.replace(minute=0, second=0), 5.0)),
            "no datapoint in window, minMetricValue",
            id="nothing in the window",
        ),
        pytest.param(
            cloudwatch((NOW.replace(minute=8, second=0), 5.0), (NOW.replace(minute=8, second=30), 7.0)),
            "newest datapoint at 15:08:30",
            id="the newest in the window",
        ),
    ],
)
def test_a_cloudwatch_report_says_how_its_value_was_read(observation: Observation, detail: str) -> None:
    decision = decide_replicas(_policy(CW), {"cw": observation}, counts(4), _state(), NOW)

    (report,) = decision.explanation.triggers
    assert report.detail == detail


def test_an_empty_cloudwatch_answer_without_ignore_null_values_fails_with_keda_s_reason() -> None:
    trigger = CW.model_copy(update={"ignore_null_values": False})
    outside = cloudwatch((NOW.replace(minute=0, second=0), 5.0))

    decision = decide_replicas(_policy(trigger), {"cw": outside}, counts(4), _state(), NOW)

    (report,) = decision.explanation.triggers
    assert report.detail == "empty metric data received, ignoreNullValues is false"


def test_a_value_target_without_pods_reports_the_hpa_s_reason() -> None:
    high = cloudwatch((NOW.replace(minute=8, second=0), 50.0))

    decision = decide_replicas(
        _policy(CW), {"cw": high}, ReplicaCounts(spec=4, status=0, ready=0), _state(), NOW
    )

    (report,) = decision.explanation.triggers
    assert report.detail == "no pods returned by selector while calculating replica count"
    assert (report.fallback, report.within_tolerance, report.proposal) == (False, False, None)
    # The HPA failed, not KEDA's scaler: KEDA counts no failure for it.
    assert str(report) == (
        "cw=failed (no pods returned by selector while calculating replica count; 0 in a row)"
    )


@pytest.fixture
def kolkata_local_time() -> Iterator[None]:
    # The machine's zone must not leak into what the core reports.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TZ", "Asia/Kolkata")
        time.tzset()
        yield
    time.tzset()


@pytest.mark.usefixtures("kolkata_local_time")
def test_times_in_an_explanation_are_utc_whatever_the_machine_s_zone() -> None:
    point = cloudwatch((NOW.replace(minute=8, second=30), 5.0))

    decision = decide_replicas(_policy(CW), {"cw": point}, counts(4), _state(), NOW)

    (report,) = decision.explanation.triggers
    assert report.detail == "newest datapoint at 15:08:30"


def test_a_paused_decision_keeps_keda_s_records_and_forgets_the_hpa_s() -> None:
    # While paused KEDA deletes its HPA (whose controller forgets the history) but keeps the
    # ScaledObject's status: lastActiveTime, creation, and the failure counts of its triggers.
    state = ScalerState(
        created_at=ago(3600),
        last_active_at=ago(120),
        recommendations=(Recommendation(at=ago(10), replicas=9),),
        scale_up_events=(ScaleEvent(at=ago(10), change=2),),
        scale_down_events=(ScaleEvent(at=ago(5), change=1),),
        consecutive_failures={"queue": 2, "removed": 4},
    )

    for policy in (_policy(paused=True), _policy(paused_replicas=3)):
        decision = decide_replicas(policy, {"queue": sqs(100)}, counts(7), state, NOW + timedelta(seconds=15))

        assert decision.state == ScalerState(
            created_at=ago(3600),
            last_active_at=ago(120),
            recommendations=None,
            consecutive_failures={"queue": 2},
        )
        assert decision.explanation.triggers == ()
        assert (decision.explanation.current, decision.explanation.scaler) == (7, "orders")
        assert decision.explanation.keda_exact is False
        assert decision.wake_at is None


def test_a_paused_keda_exact_scaler_says_so() -> None:
    decision = decide_replicas(_policy(paused=True, keda_exact=True), {"queue": sqs(1)}, counts(2), None, NOW)

    assert str(decision.explanation) == "orders: 2 -> 2 (paused) [keda-exact] | autoscaling paused"
    assert decision.state.created_at == NOW


def test_the_behavior_path_explains_stabilization_and_limits() -> None:
    state = _state(recommendations=(Recommendation(at=ago(100), replicas=9),))

    decision = decide_replicas(_policy(behavior=HpaBehavior()), {"queue": sqs(10)}, counts(8), state, NOW)

    assert str(decision.explanation) == (
        "orders: 8 -> 8 (stabilization) | HPA: metrics want 2; stabilized to 8 (ScaleDownStabilized) | "
        "queue=10 (AverageValue 5, active) -> 2"
    )


def test_an_sqs_report_says_which_attributes_it_added() -> None:
    trigger = SqsQueueTrigger(name="queue", queue_length=5, scale_on_delayed=True)

    decision = decide_replicas(_policy(trigger), {"queue": sqs(10, 3, 2)}, counts(3), _state(), NOW)

    assert decision.explanation.triggers == (
        TriggerReport(
            name="queue",
            kind="aws-sqs-queue",
            target="AverageValue 5",
            value=15.0,
            quantity="15",
            detail="ApproximateNumberOfMessages=10 + ApproximateNumberOfMessagesNotVisible=3 + "
            "ApproximateNumberOfMessagesDelayed=2",
            active=True,
            proposal=3,
            within_tolerance=True,
            consecutive_failures=0,
            fallback=False,
        ),
    )


@pytest.mark.parametrize(
    ("behavior", "expected"),
    [
        (FallbackBehavior.STATIC, 6),
        (FallbackBehavior.CURRENT_REPLICAS_IF_HIGHER, 8),
        (FallbackBehavior.CURRENT_REPLICAS, 8),
    ],
)
def test_a_fallback_report_through_a_decision(behavior: FallbackBehavior, expected: int) -> None:
    # fallback.go doFallback: the behavior picks from the fallback count and the current replicas.
    policy = _policy(fallback=Fallback(failure_threshold=0, replicas=6, behavior=behavior))

    decision = decide_replicas(policy, {"queue": MetricFailure(reason="timeout")}, counts(8), _state(), NOW)

    assert decision.desired_replicas == expected
    assert decision.explanation.triggers == (
        TriggerReport(
            name="queue",
            kind="aws-sqs-queue",
            target="AverageValue 5",
            value=None,
            quantity=None,
            detail="timeout",
            active=False,
            proposal=expected,
            within_tolerance=False,
            consecutive_failures=1,
            fallback=True,
        ),
    )


def test_an_observation_of_the_wrong_kind_for_an_sqs_trigger_is_refused() -> None:
    with pytest.raises(
        ObservationMismatch, match=r"^trigger 'queue' is aws-sqs-queue but its observation is 'cloudwatch'$"
    ):
        decide_replicas(_policy(), {"queue": cloudwatch()}, counts(2), _state(), NOW)


def test_now_without_a_time_zone_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match=r"^now must be a timezone-aware datetime$"):
        decide_replicas(_policy(), {"queue": sqs(1)}, counts(2), _state(), NOW.replace(tzinfo=None))


@pytest.mark.usefixtures("kolkata_local_time")
def test_cooldown_times_are_utc_whatever_the_machine_s_zone() -> None:
    decision = decide_replicas(
        _policy(min_replica_count=0), {"queue": sqs(0)}, counts(3), _state(last_active_at=ago(60)), NOW
    )
    # The activity a decision records is stamped in UTC, and so is the cooldown counted from it.
    active = decide_replicas(_policy(min_replica_count=0), {"queue": sqs(5)}, counts(3), _state(), ago(60))
    waiting = decide_replicas(_policy(min_replica_count=0), {"queue": sqs(0)}, counts(3), active.state, NOW)

    assert "cooldown ends 15:13:26" in str(decision.explanation)
    assert "cooldown ends 15:13:26" in str(waiting.explanation)


def test_a_first_decision_by_keda_alone_stores_a_readable_history() -> None:
    # KEDA scales a new scaler to zero at once; the HPA's history is seeded with what it saw.
    decision = decide_replicas(_policy(min_replica_count=0), {"queue": sqs(0)}, counts(3), None, NOW)

    assert decision.desired_replicas == 0
    assert decision.state.recommendations == (Recommendation(at=NOW, replicas=3),)


def test_a_history_seeded_now_keeps_the_stored_scale_events() -> None:
    # After a pause (no history) the scale events of both directions still count.
    up, down = ScaleEvent(at=ago(10), change=2), ScaleEvent(at=ago(5), change=1)
    state = _state(recommendations=None, scale_up_events=(up,), scale_down_events=(down,))

    decision = decide_replicas(_policy(behavior=HpaBehavior()), {"queue": sqs(21)}, counts(4), state, NOW)

    assert (decision.state.scale_up_events, decision.state.scale_down_events) == ((up,), (down,))


def test_a_trigger_after_one_on_fallback_is_still_read() -> None:
    for exact in (False, True):
        policy = _policy(
            CW.model_copy(update={"name": "first"}),
            QUEUE,
            fallback=Fallback(failure_threshold=0, replicas=2),
            keda_exact=exact,
        )
        observations: dict[str, Observation] = {"first": MetricFailure(reason="timeout"), "queue": sqs(40)}

        decision = decide_replicas(
            policy, observations, ReplicaCounts(spec=4, status=4, ready=0), _state(), NOW
        )

        assert [report.name for report in decision.explanation.triggers] == ["first", "queue"]
        assert decision.desired_replicas == 8


def test_a_keda_exact_fallback_inside_the_tolerance_is_reported_so() -> None:
    # KEDA: 10 fallback replicas of target 5 over 11 pods is a ratio of 0.909: within tolerance.
    policy = _policy(fallback=Fallback(failure_threshold=0, replicas=10), keda_exact=True)

    decision = decide_replicas(policy, {"queue": MetricFailure(reason="timeout")}, counts(11), _state(), NOW)

    (report,) = decision.explanation.triggers
    assert (report.fallback, report.proposal, report.within_tolerance) == (True, 11, True)


def test_a_keda_exact_value_fallback_the_hpa_cannot_compute_reports_the_hpa_s_reason() -> None:
    # /scale's status.replicas and the ready pods come from different reads and can disagree for
    # a moment: with no replica in the status the HPA cannot use KEDA's synthetic Value metric.
    policy = _policy(CW, fallback=Fallback(failure_threshold=0, replicas=6), keda_exact=True)
    replicas = ReplicaCounts(spec=4, status=0, ready=2)

    decision = decide_replicas(policy, {"cw": MetricFailure(reason="timeout")}, replicas, _state(), NOW)

    assert decision.desired_replicas == 4
    assert decision.explanation.triggers == (
        TriggerReport(
            name="cw",
            kind="aws-cloudwatch",
            target="Value 10",
            value=None,
            quantity=None,
            detail="no pods returned by selector while calculating replica count",
            active=False,
            proposal=None,
            within_tolerance=False,
            consecutive_failures=1,
            fallback=True,
        ),
    )


def test_a_decision_by_keda_alone_keeps_a_recommendation_exactly_a_window_old() -> None:
    # While KEDA scales (here to zero) the HPA does not reconcile; ebb only forgets entries the
    # downscale window (300 s) can no longer reach: older than it, not exactly its age.
    history = (Recommendation(at=ago(301), replicas=5), Recommendation(at=ago(300), replicas=4))
    state = _state(last_active_at=ago(400), recommendations=history)

    decision = decide_replicas(_policy(min_replica_count=0), {"queue": sqs(0)}, counts(3), state, NOW)

    assert decision.desired_replicas == 0
    assert decision.state.recommendations == (Recommendation(at=ago(300), replicas=4),)
