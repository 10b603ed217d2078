"""SQS event source mappings in the local world, on the template's FIFO queue.

The queue `Jobs` (FIFO, visibility timeout 60 s, redrive to `JobsDeadLetters` after 2 receives)
feeds `BatchConsumer` (batch size 3, ReportBatchItemFailures), which fails any record whose body
contains "fail" and, to keep order, every later record of that group in the batch.

Facts and sources (Lambda Developer Guide, "Using Lambda with Amazon SQS"): records carry the
documented fields (FIFO ones add MessageGroupId, SequenceNumber, MessageDeduplicationId; fixture
sqs_fifo_lambda_event.json); for FIFO queues Lambda keeps each message group in order, one batch
of a group at a time; with ReportBatchItemFailures only the reported messages return to the
queue ("Implementing partial batch responses"); a message received maxReceiveCount times moves to
the dead-letter queue (SQS Developer Guide, "Using dead-letter queues").
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


def test_one_group_waits_on_its_failure_in_order_while_another_proceeds(world: LocalWorld) -> None:
    start = world.now()
    for body in ("a1", "a2-fail", "a3"):
        send(world, "tenant-a", body)
    for body in ("b1", "b2", "b3", "b4"):
        send(world, "tenant-b", body)
    world.run_for(10 * 60)

    outcomes = [
        (o.group_id, o.bodies, o.failed_message_ids != [], o.started_at - start)
        for o in world.sqs_event_sources.outcomes
    ]
    by_group = {
        group: [(bodies, failed, when) for g, bodies, failed, when in outcomes if g == group]
        for group in ("tenant-a", "tenant-b")
    }

    # Group b is never held back: its messages go in order, three then one, at once.
    assert by_group["tenant-b"] == [(["b1", "b2", "b3"], False, timedelta(0)), (["b4"], False, timedelta(0))]
    # Group a: a1 succeeds, a2 fails and keeps a3 behind it; both come back after the 60 s
    # visibility timeout, in order, fail again, and a2 and a3 then move to the dead-letter queue.
    assert [bodies for bodies, _, _ in by_group["tenant-a"]] == [["a1", "a2-fail", "a3"], ["a2-fail", "a3"]]
    assert [when for _, _, when in by_group["tenant-a"]][1] >= timedelta(seconds=60)
    dead = world.receive_all("JobsDeadLetters")
    assert [message["Body"] for message in dead] == ["a2-fail", "a3"]
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
    world.run_for(1)
    # A few alarm evaluations and schedule firings, not one poll per second for six hours.
    assert world.clock.switches - switches < 200
    assert [o.bodies for o in world.sqs_event_sources.outcomes] == [["late"]]
