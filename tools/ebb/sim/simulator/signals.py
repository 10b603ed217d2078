"""The signal path: the load balancer's CloudWatch metrics, as ebb's and KEDA's queries see them.

As the local world's load balancer publishes them (`ebb.local.load_balancer`, which cites the
Elastic Load Balancing User Guide for each): one-minute periods, stamped with the period's
start and readable `publishing_delay` seconds after the period ends (60 s, the local world's
`DEFAULT_PUBLISHING_DELAY_SECONDS`); nothing is published for a minute without requests.
- `RequestCountPerTarget`: the requests the targets got in the minute (those that arrived while
  a pod was Ready) over the most pods Ready at once in it (0 when none was);
- `HTTPCode_ELB_503_Count`: the requests that arrived while no pod was Ready (published only
  when non-zero).
Requests are spread uniformly within a minute (the queueing model's assumption), so a minute
with no Ready pod for a share of it sends that share of its requests to the 503 count.

Alarms (ebb's, one per trigger, `ebb.service.alarm_specs`): ALARM while the newest readable
datapoint is above the trigger's activation value, OK otherwise (`notBreaching`: a missing
datapoint is OK), evaluated when a period becomes readable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from ebb.config import ScaledObject
from ebb.config.keda_triggers import AwsCloudWatchTrigger
from ebb.config.replica_policy import trigger_name
from ebb.core.replicas import CloudWatchDatapoint, CloudWatchResult, Observation, cloudwatch_query_window
from ebb.errors import EbbError

PERIOD_SECONDS = 60
PUBLISHING_DELAY_SECONDS = 60.0
PER_TARGET = "RequestCountPerTarget"
ELB_503 = "HTTPCode_ELB_503_Count"


class SimulationError(EbbError):
    """The simulator cannot run this configuration or these options (the message says why)."""


@dataclass(frozen=True, slots=True)
class TriggerMetric:
    """A scaler's CloudWatch trigger: its observation key, the series it reads and its window."""

    trigger_id: str
    series: str
    period: int
    end_offset: int
    collection: int
    activation: float


def trigger_metrics(scaled_object: ScaledObject) -> tuple[TriggerMetric, ...]:
    """The triggers the simulator can feed, or `SimulationError` naming the one it cannot."""
    found = []
    for index, trigger in enumerate(scaled_object.spec.triggers):
        name = trigger_name(index, trigger)
        if not isinstance(trigger, AwsCloudWatchTrigger):
            raise SimulationError(
                f"ScaledObject {scaled_object.namespace}/{scaled_object.name}: trigger {name} is "
                f"{trigger.type}; the simulator replays a trace either through a load balancer "
                f"(aws-cloudwatch triggers on {PER_TARGET} and {ELB_503} only) or as messages on a "
                "queue (aws-sqs-queue triggers only), not both"
            )
        metadata = trigger.metadata
        if metadata.namespace != "AWS/ApplicationELB" or metadata.metric_name not in (PER_TARGET, ELB_503):
            raise SimulationError(
                f"ScaledObject {scaled_object.namespace}/{scaled_object.name}: trigger {name} reads "
                f"{metadata.namespace} {metadata.metric_name}; the simulator publishes only "
                f"AWS/ApplicationELB {PER_TARGET} and {ELB_503}"
            )
        if metadata.metric_stat != "Sum" or metadata.metric_stat_period != PERIOD_SECONDS:
            raise SimulationError(
                f"ScaledObject {scaled_object.namespace}/{scaled_object.name}: trigger {name} reads "
                f"{metadata.metric_stat} per {metadata.metric_stat_period} s; the simulator publishes "
                f"Sum per {PERIOD_SECONDS} s (as the load balancer does)"
            )
        found.append(
            TriggerMetric(
                trigger_id=name,
                series=metadata.metric_name,
                period=metadata.metric_stat_period,
                end_offset=metadata.metric_end_time_offset,
                collection=metadata.metric_collection_time,
                activation=float(metadata.activation_target_metric_value),
            )
        )
    return tuple(found)


