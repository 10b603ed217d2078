"""The resources of a template, resolved and typed, as the local world runs them.

`read_stack` reads a SAM/CloudFormation template, expands the SAM shorthand, validates the
parameters like CloudFormation does, resolves every intrinsic, and parses each resource the world
models into a pydantic model (so a wrong property says which resource and which field). Names
and ARNs are deterministic: an explicit name property if set, else `<stack>-<LogicalId>`.
Resource types the world does not model (IAM, permissions, log groups, layers, custom resources)
are listed in `Stack.unmodelled`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ebb.local.errors import TemplateError
from ebb.local.intrinsics import IntrinsicResolver, PseudoParameters
from ebb.local.sam_transform import expand_sam
from ebb.local.stack_resources import (
    AlarmProperties,
    AlarmSpec,
    AsyncInvokeConfig,
    CfnProperties,
    Dimension,
    EventSourceMappingProperties,
    EventSourceMappingSpec,
    FunctionProperties,
    FunctionSpec,
    NamedResourceSpec,
    QueueProperties,
    QueueSpec,
    RuleProperties,
    RuleSpec,
    ScheduleProperties,
    ScheduleSpec,
    Stack,
    StateMachineProperties,
    StateMachineSpec,
    TableSpec,
    function_name_from,
)
from ebb.local.template_yaml import load_template

_SUBSTITUTION = re.compile(r"\$\{([^}]+)\}")


# -- reading ------------------------------------------------------------------------------------

_NAME_PROPERTY = {
    "AWS::Lambda::Function": ("FunctionName", 64),
    "AWS::SQS::Queue": ("QueueName", 80),
    "AWS::StepFunctions::StateMachine": ("StateMachineName", 80),
    "AWS::Events::Rule": ("Name", 64),
    "AWS::Scheduler::Schedule": ("Name", 64),
    "AWS::Scheduler::ScheduleGroup": ("Name", 64),
    "AWS::CloudWatch::Alarm": ("AlarmName", 255),
    "AWS::DynamoDB::Table": ("TableName", 255),
    "AWS::SNS::Topic": ("TopicName", 256),
    "AWS::Events::EventBus": ("Name", 256),
    "AWS::IAM::Role": ("RoleName", 64),
    "AWS::Logs::LogGroup": ("LogGroupName", 512),
    "AWS::Lambda::LayerVersion": ("LayerName", 140),
}
_NOT_MODELLED = {
    "AWS::IAM::Role": "IAM is not enforced locally",
    "AWS::IAM::Policy": "IAM is not enforced locally",
    "AWS::IAM::ManagedPolicy": "IAM is not enforced locally",
    "AWS::Lambda::Permission": "IAM is not enforced locally",
    "AWS::SQS::QueuePolicy": "IAM is not enforced locally",
    "AWS::SNS::TopicPolicy": "IAM is not enforced locally",
    "AWS::Lambda::LayerVersion": "the layer's code is imported from the working tree",
    "AWS::Logs::LogGroup": "logs go to the test process",
    "AWS::CloudWatch::Dashboard": "dashboards are not rendered",
    "AWS::EKS::AccessEntry": "the local Kubernetes API authorizes the world's identity, not access entries",
    "AWS::Lambda::EventInvokeConfig": "",
}


class _StackReader:
    def __init__(
        self,
        template: dict[str, Any],
        *,
        stack_name: str,
        region: str,
        account_id: str,
        parameters: dict[str, str],
    ) -> None:
        self.template = template
        self.resources: dict[str, Any] = template["Resources"]
        self.pseudo = PseudoParameters(region=region, account_id=account_id, stack_name=stack_name)
        self.region = region
        self.account = account_id
        self.stack_name = stack_name
        self._names: dict[str, str] = {}
        self._naming: set[str] = set()
        self.resolver = IntrinsicResolver(
            pseudo=self.pseudo,
            parameters=_validate_parameters(template.get("Parameters") or {}, parameters),
            conditions=template.get("Conditions") or {},
            mappings=template.get("Mappings") or {},
            ref=self.ref,
            get_att=self.get_att,
        )

    def _resource(self, logical_id: str) -> dict[str, Any]:
        if logical_id not in self.resources:
            raise TemplateError(
                f"the template references {logical_id!r}, which is not a parameter or resource"
            )
        return self.resources[logical_id]  # type: ignore[no-any-return]

    def included(self, logical_id: str) -> bool:
        condition = self._resource(logical_id).get("Condition")
        return condition is None or self.resolver.condition(condition, f"Resources.{logical_id}.Condition")

    def name(self, logical_id: str) -> str:
        """The physical name of a resource: its name property, or `<stack>-<LogicalId>`."""
        if logical_id in self._names:
            return self._names[logical_id]
        if logical_id in self._naming:
            raise TemplateError(f"Resources.{logical_id}: its name depends on itself")
        self._naming.add(logical_id)
        try:
            resource = self._resource(logical_id)
            kind = resource["Type"]
            prop, limit = _NAME_PROPERTY.get(kind, ("", 64))
            properties = resource.get("Properties") or {}
            if prop and prop in properties:
                name = str(
                    self.resolver.resolve(properties[prop], f"Resources.{logical_id}.Properties.{prop}")
                )
            else:
                suffix = ".fifo" if kind == "AWS::SQS::Queue" and _truthy(properties.get("FifoQueue")) else ""
                name = f"{self.stack_name}-{logical_id}"[: limit - len(suffix)] + suffix
        finally:
            self._naming.discard(logical_id)
        self._names[logical_id] = name
        return name

    def arn(self, logical_id: str) -> str:
        kind = self._resource(logical_id)["Type"]
        name = self.name(logical_id)
        region, account = self.region, self.account
        formats = {
            "AWS::Lambda::Function": f"arn:aws:lambda:{region}:{account}:function:{name}",
            "AWS::SQS::Queue": f"arn:aws:sqs:{region}:{account}:{name}",
            "AWS::StepFunctions::StateMachine": f"arn:aws:states:{region}:{account}:stateMachine:{name}",
            "AWS::Events::Rule": f"arn:aws:events:{region}:{account}:rule/{self._rule_path(logical_id)}",
            "AWS::Scheduler::Schedule": (
                f"arn:aws:scheduler:{region}:{account}:schedule/{self._schedule_group(logical_id)}/{name}"
            ),
            "AWS::Scheduler::ScheduleGroup": f"arn:aws:scheduler:{region}:{account}:schedule-group/{name}",
            "AWS::CloudWatch::Alarm": f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}",
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{region}:{account}:table/{name}",
            "AWS::SNS::Topic": f"arn:aws:sns:{region}:{account}:{name}",
            "AWS::Events::EventBus": f"arn:aws:events:{region}:{account}:event-bus/{name}",
            "AWS::IAM::Role": f"arn:aws:iam::{account}:role/{name}",
            "AWS::Logs::LogGroup": f"arn:aws:logs:{region}:{account}:log-group:{name}:*",
            "AWS::Lambda::LayerVersion": f"arn:aws:lambda:{region}:{account}:layer:{name}:1",
        }
        if kind in formats:
            return formats[kind]
        service = kind.split("::")[1].lower() if kind.count("::") == 2 else "custom"
        return f"arn:aws:{service}:{region}:{account}:{kind.split('::')[-1].lower()}/{name}"

    def _rule_path(self, logical_id: str) -> str:
        bus = (self._resource(logical_id).get("Properties") or {}).get("EventBusName", "default")
        bus = self.resolver.resolve(bus, f"Resources.{logical_id}.Properties.EventBusName")
        name = self.name(logical_id)
        return name if bus == "default" else f"{str(bus).rsplit('/', 1)[-1]}/{name}"

    def _schedule_group(self, logical_id: str) -> str:
        group = (self._resource(logical_id).get("Properties") or {}).get("GroupName", "default")
        return str(self.resolver.resolve(group, f"Resources.{logical_id}.Properties.GroupName"))

    def ref(self, logical_id: str) -> Any:
        """What `Ref` returns for each resource type (CloudFormation resource reference pages)."""
        kind = self._resource(logical_id)["Type"]
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{self.region}.amazonaws.com/{self.account}/{self.name(logical_id)}"
        if kind in ("AWS::StepFunctions::StateMachine", "AWS::SNS::Topic", "AWS::Lambda::LayerVersion"):
            return self.arn(logical_id)
        return self.name(logical_id)

    def get_att(self, logical_id: str, attribute: str) -> Any:
        """What `Fn::GetAtt` returns for the attributes the world models."""
        kind = self._resource(logical_id)["Type"]
        if kind.startswith("Custom::") or kind == "AWS::CloudFormation::CustomResource":
            raise TemplateError(
                f"Fn::GetAtt {logical_id}.{attribute}: custom resources are not modelled by the local world"
            )
        if attribute == "Arn":
            return self.arn(logical_id)
        known: dict[tuple[str, str], Any] = {
            ("AWS::SQS::Queue", "QueueName"): self.name(logical_id),
            ("AWS::SQS::Queue", "QueueUrl"): self.ref(logical_id) if kind == "AWS::SQS::Queue" else None,
            ("AWS::StepFunctions::StateMachine", "Name"): self.name(logical_id),
            ("AWS::SNS::Topic", "TopicName"): self.name(logical_id),
            ("AWS::SNS::Topic", "TopicArn"): self.arn(logical_id),
            ("AWS::DynamoDB::Table", "StreamArn"): f"{self.arn(logical_id)}/stream/1970-01-01T00:00:00.000",
            ("AWS::Events::EventBus", "Name"): self.name(logical_id),
            ("AWS::IAM::Role", "RoleId"): f"AROA{logical_id.upper()[:16]}",
        }
        if (kind, attribute) in known:
            return known[(kind, attribute)]
        raise TemplateError(
            f"Fn::GetAtt {logical_id}.{attribute}: {kind} has no attribute {attribute} (locally)"
        )

    def properties(self, logical_id: str) -> dict[str, Any]:
        resolved = self.resolver.resolve(
            self._resource(logical_id).get("Properties") or {}, f"Resources.{logical_id}.Properties"
        )
        return resolved if isinstance(resolved, dict) else {}


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _validate_parameters(declared: dict[str, Any], given: dict[str, str]) -> dict[str, Any]:
    """Parameter values, validated as CloudFormation validates them (Parameters section reference)."""
    unknown = set(given) - set(declared)
    if unknown:
        raise TemplateError(f"parameters {sorted(unknown)} are not declared by the template")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        where = f"Parameters.{name}"
        if name in given:
            raw = str(given[name])
        elif "Default" in spec:
            raw = str(spec["Default"])
        else:
            raise TemplateError(f"{where}: no value given and no Default")
        kind = str(spec.get("Type", "String"))
        items = (
            [item.strip() for item in raw.split(",")]
            if kind.startswith(("CommaDelimitedList", "List<"))
            else [raw]
        )
        for item in items:
            _check_parameter_value(item, spec, kind, where)
        values[name] = items if len(items) != 1 or kind.startswith(("CommaDelimitedList", "List<")) else raw
    return values


def _check_parameter_value(value: str, spec: dict[str, Any], kind: str, where: str) -> None:
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [str(option) for option in allowed]:
        raise TemplateError(f"{where}: {value!r} is not one of the AllowedValues {allowed}")
    pattern = spec.get("AllowedPattern")
    if pattern is not None and re.fullmatch(str(pattern), value) is None:
        detail = spec.get("ConstraintDescription", f"must match {pattern}")
        raise TemplateError(f"{where}: {value!r} is not allowed: {detail}")
    if "MinLength" in spec and len(value) < int(spec["MinLength"]):
        raise TemplateError(f"{where}: {value!r} is shorter than MinLength {spec['MinLength']}")
    if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
        raise TemplateError(f"{where}: {value!r} is longer than MaxLength {spec['MaxLength']}")
    if kind in ("Number", "List<Number>"):
        try:
            number = float(value)
        except ValueError:
            raise TemplateError(f"{where}: {value!r} is not a number") from None
        if "MinValue" in spec and number < float(spec["MinValue"]):
            raise TemplateError(f"{where}: {value} is below MinValue {spec['MinValue']}")
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            raise TemplateError(f"{where}: {value} is above MaxValue {spec['MaxValue']}")


def _parse(model: type[CfnProperties], properties: dict[str, Any], where: str) -> Any:
    try:
        return model.model_validate(properties)
    except ValidationError as error:
        problems = "; ".join(
            f"{where}.{'.'.join(str(part) for part in issue['loc'])}: {issue['msg']}"
            for issue in error.errors()
        )
        raise TemplateError(problems) from None


def read_stack(
    template_path: Path,
    *,
    stack_name: str,
    region: str,
    account_id: str,
    parameters: dict[str, str],
) -> Stack:
    """Read, expand, validate and resolve the template at `template_path`."""
    raw = load_template(template_path)
    template = expand_sam(raw, template_path.parent)
    reader = _StackReader(
        template, stack_name=stack_name, region=region, account_id=account_id, parameters=parameters
    )
    parts: dict[str, Any] = {
        "functions": {},
        "queues": {},
        "event_source_mappings": [],
        "state_machines": {},
        "rules": {},
        "schedules": {},
        "alarms": {},
        "tables": {},
        "topics": {},
        "event_buses": {},
        "schedule_groups": {},
        "unmodelled": {},
    }
    invoke_configs: dict[str, AsyncInvokeConfig] = {}
    for logical_id in sorted(reader.resources):
        if not reader.included(logical_id):
            continue
        kind = reader.resources[logical_id]["Type"]
        if kind == "AWS::Lambda::EventInvokeConfig":
            properties = reader.properties(logical_id)
            where = f"Resources.{logical_id}.Properties"
            config = _parse(AsyncInvokeConfig, properties, where)
            invoke_configs[str(properties.get("FunctionName"))] = config
        elif (
            kind in _NOT_MODELLED
            or kind.startswith("Custom::")
            or kind == "AWS::CloudFormation::CustomResource"
        ):
            parts["unmodelled"][logical_id] = (
                _NOT_MODELLED.get(kind) or "custom resources are not modelled locally"
            )
    for logical_id in sorted(reader.resources):
        if not reader.included(logical_id):
            continue
        _read_resource(reader, logical_id, parts)
    functions = {
        logical_id: spec.model_copy(update={"async_config": invoke_configs.get(spec.name, spec.async_config)})
        for logical_id, spec in parts["functions"].items()
    }
    parts["functions"] = functions
    _check_references(parts)
    outputs = {
        name: reader.resolver.resolve(output.get("Value"), f"Outputs.{name}.Value")
        for name, output in (template.get("Outputs") or {}).items()
        if output.get("Condition") is None
        or reader.resolver.condition(output["Condition"], f"Outputs.{name}")
    }
    return Stack(stack_name=stack_name, region=region, account_id=account_id, outputs=outputs, **parts)


def _read_resource(reader: _StackReader, logical_id: str, parts: dict[str, Any]) -> None:
    kind = reader.resources[logical_id]["Type"]
    where = f"Resources.{logical_id}.Properties"
    name = reader.name(logical_id)
    if kind == "AWS::Lambda::Function":
        function = _parse(FunctionProperties, reader.properties(logical_id), where)
        code_dir = function.code.get("LocalDirectory")
        if code_dir is None:
            raise TemplateError(f"{where}.Code: the local world runs SAM functions with a local CodeUri only")
        parts["functions"][logical_id] = FunctionSpec(
            logical_id=logical_id,
            name=name,
            arn=reader.arn(logical_id),
            handler=function.handler,
            code_dir=Path(code_dir),
            runtime=function.runtime,
            timeout_seconds=function.timeout,
            memory_mb=function.memory_size,
            environment={
                key: _env_text(value) for key, value in function.environment.get("Variables", {}).items()
            },
            dead_letter_arn=(function.dead_letter_config or {}).get("TargetArn"),
            async_config=AsyncInvokeConfig(),
            reserved_concurrency=function.reserved_concurrent_executions,
        )
    elif kind == "AWS::SQS::Queue":
        queue = _parse(QueueProperties, reader.properties(logical_id), where)
        if queue.fifo_queue != name.endswith(".fifo"):
            raise TemplateError(
                f"{where}.QueueName: a FIFO queue's name must end in .fifo (and only a FIFO queue's)"
            )
        _check_fifo_throughput(queue, where)
        parts["queues"][logical_id] = QueueSpec(
            logical_id=logical_id,
            name=name,
            arn=reader.arn(logical_id),
            url=reader.ref(logical_id),
            fifo=queue.fifo_queue,
            content_based_deduplication=queue.content_based_deduplication,
            visibility_timeout_seconds=queue.visibility_timeout,
            delay_seconds=queue.delay_seconds,
            message_retention_seconds=queue.message_retention_period,
            redrive_policy=queue.redrive_policy,
            deduplication_scope=queue.deduplication_scope or "queue",
            fifo_throughput_limit=queue.fifo_throughput_limit or "perQueue",
        )
    elif kind == "AWS::Lambda::EventSourceMapping":
        mapping = _parse(EventSourceMappingProperties, reader.properties(logical_id), where)
        if ":sqs:" not in mapping.event_source_arn:
            raise TemplateError(f"{where}.EventSourceArn: only SQS event sources are modelled locally")
        if mapping.event_source_arn.endswith(".fifo"):
            _check_fifo_mapping(mapping, where)
        parts["event_source_mappings"].append(
            EventSourceMappingSpec(
                logical_id=logical_id,
                function_name=function_name_from(mapping.function_name),
                queue_arn=mapping.event_source_arn,
                batch_size=mapping.batch_size,
                maximum_batching_window_seconds=mapping.maximum_batching_window,
                report_batch_item_failures="ReportBatchItemFailures" in mapping.function_response_types,
                enabled=mapping.enabled,
                maximum_concurrency=mapping.scaling_config.get("MaximumConcurrency"),
                filter_patterns=[entry["Pattern"] for entry in mapping.filter_criteria.get("Filters", [])],
            )
        )
    elif kind == "AWS::StepFunctions::StateMachine":
        machine = _parse(StateMachineProperties, reader.properties(logical_id), where)
        parts["state_machines"][logical_id] = StateMachineSpec(
            logical_id=logical_id,
            name=name,
            arn=reader.arn(logical_id),
            definition=_substitute_definition(machine, where),
            type=machine.type,
            role_arn=machine.role_arn,
        )
    elif kind == "AWS::Events::Rule":
        rule = _parse(RuleProperties, reader.properties(logical_id), where)
        if (rule.event_pattern is None) == (rule.schedule_expression is None):
            raise TemplateError(f"{where}: a rule needs exactly one of EventPattern and ScheduleExpression")
        parts["rules"][logical_id] = RuleSpec(
            logical_id=logical_id,
            name=name,
            arn=reader.arn(logical_id),
            event_bus_name=rule.event_bus_name.rsplit("/", 1)[-1],
            event_pattern=json.dumps(rule.event_pattern) if rule.event_pattern is not None else None,
            schedule_expression=rule.schedule_expression,
            enabled=rule.state != "DISABLED",
            targets=rule.targets,
        )
    elif kind == "AWS::Scheduler::Schedule":
        schedule = _parse(ScheduleProperties, reader.properties(logical_id), where)
        parts["schedules"][logical_id] = ScheduleSpec(
            logical_id=logical_id,
            name=name,
            group_name=schedule.group_name,
            arn=reader.arn(logical_id),
            expression=schedule.schedule_expression,
            timezone=schedule.timezone,
            flexible_time_window=schedule.flexible_time_window,
            target=schedule.target,
            enabled=schedule.state == "ENABLED",
            start_date=schedule.start_date,
            end_date=schedule.end_date,
            action_after_completion=schedule.action_after_completion,
        )
    elif kind == "AWS::CloudWatch::Alarm":
        parts["alarms"][logical_id] = _alarm_spec(
            logical_id, name, reader.arn(logical_id), reader.properties(logical_id), where
        )
    elif kind == "AWS::DynamoDB::Table":
        properties = reader.properties(logical_id)
        parts["tables"][logical_id] = TableSpec(
            logical_id=logical_id, name=name, arn=reader.arn(logical_id), properties=properties
        )
    elif kind == "AWS::SNS::Topic":
        parts["topics"][logical_id] = NamedResourceSpec(
            logical_id=logical_id, name=name, arn=reader.arn(logical_id)
        )
    elif kind == "AWS::Events::EventBus":
        parts["event_buses"][logical_id] = NamedResourceSpec(
            logical_id=logical_id, name=name, arn=reader.arn(logical_id)
        )
    elif kind == "AWS::Scheduler::ScheduleGroup":
        parts["schedule_groups"][logical_id] = NamedResourceSpec(
            logical_id=logical_id, name=name, arn=reader.arn(logical_id)
        )
    elif kind not in _NOT_MODELLED and logical_id not in parts["unmodelled"]:
        parts["unmodelled"][logical_id] = f"{kind} is not modelled by the local world"


def _check_fifo_throughput(queue: QueueProperties, where: str) -> None:
    """High-throughput attributes belong to FIFO queues, and perMessageGroupId needs messageGroup.

    SQS API Reference, CreateQueue, Attributes: "The perMessageGroupId value is allowed only when
    the value for DeduplicationScope is messageGroup."
    """
    if not queue.fifo_queue and (queue.deduplication_scope or queue.fifo_throughput_limit):
        raise TemplateError(f"{where}: DeduplicationScope and FifoThroughputLimit apply only to FIFO queues")
    if queue.fifo_throughput_limit == "perMessageGroupId" and queue.deduplication_scope != "messageGroup":
        raise TemplateError(
            f"{where}.FifoThroughputLimit: perMessageGroupId is allowed only when DeduplicationScope "
            f"is messageGroup (it is {queue.deduplication_scope or 'queue'})"
        )


def _check_fifo_mapping(mapping: EventSourceMappingProperties, where: str) -> None:
    """Lambda parameters for Amazon SQS event source mappings: for FIFO queues the BatchSize
    maximum is 10, and "Batching window is not supported for FIFO queues"."""
    if mapping.maximum_batching_window > 0:
        raise TemplateError(
            f"{where}.MaximumBatchingWindowInSeconds: batching window is not supported for FIFO "
            f"queues (got {mapping.maximum_batching_window}; Lambda invokes a FIFO mapping as soon "
            "as messages are available)"
        )
    if mapping.batch_size > 10:
        raise TemplateError(f"{where}.BatchSize: at most 10 for a FIFO queue (got {mapping.batch_size})")


def _env_text(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _alarm_spec(logical_id: str, name: str, arn: str, properties: dict[str, Any], where: str) -> AlarmSpec:
    alarm = _parse(AlarmProperties, properties, where)
    if alarm.metrics:
        returned = [query for query in alarm.metrics if query.return_data]
        if len(returned) != 1 or returned[0].metric_stat is None or any(q.expression for q in alarm.metrics):
            raise TemplateError(
                f"{where}.Metrics: metric math alarms are not evaluated locally (one MetricStat only)"
            )
        stat = returned[0].metric_stat
        metric = stat.metric
        namespace, metric_name = metric.get("Namespace"), metric.get("MetricName")
        dimensions = [Dimension.model_validate(item) for item in metric.get("Dimensions", [])]
        statistic, period = stat.stat, stat.period
    else:
        namespace, metric_name, dimensions = alarm.namespace, alarm.metric_name, alarm.dimensions
        statistic, period = alarm.statistic or alarm.extended_statistic, alarm.period
    if not namespace or not metric_name or statistic is None or period is None:
        raise TemplateError(
            f"{where}: an alarm needs Namespace, MetricName, Statistic (or ExtendedStatistic) and Period"
        )
    if period not in (10, 20, 30) and period % 60 != 0:
        raise TemplateError(f"{where}.Period: {period} must be 10, 20, 30 or a multiple of 60")
    try:
        return AlarmSpec(
            logical_id=logical_id,
            name=name,
            arn=arn,
            description=alarm.alarm_description,
            namespace=namespace,
            metric_name=metric_name,
            dimensions=dimensions,
            statistic=statistic,
            period_seconds=period,
            evaluation_periods=alarm.evaluation_periods,
            datapoints_to_alarm=alarm.datapoints_to_alarm or alarm.evaluation_periods,
            threshold=alarm.threshold,
            comparison_operator=alarm.comparison_operator,
            treat_missing_data=alarm.treat_missing_data,
            unit=alarm.unit,
        )
    except ValidationError as error:
        raise TemplateError(f"{where}: {error}") from None


def _substitute_definition(machine: StateMachineProperties, where: str) -> str:
    if machine.definition is not None:
        text = json.dumps(machine.definition)
    elif machine.definition_string is not None:
        text = machine.definition_string
    else:
        raise TemplateError(f"{where}: needs Definition or DefinitionString")
    values = {key: _env_text(value) for key, value in machine.substitutions.items()}
    missing = sorted({match.group(1) for match in _SUBSTITUTION.finditer(text)} - set(values))
    if missing:
        raise TemplateError(
            f"{where}.DefinitionSubstitutions: the definition uses "
            f"{', '.join('${' + name + '}' for name in missing)} "
            "but DefinitionSubstitutions does not define them"
        )
    return _SUBSTITUTION.sub(lambda match: json.dumps(values[match.group(1)])[1:-1], text)


def _check_references(parts: dict[str, Any]) -> None:
    """Every target, destination, DLQ and mapping must point at a resource of the template."""
    arns = {
        spec.arn
        for group in ("functions", "queues", "state_machines", "topics", "event_buses")
        for spec in parts[group].values()
    }
    arns.add("arn:aws:events:::event-bus/default")
    functions = {spec.name for spec in parts["functions"].values()}

    def check(arn: str | None, where: str) -> None:
        if arn is not None and arn not in arns and not arn.endswith(":event-bus/default"):
            raise TemplateError(
                f"{where}: {arn} is not a function, queue, state machine, topic or bus of the template"
            )

    for rule in parts["rules"].values():
        for target in rule.targets:
            check(target.arn, f"Resources.{rule.logical_id}.Targets[{target.id}].Arn")
            check(
                target.dead_letter_arn, f"Resources.{rule.logical_id}.Targets[{target.id}].DeadLetterConfig"
            )
    for schedule in parts["schedules"].values():
        check(schedule.target.arn, f"Resources.{schedule.logical_id}.Target.Arn")
        check(
            (schedule.target.dead_letter_config or {}).get("Arn"),
            f"Resources.{schedule.logical_id}.Target.DeadLetterConfig",
        )
    for function in parts["functions"].values():
        check(function.dead_letter_arn, f"Resources.{function.logical_id}.DeadLetterConfig")
        for outcome in (
            function.async_config.destinations.on_success,
            function.async_config.destinations.on_failure,
        ):
            if outcome is not None:
                check(
                    outcome.destination,
                    f"Resources.{function.logical_id} EventInvokeConfig.DestinationConfig",
                )
    for queue in parts["queues"].values():
        if queue.redrive_policy is not None:
            check(queue.redrive_policy.dead_letter_target_arn, f"Resources.{queue.logical_id}.RedrivePolicy")
    for mapping in parts["event_source_mappings"]:
        check(mapping.queue_arn, f"Resources.{mapping.logical_id}.EventSourceArn")
        if mapping.function_name not in functions:
            raise TemplateError(
                f"Resources.{mapping.logical_id}.FunctionName: {mapping.function_name} "
                "is not a function of the template"
            )
