"""The simulator's reuse of unchanged observations gives the snapshots it would build afresh.

`pool_snapshot(..., nodes_seen=...)` reuses a node's frozen `ObservedNode` while its facts are
unchanged, and the load balancer's signals reuse the `CloudWatchResult` of a window of closed
minutes; both are checked against building everything again at every step of a run.
"""

from __future__ import annotations

from collections.abc import Callable

from ebb.config import EbbConfig
from ebb.service.decision import ObservedNode
from ebb.sim.simulator.ebb_policy import EbbPolicy
from ebb.sim.simulator.run import lead_seconds
from ebb.sim.simulator.signals import AlbSignals
from ebb.sim.simulator.snapshot import NodeKey, pool_snapshot
from ebb.sim.simulator.world import Demand, RunSettings, World

DemandOf = Callable[[list[float]], Demand]


def test_reused_nodes_and_results_equal_fresh_ones_through_a_run(config: EbbConfig, demand: DemandOf) -> None:
    settings = RunSettings(boot_delay=60.0, seed=3)
    world = World(config, demand([1, 4, 9, 9, 2, 0, 0, 6, 3]), settings, lead_seconds=lead_seconds(settings))
    EbbPolicy(world, tick_offset=17.0).start()
    seen: dict[NodeKey, ObservedNode] = {}
    signals = world.signals
    assert isinstance(signals, AlbSignals)
    compared = 0
    t = 0.0
    while t < world.horizon:
        t += 7.0
        world.events.run_until(t)
        observations = signals.observations(t)
        fresh = AlbSignals(signals.arrivals, signals.origin, signals.triggers)
        fresh.values, fresh.published, fresh.closed = signals.values, signals.published, signals.closed
        assert observations == fresh.observations(t)
        common = {"node_pool": world.pool_name, "scaler": world.scaler, "observations": observations}
        reused = pool_snapshot(world.cluster, origin=world.origin, nodes_seen=seen, **common)  # type: ignore[arg-type]
        assert reused == pool_snapshot(world.cluster, origin=world.origin, **common)  # type: ignore[arg-type]
        compared += len(reused.nodes)
    assert compared > 100  # nodes came, went and changed along the way
