"""Cases transcribed from KEDA's own tests: inputs and expected outputs are upstream facts.

Sources (file, commit of the copy read; each case is named after its upstream test or table row):

* kedacore/keda pkg/scalers/aws_sqs_queue_scaler_test.go @ 56ed011d4d83f8398dbc0e42ae462c2fe46dd4b1
  (its mock queue answers 200 visible, 100 in flight, 50 delayed)
* kedacore/keda pkg/scalers/aws_cloudwatch_scaler_test.go @ 1d2225bfd814d477ae1b26b2359a8e8f5221c584
  (its mock answers one result holding the value 10)
* kedacore/keda pkg/scaling/executor/scale_scaledobjects_test.go
  @ 4af6a5ab953388b6647a083385c52907cc5d7169
* kedacore/keda pkg/fallback/fallback_test.go @ a25275bef4bb7349ebfc6cd058f84d6e3a58cde4
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from ebb.core.replicas import (
    CloudWatchResult,
    CloudWatchTrigger,
    Fallback,
    MetricFailure,
    ScalerPolicy,
    ScalerState,
    SqsQueueAttributes,
    SqsQueueTrigger,
    decide_replicas,
)
from ebb.core.replicas.activation import ExecutorAction, run_executor
from ebb.core.replicas.fallback import FallbackMetric, fallback_metric
from ebb.core.replicas.metrics import (
    MetricProblem,
    MetricReading,
    cloudwatch_query_window,
    read_metric,
    sqs_queue_length,
)
from ebb.core.replicas.policy import MetricTargetType

from .replicas_testkit import (
    NOW,
    cloudwatch,
    counts,
    sqs,
)

# --- aws_sqs_queue_scaler_test.go ---------------------------------------------------------------------

MOCK_QUEUE = sqs(200, 100, 50)


@pytest.mark.parametrize(
    ("in_flight", "delayed", "expected"),
    [
        pytest.param(False, False, 200, id="not error with scaleOnInFlight disabled"),
        pytest.param(True, False, 300, id="not error with scaleOnInFlight enabled"),
        pytest.param(True, False, 300, id="not error with scaleOnDelayed disabled"),
        pytest.param(True, True, 350, id="not error with scaleOnDelayed enabled"),
        pytest.param(False, False, 200, id="not error with scaledOnInFlight and scaleOnDelayed disabled"),
        pytest.param(True, True, 350, id="not error with scaledOnInFlight and scaleOnDelayed enabled"),
    ],
)
def test_sqs_get_metrics(in_flight: bool, delayed: bool, expected: int) -> None:
    # TestAWSSQSScalerGetMetrics; scaleOnInFlight defaults to true, scaleOnDelayed to false.
    trigger = SqsQueueTrigger(
        name="q", queue_length=1, scale_on_in_flight=in_flight, scale_on_delayed=delayed
    )

    reading = read_metric(trigger, MOCK_QUEUE, NOW)

    assert isinstance(reading, MetricReading)
    assert reading.milli == expected * 1000


@pytest.mark.parametrize(
    "observation",
    [
        pytest.param(MetricFailure(reason="some error"), id="error queue"),
        pytest.param(
            SqsQueueAttributes(
                attributes={
                    "ApproximateNumberOfMessages": "NotInt",
                    "ApproximateNumberOfMessagesNotVisible": "NotInt",
                }
            ),
            id="bad data",
        ),
    ],
)
def test_sqs_get_metrics_errors(observation: SqsQueueAttributes | MetricFailure) -> None:
    # TestAWSSQSScalerGetMetrics: an API error and non-integer attributes are errors.
    assert isinstance(read_metric(SqsQueueTrigger(name="q", queue_length=1), observation, NOW), MetricProblem)


@pytest.mark.parametrize(
    ("text", "length"),
    [
        pytest.param("9223372036854775807", 9223372036854775807, id="int64 maximum"),
        pytest.param("9223372036854775808", None, id="int64 maximum + 1"),
        pytest.param("-9223372036854775808", -9223372036854775808, id="int64 minimum"),
        pytest.param("-9223372036854775809", None, id="int64 minimum - 1"),
    ],
)
def test_queue_length_parses_as_a_base_10_int64(text: str, length: int | None) -> None:
    # The scaler reads each attribute with strconv.ParseInt(value, 10, 64), whose range is the
    # int64 range (https://pkg.go.dev/strconv#ParseInt); outside it, an error.
    trigger = SqsQueueTrigger(name="q", scale_on_in_flight=False)

    result = sqs_queue_length(trigger, {"ApproximateNumberOfMessages": text})

    if length is None:
        assert result == MetricProblem(
            f"SQS attribute ApproximateNumberOfMessages={text!r} is not a base-10 int64"
        )
    else:
        assert result == length


def test_a_missing_attribute_is_named() -> None:
    trigger = SqsQueueTrigger(name="q", scale_on_in_flight=True)

    result = sqs_queue_length(trigger, {"ApproximateNumberOfMessages": "3"})

    assert result == MetricProblem(
        "metric ApproximateNumberOfMessagesNotVisible not found in SQS queue attributes"
    )


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        pytest.param(
            {
                "ApproximateNumberOfMessages": "1",
                "ApproximateNumberOfMessagesNotVisible": "0",
                "ApproximateNumberOfMessagesDelayed": "0",
            },
            1,
            id="properly formed queue attributes",
        ),
        pytest.param({}, None, id="missing ApproximateNumberOfMessages"),
        pytest.param(
            {
                "ApproximateNumberOfMessages": "NotInt",
                "ApproximateNumberOfMessagesNotVisible": "0",
                "ApproximateNumberOfMessagesDelayed": "0",
            },
            None,
            id="invalid ApproximateNumberOfMessages",
        ),
        pytest.param(
            {
                "ApproximateNumberOfMessages": "2147483647",
                "ApproximateNumberOfMessagesNotVisible": "0",
                "ApproximateNumberOfMessagesDelayed": "0",
            },
            2147483647,
            id="32 bit int upper bound",
        ),
        pytest.param(
            {
                "ApproximateNumberOfMessages": "2147483648",
                "ApproximateNumberOfMessagesNotVisible": "0",
                "ApproximateNumberOfMessagesDelayed": "0",
            },
            2147483648,
            id="32 bit int upper bound + 1",
        ),
    ],
)
def test_process_queue_length_from_sqs_queue_attributes_output(
    attributes: dict[str, str], expected: int | None
) -> None:
    # TestProcessQueueLengthFromSqsQueueAttributesOutput: all three attributes are requested.
    trigger = SqsQueueTrigger(name="q", scale_on_in_flight=True, scale_on_delayed=True)

    length = sqs_queue_length(trigger, attributes)

    if expected is None:
        assert isinstance(length, MetricProblem)
    else:
        assert length == expected


# --- aws_cloudwatch_scaler_test.go ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "expected_start", "expected_end"),
    [
        pytest.param(0, "2021-11-07T15:03:00+00:00", "2021-11-07T15:04:00+00:00", id="normal"),
        pytest.param(30, "2021-11-07T15:02:00+00:00", "2021-11-07T15:03:00+00:00", id="normal with offset"),
    ],
)
def test_compute_query_window(offset: int, expected_start: str, expected_end: str) -> None:
    # TestComputeQueryWindow: now 2021-11-07T15:04:05.999Z, period 60, collection time 60.
    current = datetime(2021, 11, 7, 15, 4, 5, 999000, tzinfo=UTC)

    start, end = cloudwatch_query_window(current, 60, offset, 60)

    assert (start.isoformat(), end.isoformat()) == (expected_start, expected_end)


def _cloudwatch_trigger() -> CloudWatchTrigger:
    # The metadata of awsCloudwatchGetMetricTestData: target 100, min 0, period and collection 60, offset 60.
    return CloudWatchTrigger(
        name="cw",
        target_metric_value=100,
        min_metric_value=0,
        metric_collection_time=60,
        metric_stat_period=60,
        metric_end_time_offset=60,
    )


def _mock_cloudwatch_answer() -> CloudWatchResult:
    start, _ = cloudwatch_query_window(NOW, 60, 60, 60)
    return cloudwatch((start, 10.0))


@pytest.mark.parametrize(
    ("observation", "expected"),
    [
        pytest.param(_mock_cloudwatch_answer(), 10, id="HasData"),
        pytest.param(_mock_cloudwatch_answer(), 10, id="HasDataNoUnit"),
        pytest.param(_mock_cloudwatch_answer(), 10, id="HasDataFromExpression"),
        pytest.param(MetricFailure(reason="error"), None, id="Error: cloudwatch api error"),
        pytest.param(CloudWatchResult(datapoints=None), 0, id="NoValue: no error, minMetricValue"),
    ],
)
def test_cloudwatch_get_metrics(observation: CloudWatchResult | MetricFailure, expected: int | None) -> None:
    # TestAWSCloudwatchScalerGetMetrics: the value reported to the HPA (`Value.Value()`).
    reading = read_metric(_cloudwatch_trigger(), observation, NOW)

    if expected is None:
        assert isinstance(reading, MetricProblem)
    else:
        assert isinstance(reading, MetricReading)
        assert reading.milli == expected * 1000


# --- scale_scaledobjects_test.go: KEDA's executor -----------------------------------------------------------


@dataclass(frozen=True)
class ExecutorCase:
    test: str
    policy: ScalerPolicy
    current: int
    active: bool
    expected: int
    """The target's replicas after the call (unchanged when KEDA writes nothing)."""


