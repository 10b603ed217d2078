"""The FIFO queue that serializes decisions per NodePool.

Every signal becomes one message per NodePool it concerns, with the pool as its message group:
SQS FIFO delivers a group's messages in order and never hands out a group's next message while
an earlier one is in flight, so one pool is decided by one invocation at a time while other
pools are decided in parallel (SQS Developer Guide, "FIFO queue logic"; Lambda, "Using Lambda
with Amazon SQS": batches may mix message groups).

Deduplication is queue-wide by default (five minutes), so a deduplication id of the event id
alone would drop the other pools' messages for the same tick: the id is derived from the event
id and the pool.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from ebb.adapters.aws_clients import LazyClient
from ebb.adapters.aws_errors import AwsRequestFailed, translate_aws_error
from ebb.adapters.call_counts import CallCounts

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

MAX_BATCH = 10
RETIRE = "retire"
"""The reason of a decision request for a NodePool a configuration rollout removed.

Here, beside the message it is the reason of, so that the decide function reads it without
importing the signals' event models (`ebb.service.signals`, which re-exports it).
"""


@dataclass(frozen=True, slots=True)
class PoolMessage:
    """A request to decide `node_pool`, because of the signal `event_id` (of kind `reason`)."""

    node_pool: str
    event_id: str
    reason: str
    body: dict[str, Any]

    @property
    def deduplication_id(self) -> str:
        """One per (event, pool): a duplicate delivery of the event dedups, other pools do not."""
        return hashlib.sha256(f"{self.event_id}\x00{self.node_pool}".encode()).hexdigest()


class DecisionQueue(Protocol):
    """What the signals service sends pool messages through, and decide retries them through."""

    def send(self, messages: Sequence[PoolMessage]) -> None:
        """Send every message (10 per SendMessageBatch); raise if any was refused."""

    def retry_in(self, receipt_handles: Sequence[str], seconds: int) -> None:
        """Make received messages visible again after `seconds` (not the queue's visibility timeout)."""


class SqsDecisionQueue:
    """`DecisionQueue` over SQS."""

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

    def send(self, messages: Sequence[PoolMessage]) -> None:
        for start in range(0, len(messages), MAX_BATCH):
            chunk = messages[start : start + MAX_BATCH]
            entries = [
                {
                    "Id": str(index),
                    "MessageBody": json.dumps(
                        {"nodePool": m.node_pool, "eventId": m.event_id, "reason": m.reason, **m.body},
                        sort_keys=True,
                    ),
                    "MessageGroupId": m.node_pool,
                    "MessageDeduplicationId": m.deduplication_id,
                }
                for index, m in enumerate(chunk)
            ]
            self.calls.count("sqs:SendMessageBatch")
            try:
                response = self._client().send_message_batch(QueueUrl=self.queue_url, Entries=entries)  # type: ignore[arg-type]
            except (ClientError, BotoCoreError) as error:
                raise translate_aws_error(error, operation="SendMessageBatch") from error
            failed = response.get("Failed", [])
            if failed:
                details = "; ".join(f"{chunk[int(f['Id'])].node_pool}: {f.get('Code')}" for f in failed)
                raise AwsRequestFailed(f"SendMessageBatch refused {len(failed)} message(s): {details}")

    def retry_in(self, receipt_handles: Sequence[str], seconds: int) -> None:
        # A failed message otherwise stays invisible for the whole visibility timeout, and in a
        # FIFO queue its message group (the pool) waits behind it.
        for start in range(0, len(receipt_handles), MAX_BATCH):
            chunk = receipt_handles[start : start + MAX_BATCH]
            self.calls.count("sqs:ChangeMessageVisibilityBatch")
            try:
                self._client().change_message_visibility_batch(
                    QueueUrl=self.queue_url,
                    Entries=[
                        {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": seconds}
                        for index, handle in enumerate(chunk)
                    ],
                )
            except (ClientError, BotoCoreError) as error:
                raise translate_aws_error(error, operation="ChangeMessageVisibilityBatch") from error
