"""Run one policy over a demand on its own simulated cluster, and measure what it did.

Serving is computed once the run is over, with the fixed service model's queueing model
(`ebb.traffic.service_model.serve`) on what the cluster had Ready each minute: the requests of
the share of a minute with no Ready pod are unserved (no replica was Ready), the rest are
served by the minute's time-weighted mean of Ready pods over the time some were Ready.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ebb.config import EbbConfig
from ebb.sim.bill import PRICES, PRICES_DATE, cost, simulated_run_units
from ebb.sim.simulator.baselines import StaticPolicy, oracle_floor
from ebb.sim.simulator.cluster import BOOT_SPREAD
from ebb.sim.simulator.ebb_policy import EbbPolicy
from ebb.sim.simulator.keda_karpenter import KedaKarpenterPolicy
from ebb.sim.simulator.queue import WAIT_BOUND_SECONDS, QueueSignals
from ebb.sim.simulator.signals import PERIOD_SECONDS, SimulationError
from ebb.sim.simulator.world import Demand, RunSettings, World
from ebb.traffic.service_model import SLOTS_PER_POD, serve

POLICIES = ("ebb", "keda-karpenter", "static", "oracle")


class Policy(Protocol):
    name: str
    decisions: int
    decision_seconds: float
    node_target_changes: int

    def start(self) -> None: ...


def pods_needed(arrivals: np.ndarray, hold: np.ndarray) -> np.ndarray:
    """Per minute, the pods the demand needs: ceil(arrivals / 60 x hold / 8) (Little's law)."""
    busy = arrivals / PERIOD_SECONDS * hold / SLOTS_PER_POD
    return np.asarray(np.maximum(np.ceil(busy - 1e-9), 0), dtype=np.int64)


@dataclass(frozen=True)
class PolicyReport:
    """What one policy did over the run (figures are over the same window for every policy)."""

    policy: str
    requests: float
    unserved: float
    unserved_no_ready: float
    unserved_waited: float
    under_provisioned_minutes: int
    gpu_hours: float
    """GPU-hours paid: each launched node's hours times its GPUs (not node-hours)."""
    node_hours: float
    cost: float
    """USD: each node's hours at its offering's price (`ebb.sim.simulator.world.group_specs`)."""
    idle_gpu_hours: float
    """GPU-hours paid minus those that served demand (per minute, the lesser of Ready and needed pods)."""
    node_launches: int
    scaling_actions: int
    rise_to_capacity_seconds: tuple[float, ...]
    cold_starts: int
    mean_wait_seconds: float
    decisions: int
    seconds_per_decision: float
    wall_seconds: float
    cpu_seconds: float
    """This process's CPU time for the run (the wall time counts other processes' share too)."""
    ready_pods: np.ndarray
    needed_pods: np.ndarray
    paid_gpus: np.ndarray
    """Per minute, the GPUs of the launched nodes (at the minute's end)."""
    wait_bound_seconds: float = 10.0
    """A request that waited longer for a slot is unserved (10 s over HTTP, 300 s on a queue)."""
    node_hours_by_group: dict[str, float] = field(default_factory=dict)
    """Node-hours per instance group (the oracle's, in its cheapest group, are fractional nodes)."""
    own_bill_units: dict[str, float] | None = None
    """ebb only: its own AWS bill for the run, units per price dimension (`ebb.sim.bill`)."""

    @property
    def own_bill(self) -> dict[str, float] | None:
        """ebb only: its own AWS bill for the run, USD per price dimension."""
        return None if self.own_bill_units is None else cost(self.own_bill_units)

    @property
    def own_bill_usd(self) -> float | None:
        bill = self.own_bill
        return None if bill is None else sum(bill.values())

    @property
    def unserved_share(self) -> float:
        return self.unserved / self.requests if self.requests else 0.0

    def as_json(self) -> dict[str, object]:
        rises = self.rise_to_capacity_seconds
        return {
            "policy": self.policy,
            "requests": round(self.requests, 3),
            "unserved": round(self.unserved, 3),
            "unservedShare": self.unserved_share,
            "unservedNoReadyReplica": round(self.unserved_no_ready, 3),
            f"unservedWaitedOver{self.wait_bound_seconds:g}s": round(self.unserved_waited, 3),
            "underProvisionedMinutes": self.under_provisioned_minutes,
            "gpuHours": round(self.gpu_hours, 4),
            "nodeHours": round(self.node_hours, 4),
            "nodeHoursByGroup": {name: round(h, 4) for name, h in sorted(self.node_hours_by_group.items())},
            "costUsd": round(self.cost, 4),
            "idleGpuHours": round(self.idle_gpu_hours, 4),
            "nodeLaunches": self.node_launches,
            "scalingActions": self.scaling_actions,
            "riseToCapacitySeconds": {
                "count": len(rises),
                "mean": float(np.mean(rises)) if rises else None,
                "max": float(np.max(rises)) if rises else None,
            },
            "coldStartsFromZero": self.cold_starts,
            "meanWaitSeconds": self.mean_wait_seconds,
            "decisions": self.decisions,
            "secondsPerDecision": self.seconds_per_decision,
            "wallSeconds": self.wall_seconds,
            "cpuSeconds": self.cpu_seconds,
            "ownAwsBill": None
            if self.own_bill_units is None or self.own_bill is None
            else {
                "totalUsd": round(sum(self.own_bill.values()), 6),
                "pricesRetrieved": PRICES_DATE,
                "dimensions": {
                    name: {
                        "units": round(units, 6),
                        "unit": PRICES[name].unit,
                        "usd": round(self.own_bill[name], 6),
                    }
                    for name, units in self.own_bill_units.items()
                },
            },
        }


def rises_to_capacity(ready: np.ndarray, needed: np.ndarray) -> tuple[float, ...]:
    """For each demand rise (a minute needing more pods than the one before and more than are
    Ready), the minutes until Ready pods first reach what it needs, in seconds (censored at the end)."""
    found = []
    index = 1
    count = needed.size
    while index < count:
        if needed[index] > needed[index - 1] and ready[index] < needed[index]:
            want = needed[index]
            end = index
            while end < count and ready[end] < want:
                end += 1
            found.append(float((end - index) * PERIOD_SECONDS))
            index = max(end, index + 1)
        else:
            index += 1
    return tuple(found)


def cold_starts(ready: np.ndarray, arrivals: np.ndarray) -> int:
    """Episodes of requests arriving while nothing is Ready (after a minute that was not one)."""
    cold = (arrivals > 0) & (ready <= 0)
    starts = cold & ~np.concatenate(([False], cold[:-1]))
    return int(np.count_nonzero(starts))


def lead_seconds(settings: RunSettings) -> float:
    """One boot (its longest draw) plus one model load."""
    return settings.boot_delay * (1 + BOOT_SPREAD) + settings.model_load_seconds


def run_policy(
    name: str,
    config: EbbConfig,
    demand: Demand,
    settings: RunSettings,
    *,
    progress: Callable[[float], None] | None = None,
) -> PolicyReport:
    """Run `name` (one of `POLICIES`) and report it; `progress` gets the simulated share done."""
    started = time.perf_counter()
    cpu = time.process_time()
    world = World(config, demand, settings, lead_seconds=lead_seconds(settings))
    needed = pods_needed(world.arrivals, world.hold)
    if name == "oracle":
        return _oracle(world, needed, started, cpu)
    rng = np.random.default_rng(settings.seed + 1)
    policy: Policy
    if name == "ebb":
        policy = EbbPolicy(world, tick_offset=float(rng.uniform(0, 60)))
    elif name == "keda-karpenter":
        policy = KedaKarpenterPolicy(world, phase=float(rng.uniform(0, 15)))
    elif name == "static":
        policy = StaticPolicy(world, peak_pods=int(needed.max()) if needed.size else 0)
    else:
        raise SimulationError(f"unknown policy {name!r}; the policies are {', '.join(POLICIES)}")
    policy.start()
    steps = 200 if progress is not None else 1
    for step in range(1, steps + 1):
        world.events.run_until(world.horizon * step / steps)
        if progress is not None:
            progress(step / steps)
    world.finish()
    return _report(world, policy, needed, started, cpu)


def _served(world: World) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if isinstance(world.signals, QueueSignals):
        # Messages wait for a slot: none is lost for want of a Ready pod, late ones are unserved.
        serving = world.signals.serving(world.horizon)
        return np.zeros(world.minutes), serving.unserved, serving.mean_wait_seconds, world.arrivals
    zero = world.timeline.zero_seconds / PERIOD_SECONDS
    some = 1.0 - zero
    arrivals = world.arrivals * some
    ready = np.divide(world.timeline.mean_ready(), some, out=np.zeros_like(some), where=some > 1e-12)
    hold = np.where(world.hold > 0, world.hold, 0.5)
    result = serve(arrivals, hold, ready, PERIOD_SECONDS)
    no_ready = world.arrivals * zero + result.unserved_no_ready
    return no_ready, result.unserved_waited, result.mean_wait_seconds, result.admitted


def _report(world: World, policy: Policy, needed: np.ndarray, started: float, cpu: float) -> PolicyReport:
    usage = world.cluster.usage
    no_ready, waited, waits, admitted = _served(world)
    ready = world.timeline.mean_ready()
    admitted_total = float(admitted.sum())
    return PolicyReport(
        policy=policy.name,
        requests=float(world.arrivals.sum()),
        unserved=float(no_ready.sum() + waited.sum()),
        unserved_no_ready=float(no_ready.sum()),
        unserved_waited=float(waited.sum()),
        under_provisioned_minutes=int(np.count_nonzero(ready + 1e-9 < needed)),
        gpu_hours=usage.gpu_seconds / 3600.0,
        node_hours=usage.node_seconds / 3600.0,
        node_hours_by_group={name: seconds / 3600.0 for name, seconds in usage.group_node_seconds.items()},
        cost=usage.cost,
        idle_gpu_hours=(usage.gpu_seconds - float(np.minimum(ready, needed).sum()) * PERIOD_SECONDS) / 3600.0,
        node_launches=usage.launches,
        scaling_actions=usage.replica_changes + policy.node_target_changes,
        rise_to_capacity_seconds=rises_to_capacity(ready, needed),
        cold_starts=cold_starts(ready, world.arrivals),
        mean_wait_seconds=float((waits * admitted).sum() / admitted_total) if admitted_total else 0.0,
        decisions=policy.decisions,
        seconds_per_decision=policy.decision_seconds / policy.decisions if policy.decisions else 0.0,
        wall_seconds=time.perf_counter() - started,
        cpu_seconds=time.process_time() - cpu,
        ready_pods=ready,
        needed_pods=needed,
        paid_gpus=world.paid_gpus,
        wait_bound_seconds=WAIT_BOUND_SECONDS if isinstance(world.signals, QueueSignals) else 10.0,
        own_bill_units=simulated_run_units(policy.run_counts(world.horizon))
        if isinstance(policy, EbbPolicy)
        else None,
    )


def _oracle(world: World, needed: np.ndarray, started: float, cpu: float) -> PolicyReport:
    cheapest = min(world.groups, key=lambda g: g.price_per_hour / max(g.gpus, 1))
    per_gpu = cheapest.price_per_hour / cheapest.gpus
    floor = oracle_floor(needed, lead_seconds=lead_seconds(world.settings), price_per_gpu_hour=per_gpu)
    return PolicyReport(
        policy="oracle",
        requests=float(world.arrivals.sum()),
        unserved=0.0,
        unserved_no_ready=0.0,
        unserved_waited=0.0,
        under_provisioned_minutes=0,
        gpu_hours=floor.gpu_hours,
        node_hours=floor.gpu_hours / cheapest.gpus,
        node_hours_by_group={cheapest.name: floor.gpu_hours / cheapest.gpus},
        cost=floor.cost,
        idle_gpu_hours=floor.idle_gpu_hours,
        node_launches=floor.launches,
        scaling_actions=floor.launches,
        rise_to_capacity_seconds=(),
        cold_starts=0,
        mean_wait_seconds=0.0,
        decisions=0,
        seconds_per_decision=0.0,
        wall_seconds=time.perf_counter() - started,
        cpu_seconds=time.process_time() - cpu,
        ready_pods=needed.astype(np.float64),
        needed_pods=needed,
        paid_gpus=needed,
    )
