"""SQS event source mappings in the local world, on the template's FIFO queue.

The queue `Jobs` (FIFO, visibility timeout 60 s, redrive to `JobsDeadLetters` after 2 receives)
feeds `BatchConsumer` (batch size 3, ReportBatchItemFailures), which fails any record whose body
contains "fail" and, to keep order, every later record of that group in the batch.

Facts and sources (Lambda Developer Guide, "Using Lambda with Amazon SQS"): records carry the
documented fields (FIFO ones add MessageGroupId, SequenceNumber, MessageDeduplicationId; fixture
sqs_fifo_lambda_event.json); for FIFO queues "each batch may contain messages from more than one
message group, but the order of the messages is maintained", and a group's later messages wait
until its failed ones are retried ("Configuring scaling behavior for SQS event source mappings");
with ReportBatchItemFailures only the reported messages return to the queue ("Implementing
partial batch responses"); a message received maxReceiveCount times moves to the dead-letter
queue (SQS Developer Guide, "Using dead-letter queues").
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from ebb.local.world import LocalWorld

from .world_testkit import fixture_json, missing_from

pytestmark = pytest.mark.integration


def send(world: LocalWorld, group: str, body: str) -> None:
    world.clients.client("sqs").send_message(
        QueueUrl=world.queue_url("Jobs"), MessageBody=body, MessageGroupId=group
    )


def test_batches_mix_groups_and_a_failed_group_waits_in_order_while_another_proceeds(
    world: LocalWorld,
) -> None:
    start = world.now()
    for group, body in (("a", "a1"), ("b", "b1"), ("a", "a2-fail"), ("b", "b2"), ("a", "a3"), ("b", "b3")):
        send(world, f"tenant-{group}", body)
    send(world, "tenant-b", "b4")
    world.run_for(10 * 60)

    batches = [(o.bodies, o.group_ids, o.started_at - start) for o in world.sqs_event_sources.outcomes]
    # One receive gives the first three messages, both groups mixed, each in order. While they
    # are in flight neither group is received again; then b goes on (a2 is still in flight, so a3
    # waits behind it); after the 60 s visibility timeout a2 comes back with a3 behind it, fails
    # again (the handler fails a3 too, to keep the group's order), and on its third receive a2
    # moves to the dead-letter queue (maxReceiveCount 2), which lets a3 through at last.
    assert [(bodies, groups) for bodies, groups, _ in batches] == [
        (["a1", "b1", "a2-fail"], ["tenant-a", "tenant-b"]),
        (["b2", "b3", "b4"], ["tenant-b"]),
        (["a2-fail", "a3"], ["tenant-a"]),
        (["a3"], ["tenant-a"]),
    ]
    assert batches[1][2] > batches[0][2]  # after the first batch was done, not at once
    assert batches[2][2] >= timedelta(seconds=60)
    assert batches[3][2] >= batches[2][2] + timedelta(seconds=60)
    dead = world.receive_all("JobsDeadLetters")
    assert [message["Body"] for message in dead] == ["a2-fail"]
    assert world.receive_all("Jobs") == []


def test_records_have_the_documented_fifo_shape(world: LocalWorld) -> None:
    send(world, "tenant-c", json.dumps({"job": 1}))
    world.run_for(5)

    (invocation,) = [
        i for i in world.lambda_runtime.invocations if i.function_name == world.function_name("BatchConsumer")
    ]
    assert missing_from(invocation.event, fixture_json("sqs_fifo_lambda_event")) == []
    (record,) = invocation.event["Records"]
    assert record["eventSourceARN"] == world.stack.queues["Jobs"].arn
    assert record["attributes"]["MessageGroupId"] == "tenant-c"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert json.loads(record["body"]) == {"job": 1}


def test_a_partial_batch_failure_keeps_only_the_reported_messages(world: LocalWorld) -> None:
    for body in ("c1", "c2", "c3-fail"):
        send(world, "tenant-c", body)
    world.run_for(5)

    (outcome,) = world.sqs_event_sources.outcomes
    assert len(outcome.failed_message_ids) == 1
    attributes = world.clients.client("sqs").get_queue_attributes(
        QueueUrl=world.queue_url("Jobs"),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    # c1 and c2 are deleted; c3 is in flight until its visibility timeout ends.
    assert attributes == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "1"}


def test_an_idle_queue_costs_no_polling(world: LocalWorld) -> None:
    switches = world.clock.switches
    world.run_for(6 * 3600)
    send(world, "tenant-d", "late")
    world.run_for(5)  # a cold start and the handler's compute take a moment
    # A few alarm evaluations and schedule firings, not one poll per second for six hours.
    assert world.clock.switches - switches < 200
    assert [o.bodies for o in world.sqs_event_sources.outcomes] == [["late"]]
