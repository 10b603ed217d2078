"""Reading a SAM/CloudFormation template as the local world runs it, and refusing wrong ones.

Sources: AWS SAM Developer Guide ("Globals section": maps merge, lists concatenate, the resource
wins; generated resources of function and state machine events are named <Resource><Event>;
"DefinitionSubstitutions"); AWS CloudFormation User Guide ("Intrinsic function reference",
"Parameters": AllowedValues, AllowedPattern, MinValue...; "Conditions").
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from ebb.local.errors import TemplateError
from ebb.local.stack_model import read_stack
from ebb.local.stack_resources import Stack
from ebb.local.world import LocalWorldConfig, start_local_world

from .world_testkit import TEMPLATE

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


def read(path: Path, **parameters: str) -> Stack:
    return read_stack(
        path, stack_name="ebb-local", region="eu-west-1", account_id="111122223333", parameters=parameters
    )


def write_template(tmp_path: Path, resources: str, *, extra: str = "") -> Path:
    (tmp_path / "code").mkdir(exist_ok=True)
    (tmp_path / "code" / "app.py").write_text("def handler(event, context):\n    return event\n")
    template = tmp_path / "template.yaml"
    body = textwrap.dedent(
        """\
        Transform: AWS::Serverless-2016-10-31
        {extra}
        Resources:
        {resources}
        """
    ).format(extra=textwrap.dedent(extra), resources=textwrap.indent(textwrap.dedent(resources), "  "))
    template.write_text(body)
    return template


def test_the_test_template_expands_globals_events_and_substitutions() -> None:
    stack = read(TEMPLATE)

    recorder = stack.functions["Recorder"]
    assert (recorder.timeout_seconds, recorder.memory_mb) == (30, 256)
    assert recorder.environment == {"RECORD_TABLE": "ebb-local-RecordTable", "STAGE": "test"}
    assert recorder.arn == "arn:aws:lambda:eu-west-1:111122223333:function:ebb-local-Recorder"
    assert stack.functions["Sleeper"].timeout_seconds == 5  # the resource wins over Globals

    assert set(stack.rules) >= {"RecorderAlarmChanges", "RecorderThingsHappening", "PipelinePipelineRequests"}
    assert json.loads(stack.rules["RecorderAlarmChanges"].event_pattern or "")["detail"]["alarmName"] == [
        {"prefix": "ebb-local-Backlog"}
    ]
    assert stack.schedules["RecorderTick"].expression == "rate(15 minutes)"
    (mapping,) = stack.event_source_mappings
    assert (mapping.logical_id, mapping.batch_size, mapping.report_batch_item_failures) == (
        "BatchConsumerJobs",
        3,
        True,
    )
    # SAM's DeadLetterConfig Type: SQS makes a queue named <Rule>Queue.
    assert (
        stack.rules["PipelinePipelineRequests"].targets[0].dead_letter_arn
        == stack.queues["PipelinePipelineRequestsQueue"].arn
    )

    definition = json.loads(stack.state_machines["Determinism"].definition)
    assert (
        definition["States"]["EachItem"]["ItemProcessor"]["States"]["CallFlaky"]["Resource"]
        == stack.functions["Flaky"].arn
    )
    assert stack.queues["JobsDeadLetters"].name == "ebb-local-JobsDeadLetters.fifo"
    assert (
        stack.outputs["JobsQueueUrl"]
        == "https://sqs.eu-west-1.amazonaws.com/111122223333/ebb-local-Jobs.fifo"
    )
    assert stack.unmodelled == {"SecurityRole": "IAM is not enforced locally"}


def test_conditions_and_parameters_are_applied_as_cloudformation_applies_them() -> None:
    assert "OrphanRule" in read(TEMPLATE).rules
    demo = read(TEMPLATE, Stage="demo", AlarmThreshold="25")
    assert "OrphanRule" not in demo.rules
    assert demo.alarms["BacklogAlarm"].threshold == 25.0

    with pytest.raises(TemplateError, match=r"Parameters\.Stage: 'prod' is not one of the AllowedValues"):
        read(TEMPLATE, Stage="prod")
    with pytest.raises(TemplateError, match=r"Parameters\.AlarmThreshold: 0 is below MinValue 1"):
        read(TEMPLATE, AlarmThreshold="0")
    with pytest.raises(TemplateError, match="not declared"):
        read(TEMPLATE, Colour="blue")


def test_the_project_template_reads(tmp_path: Path) -> None:
    stack = read(
        ROOT / "template.yaml",
        HyperPodClusterName="ml-cluster",
        HyperPodClusterArn="arn:aws:sagemaker:eu-west-1:111122223333:cluster/abcdef012345",
        EksClusterName="ml-eks",
    )
    assert "StateTable" in stack.tables
    assert stack.tables["StateTable"].properties["TimeToLiveSpecification"]["AttributeName"] == "expires_at"


def test_a_definition_substitution_that_is_not_defined_fails(tmp_path: Path) -> None:
    (tmp_path / "machine.json").write_text(
        json.dumps({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "${Missing}", "End": True}}})
    )
    template = write_template(
        tmp_path,
        """\
        Machine:
          Type: AWS::Serverless::StateMachine
          Properties:
            DefinitionUri: machine.json
            DefinitionSubstitutions:
              Present: x
        """,
    )
    with pytest.raises(TemplateError, match=r"Resources\.Machine.*\$\{Missing\}"):
        read(template)


def test_a_rule_target_outside_the_template_fails(tmp_path: Path) -> None:
    template = write_template(
        tmp_path,
        """\
        Rule:
          Type: AWS::Events::Rule
          Properties:
            EventPattern: {source: [x]}
            Targets:
              - Id: t
                Arn: arn:aws:lambda:eu-west-1:111122223333:function:not-in-this-stack
        """,
    )
    with pytest.raises(TemplateError, match=r"Resources\.Rule\.Targets\[t\]\.Arn: .*not-in-this-stack"):
        read(template)


def test_a_wrong_event_pattern_fails_when_the_world_starts(tmp_path: Path) -> None:
    template = write_template(
        tmp_path,
        """\
        Fn:
          Type: AWS::Serverless::Function
          Properties:
            CodeUri: code/
            Handler: app.handler
            Events:
              Bad:
                Type: EventBridgeRule
                Properties:
                  Pattern: {source: aws.cloudwatch}
        """,
    )
    with (
        pytest.raises(TemplateError, match=r"Resources\.FnBad: EventBridge rejects the rule"),
        start_local_world(template),
    ):
        pass


def test_a_wrong_handler_and_a_wrong_property_fail(tmp_path: Path) -> None:
    missing_handler = write_template(
        tmp_path,
        """\
        Fn:
          Type: AWS::Serverless::Function
          Properties:
            CodeUri: code/
            Handler: app.nowhere
        """,
    )
    with (
        pytest.raises(TemplateError, match=r"Resources\.Fn\.Handler: .*has no function nowhere"),
        start_local_world(missing_handler, LocalWorldConfig()),
    ):
        pass

    bad_timeout = write_template(
        tmp_path,
        """\
        Fn:
          Type: AWS::Serverless::Function
          Properties:
            CodeUri: code/
            Handler: app.handler
            Timeout: 1000
        """,
    )
    with pytest.raises(
        TemplateError, match=r"Resources\.Fn\.Properties\.Timeout: .*less than or equal to 900"
    ):
        read(bad_timeout)


def test_intrinsics_resolve_and_custom_resources_are_reported_unmodelled(tmp_path: Path) -> None:
    template = write_template(
        tmp_path,
        """\
        Queue:
          Type: AWS::SQS::Queue
          Properties:
            QueueName: !Join
              - "-"
              - - !Ref AWS::StackName
                - !Select [1, !Split [",", "a,jobs,c"]]
                - !FindInMap [Sizes, eu-west-1, suffix]
        Custom:
          Type: Custom::Thing
          Properties:
            ServiceToken: !GetAtt Queue.Arn
        """,
        extra="""\
        Mappings:
          Sizes:
            eu-west-1: {suffix: large}
        Outputs:
          Url: {Value: !Sub "${Queue}#${Queue.QueueName}"}
        """,
    )
    stack = read(template)
    assert stack.queues["Queue"].name == "ebb-local-jobs-large"
    assert stack.outputs["Url"] == f"{stack.queues['Queue'].url}#ebb-local-jobs-large"
    assert stack.unmodelled == {"Custom": "custom resources are not modelled locally"}
