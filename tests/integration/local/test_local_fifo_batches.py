"""SQS FIFO event source mappings batch as AWS does, and FIFO deduplication honours its scope.

Facts and sources:
- Lambda Developer Guide, "Configuring scaling behavior for SQS event source mappings": "When
  Lambda reads your messages into batches, each batch may contain messages from more than one
  message group, but the order of the messages is maintained."
- SQS Developer Guide, "FIFO queue delivery logic in Amazon SQS": a receive returns as many
  messages of one group as it can and, with fewer than 10 of that group, may add other groups'
  messages, each group keeping its FIFO order.
- Lambda Developer Guide, "Lambda parameters for Amazon SQS event source mappings":
  MaximumBatchingWindowInSeconds "Batching window is not supported for FIFO queues"; BatchSize
  "For FIFO queues, the maximum is 10."
- SQS API Reference, CreateQueue, Attributes (botocore's sqs service model): DeduplicationScope
  is messageGroup or queue; "The perMessageGroupId value is allowed only when the value for
  DeduplicationScope is messageGroup."
- SQS Developer Guide, "Using the message deduplication ID": a message sent with a deduplication
  id already used is accepted but not delivered during the 5-minute deduplication interval.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ebb.local.errors import TemplateError
from ebb.local.latency import TimingConfig
from ebb.local.stack_model import read_stack
from ebb.local.world import LocalWorld, LocalWorldConfig, start_local_world

pytestmark = pytest.mark.integration

TEMPLATE = Path(__file__).parent / "timing" / "template.yaml"


@pytest.fixture
def world() -> Iterator[LocalWorld]:
    """The timing template, running with the default latency model."""
    with start_local_world(TEMPLATE, LocalWorldConfig(seed=5, timing=TimingConfig())) as running:
        yield running


def send_steps(world: LocalWorld, queue: str) -> None:
    """Two groups' steps, interleaved as they were sent."""
    sqs = world.clients.client("sqs")
    for group, step in (("a", 1), ("b", 1), ("a", 2), ("b", 2), ("a", 3)):
        sqs.send_message(QueueUrl=world.queue_url(queue), MessageBody=f"{group}:{step}", MessageGroupId=group)


def test_a_handler_that_assumes_one_group_per_batch_fails_locally(world: LocalWorld) -> None:
    send_steps(world, "Orders")
    world.run_for(10)

    (first, *_) = world.sqs_event_sources.outcomes
    # One batch, both groups, each group in the order it was sent.
    assert first.bodies == ["a:1", "b:1", "a:2", "b:2", "a:3"]
    assert first.group_ids == ["a", "b"]
    assert not first.succeeded
    (invocation,) = [
        i for i in world.lambda_runtime.invocations if i.function_name.endswith("OneGroupPerBatch")
    ]
    assert invocation.result.payload["errorType"] == "OutOfOrder"
    assert invocation.result.payload["errorMessage"] == "group a: step 1 after step 1"


def test_a_handler_that_keys_on_each_records_group_processes_the_same_batches(world: LocalWorld) -> None:
    send_steps(world, "Ledger")
    world.run_for(10)

    (outcome,) = world.sqs_event_sources.outcomes
    assert outcome.bodies == ["a:1", "b:1", "a:2", "b:2", "a:3"]
    assert outcome.succeeded
    assert world.receive_all("Ledger") == []


