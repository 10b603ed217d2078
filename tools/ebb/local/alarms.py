"""CloudWatch alarms, evaluated on the simulated clock against the metrics in moto's CloudWatch.

moto stores alarms but never evaluates them. Here every metric alarm is evaluated once a minute
(every period for 10/20/30-second alarms) at whole minutes, as CloudWatch does ("evaluates the
alarm every minute, even if the alarm period is longer", CloudWatch User Guide, alarm limits of
connected data sources): the k-th period of the evaluation range ends k periods before the
evaluation time. States follow `alarm_evaluation`; each change is written to moto's alarm and
published on the default bus as a "CloudWatch Alarm State Change" event, in the shape of the
CloudWatch User Guide, "Alarm events and EventBridge". SetAlarmState changes emit the event too.
New alarms start in INSUFFICIENT_DATA ("Unchecked: Initial alarm creation"), as in AWS.

Metric math alarms are not evaluated (listed in `skipped`). Alarm actions (AlarmActions, OKActions,
InsufficientDataActions) are stored by moto and never run: no SNS topic or Lambda receives
anything from an alarm here. ebb's trigger alarms have none (their state-change events reach
decide through the EventBridge rule); only the template's operational alarms may name the
optional AlarmTopicArn.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.cloudwatch.models import CloudWatchBackend, MetricAggregatedDatum, MetricDatum, cloudwatch_backends

from ebb.local.alarm_evaluation import (
    AlarmState,
    Point,
    aggregate,
    classify,
    evaluate_alarm,
    evaluation_range,
)
from ebb.local.clock import SimClock
from ebb.local.event_shapes import eventbridge_event, iso_millis_offset
from ebb.local.patches import PatchSet, PinnedAttribute
from ebb.local.randomness import SeededRandomness

INITIAL_REASON = "Unchecked: Initial alarm creation"
_OPERATOR_WORDS = {
    "GreaterThanOrEqualToThreshold": "greater than or equal to",
    "GreaterThanThreshold": "greater than",
    "LessThanThreshold": "less than",
    "LessThanOrEqualToThreshold": "less than or equal to",
}


@dataclass
class AlarmTransition:
    """One state change, as recorded for assertions (the event is what the bus received)."""

    alarm_name: str
    at: datetime
    previous: AlarmState
    state: AlarmState
    event: dict[str, Any]


@dataclass
class _Tracked:
    state: AlarmState
    reason: str
    reason_data: str | None
    changed_at: datetime
    metric_id: str


@dataclass
class AlarmEvaluator:
    """Evaluates every alarm in moto's CloudWatch each minute; see the module docstring."""

    clock: SimClock
    randomness: SeededRandomness
    account_id: str
    region: str
    put_event: Callable[[dict[str, Any]], None]
    transitions: list[AlarmTransition] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    _tracked: dict[str, _Tracked] = field(default_factory=dict)
    # moto's metric data by (namespace, name, dimensions), filled from the entries not yet seen:
    # with the world publishing every queue's metrics each minute, scanning them all for every
    # alarm every minute grows with the square of the simulated time.
    _index: dict[tuple[str, str, frozenset[tuple[str, str]]], list[Any]] = field(default_factory=dict)
    _indexed: int = 0

    def _backend(self) -> Any:
        return cloudwatch_backends[self.account_id][self.region]

    def start(self) -> None:
        """Schedule the first evaluation at the next whole 10 seconds."""
        now = self.clock.now()
        self.clock.call_at(now - now % 10 + 10, self._tick, name="alarm evaluation", daemon=True)

    def install(self, patches: PatchSet) -> None:
        """Make SetAlarmState publish its state change like an evaluated one."""
        pin = PinnedAttribute(
            CloudWatchBackend,
            "set_alarm_state",
            "(self, alarm_name: str, reason: str, reason_data: str, state_value: str) -> None",
        )
        evaluator = self

        def publish_change(original: Callable[..., None]) -> Callable[..., None]:
            def set_alarm_state(
                backend: Any, alarm_name: str, reason: str, reason_data: str, state_value: str
            ) -> None:
                original(backend, alarm_name, reason, reason_data, state_value)
                evaluator._record_external(backend.alarms[alarm_name], state_value, reason, reason_data)

            return set_alarm_state

        patches.wrap_method(pin, publish_change)

    def _tick(self) -> None:
        now = self.clock.now()
        whole_minute = int(now) % 60 == 0
        for name in sorted(self._backend().alarms):
            alarm = self._backend().alarms[name]
            if alarm.rule is not None:
                self.skipped.setdefault(name, "composite alarms are not evaluated locally")
                continue
            tracked = self._track(alarm)
            period = int(alarm.period or 60)
            if whole_minute or (period < 60 and int(now) % period == 0):
                self._evaluate(alarm, tracked, now)
        self.clock.call_at(now + 10, self._tick, name="alarm evaluation", daemon=True)

    def _track(self, alarm: Any) -> _Tracked:
        tracked = self._tracked.get(alarm.name)
        if tracked is None:
            # moto creates alarms in OK; CloudWatch creates them in INSUFFICIENT_DATA.
            tracked = _Tracked(
                state="INSUFFICIENT_DATA",
                reason=INITIAL_REASON,
                reason_data=None,
                changed_at=self.clock.now_datetime(),
                metric_id=self.randomness.uuid4(),
            )
            self._tracked[alarm.name] = tracked
            alarm.update_state(INITIAL_REASON, "{}", "INSUFFICIENT_DATA")
        return tracked

    def _evaluate(self, alarm: Any, tracked: _Tracked, now: float) -> None:
        metric = _metric_of(alarm)
        if metric is None:
            self.skipped.setdefault(alarm.name, "metric math alarms are not evaluated locally")
            return
        namespace, metric_name, dimensions, statistic, period = metric
        periods = evaluation_range(int(alarm.evaluation_periods))
        end = datetime.fromtimestamp(now - now % 60 if period >= 60 else now, UTC)
        windows = [
            (end - timedelta(seconds=period * (k + 1)), end - timedelta(seconds=period * k))
            for k in range(periods)
        ]
        windows.reverse()
        values = self._period_values(namespace, metric_name, dimensions, statistic, windows)
        points = [classify(value, alarm.comparison_operator, float(alarm.threshold)) for value in values]
        datapoints_to_alarm = int(alarm.datapoints_to_alarm or alarm.evaluation_periods)
        state = evaluate_alarm(
            points,
            evaluation_periods=int(alarm.evaluation_periods),
            datapoints_to_alarm=datapoints_to_alarm,
            treat_missing_data=alarm.treat_missing_data or "missing",
            current_state=tracked.state,
        )
        if state == tracked.state:
            return
        query_date = self.clock.now_datetime()
        recent = [
            (window[0], value) for window, value in zip(windows, values, strict=True) if value is not None
        ]
        recent = recent[-int(alarm.evaluation_periods) :]
        reason = _reason(
            alarm,
            state=state,
            previous=tracked.state,
            recent=recent,
            points=points,
            datapoints_to_alarm=datapoints_to_alarm,
        )
        reason_data = json.dumps(
            {
                "version": "1.0",
                "queryDate": iso_millis_offset(query_date),
                "startDate": iso_millis_offset(windows[-int(alarm.evaluation_periods)][0]),
                "statistic": statistic,
                "period": period,
                "recentDatapoints": [value for _, value in recent],
                "threshold": float(alarm.threshold),
                "evaluatedDatapoints": [
                    {"timestamp": iso_millis_offset(start), "value": value}
                    for start, value in reversed(recent)
                ],
            },
            separators=(",", ":"),
        )
        alarm.update_state(reason, reason_data, state)
        self._change(alarm, tracked, state, reason, reason_data)

    def _period_values(
        self,
        namespace: str,
        metric_name: str,
        dimensions: dict[str, str],
        statistic: str,
        windows: list[tuple[datetime, datetime]],
    ) -> list[float | None]:
        buckets: list[tuple[list[float], list[tuple[float, float, float, float]]]] = [
            ([], []) for _ in windows
        ]
        for datum in self._datums(namespace, metric_name, dimensions):
            stamp = _as_utc(datum.timestamp)
            for index, (start, stop) in enumerate(windows):
                if start <= stamp < stop:
                    if isinstance(datum, MetricDatum):
                        buckets[index][0].append(float(datum.value))
                    elif isinstance(datum, MetricAggregatedDatum):
                        buckets[index][1].append((datum.sum, datum.sample_count, datum.min, datum.max))
                    break
        return [aggregate(raw, sets, statistic) for raw, sets in buckets]

    def _datums(self, namespace: str, metric_name: str, dimensions: dict[str, str]) -> list[Any]:
        data = self._backend().metric_data
        if len(data) < self._indexed:  # moto's data was reset: start over
            self._index.clear()
            self._indexed = 0
        for datum in data[self._indexed :]:
            key = (datum.namespace, datum.name, frozenset((d.name, d.value) for d in datum.dimensions))
            self._index.setdefault(key, []).append(datum)
        self._indexed = len(data)
        return self._index.get((namespace, metric_name, frozenset(dimensions.items())), [])

    def _record_external(self, alarm: Any, state: str, reason: str, reason_data: str | None) -> None:
        tracked = self._track(alarm)
        if state != tracked.state:
            self._change(alarm, tracked, state, reason, reason_data)  # type: ignore[arg-type]

    def _change(
        self, alarm: Any, tracked: _Tracked, state: AlarmState, reason: str, reason_data: str | None
    ) -> None:
        now = self.clock.now_datetime()
        previous = {
            "reason": tracked.reason,
            "timestamp": iso_millis_offset(tracked.changed_at),
            "value": tracked.state,
        }
        if tracked.reason_data:
            previous["reasonData"] = tracked.reason_data
        current = {"reason": reason, "timestamp": iso_millis_offset(now), "value": state}
        if reason_data:
            current["reasonData"] = reason_data
        detail = {
            "alarmName": alarm.name,
            "configuration": _configuration(alarm, tracked.metric_id),
            "previousState": previous,
            "state": current,
        }
        event = eventbridge_event(
            event_id=self.randomness.uuid4(),
            detail_type="CloudWatch Alarm State Change",
            source="aws.cloudwatch",
            account=self.account_id,
            region=self.region,
            time=now,
            resources=[alarm.alarm_arn],
            detail=detail,
        )
        self.transitions.append(AlarmTransition(alarm.name, now, tracked.state, state, event))
        tracked.state, tracked.reason, tracked.reason_data, tracked.changed_at = (
            state,
            reason,
            reason_data,
            now,
        )
        self.put_event(event)


