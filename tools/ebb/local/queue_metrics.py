"""The AWS/SQS metrics of every queue in moto's SQS, as SQS publishes them.

Source: SQS Developer Guide, "Available CloudWatch metrics for Amazon SQS" and "Monitoring
Amazon SQS queues using CloudWatch". Each queue gets, once a minute, with the one dimension
`QueueName`:

- `ApproximateNumberOfMessagesVisible` (Count): messages available for retrieval; "Reported if
  the queue is active".
- `ApproximateNumberOfMessagesNotVisible` (Count): in-flight messages; "Reported if in-flight
  messages exist".
- `ApproximateNumberOfMessagesDelayed` (Count): "Reported if delayed messages exist in the queue".
- `ApproximateAgeOfOldestMessage` (Seconds): the age of the oldest unprocessed message; "Reported
  if the queue contains at least one active message". In a standard queue a message received
  three times or more and not deleted is left out ("moved to the back of the queue"; poison-pill
  messages "are excluded from this metric until successfully processed").

A queue is active while it holds messages or was touched by an API call in the last six hours;
past that SQS "is considered asleep and stops delivering metrics to the CloudWatch service". An
"up to 15 minutes" wait before a reactivated queue's metrics appear is attributed to SQS; its
exact wording was not available here, so the local world assumes it and draws the wait, seeded,
from 0-15 minutes. Every API call that names a queue goes through moto's
`SQSBackend.get_queue`, which is where activity is noted (CreateQueue counts from the queue's
creation time).

The values are the queue's state when the minute ends, from moto's exact counts (SQS's are
approximate, "close to the actual number"); the datapoint is stamped with the minute's start.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from moto.sqs.models import SQSBackend, sqs_backends

from ebb.local.clock import SimClock
from ebb.local.metric_publishing import Datapoint
from ebb.local.patches import PatchSet, PinnedAttribute
from ebb.local.randomness import SeededRandomness

NAMESPACE = "AWS/SQS"
SLEEP_AFTER_SECONDS = 6 * 3600
"""A queue with no message and no API call for this long stops publishing (the guide's six hours)."""
WAKE_UP_DELAY_MAX_SECONDS = 15 * 60
"""Metrics of a queue that wakes from sleep come back within this long (the guide's 15 minutes)."""
# A standard queue's message received this often and not deleted no longer counts in the age.
_POISON_PILL_RECEIVES = 3

_GET_QUEUE = PinnedAttribute(SQSBackend, "get_queue", "(self, queue_name: str) -> moto.sqs.models.Queue")


@dataclass
class _QueueActivity:
    last_activity: float
    asleep: bool = False
    publishing_from: float = 0.0


@dataclass
class QueueMetrics:
    """A `MetricSource` for the AWS/SQS metrics of every queue; see the module docstring."""

    clock: SimClock
    randomness: SeededRandomness
    account_id: str
    region: str
    _activity: dict[str, _QueueActivity] = field(default_factory=dict)

    def _backend(self) -> Any:
        return sqs_backends[self.account_id][self.region]

    def install(self, patches: PatchSet) -> None:
        """Note every API call on a queue (moto looks each one up through `get_queue`)."""
        source = self

        def note_activity(original: Callable[..., Any]) -> Callable[..., Any]:
            def get_queue(backend: Any, queue_name: str) -> Any:
                queue = original(backend, queue_name)
                source.touch(queue_name)
                return queue

            return get_queue

        patches.wrap_method(_GET_QUEUE, note_activity)

    def touch(self, queue_name: str) -> None:
        """Record activity on a queue now (waking it if it slept)."""
        now = self.clock.now()
        activity = self._activity.get(queue_name)
        if activity is None:
            self._activity[queue_name] = _QueueActivity(last_activity=now, publishing_from=now)
            return
        if activity.asleep:
            activity.asleep = False
            activity.publishing_from = now + self.randomness.uniform(0.0, WAKE_UP_DELAY_MAX_SECONDS)
        activity.last_activity = now

    def datapoints(self, period_start: datetime, period_end: datetime) -> Sequence[Datapoint]:
        """Each active queue's four metrics as they stand at `period_end`."""
        now = period_end.timestamp()
        points: list[Datapoint] = []
        for name in sorted(self._backend().queues):
            queue = self._backend().queues[name]
            messages = list(queue._messages)
            if name not in self._activity:  # CreateQueue is the queue's first API call
                created = float(queue.created_timestamp)
                self._activity[name] = _QueueActivity(last_activity=created, publishing_from=created)
            activity = self._activity[name]
            if messages:
                # A queue holding messages is active (a delayed message becoming visible is activity too).
                if activity.asleep:
                    self.touch(name)
                activity.last_activity = max(activity.last_activity, now)
            elif not activity.asleep and now - activity.last_activity > SLEEP_AFTER_SECONDS:
                activity.asleep = True
            if activity.asleep or now < activity.publishing_from:
                continue
            dimensions = {"QueueName": name}
            visible = sum(1 for m in messages if m.visible and not m.delayed)
            in_flight = sum(1 for m in messages if not m.visible)
            delayed = sum(1 for m in messages if m.delayed)
            points.append(
                Datapoint.of(NAMESPACE, "ApproximateNumberOfMessagesVisible", dimensions, visible, "Count")
            )
            if in_flight:
                points.append(
                    Datapoint.of(
                        NAMESPACE, "ApproximateNumberOfMessagesNotVisible", dimensions, in_flight, "Count"
                    )
                )
            if delayed:
                points.append(
                    Datapoint.of(
                        NAMESPACE, "ApproximateNumberOfMessagesDelayed", dimensions, delayed, "Count"
                    )
                )
            counted = [
                m for m in messages if queue.fifo_queue or m.approximate_receive_count < _POISON_PILL_RECEIVES
            ]
            if counted:
                oldest = min(float(m.sent_timestamp) for m in counted) / 1000.0
                age = max(0, math.floor(now - oldest))
                points.append(
                    Datapoint.of(NAMESPACE, "ApproximateAgeOfOldestMessage", dimensions, age, "Seconds")
                )
        return points
