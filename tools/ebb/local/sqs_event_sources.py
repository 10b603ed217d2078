"""SQS event source mappings on the simulated clock.

One poller actor per mapping receives from the queue (through the SQS API, so moto applies
visibility timeouts, FIFO group locking and the redrive policy), and invokes the function with
batches of records in the documented shape (Lambda Developer Guide, "Using Lambda with Amazon
SQS"). Following that guide:
- a batch holds up to BatchSize messages, gathered for up to MaximumBatchingWindowInSeconds
  (a FIFO mapping has no batching window: the template reader refuses one);
- FIFO queues ("Configuring scaling behavior for SQS event source mappings"): "each batch may
  contain messages from more than one message group, but the order of the messages is
  maintained"; a batch is what one receive returns, groups mixed, each group in order (SQS
  Developer Guide, "FIFO queue delivery logic": fewer than 10 messages of one group, and a
  receive may add other groups' messages). A group with messages in flight is not received
  again until they are deleted or visible again, so one group's failure holds that group back
  while the others proceed;
- deduplication follows the queue's DeduplicationScope (SQS API Reference, CreateQueue): a
  message whose deduplication id was accepted in the last 5 minutes, in the same queue (`queue`)
  or message group (`messageGroup`), is accepted and not delivered (SQS Developer Guide, "Using
  the message deduplication ID"), even if the first was consumed meanwhile;
- a throttled invocation (the function's concurrency is used up) is retried with a backoff,
  doubling from 1 s, until the batch's visibility timeout would end; the messages then become
  visible again as after a failure ("Handling errors for an SQS event source in Lambda", backoff
  strategy for failed invocations);
- success deletes the batch's messages; a function error deletes none, and they come back after
  the visibility timeout, until the queue's redrive policy moves them to its dead-letter queue;
- with ReportBatchItemFailures, only the messages named in `batchItemFailures` are kept; an
  invalid response (an unknown, empty or missing itemIdentifier) fails the whole batch
  ("Implementing partial batch responses");
- FilterCriteria patterns drop (delete) the messages that match none of them.
The poller sleeps until a message arrives or the next in-flight or delayed message becomes
visible, so an idle queue costs nothing.
"""

from __future__ import annotations

import json
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, cast

from moto.events.models import EventPattern
from moto.sqs.models import Queue, SQSBackend, sqs_backends

from ebb.local.clock import SimClock
from ebb.local.clock_threads import ClockEvent
from ebb.local.errors import PinMismatch
from ebb.local.event_shapes import sqs_lambda_record
from ebb.local.lambda_runtime import (
    THROTTLE_RETRY_FIRST_SECONDS,
    LambdaRuntime,
    LambdaThrottled,
    next_throttle_retry,
)
from ebb.local.patches import PatchSet, PinnedAttribute
from ebb.local.stack_resources import EventSourceMappingSpec
from ebb.local.targets import AwsClients, queue_url

_RECEIVE_LIMIT = 10  # ReceiveMessage returns at most 10 messages per call
# SQS Developer Guide, "Using the message deduplication ID": the 5-minute deduplication interval.
DEDUPLICATION_INTERVAL_SECONDS = 300.0


@dataclass
class BatchOutcome:
    """One invocation of a mapping's function, for assertions."""

    mapping: str
    function_name: str
    message_ids: list[str]
    bodies: list[str]
    group_ids: list[str]
    started_at: datetime
    ended_at: datetime
    succeeded: bool
    failed_message_ids: list[str]
    throttles: int = 0

    @property
    def throttled(self) -> bool:
        """Whether the batch never ran: every attempt was throttled until its visibility ended."""
        return self.throttles > 0 and not self.succeeded and self.failed_message_ids == self.message_ids


@dataclass
class _Poller:
    spec: EventSourceMappingSpec
    wake: ClockEvent = field(default_factory=ClockEvent)
    in_flight: int = 0


