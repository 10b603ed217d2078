"""The running world the local world's tests share (see world_testkit for the helpers)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ebb.local.latency import TimingConfig
from ebb.local.world import LocalWorld, LocalWorldConfig, start_local_world

from .world_testkit import SEED, TEMPLATE


@pytest.fixture
def world() -> Iterator[LocalWorld]:
    """The test template, running, seeded."""
    with start_local_world(TEMPLATE, LocalWorldConfig(seed=SEED)) as running:
        yield running


@pytest.fixture
def world_without_latency() -> Iterator[LocalWorld]:
    """The test template, running, seeded, with calls, cold starts and compute costing no time
    (`TimingConfig.free()`): for tests that pin a service's own time arithmetic to the second."""
    with start_local_world(TEMPLATE, LocalWorldConfig(seed=SEED, timing=TimingConfig.free())) as running:
        yield running
