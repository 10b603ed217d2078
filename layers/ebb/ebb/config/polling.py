"""Sub-minute polling: how often a NodePool is decided, and what deciding it more often costs.

ebb decides a pool on the one-minute tick (EventBridge Scheduler's finest rate), on its alarms'
edges and on idle timers, whatever a ScaledObject's `pollingInterval` says (KEDA checks each
trigger every `pollingInterval` seconds, default 30: KEDA docs, "ScaledObject specification").
A scaler whose binding entry says `subMinutePolling: true` asks for more: its pool is then
decided every `pool_interval` seconds, the smallest interval its opted-in scalers ask for.

An interval is a divisor of 60 among `SUB_MINUTE_INTERVALS`, so that every minute holds the
same polls at the same offsets from the tick's scheduled minute: a `pollingInterval` between them
is rounded down (the pool is never polled less often than asked), one under 10 s is polled every
10 s (the shortest: each poll is a whole pool decision), and one of 60 s or more needs no poll
(the tick decides the pool every minute already).

The cost is in decisions: a pool polled every N seconds is decided 60 / N times a minute
instead of once, and each extra decision costs what any pool decision costs (the signals and
decide invocations, the FIFO queue's and the poll queue's requests, the pool's state and audit
items) plus one GetMetricData metric per CloudWatch trigger of the pool. `monthly_cost` estimates
it from the figures `bench/bench_bill.py` measured (the constants below); the bench prints them
beside what it measured, so a drift shows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ebb.config.ebb_config import EbbConfig
from ebb.config.keda_triggers import AwsCloudWatchTrigger, AwsSqsQueueTrigger

TICK_SECONDS = 60
"""The tick's period: EventBridge Scheduler's finest rate, `rate(1 minute)`."""
SUB_MINUTE_INTERVALS = (10, 15, 20, 30)
"""The intervals a pool may be polled at: the divisors of 60 from 10 s on."""
DECISIONS_PER_MONTH_AT_ONE_A_MINUTE = 60 * 730
"""One decision a minute for a month of 730 hours (the bill's month)."""

# Measured by bench/bench_bill.py on 2026-12-04 (its sub-minute polling window: the example's
# pool polled every 15 s while busy, against the same hour without polling), per extra decision
# a minute for a month, at the prices of ebb.sim.bill (US East, retrieved 2026-12-03).
POOL_DECISION_USD = 1.30
"""What one more decision a minute of a pool costs a month before its scalers and triggers:
Lambda (signals forwarding the poll, decide), DynamoDB (the counter read, the claim, the state
item in the record's transaction, the at-rest read), SQS (the poll queue's and the FIFO decision
queue's requests), logs."""
SCALER_USD = 4 * 0.625 / 1e6 * DECISIONS_PER_MONTH_AT_ONE_A_MINUTE
"""Each scaler of the pool: its audit item (about 2 KB) in each decision's transaction, two
write units per started KB ($0.625 per million write units)."""
CLOUDWATCH_TRIGGER_USD = 0.01 / 1000 * DECISIONS_PER_MONTH_AT_ONE_A_MINUTE
"""Each `aws-cloudwatch` trigger of the pool: one GetMetricData metric per decision ($0.01 per
1,000 metrics requested)."""
SQS_TRIGGER_USD = 0.40 / 1e6 * DECISIONS_PER_MONTH_AT_ONE_A_MINUTE
"""Each `aws-sqs-queue` trigger of the pool: one GetQueueAttributes per decision ($0.40 per
million standard-queue requests)."""


def poll_interval(polling_interval: int) -> int | None:
    """The interval a `pollingInterval` (seconds) is polled at when opted in, or None when the
    tick is often enough (60 s or more)."""
    if polling_interval >= TICK_SECONDS:
        return None
    fitting = [interval for interval in SUB_MINUTE_INTERVALS if interval <= polling_interval]
    return max(fitting) if fitting else SUB_MINUTE_INTERVALS[0]


def smallest_interval(asked: Iterable[tuple[bool, int]]) -> int | None:
    """The interval a pool is polled at, from its scalers' (`subMinutePolling`,
    `pollingInterval`) pairs: the smallest an opted-in scaler asks for; None for the tick alone."""
    intervals = [
        interval
        for opted_in, seconds in asked
        if opted_in and (interval := poll_interval(seconds)) is not None
    ]
    return min(intervals) if intervals else None


def pool_interval(config: EbbConfig, node_pool: str) -> int | None:
    """The interval `node_pool` is polled at (None: decided by the tick, once a minute)."""
    return smallest_interval(
        (config.scaler_binding(so).sub_minute_polling, so.spec.polling_interval)
        for so in config.scaled_objects
        if config.scaler_binding(so).node_pool == node_pool
    )


def sub_minute_pools(config: EbbConfig) -> dict[str, int]:
    """Every pool polled sub-minute, with its interval."""
    intervals = {pool.name: pool_interval(config, pool.name) for pool in config.node_pools}
    return {name: interval for name, interval in intervals.items() if interval is not None}


def extra_decisions_per_minute(interval: int | None) -> int:
    """The decisions a minute a pool polled every `interval` seconds adds to the tick's one."""
    return 0 if interval is None else TICK_SECONDS // interval - 1


@dataclass(frozen=True)
class PoolShape:
    """What a pool's decision reads and writes, for the cost of deciding it more often."""

    scalers: int
    cloudwatch_triggers: int
    sqs_triggers: int

    @classmethod
    def of(cls, config: EbbConfig, node_pool: str) -> PoolShape:
        """The shape of a pool of `config`."""
        scaled = [so for so in config.scaled_objects if config.scaler_binding(so).node_pool == node_pool]
        triggers = [trigger for so in scaled for trigger in so.spec.triggers]
        return cls(
            scalers=len(scaled),
            cloudwatch_triggers=sum(isinstance(t, AwsCloudWatchTrigger) for t in triggers),
            sqs_triggers=sum(isinstance(t, AwsSqsQueueTrigger) for t in triggers),
        )

    def usd_per_extra_decision(self) -> float:
        """A month of one more decision a minute of such a pool (US East prices, no free tier)."""
        return (
            POOL_DECISION_USD
            + self.scalers * SCALER_USD
            + self.cloudwatch_triggers * CLOUDWATCH_TRIGGER_USD
            + self.sqs_triggers * SQS_TRIGGER_USD
        )


def monthly_cost(interval: int | None, shape: PoolShape) -> float:
    """Estimated USD a month a pool of `shape` costs polled every `interval` s beyond the tick's
    decisions (while it is not at rest: a pool at rest is not polled sub-minute)."""
    return extra_decisions_per_minute(interval) * shape.usd_per_extra_decision()
