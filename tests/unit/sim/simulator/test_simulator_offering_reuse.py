"""The Karpenter reference's reuse of its static offerings and node facts changes none of
keda-karpenter's decisions.

`ebb.sim.karpenter_reference` keeps each (pool, group) offering the configuration makes
(`_STATIC_OFFERINGS`) and each existing node's empty room and labels (`_STATIC_NODES`); a run
that rebuilds them at every batch and consolidation pass must come out the same, node for node.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from ebb.config import EbbConfig
from ebb.sim import karpenter_reference
from ebb.sim.simulator.run import run_policy
from ebb.sim.simulator.world import Demand, RunSettings

DemandOf = Callable[[list[float]], Demand]


class _Forgetting(dict):  # type: ignore[type-arg]
    """A cache that keeps nothing: every offering is built afresh."""

    def __setitem__(self, key: object, value: object) -> None:
        return None


@pytest.mark.parametrize("cache", ["_STATIC_OFFERINGS", "_STATIC_NODES"])
def test_a_run_rebuilding_every_offering_makes_the_same_decisions(
    config: EbbConfig, demand: DemandOf, monkeypatch: pytest.MonkeyPatch, cache: str
) -> None:
    trace = demand([2, 9, 14, 6, 0, 0, 11, 3, 1, 0])
    settings = RunSettings(boot_delay=60.0, seed=5)
    reused = run_policy("keda-karpenter", config, trace, settings)
    monkeypatch.setattr(karpenter_reference, cache, _Forgetting())
    fresh = run_policy("keda-karpenter", config, trace, settings)
    assert reused.node_launches > 2
    assert (reused.cost, reused.node_launches, reused.scaling_actions) == (
        fresh.cost,
        fresh.node_launches,
        fresh.scaling_actions,
    )
    assert np.array_equal(reused.ready_pods, fresh.ready_pods)
    assert np.array_equal(reused.paid_gpus, fresh.paid_gpus)
