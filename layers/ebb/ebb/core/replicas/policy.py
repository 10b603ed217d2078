"""A scaler's policy, in KEDA ScaledObject and Kubernetes HPA v2 vocabulary.

These are the replica core's own input types; `ebb.config` maps the user's ScaledObject onto
them. Field names follow KEDA (`minReplicaCount` -> `min_replica_count`) and the HPA
(`behavior.scaleDown.stabilizationWindowSeconds` -> `stabilization_window_seconds`), defaults
are KEDA's and Kubernetes', and every check refuses what KEDA or the API server would refuse.
"""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from ebb.core.replicas.cloudwatch_window import CloudWatchQueryWindow, cloudwatch_query_window
from ebb.core.replicas.frozen_model import FrozenModel
from ebb.core.replicas.quantities import (
    INT64_MAX,
    INT64_MIN,
    MAX_TARGET_MILLI,
    exact_milli_from_float,
    milli_from_float,
    milli_from_int,
)

MAX_STABILIZATION_WINDOW_SECONDS = 3600
"""The API server's upper bound on `stabilizationWindowSeconds` (one hour)."""
MAX_POLICY_PERIOD_SECONDS = 1800
"""The API server's upper bound on a scaling policy's `periodSeconds` (30 minutes)."""
INT32_MAX = 2**31 - 1
MAX_QUEUE_LENGTH = MAX_TARGET_MILLI // 1000
"""The largest `queueLength` whose milli-value (the HPA's `MilliValue()`) fits an int64."""
MAX_DURATION_SECONDS = INT64_MAX // 10**9
"""KEDA builds the CloudWatch window from Go `time.Duration`s (int64 nanoseconds): longer overflows."""


class MetricTargetType(StrEnum):
    """The HPA target type KEDA publishes for a trigger (`metricType`); `Utilization` is refused."""

    VALUE = "Value"
    AVERAGE_VALUE = "AverageValue"


class ScalingPolicyType(StrEnum):
    """`behavior.*.policies[].type`."""

    PODS = "Pods"
    PERCENT = "Percent"


class SelectPolicy(StrEnum):
    """`behavior.*.selectPolicy`: which policy's limit wins, or no scaling in that direction."""

    MAX = "Max"
    MIN = "Min"
    DISABLED = "Disabled"


class HpaScalingPolicy(FrozenModel):
    """One rate limit: at most `value` pods (or percent) of change per `period_seconds`."""

    type: ScalingPolicyType
    value: int = Field(gt=0, le=INT32_MAX)
    period_seconds: int = Field(gt=0, le=MAX_POLICY_PERIOD_SECONDS)


class HpaScalingRules(FrozenModel):
    """`behavior.scaleUp` or `behavior.scaleDown`; unset fields take the Kubernetes defaults."""

    stabilization_window_seconds: int | None = Field(default=None, ge=0, le=MAX_STABILIZATION_WINDOW_SECONDS)
    select_policy: SelectPolicy | None = None
    policies: tuple[HpaScalingPolicy, ...] | None = Field(default=None, min_length=1)
    tolerance: float | None = Field(default=None, ge=0)
    """Per-direction tolerance (HPAConfigurableTolerance); unset: the controller's 0.1."""


class HpaBehavior(FrozenModel):
    """`advanced.horizontalPodAutoscalerConfig.behavior`, passed by KEDA to the HPA as is."""

    scale_up: HpaScalingRules | None = None
    scale_down: HpaScalingRules | None = None


class FallbackBehavior(StrEnum):
    """`fallback.behavior`: how the fallback replica count is chosen."""

    STATIC = "static"
    CURRENT_REPLICAS = "currentReplicas"
    CURRENT_REPLICAS_IF_HIGHER = "currentReplicasIfHigher"
    CURRENT_REPLICAS_IF_LOWER = "currentReplicasIfLower"


