"""One simulated run's world: the configuration, the demand, the cluster, the signals, the clock.

Every policy runs in its own world built from the same inputs (same seed, same boot draws in
the same order of requests), so differences between policies come from their decisions only.

The start rule (the same for every policy): the simulation begins one boot (its longest draw)
plus one model load (rounded up to whole minutes, so CloudWatch's periods line up with the
trace's minutes) before the first request, with everything at its minimum (no node, no pod).
Node-hours are counted until the trace ends plus the scaler's `cooldownPeriod` plus the
NodePool's `consolidateAfter` (the time the autoscalers need to come back to their minimum
after the last request), the same window for every policy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

import numpy as np

from ebb.config import EbbConfig, ScaledObject
from ebb.config.keda_triggers import AwsSqsQueueTrigger
from ebb.config.node_planning import pod_group, pod_group_name, pool_statics
from ebb.sim.simulator.cluster import EventQueue, GroupSpec, ReadyTimeline, ShortageWindow, SimCluster
from ebb.sim.simulator.queue import QueueSignals, queue_triggers
from ebb.sim.simulator.signals import PERIOD_SECONDS, AlbSignals, SimulationError, trigger_metrics

ORIGIN = datetime(2026, 1, 5, tzinfo=UTC)
"""The simulated clock's start (a whole minute): the trace's own dates play no part (the
comparison's configuration has no pre-warm window, the only setting that reads the date)."""


@dataclass(frozen=True)
class Demand:
    """The trace, per minute: arrivals (fluid counts) and their mean hold time in seconds."""

    arrivals: np.ndarray
    hold_seconds: np.ndarray
    name: str = "trace"

    @property
    def minutes(self) -> int:
        return int(self.arrivals.size)


@dataclass(frozen=True)
class RunSettings:
    """What every policy's run shares."""

    boot_delay: float = 180.0
    model_load_seconds: float = 60.0
    seed: int = 0
    shortages: tuple[ShortageWindow, ...] = ()
    publishing_delay: float = 60.0


def the_scaled_object(config: EbbConfig) -> tuple[str, ScaledObject]:
    """The one NodePool and its one ScaledObject the comparison runs (refused otherwise)."""
    if len(config.scaled_objects) != 1 or len(config.node_pools) != 1:
        raise SimulationError(
            f"the simulator runs one ScaledObject on one NodePool; the configuration has "
            f"{len(config.scaled_objects)} ScaledObject(s) and {len(config.node_pools)} NodePool(s)"
        )
    scaled_object = config.scaled_objects[0]
    return config.node_pool_of(scaled_object).name, scaled_object


def group_specs(config: EbbConfig, pool_name: str, scaled_object: ScaledObject) -> tuple[GroupSpec, ...]:
    """Each instance group of the pool, with how many of the scaler's pods one node holds and
    what one of its nodes costs.

    The price is the offering's, the one the node planner chooses by (`InstanceGroup.node_price`):
    the binding group's `usdPerHour`, else the catalogue's `zoneUsdPerHour` for the group's zone,
    else the type's on-demand price (`ebb.config.node_planning.instance_group`), so every policy
    is billed what it was choosing between.
    """
    statics = pool_statics(config, pool_name)
    types = {t.name: t for t in statics.instance_types}
    overhead = statics.node_pool.daemonset_overhead
    need = pod_group(config, scaled_object, 1).requests
    specs = []
    for group in statics.instance_groups:
        facts = config.instance_group(group.name)
        assert facts is not None  # a valid configuration states every group of its pools
        kind = types[facts.instance_type]
        room = kind.allocatable
        pairs = (
            (room.cpu_millis - overhead.cpu_millis, need.cpu_millis),
            (room.memory_bytes - overhead.memory_bytes, need.memory_bytes),
            (room.gpus - overhead.gpus, need.gpus),
        )
        fit = min((free // want for free, want in pairs if want > 0), default=0)
        specs.append(
            GroupSpec(
                name=group.name,
                instance_type=facts.instance_type,
                zone=facts.availability_zone,
                gpus=room.gpus,
                pods_per_node=max(int(fit), 0),
                price_per_hour=float(group.node_price(kind)),
            )
        )
    return tuple(specs)


class World:
    """The run's clock, cluster and signals."""

    def __init__(
        self, config: EbbConfig, demand: Demand, settings: RunSettings, *, lead_seconds: float
    ) -> None:
        self.config = config
        self.demand = demand
        self.settings = settings
        self.pool_name, self.scaled_object = the_scaled_object(config)
        self.scaler = pod_group_name(self.scaled_object)
        pool = config.node_pool(self.pool_name)
        assert pool is not None
        self.lead_minutes = math.ceil(lead_seconds / PERIOD_SECONDS)
        consolidate_after = pool.spec.disruption.consolidate_after
        tail = self.scaled_object.spec.cooldown_period + (
            consolidate_after.seconds if consolidate_after.seconds is not None else 0
        )
        self.tail_minutes = math.ceil(tail / PERIOD_SECONDS)
        minutes = self.lead_minutes + demand.minutes + self.tail_minutes
        self.minutes = minutes
        self.horizon = float(minutes * PERIOD_SECONDS)
        self.arrivals = np.zeros(minutes)
        self.arrivals[self.lead_minutes : self.lead_minutes + demand.minutes] = demand.arrivals
        self.hold = np.full(minutes, float(np.mean(demand.hold_seconds)) if demand.minutes else 0.5)
        self.hold[self.lead_minutes : self.lead_minutes + demand.minutes] = demand.hold_seconds
        self.origin = ORIGIN
        self.events = EventQueue()
        self.groups = group_specs(config, self.pool_name, self.scaled_object)
        self.cluster = SimCluster(
            self.groups,
            self.events,
            boot_delay=settings.boot_delay,
            model_load_seconds=settings.model_load_seconds,
            rng=np.random.default_rng(settings.seed),
            shortages=settings.shortages,
        )
        self.timeline = ReadyTimeline(interval=PERIOD_SECONDS, count=minutes)
        self.paid_gpus = np.zeros(minutes, dtype=np.int64)
        """GPUs of the launched nodes at each minute's end."""
        self.cluster.ready_listeners.append(self.timeline.advance)
        self.signals: AlbSignals | QueueSignals
        triggers = self.scaled_object.spec.triggers
        if triggers and all(isinstance(t, AwsSqsQueueTrigger) for t in triggers):
            # The trace's requests are messages on the queue the triggers read.
            self.signals = QueueSignals(
                self.arrivals,
                self.hold,
                self.origin,
                queue_triggers(self.scaled_object),
                publishing_delay=settings.publishing_delay,
            )
            self.cluster.ready_listeners.append(self.signals.advance)
        else:
            self.signals = AlbSignals(
                self.arrivals,
                self.origin,
                trigger_metrics(self.scaled_object),
                publishing_delay=settings.publishing_delay,
            )
        self.alarm_listeners: list[object] = []
        for minute in range(minutes):
            self.events.at((minute + 1) * PERIOD_SECONDS, partial(self._close, minute))

    def at(self, t: float) -> datetime:
        """The simulated wall clock at simulation time `t`."""
        return self.origin + timedelta(seconds=t)

    def _close(self, minute: int, t: float) -> None:
        self.timeline.advance(t, self.cluster.ready_pods)
        self.paid_gpus[minute] = sum(
            n.group.gpus for n in self.cluster.nodes.values() if n.launched_at is not None
        )
        zero = float(self.timeline.zero_seconds[minute]) / PERIOD_SECONDS
        self.signals.close_minute(minute, zero, int(self.timeline.targets_seen[minute]))
        readable_at = t + self.signals.publishing_delay
        self.events.at(readable_at, self._readable)

    def _readable(self, t: float) -> None:
        if self.signals.evaluate_alarms(t):
            for listener in self.alarm_listeners:
                listener(t)  # type: ignore[operator]

    def finish(self) -> None:
        """Bill and account everything up to the horizon."""
        self.cluster.accrue(self.horizon)
        self.timeline.advance(self.horizon, self.cluster.ready_pods)
