"""The comparison's configuration and small synthetic demands for the simulator's tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from ebb.config import EbbConfig
from ebb.sim.simulator.comparison import load_calibrated
from ebb.sim.simulator.world import Demand

EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "simulate-comparison"
HOLD = 0.5
PER_POD_MINUTE = 8 / HOLD * 60  # requests one pod serves in a minute at 0.5 s each
TARGET = 768.0  # 80 % of that, the comparison's calibration for 0.5 s requests


@pytest.fixture(scope="session")
def config() -> EbbConfig:
    return load_calibrated(EXAMPLE, TARGET)


def pods_demand(pods: list[float], name: str = "synthetic") -> Demand:
    """A demand needing exactly `pods[i]` pods in minute i (0.5 s requests)."""
    arrivals = np.asarray(pods, dtype=np.float64) * PER_POD_MINUTE
    return Demand(arrivals=arrivals, hold_seconds=np.full(arrivals.size, HOLD), name=name)


DemandOf = Callable[[list[float]], Demand]


@pytest.fixture(scope="session")
def demand() -> DemandOf:
    """`demand([pods per minute...])`: a demand needing exactly those pods each minute."""
    return pods_demand
