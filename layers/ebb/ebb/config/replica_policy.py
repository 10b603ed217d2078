"""A ScaledObject, as the replica core's `ScalerPolicy`.

The configuration keeps KEDA's manifest shape (camelCase, string metadata); the core takes typed
values in the same vocabulary. This is the one place that translates between them, so that what
`ebb validate` accepts is exactly what the core decides with. The policy comes from the whole
configuration, not from a ScaledObject alone: the ScaledObject's ClusterBinding entry holds
settings only ebb has (`kedaExact`), and a caller that had to pass them separately could forget
one and silently change the semantics.
"""

from __future__ import annotations

from ebb.config.ebb_config import EbbConfig
from ebb.config.hpa_behavior import HpaBehavior as ConfigBehavior
from ebb.config.hpa_behavior import HpaScalingRules as ConfigScalingRules
from ebb.config.keda_triggers import AwsCloudWatchTrigger, AwsSqsQueueTrigger
from ebb.config.scaled_object import ScaledObject
from ebb.core.replicas.policy import (
    CloudWatchTrigger,
    Fallback,
    FallbackBehavior,
    HpaBehavior,
    HpaScalingPolicy,
    HpaScalingRules,
    MetricTargetType,
    ScalerPolicy,
    ScalingPolicyType,
    SelectPolicy,
    SqsQueueTrigger,
    Trigger,
)


def trigger_name(index: int, trigger: AwsSqsQueueTrigger | AwsCloudWatchTrigger) -> str:
    """The trigger's `name`, or KEDA's metric-name prefix `s<index>-<type>` when it has none."""
    return trigger.name or f"s{index}-{trigger.type}"


def _trigger(index: int, trigger: AwsSqsQueueTrigger | AwsCloudWatchTrigger) -> Trigger:
    name = trigger_name(index, trigger)
    metric_type = MetricTargetType(trigger.metric_type)
    if isinstance(trigger, AwsSqsQueueTrigger):
        sqs = trigger.metadata
        return SqsQueueTrigger(
            name=name,
            metric_type=metric_type,
            queue_length=sqs.queue_length,
            activation_queue_length=sqs.activation_queue_length,
            scale_on_in_flight=sqs.scale_on_in_flight,
            scale_on_delayed=sqs.scale_on_delayed,
        )
    metric = trigger.metadata
    return CloudWatchTrigger(
        name=name,
        metric_type=metric_type,
        target_metric_value=metric.target_metric_value,
        activation_target_metric_value=metric.activation_target_metric_value,
        min_metric_value=metric.min_metric_value,
        ignore_null_values=metric.ignore_null_values,
        metric_collection_time=metric.metric_collection_time,
        metric_stat_period=metric.metric_stat_period,
        metric_end_time_offset=metric.metric_end_time_offset,
    )


def _rules(rules: ConfigScalingRules | None) -> HpaScalingRules | None:
    # Unset fields stay unset: the core fills in the Kubernetes defaults itself.
    if rules is None:
        return None
    return HpaScalingRules(
        stabilization_window_seconds=rules.stabilization_window_seconds,
        select_policy=None if rules.select_policy is None else SelectPolicy(rules.select_policy),
        policies=None
        if rules.policies is None
        else tuple(
            HpaScalingPolicy(
                type=ScalingPolicyType(policy.type), value=policy.value, period_seconds=policy.period_seconds
            )
            for policy in rules.policies
        ),
        tolerance=None if rules.tolerance is None else float(rules.tolerance.value),
    )


def _behavior(behavior: ConfigBehavior | None) -> HpaBehavior | None:
    if behavior is None:
        return None
    return HpaBehavior(scale_up=_rules(behavior.scale_up), scale_down=_rules(behavior.scale_down))


_POLICIES: dict[str, tuple[EbbConfig, ScaledObject, ScalerPolicy]] = {}
"""The last configuration's policy per ScaledObject (``namespace/name``): a loaded configuration
is immutable, and the decision step reads every scaler's policy on every decision."""


def scaler_policy(config: EbbConfig, scaled_object: ScaledObject) -> ScalerPolicy:
    """The replica core's policy for one ScaledObject of a validated configuration, binding included."""
    cached = _POLICIES.get(scaled_object.qualified_name)
    if cached is not None and cached[0] is config and cached[1] is scaled_object:
        return cached[2]
    policy = _scaler_policy(config, scaled_object)
    _POLICIES[scaled_object.qualified_name] = (config, scaled_object, policy)
    return policy


def _scaler_policy(config: EbbConfig, scaled_object: ScaledObject) -> ScalerPolicy:
    if scaled_object not in config.scaled_objects:
        raise ValueError(
            f"ScaledObject {scaled_object.qualified_name} is not part of this configuration; take it from "
            "config.scaled_objects"
        )
    binding = config.scaler_binding(scaled_object)
    spec = scaled_object.spec
    hpa_config = spec.advanced.horizontal_pod_autoscaler_config if spec.advanced else None
    return ScalerPolicy(
        name=scaled_object.qualified_name,
        min_replica_count=spec.min_replicas,
        max_replica_count=spec.max_replicas,
        idle_replica_count=spec.idle_replica_count,
        cooldown_period=spec.cooldown_period,
        initial_cooldown_period=spec.initial_cooldown_period,
        fallback=None
        if spec.fallback is None
        else Fallback(
            failure_threshold=spec.fallback.failure_threshold,
            replicas=spec.fallback.replicas,
            behavior=FallbackBehavior(spec.fallback.behavior),
        ),
        behavior=_behavior(hpa_config.behavior if hpa_config else None),
        triggers=tuple(_trigger(index, trigger) for index, trigger in enumerate(spec.triggers)),
        paused=scaled_object.paused,
        paused_replicas=scaled_object.paused_replicas,
        paused_scale_in=scaled_object.paused_scale_in,
        paused_scale_out=scaled_object.paused_scale_out,
        force_activation=scaled_object.force_activation,
        keda_exact=binding.keda_exact,
    )