class Fallback(FrozenModel):
    """`fallback`: the replicas to run once a trigger failed more than `failure_threshold` times in a row."""

    failure_threshold: int = Field(ge=0, le=INT32_MAX)
    replicas: int = Field(ge=0, le=INT32_MAX)
    behavior: FallbackBehavior = FallbackBehavior.STATIC


class _TriggerBase(FrozenModel):
    name: str = Field(min_length=1)
    """Unique within the scaler; keys the trigger's observation and its failure count."""
    metric_type: MetricTargetType = MetricTargetType.AVERAGE_VALUE


class SqsQueueTrigger(_TriggerBase):
    """KEDA's `aws-sqs-queue` trigger, as far as the decision needs it."""

    type: Literal["aws-sqs-queue"] = "aws-sqs-queue"
    queue_length: int = Field(default=5, gt=0, le=MAX_QUEUE_LENGTH)
    activation_queue_length: int = Field(default=0, ge=INT64_MIN, le=INT64_MAX)
    """An int64, as in KEDA; a negative one makes every queue length, even 0, active."""
    scale_on_in_flight: bool = True
    scale_on_delayed: bool = False

    @property
    def target_milli(self) -> int:
        """The HPA target KEDA publishes (an integer quantity), in milli-units."""
        return milli_from_int(self.queue_length)

    @property
    def attribute_names(self) -> tuple[str, ...]:
        """The queue attributes whose sum is the metric, in KEDA's order."""
        names = ["ApproximateNumberOfMessages"]
        if self.scale_on_in_flight:
            names.append("ApproximateNumberOfMessagesNotVisible")
        if self.scale_on_delayed:
            names.append("ApproximateNumberOfMessagesDelayed")
        return tuple(names)


class CloudWatchTrigger(_TriggerBase):
    """KEDA's `aws-cloudwatch` trigger, as far as the decision needs it."""

    type: Literal["aws-cloudwatch"] = "aws-cloudwatch"
    target_metric_value: float = Field(gt=0, allow_inf_nan=False)
    activation_target_metric_value: float = Field(default=0.0, allow_inf_nan=False)
    min_metric_value: float = Field(allow_inf_nan=False)
    ignore_null_values: bool = True
    metric_collection_time: int = Field(default=300, ge=0, le=MAX_DURATION_SECONDS)
    metric_stat_period: int = Field(default=300, ge=1, le=MAX_DURATION_SECONDS)
    metric_end_time_offset: int = Field(default=0, ge=0, le=MAX_DURATION_SECONDS)

    @property
    def target_milli(self) -> int:
        """The HPA target KEDA publishes (rounded to milli-units), in milli-units."""
        return milli_from_float(self.target_metric_value)

    def query_window(self, now: datetime) -> CloudWatchQueryWindow:
        """The GetMetricData window KEDA queries at `now`: the metric reader asks for it, the core
        keeps only the datapoints inside it."""
        return cloudwatch_query_window(
            now, self.metric_stat_period, self.metric_end_time_offset, self.metric_collection_time
        )

    @model_validator(mode="after")
    def _check_window(self) -> Self:
        period = self.metric_stat_period
        if period <= 60 and period not in (1, 5, 10, 30, 60):
            raise ValueError(
                f"metric_stat_period {period} must be one of 1, 5, 10, 30, 60 or a multiple of 60"
            )
        if period > 60 and period % 60:
            raise ValueError(f"metric_stat_period {period} above 60 must be a multiple of 60")
        if self.metric_collection_time % period:
            raise ValueError(
                f"metric_collection_time {self.metric_collection_time} must be a multiple of "
                f"metric_stat_period {period}"
            )
        if self.target_milli <= 0:
            raise ValueError(
                f"target_metric_value {self.target_metric_value} is below the HPA's 0.001 resolution"
            )
        if exact_milli_from_float(self.target_metric_value) > MAX_TARGET_MILLI:
            raise ValueError(
                f"target_metric_value {self.target_metric_value} is above the largest milli-quantity the "
                "HPA reads (9223372036854775.807)"
            )
        return self


