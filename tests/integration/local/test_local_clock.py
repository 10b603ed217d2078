"""The simulated clock: one actor at a time, waits overlapping in simulated time, ties in order."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial

import pytest

from ebb.local.clock import SimClock
from ebb.local.clock_threads import ActorThread, ClockCondition, ClockEvent, install_clock, uninstall_clock
from ebb.local.errors import ActorCrashed, ClockMisuse, ClockStalled, WorldStopped

pytestmark = pytest.mark.integration

START = datetime(2025, 1, 6, tzinfo=UTC)


@pytest.fixture
def clock() -> Iterator[SimClock]:
    simulated = SimClock(START, stall_seconds=5)
    install_clock(simulated)
    yield simulated
    simulated.close()
    uninstall_clock(simulated)


def elapsed(clock: SimClock) -> float:
    return clock.now() - START.timestamp()


def test_sleeping_actors_overlap_in_simulated_time_and_wake_in_due_order(clock: SimClock) -> None:
    woke: list[tuple[str, float]] = []

    def sleeper(name: str, seconds: float) -> None:
        clock.sleep(seconds)
        woke.append((name, elapsed(clock)))

    for name, seconds in (("slow", 30.0), ("fast", 10.0), ("middle", 20.0)):
        clock.spawn(partial(sleeper, name, seconds), name=name)
    clock.run_for(100)

    assert woke == [("fast", 10.0), ("middle", 20.0), ("slow", 30.0)]
    assert elapsed(clock) == 100.0


def test_ties_run_in_the_order_they_were_scheduled_and_only_one_actor_runs_at_a_time(clock: SimClock) -> None:
    order: list[str] = []
    running = 0
    overlap = False

    def step(name: str) -> None:
        nonlocal running, overlap
        for _ in range(3):
            running += 1
            overlap = overlap or running > 1
            order.append(name)
            running -= 1
            clock.sleep(5)

    for name in ("a", "b", "c"):
        clock.spawn(partial(step, name), name=name)
    clock.call_at(clock.now() + 5, lambda: order.append("timer"), name="timer")
    clock.run_for(60)

    # The timer was scheduled before the actors went to sleep: at t+5 it runs first.
    assert order == ["a", "b", "c", "timer", "a", "b", "c", "a", "b", "c"]
    assert not overlap


def test_an_event_wakes_its_waiters_and_a_timeout_passes_on_the_clock(clock: SimClock) -> None:
    ready = ClockEvent()
    results: list[tuple[str, bool, float]] = []

    def waiter(name: str, timeout: float | None) -> None:
        results.append((name, ready.wait(timeout), elapsed(clock)))

    clock.spawn(lambda: waiter("patient", None), name="patient")
    clock.spawn(lambda: waiter("hurried", 3), name="hurried")
    clock.call_at(clock.now() + 7, ready.set, name="set")
    clock.run_for(10)

    assert results == [("hurried", False, 3.0), ("patient", True, 7.0)]


def test_a_condition_notifies_one_waiter_at_a_time(clock: SimClock) -> None:
    condition = ClockCondition()
    served: list[str] = []

    def consumer(name: str) -> None:
        with condition:
            condition.wait()
            served.append(name)

    for name in ("first", "second"):
        clock.spawn(partial(consumer, name), name=name)
    clock.run_for(1)

    def notify_one() -> None:
        with condition:
            condition.notify()

    clock.call_at(clock.now() + 1, notify_one, name="notify")
    clock.run_for(5)
    assert served == ["first"]
    clock.call_at(clock.now() + 1, notify_one, name="notify again")
    clock.run_for(5)
    assert served == ["first", "second"]


def test_a_thread_joined_with_a_timeout_reports_alive_until_its_body_returns(clock: SimClock) -> None:
    outcome: list[tuple[bool, float]] = []

    def parent() -> None:
        child = ActorThread(target=lambda: clock.sleep(50), name="child")
        child.start()
        child.join(timeout=20)
        outcome.append((child.is_alive(), elapsed(clock)))
        child.join()
        outcome.append((child.is_alive(), elapsed(clock)))

    clock.spawn(parent, name="parent")
    clock.run_for(100)

    assert outcome == [(True, 20.0), (False, 50.0)]


def test_a_thread_outside_the_world_waiting_on_the_clock_drives_it(clock: SimClock) -> None:
    done = ClockEvent()

    def hour() -> None:
        clock.sleep(3600)
        done.set()

    clock.spawn(hour, name="hour")

    assert done.wait() is True
    assert elapsed(clock) == 3600.0


def test_hours_of_simulated_time_pass_without_waiting_for_them(clock: SimClock) -> None:
    ticks = 0

    def ticker() -> None:
        nonlocal ticks
        while True:
            clock.sleep(1)
            ticks += 1

    clock.spawn(ticker, name="ticker", daemon=True)
    clock.run_for(6 * 3600)

    assert ticks == 6 * 3600


def test_run_until_quiet_ignores_daemon_work_but_not_what_it_starts(clock: SimClock) -> None:
    finished: list[float] = []

    def background() -> None:
        clock.call_later(60, background, name="tick", daemon=True)

    clock.call_later(60, background, name="tick", daemon=True)

    def work() -> None:
        clock.sleep(90)
        finished.append(elapsed(clock))

    clock.spawn(work, name="work")

    assert clock.run_until_quiet(max_seconds=3600) is True
    assert finished == [90.0]
    assert elapsed(clock) == 90.0


def test_a_timer_callback_cannot_wait(clock: SimClock) -> None:
    clock.call_later(1, lambda: clock.sleep(1), name="bad timer")
    with pytest.raises(ClockMisuse, match="timer callback"):
        clock.run_for(2)


def test_an_actor_blocked_on_a_real_lock_is_reported_not_hung() -> None:
    clock = SimClock(START, stall_seconds=0.2)
    lock = threading.Lock()
    lock.acquire()
    clock.spawn(lock.acquire, name="stuck")
    with pytest.raises(ClockStalled, match="stuck"):
        clock.run_for(1)
    lock.release()
    clock.close()


def test_an_actor_that_raises_fails_the_run_loudly(clock: SimClock) -> None:
    clock.spawn(lambda: 1 / 0, name="divider")
    with pytest.raises(ActorCrashed, match=r"divider.*ZeroDivisionError"):
        clock.run_for(1)


def test_closing_unwinds_parked_actors(clock: SimClock) -> None:
    unwound: list[str] = []

    def parked() -> None:
        try:
            clock.sleep(10_000)
        except WorldStopped:
            unwound.append("stopped")
            raise

    clock.spawn(parked, name="parked")
    clock.run_for(1)
    clock.close()
    assert unwound == ["stopped"]
