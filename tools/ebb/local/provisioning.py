"""Create a template's resources in moto, as CloudFormation would, before the world starts.

Queues come first (dead-letter queues before the queues that redrive to them), then tables,
topics, buses, functions (whose handlers the runtime imports), state machines (moto's ASL parser
checks each definition), rules and their targets (moto checks each pattern), schedules and
alarms. A resource moto refuses fails the start with the resource's logical id.
"""

from __future__ import annotations

import json
from contextlib import suppress
from datetime import datetime
from typing import Any

from ebb.local.errors import TemplateError
from ebb.local.lambda_runtime import LambdaRuntime
from ebb.local.stack_resources import Stack
from ebb.local.targets import AwsClients

EXECUTION_ROLE = "ebb-local-execution-role"


def provision(stack: Stack, clients: AwsClients, lambda_runtime: LambdaRuntime) -> None:
    """Create every resource of `stack` in moto and load its functions into the runtime."""
    role_arn = clients.client("iam").create_role(
        RoleName=EXECUTION_ROLE,
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    sqs = clients.client("sqs")
    for queue in sorted(stack.queues.values(), key=lambda spec: spec.redrive_policy is not None):
        attributes = {
            "VisibilityTimeout": str(queue.visibility_timeout_seconds),
            "DelaySeconds": str(queue.delay_seconds),
            "MessageRetentionPeriod": str(queue.message_retention_seconds),
        }
        if queue.fifo:
            attributes["FifoQueue"] = "true"
            attributes["ContentBasedDeduplication"] = str(queue.content_based_deduplication).lower()
            attributes["DeduplicationScope"] = queue.deduplication_scope
            attributes["FifoThroughputLimit"] = queue.fifo_throughput_limit
        if queue.redrive_policy is not None:
            attributes["RedrivePolicy"] = json.dumps(
                {
                    "deadLetterTargetArn": queue.redrive_policy.dead_letter_target_arn,
                    "maxReceiveCount": queue.redrive_policy.max_receive_count,
                }
            )
        sqs.create_queue(QueueName=queue.name, Attributes=attributes)
    for table in stack.tables.values():
        _create_table(clients.client("dynamodb"), table.name, table.properties)
    for topic in stack.topics.values():
        clients.client("sns").create_topic(Name=topic.name)
    for bus in stack.event_buses.values():
        clients.client("events").create_event_bus(Name=bus.name)
    lambda_client = clients.client("lambda")
    for function in stack.functions.values():
        lambda_client.create_function(
            FunctionName=function.name,
            Runtime=function.runtime,
            Role=role_arn,
            Handler=function.handler,
            Code={"ZipFile": b"ebb-local: the handler runs in-process"},
            Timeout=function.timeout_seconds,
            MemorySize=function.memory_mb,
            Environment={"Variables": function.environment},
        )
        lambda_runtime.load(function)
    sfn = clients.client("stepfunctions")
    for machine in stack.state_machines.values():
        try:
            sfn.create_state_machine(
                name=machine.name, definition=machine.definition, roleArn=role_arn, type=machine.type
            )
        except Exception as error:
            raise TemplateError(
                f"Resources.{machine.logical_id}: the state machine definition is invalid: {error}"
            ) from error
    events = clients.client("events")
    for rule in stack.rules.values():
        arguments: dict[str, Any] = {"Name": rule.name, "EventBusName": rule.event_bus_name}
        arguments["State"] = "ENABLED" if rule.enabled else "DISABLED"
        if rule.event_pattern is not None:
            arguments["EventPattern"] = rule.event_pattern
        if rule.schedule_expression is not None:
            arguments["ScheduleExpression"] = rule.schedule_expression
        try:
            events.put_rule(**arguments)
        except Exception as error:
            raise TemplateError(
                f"Resources.{rule.logical_id}: EventBridge rejects the rule: {error}"
            ) from error
        targets = [target.model_dump(by_alias=True, exclude_none=True) for target in rule.targets]
        if targets:
            events.put_targets(Rule=rule.name, EventBusName=rule.event_bus_name, Targets=targets)
    scheduler = clients.client("scheduler")
    for group in stack.schedule_groups.values():
        scheduler.create_schedule_group(Name=group.name)
    for schedule in stack.schedules.values():
        if schedule.group_name != "default":
            with suppress(scheduler.exceptions.ConflictException):
                scheduler.create_schedule_group(Name=schedule.group_name)
        arguments = {
            "Name": schedule.name,
            "GroupName": schedule.group_name,
            "ScheduleExpression": schedule.expression,
            "ScheduleExpressionTimezone": schedule.timezone,
            "FlexibleTimeWindow": schedule.flexible_time_window.model_dump(by_alias=True, exclude_none=True),
            "Target": schedule.target.model_dump(by_alias=True, exclude_none=True),
            "State": "ENABLED" if schedule.enabled else "DISABLED",
            "ActionAfterCompletion": schedule.action_after_completion,
        }
        if schedule.start_date:
            arguments["StartDate"] = datetime.fromisoformat(schedule.start_date.replace("Z", "+00:00"))
        if schedule.end_date:
            arguments["EndDate"] = datetime.fromisoformat(schedule.end_date.replace("Z", "+00:00"))
        scheduler.create_schedule(**arguments)
    cloudwatch = clients.client("cloudwatch")
    for alarm in stack.alarms.values():
        statistic: dict[str, str] = (
            {"ExtendedStatistic": alarm.statistic}
            if alarm.statistic.startswith("p")
            else {"Statistic": alarm.statistic}
        )
        cloudwatch.put_metric_alarm(
            AlarmName=alarm.name,
            AlarmDescription=alarm.description or "",
            Namespace=alarm.namespace,
            MetricName=alarm.metric_name,
            Dimensions=[{"Name": d.name, "Value": d.value} for d in alarm.dimensions],
            Period=alarm.period_seconds,
            EvaluationPeriods=alarm.evaluation_periods,
            DatapointsToAlarm=alarm.datapoints_to_alarm,
            Threshold=alarm.threshold,
            ComparisonOperator=alarm.comparison_operator,
            TreatMissingData=alarm.treat_missing_data,
            **statistic,
            **({"Unit": alarm.unit} if alarm.unit else {}),
        )


def _create_table(dynamodb: Any, name: str, properties: dict[str, Any]) -> None:
    arguments: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "KeySchema": properties["KeySchema"],
        "BillingMode": properties.get("BillingMode", "PROVISIONED"),
    }
    if arguments["BillingMode"] == "PROVISIONED":
        arguments["ProvisionedThroughput"] = properties.get(
            "ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        )
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "StreamSpecification"):
        if key in properties:
            arguments[key] = properties[key]
    dynamodb.create_table(**arguments)
    ttl = properties.get("TimeToLiveSpecification")
    if ttl and str(ttl.get("Enabled")).lower() == "true":
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
        )
