"""Static provisioning: the peak's nodes from the start to the end of the window."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ebb.config import EbbConfig
from ebb.sim.simulator.cluster import LAUNCH_SECONDS
from ebb.sim.simulator.run import run_policy
from ebb.sim.simulator.world import Demand, RunSettings

DemandOf = Callable[[list[float]], Demand]


def test_static_pays_the_peaks_cheapest_nodes_for_the_whole_window(
    config: EbbConfig, demand: DemandOf
) -> None:
    # Peak 6 pods: two ml.g5.12xlarge (2 x $7.09/h) are cheaper than one ml.g5.48xlarge ($20.36/h).
    report = run_policy("static", config, demand([1, 6, 3, 0, 2]), RunSettings(boot_delay=60.0, seed=1))
    # Window: lead ceil((60 x 1.2 + 60) / 60) = 3 min, 5 trace minutes, tail 300 s + 5m = 10 min.
    window = (3 + 5 + 10) * 60.0
    billed = window - LAUNCH_SECONDS  # launched 5 s after the start
    assert report.node_launches == 2
    assert report.node_hours == pytest.approx(2 * billed / 3600)
    assert report.gpu_hours == pytest.approx(8 * billed / 3600)
    assert report.cost == pytest.approx(2 * 7.09 * billed / 3600)
    assert report.unserved == pytest.approx(0.0)
    assert report.under_provisioned_minutes == 0
