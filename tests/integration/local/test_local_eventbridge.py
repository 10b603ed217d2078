"""EventBridge rules in the local world: matching, input transformation, delivery, dead letters.

Facts and sources (EventBridge User Guide): rules select events by pattern ("Amazon EventBridge
event patterns"); an input transformer fills its template from InputPathsMap and predefined
variables such as <aws.events.rule-name> ("Transforming target input"); a target that no longer
exists is not retried and the event goes to the target's DLQ with RULE_ARN, TARGET_ARN,
ERROR_CODE, ERROR_MESSAGE and RETRY_ATTEMPTS attributes ("Using dead-letter queues to process
undelivered events"); a scheduled rule sends "Scheduled Event"s from aws.events ("Creating a rule
that runs on a schedule"; fixture scheduled_event.json).
"""

from __future__ import annotations

import json

import pytest

from ebb.local.targets import DeliveryError
from ebb.local.world import LocalWorld

from .world_testkit import fixture_json, missing_from

pytestmark = pytest.mark.integration


def test_a_rule_delivers_a_transformed_event_to_a_function_and_ignores_what_does_not_match(
    world: LocalWorld,
) -> None:
    from moto.events.models import EventPattern

    sample = fixture_json("thing_happened")
    pattern = EventPattern.load(world.stack.rules["RecorderThingsHappening"].event_pattern)
    assert pattern.matches_event(sample)

    world.emit_event(source="ebb.test", detail_type="Thing Happened", detail={"kind": "wanted", "size": 3})
    world.emit_event(source="ebb.test", detail_type="Thing Happened", detail={"kind": "unwanted", "size": 4})
    world.emit_event(source="ebb.other", detail_type="Thing Happened", detail={"kind": "wanted", "size": 5})
    world.run_until_quiet()

    deliveries = [d for d in world.eventbridge.deliveries if d.rule_name.endswith("RecorderThingsHappening")]
    assert [d.payload for d in deliveries] == [
        {
            "what": "wanted",
            "size": 3,
            "note": "a wanted thing",
            "rule": world.stack.rules["RecorderThingsHappening"].name,
        }
    ]
    received = [
        i.event
        for i in world.lambda_runtime.invocations
        if i.function_name == world.function_name("Recorder")
    ]
    assert {
        "what": "wanted",
        "size": 3,
        "note": "a wanted thing",
        "rule": deliveries[0].payload["rule"],
    } in received
    assert not any(isinstance(event, dict) and event.get("size") in (4, 5) for event in received)


def test_a_rule_starts_a_state_machine_with_the_event_as_its_input(world: LocalWorld) -> None:
    event = world.emit_event(source="ebb.test", detail_type="Pipeline Requested", detail={"pool": "gpu"})
    world.run_until_quiet()

    sfn = world.clients.client("stepfunctions")
    (execution,) = sfn.list_executions(stateMachineArn=world.state_machine_arn("Pipeline"))["executions"]
    described = sfn.describe_execution(executionArn=execution["executionArn"])
    assert json.loads(described["input"]) == event
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["received"] == event


def test_an_event_for_a_target_that_is_gone_goes_to_the_dead_letter_queue(world: LocalWorld) -> None:
    sfn = world.clients.client("stepfunctions")
    sfn.delete_state_machine(stateMachineArn=world.state_machine_arn("Ephemeral"))
    event = world.emit_event(source="ebb.test", detail_type="Orphaned", detail={"n": 1})
    world.run_until_quiet()

    (dead,) = world.receive_all("OrphanDeadLetters")
    assert json.loads(dead["Body"]) == event
    attributes = {name: value["StringValue"] for name, value in dead["MessageAttributes"].items()}
    assert attributes["RULE_ARN"] == world.stack.rules["OrphanRule"].arn
    assert attributes["TARGET_ARN"] == world.state_machine_arn("Ephemeral")
    assert attributes["ERROR_CODE"] == "RESOURCE_NOT_FOUND"
    assert attributes["RETRY_ATTEMPTS"] == "0"
    assert "EXHAUSTED_RETRY_CONDITION" not in attributes


def test_a_disabled_rule_delivers_nothing(world: LocalWorld) -> None:
    world.clients.client("events").disable_rule(Name=world.stack.rules["PipelinePipelineRequests"].name)
    world.emit_event(source="ebb.test", detail_type="Pipeline Requested", detail={})
    world.run_until_quiet()
    assert (
        world.clients.client("stepfunctions").list_executions(
            stateMachineArn=world.state_machine_arn("Pipeline")
        )["executions"]
        == []
    )


