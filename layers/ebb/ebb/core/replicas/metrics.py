"""Per-trigger metric values, exactly as KEDA's `aws-sqs-queue` and `aws-cloudwatch` scalers compute them.

SQS (`pkg/scalers/aws_sqs_queue_scaler.go`): the sum of ApproximateNumberOfMessages, plus
...NotVisible when `scaleOnInFlight`, plus ...Delayed when `scaleOnDelayed`; every selected
attribute must be present and parse as a base-10 int64. Active when the sum is strictly above
`activationQueueLength`.

CloudWatch (`pkg/scalers/aws_cloudwatch_scaler.go`): the query covers the trigger's
`query_window(now)` (`ebb.core.replicas.cloudwatch_window`); GetMetricData returns the
datapoints in [start, end) newest first and KEDA takes the first. A result without values is an
error unless `ignoreNullValues`, then `minMetricValue`; no result at all is `minMetricValue`.
Active when strictly above `activationTargetMetricValue`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from ebb.core.replicas.cloudwatch_window import cloudwatch_query_window
from ebb.core.replicas.observations import (
    CloudWatchResult,
    MetricFailure,
    Observation,
    ObservationMismatch,
    SqsQueueAttributes,
)
from ebb.core.replicas.policy import CloudWatchTrigger, SqsQueueTrigger, Trigger
from ebb.core.replicas.quantities import INT64_MAX, milli_from_float

__all__ = ["MetricProblem", "MetricReading", "cloudwatch_query_window", "read_metric", "sqs_queue_length"]

_BASE10_INT64 = re.compile(r"[+-]?[0-9]+")


@dataclass(frozen=True, slots=True)
class MetricReading:
    """A trigger's metric: the value KEDA read, the milli-units the HPA sees, KEDA's activity."""

    value: float
    milli: int
    active: bool
    detail: str
    """How the value was obtained, for the explanation."""


@dataclass(frozen=True, slots=True)
class MetricProblem:
    """The trigger has no metric this time: KEDA's scaler returned an error."""

    reason: str


def read_metric(
    trigger: Trigger, observation: Observation | None, now: datetime
) -> MetricReading | MetricProblem:
    """The trigger's metric from its observation (`None`: nothing was observed for it)."""
    if observation is None:
        return MetricProblem("no observation for this trigger")
    if isinstance(observation, MetricFailure):
        return MetricProblem(observation.reason)
    if isinstance(trigger, SqsQueueTrigger):
        if not isinstance(observation, SqsQueueAttributes):
            raise ObservationMismatch(
                f"trigger {trigger.name!r} is aws-sqs-queue but its observation is {observation.kind!r}"
            )
        return _read_sqs(trigger, observation)
    if not isinstance(observation, CloudWatchResult):
        raise ObservationMismatch(
            f"trigger {trigger.name!r} is aws-cloudwatch but its observation is {observation.kind!r}"
        )
    return _read_cloudwatch(trigger, observation, now)


def sqs_queue_length(trigger: SqsQueueTrigger, attributes: dict[str, str]) -> int | MetricProblem:
    """The queue length KEDA scales on, or why it cannot be read."""
    total = 0
    for name in trigger.attribute_names:
        text = attributes.get(name)
        if text is None:
            return MetricProblem(f"metric {name} not found in SQS queue attributes")
        if not _BASE10_INT64.fullmatch(text) or not -INT64_MAX - 1 <= int(text) <= INT64_MAX:
            return MetricProblem(f"SQS attribute {name}={text!r} is not a base-10 int64")
        total += int(text)
    return total


def _read_sqs(trigger: SqsQueueTrigger, observation: SqsQueueAttributes) -> MetricReading | MetricProblem:
    length = sqs_queue_length(trigger, observation.attributes)
    if isinstance(length, MetricProblem):
        return length
    detail = " + ".join(f"{name}={observation.attributes[name]}" for name in trigger.attribute_names)
    return MetricReading(
        value=float(length),
        milli=milli_from_float(float(length)),
        active=length > trigger.activation_queue_length,
        detail=detail,
    )


def _read_cloudwatch(
    trigger: CloudWatchTrigger, observation: CloudWatchResult, now: datetime
) -> MetricReading | MetricProblem:
    if observation.datapoints is None:
        value = trigger.min_metric_value
        detail = "no result, minMetricValue"
    else:
        window = trigger.query_window(now)
        in_window = [point for point in observation.datapoints if window.contains(point.timestamp)]
        if not in_window:
            if not trigger.ignore_null_values:
                return MetricProblem("empty metric data received, ignoreNullValues is false")
            value = trigger.min_metric_value
            detail = "no datapoint in window, minMetricValue"
        else:
            newest = max(in_window, key=lambda point: point.timestamp)
            value = newest.value
            detail = f"newest datapoint at {newest.timestamp.astimezone(UTC):%H:%M:%S}"
    return MetricReading(
        value=value,
        milli=milli_from_float(value),
        active=value > trigger.activation_target_metric_value,
        detail=detail,
    )
