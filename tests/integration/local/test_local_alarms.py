"""CloudWatch alarms evaluated on the metrics SQS publishes for a queue, driven by its traffic.

Nothing is put by hand: the tests send messages to the template's Backlog queue (which nobody
consumes) and take them off again, and the world publishes the queue's AWS/SQS metrics each
minute as SQS does, readable one minute after their period ends (`ebb.local.metric_publishing`).
The template's Backlog alarms watch ApproximateNumberOfMessagesVisible (Maximum over 60 s, 2 of 2
periods above 10) and differ only in TreatMissingData; DepthTwoOfThree is an M out of N alarm
(DatapointsToAlarm 2 of EvaluationPeriods 3). Facts and sources: alarms are evaluated every
minute, each period ending at the evaluation time (CloudWatch User Guide, limits of alarms on
connected data sources); states follow "Configuring how CloudWatch alarms treat missing data"
(tested row by row in test_local_alarm_evaluation.py), whose second table is the M out of N
case ("Datapoints to Alarm 2, Evaluation Periods 3"); an SQS queue with no activity for six hours
"is considered asleep and stops delivering metrics" (SQS Developer Guide, "Monitoring Amazon SQS
queues using CloudWatch"); each change is an event "CloudWatch Alarm State Change" from
aws.cloudwatch, shaped as in "Alarm events and EventBridge" (fixture
cloudwatch_alarm_state_change.json, hand-written from that page).
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from ebb.local.world import LocalWorld

from .world_testkit import fixture_json, items_of, missing_from

pytestmark = pytest.mark.integration


def set_backlog(world: LocalWorld, depth: int) -> None:
    """Make the Backlog queue hold `depth` visible messages: send more, or take some off and delete them."""
    sqs = world.clients.client("sqs")
    url = world.queue_url("Backlog")
    held = int(
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
            "ApproximateNumberOfMessages"
        ]
    )
    while held < depth:
        count = min(10, depth - held)
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "work"} for i in range(count)]
        )
        held += count
    while held > depth:
        taken = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=min(10, held - depth))["Messages"]
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": message["ReceiptHandle"]} for i, message in enumerate(taken)
            ],
        )
        held -= len(taken)


def depths_minute_by_minute(world: LocalWorld, depths: tuple[int, ...]) -> None:
    """Set the backlog half-way through each minute, so each minute's sample is that depth."""
    for depth in depths:
        world.run_for(30)
        set_backlog(world, depth)
        world.run_for(30)


def states(world: LocalWorld, alarm: str) -> list[tuple[int, str]]:
    """(minutes since the world started, new state) of each change of one alarm."""
    start = world.config.start_time
    return [
        (int((change.at - start).total_seconds() // 60), change.state)
        for change in world.alarms.transitions
        if change.alarm_name == alarm
    ]


def test_alarms_follow_the_published_queue_depth_and_missing_data_once_the_queue_sleeps(
    world: LocalWorld,
) -> None:
    stack = world.config.stack_name
    plain, missing = f"{stack}-Backlog", f"{stack}-BacklogMissing"
    depths_minute_by_minute(world, (2, 3, 40, 50, 1, 0))
    world.run_for(7 * 3600)  # no call on the queue for more than six hours: it sleeps

    # Minute k's depth is readable at minute k + 2 (published one minute after its period ends),
    # so each alarm decides on the periods before the newest, as the evaluation range allows.
    # notBreaching: OK at once (missing data is fine), ALARM at minute 5 (minutes 2 and 3 at 40
    # and 50), OK at 6 (minute 4 at 1); the queue then publishes 0 until it sleeps, and after that
    # missing data keeps it OK.
    assert states(world, plain) == [(1, "OK"), (5, "ALARM"), (6, "OK")]
    # missing: OK once the first datapoint is readable (the guide's row "- - - - 0"), the same
    # ALARM and OK; the last API call was at minute 5, so the sample at 6:06 finds the queue asleep,
    # and once its evaluation range (4 periods for EvaluationPeriods 2) holds no datapoint the alarm
    # is INSUFFICIENT_DATA, while the notBreaching one stays OK.
    assert states(world, missing) == [(2, "OK"), (5, "ALARM"), (6, "OK"), (369, "INSUFFICIENT_DATA")]

    described = world.clients.client("cloudwatch").describe_alarms(AlarmNames=[plain, missing])[
        "MetricAlarms"
    ]
    assert {alarm["AlarmName"]: alarm["StateValue"] for alarm in described} == {
        plain: "OK",
        missing: "INSUFFICIENT_DATA",
    }


def test_datapoints_to_alarm_lets_two_breaching_minutes_of_three_alarm(world: LocalWorld) -> None:
    # The guide's second table: with Datapoints to Alarm 2 of Evaluation Periods 3, "X 0 X" is
    # ALARM; an alarm that ignored DatapointsToAlarm (M = N = 3) would never leave OK here.
    alarm = f"{world.config.stack_name}-DepthTwoOfThree"
    depths_minute_by_minute(world, (20, 1, 20, 1, 1, 1))
    world.run_for(120)

    # Minutes 0-2 (20, 1, 20) are all readable at minute 4: two of three breach; at minute 5 the
    # last three are 1, 20, 1.
    assert states(world, alarm) == [(1, "OK"), (4, "ALARM"), (5, "OK")]
    to_alarm = next(
        change
        for change in world.alarms.transitions
        if change.alarm_name == alarm and change.state == "ALARM"
    )
    reason = to_alarm.event["detail"]["state"]["reason"]
    assert "minimum 2 datapoints for OK -> ALARM transition" in reason
    assert json.loads(to_alarm.event["detail"]["state"]["reasonData"])["recentDatapoints"] == [
        20.0,
        1.0,
        20.0,
    ]


def test_each_change_is_an_eventbridge_event_of_the_documented_shape_that_reaches_the_rule(
    world: LocalWorld,
) -> None:
    depths_minute_by_minute(world, (40, 50))
    world.run_for(120)
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
        "QueueName": world.stack.queues["Backlog"].name
    }
    reason_data = json.loads(event["detail"]["state"]["reasonData"])
    assert reason_data["recentDatapoints"] == [40.0, 50.0]
    assert reason_data["threshold"] == 10.0
    # Minute 1's 50 is readable at minute 3, the first evaluation that sees both breaching minutes.
    assert event["time"] == (world.config.start_time + timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%SZ")

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