Trigger = Annotated[SqsQueueTrigger | CloudWatchTrigger, Field(discriminator="type")]


class ScalerPolicy(FrozenModel):
    """One ScaledObject: bounds, KEDA's activation and fallback, the HPA behavior, the triggers."""

    name: str = Field(min_length=1)
    min_replica_count: int = Field(default=0, ge=0, le=INT32_MAX)
    max_replica_count: int = Field(default=100, ge=1, le=INT32_MAX)
    idle_replica_count: int | None = Field(default=None, ge=0, le=INT32_MAX)
    cooldown_period: int = Field(default=300, ge=0)
    initial_cooldown_period: int = Field(default=0, ge=0)
    fallback: Fallback | None = None
    behavior: HpaBehavior | None = None
    """`None`: KEDA creates its HPA without `behavior`, which runs the legacy normalization."""
    downscale_stabilization_seconds: int = Field(default=300, ge=0, le=MAX_STABILIZATION_WINDOW_SECONDS)
    """kube-controller-manager's `--horizontal-pod-autoscaler-downscale-stabilization` (default 5 min)."""
    triggers: tuple[Trigger, ...] = Field(min_length=1)
    paused: bool = False
    """`autoscaling.keda.sh/paused: "true"`: keep the current replicas, scale nothing."""
    paused_replicas: int | None = Field(default=None, ge=0, le=INT32_MAX)
    """`autoscaling.keda.sh/paused-replicas`: hold the target at this count."""
    paused_scale_in: bool = False
    """`autoscaling.keda.sh/paused-scale-in`: no scale-in, by KEDA or by the HPA."""
    paused_scale_out: bool = False
    """`autoscaling.keda.sh/paused-scale-out`: no scale-out, by KEDA or by the HPA."""
    force_activation: bool = False
    """`autoscaling.keda.sh/force-activation`: treat the scaler as active."""
    keda_exact: bool = False
    """Turn off every deliberate difference from KEDA (see `ebb.core.replicas.decision`)."""

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.min_replica_count > self.max_replica_count:
            raise ValueError(
                f"min_replica_count {self.min_replica_count} is above "
                f"max_replica_count {self.max_replica_count}"
            )
        # KEDA's CheckReplicaCountBoundsAreValid compares with the HPA's minimum, max(min, 1):
        # idleReplicaCount 0 with minReplicaCount 0 is valid (idle at 0, active at 1).
        hpa_min = max(self.min_replica_count, 1)
        if self.idle_replica_count is not None and self.idle_replica_count >= hpa_min:
            raise ValueError(
                f"idle_replica_count {self.idle_replica_count} must be below the HPA minimum "
                f"max(min_replica_count, 1) = {hpa_min}"
            )
        names = [trigger.name for trigger in self.triggers]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"trigger names must be unique; repeated: {', '.join(duplicates)}")
        return self

    @property
    def hpa_min_replicas(self) -> int:
        """The `minReplicas` of the HPA KEDA creates: `minReplicaCount`, at least 1."""
        return max(self.min_replica_count, 1)

    @property
    def hpa_behavior(self) -> HpaBehavior | None:
        """The HPA's `behavior` as KEDA writes it, with the pause-scale-in/out annotations applied."""
        behavior = self.behavior
        if not (self.paused_scale_in or self.paused_scale_out):
            return behavior
        behavior = behavior or HpaBehavior()
        disabled = {"select_policy": SelectPolicy.DISABLED}
        if self.paused_scale_in:
            rules = behavior.scale_down or HpaScalingRules()
            behavior = behavior.model_copy(update={"scale_down": rules.model_copy(update=disabled)})
        if self.paused_scale_out:
            rules = behavior.scale_up or HpaScalingRules()
            behavior = behavior.model_copy(update={"scale_up": rules.model_copy(update=disabled)})
        return behavior
