"""The running world the local world's tests share (see world_testkit for the helpers)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ebb.local.world import LocalWorld, LocalWorldConfig, start_local_world

from .world_testkit import SEED, TEMPLATE


@pytest.fixture
def world() -> Iterator[LocalWorld]:
    """The test template, running, seeded."""
    with start_local_world(TEMPLATE, LocalWorldConfig(seed=SEED)) as running:
        yield running
