"""The resources the local world runs, as typed models.

Two kinds of model: `*Properties` read a CloudFormation resource's properties as the template
spells them (so a wrong property is reported with its resource and field), and `*Spec` are what
the world runs, resolved (names, ARNs, URLs, defaults applied). `Stack` holds them all.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_STATISTIC = r"^(SampleCount|Average|Sum|Minimum|Maximum|p\d{1,2}(\.\d+)?)$"


class CfnProperties(BaseModel):
    """Properties as CloudFormation spells them; unmodelled ones are ignored."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


# -- Lambda -------------------------------------------------------------------------------------


class DestinationTarget(CfnProperties):
    destination: str = Field(alias="Destination")


class DestinationConfig(CfnProperties):
    on_success: DestinationTarget | None = Field(default=None, alias="OnSuccess")
    on_failure: DestinationTarget | None = Field(default=None, alias="OnFailure")


class AsyncInvokeConfig(CfnProperties):
    """AWS::Lambda::EventInvokeConfig: retries and destinations of asynchronous invocations.

    Defaults: Lambda Developer Guide, "Configuring error handling for asynchronous invocation"
    (2 retries, events kept up to 6 hours).
    """

    maximum_retry_attempts: Annotated[int, Field(ge=0, le=2)] = Field(default=2, alias="MaximumRetryAttempts")
    maximum_event_age_seconds: Annotated[int, Field(ge=60, le=21600)] = Field(
        default=21600, alias="MaximumEventAgeInSeconds"
    )
    destinations: DestinationConfig = Field(default_factory=DestinationConfig, alias="DestinationConfig")


class FunctionSpec(BaseModel):
    """A Lambda function the local runtime runs in-process."""

    model_config = ConfigDict(frozen=True)

    logical_id: str
    name: str
    arn: str
    handler: str
    code_dir: Path
    runtime: str
    timeout_seconds: Annotated[int, Field(ge=1, le=900)]
    memory_mb: Annotated[int, Field(ge=128, le=10240)]
    environment: dict[str, str]
    dead_letter_arn: str | None
    async_config: AsyncInvokeConfig
    # ReservedConcurrentExecutions: None shares the account's unreserved concurrency.
    reserved_concurrency: Annotated[int, Field(ge=0)] | None = None


class FunctionProperties(CfnProperties):
    function_name: str | None = Field(default=None, alias="FunctionName")
    handler: str = Field(alias="Handler", pattern=r"^[^\s]+\.[^\s.]+$")
    runtime: str = Field(default="python3.13", alias="Runtime")
    timeout: Annotated[int, Field(ge=1, le=900)] = Field(default=3, alias="Timeout")
    memory_size: Annotated[int, Field(ge=128, le=10240)] = Field(default=128, alias="MemorySize")
    environment: dict[str, dict[str, str | int | float | bool]] = Field(
        default_factory=dict, alias="Environment"
    )
    code: dict[str, str] = Field(alias="Code")
    dead_letter_config: dict[str, str] | None = Field(default=None, alias="DeadLetterConfig")
    reserved_concurrent_executions: Annotated[int, Field(ge=0)] | None = Field(
        default=None, alias="ReservedConcurrentExecutions"
    )


# -- SQS ----------------------------------------------------------------------------------------


class RedrivePolicy(CfnProperties):
    dead_letter_target_arn: str = Field(alias="deadLetterTargetArn")
    max_receive_count: Annotated[int, Field(ge=1, le=1000)] = Field(alias="maxReceiveCount")


class QueueSpec(BaseModel):
    """An SQS queue."""

    model_config = ConfigDict(frozen=True)

    logical_id: str
    name: str
    arn: str
    url: str
    fifo: bool
    content_based_deduplication: bool
    visibility_timeout_seconds: Annotated[int, Field(ge=0, le=43200)]
    delay_seconds: Annotated[int, Field(ge=0, le=900)]
    message_retention_seconds: Annotated[int, Field(ge=60, le=1209600)]
    redrive_policy: RedrivePolicy | None
    # FIFO high throughput (SQS API Reference, CreateQueue, Attributes).
    deduplication_scope: Literal["queue", "messageGroup"] = "queue"
    fifo_throughput_limit: Literal["perQueue", "perMessageGroupId"] = "perQueue"