def _as_utc(value: Any) -> datetime:
    moment: datetime = (
        datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    )
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _metric_of(alarm: Any) -> tuple[str, str, dict[str, str], str, int] | None:
    """(namespace, metric name, dimensions, statistic, period) of a single-metric alarm."""
    queries = alarm.metric_data_queries or []
    if queries:
        returned = [query for query in queries if getattr(query, "return_data", True) not in (False, "false")]
        if (
            len(returned) != 1
            or getattr(returned[0], "expression", None)
            or not getattr(returned[0], "metric_stat", None)
        ):
            return None
        stat = returned[0].metric_stat
        metric = stat["Metric"]
        dimensions = {item["Name"]: item["Value"] for item in metric.get("Dimensions", [])}
        return metric["Namespace"], metric["MetricName"], dimensions, stat["Stat"], int(stat["Period"])
    statistic = alarm.statistic or alarm.extended_statistic
    return (
        alarm.namespace,
        alarm.metric_name,
        {dimension.name: dimension.value for dimension in alarm.dimensions},
        statistic,
        int(alarm.period),
    )


def _configuration(alarm: Any, metric_id: str) -> dict[str, Any]:
    metric = _metric_of(alarm)
    configuration: dict[str, Any] = {}
    if alarm.description:
        configuration["description"] = alarm.description
    if metric is not None:
        namespace, metric_name, dimensions, statistic, period = metric
        configuration["metrics"] = [
            {
                "id": metric_id,
                "metricStat": {
                    "metric": {"dimensions": dimensions, "name": metric_name, "namespace": namespace},
                    "period": period,
                    "stat": statistic,
                },
                "returnData": True,
            }
        ]
    return configuration


