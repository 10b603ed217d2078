"""The tick's slower cadence for a NodePool at rest: polled every `IDLE_POLL_MINUTES`, not every minute.

A pool is *at rest* when its last decision found every scaler at zero replicas and deciding zero
(none held by another autoscaler), no pending pod, no node in the pool's groups, no node
targeted, no provisioning open, no backfill and no idle timer armed: nothing can change but its
triggers' metrics. Those are watched by the triggers' alarms, one per trigger at its activation
value (`ebb.service.alarm_specs`): the first request or message is an OK -> ALARM edge that wakes
the pool's decision at once, whatever the cadence. The tick is then only the safety net (an
alarm edge lost, an alarm deleted or changed by hand, an activation the alarm's single statistic
does not see), so the tick polls a pool at rest only on the minutes that are a multiple of
`IDLE_POLL_MINUTES` since the epoch. A pool's SQS triggers are the exception: their queues are
read by the tick itself every minute (one GetQueueAttributes each, $0.02 a month, against $0.44
for a CloudWatch trigger's GetMetricData read every minute), and a queue holding work decides
the pool at that tick, so the first message on an idle worker's queue waits for no alarm. Every
other signal (alarms, idle timers, HyperPod events,
configuration roll-outs, retirements) reaches the pool as before, and a pool that is not at rest
is polled by every tick.

Five minutes, from the bill (`bench/bench_bill.py`): one more scaler with two CloudWatch triggers
idle at zero costs its two alarms ($0.20 a month) plus its GetMetricData reads and its audit item
in each of its pool's decisions ($0.99 a month at one decision a minute); polled every five
minutes the reads and items are a fifth of that, $0.40 a month in all, within the $0.50 goal
(every four minutes would be $0.45, every three $0.53). Five minutes is also KEDA's default
`cooldownPeriod` (300 s): no longer than KEDA itself waits before it scales a target to zero.

The cadence is derived from the tick's own scheduled time and the state table (the pool's
recorded `at_rest`), never from anything a container remembers: a cold container, or two ticks
in two containers, make the same choice.
"""

import json
from datetime import datetime
from typing import TYPE_CHECKING

from ebb.adapters.metrics import MetricReader
from ebb.config import EbbConfig
from ebb.config.keda_triggers import AwsSqsQueueTrigger
from ebb.core.replicas.observations import SqsQueueAttributes

if TYPE_CHECKING:  # the signals function imports this module: it needs no decision model
    from ebb.service.decision import PoolDecision, PoolSnapshot

IDLE_POLL_MINUTES = 5
"""A pool at rest is polled by the ticks of the minutes that are a multiple of this (UTC, since the epoch)."""
AT_REST = "at_rest"
"""The pool state's field that records it (`PoolState.at_rest`)."""


def pool_at_rest(snapshot: "PoolSnapshot", decision: "PoolDecision") -> bool:
    """Whether the decision leaves the pool with nothing to watch but its triggers' metrics."""
    state = decision.state
    return (
        all(scaler.replicas.spec == 0 and not scaler.held_by for scaler in snapshot.scalers.values())
        and all(outcome.decision.explanation.desired == 0 for outcome in decision.scalers)
        and not snapshot.pending
        and not snapshot.nodes
        and not any(decision.node_targets.values())
        and not state.provisioning_open
        and state.backfill is None
        and all(wake_at is None for wake_at in decision.idle_timers.values())
    )


def polls_every_pool(scheduled_time: datetime) -> bool:
    """Whether the tick scheduled at `scheduled_time` polls the pools at rest too."""
    return int(scheduled_time.timestamp() // 60) % IDLE_POLL_MINUTES == 0


def queued_work(config: EbbConfig, node_pool: str, queues: MetricReader) -> bool:
    """Whether a queue of the pool's SQS triggers holds more than its activation length (KEDA's
    `aws-sqs-queue` scaler: the queue length is the sum of the attributes it reads, active above
    `activationQueueLength`), or cannot be read (the decision then says why)."""
    pool = config.node_pool(node_pool)
    if pool is None:
        return True
    for scaled_object in config.scaled_objects_of(pool):
        for trigger in scaled_object.spec.triggers:
            if not isinstance(trigger, AwsSqsQueueTrigger):
                continue
            metadata = trigger.metadata
            read = queues.read_queue(metadata.queue_url, metadata.attribute_names)
            if not isinstance(read, SqsQueueAttributes):
                return True
            try:
                length = sum(int(read.attributes.get(name, "0")) for name in metadata.attribute_names)
            except ValueError:
                return True
            if length > metadata.activation_queue_length:
                return True
    return False


def recorded_at_rest(state_json: str | None) -> bool:
    """Whether the pool's stored state (as the state table holds it) says its last decision left it at rest.

    Read without building the pool state's model: the signals function only needs this field.
    """
    if not state_json:
        return False
    return json.loads(state_json).get(AT_REST) is True