def mapping_template(tmp_path: Path, queue: dict[str, object], mapping: dict[str, object]) -> Path:
    """A template with one FIFO queue (plus `queue` properties) feeding one function."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "handlers.py").write_text("def handle(event, context):\n    return None\n")
    queue_properties = "".join(f"      {key}: {value}\n" for key, value in queue.items())
    mapping_properties = "".join(f"            {key}: {value}\n" for key, value in mapping.items())
    template = tmp_path / "template.yaml"
    template.write_text(
        "Transform: AWS::Serverless-2016-10-31\n"
        "Resources:\n"
        "  Jobs:\n"
        "    Type: AWS::SQS::Queue\n"
        "    Properties:\n"
        "      QueueName: jobs.fifo\n"
        "      FifoQueue: true\n"
        f"{queue_properties}"
        "  Consumer:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties:\n"
        "      Runtime: python3.13\n"
        "      CodeUri: app/\n"
        "      Handler: handlers.handle\n"
        "      Events:\n"
        "        Jobs:\n"
        "          Type: SQS\n"
        "          Properties:\n"
        "            Queue: !GetAtt Jobs.Arn\n"
        f"{mapping_properties}"
    )
    return template


def refusal(template: Path) -> TemplateError:
    with pytest.raises(TemplateError) as refused:
        read_stack(
            template, stack_name="ebb-local", region="us-east-1", account_id="123456789012", parameters={}
        )
    assert type(refused.value) is TemplateError
    return refused.value


def test_a_fifo_mapping_with_a_batching_window_is_refused(tmp_path: Path) -> None:
    error = refusal(mapping_template(tmp_path, {}, {"MaximumBatchingWindowInSeconds": 5}))
    assert str(error) == (
        "Resources.ConsumerJobs.Properties.MaximumBatchingWindowInSeconds: batching window is not "
        "supported for FIFO queues (got 5; Lambda invokes a FIFO mapping as soon as messages are "
        "available)"
    )


def test_a_fifo_mapping_takes_at_most_ten_messages_a_batch(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match=r"BatchSize: at most 10 for a FIFO queue \(got 11\)"):
        read_stack(
            mapping_template(tmp_path, {}, {"BatchSize": 11}),
            stack_name="ebb-local",
            region="us-east-1",
            account_id="123456789012",
            parameters={},
        )


def test_per_message_group_throughput_needs_message_group_deduplication(tmp_path: Path) -> None:
    template = mapping_template(
        tmp_path, {"DeduplicationScope": "queue", "FifoThroughputLimit": "perMessageGroupId"}, {}
    )
    assert str(refusal(template)) == (
        "Resources.Jobs.Properties.FifoThroughputLimit: perMessageGroupId is allowed only when "
        "DeduplicationScope is messageGroup (it is queue)"
    )


def send_with_id(world: LocalWorld, queue: str, group: str, body: str, deduplication_id: str) -> None:
    world.clients.client("sqs").send_message(
        QueueUrl=world.queue_url(queue),
        MessageBody=body,
        MessageGroupId=group,
        MessageDeduplicationId=deduplication_id,
    )


def bodies(world: LocalWorld, queue: str) -> list[str]:
    return [message["Body"] for message in world.receive_all(queue)]


def test_deduplication_scope_message_group_keeps_one_id_per_group(world: LocalWorld) -> None:
    send_with_id(world, "GroupScoped", "g1", "first", "order-7")
    send_with_id(world, "GroupScoped", "g2", "other group", "order-7")
    send_with_id(world, "GroupScoped", "g1", "duplicate", "order-7")
    assert bodies(world, "GroupScoped") == ["first", "other group"]


def test_deduplication_scope_queue_keeps_one_id_per_queue(world: LocalWorld) -> None:
    send_with_id(world, "QueueScoped", "g1", "first", "order-7")
    send_with_id(world, "QueueScoped", "g2", "other group", "order-7")
    assert bodies(world, "QueueScoped") == ["first"]


def test_a_deduplication_id_stays_used_for_five_minutes_even_after_its_message_was_consumed(
    world: LocalWorld,
) -> None:
    sqs = world.clients.client("sqs")
    url = world.queue_url("QueueScoped")
    send_with_id(world, "QueueScoped", "g1", "first", "order-8")
    (message,) = world.receive_all("QueueScoped")
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    world.run_for(299)
    send_with_id(world, "QueueScoped", "g1", "within the interval", "order-8")
    assert bodies(world, "QueueScoped") == []

    world.run_for(2)
    send_with_id(world, "QueueScoped", "g1", "after the interval", "order-8")
    assert bodies(world, "QueueScoped") == ["after the interval"]