def test_put_events_through_the_api_reaches_the_rules_in_the_real_shape(world: LocalWorld) -> None:
    world.clients.client("events").put_events(
        Entries=[
            {
                "Source": "ebb.test",
                "DetailType": "Thing Happened",
                "Detail": json.dumps({"kind": "wanted", "size": 9}),
            }
        ]
    )
    world.run_until_quiet()
    (published,) = [event for _, event in world.eventbridge.published]
    assert missing_from(published, fixture_json("thing_happened")) == []
    assert published["time"].endswith("Z")


def test_a_scheduled_rule_sends_scheduled_events_on_the_clock(world: LocalWorld) -> None:
    events = world.clients.client("events")
    rule_arn = events.put_rule(Name="every-five-minutes", ScheduleExpression="rate(5 minutes)")["RuleArn"]
    events.put_targets(
        Rule="every-five-minutes", Targets=[{"Id": "queue", "Arn": world.stack.queues["FailerFailures"].arn}]
    )
    world.run_for(16 * 60)

    bodies = [json.loads(message["Body"]) for message in world.receive_all("FailerFailures")]
    assert [body["time"][11:16] for body in bodies] == ["00:05", "00:10", "00:15"]
    for body in bodies:
        assert missing_from(body, fixture_json("scheduled_event")) == []
        assert body["resources"] == [rule_arn]


def take_ticks(world: LocalWorld) -> list[str]:
    """The times of the Scheduled Events waiting in ScheduledTicks (taken off the queue)."""
    messages = world.receive_all("ScheduledTicks")
    sqs = world.clients.client("sqs")
    for message in messages:
        sqs.delete_message(QueueUrl=world.queue_url("ScheduledTicks"), ReceiptHandle=message["ReceiptHandle"])
    return [json.loads(message["Body"])["time"][11:16] for message in messages]


def test_a_disabled_scheduled_rule_sends_nothing_until_enabled_and_stops_when_disabled_again(
    world: LocalWorld,
) -> None:
    # "A disabled rule won't match any events, and won't self-trigger if it has a schedule
    # expression." (EventBridge API Reference, DisableRule; the same text is in botocore's
    # events service model). DisabledTick: rate(5 minutes), State DISABLED in the template.
    events = world.clients.client("events")
    name = world.stack.rules["DisabledTick"].name
    assert events.describe_rule(Name=name)["State"] == "DISABLED"
    world.run_for(16 * 60)
    assert take_ticks(world) == []

    events.enable_rule(Name=name)
    world.run_for(11 * 60)
    assert take_ticks(world) == ["00:20", "00:25"]

    events.disable_rule(Name=name)
    world.run_for(30 * 60)
    assert take_ticks(world) == []


class _Throttled:
    """A target that is always throttled, to watch the rule's retry policy play out."""

    def __init__(self) -> None:
        self.attempts = 0

    def deliver(self, arn: str, payload: object, *, message_group_id: str | None = None) -> str:
        self.attempts += 1
        raise DeliveryError("THROTTLING", "Rate exceeded", retryable=True)


def test_a_throttled_target_is_retried_with_backoff_then_dead_lettered(world: LocalWorld) -> None:
    # PipelineRequests' RetryPolicy: MaximumRetryAttempts 3, MaximumEventAgeInSeconds 600.
    throttled = _Throttled()
    world.eventbridge.targets = throttled  # type: ignore[assignment]
    event = world.emit_event(source="ebb.test", detail_type="Pipeline Requested", detail={})
    start = world.now()
    world.run_until_quiet()

    assert throttled.attempts == 4  # the first attempt and three retries
    (dead,) = world.receive_all("PipelinePipelineRequestsQueue")
    assert json.loads(dead["Body"]) == event
    attributes = {name: value["StringValue"] for name, value in dead["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "THROTTLING"
    assert attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert attributes["RETRY_ATTEMPTS"] == "3"
    # Exponential backoff with full jitter: the three waits are at most 1 + 2 + 4 seconds.
    (delivery,) = [
        d for d in world.eventbridge.deliveries if d.rule_name.endswith("PipelinePipelineRequests")
    ]
    assert 0 < (delivery.at - start).total_seconds() <= 7