def _policy(**fields: object) -> ScalerPolicy:
    return ScalerPolicy.model_validate(
        {"name": "name", "triggers": [{"type": "aws-sqs-queue", "name": "q"}]} | fields
    )


EXECUTOR_CASES = [
    ExecutorCase("TestScaleToMinReplicasWhenNotActive", _policy(min_replica_count=0), 10, False, 0),
    ExecutorCase(
        "TestScaleToMinReplicasFromLowerInitialReplicaCount", _policy(min_replica_count=5), 1, False, 5
    ),
    ExecutorCase("TestScaleFromMinReplicasWhenActive", _policy(min_replica_count=0), 0, True, 1),
    ExecutorCase(
        "TestScaleToIdleReplicasWhenNotActive",
        _policy(idle_replica_count=0, min_replica_count=5),
        10,
        False,
        0,
    ),
    ExecutorCase(
        "TestScaleFromIdleToMinReplicasWhenActive",
        _policy(idle_replica_count=0, min_replica_count=5),
        0,
        True,
        5,
    ),
    ExecutorCase("TestEventWitTriggerInfo", _policy(idle_replica_count=0, min_replica_count=5), 2, True, 5),
    ExecutorCase(
        "TestNoScaleToMinReplicasWhenNotActiveAndPauseScaleInAnnotationSet",
        _policy(min_replica_count=0, paused_scale_in=True),
        10,
        False,
        10,
    ),
    ExecutorCase(
        "TestNoScaleToIdleReplicasWhenNotActiveAndPauseScaleInAnnotationSet",
        _policy(idle_replica_count=0, min_replica_count=5, paused_scale_in=True),
        10,
        False,
        10,
    ),
    ExecutorCase(
        "TestScaleFromMinReplicasWhenActivationForced",
        _policy(min_replica_count=0, force_activation=True),
        0,
        False,
        1,
    ),
    ExecutorCase(
        "TestNoScaleFromMinReplicasWhenActiveAndPausedScaleOutAnnotationSet",
        _policy(min_replica_count=0, paused_scale_out=True),
        0,
        True,
        0,
    ),
    ExecutorCase(
        "TestNoScaleFromIdleReplicasToMinReplicasWhenActiveAndPausedScaleOutAnnotationSet",
        _policy(idle_replica_count=0, min_replica_count=5, max_replica_count=10, paused_scale_out=True),
        0,
        True,
        0,
    ),
]


