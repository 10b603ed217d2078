"""The rejected-events queue: every event ebb refused, kept whole for inspection.

A bad event never scales anything; it is sent here with the reason, so that nothing is lost
and an operator can read (and, once fixed, replay) it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from ebb.adapters.aws_clients import LazyClient
from ebb.adapters.aws_errors import translate_aws_error
from ebb.adapters.call_counts import CallCounts

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class RejectedEvents(Protocol):
    """Where refused events are kept."""

    def keep(self, event: Any, reason: str, *, function: str) -> None:
        """Keep `event` with why it was refused and by which function."""


class SqsRejectedEvents:
    """`RejectedEvents` in an SQS queue (the event as the body, the reason as attributes)."""

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

    def keep(self, event: Any, reason: str, *, function: str) -> None:
        self.calls.count("sqs:SendMessage")
        try:
            self._client().send_message(
                QueueUrl=self.queue_url,
                MessageBody=json.dumps(event, default=str)[:262_000],
                MessageAttributes={
                    # SQS attribute values are at most 256 KiB in all; reasons are short.
                    "Reason": {"DataType": "String", "StringValue": reason[:4000]},
                    "Function": {"DataType": "String", "StringValue": function},
                },
            )
        except (ClientError, BotoCoreError) as error:
            raise translate_aws_error(error, operation="SendMessage") from error
