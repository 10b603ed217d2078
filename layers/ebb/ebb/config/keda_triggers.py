"""KEDA triggers ebb evaluates: `aws-sqs-queue` and `aws-cloudwatch`, with KEDA's defaults and rules.

Sources (kedacore/keda): pkg/scalers/aws_sqs_queue_scaler.go and aws_cloudwatch_scaler.go (field
names, defaults, `Validate`), apis/keda/v1alpha1/scaletriggers_types.go (trigger fields),
pkg/scalers/scaler.go `GetMetricTargetType` (metric types).
"""

import re
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, ClassVar, Literal, NotRequired, TypedDict
from urllib.parse import urlsplit

from pydantic import BeforeValidator, ConfigDict, Field, StrictBool, StrictStr, model_validator

from ebb.config.keda_values import KedaBool, KedaFloat, KedaInt64, KedaString, trim_metadata
from ebb.config.model_base import Finding, ManifestModel, error_at, independent_rules, note_at
from ebb.config.model_errors import closest_field, custom_error, describe_yaml_value
from ebb.core.replicas.policy import MAX_DURATION_SECONDS, MAX_QUEUE_LENGTH
from ebb.core.replicas.quantities import MAX_TARGET_MILLI, exact_milli_from_float

MetricTargetType = Literal["AverageValue", "Value"]

# CloudWatch StandardUnit values (botocore's cloudwatch service model), which KEDA checks
# `metricUnit` against.
CLOUDWATCH_STANDARD_UNITS = (
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
    "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
    "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second",
    "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second",
    "Count/Second", "None",
)  # fmt: skip

ALB_NAMESPACE = "AWS/ApplicationELB"
# Counted by the load balancer itself, so they exist while a target group has no target.
ALB_WAKE_METRICS = frozenset({"HTTPCode_ELB_503_Count", "HTTPCode_ELB_5XX_Count"})
# Counted only for requests that reached a target: silent at zero replicas.
ALB_TARGET_METRICS = frozenset({"RequestCountPerTarget", "RequestCount", "TargetResponseTime"})

_AUTH_REASON = "ebb reads metrics with its own IAM role; KEDA's credential settings are not used"
_AWS_AUTH_METADATA = {
    "identityOwner": _AUTH_REASON,
    "awsRoleArn": _AUTH_REASON,
    "awsAccessKeyID": _AUTH_REASON,
    "awsAccessKeyIDFromEnv": _AUTH_REASON,
    "awsSecretAccessKey": _AUTH_REASON,
    "awsSecretAccessKeyFromEnv": _AUTH_REASON,
    "awsSessionToken": _AUTH_REASON,
    "awsEndpoint": "ebb calls the regional AWS endpoint; a custom endpoint is not used",
}
_URL_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def _metric_target_type(value: object) -> str:
    if value == "Utilization":
        # KEDA's own message (pkg/scalers/scaler.go, GetMetricTargetType).
        raise custom_error(
            "metric_type",
            "'Utilization' metric type is unsupported for external metrics, allowed values are 'Value' or "
            "'AverageValue'",
        )
    if value not in ("AverageValue", "Value"):
        raise custom_error(
            "metric_type", f"{describe_yaml_value(value)} is not allowed; allowed: 'AverageValue' or 'Value'"
        )
    return str(value)


class TriggerMetadata(ManifestModel):
    """String-typed trigger metadata: values trimmed, empty ones absent, unknown keys noted."""

    model_config = ConfigDict(frozen=True, extra="allow", validate_default=False)

    __pydantic_extra__: dict[str, StrictStr] = Field(init=False)

    @model_validator(mode="before")
    @classmethod
    def _trim(cls, data: Any) -> Any:
        return trim_metadata(data) if isinstance(data, dict) else data

    def findings(self) -> Iterator[Finding]:
        given = self.model_fields_set
        for key in sorted(self.model_extra or {}):
            meant = closest_field(key, type(self))
            if meant is None:
                yield note_at((key,), "not a parameter of this trigger; KEDA and ebb ignore it")
                continue
            field = next(n for n, info in type(self).model_fields.items() if (info.alias or n) == meant)
            # A misspelt parameter leaves the real one at its default, silently: say which.
            left = f"; {meant} keeps its default" if field not in given else ""
            hint = f"did you mean {meant!r}?"
            yield note_at((key,), f"not a parameter of this trigger ({hint}); KEDA and ebb ignore it{left}")