class AlbSignals:
    """Each minute's datapoints, computed when the minute closes, readable after the delay."""

    def __init__(
        self,
        arrivals: np.ndarray,
        origin: datetime,
        triggers: tuple[TriggerMetric, ...],
        *,
        publishing_delay: float = PUBLISHING_DELAY_SECONDS,
    ) -> None:
        self.arrivals = arrivals
        self.origin = origin
        self.triggers = triggers
        self.publishing_delay = publishing_delay
        count = arrivals.size
        self.values: dict[str, np.ndarray] = {PER_TARGET: np.zeros(count), ELB_503: np.zeros(count)}
        self.published: dict[str, np.ndarray] = {
            PER_TARGET: np.zeros(count, dtype=bool),
            ELB_503: np.zeros(count, dtype=bool),
        }
        self.closed = 0
        self._points: dict[tuple[str, int], CloudWatchDatapoint] = {}
        self._results: dict[tuple[str, int, int], CloudWatchResult] = {}
        self.alarms: dict[str, bool] = {t.trigger_id: False for t in triggers}

    def close_minute(self, minute: int, zero_share: float, targets: int) -> None:
        """Minute `minute` ended: what the load balancer measured in it."""
        arrivals = float(self.arrivals[minute])
        if arrivals > 0:
            rejected = round(arrivals * zero_share)
            served = arrivals - rejected
            self.values[PER_TARGET][minute] = served / targets if targets else 0.0
            self.published[PER_TARGET][minute] = True
            if rejected:
                self.values[ELB_503][minute] = rejected
                self.published[ELB_503][minute] = True
        self.closed = minute + 1

    def readable_minutes(self, t: float) -> int:
        """How many minutes (from the first) are readable at simulation time `t`."""
        return min(self.closed, max(int((t - self.publishing_delay) // PERIOD_SECONDS), 0))

    def _point(self, series: str, minute: int) -> CloudWatchDatapoint:
        key = (series, minute)
        point = self._points.get(key)
        if point is None:
            point = CloudWatchDatapoint(
                timestamp=self.origin + timedelta(seconds=minute * PERIOD_SECONDS),
                value=float(self.values[series][minute]),
            )
            self._points[key] = point
            if len(self._points) > 4096:  # only recent minutes are read again
                for old in [k for k in self._points if k[1] < minute - 60]:
                    del self._points[old]
        return point

    def observations(self, t: float) -> dict[str, Observation]:
        """Each trigger's GetMetricData answer at `t`: the readable datapoints in KEDA's window."""
        readable = self.readable_minutes(t)
        now = self.origin + timedelta(seconds=t)
        found: dict[str, Observation] = {}
        for trigger in self.triggers:
            window = cloudwatch_query_window(now, trigger.period, trigger.end_offset, trigger.collection)
            first = max(int((window.start - self.origin).total_seconds() // PERIOD_SECONDS), 0)
            last = min(int((window.end - self.origin).total_seconds() // PERIOD_SECONDS), readable)
            # Closed minutes never change: the same window gives the same (frozen) result.
            key = (trigger.series, first, last)
            result = self._results.get(key)
            if result is None:
                published = self.published[trigger.series]
                result = CloudWatchResult(
                    datapoints=tuple(
                        self._point(trigger.series, m) for m in range(first, last) if published[m]
                    )
                )
                if len(self._results) > 256:
                    self._results.clear()
                self._results[key] = result
            found[trigger.trigger_id] = result
        return found

    def evaluate_alarms(self, t: float) -> bool:
        """Re-evaluate every alarm on the newest readable period; whether any changed state."""
        readable = self.readable_minutes(t)
        changed = False
        for trigger in self.triggers:
            newest = readable - 1
            breaching = (
                newest >= 0
                and bool(self.published[trigger.series][newest])
                and float(self.values[trigger.series][newest]) > trigger.activation
            )
            if breaching != self.alarms[trigger.trigger_id]:
                self.alarms[trigger.trigger_id] = breaching
                changed = True
        return changed
