"""The signals use case: an event in, one decision request per NodePool out (or the event kept
as rejected, with the reason)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from ebb.adapters.alarms import Alarms, CloudWatchAlarms
from ebb.adapters.call_counts import CallCounts
from ebb.adapters.decision_queue import RETIRE, DecisionQueue, PoolMessage, SqsDecisionQueue
from ebb.adapters.metrics import AwsMetricReader, MetricReader
from ebb.adapters.poll_queue import PollQueue, SqsPollQueue
from ebb.adapters.rejected_events import RejectedEvents, SqsRejectedEvents
from ebb.adapters.state_table import DynamoStateTable, StateTable
from ebb.config import EbbConfig
from ebb.config.polling import sub_minute_pools
from ebb.errors import EbbError, InvalidEvent
from ebb.service.alarm_specs import alarm_specs
from ebb.service.configuration import load_for_stack
from ebb.service.idle_polling import polls_every_pool, queued_work, recorded_at_rest
from ebb.service.settings import Settings
from ebb.service.signals import Tick, parse_signal, route
from ebb.service.sub_minute_polls import Poll, PollsForwarded, QueueBatch, parse_poll, polls_of_tick


class IntakeResult(BaseModel):
    """What became of one event."""

    model_config = ConfigDict(frozen=True)

    kind: str
    node_pools: tuple[str, ...] = ()
    alarms_changed: tuple[str, ...] = ()
    """Alarms created, updated or deleted to match a new configuration (on a tick)."""
    rejected: str | None = None
    """Why the event was refused (it was kept in the rejected-events queue)."""
    at_rest: tuple[str, ...] = ()
    """NodePools at rest this tick did not poll (`ebb.service.idle_polling`)."""
    polled: tuple[str, ...] = ()
    """NodePools this tick sent the next minute's sub-minute polls for (`ebb.service.sub_minute_polls`)."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class SignalIntake:
    """Parse, route and enqueue; refuse what is not a signal."""

    config: EbbConfig
    config_version: str
    queue: DecisionQueue
    alarms: Alarms
    table: StateTable
    rejected: RejectedEvents
    alarm_prefix: str
    cluster_arn: str | None
    function_name: str = "signals"
    calls: CallCounts | None = None
    queues: MetricReader | None = None
    """Reads the SQS triggers' queues of pools at rest on the ticks that do not poll them."""
    polls: PollQueue | None = None
    """Where the tick leaves the next minute's sub-minute polls (None: no pool is polled so)."""
    clock: Callable[[], datetime] = _utc_now
    sub_minute: dict[str, int] = field(default_factory=dict)
    """The pools polled sub-minute, with their interval (`ebb.config.polling`); set from `config`."""

    def __post_init__(self) -> None:
        self.sub_minute = sub_minute_pools(self.config)

    @classmethod
    def from_settings(cls, settings: Settings) -> SignalIntake:
        calls = CallCounts()
        loaded = load_for_stack(
            settings.config_dir,
            hyperpod_cluster=settings.hyperpod_cluster,
            eks_cluster=settings.eks_cluster,
            region=settings.region,
        )
        return cls(
            config=loaded.config,
            config_version=loaded.version,
            alarms=CloudWatchAlarms(region_name=settings.region, calls=calls),
            table=DynamoStateTable(
                settings.state_table,
                audit_retention=settings.audit_retention,
                region_name=settings.region,
                calls=calls,
            ),
            queue=SqsDecisionQueue(settings.decision_queue_url, region_name=settings.region, calls=calls),
            rejected=SqsRejectedEvents(
                settings.rejected_events_queue_url, region_name=settings.region, calls=calls
            ),
            alarm_prefix=settings.alarm_prefix,
            # The rule filters on the cluster's name (its ARN ends in an id drawn at creation, which
            # the stack does not know); `route` checks an ARN when one is given.
            cluster_arn=None,
            calls=calls,
            queues=AwsMetricReader(settings.region, calls=calls),
            polls=SqsPollQueue(settings.poll_queue_url, region_name=settings.region, calls=calls),
        )

    def take(self, event: Any) -> IntakeResult:
        """Handle one event."""
        try:
            signal = parse_signal(event)
            messages = route(
                signal, self.config, alarm_prefix=self.alarm_prefix, cluster_arn=self.cluster_arn
            )
        except InvalidEvent as error:
            kind = event.get("detail-type") or event.get("ebb") if isinstance(event, dict) else None
            self.rejected.keep(event, str(error), function=self.function_name)
            return IntakeResult(kind=str(kind or "unknown"), rejected=str(error))
        changed: tuple[str, ...] = ()
        at_rest: tuple[str, ...] = ()
        polled: tuple[str, ...] = ()
        resting: dict[str, bool] = {}
        if isinstance(signal, Tick):
            rolled_out, changed, retired = self.roll_out()
            if not rolled_out and not polls_every_pool(signal.scheduled_time):
                # The first tick of a configuration version decides every pool (its version
                # recorded, new scalers decided); the others leave pools at rest to their alarms.
                at_rest = tuple(m.node_pool for m in messages if self._left_to_alarms(m.node_pool, resting))
                messages = [m for m in messages if m.node_pool not in at_rest]
            # A NodePool the configuration no longer has is retired by decide (its execution
            # stopped, its nodes left and reported), in the pool's own message group.
            messages = messages + [
                PoolMessage(pool, f"retire:{signal.execution_id}", RETIRE, {}) for pool in retired
            ]
        self.queue.send(messages)
        if isinstance(signal, Tick):
            polled = self._send_polls(signal, resting)
        kind = type(signal).__name__
        return IntakeResult(
            kind=kind,
            node_pools=tuple(m.node_pool for m in messages),
            alarms_changed=changed,
            at_rest=at_rest,
            polled=polled,
        )

    def _send_polls(self, tick: Tick, resting: dict[str, bool]) -> tuple[str, ...]:
        """Leave the next minute's polls of every pool polled sub-minute that is not at rest."""
        if self.polls is None:
            return ()
        now = self.clock()
        polled, messages = [], []
        for pool, interval in sorted(self.sub_minute.items()):
            if self._at_rest(pool, resting):
                continue  # its alarms watch it (ebb.service.idle_polling)
            polls = polls_of_tick(
                pool, interval, tick=tick.execution_id, scheduled_time=tick.scheduled_time, now=now
            )
            if polls:
                polled.append(pool)
                messages.extend(polls)
        self.polls.send(messages)
        return tuple(polled)

    def forward_polls(self, batch: QueueBatch) -> PollsForwarded:
        """Forward each due poll of a batch from the poll queue into the decision queue; drop the
        stale ones and those of pools at rest or no longer polled; keep malformed ones as rejected.

        A poll that could not be forwarded or kept is reported as a batch item failure: it comes
        back after the queue's visibility timeout, by then stale, and is dropped (or, if the
        function keeps failing, moved to the poll dead-letter queue).
        """
        now = self.clock()
        resting: dict[str, bool] = {}
        due: list[tuple[str, Poll]] = []
        dropped: list[str] = []
        rejected: list[str] = []
        failures: list[dict[str, str]] = []
        for record in batch.records:
            try:
                poll = parse_poll(record.body)
            except InvalidEvent as error:
                try:
                    self.rejected.keep(_as_event(record.body), str(error), function=self.function_name)
                except EbbError:
                    failures.append({"itemIdentifier": record.message_id})
                    continue
                rejected.append(str(error))
                continue
            if poll.node_pool not in self.sub_minute:
                dropped.append(f"{poll.node_pool}: not polled sub-minute by this configuration")
            elif poll.stale(now):
                late = (now - poll.due_at).total_seconds()
                dropped.append(
                    f"{poll.node_pool}: stale, due {late:.0f} s ago (interval {poll.interval_seconds} s)"
                )
            elif self._at_rest(poll.node_pool, resting):
                dropped.append(f"{poll.node_pool}: at rest")
            else:
                due.append((record.message_id, poll))
        try:
            self.queue.send([poll.decision_request() for _, poll in due])
        except EbbError:
            failures.extend({"itemIdentifier": message_id} for message_id, _ in due)
            due = []
        return PollsForwarded(
            forwarded=tuple(poll.node_pool for _, poll in due),
            dropped=tuple(dropped),
            rejected=tuple(rejected),
            batch_item_failures=failures,
        )

    def _at_rest(self, node_pool: str, resting: dict[str, bool]) -> bool:
        """The pool's recorded `at_rest`, read once per event."""
        if node_pool not in resting:
            resting[node_pool] = recorded_at_rest(self.table.load_pool(node_pool).state_json)
        return resting[node_pool]

    def _left_to_alarms(self, node_pool: str, resting: dict[str, bool]) -> bool:
        """Whether this tick leaves the pool to its alarms: it is at rest and none of its SQS
        triggers' queues holds work (a GetQueueAttributes costs a 25th of a GetMetricData metric,
        so a queue is read every minute and its first message waits for no alarm)."""
        if not self._at_rest(node_pool, resting):
            return False
        if self.queues is None:
            return True
        return not queued_work(self.config, node_pool, self.queues)

    def roll_out(self) -> tuple[bool, tuple[str, ...], tuple[str, ...]]:
        """Once per configuration version (its first tick): number it, make ebb's alarms match it
        and find the NodePools it retires; returns (rolled out now, alarms changed, pools retired)."""
        if self.table.alarms_version() == self.config_version:
            return False, (), ()
        # The first tick of a configuration version also gives it the next sequence number, so
        # provisioning executions started under an older one are fenced off from now on.
        self.table.config_sequence(self.config_version)
        changes = self.alarms.reconcile(f"{self.alarm_prefix}.", alarm_specs(self.config, self.alarm_prefix))
        retired = self.table.roll_out_pools([pool.name for pool in self.config.node_pools])
        self.table.set_alarms_version(self.config_version)
        return True, changes.created_or_updated + changes.deleted, retired


def _as_event(body: str) -> Any:
    """A refused message's body as the rejected-events queue keeps it: as JSON where it is."""
    try:
        return json.loads(body)
    except ValueError:
        return body
