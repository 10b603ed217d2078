"""The two baselines that need no autoscaler: static provisioning and the clairvoyant oracle.

- static: provisioned for the trace's peak all the time. At the start it sets the replicas to
  the peak's pods and adds the node plan ebb's node core gives for them (the cheapest set of
  nodes that holds them), and never changes anything.
- oracle: clairvoyant, it knows every minute's demand and the boot time; the cost floor for zero
  unserved requests. Capacity is counted in GPUs at the cheapest price per GPU-hour of the
  pool's groups (a floor: real nodes come in 4 or 8 GPUs). Demand is decomposed into layers
  (layer k is needed in the minutes that need at least k pods); each layer's busy runs are paid,
  its first run is preceded by one boot plus one model load (paid, serving nothing), and for
  each idle gap between two runs it keeps the GPU warm (pays the gap) or releases it and pays a
  fresh boot plus model load before the next run, whichever is cheaper: min(gap, boot + load).
  For identical units the layer decomposition is optimal: any schedule has at least k units
  running whenever k are needed, and a unit's cost over a gap cannot be below min(gap, lead).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ebb.config.node_planning import planning_input
from ebb.core.nodes import plan_nodes
from ebb.sim.simulator.world import World


class StaticPolicy:
    """Peak all the time."""

    name = "static"

    def __init__(self, world: World, *, peak_pods: int) -> None:
        self.world = world
        self.peak_pods = peak_pods
        self.decisions = 0
        self.decision_seconds = 0.0
        self.node_target_changes = 0

    def start(self) -> None:
        world = self.world
        inp = planning_input(
            world.config, world.pool_name, now=world.at(0.0), replicas={world.scaler: self.peak_pods}
        )
        plan = plan_nodes(inp).for_pool(world.pool_name)
        for target in plan.targets:
            added = target.target_after - target.target_before
            if added > 0:
                world.cluster.add_nodes(target.instance_group, added, 0.0)
        self.node_target_changes = 1
        world.cluster.set_replicas(self.peak_pods, 0.0)


@dataclass(frozen=True)
class OracleResult:
    """The oracle's cost floor and what it did, over the demand's minutes."""

    gpu_seconds: float
    busy_gpu_seconds: float
    cost: float
    launches: int
    price_per_gpu_hour: float

    @property
    def gpu_hours(self) -> float:
        return self.gpu_seconds / 3600.0

    @property
    def idle_gpu_hours(self) -> float:
        return (self.gpu_seconds - self.busy_gpu_seconds) / 3600.0


def oracle_floor(
    pods_needed: np.ndarray, *, lead_seconds: float, price_per_gpu_hour: float, interval: float = 60.0
) -> OracleResult:
    """The oracle's cost for `pods_needed` (one GPU per pod, one value per interval)."""
    need = np.asarray(pods_needed, dtype=np.int64)
    total = 0.0
    busy_total = 0.0
    launches = 0
    top = int(need.max()) if need.size else 0
    for layer in range(1, top + 1):
        busy = need >= layer
        # Runs of busy intervals: starts where busy begins, ends where it stops.
        padded = np.concatenate(([False], busy, [False]))
        changes = np.flatnonzero(padded[1:] != padded[:-1])
        starts, ends = changes[0::2], changes[1::2]
        runs = (ends - starts) * interval
        gaps = (starts[1:] - ends[:-1]) * interval
        busy_seconds = float(runs.sum())
        kept = np.minimum(gaps, lead_seconds)
        total += busy_seconds + lead_seconds + float(kept.sum())
        busy_total += busy_seconds
        launches += 1 + int(np.count_nonzero(gaps > lead_seconds))
    return OracleResult(
        gpu_seconds=total,
        busy_gpu_seconds=busy_total,
        cost=total / 3600.0 * price_per_gpu_hour,
        launches=launches,
        price_per_gpu_hour=price_per_gpu_hour,
    )