class AwsTriggerMetadata(TriggerMetadata):
    """Metadata every KEDA AWS scaler takes: the region and the credentials (pkg/scalers/aws/aws_common.go).

    ebb reads metrics with its own IAM role, so the credential fields are accepted with a note.
    """

    unused_fields: ClassVar[Mapping[str, str]] = _AWS_AUTH_METADATA

    aws_region: KedaString = Field(alias="awsRegion")
    identity_owner: KedaString | None = Field(None, alias="identityOwner")
    aws_role_arn: KedaString | None = Field(None, alias="awsRoleArn")
    aws_access_key_id: KedaString | None = Field(None, alias="awsAccessKeyID")
    aws_access_key_id_from_env: KedaString | None = Field(None, alias="awsAccessKeyIDFromEnv")
    aws_secret_access_key: KedaString | None = Field(None, alias="awsSecretAccessKey")
    aws_secret_access_key_from_env: KedaString | None = Field(None, alias="awsSecretAccessKeyFromEnv")
    aws_session_token: KedaString | None = Field(None, alias="awsSessionToken")
    aws_endpoint: KedaString | None = Field(None, alias="awsEndpoint")


class AwsSqsQueueMetadata(AwsTriggerMetadata):
    """`aws-sqs-queue` metadata (pkg/scalers/aws_sqs_queue_scaler.go)."""

    queue_url: KedaString = Field(alias="queueURL")
    queue_length: KedaInt64 = Field(5, alias="queueLength")
    activation_queue_length: KedaInt64 = Field(0, alias="activationQueueLength")
    scale_on_in_flight: KedaBool = Field(True, alias="scaleOnInFlight")
    scale_on_delayed: KedaBool = Field(False, alias="scaleOnDelayed")
    queue_url_from_env: KedaString | None = Field(None, alias="queueURLFromEnv")

    @property
    def queue_url_is_name(self) -> bool:
        """KEDA accepts a value that is not a URL and uses it as the queue's name."""
        return _request_uri_path(self.queue_url) is None

    @property
    def queue_name(self) -> str:
        """The queue's name: the URL's last path segment, or the whole value when it is not a URL."""
        path = _request_uri_path(self.queue_url)
        if path is None:
            return self.queue_url
        parts = path.split("/")
        return parts[2] if len(parts) == 3 else ""

    @property
    def attribute_names(self) -> tuple[str, ...]:
        """The GetQueueAttributes attributes whose sum is the metric."""
        names = ["ApproximateNumberOfMessages"]
        if self.scale_on_in_flight:
            names.append("ApproximateNumberOfMessagesNotVisible")
        if self.scale_on_delayed:
            names.append("ApproximateNumberOfMessagesDelayed")
        return tuple(names)

    @model_validator(mode="before")
    @classmethod
    def _queue_url_from_metadata(cls, data: Any) -> Any:
        url = data.get("queueURL") if isinstance(data, dict) else None
        no_url = url is None or (isinstance(url, str) and not url.strip())
        if isinstance(data, dict) and no_url and "queueURLFromEnv" in data:
            raise custom_error(
                "queue_url_from_env",
                "queueURLFromEnv is not supported: ebb does not see the target's container environment; "
                "put the queue URL in queueURL",
            )
        return data

    def findings(self) -> Iterator[Finding]:
        yield from super().findings()
        yield from independent_rules(self._queue_url_rules, self._queue_length_rules)

    def _queue_url_rules(self) -> Iterator[Finding]:
        if self.queue_url_from_env is not None:
            yield note_at(("queueURLFromEnv",), "ignored: queueURL is set, and KEDA reads queueURL first")
        if self.queue_url and not self.queue_url_is_name and not self.queue_name:
            # KEDA's rule and message (parseAwsSqsQueueMetadata): the path must be /<account>/<queue>.
            yield error_at(
                ("queueURL",),
                f"cannot get queueName from queueURL {self.queue_url!r}; allowed: "
                "https://sqs.<region>.amazonaws.com/<account>/<queue>, or a bare queue name",
            )
        if self.queue_url_is_name:
            region = self.__dict__.get("aws_region", "the trigger's awsRegion")
            yield note_at(
                ("queueURL",),
                f"{self.queue_url!r} is not a URL; as in KEDA it is taken as the queue name in {region}",
            )

    def _queue_length_rules(self) -> Iterator[Finding]:
        if self.queue_length <= 0:
            yield error_at(
                ("queueLength",),
                f"must be > 0, got {self.queue_length}: it is the HPA's AverageValue target, which must be "
                "positive",
            )
        elif self.queue_length > MAX_QUEUE_LENGTH:
            yield error_at(
                ("queueLength",),
                f"must be at most {MAX_QUEUE_LENGTH}, got {self.queue_length}: the HPA reads its target in "
                "thousandths as an int64, which a larger queueLength overflows",
            )


