"""Builders shared by the replica core's tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ebb.core.replicas import (
    CloudWatchDatapoint,
    CloudWatchResult,
    HpaScalingPolicy,
    HpaScalingRules,
    ReplicaCounts,
    ScalingPolicyType,
    SelectPolicy,
    SqsQueueAttributes,
)
from ebb.core.replicas.state import ScaleEvent

NOW = datetime(2025, 3, 14, 15, 9, 26, tzinfo=UTC)


def ago(seconds: float, now: datetime = NOW) -> datetime:
    """The instant `seconds` before `now`."""
    return now - timedelta(seconds=seconds)


def uniform_events(changes: list[int], period_seconds: int, now: datetime = NOW) -> tuple[ScaleEvent, ...]:
    """Scale events spread over the last `period_seconds`, one per equal segment, at its middle.

    The same placement as the upstream test helper `generateEventsUniformDistribution`, whose
    float-to-Duration conversion truncates to whole seconds.
    """
    segment = period_seconds / len(changes)
    return tuple(
        ScaleEvent(
            at=now - timedelta(seconds=int(period_seconds - segment * (index + 1) + segment / 2)),
            change=change,
        )
        for index, change in enumerate(changes)
    )


def scaling_rules(
    pods: int, pods_period: int, percent: int, percent_period: int, window: int
) -> HpaScalingRules:
    """Rules with selectPolicy Max and a Pods and/or Percent policy (a zero value leaves it out).

    The same shape as the upstream test helper `generateScalingRules`.
    """
    policies = []
    if pods:
        policies.append(HpaScalingPolicy(type=ScalingPolicyType.PODS, value=pods, period_seconds=pods_period))
    if percent:
        policies.append(
            HpaScalingPolicy(type=ScalingPolicyType.PERCENT, value=percent, period_seconds=percent_period)
        )
    return HpaScalingRules(
        stabilization_window_seconds=window,
        select_policy=SelectPolicy.MAX,
        policies=tuple(policies) if policies else None,
    )


def counts(spec: int, ready: int | None = None, status: int | None = None) -> ReplicaCounts:
    """Replica counts; status defaults to spec, ready to status."""
    status = spec if status is None else status
    return ReplicaCounts(spec=spec, status=status, ready=status if ready is None else ready)


def sqs(visible: int, in_flight: int = 0, delayed: int = 0) -> SqsQueueAttributes:
    """A GetQueueAttributes answer with all three counts."""
    return SqsQueueAttributes(
        attributes={
            "ApproximateNumberOfMessages": str(visible),
            "ApproximateNumberOfMessagesNotVisible": str(in_flight),
            "ApproximateNumberOfMessagesDelayed": str(delayed),
        }
    )


def cloudwatch(*points: tuple[datetime, float]) -> CloudWatchResult:
    """A GetMetricData result with these (timestamp, value) datapoints."""
    return CloudWatchResult(
        datapoints=tuple(CloudWatchDatapoint(timestamp=at, value=value) for at, value in points)
    )
