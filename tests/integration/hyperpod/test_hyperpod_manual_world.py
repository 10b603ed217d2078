"""The manual world the stand-in's tests run on: timers run in time order, only when advanced."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from ebb.local.hyperpod import ManualWorld


def test_timers_run_in_due_order_and_ties_in_the_order_they_were_set() -> None:
    world = ManualWorld(start=datetime(2026, 1, 1, tzinfo=UTC))
    ran: list[tuple[str, datetime]] = []

    def recorder(name: str) -> Callable[[], None]:
        return lambda: ran.append((name, world.now()))

    for name, delay in [("late", 30.0), ("first-tie", 10.0), ("second-tie", 10.0), ("early", 5.0)]:
        world.call_later(delay, recorder(name), name=name)

    world.advance(20)

    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert ran == [
        ("early", start + timedelta(seconds=5)),
        ("first-tie", start + timedelta(seconds=10)),
        ("second-tie", start + timedelta(seconds=10)),
    ]
    assert world.now() == start + timedelta(seconds=20)
    assert world.pending_timers() == [(start + timedelta(seconds=30), "late")]


def test_timers_set_by_timers_run_in_the_same_advance_when_due() -> None:
    world = ManualWorld()
    ran: list[str] = []

    def chain() -> None:
        ran.append("outer")
        world.call_later(3, lambda: ran.append("inner"), name="inner")

    world.call_later(1, chain, name="outer")
    world.advance(4)

    assert ran == ["outer", "inner"]


def test_time_only_moves_forward_and_starts_aware() -> None:
    with pytest.raises(ValueError, match="negative"):
        ManualWorld().advance(-1)
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualWorld(start=datetime(2026, 1, 1))


def test_the_seed_fixes_the_draws() -> None:
    assert ManualWorld(seed=3).random.random() == ManualWorld(seed=3).random.random()
    assert ManualWorld(seed=3).random.random() != ManualWorld(seed=4).random.random()
