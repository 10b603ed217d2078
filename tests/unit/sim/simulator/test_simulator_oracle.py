"""The oracle: the cost floor for zero unserved requests, checked by hand."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from ebb.config import EbbConfig
from ebb.sim.simulator.baselines import oracle_floor
from ebb.sim.simulator.run import lead_seconds, run_policy
from ebb.sim.simulator.world import Demand, RunSettings

DemandOf = Callable[[list[float]], Demand]


def test_a_short_gap_is_kept_warm_and_a_long_one_pays_a_fresh_boot() -> None:
    # Minutes: 2 pods, 2, 1, 0, 0, 1, 0 x 5, 1. Lead (boot + load) 120 s.
    # Layer 1 runs [0,3) [5,6) [11,12): gaps 120 s (kept: 120) and 300 s (re-boot: 120).
    # Layer 2 runs [0,2): no gap. Each layer pays one lead before its first run.
    need = np.array([2, 2, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1])
    floor = oracle_floor(need, lead_seconds=120.0, price_per_gpu_hour=3.6)
    layer1 = 120 + 180 + 120 + 60 + 120 + 60
    layer2 = 120 + 120
    assert floor.gpu_seconds == layer1 + layer2
    assert floor.busy_gpu_seconds == (3 + 1 + 1) * 60 + 2 * 60
    assert floor.cost == pytest.approx((layer1 + layer2) / 3600 * 3.6)
    # Layer 1 boots at the start and again after the 300 s gap (kept warm over the 120 s one).
    assert floor.launches == 2 + 1


def test_the_oracle_run_prices_gpus_at_the_cheapest_group(config: EbbConfig, demand: DemandOf) -> None:
    # ml.g5.12xlarge: 4 GPUs for $7.09/h is the cheapest GPU of the comparison's groups.
    settings = RunSettings(boot_delay=100.0, seed=3)
    report = run_policy("oracle", config, demand([0, 4, 4, 0]), settings)
    lead = lead_seconds(settings)
    assert lead == 100.0 * 1.2 + 60.0
    assert report.gpu_hours == pytest.approx(4 * (lead + 120) / 3600)
    assert report.cost == pytest.approx(4 * (lead + 120) / 3600 * 7.09 / 4)
    assert report.unserved == 0.0
