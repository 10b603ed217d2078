"""template.yaml's sub-minute poll queue (`ebb.service.sub_minute_polls`): a standard queue (the
only kind with per-message timers), fed by the signals function and drained by it, with a
dead-letter queue.

Sources: SQS Developer Guide, "Amazon SQS message timers" ("FIFO queues don't support timers on
individual messages"); Lambda Developer Guide, "Using Lambda with Amazon SQS" (set the source
queue's visibility timeout to at least six times the function's timeout) and "Implementing
partial batch responses" (ReportBatchItemFailures); SQS Developer Guide, "Using dead-letter
queues in Amazon SQS" (a redrive policy's maxReceiveCount; a moved standard message keeps its
original enqueue timestamp, so the dead-letter queue's retention must be longer).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ebb.local.template_yaml import load_template

ROOT = Path(__file__).resolve().parents[2]


def _resources() -> dict[str, Any]:
    resources: dict[str, Any] = load_template(ROOT / "template.yaml")["Resources"]
    return resources


def test_the_poll_queue_is_a_standard_queue_with_a_dead_letter_queue() -> None:
    resources = _resources()
    queue = resources["PollQueue"]["Properties"]
    assert "FifoQueue" not in queue
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["PollDeadLetterQueue", "Arn"]},
        "maxReceiveCount": 3,
    }
    dead_letters = resources["PollDeadLetterQueue"]["Properties"]
    assert "FifoQueue" not in dead_letters
    assert dead_letters["MessageRetentionPeriod"] > queue["MessageRetentionPeriod"]


def test_the_signals_function_drains_it_with_partial_batch_responses() -> None:
    resources = _resources()
    signals = resources["SignalsFunction"]["Properties"]
    polls = signals["Events"]["Polls"]
    assert polls["Type"] == "SQS"
    assert polls["Properties"]["Queue"] == {"Fn::GetAtt": ["PollQueue", "Arn"]}
    assert polls["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # A poll is forwarded the moment it is due: no batching window holds it back.
    assert "MaximumBatchingWindowInSeconds" not in polls["Properties"]
    assert resources["PollQueue"]["Properties"]["VisibilityTimeout"] >= 6 * signals["Timeout"]
    # The tick sends the polls: the same function, allowed to send to the queue.
    assert {"SQSSendMessagePolicy": {"QueueName": {"Fn::GetAtt": ["PollQueue", "QueueName"]}}} in signals[
        "Policies"
    ]


def test_every_function_is_told_the_poll_queue() -> None:
    template = load_template(ROOT / "template.yaml")
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["EBB_POLL_QUEUE_URL"] == {"Ref": "PollQueue"}
