"""The signals use case: an event in, one decision request per NodePool out (or the event kept
as rejected, with the reason)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from ebb.adapters.alarms import Alarms, CloudWatchAlarms
from ebb.adapters.call_counts import CallCounts
from ebb.adapters.decision_queue import RETIRE, DecisionQueue, PoolMessage, SqsDecisionQueue
from ebb.adapters.metrics import AwsMetricReader, MetricReader
from ebb.adapters.rejected_events import RejectedEvents, SqsRejectedEvents
from ebb.adapters.state_table import DynamoStateTable, StateTable
from ebb.config import EbbConfig
from ebb.errors import InvalidEvent
from ebb.service.alarm_specs import alarm_specs
from ebb.service.configuration import load_for_stack
from ebb.service.idle_polling import polls_every_pool, queued_work, recorded_at_rest
from ebb.service.settings import Settings
from ebb.service.signals import Tick, parse_signal, route


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
        if isinstance(signal, Tick):
            rolled_out, changed, retired = self.roll_out()
            if not rolled_out and not polls_every_pool(signal.scheduled_time):
                # The first tick of a configuration version decides every pool (its version
                # recorded, new scalers decided); the others leave pools at rest to their alarms.
                at_rest = tuple(m.node_pool for m in messages if self._left_to_alarms(m.node_pool))
                messages = [m for m in messages if m.node_pool not in at_rest]
            # A NodePool the configuration no longer has is retired by decide (its execution
            # stopped, its nodes left and reported), in the pool's own message group.
            messages = messages + [
                PoolMessage(pool, f"retire:{signal.execution_id}", RETIRE, {}) for pool in retired
            ]
        self.queue.send(messages)
        kind = type(signal).__name__
        return IntakeResult(
            kind=kind,
            node_pools=tuple(m.node_pool for m in messages),
            alarms_changed=changed,
            at_rest=at_rest,
        )

    def _left_to_alarms(self, node_pool: str) -> bool:
        """Whether this tick leaves the pool to its alarms: it is at rest and none of its SQS
        triggers' queues holds work (a GetQueueAttributes costs a 25th of a GetMetricData metric,
        so a queue is read every minute and its first message waits for no alarm)."""
        if not recorded_at_rest(self.table.load_pool(node_pool).state_json):
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
