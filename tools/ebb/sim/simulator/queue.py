"""The SQS signal path: the trace's requests as messages on a queue the pods consume.

The model (stated, the same for every policy):
- a message is a request: it arrives on the queue when the trace's request arrives (spread
  uniformly within its minute, as for HTTP) and holds one of a pod's 8 slots for the request's
  hold time once a slot takes it;
- a message waits on the queue (visible) until a slot of a Ready pod frees: nothing is dropped,
  there is no 10 s limit. The queue is a fluid FIFO: between two changes (a minute boundary, a
  change of Ready pods) messages arrive at the minute's rate and slots take them at
  Ready x 8 / hold per second;
- a message is unserved when it waited more than `WAIT_BOUND_SECONDS` (300 s) for a slot, or was
  never taken before the run's end; it still takes its slot when it is taken (a late job is
  still done);
- GetQueueAttributes, at any time: `ApproximateNumberOfMessages` the visible messages,
  `ApproximateNumberOfMessagesNotVisible` the messages in flight (taken, being processed: every
  slot while messages wait, the arrival rate x hold time otherwise, by Little's law), and
  `ApproximateNumberOfMessagesDelayed` 0 (the trace has no delay), each rounded to a whole
  message as SQS reports counts. ebb's decide reads them at each decision, KEDA at each HPA sync
  (its metrics server asks the scaler), and KEDA's SQS scaler semantics (queueLength,
  activationQueueLength, visible + in flight) are the replica core's, for both policies;
- ebb's alarm (`ebb.service.alarm_specs`): `ApproximateNumberOfMessagesVisible`, Maximum per
  minute, above `activationQueueLength`, evaluated when a minute becomes readable, with the same
  publishing delay as the load balancer's metrics (AWS/SQS metrics are one-minute metrics:
  "Available CloudWatch metrics for Amazon SQS").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from ebb.config import ScaledObject
from ebb.config.keda_triggers import AwsSqsQueueTrigger
from ebb.config.replica_policy import trigger_name
from ebb.core.replicas import Observation, SqsQueueAttributes
from ebb.sim.simulator.signals import PERIOD_SECONDS, PUBLISHING_DELAY_SECONDS
from ebb.traffic.service_model import SLOTS_PER_POD

WAIT_BOUND_SECONDS = 300.0
"""A message that waited longer than this for a slot is unserved (late, though still processed)."""
SAMPLES_PER_MINUTE = 32
"""Messages of each minute whose wait is computed (evenly spaced in the minute's arrivals)."""


@dataclass(frozen=True, slots=True)
class QueueTrigger:
    """A scaler's aws-sqs-queue trigger: its observation key and its activation value."""

    trigger_id: str
    activation: float


def queue_triggers(scaled_object: ScaledObject) -> tuple[QueueTrigger, ...]:
    """The ScaledObject's aws-sqs-queue triggers (all of its triggers are, by the caller's check)."""
    return tuple(
        QueueTrigger(
            trigger_id=trigger_name(index, trigger),
            activation=float(trigger.metadata.activation_queue_length),
        )
        for index, trigger in enumerate(scaled_object.spec.triggers)
        if isinstance(trigger, AwsSqsQueueTrigger)
    )


def _count(value: float) -> str:
    return str(int(value + 0.5))


@dataclass(frozen=True)
class QueueServing:
    """Per minute of arrivals: the messages unserved (waited over the bound) and their mean wait."""

    unserved: np.ndarray
    mean_wait_seconds: np.ndarray


class QueueSignals:
    """The queue, advanced as time passes with the Ready pods it is given."""

    def __init__(
        self,
        arrivals: np.ndarray,
        hold: np.ndarray,
        origin: datetime,
        triggers: tuple[QueueTrigger, ...],
        *,
        publishing_delay: float = PUBLISHING_DELAY_SECONDS,
    ) -> None:
        self.arrivals = arrivals
        self.hold = np.where(hold > 0, hold, 0.5)
        self.rate = arrivals / PERIOD_SECONDS
        self.origin = origin
        self.triggers = triggers
        self.publishing_delay = publishing_delay
        count = arrivals.size
        self.count = count
        self.visible = 0.0
        self._t = 0.0
        self._ready = 0
        self._taken = 0.0
        self._curve_times: list[float] = [0.0]
        self._curve_taken: list[float] = [0.0]
        """Messages taken by a slot, cumulative, at each time its rate changed."""
        self.visible_max = np.zeros(count)
        """Each minute's Maximum of ApproximateNumberOfMessagesVisible."""
        self.closed = 0
        self.alarms: dict[str, bool] = {t.trigger_id: False for t in triggers}

    # -- the fluid queue ------------------------------------------------------------------------------

    def advance(self, t: float, ready: int) -> None:
        """Run the queue with the Ready pods held since the last call up to `t`, then hold `ready`."""
        start = self._t
        while start < t:
            minute = int(start // PERIOD_SECONDS)
            end = min(t, (minute + 1) * PERIOD_SECONDS)
            self._run(minute, start, end)
            start = end
        self._t = max(self._t, t)
        self._ready = ready

    def _point(self, t: float) -> None:
        # The cumulative count taken is piecewise linear: one point where its slope changes.
        curve = self._curve_taken
        if len(curve) >= 2 and curve[-1] == curve[-2] == self._taken:
            self._curve_times[-1] = t  # a plateau keeps its start and its end
        else:
            self._curve_times.append(t)
            self._curve_taken.append(self._taken)

    def _run(self, minute: int, start: float, end: float) -> None:
        if minute >= self.count:
            return
        span = end - start
        arriving = float(self.rate[minute])
        capacity = self._ready * SLOTS_PER_POD / float(self.hold[minute])
        before = self.visible
        if self.visible > 0 and capacity > arriving:
            drained = self.visible / (capacity - arriving)
            if drained < span:
                # The backlog empties within the span; afterwards slots take arrivals as they come.
                self._taken += capacity * drained
                self.visible = 0.0
                self._point(start + drained)
                self._taken += arriving * (span - drained)
                self._point(end)
                self.visible_max[minute] = max(self.visible_max[minute], before)
                return
        taken = min(capacity, arriving) if self.visible <= 0 else capacity
        self._taken += taken * span
        self.visible = max(self.visible + (arriving - taken) * span, 0.0)
        self._point(end)
        self.visible_max[minute] = max(self.visible_max[minute], before, self.visible)

    def in_flight(self) -> float:
        """Messages being processed now (taken, not yet deleted)."""
        minute = min(int(self._t // PERIOD_SECONDS), self.count - 1)
        slots = float(self._ready * SLOTS_PER_POD)
        if minute < 0 or self.visible > 0:
            return slots
        return min(slots, float(self.rate[minute]) * float(self.hold[minute]))

    # -- what the policies read -----------------------------------------------------------------------

    def close_minute(self, minute: int, zero_share: float, targets: int) -> None:
        """Minute `minute` ended (the load balancer's arguments are not used by a queue)."""
        self.advance((minute + 1) * PERIOD_SECONDS, self._ready)
        self.closed = minute + 1

    def readable_minutes(self, t: float) -> int:
        return min(self.closed, max(int((t - self.publishing_delay) // PERIOD_SECONDS), 0))

    def observations(self, t: float) -> dict[str, Observation]:
        """Each trigger's GetQueueAttributes answer at `t` (the queue as it is, no delay)."""
        self.advance(t, self._ready)
        attributes = {
            "ApproximateNumberOfMessages": _count(self.visible),
            "ApproximateNumberOfMessagesNotVisible": _count(self.in_flight()),
            "ApproximateNumberOfMessagesDelayed": "0",
        }
        return {trigger.trigger_id: SqsQueueAttributes(attributes=attributes) for trigger in self.triggers}

    def evaluate_alarms(self, t: float) -> bool:
        """Re-evaluate every alarm on the newest readable minute; whether any changed state."""
        newest = self.readable_minutes(t) - 1
        changed = False
        for trigger in self.triggers:
            breaching = newest >= 0 and float(self.visible_max[newest]) > trigger.activation
            if breaching != self.alarms[trigger.trigger_id]:
                self.alarms[trigger.trigger_id] = breaching
                changed = True
        return changed

    # -- after the run --------------------------------------------------------------------------------

    def serving(self, horizon: float) -> QueueServing:
        """Each minute's messages that waited more than the bound (or were never taken), and the
        mean wait of its messages that were taken, from the FIFO's cumulative curves."""
        self.advance(horizon, self._ready)
        arrived = np.concatenate(([0.0], np.cumsum(self.arrivals)))
        times = np.asarray(self._curve_times)
        taken = np.asarray(self._curve_taken)
        starts = np.arange(self.count) * float(PERIOD_SECONDS)
        share = (np.arange(SAMPLES_PER_MINUTE) + 0.5) / SAMPLES_PER_MINUTE
        # Message number n of minute m arrives at m x 60 + share x 60 (uniformly in the minute)
        # and is taken when the cumulative count taken reaches n (FIFO).
        numbers = arrived[:-1, None] + share[None, :] * self.arrivals[:, None]
        arrive_at = starts[:, None] + share[None, :] * PERIOD_SECONDS
        never = numbers > taken[-1] + 1e-9
        taken_at = np.interp(numbers, taken, times)
        wait = np.maximum(taken_at - arrive_at, 0.0)
        late = never | (wait > WAIT_BOUND_SECONDS)
        unserved = self.arrivals * late.mean(axis=1)
        counted = (~never).sum(axis=1)
        mean_wait = np.divide(
            np.where(never, 0.0, wait).sum(axis=1), counted, out=np.zeros(self.count), where=counted > 0
        )
        return QueueServing(unserved=unserved, mean_wait_seconds=mean_wait)
