"""What the stand-in needs from a clock, and a small deterministic clock for its own tests.

The local world's simulated clock (tools/ebb/local, issue 6) is expected to satisfy
`SimulatedClock`; until it does, `ManualClock` drives the stand-in: time only moves when a test
advances it, and callbacks run in due order (ties in scheduling order), on the advancing thread.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from ebb.local.kubernetes.errors import StandInMisuse


class SimulatedClock(Protocol):
    """Simulated time: read it, schedule callbacks on it, draw seeded randomness from it."""

    @property
    def random(self) -> random.Random:
        """The world's seeded generator."""
        ...

    def now(self) -> datetime:
        """The current simulated time (timezone-aware, UTC)."""
        ...

    def call_later(self, delay_seconds: float, callback: Callable[[], None]) -> object:
        """Run `callback` once `delay_seconds` of simulated time have passed; returns a handle."""
        ...


@dataclass(order=True)
class _Timer:
    due: datetime
    sequence: int
    callback: Callable[[], None] = field(compare=False)


class ManualClock:
    """A `SimulatedClock` that moves only when told to. Thread-safe to schedule on."""

    def __init__(self, start: datetime | None = None, *, seed: int = 0) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise StandInMisuse("ManualClock needs a timezone-aware start time")
        self._random = random.Random(seed)
        self._timers: list[_Timer] = []
        self._sequence = itertools.count()
        self._lock = threading.Lock()
        self._advancing = False

    @property
    def random(self) -> random.Random:
        """The clock's seeded generator."""
        return self._random

    def now(self) -> datetime:
        """The current simulated time."""
        with self._lock:
            return self._now

    def call_later(self, delay_seconds: float, callback: Callable[[], None]) -> object:
        """Schedule `callback` after `delay_seconds` (0 runs it at the next advance, even of 0 s)."""
        if delay_seconds < 0:
            raise StandInMisuse(f"cannot schedule {delay_seconds} s in the past")
        with self._lock:
            timer = _Timer(self._now + timedelta(seconds=delay_seconds), next(self._sequence), callback)
            heapq.heappush(self._timers, timer)
            return timer

    def advance(self, seconds: float = 0.0) -> None:
        """Move time forward by `seconds`, running every callback that falls due on the way."""
        if seconds < 0:
            raise StandInMisuse("time does not go backwards")
        with self._lock:
            if self._advancing:
                raise StandInMisuse("advance() called from inside a clock callback")
            self._advancing = True
            target = self._now + timedelta(seconds=seconds)
        try:
            while True:
                with self._lock:
                    if not self._timers or self._timers[0].due > target:
                        self._now = target
                        return
                    timer = heapq.heappop(self._timers)
                    self._now = max(self._now, timer.due)
                timer.callback()
        finally:
            with self._lock:
                self._advancing = False

    def pending(self) -> int:
        """How many callbacks are scheduled and not yet run."""
        with self._lock:
            return len(self._timers)
