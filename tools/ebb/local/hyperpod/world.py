"""What the HyperPod stand-in needs from the local world, and a tiny world of its own for tests.

The stand-in runs on the local world's simulated clock: it never reads the wall clock or sleeps;
node launches, boots, health checks and recoveries are timers. `StandInWorld` is the whole of what
it needs, kept small so that the local runtime's clock and event bus can be wired to it with a thin
adapter. `ManualWorld` is a deterministic implementation: a heap of timers that the test advances.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol


class StandInWorld(Protocol):
    """The clock, randomness and event bus the stand-in runs on."""

    random: random.Random
    """Seeded: every draw (boot times, ids) comes from here, so a seed gives one timeline."""

    def now(self) -> datetime:
        """The simulated time (aware, UTC)."""
        ...

    def call_later(self, seconds: float, callback: Callable[[], None], *, name: str) -> object:
        """Run `callback` once `seconds` of simulated time have passed; it must not block."""
        ...

    def put_event(self, event: Mapping[str, Any]) -> None:
        """Publish an EventBridge event (the whole envelope) on the default bus."""
        ...


DEFAULT_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class ManualWorld:
    """A `StandInWorld` whose time moves only when the test calls `advance`.

    Timers due at the same time run in the order they were set. Published events are kept in
    `events`. Safe to call from several threads (moto's Step Functions interpreter runs tasks on
    its own threads); timers run in the thread that advances.
    """

    def __init__(self, *, seed: int = 0, start: datetime = DEFAULT_START) -> None:
        if start.tzinfo is None:
            raise ValueError("start: must be timezone-aware")
        self.random = random.Random(seed)
        self.events: list[Mapping[str, Any]] = []
        self._now = start
        self._timers: list[tuple[datetime, int, str, Callable[[], None]]] = []
        self._sequence = itertools.count()
        self._lock = threading.RLock()

    def now(self) -> datetime:
        """The simulated time."""
        with self._lock:
            return self._now

    def call_later(self, seconds: float, callback: Callable[[], None], *, name: str) -> None:
        """Schedule `callback` at now + `seconds` (negative delays run at now)."""
        with self._lock:
            due = self._now + timedelta(seconds=max(seconds, 0.0))
            heapq.heappush(self._timers, (due, next(self._sequence), name, callback))

    def put_event(self, event: Mapping[str, Any]) -> None:
        """Keep the event."""
        with self._lock:
            self.events.append(event)

    def advance(self, seconds: float) -> None:
        """Move time forward by `seconds`, running every timer that falls due on the way."""
        if seconds < 0:
            raise ValueError(f"seconds: {seconds} is negative; simulated time only moves forward")
        with self._lock:
            until = self._now + timedelta(seconds=seconds)
        while True:
            with self._lock:
                if not self._timers or self._timers[0][0] > until:
                    self._now = until
                    return
                due, _, _, callback = heapq.heappop(self._timers)
                self._now = max(self._now, due)
            callback()

    def pending_timers(self) -> list[tuple[datetime, str]]:
        """The timers not yet run, soonest first (for diagnostics)."""
        with self._lock:
            return [(due, name) for due, _, name, _ in sorted(self._timers)]
