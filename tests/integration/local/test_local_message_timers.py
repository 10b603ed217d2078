"""SQS message timers (per-message DelaySeconds) in the local world, on the simulated clock: what
ebb's sub-minute polls rely on (`ebb.service.sub_minute_polls`).

Facts and sources:
- SQS Developer Guide, "Amazon SQS message timers": a message sent with a timer "remains hidden
  from consumers" for that long, 0 to 15 minutes; "FIFO queues don't support timers on
  individual messages".
- botocore's sqs model, SendMessageRequest.DelaySeconds and SendMessageBatchRequestEntry.DelaySeconds:
  "Valid values: 0 to 900 ... When you set FifoQueue, you can't set DelaySeconds per message."
- Lambda Developer Guide, "Using Lambda with Amazon SQS": the event source mapping polls the
  queue and invokes the function with the messages it receives, so a delayed message reaches
  the function once its timer ends, not before.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from ebb.local.world import LocalWorld, LocalWorldConfig, start_local_world

pytestmark = pytest.mark.integration


@pytest.fixture
def world(tmp_path: Path) -> Iterator[LocalWorld]:
    """A standard queue `Polls` feeding a function, and a FIFO queue `Ordered`, with the default
    latency model."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "handlers.py").write_text("def handle(event, context):\n    return None\n")
    template = tmp_path / "template.yaml"
    template.write_text(
        "Transform: AWS::Serverless-2016-10-31\n"
        "Resources:\n"
        "  Polls:\n"
        "    Type: AWS::SQS::Queue\n"
        "    Properties:\n"
        "      VisibilityTimeout: 180\n"
        "  Ordered:\n"
        "    Type: AWS::SQS::Queue\n"
        "    Properties:\n"
        "      FifoQueue: true\n"
        "      ContentBasedDeduplication: true\n"
        "  Consumer:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties:\n"
        "      Runtime: python3.13\n"
        "      CodeUri: app/\n"
        "      Handler: handlers.handle\n"
        "      Events:\n"
        "        Polls:\n"
        "          Type: SQS\n"
        "          Properties:\n"
        "            Queue: !GetAtt Polls.Arn\n"
        "            BatchSize: 10\n"
    )
    with start_local_world(template, LocalWorldConfig(seed=3)) as running:
        yield running


def test_each_message_reaches_the_function_when_its_own_timer_ends(world: LocalWorld) -> None:
    sent = world.now()
    world.clients.client("sqs").send_message_batch(
        QueueUrl=world.queue_url("Polls"),
        Entries=[
            {"Id": str(delay), "MessageBody": f"after {delay} s", "DelaySeconds": delay}
            for delay in (45, 15, 30, 0)
        ],
    )
    world.run_for(60)

    delivered = [(o.bodies, (o.started_at - sent).total_seconds()) for o in world.sqs_event_sources.outcomes]
    assert [bodies for bodies, _ in delivered] == [[f"after {d} s"] for d in (0, 15, 30, 45)]
    for (_, at), delay in zip(delivered, (0, 15, 30, 45), strict=True):
        # Hidden for the whole timer; then received at once (the poller wakes when it ends).
        assert delay <= at < delay + 1, (delay, at)
    assert all(o.succeeded for o in world.sqs_event_sources.outcomes)


def test_a_delayed_message_is_not_received_before_its_timer_ends(world: LocalWorld) -> None:
    sqs = world.clients.client("sqs")
    sqs.send_message(QueueUrl=world.queue_url("Polls"), MessageBody="later", DelaySeconds=20)
    world.run_for(19)
    assert world.sqs_event_sources.outcomes == []
    attributes = sqs.get_queue_attributes(
        QueueUrl=world.queue_url("Polls"), AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]
    assert attributes == {"ApproximateNumberOfMessagesDelayed": "1"}
    world.run_for(2)
    assert [o.bodies for o in world.sqs_event_sources.outcomes] == [["later"]]


def test_a_fifo_queue_refuses_a_timer_on_one_message(world: LocalWorld) -> None:
    with pytest.raises(ClientError) as refused:
        world.clients.client("sqs").send_message(
            QueueUrl=world.queue_url("Ordered"), MessageBody="x", MessageGroupId="g", DelaySeconds=5
        )
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert "DelaySeconds" in refused.value.response["Error"]["Message"]


def test_a_timer_beyond_fifteen_minutes_is_refused(world: LocalWorld) -> None:
    with pytest.raises(ClientError) as refused:
        world.clients.client("sqs").send_message(
            QueueUrl=world.queue_url("Polls"), MessageBody="x", DelaySeconds=901
        )
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"