def _request_uri_path(text: str) -> str | None:
    """The path Go's `url.ParseRequestURI` finds in `text`, or None when it does not parse."""
    if text.startswith("/"):
        return text.split("?", 1)[0]
    if _URL_SCHEME_RE.match(text):
        return urlsplit(text).path
    return None


class CloudWatchDimension(TypedDict):
    """A `Dimension` of CloudWatch's `Metric` (botocore cloudwatch service model)."""

    Name: str
    Value: str


class CloudWatchMetric(TypedDict):
    """A `Metric` of CloudWatch's `MetricStat`."""

    Namespace: str
    MetricName: str
    Dimensions: list[CloudWatchDimension]


class CloudWatchMetricStat(TypedDict):
    """A `MetricStat` of CloudWatch's `MetricDataQuery`."""

    Metric: CloudWatchMetric
    Period: int
    Stat: str
    Unit: NotRequired[str]


class MetricDataQuery(TypedDict):
    """One `MetricDataQuery` of a GetMetricData request, as KEDA builds it."""

    Id: str
    Expression: NotRequired[str]
    MetricStat: NotRequired[CloudWatchMetricStat]
    Period: NotRequired[int]
    ReturnData: NotRequired[bool]
    AccountId: NotRequired[str]


class AwsCloudWatchMetadata(AwsTriggerMetadata):
    """`aws-cloudwatch` metadata (pkg/scalers/aws_cloudwatch_scaler.go)."""

    namespace: KedaString | None = Field(None, alias="namespace")
    metric_name: KedaString | None = Field(None, alias="metricName")
    dimension_name: KedaString | None = Field(None, alias="dimensionName")
    dimension_value: KedaString | None = Field(None, alias="dimensionValue")
    expression: KedaString | None = Field(None, alias="expression")
    target_metric_value: KedaFloat = Field(alias="targetMetricValue")
    activation_target_metric_value: KedaFloat = Field(0.0, alias="activationTargetMetricValue")
    min_metric_value: KedaFloat = Field(alias="minMetricValue")
    ignore_null_values: KedaBool = Field(True, alias="ignoreNullValues")
    metric_collection_time: KedaInt64 = Field(300, alias="metricCollectionTime")
    metric_stat: KedaString = Field("Average", alias="metricStat")
    metric_unit: KedaString | None = Field(None, alias="metricUnit")
    metric_stat_period: KedaInt64 = Field(300, alias="metricStatPeriod")
    metric_end_time_offset: KedaInt64 = Field(0, alias="metricEndTimeOffset")
    aws_account_id: KedaString | None = Field(None, alias="awsAccountId")
    """The account that owns the metric, for CloudWatch cross-account observability (KEDA 2.19,
    kedacore/keda#7237): KEDA sets it as the query's `AccountId`, so a monitoring account reads a
    linked source account's metric with its own credentials."""

    def metric_data_query(self, query_id: str) -> MetricDataQuery:
        """The GetMetricData query KEDA makes for this trigger (GetCloudwatchMetrics), under `query_id`.

        An expression is sent with its period; otherwise the metric, its dimensions, statistic,
        period and unit (when one is set), with ReturnData. `awsAccountId` becomes `AccountId`.
        The window to ask for is the core trigger's `query_window(now)`.
        """
        query: MetricDataQuery
        if self.expression is not None:
            query = {"Id": query_id, "Expression": self.expression, "Period": self.metric_stat_period}
        else:
            stat: CloudWatchMetricStat = {
                "Metric": {
                    "Namespace": self.namespace or "",
                    "MetricName": self.metric_name or "",
                    "Dimensions": [{"Name": name, "Value": value} for name, value in self.dimensions],
                },
                "Period": self.metric_stat_period,
                "Stat": self.metric_stat,
            }
            if self.metric_unit is not None:
                stat["Unit"] = self.metric_unit
            query = {"Id": query_id, "MetricStat": stat, "ReturnData": True}
        if self.aws_account_id is not None:
            query["AccountId"] = self.aws_account_id
        return query

    @property
    def dimensions(self) -> tuple[tuple[str, str], ...]:
        """(name, value) pairs from the `;`-separated lists, trimmed as KEDA trims them."""
        names = _split_list(self.dimension_name)
        values = _split_list(self.dimension_value)
        return tuple(zip(names, values, strict=False))

    def dimension(self, name: str) -> str | None:
        """The value of one dimension, or None."""
        return dict(self.dimensions).get(name)

    @property
    def load_balancer(self) -> str | None:
        """The ALB (`app/<name>/<id>`) a metric-stat query on AWS/ApplicationELB reads, if any."""
        if self.expression is None and self.namespace == ALB_NAMESPACE:
            return self.dimension("LoadBalancer")
        return None

    @property
    def is_alb_wake_signal(self) -> bool:
        """Whether this reads the load balancer's own 5xx/503 count, which exists at zero targets."""
        return self.load_balancer is not None and self.metric_name in ALB_WAKE_METRICS

    @property
    def is_alb_target_metric(self) -> bool:
        """Whether this reads an ALB metric that only counts requests that reached a target."""
        return (
            self.expression is None
            and self.namespace == ALB_NAMESPACE
            and self.metric_name in ALB_TARGET_METRICS
        )

    def findings(self) -> Iterator[Finding]:
        # KEDA's awsCloudwatchMetadata.Validate, in its order; each problem reported once, and each
        # rule judged on its own (a field that failed to parse hides only the rules that read it).
        yield from super().findings()
        yield from independent_rules(
            self._metric_stat_findings,
            self._window_findings,
            self._collection_time_bound,
            self._target_findings,
            self._end_offset_findings,
        )

    def _window_findings(self) -> Iterator[Finding]:
        period_problem = _metric_stat_period_problem(self.metric_stat_period)
        if period_problem is not None:
            yield error_at(("metricStatPeriod",), period_problem)
        elif self.metric_collection_time < 0 or self.metric_collection_time % self.metric_stat_period != 0:
            yield error_at(
                ("metricCollectionTime",),
                f"must be greater than 0 and a multiple of metricStatPeriod ({self.metric_stat_period}), "
                f"{self.metric_collection_time} is given",
            )

    def _collection_time_bound(self) -> Iterator[Finding]:
        if self.metric_collection_time > MAX_DURATION_SECONDS:
            yield error_at(("metricCollectionTime",), _duration_overflow(self.metric_collection_time))

    def _end_offset_findings(self) -> Iterator[Finding]:
        if self.metric_end_time_offset < 0:
            yield error_at(("metricEndTimeOffset",), f"must be >= 0, got {self.metric_end_time_offset}")
        elif self.metric_end_time_offset > MAX_DURATION_SECONDS:
            yield error_at(("metricEndTimeOffset",), _duration_overflow(self.metric_end_time_offset))

    def _target_findings(self) -> Iterator[Finding]:
        if self.target_metric_value <= 0:
            yield error_at(
                ("targetMetricValue",),
                f"must be > 0, got {self.target_metric_value:g}: it is the HPA's target, which must be "
                "positive",
            )
        elif exact_milli_from_float(self.target_metric_value) <= 0:
            # KEDA hands the HPA a milli-quantity: a target below 0.001 becomes 0, which the HPA refuses.
            yield error_at(
                ("targetMetricValue",),
                f"must be at least 0.001, got {self.target_metric_value:g}: the HPA compares metrics in "
                "thousandths, so a smaller target rounds to 0",
            )
        elif exact_milli_from_float(self.target_metric_value) > MAX_TARGET_MILLI:
            yield error_at(
                ("targetMetricValue",),
                f"must be at most 9223372036854775.807, got {self.target_metric_value:g}: the HPA reads its "
                "target in thousandths as an int64, which a larger target overflows",
            )

    def _metric_stat_findings(self) -> Iterator[Finding]:
        if self.expression is not None:
            return
        missing = "is required unless expression is given"
        if self.namespace is None:
            yield error_at(("namespace",), missing)
        if self.metric_name is None:
            yield error_at(("metricName",), missing)
        if self.dimension_name is None:
            yield error_at(("dimensionName",), missing)
        if self.dimension_value is None:
            yield error_at(("dimensionValue",), missing)
        names, values = _split_list(self.dimension_name), _split_list(self.dimension_value)
        if self.dimension_name is not None and self.dimension_value is not None and len(names) != len(values):
            yield error_at(
                ("dimensionValue",),
                f"dimensionName and dimensionValue are not matching in size: {len(names)} names, "
                f"{len(values)} values (separate several with ';')",
            )
        if self.metric_unit is not None and self.metric_unit not in CLOUDWATCH_STANDARD_UNITS:
            yield error_at(
                ("metricUnit",),
                f"{self.metric_unit!r} is not a CloudWatch unit; allowed: "
                f"{', '.join(CLOUDWATCH_STANDARD_UNITS)}",
            )


