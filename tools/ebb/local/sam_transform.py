"""The parts of the SAM transform (AWS::Serverless-2016-10-31) that ebb's template uses.

Turns `Globals` and the `AWS::Serverless::*` resources into the CloudFormation resources SAM
would generate, so that the rest of the local world reads one vocabulary. Follows the AWS SAM
Developer Guide ("AWS SAM template anatomy", "Globals section", "AWS::Serverless::Function",
"AWS::Serverless::StateMachine" and their event source types). Generated logical ids follow
SAM's conventions (`<Function><Event>` for rules, schedules and mappings). Intrinsics are left
unresolved; state-machine definition files are read here (relative to the template).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml

from ebb.local.errors import TemplateError

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
_FUNCTION_DEFAULTS = {"Timeout": 3, "MemorySize": 128}
# Properties of a SAM function or state machine the local world has no use for (deployment,
# permissions, tracing, packaging); everything else it does not know is reported.
_IGNORED_FUNCTION_PROPERTIES = {
    "Architectures",
    "AutoPublishAlias",
    "CodeSigningConfigArn",
    "DeploymentPreference",
    "Description",
    "EphemeralStorage",
    "FileSystemConfigs",
    "FunctionUrlConfig",
    "KmsKeyArn",
    "Layers",
    "LoggingConfig",
    "PermissionsBoundary",
    "Policies",
    "PropagateTags",
    "ProvisionedConcurrencyConfig",
    "Role",
    "RuntimeManagementConfig",
    "SnapStart",
    "Tags",
    "Tracing",
    "VpcConfig",
    "AutoPublishCodeSha256",
    "AutoPublishAliasAllProperties",
    "VersionDescription",
    "RecursiveLoop",
}


def expand_sam(template: dict[str, Any], template_dir: Path) -> dict[str, Any]:
    """Return a copy of `template` with the SAM shorthand expanded into CloudFormation."""
    document = copy.deepcopy(template)
    transforms = document.get("Transform", [])
    transforms = [transforms] if isinstance(transforms, str) else list(transforms or [])
    resources: dict[str, Any] = document["Resources"]
    has_serverless = any(
        isinstance(resource, dict) and str(resource.get("Type", "")).startswith("AWS::Serverless::")
        for resource in resources.values()
    )
    if has_serverless and SAM_TRANSFORM not in transforms:
        raise TemplateError(
            f"the template uses AWS::Serverless resources but does not declare Transform: {SAM_TRANSFORM}"
        )
    globals_section = document.pop("Globals", {}) or {}
    expanded: dict[str, Any] = {}
    for logical_id, resource in resources.items():
        if not isinstance(resource, dict) or "Type" not in resource:
            raise TemplateError(f"Resources.{logical_id}: a resource needs a Type")
        kind = resource["Type"]
        if kind == "AWS::Serverless::Function":
            merged = _with_globals(resource, globals_section.get("Function", {}))
            expanded.update(_expand_function(logical_id, merged, template_dir))
        elif kind == "AWS::Serverless::StateMachine":
            merged = _with_globals(resource, globals_section.get("StateMachine", {}))
            expanded.update(_expand_state_machine(logical_id, merged, template_dir))
        elif kind == "AWS::Serverless::LayerVersion":
            expanded[logical_id] = {**resource, "Type": "AWS::Lambda::LayerVersion"}
        elif kind == "AWS::Serverless::SimpleTable":
            expanded[logical_id] = _expand_simple_table(resource)
        elif kind.startswith("AWS::Serverless::"):
            raise TemplateError(f"Resources.{logical_id}: {kind} is not supported by the local world")
        else:
            expanded[logical_id] = resource
    document["Resources"] = expanded
    document["Transform"] = [transform for transform in transforms if transform != SAM_TRANSFORM]
    return document


def _merge_global(global_value: Any, local_value: Any) -> Any:
    # SAM: maps merge (the resource wins), lists are concatenated (globals first), scalars are replaced.
    if isinstance(global_value, dict) and isinstance(local_value, dict) and not _is_intrinsic(local_value):
        merged = dict(global_value)
        for key, value in local_value.items():
            merged[key] = _merge_global(global_value[key], value) if key in global_value else value
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list):
        return [*global_value, *local_value]
    return local_value


def _is_intrinsic(value: dict[str, Any]) -> bool:
    return len(value) == 1 and (next(iter(value)) == "Ref" or next(iter(value)).startswith("Fn::"))


def _with_globals(resource: dict[str, Any], global_properties: dict[str, Any]) -> dict[str, Any]:
    properties = dict(resource.get("Properties") or {})
    merged = dict(global_properties)
    for key, value in properties.items():
        merged[key] = _merge_global(global_properties[key], value) if key in global_properties else value
    return {**resource, "Properties": merged}


def _expand_function(logical_id: str, resource: dict[str, Any], template_dir: Path) -> dict[str, Any]:
    where = f"Resources.{logical_id}"
    properties = {**_FUNCTION_DEFAULTS, **resource["Properties"]}
    if "InlineCode" in properties:
        raise TemplateError(f"{where}.InlineCode: inline code is not supported; use CodeUri")
    code_uri = properties.pop("CodeUri", None)
    if not isinstance(code_uri, str):
        raise TemplateError(
            f"{where}.CodeUri: the local world runs code from a local directory (a path string)"
        )
    code_dir = (template_dir / code_uri).resolve()
    if not code_dir.is_dir():
        raise TemplateError(f"{where}.CodeUri: {code_dir} is not a directory")
    events = properties.pop("Events", None) or {}
    dead_letter = properties.pop("DeadLetterQueue", None)
    invoke_config = properties.pop("EventInvokeConfig", None)
    unknown = (
        set(properties)
        - _IGNORED_FUNCTION_PROPERTIES
        - {
            "FunctionName",
            "Handler",
            "Runtime",
            "Timeout",
            "MemorySize",
            "Environment",
            "PackageType",
            "ImageUri",
            "ImageConfig",
            "ReservedConcurrentExecutions",
        }
    )
    if unknown:
        raise TemplateError(f"{where}: unknown properties {sorted(unknown)}")
    function_properties: dict[str, Any] = {
        key: properties[key]
        for key in (
            "FunctionName",
            "Handler",
            "Runtime",
            "Timeout",
            "MemorySize",
            "Environment",
            "ReservedConcurrentExecutions",
        )
        if key in properties
    }
    function_properties["Code"] = {"LocalDirectory": str(code_dir)}
    if dead_letter is not None:
        if not isinstance(dead_letter, dict) or "TargetArn" not in dead_letter:
            raise TemplateError(f"{where}.DeadLetterQueue: needs Type (SQS or SNS) and TargetArn")
        function_properties["DeadLetterConfig"] = {"TargetArn": dead_letter["TargetArn"]}
    generated: dict[str, Any] = {
        logical_id: {
            **_resource_attributes(resource),
            "Type": "AWS::Lambda::Function",
            "Properties": function_properties,
        }
    }
    function_arn = {"Fn::GetAtt": [logical_id, "Arn"]}
    if invoke_config is not None:
        generated[f"{logical_id}EventInvokeConfig"] = {
            "Type": "AWS::Lambda::EventInvokeConfig",
            "Properties": {
                "FunctionName": {"Ref": logical_id},
                "Qualifier": "$LATEST",
                **{
                    key: _destination_config(value) if key == "DestinationConfig" else value
                    for key, value in invoke_config.items()
                },
            },
        }
    for event_name, event in events.items():
        generated.update(_expand_event(logical_id, event_name, event, function_arn, function=True))
    return generated


def _destination_config(config: dict[str, Any]) -> dict[str, Any]:
    # SAM's {OnFailure: {Type, Destination}} -> CloudFormation's {OnFailure: {Destination}}.
    return {
        outcome: {"Destination": target.get("Destination")}
        for outcome, target in config.items()
        if isinstance(target, dict)
    }


def _expand_state_machine(logical_id: str, resource: dict[str, Any], template_dir: Path) -> dict[str, Any]:
    where = f"Resources.{logical_id}"
    properties = dict(resource["Properties"])
    events = properties.pop("Events", None) or {}
    if "DefinitionUri" in properties:
        uri = properties.pop("DefinitionUri")
        if not isinstance(uri, str):
            raise TemplateError(f"{where}.DefinitionUri: the local world reads definitions from a local path")
        path = (template_dir / uri).resolve()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise TemplateError(f"{where}.DefinitionUri: cannot read {path}: {error}") from error
        try:
            definition = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as error:
            raise TemplateError(f"{where}.DefinitionUri: {path} is not valid JSON/YAML: {error}") from error
    elif "Definition" in properties:
        definition = properties.pop("Definition")
    else:
        raise TemplateError(f"{where}: needs Definition or DefinitionUri")
    state_machine_properties: dict[str, Any] = {
        "Definition": definition,
        "StateMachineType": properties.get("Type", "STANDARD"),
        "RoleArn": properties.get(
            "Role", {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/" + f"{logical_id}Role"}
        ),
    }
    if "Name" in properties:
        state_machine_properties["StateMachineName"] = properties["Name"]
    if "DefinitionSubstitutions" in properties:
        state_machine_properties["DefinitionSubstitutions"] = properties["DefinitionSubstitutions"]
    generated: dict[str, Any] = {
        logical_id: {
            **_resource_attributes(resource),
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": state_machine_properties,
        }
    }
    for event_name, event in events.items():
        generated.update(_expand_event(logical_id, event_name, event, {"Ref": logical_id}, function=False))
    return generated


def _resource_attributes(resource: dict[str, Any]) -> dict[str, Any]:
    return {key: resource[key] for key in ("Condition", "DependsOn", "Metadata") if key in resource}


def _expand_event(
    owner: str, event_name: str, event: dict[str, Any], target_arn: dict[str, Any], *, function: bool
) -> dict[str, Any]:
    where = f"Resources.{owner}.Events.{event_name}"
    if not isinstance(event, dict) or "Type" not in event:
        raise TemplateError(f"{where}: an event needs a Type")
    kind = event["Type"]
    properties = dict(event.get("Properties") or {})
    logical_id = f"{owner}{event_name}"
    generated: dict[str, Any] = {}
    dead_letter = _dead_letter(logical_id, properties.pop("DeadLetterConfig", None), generated, where)
    if kind in ("EventBridgeRule", "CloudWatchEvent", "Schedule"):
        target: dict[str, Any] = {
            "Id": properties.get("Target", {}).get("Id", f"{logical_id}Target"),
            "Arn": target_arn,
        }
        for key in ("Input", "InputPath", "InputTransformer", "RetryPolicy"):
            if key in properties:
                target[key] = properties[key]
        if dead_letter is not None:
            target["DeadLetterConfig"] = {"Arn": dead_letter}
        rule: dict[str, Any] = {"Targets": [target], "State": _state(properties)}
        if kind == "Schedule":
            rule["ScheduleExpression"] = properties.get("Schedule")
            name = properties.get("Name")
        else:
            rule["EventPattern"] = properties.get("Pattern")
            name = properties.get("RuleName")
            if "EventBusName" in properties:
                rule["EventBusName"] = properties["EventBusName"]
        if name is not None:
            rule["Name"] = name
        generated[logical_id] = {"Type": "AWS::Events::Rule", "Properties": rule}
    elif kind == "ScheduleV2":
        schedule_target: dict[str, Any] = {
            "Arn": target_arn,
            "RoleArn": properties.get(
                "RoleArn",
                {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/" + f"{logical_id}Role"},
            ),
        }
        for key in ("Input", "RetryPolicy"):
            if key in properties:
                schedule_target[key] = properties[key]
        if dead_letter is not None:
            schedule_target["DeadLetterConfig"] = {"Arn": dead_letter}
        schedule: dict[str, Any] = {
            "ScheduleExpression": properties.get("ScheduleExpression"),
            "FlexibleTimeWindow": properties.get("FlexibleTimeWindow", {"Mode": "OFF"}),
            "Target": schedule_target,
            "State": properties.get("State", "ENABLED"),
        }
        for key in (
            "ScheduleExpressionTimezone",
            "StartDate",
            "EndDate",
            "GroupName",
            "Description",
            "ActionAfterCompletion",
        ):
            if key in properties:
                schedule[key] = properties[key]
        if "Name" in properties:
            schedule["Name"] = properties["Name"]
        generated[logical_id] = {"Type": "AWS::Scheduler::Schedule", "Properties": schedule}
    elif kind == "SQS" and function:
        mapping = {"EventSourceArn": properties.get("Queue"), "FunctionName": {"Ref": owner}}
        for key in (
            "BatchSize",
            "Enabled",
            "MaximumBatchingWindowInSeconds",
            "FunctionResponseTypes",
            "ScalingConfig",
            "FilterCriteria",
        ):
            if key in properties:
                mapping[key] = properties[key]
        generated[logical_id] = {"Type": "AWS::Lambda::EventSourceMapping", "Properties": mapping}
    else:
        raise TemplateError(f"{where}: event type {kind} is not supported by the local world")
    return generated


def _state(properties: dict[str, Any]) -> Any:
    if "State" in properties:
        return properties["State"]
    if "Enabled" in properties:
        return "ENABLED" if properties["Enabled"] else "DISABLED"
    return "ENABLED"


def _dead_letter(logical_id: str, config: Any, generated: dict[str, Any], where: str) -> Any:
    if config is None:
        return None
    if not isinstance(config, dict):
        raise TemplateError(f"{where}.DeadLetterConfig: expected a mapping")
    if "Arn" in config:
        return config["Arn"]
    if config.get("Type") == "SQS":
        queue_id = config.get("QueueLogicalId", f"{logical_id}Queue")
        generated[queue_id] = {"Type": "AWS::SQS::Queue", "Properties": {}}
        return {"Fn::GetAtt": [queue_id, "Arn"]}
    raise TemplateError(f"{where}.DeadLetterConfig: needs Arn, or Type: SQS")


def _expand_simple_table(resource: dict[str, Any]) -> dict[str, Any]:
    properties = resource.get("Properties") or {}
    key = properties.get("PrimaryKey", {"Name": "id", "Type": "String"})
    attribute_type = {"String": "S", "Number": "N", "Binary": "B"}.get(key.get("Type", "String"), "S")
    table: dict[str, Any] = {
        "AttributeDefinitions": [{"AttributeName": key["Name"], "AttributeType": attribute_type}],
        "KeySchema": [{"AttributeName": key["Name"], "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if "TableName" in properties:
        table["TableName"] = properties["TableName"]
    return {**_resource_attributes(resource), "Type": "AWS::DynamoDB::Table", "Properties": table}
