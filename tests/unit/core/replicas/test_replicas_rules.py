"""The documented rules the replica core follows, one case each; every test names its rule and source.

Sources cited below:

* Kubernetes HPA docs, https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/
  (algorithm, tolerance, `behavior` defaults, stabilization);
* kubernetes/kubernetes pkg/controller/podautoscaler/horizontal.go @ 88cca8337e1ddf5b2e8b7411ffa27bc2f27d980e
  and replica_calculator.go (`Tolerances.isWithin`, `getUsageRatioReplicaCount`);
* KEDA docs, https://keda.sh/docs/2.17/reference/scaledobject-spec/ and
  https://keda.sh/docs/2.17/concepts/scaling-deployments/ (activation, cooldown, idle, pause,
  fallback), and KEDA sources: pkg/scaling/executor/scale_scaledobjects.go, pkg/fallback/fallback.go
  @ dfe21b06f6bd9c3b7cf5bc1e5f985a5a975934e9, pkg/scalers/aws_cloudwatch_scaler.go,
  pkg/scalers/scaler.go (`quantityFromFloat64`);
* CloudWatch GetMetricData: StartTime is inclusive, EndTime exclusive
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html);
* Go's `time.Time.Truncate` rounds down to a multiple of the duration since the zero time
  (https://pkg.go.dev/time#Time.Truncate).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest
from pydantic import ValidationError

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
    ReplicaDecision,
    Rule,
    ScalerPolicy,
    ScalerState,
    SqsQueueTrigger,
    decide_replicas,
)
from ebb.core.replicas.fallback import FallbackMetric, FallbackUnavailable, fallback_metric, fallback_replicas
from ebb.core.replicas.metrics import MetricProblem, MetricReading, cloudwatch_query_window, read_metric
from ebb.core.replicas.quantities import milli_from_float
from ebb.core.replicas.replica_calculation import Proposal, Tolerances, propose

from .replicas_testkit import NOW, ago, cloudwatch, counts, sqs

QUEUE = SqsQueueTrigger(name="queue", queue_length=5)


def _policy(*triggers: SqsQueueTrigger | CloudWatchTrigger, **fields: object) -> ScalerPolicy:
    return ScalerPolicy.model_validate({"name": "orders", "triggers": triggers or (QUEUE,)} | fields)


def _decide(
    policy: ScalerPolicy,
    observations: dict[str, Observation],
    replicas: ReplicaCounts,
    state: ScalerState | None = None,
    now: datetime = NOW,
) -> ReplicaDecision:
    return decide_replicas(policy, observations, replicas, state, now)


def _quiet_history() -> ScalerState:
    # An existing but empty recommendation history: nothing holds a scale-down.
    return ScalerState(created_at=ago(3600), recommendations=())


# --- HPA arithmetic -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("queue", "expected"),
    [
        pytest.param(11, 10, id="ratio 1.1 is inside"),
        pytest.param(12, 12, id="ratio 1.2 scales up"),
        pytest.param(9, 10, id="ratio 0.9 is inside"),
        pytest.param(8, 8, id="ratio 0.8 scales down"),
    ],
)
def test_tolerance_of_ten_percent_is_inclusive(queue: int, expected: int) -> None:
    # HPA docs: no scaling while the ratio is within 0.1 of 1; `isWithin` compares with <=.
    # (Before Kubernetes 1.33 the check was |1 - ratio| <= 0.1, which left 1.1 outside.)
    proposal = propose(MetricTargetType.AVERAGE_VALUE, queue * 1000, 1000, counts(10), Tolerances())

    assert isinstance(proposal, Proposal)
    assert proposal.replicas == expected


def test_value_target_multiplies_the_ratio_by_ready_pods_in_float_as_the_hpa_does() -> None:
    # ceil(ratio * ready) with ratio = 8800/1000 in IEEE doubles is ceil(220.00000000000003) = 221;
    # exact arithmetic would give 220. The HPA computes the former.
    proposal = propose(MetricTargetType.VALUE, 8800, 1000, counts(25), Tolerances())

    assert isinstance(proposal, Proposal)
    assert proposal.replicas == 221


def test_value_target_from_zero_is_the_rounded_up_ratio_without_tolerance() -> None:
    # getUsageRatioReplicaCount: at zero current replicas, ceil(ratio) and no tolerance band.
    proposal = propose(MetricTargetType.VALUE, 1050, 1000, counts(0), Tolerances())

    assert isinstance(proposal, Proposal)
    assert proposal.replicas == 2


def test_average_value_with_no_pods_is_the_rounded_up_total_over_target() -> None:
    # GetExternalPerPodMetricReplicas with zero status replicas: the ratio is infinite, so ceil(total/target).
    proposal = propose(MetricTargetType.AVERAGE_VALUE, 42000, 5000, counts(3, status=0), Tolerances())

    assert isinstance(proposal, Proposal)
    assert proposal.replicas == 9


@pytest.mark.parametrize(
    ("metric", "replicas", "expected"),
    [
        # getUsageRatioReplicaCount returns the usage ratio with the count, and the HPA reports the
        # metric as read (a Value target is not divided per pod).
        pytest.param(2500, counts(0), Proposal(3, 2.5, False, 2500), id="from zero: ceil(ratio)"),
        pytest.param(1050, counts(4), Proposal(4, 1.05, True, 1050), id="within tolerance"),
        pytest.param(2500, counts(4, ready=2), Proposal(5, 2.5, False, 2500), id="ratio times ready"),
    ],
)
def test_a_value_proposal_carries_its_ratio_and_reported_value(
    metric: int, replicas: ReplicaCounts, expected: Proposal
) -> None:
    assert propose(MetricTargetType.VALUE, metric, 1000, replicas, Tolerances()) == expected


@pytest.mark.parametrize(
    ("replicas", "expected"),
    [
        # GetExternalPerPodMetricReplicas: ratio = metric / (target x status pods); the HPA
        # reports the metric per pod, rounded up.
        pytest.param(counts(4), Proposal(9, 2.1, False, 10500), id="per pod"),
        # With no pod there is no per-pod value to report: 0.
        pytest.param(counts(4, status=0), Proposal(9, math.inf, False, 0), id="no pod"),
    ],
)
def test_an_average_value_proposal_carries_its_ratio_and_reported_value(
    replicas: ReplicaCounts, expected: Proposal
) -> None:
    assert propose(MetricTargetType.AVERAGE_VALUE, 42000, 5000, replicas, Tolerances()) == expected


def test_value_target_without_pods_is_an_error_outside_tolerance() -> None:
    # getReadyPodsCount errors when the selector lists no pod.
    assert not isinstance(
        propose(MetricTargetType.VALUE, 5000, 1000, counts(3, status=0), Tolerances()), Proposal
    )


# --- KEDA activation, cooldown, idle, pause -------------------------------------------------------


@pytest.mark.parametrize(
    ("visible", "expected", "rule"),
    [pytest.param(5, 0, Rule.INACTIVE, id="at threshold"), pytest.param(6, 1, Rule.ACTIVATION, id="above")],
)
def test_sqs_activation_is_strictly_above_activation_queue_length(
    visible: int, expected: int, rule: Rule
) -> None:
    # KEDA: active when the queue length is strictly above activationQueueLength.
    trigger = SqsQueueTrigger(name="queue", queue_length=5, activation_queue_length=5)
    policy = _policy(trigger, keda_exact=True)

    decision = _decide(policy, {"queue": sqs(visible)}, counts(0))

    assert (decision.desired_replicas, decision.explanation.rule) == (expected, rule)


@pytest.mark.parametrize(("value", "active"), [(2.0, False), (2.001, True)])
def test_cloudwatch_activation_is_strictly_above_the_activation_target(value: float, active: bool) -> None:
    trigger = CloudWatchTrigger(
        name="cw",
        target_metric_value=4,
        activation_target_metric_value=2,
        min_metric_value=0,
        metric_collection_time=60,
        metric_stat_period=60,
    )
    start, _ = cloudwatch_query_window(NOW, 60, 0, 60)

    reading = read_metric(trigger, cloudwatch((start, value)), NOW)

    assert isinstance(reading, MetricReading)
    assert reading.active is active


@pytest.mark.parametrize(("minimum", "expected"), [(0, 1), (3, 3)])
def test_activation_from_zero_goes_to_min_replica_count_or_one(minimum: int, expected: int) -> None:
    policy = _policy(min_replica_count=minimum, keda_exact=True)

    decision = _decide(policy, {"queue": sqs(100)}, counts(0))

    assert decision.desired_replicas == expected
    assert decision.state.last_active_at == NOW


def test_activation_is_ignored_when_min_replica_count_is_at_least_one() -> None:
    # KEDA docs: with minReplicaCount >= 1 the scaler never deactivates the target.
    state = ScalerState(created_at=ago(3600), last_active_at=ago(3600), recommendations=())

    decision = _decide(_policy(min_replica_count=2), {"queue": sqs(0)}, counts(2), state)

    assert decision.desired_replicas == 2
    assert decision.wake_at is None


def test_cooldown_holds_the_replicas_until_it_has_passed() -> None:
    # KEDA: scale to zero only once lastActiveTime + cooldownPeriod (default 300 s) has passed.
    policy = _policy(min_replica_count=0)
    recent = ScalerState(created_at=ago(3600), last_active_at=ago(200), recommendations=())
    passed = ScalerState(created_at=ago(3600), last_active_at=ago(301), recommendations=())

    holding = _decide(policy, {"queue": sqs(0)}, counts(1), recent)
    scaled = _decide(policy, {"queue": sqs(0)}, counts(1), passed)

    assert (holding.desired_replicas, holding.explanation.rule, holding.wake_at) == (
        1,
        Rule.COOLDOWN,
        ago(-100),
    )
    assert (scaled.desired_replicas, scaled.explanation.rule) == (0, Rule.SCALE_TO_ZERO)


def test_cooldown_must_have_strictly_passed() -> None:
    # scale_scaledobjects.go: lastActiveTime.Add(cooldownPeriod).Before(now), a strict comparison.
    state = ScalerState(created_at=ago(3600), last_active_at=ago(300), recommendations=())

    decision = _decide(_policy(min_replica_count=0), {"queue": sqs(0)}, counts(1), state)

    assert (decision.desired_replicas, decision.explanation.rule) == (1, Rule.COOLDOWN)


def test_initial_cooldown_counts_from_creation_when_no_trigger_was_ever_active() -> None:
    # KEDA: without lastActiveTime, creation + initialCooldownPeriod must have passed.
    policy = _policy(min_replica_count=0, initial_cooldown_period=300)
    young = ScalerState(created_at=ago(100), recommendations=())
    old = ScalerState(created_at=ago(400), recommendations=())

    holding = _decide(policy, {"queue": sqs(0)}, counts(1), young)
    scaled = _decide(policy, {"queue": sqs(0)}, counts(1), old)

    assert (holding.desired_replicas, holding.wake_at) == (1, ago(-200))
    assert scaled.desired_replicas == 0


def test_a_new_scaler_with_no_initial_cooldown_may_scale_to_zero_at_once() -> None:
    # KEDA stamps a missing creation time and compares it with a later clock read.
    decision = _decide(_policy(min_replica_count=0), {"queue": sqs(0)}, counts(4))

    assert decision.desired_replicas == 0
    assert decision.state.created_at == NOW


def test_idle_replica_count_replaces_zero_after_the_cooldown() -> None:
    policy = _policy(idle_replica_count=0, min_replica_count=2)
    state = ScalerState(created_at=ago(3600), last_active_at=ago(400), recommendations=())

    decision = _decide(policy, {"queue": sqs(0)}, counts(4), state)

    assert (decision.desired_replicas, decision.explanation.rule) == (0, Rule.SCALE_TO_IDLE)


def test_below_min_replica_count_is_raised_by_keda_without_activity() -> None:
    decision = _decide(_policy(min_replica_count=2), {"queue": sqs(0)}, counts(0))

    assert (decision.desired_replicas, decision.explanation.rule) == (2, Rule.MIN_REPLICA_COUNT)


def test_paused_holds_the_current_replicas_and_forgets_the_hpa_history() -> None:
    # KEDA deletes the HPA while paused; the HPA controller drops that HPA's history.
    state = ScalerState(created_at=ago(3600), recommendations=(Recommendation(at=ago(10), replicas=9),))

    paused = _decide(_policy(paused=True), {"queue": sqs(1000)}, counts(7), state)
    held = _decide(_policy(paused_replicas=3), {"queue": sqs(1000)}, counts(7), state)

    assert (paused.desired_replicas, paused.explanation.rule) == (7, Rule.PAUSED)
    assert (held.desired_replicas, held.explanation.rule) == (3, Rule.PAUSED_REPLICAS)
    assert paused.state.recommendations is None


def test_paused_scale_in_disables_the_hpa_scale_down() -> None:
    # KEDA sets the HPA's behavior.scaleDown.selectPolicy to Disabled for paused-scale-in.
    state = ScalerState(created_at=ago(3600), last_active_at=NOW, recommendations=())

    decision = _decide(_policy(paused_scale_in=True), {"queue": sqs(10)}, counts(10), state)

    assert decision.desired_replicas == 10


def test_paused_scale_out_disables_the_hpa_scale_up() -> None:
    state = ScalerState(created_at=ago(3600), last_active_at=NOW, recommendations=())

    decision = _decide(_policy(paused_scale_out=True), {"queue": sqs(100)}, counts(2), state)

    assert decision.desired_replicas == 2


# --- HPA behavior through the whole decision ------------------------------------------------------


def test_default_behavior_scales_up_by_four_pods_or_double_per_period() -> None:
    # HPA docs: default scale-up is the larger of 4 pods and 100% per 15 s.
    state = ScalerState(created_at=ago(3600), last_active_at=NOW, recommendations=())

    decision = _decide(_policy(behavior=HpaBehavior()), {"queue": sqs(500)}, counts(1), state)

    assert (decision.desired_replicas, decision.explanation.rule) == (5, Rule.SCALE_UP_LIMIT)


def test_without_behavior_the_hpa_doubles_at_most_or_goes_to_four() -> None:
    # horizontal.go: the legacy scale-up limit is max(2 * current, 4).
    state = ScalerState(created_at=ago(3600), last_active_at=NOW, recommendations=())

    decision = _decide(_policy(), {"queue": sqs(500)}, counts(1), state)

    assert decision.desired_replicas == 4


def test_default_scale_down_stabilization_holds_the_highest_recent_recommendation() -> None:
    # HPA docs: scale-down uses the highest recommendation of the last 300 s.
    state = ScalerState(
        created_at=ago(3600), last_active_at=NOW, recommendations=(Recommendation(at=ago(250), replicas=8),)
    )

    decision = _decide(_policy(behavior=HpaBehavior()), {"queue": sqs(10)}, counts(8), state)

    assert (decision.desired_replicas, decision.explanation.rule) == (8, Rule.STABILIZATION)


# --- several triggers -----------------------------------------------------------------------------


TWO_QUEUES = (SqsQueueTrigger(name="a", queue_length=5), SqsQueueTrigger(name="b", queue_length=5))


@pytest.mark.parametrize(
    ("b_visible", "expected", "rule"),
    [
        pytest.param(30, 6, Rule.METRICS, id="scale-up from the others goes ahead"),
        pytest.param(5, 3, Rule.FAILED_METRICS, id="scale-down is blocked"),
    ],
)
def test_a_failing_trigger_blocks_only_scale_down(b_visible: int, expected: int, rule: Rule) -> None:
    state = ScalerState(created_at=ago(3600), last_active_at=NOW, recommendations=())
    observations: dict[str, Observation] = {"a": MetricFailure(reason="throttled"), "b": sqs(b_visible)}

    decision = _decide(_policy(*TWO_QUEUES), observations, counts(3), state)

    assert (decision.desired_replicas, decision.explanation.rule) == (expected, rule)
    assert ("1 of 2 triggers failed, so no scale-down" in str(decision.explanation)) is (
        rule is Rule.FAILED_METRICS
    )


def test_no_valid_trigger_means_no_change() -> None:
    state = ScalerState(created_at=ago(3600), last_active_at=NOW, recommendations=())
    observations: dict[str, Observation] = {
        "a": MetricFailure(reason="down"),
        "b": MetricFailure(reason="down"),
    }

    decision = _decide(_policy(*TWO_QUEUES), observations, counts(3), state)

    assert decision.desired_replicas == 3
    assert "HPA: every trigger failed, no change" in str(decision.explanation)


def test_the_largest_proposal_wins() -> None:
    state = ScalerState(created_at=ago(3600), last_active_at=NOW, recommendations=())

    decision = _decide(_policy(*TWO_QUEUES), {"a": sqs(20), "b": sqs(35)}, counts(4), state)

    assert decision.desired_replicas == 7


# --- fallback -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("behavior", "current", "expected"),
    [
        (FallbackBehavior.STATIC, 4, 10),
        (FallbackBehavior.CURRENT_REPLICAS, 4, 4),
        (FallbackBehavior.CURRENT_REPLICAS_IF_HIGHER, 4, 10),
        (FallbackBehavior.CURRENT_REPLICAS_IF_HIGHER, 12, 12),
        (FallbackBehavior.CURRENT_REPLICAS_IF_LOWER, 4, 4),
        (FallbackBehavior.CURRENT_REPLICAS_IF_LOWER, 12, 10),
    ],
)
def test_fallback_behaviors(behavior: FallbackBehavior, current: int, expected: int) -> None:
    # KEDA docs, fallback.behavior; fallback.go doFallback.
    assert (
        fallback_replicas(Fallback(failure_threshold=3, replicas=10, behavior=behavior), current) == expected
    )


@pytest.mark.parametrize(("previous", "falling_back"), [(2, False), (3, True)])
def test_fallback_starts_strictly_after_failure_threshold_failures(previous: int, falling_back: bool) -> None:
    state = ScalerState(created_at=ago(3600), recommendations=(), consecutive_failures={"queue": previous})
    policy = _policy(min_replica_count=1, fallback=Fallback(failure_threshold=3, replicas=6))

    decision = _decide(policy, {"queue": MetricFailure(reason="timeout")}, counts(4), state)

    (report,) = decision.explanation.triggers
    assert report.fallback is falling_back
    assert decision.desired_replicas == (6 if falling_back else 4)


def test_fallback_does_not_apply_at_zero_replicas() -> None:
    # The HPA is inactive at zero and KEDA does not scale a failing scaler up on its own.
    state = ScalerState(created_at=ago(3600), consecutive_failures={"queue": 9})
    policy = _policy(fallback=Fallback(failure_threshold=0, replicas=5))

    decision = _decide(policy, {"queue": MetricFailure(reason="timeout")}, counts(0), state)

    assert decision.desired_replicas == 0


def test_value_fallback_needs_a_ready_replica() -> None:
    # fallback.go: for a Value target the replicas are divided by status.readyReplicas, which must be > 0.
    assert isinstance(fallback_metric(4, MetricTargetType.VALUE, 5.0, ready_replicas=0), FallbackUnavailable)
    assert fallback_metric(4, MetricTargetType.VALUE, 5.0, ready_replicas=2) == FallbackMetric(milli=10_000)


# --- the deliberate differences, and the setting that turns them off ------------------------------


@pytest.mark.parametrize(("exact", "expected"), [(True, 1), (False, 4)])
def test_difference_1_activation_goes_straight_to_the_hpa_proposal(exact: bool, expected: int) -> None:
    # 100 messages at 5 per pod want 20; KEDA sets 1 and waits for the HPA, which may then go
    # to max(2 x 1, 4) = 4 without behavior. ebb takes that HPA step in the same decision.
    decision = _decide(_policy(keda_exact=exact), {"queue": sqs(100)}, counts(0))

    assert (decision.desired_replicas, decision.explanation.rule) == (expected, Rule.ACTIVATION)


@pytest.mark.parametrize(("exact", "expected"), [(True, 11), (False, 10)])
def test_difference_2_fallback_replicas_are_exact(exact: bool, expected: int) -> None:
    # KEDA reports 5 x 10 messages; at 11 pods the ratio 50/55 = 0.909 is inside the tolerance.
    state = ScalerState(created_at=ago(3600), recommendations=(), consecutive_failures={"queue": 5})
    policy = _policy(
        min_replica_count=1, fallback=Fallback(failure_threshold=0, replicas=10), keda_exact=exact
    )

    decision = _decide(policy, {"queue": MetricFailure(reason="timeout")}, counts(11), state)

    assert decision.desired_replicas == expected


@pytest.mark.parametrize(("exact", "recorded"), [(True, False), (False, True)])
def test_difference_3_activity_is_recorded_despite_a_failing_trigger(exact: bool, recorded: bool) -> None:
    before = ago(1000)
    state = ScalerState(created_at=ago(3600), last_active_at=before, recommendations=())
    observations: dict[str, Observation] = {"a": sqs(50), "b": MetricFailure(reason="throttled")}

    decision = _decide(_policy(*TWO_QUEUES, keda_exact=exact), observations, counts(3), state)

    assert decision.state.last_active_at == (NOW if recorded else before)


@pytest.mark.parametrize(("exact", "expected"), [(True, 0), (False, 2)])
def test_difference_4_min_replica_count_holds_while_a_trigger_fails(exact: bool, expected: int) -> None:
    # KEDA raises a target below minReplicaCount only when no trigger errors; the HPA is idle at zero.
    policy = _policy(min_replica_count=2, keda_exact=exact)

    decision = _decide(policy, {"queue": MetricFailure(reason="throttled")}, counts(0))

    assert decision.desired_replicas == expected


@pytest.mark.parametrize(("exact", "expected"), [(True, 0), (False, 2)])
def test_difference_4_min_replica_count_holds_while_scale_out_is_paused(exact: bool, expected: int) -> None:
    # KEDA's activation returns early under paused-scale-out, even below minReplicaCount.
    policy = _policy(min_replica_count=2, paused_scale_out=True, keda_exact=exact)

    decision = _decide(policy, {"queue": sqs(50)}, counts(0))

    assert decision.desired_replicas == expected


# --- CloudWatch value -----------------------------------------------------------------------------


def _cloudwatch_trigger(ignore_null_values: bool = True) -> CloudWatchTrigger:
    return CloudWatchTrigger(
        name="cw",
        target_metric_value=10,
        min_metric_value=1.5,
        ignore_null_values=ignore_null_values,
        metric_collection_time=300,
        metric_stat_period=60,
    )


def test_cloudwatch_takes_the_newest_datapoint_of_the_query_window() -> None:
    # Window [15:04:00, 15:09:00): the end is exclusive, earlier points are outside.
    points = cloudwatch(
        (NOW.replace(minute=9, second=0), 99.0),
        (NOW.replace(minute=8, second=0), 7.0),
        (NOW.replace(minute=5, second=0), 3.0),
        (NOW.replace(minute=3, second=0), 100.0),
    )

    reading = read_metric(_cloudwatch_trigger(), points, NOW)

    assert isinstance(reading, MetricReading)
    assert reading.value == 7.0


def test_cloudwatch_without_data_in_the_window() -> None:
    outside = cloudwatch((NOW.replace(minute=0, second=0), 50.0))

    ignored = read_metric(_cloudwatch_trigger(ignore_null_values=True), outside, NOW)
    failed = read_metric(_cloudwatch_trigger(ignore_null_values=False), outside, NOW)
    no_result = read_metric(
        _cloudwatch_trigger(ignore_null_values=False), CloudWatchResult(datapoints=None), NOW
    )

    assert isinstance(ignored, MetricReading)
    assert ignored.milli == 1500
    assert isinstance(failed, MetricProblem)
    assert isinstance(no_result, MetricReading)


def test_cloudwatch_window_truncates_from_gos_zero_time() -> None:
    # 15:09:26 truncated to 7 minutes counts from 0001-01-01, giving 15:04:00 (not 15:05:00).
    start, end = cloudwatch_query_window(NOW, 420, 0, 420)

    assert (start, end) == (NOW.replace(minute=57, hour=14, second=0), NOW.replace(minute=4, second=0))


@pytest.mark.parametrize(
    ("value", "milli"),
    [(1.0005, 1000), (0.0005, 1), (2.675, 2675), (-0.0004, 0), (math.nan, 0), (math.inf, 0), (1e12, 10**15)],
)
def test_metric_values_become_milli_units_as_keda_rounds_them(value: float, milli: int) -> None:
    # scaler.go quantityFromFloat64: "%.3f" of the exact binary value; NaN and infinities are 0.
    assert milli_from_float(value) == milli


# --- input validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"min_replica_count": 5, "max_replica_count": 2},
            "min_replica_count 5 is above max_replica_count 2",
        ),
        ({"min_replica_count": 2, "idle_replica_count": 2}, "idle_replica_count 2 must be below"),
        ({"triggers": (QUEUE, QUEUE)}, "trigger names must be unique; repeated: queue"),
        ({"triggers": ()}, "triggers"),
        ({"cooldown_period": -1}, "cooldown_period"),
    ],
)
def test_policy_errors_say_what_is_wrong(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ScalerPolicy.model_validate({"name": "orders", "triggers": (QUEUE,)} | fields)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"metric_stat_period": 25}, "must be one of 1, 5, 10, 30, 60"),
        ({"metric_stat_period": 250}, "multiple of 60"),
        ({"metric_stat_period": 300, "metric_collection_time": 100}, "multiple of metric_stat_period 300"),
        ({"target_metric_value": 0.0004}, "below the HPA's 0.001 resolution"),
    ],
)
def test_cloudwatch_trigger_errors_follow_keda(fields: dict[str, object], message: str) -> None:
    base = {"name": "cw", "target_metric_value": 1, "min_metric_value": 0}
    with pytest.raises(ValidationError, match=message):
        CloudWatchTrigger.model_validate(base | fields)


def test_an_observation_of_the_wrong_kind_is_refused() -> None:
    trigger = _cloudwatch_trigger()

    with pytest.raises(ObservationMismatch, match="'cw' is aws-cloudwatch but its observation is 'sqs'"):
        read_metric(trigger, sqs(1), NOW)


def test_a_missing_observation_is_a_failed_metric() -> None:
    decision = _decide(_policy(), {}, counts(2), ScalerState(created_at=ago(60), recommendations=()))

    (report,) = decision.explanation.triggers
    assert report.detail == "no observation for this trigger"
    assert decision.state.consecutive_failures == {"queue": 1}


def test_now_must_carry_a_time_zone() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        _decide(_policy(), {}, counts(2), None, now=NOW.replace(tzinfo=None))


# --- explanation ----------------------------------------------------------------------------------


def test_explanation_is_structured_and_reads_as_one_line() -> None:
    state = ScalerState(created_at=ago(3600), last_active_at=NOW, recommendations=())

    decision = _decide(_policy(behavior=HpaBehavior()), {"queue": sqs(42)}, counts(3), state)

    explanation = decision.explanation
    assert (explanation.current, explanation.desired, explanation.rule) == (3, 7, Rule.SCALE_UP_LIMIT)
    (report,) = explanation.triggers
    assert (report.value, report.proposal, report.active) == (42.0, 9, True)
    text = str(explanation)
    assert text.startswith("orders: 3 -> 7 (scale-up-limit) | ")
    assert "metrics want 9" in text
    assert "queue=42 (AverageValue 5, active) -> 9" in text
    assert "\n" not in text


def test_explanation_of_a_failed_trigger_says_why() -> None:
    state = ScalerState(created_at=ago(3600), last_active_at=NOW, recommendations=())

    decision = _decide(_policy(), {"queue": MetricFailure(reason="AccessDenied")}, counts(3), state)

    assert "queue=failed (AccessDenied; 1 in a row)" in str(decision.explanation)
    assert decision.explanation.rule is Rule.FAILED_METRICS


def test_scale_to_zero_tells_when_the_cooldown_ends() -> None:
    state = ScalerState(created_at=ago(3600), last_active_at=ago(60), recommendations=())

    decision = _decide(_policy(), {"queue": sqs(0)}, counts(1), state)

    assert decision.wake_at == NOW + timedelta(seconds=240)
    assert "cooldown ends 15:13:26" in str(decision.explanation)