def _split_list(text: str | None) -> tuple[str, ...]:
    return () if text is None else tuple(part.strip() for part in text.split(";"))


def _duration_overflow(seconds: int) -> str:
    # computeQueryWindow multiplies by time.Second: Go's int64 nanoseconds wrap past 292 years.
    return (
        f"must be at most {MAX_DURATION_SECONDS} seconds, got {seconds}: KEDA computes the query window in "
        "Go time.Duration (int64 nanoseconds), which a longer time overflows"
    )


def _metric_stat_period_problem(period: int) -> str | None:
    """KEDA's checkMetricStatPeriod, and the Go time.Duration bound of the window it truncates to."""
    if period < 1:
        return f"must be at least 1, got {period}"
    if period > MAX_DURATION_SECONDS:
        return _duration_overflow(period)
    if period <= 60 and period not in (1, 5, 10, 30, 60):
        return f"{period} is not allowed; allowed: 1, 5, 10, 30, 60 or a multiple of 60"
    if period > 60 and period % 60 != 0:
        return f"{period} is not allowed; allowed: 1, 5, 10, 30, 60 or a multiple of 60"
    return None


class AuthenticationRef(ManifestModel):
    """A trigger's TriggerAuthentication reference (accepted, not used)."""

    name: StrictStr
    kind: StrictStr | None = None


class TriggerBase(ManifestModel):
    """Fields every KEDA trigger has (apis/keda/v1alpha1/scaletriggers_types.go)."""

    unused_fields: ClassVar[Mapping[str, str]] = {
        "authenticationRef": _AUTH_REASON,
        "useCachedMetrics": "ebb reads each metric once per decision; there is no metrics cache to use",
    }

    name: StrictStr | None = None
    metric_type: Annotated[MetricTargetType, BeforeValidator(_metric_target_type)] = Field(
        "AverageValue", alias="metricType"
    )
    authentication_ref: AuthenticationRef | None = Field(None, alias="authenticationRef")
    use_cached_metrics: StrictBool = Field(False, alias="useCachedMetrics")


class AwsSqsQueueTrigger(TriggerBase):
    """An `aws-sqs-queue` trigger."""

    type: Literal["aws-sqs-queue"]
    metadata: AwsSqsQueueMetadata


class AwsCloudWatchTrigger(TriggerBase):
    """An `aws-cloudwatch` trigger."""

    type: Literal["aws-cloudwatch"]
    metadata: AwsCloudWatchMetadata


ScaleTrigger = Annotated[AwsSqsQueueTrigger | AwsCloudWatchTrigger, Field(discriminator="type")]
