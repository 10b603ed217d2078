"""The standard queue that holds sub-minute polls until they are due (`ebb.service.sub_minute_polls`).

Each poll is sent with its own `DelaySeconds` (a message timer: SQS Developer Guide, "Amazon SQS
message timers", 0 to 900 s), which only a standard queue allows: "FIFO queues don't support
timers on individual messages" (same page; botocore's SendMessageBatchRequestEntry.DelaySeconds:
"When you set FifoQueue, you can't set DelaySeconds per message"). So polls wait here, not in
the FIFO decision queue, and the signals function forwards each one there when it is due.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from ebb.adapters.aws_clients import LazyClient
from ebb.adapters.aws_errors import AwsRequestFailed, translate_aws_error
from ebb.adapters.call_counts import CallCounts

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

MAX_BATCH = 10
MAX_DELAY_SECONDS = 900
"""SQS's largest message timer (SendMessage DelaySeconds: "Valid values: 0 to 900")."""


@dataclass(frozen=True, slots=True)
class DelayedMessage:
    """A message body and how long SQS keeps it hidden."""

    body: str
    delay_seconds: int


class PollQueue(Protocol):
    """Where the tick leaves the polls of the next minute."""

    def send(self, messages: Sequence[DelayedMessage]) -> None:
        """Send every message with its delay (10 per SendMessageBatch); raise if any was refused."""


class SqsPollQueue:
    """`PollQueue` over a standard SQS queue."""

    def __init__(
        self,
        queue_url: str,
        *,
        region_name: str | None = None,
        calls: CallCounts | None = None,
        client_factory: Callable[[], SQSClient] | None = None,
    ) -> None:
        self.queue_url = queue_url
        self._client: LazyClient[SQSClient] = LazyClient("sqs", region_name, client_factory)
        self.calls = calls or CallCounts()

    def send(self, messages: Sequence[DelayedMessage]) -> None:
        for message in messages:
            if not 0 <= message.delay_seconds <= MAX_DELAY_SECONDS:
                raise ValueError(
                    f"a message timer is 0 to {MAX_DELAY_SECONDS} s, not {message.delay_seconds}"
                )
        for start in range(0, len(messages), MAX_BATCH):
            chunk = messages[start : start + MAX_BATCH]
            self.calls.count("sqs:SendMessageBatch")
            try:
                response = self._client().send_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[
                        {"Id": str(index), "MessageBody": m.body, "DelaySeconds": m.delay_seconds}
                        for index, m in enumerate(chunk)
                    ],
                )
            except (ClientError, BotoCoreError) as error:
                raise translate_aws_error(error, operation="SendMessageBatch") from error
            failed = response.get("Failed", [])
            if failed:
                details = "; ".join(f"{f['Id']}: {f.get('Code')}" for f in failed)
                raise AwsRequestFailed(f"SendMessageBatch refused {len(failed)} poll(s): {details}")