class QueueProperties(CfnProperties):
    fifo_queue: bool = Field(default=False, alias="FifoQueue")
    content_based_deduplication: bool = Field(default=False, alias="ContentBasedDeduplication")
    visibility_timeout: int = Field(default=30, alias="VisibilityTimeout")
    delay_seconds: int = Field(default=0, alias="DelaySeconds")
    message_retention_period: int = Field(default=345600, alias="MessageRetentionPeriod")
    redrive_policy: RedrivePolicy | None = Field(default=None, alias="RedrivePolicy")
    deduplication_scope: Literal["queue", "messageGroup"] | None = Field(
        default=None, alias="DeduplicationScope"
    )
    fifo_throughput_limit: Literal["perQueue", "perMessageGroupId"] | None = Field(
        default=None, alias="FifoThroughputLimit"
    )

    @field_validator("redrive_policy", mode="before")
    @classmethod
    def _parse_json_string(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value


class EventSourceMappingSpec(BaseModel):
    """An SQS event source mapping (AWS::Lambda::EventSourceMapping).

    Defaults: Lambda Developer Guide, "Using Lambda with Amazon SQS" (batch size 10, no batching
    window, partial batch responses only with ReportBatchItemFailures).
    """

    model_config = ConfigDict(frozen=True)

    logical_id: str
    function_name: str
    queue_arn: str
    batch_size: Annotated[int, Field(ge=1, le=10000)]
    maximum_batching_window_seconds: Annotated[int, Field(ge=0, le=300)]
    report_batch_item_failures: bool
    enabled: bool
    maximum_concurrency: Annotated[int, Field(ge=2, le=1000)] | None
    filter_patterns: list[str]


class EventSourceMappingProperties(CfnProperties):
    event_source_arn: str = Field(alias="EventSourceArn")
    function_name: str = Field(alias="FunctionName")
    batch_size: int = Field(default=10, alias="BatchSize")
    maximum_batching_window: int = Field(default=0, alias="MaximumBatchingWindowInSeconds")
    function_response_types: list[Literal["ReportBatchItemFailures"]] = Field(
        default_factory=list, alias="FunctionResponseTypes"
    )
    enabled: bool = Field(default=True, alias="Enabled")
    scaling_config: dict[str, int] = Field(default_factory=dict, alias="ScalingConfig")
    filter_criteria: dict[str, list[dict[str, str]]] = Field(default_factory=dict, alias="FilterCriteria")


# -- Step Functions -----------------------------------------------------------------------------


class StateMachineSpec(BaseModel):
    """A state machine, its definition with DefinitionSubstitutions applied."""

    model_config = ConfigDict(frozen=True)

    logical_id: str
    name: str
    arn: str
    definition: str
    type: Literal["STANDARD", "EXPRESS"]
    role_arn: str


class StateMachineProperties(CfnProperties):
    definition: dict[str, Any] | None = Field(default=None, alias="Definition")
    definition_string: str | None = Field(default=None, alias="DefinitionString")
    substitutions: dict[str, str | int | float | bool] = Field(
        default_factory=dict, alias="DefinitionSubstitutions"
    )
    type: Literal["STANDARD", "EXPRESS"] = Field(default="STANDARD", alias="StateMachineType")
    role_arn: str = Field(alias="RoleArn")


# -- EventBridge --------------------------------------------------------------------------------


class RetryPolicy(CfnProperties):
    """A target's retry policy; defaults: EventBridge User Guide, "Event retry policy" (24 h, 185)."""

    maximum_retry_attempts: Annotated[int, Field(ge=0, le=185)] = Field(
        default=185, alias="MaximumRetryAttempts"
    )
    maximum_event_age_seconds: Annotated[int, Field(ge=60, le=86400)] = Field(
        default=86400, alias="MaximumEventAgeInSeconds"
    )


class InputTransformer(CfnProperties):
    input_paths_map: dict[str, str] = Field(default_factory=dict, alias="InputPathsMap")
    input_template: str = Field(alias="InputTemplate")


class RuleTarget(CfnProperties):
    """A target of an EventBridge rule."""

    id: str = Field(alias="Id")
    arn: str = Field(alias="Arn")
    input: str | None = Field(default=None, alias="Input")
    input_path: str | None = Field(default=None, alias="InputPath")
    input_transformer: InputTransformer | None = Field(default=None, alias="InputTransformer")
    retry_policy: RetryPolicy = Field(default_factory=RetryPolicy, alias="RetryPolicy")
    dead_letter_config: dict[str, str] | None = Field(default=None, alias="DeadLetterConfig")
    sqs_parameters: dict[str, str] | None = Field(default=None, alias="SqsParameters")

    @field_validator("input", mode="before")
    @classmethod
    def _json_text(cls, value: Any) -> Any:
        return json.dumps(value) if isinstance(value, (dict, list)) else value

    @property
    def dead_letter_arn(self) -> str | None:
        """The ARN of the target's dead-letter queue, if any."""
        return (self.dead_letter_config or {}).get("Arn")


class RuleSpec(BaseModel):
    """An EventBridge rule: an event pattern or a schedule, and its targets."""

    model_config = ConfigDict(frozen=True)

    logical_id: str
    name: str
    arn: str
    event_bus_name: str
    event_pattern: str | None
    schedule_expression: str | None
    enabled: bool
    targets: list[RuleTarget]


class RuleProperties(CfnProperties):
    event_pattern: dict[str, Any] | None = Field(default=None, alias="EventPattern")
    schedule_expression: str | None = Field(default=None, alias="ScheduleExpression")
    state: Literal["ENABLED", "DISABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"] = Field(
        default="ENABLED", alias="State"
    )
    event_bus_name: str = Field(default="default", alias="EventBusName")
    targets: list[RuleTarget] = Field(default_factory=list, alias="Targets")

    @field_validator("event_pattern", mode="before")
    @classmethod
    def _parse_json_string(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value


# -- Scheduler ----------------------------------------------------------------------------------


class FlexibleTimeWindow(CfnProperties):
    mode: Literal["OFF", "FLEXIBLE"] = Field(alias="Mode")
    maximum_window_minutes: Annotated[int, Field(ge=1, le=1440)] | None = Field(
        default=None, alias="MaximumWindowInMinutes"
    )


class ScheduleTarget(CfnProperties):
    arn: str = Field(alias="Arn")
    role_arn: str = Field(alias="RoleArn")
    input: str | None = Field(default=None, alias="Input")
    retry_policy: RetryPolicy = Field(default_factory=RetryPolicy, alias="RetryPolicy")
    dead_letter_config: dict[str, str] | None = Field(default=None, alias="DeadLetterConfig")
    sqs_parameters: dict[str, str] | None = Field(default=None, alias="SqsParameters")

    @field_validator("input", mode="before")
    @classmethod
    def _json_text(cls, value: Any) -> Any:
        return json.dumps(value) if isinstance(value, (dict, list)) else value


class ScheduleSpec(BaseModel):
    """An EventBridge Scheduler schedule declared in the template."""

    model_config = ConfigDict(frozen=True)

    logical_id: str
    name: str
    group_name: str
    arn: str
    expression: str
    timezone: str
    flexible_time_window: FlexibleTimeWindow
    target: ScheduleTarget
    enabled: bool
    start_date: str | None
    end_date: str | None
    action_after_completion: Literal["NONE", "DELETE"]


class ScheduleProperties(CfnProperties):
    schedule_expression: str = Field(alias="ScheduleExpression")
    timezone: str = Field(default="UTC", alias="ScheduleExpressionTimezone")
    flexible_time_window: FlexibleTimeWindow = Field(alias="FlexibleTimeWindow")
    target: ScheduleTarget = Field(alias="Target")
    state: Literal["ENABLED", "DISABLED"] = Field(default="ENABLED", alias="State")
    group_name: str = Field(default="default", alias="GroupName")
    start_date: str | None = Field(default=None, alias="StartDate")
    end_date: str | None = Field(default=None, alias="EndDate")
    action_after_completion: Literal["NONE", "DELETE"] = Field(default="NONE", alias="ActionAfterCompletion")


# -- CloudWatch ---------------------------------------------------------------------------------


class Dimension(CfnProperties):
    name: str = Field(alias="Name")
    value: str = Field(alias="Value")


ComparisonOperator = Literal[
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
]


class AlarmSpec(BaseModel):
    """A metric alarm on one metric (metric math is not evaluated locally)."""

    model_config = ConfigDict(frozen=True)

    logical_id: str
    name: str
    arn: str
    description: str | None
    namespace: str
    metric_name: str
    dimensions: list[Dimension]
    statistic: str
    period_seconds: int
    evaluation_periods: Annotated[int, Field(ge=1)]
    datapoints_to_alarm: Annotated[int, Field(ge=1)]
    threshold: float
    comparison_operator: ComparisonOperator
    treat_missing_data: Literal["breaching", "notBreaching", "ignore", "missing"]
    unit: str | None


class MetricStat(CfnProperties):
    metric: dict[str, Any] = Field(alias="Metric")
    period: int = Field(alias="Period")
    stat: str = Field(alias="Stat", pattern=_STATISTIC)


class MetricDataQuery(CfnProperties):
    id: str = Field(alias="Id")
    metric_stat: MetricStat | None = Field(default=None, alias="MetricStat")
    expression: str | None = Field(default=None, alias="Expression")
    return_data: bool = Field(default=True, alias="ReturnData")


class AlarmProperties(CfnProperties):
    alarm_name: str | None = Field(default=None, alias="AlarmName")
    alarm_description: str | None = Field(default=None, alias="AlarmDescription")
    namespace: str | None = Field(default=None, alias="Namespace")
    metric_name: str | None = Field(default=None, alias="MetricName")
    dimensions: list[Dimension] = Field(default_factory=list, alias="Dimensions")
    statistic: str | None = Field(default=None, alias="Statistic", pattern=_STATISTIC)
    extended_statistic: str | None = Field(default=None, alias="ExtendedStatistic", pattern=_STATISTIC)
    period: int | None = Field(default=None, alias="Period")
    evaluation_periods: int = Field(alias="EvaluationPeriods")
    datapoints_to_alarm: int | None = Field(default=None, alias="DatapointsToAlarm")
    threshold: float = Field(alias="Threshold")
    comparison_operator: ComparisonOperator = Field(alias="ComparisonOperator")
    treat_missing_data: Literal["breaching", "notBreaching", "ignore", "missing"] = Field(
        default="missing", alias="TreatMissingData"
    )
    unit: str | None = Field(default=None, alias="Unit")
    metrics: list[MetricDataQuery] = Field(default_factory=list, alias="Metrics")


# -- DynamoDB, SNS, buses -----------------------------------------------------------------------


class TableSpec(BaseModel):
    """A DynamoDB table; `properties` are passed to CreateTable as declared."""

    model_config = ConfigDict(frozen=True)

    logical_id: str
    name: str
    arn: str
    properties: dict[str, Any]


class NamedResourceSpec(BaseModel):
    """A resource the world only creates by name (an SNS topic, an event bus)."""

    model_config = ConfigDict(frozen=True)

    logical_id: str
    name: str
    arn: str


class Stack(BaseModel):
    """Everything the local world runs, read from one template."""

    model_config = ConfigDict(frozen=True)

    stack_name: str
    region: str
    account_id: str
    functions: dict[str, FunctionSpec]
    queues: dict[str, QueueSpec]
    event_source_mappings: list[EventSourceMappingSpec]
    state_machines: dict[str, StateMachineSpec]
    rules: dict[str, RuleSpec]
    schedules: dict[str, ScheduleSpec]
    alarms: dict[str, AlarmSpec]
    tables: dict[str, TableSpec]
    topics: dict[str, NamedResourceSpec]
    event_buses: dict[str, NamedResourceSpec]
    schedule_groups: dict[str, NamedResourceSpec] = Field(default_factory=dict)
    unmodelled: dict[str, str]
    outputs: dict[str, Any]

    def function_by_name(self, name_or_arn: str) -> FunctionSpec | None:
        """The function with this name, ARN or partial ARN (`function:name[:qualifier]`)."""
        name = function_name_from(name_or_arn)
        return next((spec for spec in self.functions.values() if spec.name == name), None)


def function_name_from(name_or_arn: str) -> str:
    """`my-fn` from `my-fn`, `arn:aws:lambda:r:a:function:my-fn` or `...:function:my-fn:$LATEST`."""
    if ":function:" in name_or_arn:
        return name_or_arn.split(":function:", 1)[1].split(":", 1)[0]
    return name_or_arn.split(":", 1)[0]