@pytest.mark.parametrize("case", EXECUTOR_CASES, ids=lambda case: case.test)
def test_executor_matches_upstream(case: ExecutorCase) -> None:
    # The upstream ScaledObjects are new (no creation time, no lastActiveTime, no errors).
    outcome = run_executor(
        case.policy.model_copy(update={"keda_exact": True}),
        current=case.current,
        active=case.active,
        any_error=False,
        last_active_at=None,
        created_at=None,
        now=NOW,
    )

    assert (outcome.replicas if outcome.replicas is not None else case.current) == case.expected


def test_scale_to_paused_replicas_count() -> None:
    # TestScaleToPausedReplicasCount: paused-replicas 0 with 2 replicas and an active trigger -> 0.
    policy = _policy(paused_replicas=0, keda_exact=True)

    decision = decide_replicas(policy, {"q": sqs(1000)}, counts(2), None, NOW)

    assert decision.desired_replicas == 0


def test_activation_writes_last_active_time() -> None:
    # TestScaleFromMinReplicasWhenActive also expects the status patch that records the activity.
    outcome = run_executor(
        _policy(min_replica_count=0),
        current=0,
        active=True,
        any_error=False,
        last_active_at=None,
        created_at=None,
        now=NOW,
    )

    assert outcome.action is ExecutorAction.ACTIVATE
    assert outcome.last_active_at == NOW


