"""The stand-in's own deterministic clock: callbacks run in due order, only when time is advanced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ebb.local.kubernetes import ManualClock, StandInMisuse

pytestmark = pytest.mark.integration


def test_callbacks_run_in_due_order_and_ties_in_scheduling_order() -> None:
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    ran: list[tuple[str, datetime]] = []
    clock.call_later(5, lambda: ran.append(("late", clock.now())))
    clock.call_later(1, lambda: ran.append(("first", clock.now())))
    clock.call_later(1, lambda: ran.append(("second", clock.now())))

    clock.advance(0.5)
    assert ran == []
    clock.advance(10)

    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert ran == [
        ("first", start + timedelta(seconds=1)),
        ("second", start + timedelta(seconds=1)),
        ("late", start + timedelta(seconds=5)),
    ]
    assert clock.now() == start + timedelta(seconds=10.5)


def test_callbacks_scheduled_by_callbacks_run_within_the_same_advance() -> None:
    clock = ManualClock()
    ran: list[int] = []

    def chain(step: int) -> None:
        ran.append(step)
        if step < 3:
            clock.call_later(1, lambda: chain(step + 1))

    clock.call_later(0, lambda: chain(0))
    clock.advance(2.5)

    assert ran == [0, 1, 2]
    assert clock.pending() == 1


def test_the_same_seed_gives_the_same_draws() -> None:
    assert ManualClock(seed=3).random.random() == ManualClock(seed=3).random.random()


def test_misuse_is_refused() -> None:
    clock = ManualClock()
    with pytest.raises(StandInMisuse):
        clock.advance(-1)
    with pytest.raises(StandInMisuse):
        clock.call_later(-1, lambda: None)
    clock.call_later(0, lambda: clock.advance(1))
    with pytest.raises(StandInMisuse, match="inside a clock callback"):
        clock.advance(0)
    with pytest.raises(StandInMisuse):
        ManualClock(datetime(2026, 1, 1))
