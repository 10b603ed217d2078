"""CloudWatch alarms evaluated on the metrics put into the local CloudWatch.

The template's two alarms watch the same metric (Maximum over 60 s, 2 of 2 periods above 10) and
differ only in TreatMissingData. Facts and sources: alarms are evaluated every minute, each
period ending at the evaluation time (CloudWatch User Guide, limits of alarms on connected data
sources); states follow "Configuring how CloudWatch alarms treat missing data" (tested row by
row in test_local_alarm_evaluation.py); each change is an event "CloudWatch Alarm State Change"
from aws.cloudwatch, shaped as in "Alarm events and EventBridge" (fixture
cloudwatch_alarm_state_change.json, hand-written from that page).
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from ebb.local.world import LocalWorld

from .world_testkit import fixture_json, items_of, missing_from

pytestmark = pytest.mark.integration


def backlog(world: LocalWorld, value: float) -> None:
    world.put_metric(
        "AWS/SQS", "ApproximateNumberOfMessagesVisible", value, {"QueueName": world.stack.queues["Jobs"].name}
    )


def states(world: LocalWorld, alarm: str) -> list[tuple[int, str]]:
    """(minutes since the world started, new state) of each change of one alarm."""
    start = world.config.start_time
    return [
        (int((change.at - start).total_seconds() // 60), change.state)
        for change in world.alarms.transitions
        if change.alarm_name == alarm
    ]


def test_ok_alarm_ok_on_put_metrics_with_missing_data_treated_per_alarm(world: LocalWorld) -> None:
    stack = world.config.stack_name
    plain, missing = f"{stack}-Backlog", f"{stack}-BacklogMissing"
    # One datapoint a minute, put half-way through each minute: 2, 3, then 40, 50, then 1.
    for value in (2, 3, 40, 50, 1):
        world.run_for(30)
        backlog(world, value)
        world.run_for(30)
    world.run_for(6 * 60)  # then the metric stops

    # notBreaching: OK at once (missing data is fine), ALARM after two breaching minutes, OK again.
    assert states(world, plain) == [(1, "OK"), (4, "ALARM"), (5, "OK")]
    # missing: OK on the first non-breaching datapoint (the guide's row "- - - - 0"), the same ALARM
    # and OK, then no data left in the evaluation range (4 periods for EvaluationPeriods 2) makes it
    # INSUFFICIENT_DATA, while the notBreaching alarm stays OK.
    assert states(world, missing) == [(1, "OK"), (4, "ALARM"), (5, "OK"), (9, "INSUFFICIENT_DATA")]

    described = world.clients.client("cloudwatch").describe_alarms(AlarmNames=[plain, missing])[
        "MetricAlarms"
    ]
    assert {alarm["AlarmName"]: alarm["StateValue"] for alarm in described} == {
        plain: "OK",
        missing: "INSUFFICIENT_DATA",
    }


def test_each_change_is_an_eventbridge_event_of_the_documented_shape_that_reaches_the_rule(
    world: LocalWorld,
) -> None:
    for value in (40, 50):
        world.run_for(30)
        backlog(world, value)
        world.run_for(30)
    world.run_for(60)
    world.run_until_quiet()

    alarm_name = f"{world.config.stack_name}-Backlog"
    to_alarm = next(
        change
        for change in world.alarms.transitions
        if change.alarm_name == alarm_name and change.state == "ALARM"
    )
    event = to_alarm.event
    assert missing_from(event, fixture_json("cloudwatch_alarm_state_change")) == []
    assert event["source"] == "aws.cloudwatch"
    assert event["detail"]["previousState"]["value"] == "OK"
    assert event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"] == {
        "QueueName": world.stack.queues["Jobs"].name
    }
    reason_data = json.loads(event["detail"]["state"]["reasonData"])
    assert reason_data["recentDatapoints"] == [40.0, 50.0]
    assert reason_data["threshold"] == 10.0
    assert event["time"] == (world.config.start_time + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")

    # The Recorder's rule selects only this alarm's events (prefix match on the alarm name).
    recorded = [json.loads(item["event"]) for item in items_of(world, "Recorder")]
    assert {entry["detail"]["alarmName"] for entry in recorded} == {alarm_name, f"{alarm_name}Missing"}
    assert any(entry["id"] == event["id"] for entry in recorded)


def test_the_documented_sample_matches_the_alarm_rule_and_set_alarm_state_publishes_too(
    world: LocalWorld,
) -> None:
    from moto.events.models import EventPattern

    rule = world.stack.rules["RecorderAlarmChanges"]
    sample = fixture_json("cloudwatch_alarm_state_change")
    sample["detail"]["alarmName"] = f"{world.config.stack_name}-Backlog"
    assert EventPattern.load(rule.event_pattern).matches_event(sample)
    sample["detail"]["alarmName"] = "someone-elses-alarm"
    assert not EventPattern.load(rule.event_pattern).matches_event(sample)

    alarm_name = f"{world.config.stack_name}-Backlog"
    world.run_for(10)  # the evaluator has seen the alarm (INSUFFICIENT_DATA)
    world.clients.client("cloudwatch").set_alarm_state(
        AlarmName=alarm_name, StateValue="ALARM", StateReason="testing the alarm action"
    )
    world.run_until_quiet()
    change = world.alarms.transitions[-1]
    assert (change.alarm_name, change.previous, change.state) == (alarm_name, "INSUFFICIENT_DATA", "ALARM")
    assert change.event["detail"]["state"]["reason"] == "testing the alarm action"
