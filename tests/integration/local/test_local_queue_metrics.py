"""The AWS/SQS metrics the local world publishes for every queue, as SQS publishes them.

Source: SQS Developer Guide, "Available CloudWatch metrics for Amazon SQS"
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html):
ApproximateNumberOfMessagesVisible "Reported if the queue is active";
ApproximateNumberOfMessagesNotVisible "Reported if in-flight messages exist";
ApproximateNumberOfMessagesDelayed "Reported if delayed messages exist in the queue";
ApproximateAgeOfOldestMessage (Seconds) "Reported if the queue contains at least one active
message", and in a standard queue a message received three or more times and not deleted is
left out. "Monitoring Amazon SQS queues using CloudWatch": metrics are pushed at one-minute
intervals, and a queue inactive for more than six hours "is considered asleep and stops
delivering metrics". The one-minute publishing delay is the local world's stated assumption
(`ebb.local.metric_publishing`).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from ebb.local.queue_metrics import WAKE_UP_DELAY_MAX_SECONDS
from ebb.local.world import LocalWorld

pytestmark = pytest.mark.integration


def published(world: LocalWorld, queue_logical_id: str) -> list[tuple[int, str, float]]:
    """(minute of the period, metric, value) of everything published for one queue."""
    name = world.stack.queues[queue_logical_id].name
    start = world.config.start_time
    return [
        (int((p.timestamp - start).total_seconds() // 60), p.datapoint.metric_name, p.datapoint.value)
        for p in world.metrics.published
        if p.datapoint.namespace == "AWS/SQS" and dict(p.datapoint.dimensions) == {"QueueName": name}
    ]


def test_visible_in_flight_delayed_and_age_are_sampled_each_minute_and_reported_as_documented(
    world: LocalWorld,
) -> None:
    sqs = world.clients.client("sqs")
    url = world.queue_url("Backlog")
    world.run_for(10)
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "job"} for i in range(3)])
    world.run_for(20)
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=120)
    (taken,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=80)["Messages"]
    world.run_for(4 * 60 - 30)

    # 00:00:10: three messages; 00:00:30: one delayed 120 s, one of the three in flight for 80 s.
    assert published(world, "Backlog")[:6] == [
        (0, "ApproximateNumberOfMessagesVisible", 2.0),
        (0, "ApproximateNumberOfMessagesNotVisible", 1.0),
        (0, "ApproximateNumberOfMessagesDelayed", 1.0),
        (0, "ApproximateAgeOfOldestMessage", 50.0),  # sampled at 00:01:00, sent at 00:00:10
        # At 00:02:00 the in-flight message is visible again (since 00:01:50), the delayed one not yet.
        (1, "ApproximateNumberOfMessagesVisible", 3.0),
        (1, "ApproximateNumberOfMessagesDelayed", 1.0),
    ]
    # At 00:03:00 the delayed message is visible too; nothing is in flight or delayed any more,
    # so those two metrics are not reported at all.
    assert [entry for entry in published(world, "Backlog") if entry[0] == 2] == [
        (2, "ApproximateNumberOfMessagesVisible", 4.0),
        (2, "ApproximateAgeOfOldestMessage", 170.0),
    ]
    # Minute k is stamped with its start and readable a minute after it ends.
    for point in world.metrics.published:
        assert point.visible_at - point.timestamp == timedelta(minutes=2)
    assert taken["Body"] == "job"


def test_a_message_received_three_times_and_not_deleted_leaves_the_age_of_a_standard_queue(
    world: LocalWorld,
) -> None:
    sqs = world.clients.client("sqs")
    url = world.queue_url("Backlog")
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    world.run_for(30)
    sqs.send_message(QueueUrl=url, MessageBody="fine")
    for _ in range(3):
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=1)
        world.run_for(2)
    world.run_for(120)  # minute 0's sample (taken at 00:01:00) is published at 00:02:00

    ages = [
        value for _, metric, value in published(world, "Backlog") if metric == "ApproximateAgeOfOldestMessage"
    ]
    # At 00:01:00 the poison message (sent 00:00:00, received three times) no longer counts: the
    # age is that of the message sent at 00:00:30.
    assert ages[0] == 30.0


def test_a_queue_left_alone_for_six_hours_sleeps_and_wakes_within_fifteen_minutes(world: LocalWorld) -> None:
    sqs = world.clients.client("sqs")
    url = world.queue_url("Backlog")
    world.run_for(7 * 3600)
    minutes = {minute for minute, _, _ in published(world, "Backlog")}
    # Created at 00:00 (CreateQueue is an API call) and left empty: the sample at 06:00:00 is the
    # last (six hours, not more), so minute 359 is the last published; at 06:01:00 it sleeps.
    assert minutes == set(range(6 * 60))

    woke_at = world.now()
    sqs.send_message(QueueUrl=url, MessageBody="wake up")
    world.run_for(20 * 60)
    first_again = min(minute for minute, _, _ in published(world, "Backlog") if minute >= 6 * 60)
    delay = world.config.start_time + timedelta(minutes=first_again + 1) - woke_at
    assert timedelta(0) < delay <= timedelta(seconds=WAKE_UP_DELAY_MAX_SECONDS + 60)