# --- fallback_test.go ------------------------------------------------------------------------------------


def _fallback_policy(fallback: Fallback | None) -> ScalerPolicy:
    # createMetricSpec(10): an AverageValue target of 10; the workload runs 5 replicas.
    return ScalerPolicy(
        name="clean-up-test",
        min_replica_count=1,
        max_replica_count=20,
        fallback=fallback,
        triggers=(SqsQueueTrigger(name="some_metric_name", queue_length=10),),
        keda_exact=True,
    )


def _with_failures(count: int) -> dict[str, int]:
    return {"some_metric_name": count} if count else {}


def test_returns_a_normalised_metric_when_failures_are_beyond_threshold() -> None:
    # "should return a normalised metric when number of failures are beyond threshold":
    # 3 failures, threshold 3, replicas 10, target 10 -> metric 100 and 4 failures.
    metric = fallback_metric(10, MetricTargetType.AVERAGE_VALUE, 10.0, ready_replicas=5)
    assert metric == FallbackMetric(milli=100_000)

    state = ScalerState(consecutive_failures=_with_failures(3))
    policy = _fallback_policy(Fallback(failure_threshold=3, replicas=10))

    decision = decide_replicas(
        policy, {"some_metric_name": MetricFailure(reason="Some error")}, counts(5), state, NOW
    )

    assert decision.state.consecutive_failures == {"some_metric_name": 4}
    (report,) = decision.explanation.triggers
    assert report.fallback
    assert report.proposal == 10
    assert decision.desired_replicas == 10


def test_bumps_the_number_of_failures_when_the_metrics_call_fails() -> None:
    # "should bump the number of failures when metrics call fails": 0 -> 1, the error stays.
    policy = _fallback_policy(Fallback(failure_threshold=3, replicas=10))

    decision = decide_replicas(
        policy, {"some_metric_name": MetricFailure(reason="Some error")}, counts(5), ScalerState(), NOW
    )

    assert decision.state.consecutive_failures == {"some_metric_name": 1}
    (report,) = decision.explanation.triggers
    assert report.proposal is None
    assert decision.desired_replicas == 5


def test_resets_the_health_status_when_scaler_metrics_are_available() -> None:
    # "should reset the health status when scaler metrics are available": 5 failures -> 0.
    policy = _fallback_policy(Fallback(failure_threshold=3, replicas=10))

    decision = decide_replicas(
        policy,
        {"some_metric_name": sqs(60)},
        counts(5),
        ScalerState(consecutive_failures=_with_failures(5)),
        NOW,
    )

    assert decision.state.consecutive_failures == {}
    (report,) = decision.explanation.triggers
    assert report.value == 60
    assert not report.fallback


def test_propagates_the_error_when_fallback_is_disabled() -> None:
    # "should propagate the error when fallback is disabled".
    decision = decide_replicas(
        _fallback_policy(None), {"some_metric_name": MetricFailure(reason="Some error")}, counts(5), None, NOW
    )

    (report,) = decision.explanation.triggers
    assert report.value is None
    assert report.proposal is None
    assert report.detail == "Some error"


def test_invalid_fallback_parameters_are_refused() -> None:
    # "should return error when fallback is enabled but scaledobject has invalid parameter":
    # KEDA ignores the fallback at run time; ebb refuses the configuration outright.
    with pytest.raises(ValidationError, match="failure_threshold"):
        Fallback(failure_threshold=-3, replicas=10)
