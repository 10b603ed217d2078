"""The CloudWatch alarms ebb owns: made to match the configuration, and no others kept.

An alarm here is an edge detector, not a scaler: its state changes reach the signals function
through EventBridge (no alarm actions), and the decision itself reads the metrics. All of ebb's
alarms share the stack's prefix (`<stack>.`), which nothing else's alarms can have.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from ebb.adapters.aws_clients import LazyClient
from ebb.adapters.aws_errors import translate_aws_error
from ebb.adapters.call_counts import CallCounts

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

MAX_DELETE = 100  # DeleteAlarms takes at most 100 names a call
STANDARD_STATISTICS = frozenset({"SampleCount", "Average", "Sum", "Minimum", "Maximum"})
"""PutMetricAlarm's `Statistic` enum (botocore's cloudwatch model, shape `Statistic`)."""


@dataclass(frozen=True, slots=True)
class AlarmSpec:
    """One alarm as ebb wants it."""

    name: str
    description: str
    namespace: str
    metric_name: str
    dimensions: tuple[tuple[str, str], ...]
    statistic: str
    period: int
    threshold: float
    treat_missing_data: Literal["breaching", "notBreaching", "ignore", "missing"]
    account_id: str | None = None


@dataclass(frozen=True, slots=True)
class AlarmChanges:
    """What a reconciliation did."""

    created_or_updated: tuple[str, ...]
    deleted: tuple[str, ...]


class Alarms(Protocol):
    """What ebb keeps its alarms through."""

    def reconcile(self, prefix: str, wanted: Sequence[AlarmSpec]) -> AlarmChanges:
        """Make the alarms named `prefix...` exactly `wanted`."""


class CloudWatchAlarms:
    """`Alarms` over CloudWatch."""

    def __init__(
        self,
        *,
        region_name: str | None = None,
        calls: CallCounts | None = None,
        client_factory: Callable[[], CloudWatchClient] | None = None,
    ) -> None:
        self._client: LazyClient[CloudWatchClient] = LazyClient("cloudwatch", region_name, client_factory)
        self.calls = calls or CallCounts()

    def reconcile(self, prefix: str, wanted: Sequence[AlarmSpec]) -> AlarmChanges:
        if not prefix.endswith("."):
            raise ValueError(f"alarm prefix {prefix!r} must end with '.' (no stack name contains one)")
        cloudwatch = self._client()
        existing: dict[str, dict[str, Any]] = {}
        try:
            for page in cloudwatch.get_paginator("describe_alarms").paginate(
                AlarmNamePrefix=prefix, AlarmTypes=["MetricAlarm"]
            ):
                self.calls.count("cloudwatch:DescribeAlarms")
                existing.update({alarm["AlarmName"]: dict(alarm) for alarm in page.get("MetricAlarms", [])})
        except (ClientError, BotoCoreError) as error:
            raise translate_aws_error(error, operation="DescribeAlarms") from error
        changed = []
        for spec in wanted:
            if not spec.name.startswith(prefix):
                raise ValueError(f"alarm {spec.name!r} does not start with {prefix!r}")
            current = existing.get(spec.name)
            if current is not None and _matches(current, spec):
                continue
            self.calls.count("cloudwatch:PutMetricAlarm")
            try:
                cloudwatch.put_metric_alarm(**_request(spec))
            except (ClientError, BotoCoreError) as error:
                raise translate_aws_error(error, operation="PutMetricAlarm") from error
            changed.append(spec.name)
        names = {spec.name for spec in wanted}
        unneeded = sorted(name for name in existing if name not in names)
        for start in range(0, len(unneeded), MAX_DELETE):
            self.calls.count("cloudwatch:DeleteAlarms")
            try:
                cloudwatch.delete_alarms(AlarmNames=unneeded[start : start + MAX_DELETE])
            except (ClientError, BotoCoreError) as error:
                raise translate_aws_error(error, operation="DeleteAlarms") from error
        return AlarmChanges(created_or_updated=tuple(changed), deleted=tuple(unneeded))


def _request(spec: AlarmSpec) -> dict[str, Any]:
    common: dict[str, Any] = {
        "AlarmName": spec.name,
        "AlarmDescription": spec.description,
        "ActionsEnabled": False,  # EventBridge carries the state changes; there are no actions
        "EvaluationPeriods": 1,
        "DatapointsToAlarm": 1,
        "Threshold": spec.threshold,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": spec.treat_missing_data,
    }
    dimensions = [{"Name": name, "Value": value} for name, value in spec.dimensions]
    if spec.account_id is None:
        # PutMetricAlarm's `Statistic` takes only the five standard statistics; a percentile
        # (p99, p99.9) goes in `ExtendedStatistic` (CloudWatch API Reference, PutMetricAlarm).
        # The Metrics form below takes either in `Stat`.
        statistic_field = "Statistic" if spec.statistic in STANDARD_STATISTICS else "ExtendedStatistic"
        return {
            **common,
            "Namespace": spec.namespace,
            "MetricName": spec.metric_name,
            "Dimensions": dimensions,
            statistic_field: spec.statistic,
            "Period": spec.period,
        }
    # A metric of another account (cross-account observability) needs the Metrics form.
    return {
        **common,
        "Metrics": [
            {
                "Id": "m0",
                "AccountId": spec.account_id,
                "ReturnData": True,
                "MetricStat": {
                    "Metric": {
                        "Namespace": spec.namespace,
                        "MetricName": spec.metric_name,
                        "Dimensions": dimensions,
                    },
                    "Period": spec.period,
                    "Stat": spec.statistic,
                },
            }
        ],
    }


def _matches(current: dict[str, Any], spec: AlarmSpec) -> bool:
    wanted = _request(spec)
    keys = [k for k in wanted if k != "Metrics"]
    if any(_normalized(current.get(k)) != _normalized(wanted[k]) for k in keys):
        return False
    return "Metrics" not in wanted or _normalized(current.get("Metrics")) == _normalized(wanted["Metrics"])


def _normalized(value: Any) -> Any:
    if isinstance(value, list):
        return sorted((_normalized(v) for v in value), key=repr)
    if isinstance(value, dict):
        return {k: _normalized(v) for k, v in sorted(value.items())}
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value
