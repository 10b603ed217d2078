"""Metrics AWS services publish by themselves, put into moto's CloudWatch as AWS would.

AWS services (Elastic Load Balancing, SQS) measure over one-minute periods and send each
period's datapoints to CloudWatch once the period is over ("Elastic Load Balancing measures and
sends its metrics in 60-second intervals", Elastic Load Balancing User Guide, "CloudWatch
metrics for your Application Load Balancer"; SQS metrics are "collected and pushed to
CloudWatch at one-minute intervals", SQS Developer Guide, "Monitoring Amazon SQS queues using
CloudWatch"). A datapoint carries the period's start as its timestamp and becomes readable only
after a publishing delay. AWS documents no figure for that delay; the local world assumes a
1-minute metric is readable two minutes after its timestamp, one minute after its period ends
(Datadog, "Cloud Metric Delay": "If you receive 1-minute metrics with CloudWatch, then their
availability delay is about 2 minutes"). `LocalWorldConfig.metric_publishing_delay_seconds`
changes it.

Sources (`MetricSource`) are sampled at every whole minute, in the order they were added, for
the period that just ended; what they return is put, in one PutMetricData per namespace, when
the delay has passed. Everything published is kept in `published`, for assertions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from ebb.local.clock import SimClock

PERIOD_SECONDS = 60
"""The period of every metric the world publishes (ELB and SQS publish one-minute metrics)."""
DEFAULT_PUBLISHING_DELAY_SECONDS = 60.0
"""From the end of a period until its datapoints are readable (see the module docstring)."""


@dataclass(frozen=True)
class Datapoint:
    """One value of one metric for one period, as a source measures it."""

    namespace: str
    metric_name: str
    dimensions: tuple[tuple[str, str], ...]
    value: float
    unit: str

    @classmethod
    def of(
        cls, namespace: str, metric_name: str, dimensions: Mapping[str, str], value: float, unit: str
    ) -> Datapoint:
        """A datapoint with these dimensions, in the order given (as the service lists them)."""
        return cls(namespace, metric_name, tuple(dimensions.items()), float(value), unit)


@dataclass(frozen=True)
class PublishedDatapoint:
    """A datapoint as put into CloudWatch: stamped with its period's start, readable from `visible_at`."""

    datapoint: Datapoint
    timestamp: datetime
    visible_at: datetime


class MetricSource(Protocol):
    """Something that measures a period and reports its datapoints when the period ends."""

    def datapoints(self, period_start: datetime, period_end: datetime) -> Sequence[Datapoint]:
        """The datapoints of the period [period_start, period_end), called at period_end."""


@dataclass
class MetricPublisher:
    """Samples its sources each minute and puts their datapoints after the publishing delay."""

    clock: SimClock
    put_metric_data: Callable[[str, list[dict[str, Any]]], None]
    delay_seconds: float = DEFAULT_PUBLISHING_DELAY_SECONDS
    published: list[PublishedDatapoint] = field(default_factory=list)
    _sources: list[MetricSource] = field(default_factory=list)
    _started: bool = False

    def add_source(self, source: MetricSource) -> None:
        """Sample `source` from the next whole minute on."""
        self._sources.append(source)

    def start(self) -> None:
        """Schedule the first sampling at the next whole minute."""
        if self._started:
            return
        self._started = True
        now = self.clock.now()
        self.clock.call_at(
            now - now % PERIOD_SECONDS + PERIOD_SECONDS, self._tick, name="metric periods", daemon=True
        )

    def _tick(self) -> None:
        end = self.clock.now()
        period_end = datetime.fromtimestamp(end, UTC)
        period_start = period_end - timedelta(seconds=PERIOD_SECONDS)
        batch = [
            point for source in list(self._sources) for point in source.datapoints(period_start, period_end)
        ]
        if batch:
            self.clock.call_at(
                end + self.delay_seconds,
                lambda: self._put(batch, period_start),
                name="metric publishing",
                daemon=True,
            )
        self.clock.call_at(end + PERIOD_SECONDS, self._tick, name="metric periods", daemon=True)

    def _put(self, batch: list[Datapoint], timestamp: datetime) -> None:
        visible_at = self.clock.now_datetime()
        # moto's PutMetricData parser hands its backend naive UTC timestamps; GetMetricData compares
        # them with naive ones, so the datapoints go in as the parser would have made them.
        naive = timestamp.astimezone(UTC).replace(tzinfo=None)
        by_namespace: dict[str, list[dict[str, Any]]] = {}
        for point in batch:
            by_namespace.setdefault(point.namespace, []).append(
                {
                    "MetricName": point.metric_name,
                    "Dimensions": [{"Name": name, "Value": value} for name, value in point.dimensions],
                    "Timestamp": naive,
                    "Value": point.value,
                    "Unit": point.unit,
                }
            )
            self.published.append(PublishedDatapoint(point, timestamp, visible_at))
        for namespace, data in by_namespace.items():
            self.put_metric_data(namespace, data)
