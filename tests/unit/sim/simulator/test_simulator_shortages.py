"""A zone out of capacity: HyperPod fails the launch late and retries it; ebb and Karpenter move on.

ml.g5.12xlarge has no capacity in us-east-1a for the whole run. A node added there is attempted
5 s later, fails for lack of capacity (no instance, nothing billed) and HyperPod retries it every
120-300 s by itself. ebb's decision sees the failed node, marks the offering (type x zone) and
re-plans onto the other groups, and its provisioning round cancels the starved node; Karpenter
marks the offering in its unavailable-offerings cache and deletes the NodeClaim.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ebb.config import EbbConfig
from ebb.sim.simulator.cluster import ShortageWindow
from ebb.sim.simulator.ebb_policy import EbbPolicy
from ebb.sim.simulator.keda_karpenter import KedaKarpenterPolicy
from ebb.sim.simulator.run import lead_seconds
from ebb.sim.simulator.world import Demand, RunSettings, World

DemandOf = Callable[[list[float]], Demand]
SHORT = ShortageWindow(instance_type="ml.g5.12xlarge", zone="us-east-1a", start=0.0, end=1e9)


@pytest.mark.parametrize("policy_name", ["ebb", "keda-karpenter"])
def test_the_share_moves_off_the_starved_offering_and_is_served(
    config: EbbConfig, demand: DemandOf, policy_name: str
) -> None:
    settings = RunSettings(boot_delay=60.0, seed=6, shortages=(SHORT,))
    world = World(config, demand([6.0] * 40), settings, lead_seconds=lead_seconds(settings))
    policy = (
        EbbPolicy(world, tick_offset=30.0) if policy_name == "ebb" else KedaKarpenterPolicy(world, phase=3.0)
    )
    failed: list[str] = []
    world.cluster.listeners.append(
        lambda t, what, node: failed.append(node.group.name) if what == "capacity-failure" else None
    )
    policy.start()
    world.events.run_until(world.horizon / 2)
    # The starved group was tried (and failed), then the pods went elsewhere and became Ready.
    assert "g5-4gpu-use1a" in failed
    assert world.cluster.ready_pods >= 6
    launched = {n.group.name for n in world.cluster.nodes.values() if n.launched_at is not None}
    assert launched
    assert "g5-4gpu-use1a" not in launched
    assert all(n.launched_at is None for n in world.cluster.nodes.values() if n.group.name == "g5-4gpu-use1a")