@dataclass
class SqsEventSources:
    """Runs the template's SQS event source mappings; see the module docstring."""

    clock: SimClock
    runtime: LambdaRuntime
    clients: AwsClients
    account_id: str
    region: str
    outcomes: list[BatchOutcome] = field(default_factory=list)
    _pollers: list[_Poller] = field(default_factory=list)
    _sequence: int = 0
    # (queue ARN, message group or "" for queue scope, deduplication id) -> when first accepted.
    _deduplication: dict[tuple[str, str, str], float] = field(default_factory=dict)

    def install(self, patches: PatchSet) -> None:
        """Wake a queue's pollers whenever moto adds a message to it; fix two FIFO gaps of moto.

        moto (5.2.5) skips the first message of a group that became visible again when a later
        one of the same group is still marked in flight, delivering the group out of order; and it
        gives FIFO messages a SequenceNumber only when a deduplication id is passed explicitly.
        Before each receive, messages whose visibility timeout ended are no longer in flight;
        every FIFO message gets an increasing SequenceNumber (SQS Developer Guide, "Amazon SQS
        FIFO queue key terms": a large, non-consecutive number that increases within a group).
        """
        sources = self
        add_pin = PinnedAttribute(Queue, "add_message", "(self, message: moto.sqs.models.Message) -> None")
        receive_pin = PinnedAttribute(
            SQSBackend,
            "receive_message",
            "(self, queue_name: str, count: int, wait_seconds_timeout: int, visibility_timeout: int, "
            "message_attribute_names: list[str] | None = None) -> list[moto.sqs.models.Message]",
        )
        send_pin = PinnedAttribute(
            SQSBackend,
            "send_message",
            "(self, queue_name: str, message_body: str, "
            "message_attributes: dict[str, typing.Any] | None = None, "
            "delay_seconds: int | None = None, deduplication_id: str | None = None, "
            "group_id: str | None = None, "
            "system_attributes: dict[str, typing.Any] | None = None, validate_group_id: bool = True) "
            "-> moto.sqs.models.Message",
        )

        def wake_pollers(original: Any) -> Any:
            def add_message(queue: Any, message: Any) -> None:
                if queue.fifo_queue and not queue.lambda_event_source_mappings:
                    # moto compares deduplication ids queue-wide and only with messages still
                    # stored; SQS does it per the queue's scope, over 5 minutes.
                    if not sources.is_new_deduplication_id(queue, message):
                        return
                    with queue._messages_lock:
                        queue._messages.append(message)
                        queue._messages_lock.notify_all()
                else:
                    original(queue, message)
                sources.notify(queue.queue_arn)

            return add_message

        def release_expired(original: Any) -> Any:
            def receive_message(backend: Any, queue_name: str, *args: Any, **kwargs: Any) -> Any:
                queue = backend.get_queue(queue_name)
                for message in list(queue.pending_messages):
                    if message.visible:
                        queue.pending_messages.discard(message)
                return original(backend, queue_name, *args, **kwargs)

            return receive_message

        def number_in_sequence(original: Any) -> Any:
            def send_message(backend: Any, queue_name: str, *args: Any, **kwargs: Any) -> Any:
                message = original(backend, queue_name, *args, **kwargs)
                if backend.get_queue(queue_name).fifo_queue and message.sequence_number is None:
                    sources._sequence += 1
                    message.sequence_number = (
                        f"{18_000_000_000_000_000_000 + sources._sequence * 65_536:020d}"
                    )
                return message

            return send_message

        patches.wrap_method(add_pin, wake_pollers)
        patches.wrap_method(receive_pin, release_expired)
        patches.wrap_method(send_pin, number_in_sequence)

    def is_new_deduplication_id(self, queue: Any, message: Any) -> bool:
        """Whether a FIFO message is not a duplicate of one accepted in the last 5 minutes.

        A message the redrive policy moves to a dead-letter queue was received before: that is
        no send, and it is never deduplicated.
        """
        identifier = message.deduplication_id
        if identifier is None or message.approximate_receive_count > 0:
            return True
        scope = getattr(queue, "deduplication_scope", "queue")
        key = (queue.queue_arn, (message.group_id or "") if scope == "messageGroup" else "", identifier)
        now = self.clock.now()
        first = self._deduplication.get(key)
        if first is not None and now - first < DEDUPLICATION_INTERVAL_SECONDS:
            return False
        self._deduplication[key] = now
        return True

    def start(self, mappings: list[EventSourceMappingSpec]) -> None:
        """Start one poller actor per mapping."""
        for spec in mappings:
            poller = _Poller(spec)
            self._pollers.append(poller)
            self.clock.spawn(partial(self._poll, poller), name=f"sqs poller {spec.logical_id}", daemon=True)

    def notify(self, queue_arn: str) -> None:
        """A message arrived on `queue_arn`."""
        for poller in self._pollers:
            if poller.spec.queue_arn == queue_arn:
                poller.wake.set()

    # -- the poller -------------------------------------------------------------------------

    def _poll(self, poller: _Poller) -> None:
        spec = poller.spec
        limit = spec.maximum_concurrency
        while True:
            if not spec.enabled or (limit is not None and poller.in_flight >= limit):
                poller.wake.wait()
                poller.wake.clear()
                continue
            messages = self._gather(spec)
            if messages:
                poller.in_flight += 1
                self.clock.spawn(partial(self._invoke, poller, messages), name=f"sqs batch {spec.logical_id}")
                continue
            wake_at = self._next_visibility_change(spec.queue_arn)
            timeout = None if wake_at is None else max(wake_at - self.clock.now(), 0.001)
            poller.wake.wait(timeout)
            poller.wake.clear()

    def _gather(self, spec: EventSourceMappingSpec) -> list[dict[str, Any]]:
        messages = self._receive(spec, spec.batch_size)
        if messages and len(messages) < spec.batch_size and spec.maximum_batching_window_seconds > 0:
            deadline = self.clock.now() + spec.maximum_batching_window_seconds
            while len(messages) < spec.batch_size and self.clock.now() < deadline:
                self.clock.sleep(min(1.0, deadline - self.clock.now()))
                messages += self._receive(spec, spec.batch_size - len(messages))
        return self._apply_filters(spec, messages)

    def _receive(self, spec: EventSourceMappingSpec, wanted: int) -> list[dict[str, Any]]:
        sqs = self.clients.client("sqs")
        received: list[dict[str, Any]] = []
        while len(received) < wanted:
            response = sqs.receive_message(
                QueueUrl=queue_url(spec.queue_arn),
                MaxNumberOfMessages=min(_RECEIVE_LIMIT, wanted - len(received)),
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            )
            batch = response.get("Messages", [])
            received += batch
            if len(batch) == 0:
                break
        return received

    def _apply_filters(
        self, spec: EventSourceMappingSpec, messages: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        if not spec.filter_patterns or not messages:
            return messages
        patterns = [EventPattern.load(pattern) for pattern in spec.filter_patterns]
        kept = []
        for message in messages:
            record = self._record(spec, message)
            with suppress(json.JSONDecodeError):
                record["body"] = json.loads(record["body"])
            if any(pattern.matches_event(cast(Any, record)) for pattern in patterns):
                kept.append(message)
            else:
                self.clients.client("sqs").delete_message(
                    QueueUrl=queue_url(spec.queue_arn), ReceiptHandle=message["ReceiptHandle"]
                )
        return kept

    def _record(self, spec: EventSourceMappingSpec, message: dict[str, Any]) -> dict[str, Any]:
        return sqs_lambda_record(
            message_id=message["MessageId"],
            receipt_handle=message["ReceiptHandle"],
            body=message["Body"],
            attributes=dict(message.get("Attributes", {})),
            message_attributes={
                name: {
                    "stringValue": value.get("StringValue"),
                    "binaryValue": value.get("BinaryValue"),
                    "stringListValues": value.get("StringListValues", []),
                    "binaryListValues": value.get("BinaryListValues", []),
                    "dataType": value.get("DataType"),
                }
                for name, value in message.get("MessageAttributes", {}).items()
            },
            md5_of_body=message["MD5OfBody"],
            queue_arn=spec.queue_arn,
            region=self.region,
        )

    def _invoke(self, poller: _Poller, batch: list[dict[str, Any]]) -> None:
        spec = poller.spec
        started = self.clock.now_datetime()
        visible_again_at = self.clock.now() + self._visibility_timeout(spec.queue_arn)
        records = [self._record(spec, message) for message in batch]
        groups = list(
            dict.fromkeys(
                message["Attributes"]["MessageGroupId"]
                for message in batch
                if "MessageGroupId" in message.get("Attributes", {})
            )
        )
        ids = [message["MessageId"] for message in batch]
        throttles = 0
        delay = THROTTLE_RETRY_FIRST_SECONDS
        try:
            while True:
                try:
                    result = self.runtime.invoke(spec.function_name, {"Records": records})
                    break
                except LambdaThrottled:
                    throttles += 1
                    if self.clock.now() + delay >= visible_again_at:
                        # Lambda gives the batch up; its messages come back after the timeout.
                        self.outcomes.append(
                            BatchOutcome(
                                mapping=spec.logical_id,
                                function_name=spec.function_name,
                                message_ids=ids,
                                bodies=[message["Body"] for message in batch],
                                group_ids=groups,
                                started_at=started,
                                ended_at=self.clock.now_datetime(),
                                succeeded=False,
                                failed_message_ids=ids,
                                throttles=throttles,
                            )
                        )
                        return
                    self.clock.sleep(delay)
                    delay = next_throttle_retry(delay)
            if not result.succeeded:
                failed = ids
            elif spec.report_batch_item_failures:
                failed = _reported_failures(result.payload, ids)
            else:
                failed = []
            keep = set(failed)
            done = [message for message in batch if message["MessageId"] not in keep]
            for start in range(0, len(done), _RECEIVE_LIMIT):
                self.clients.client("sqs").delete_message_batch(
                    QueueUrl=queue_url(spec.queue_arn),
                    Entries=[
                        {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                        for index, message in enumerate(done[start : start + _RECEIVE_LIMIT])
                    ],
                )
            self.outcomes.append(
                BatchOutcome(
                    mapping=spec.logical_id,
                    function_name=spec.function_name,
                    message_ids=ids,
                    bodies=[message["Body"] for message in batch],
                    group_ids=groups,
                    started_at=started,
                    ended_at=self.clock.now_datetime(),
                    succeeded=result.succeeded and not failed,
                    failed_message_ids=failed,
                    throttles=throttles,
                )
            )
        finally:
            poller.in_flight -= 1
            poller.wake.set()

    def _visibility_timeout(self, queue_arn: str) -> float:
        queue = sqs_backends[self.account_id][self.region].queues[queue_arn.rsplit(":", 1)[-1]]
        # moto sets the queue's attributes as instance attributes, untyped.
        return float(getattr(queue, "visibility_timeout"))  # noqa: B009

    def _next_visibility_change(self, queue_arn: str) -> float | None:
        """When the next invisible or delayed message of the queue becomes receivable."""
        queue = sqs_backends[self.account_id][self.region].queues.get(queue_arn.rsplit(":", 1)[-1])
        if queue is None:
            return None
        messages = getattr(queue, "_messages", None)
        if messages is None:
            raise PinMismatch(
                "moto.sqs.models.Queue._messages no longer exists; the SQS poller needs updating"
            )
        now_ms = self.clock.now() * 1000
        upcoming = [
            moment
            for message in messages
            for moment in (getattr(message, "visible_at", 0), getattr(message, "delayed_until", 0))
            if moment > now_ms
        ]
        # moto counts a message visible strictly after visible_at; wake just past it.
        return (min(upcoming) + 1) / 1000 if upcoming else None


def _reported_failures(payload: Any, ids: list[str]) -> list[str]:
    """The message ids a partial batch response keeps in the queue (all of them if invalid)."""
    if payload is None or payload == {} or not isinstance(payload, dict):
        return [] if payload in (None, {}) else ids
    failures = payload.get("batchItemFailures")
    if failures is None or failures == []:
        return []
    if not isinstance(failures, list):
        return ids
    kept: list[str] = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or not identifier or identifier not in ids:
            return ids
        kept.append(identifier)
    return kept
