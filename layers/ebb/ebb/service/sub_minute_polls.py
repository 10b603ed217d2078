"""Sub-minute polls: decisions of a NodePool between the one-minute ticks, for the pools whose
scalers opt in (`subMinutePolling`, `ebb.config.polling`).

EventBridge Scheduler runs nothing more often than `rate(1 minute)`, and the FIFO decision queue
cannot hold a message back on its own ("FIFO queues don't support timers on individual
messages", SQS Developer Guide, "Amazon SQS message timers"). So each tick, for each pool polled
every N seconds that is not at rest, leaves the polls of the *next* minute in a standard queue
(`ebb.adapters.poll_queue`), each with the message timer that makes it due at its time: the tick
scheduled at T sends T + 60 + N, T + 60 + 2N, ... up to T + 120 - N, and the next tick (scheduled
at T + 60, fired some moment of that minute) decides the pool as usual. Polls are timed from the
tick's scheduled minute, not from the moment it fired, so every minute holds the same 60 / N - 1
polls at the same offsets whenever its ticks fire; and a poll is always at least N seconds away
when it is sent, so none is due before its tick ran. The queue's event source mapping hands each
due poll to the signals function, which forwards it into the FIFO decision queue as a decision
request of the pool (reason `poll`).

Standard queues deliver at least once and in no guaranteed order (SQS Developer Guide, "Amazon
SQS standard queues"), and Lambda's SQS event source may process a message more than once
("Using Lambda with Amazon SQS"). So a poll's decision request takes its deduplication id from
the pool and the poll's due time (`poll:<due time>`, `ebb.adapters.decision_queue`): a duplicate
within the FIFO queue's five-minute deduplication interval is accepted and not delivered again.
A poll delivered more than one interval after its due time is dropped as stale (the pool's next
poll or tick is due by then), which also covers a duplicate later than those five minutes and a
poll returned to the queue by a failed forward (its visibility timeout is longer than any
interval). Order does not matter: each poll is a request to decide the pool now, on what decide
observes now.

A pool at rest (`ebb.service.idle_polling`) is not polled: its alarms watch it, and the tick
decides it every five minutes. The tick sends no polls for it, and a poll that arrives after the
pool came to rest (sent by the tick before) is dropped when forwarded, from the pool's recorded
`at_rest` (one GetItem). Neither is a pool the configuration no longer polls sub-minute.
"""

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from ebb.adapters.decision_queue import PoolMessage
from ebb.adapters.poll_queue import MAX_DELAY_SECONDS, DelayedMessage
from ebb.config.polling import TICK_SECONDS
from ebb.errors import InvalidEvent

POLL = "poll"
"""The reason of a decision request a poll makes."""


class Poll(BaseModel):
    """A poll as the tick writes it and the poll queue delivers it."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    ebb: Literal["poll"]
    node_pool: str = Field(min_length=1, alias="nodePool")
    due_at: AwareDatetime = Field(alias="dueAt")
    interval_seconds: Literal[10, 15, 20, 30] = Field(alias="intervalSeconds")
    """One of `ebb.config.polling.SUB_MINUTE_INTERVALS`."""
    tick: str = Field(min_length=1)
    """The execution id of the tick that sent it."""

    def body(self) -> str:
        """The message body."""
        return json.dumps(self.model_dump(mode="json", by_alias=True), sort_keys=True)

    def decision_request(self) -> PoolMessage:
        """The pool's decision request: deduplicated on the pool and the due time."""
        due = self.due_at.astimezone(UTC).isoformat()
        return PoolMessage(self.node_pool, f"poll:{due}", POLL, {"dueAt": due})

    def stale(self, now: datetime) -> bool:
        """Whether the poll arrives more than one interval after it was due."""
        return now - self.due_at > timedelta(seconds=self.interval_seconds)


def due_times(scheduled_time: datetime, interval: int) -> list[datetime]:
    """When the polls a tick scheduled at `scheduled_time` sends are due: every `interval` s of
    the next minute but its start, which is the next tick's."""
    minute = scheduled_time.replace(second=0, microsecond=0) + timedelta(seconds=TICK_SECONDS)
    return [minute + timedelta(seconds=offset) for offset in range(interval, TICK_SECONDS, interval)]


def polls_of_tick(
    node_pool: str, interval: int, *, tick: str, scheduled_time: datetime, now: datetime
) -> list[DelayedMessage]:
    """The polls a tick sends for one pool, each with the timer that makes it due at its time.

    A poll already due when the tick runs (a tick delivered a minute late, say) is not sent:
    the tick itself just decided the pool.
    """
    messages = []
    for due in due_times(scheduled_time, interval):
        delay = math.ceil((due - now).total_seconds())
        if not 0 < delay <= MAX_DELAY_SECONDS:
            continue
        poll = Poll.model_validate(
            {"ebb": POLL, "nodePool": node_pool, "dueAt": due, "intervalSeconds": interval, "tick": tick}
        )
        messages.append(DelayedMessage(body=poll.body(), delay_seconds=delay))
    return messages


def parse_poll(body: str) -> Poll:
    """A poll queue message's body as a poll, or `InvalidEvent` saying what is wrong and where."""
    try:
        return Poll.model_validate_json(body)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in issue['loc']) or '(message)'}: {issue['msg']}"
            for issue in error.errors()
        )
        raise InvalidEvent(f"poll message does not have the expected shape: {problems}") from None


class QueueRecord(BaseModel):
    """What the signals function reads of an SQS record (Lambda Developer Guide, "Using Lambda
    with Amazon SQS": `messageId`, `body`, `eventSource` "aws:sqs")."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    message_id: str = Field(min_length=1, alias="messageId")
    body: str
    event_source: Literal["aws:sqs"] = Field(alias="eventSource")


class QueueBatch(BaseModel):
    """A batch of records from the poll queue's event source mapping."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    records: tuple[QueueRecord, ...] = Field(alias="Records", min_length=1)


def queue_batch(event: Any) -> QueueBatch | None:
    """The event as a batch of SQS records, or None when it is not one (then it is a signal)."""
    if not isinstance(event, dict) or "Records" not in event:
        return None
    try:
        return QueueBatch.model_validate(event)
    except ValidationError:
        return None


class PollsForwarded(BaseModel):
    """What became of a batch of polls; `batchItemFailures` is what the event source reads."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    forwarded: tuple[str, ...] = ()
    """The pools whose polls became decision requests."""
    dropped: tuple[str, ...] = ()
    """`<pool>: <why>` for each poll dropped (stale, pool at rest, no longer polled)."""
    rejected: tuple[str, ...] = ()
    """Why each malformed message was refused (it was kept in the rejected-events queue)."""
    batch_item_failures: list[dict[str, str]] = Field(default_factory=list, alias="batchItemFailures")