def _reason(
    alarm: Any,
    *,
    state: AlarmState,
    previous: AlarmState,
    recent: list[tuple[datetime, float]],
    points: list[Point],
    datapoints_to_alarm: int,
) -> str:
    n = int(alarm.evaluation_periods)
    if state == "INSUFFICIENT_DATA":
        missing = points[-n:].count(Point.MISSING)
        return f"Insufficient Data: {missing} datapoint{'s' if missing != 1 else ''} were unknown."
    if not recent:
        treated = {"breaching": "Breaching", "notBreaching": "NonBreaching"}.get(
            alarm.treat_missing_data or "", "Missing"
        )
        return (
            f"Threshold Crossed: no datapoints were received for {n} period{'s' if n != 1 else ''} "
            f"and {n} missing "
            f"datapoint{'s were' if n != 1 else ' was'} treated as [{treated}]."
        )
    listed = ", ".join(
        f"{value} ({start.strftime('%d/%m/%y %H:%M:%S')})" for start, value in reversed(recent)
    )
    words = _OPERATOR_WORDS.get(alarm.comparison_operator, alarm.comparison_operator)
    verb = ("was" if len(recent) == 1 else "were") + ("" if state == "ALARM" else " not")
    minimum = datapoints_to_alarm if state == "ALARM" else 1
    return (
        f"Threshold Crossed: {len(recent)} out of the last {len(recent)} datapoints [{listed}] "
        f"{verb} {words} "
        f"the threshold ({float(alarm.threshold)}) (minimum {minimum} datapoint{'s' if minimum != 1 else ''} "
        f"for {previous} -> {state} transition)."
    )
