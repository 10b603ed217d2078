"""The alarms a configuration implies: one per trigger that has one (`has_alarm`), on its own metric.

Each alarm goes to ALARM when its trigger becomes active (the metric above the trigger's
activation value, 0 unless set) and back to OK when it stops; each edge wakes the scaler's pool
at once, and the tick and idle timers do the rest.

`TreatMissingData: notBreaching`, deliberately, for both kinds: an ALB publishes no datapoint for
a minute without requests (CloudWatch metrics for your Application Load Balancer: metrics are
reported only when requests flow) and SQS may publish nothing for an inactive queue (Available
CloudWatch metrics for Amazon SQS), so missing data means "nothing there". Treating it as not
breaching keeps an idle scaler's alarm in OK (rather than INSUFFICIENT_DATA, or a false ALARM
with `breaching`), so the first request or message is an OK -> ALARM edge.
"""

from __future__ import annotations

from ebb.adapters.alarms import AlarmSpec
from ebb.config import EbbConfig
from ebb.config.keda_triggers import AwsCloudWatchTrigger, AwsSqsQueueTrigger
from ebb.config.node_planning import pod_group_name
from ebb.config.replica_policy import trigger_name
from ebb.service.signals import alarm_name, has_alarm

SQS_PERIOD = 60
"""AWS/SQS metrics are published once a minute (Available CloudWatch metrics for Amazon SQS)."""


def alarm_specs(config: EbbConfig, prefix: str) -> list[AlarmSpec]:
    """Every alarm ebb should own for `config`, in name order."""
    specs = []
    for scaled_object in config.scaled_objects:
        scaler = pod_group_name(scaled_object)
        for index, trigger in enumerate(scaled_object.spec.triggers):
            if not has_alarm(trigger):
                continue
            name = trigger_name(index, trigger)
            description = f"ebb: trigger {name} of {scaler} is active (wakes its NodePool's decision)"
            if isinstance(trigger, AwsSqsQueueTrigger):
                metadata = trigger.metadata
                specs.append(
                    AlarmSpec(
                        name=alarm_name(prefix, scaler, name),
                        description=description,
                        namespace="AWS/SQS",
                        metric_name="ApproximateNumberOfMessagesVisible",
                        dimensions=(("QueueName", metadata.queue_name),),
                        statistic="Maximum",
                        period=SQS_PERIOD,
                        threshold=float(metadata.activation_queue_length),
                        treat_missing_data="notBreaching",
                    )
                )
            elif isinstance(trigger, AwsCloudWatchTrigger):
                metric = trigger.metadata
                if metric.namespace is None or metric.metric_name is None:
                    # has_alarm means no expression, and the trigger's validation requires both then.
                    raise ValueError(f"trigger {name} of {scaler} names no metric and no expression")
                specs.append(
                    AlarmSpec(
                        name=alarm_name(prefix, scaler, name),
                        description=description,
                        namespace=metric.namespace,
                        metric_name=metric.metric_name,
                        dimensions=tuple(metric.dimensions),
                        statistic=metric.metric_stat,
                        period=metric.metric_stat_period,
                        threshold=float(metric.activation_target_metric_value),
                        treat_missing_data="notBreaching",
                        account_id=metric.aws_account_id,
                    )
                )
    return sorted(specs, key=lambda spec: spec.name)
