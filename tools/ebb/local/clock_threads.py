"""Threading primitives that wait on the simulated clock instead of the wall clock.

Drop-in replacements for the parts of `threading` that moto's Step Functions interpreter and SQS
backend use (Thread, Event, Condition), so that their threads become actors of the clock and
their waits (Wait states, retry intervals, task timeouts, Parallel and Map joins, long polls)
pass in simulated time, one actor at a time. `cooperative_threading()` and `simulated_time()`
return module-like objects to put in place of a module's `threading` and `time`.
"""

from __future__ import annotations

import threading
import time as real_time
import types
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ebb.local.clock import Actor, SimClock, active_actor_clock
from ebb.local.errors import ClockMisuse

_installed: list[SimClock] = []


def install_clock(clock: SimClock) -> None:
    """Make `clock` the one that primitives created from now on wait on."""
    _installed.append(clock)


def uninstall_clock(clock: SimClock) -> None:
    """Undo `install_clock`."""
    if clock in _installed:
        _installed.remove(clock)


def installed_clock() -> SimClock:
    """The clock of the running local world."""
    clock = active_actor_clock()
    if clock is not None:
        return clock
    if not _installed:
        raise ClockMisuse("no local world is running: a clock primitive was used outside one")
    return _installed[-1]


class ActorThread(threading.Thread):
    """A `threading.Thread` whose body runs as an actor of the simulated clock."""

    def __init__(
        self,
        group: None = None,
        target: Callable[..., object] | None = None,
        name: str | None = None,
        args: Iterable[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        daemon: bool | None = None,
    ) -> None:
        # Real threads are daemonic so that a world torn down mid-run never blocks interpreter exit.
        super().__init__(group, target, name, args, kwargs, daemon=True)
        self.actor: Actor | None = None
        self._clock: SimClock | None = None
        self._actor_tags: dict[str, str] = {}

    def start(self) -> None:
        """Register as an actor of the installed clock, then start the real thread."""
        self.start_on(installed_clock())

    def start_on(self, clock: SimClock, *, tags: dict[str, str] | None = None, daemon: bool = False) -> None:
        """Register as an actor of `clock` (due now), then start the real thread."""
        self._clock = clock
        self.actor = clock.register_actor(self.name, tags={**self._actor_tags, **(tags or {})}, daemon=daemon)
        self.actor.thread = self
        super().start()

    def tag(self, **tags: str) -> None:
        """Attach tags (e.g. the execution ARN) before starting."""
        self._actor_tags.update(tags)

    def run(self) -> None:
        """Wait for the baton, run the target, hand the baton back."""
        assert self._clock is not None
        assert self.actor is not None
        self._clock.actor_main(self.actor, super().run)

    def join(self, timeout: float | None = None) -> None:
        """Wait, in simulated time, until the actor is done or `timeout` passes."""
        if self.actor is None or self._clock is None:
            raise RuntimeError("cannot join thread before it is started")
        self._clock.wait_for_actor(self.actor, timeout)

    def is_alive(self) -> bool:
        """Alive from start until the actor's body returns (not until the real thread exits)."""
        return self.actor is not None and not self.actor.done


class ClockEvent:
    """`threading.Event` whose `wait` passes in simulated time."""

    def __init__(self) -> None:
        self._flag = False
        self._waiters: list[tuple[Actor | _DriverWaiter, int]] = []

    def is_set(self) -> bool:
        """Whether the flag is set."""
        return self._flag

    isSet = is_set  # noqa: N815 - the stdlib alias moto may use

    def set(self) -> None:
        """Set the flag and wake every waiter."""
        self._flag = True
        waiters, self._waiters = self._waiters, []
        if waiters:
            clock = installed_clock()
            for actor, token in waiters:
                if isinstance(actor, _DriverWaiter):
                    actor.notified = True
                else:
                    clock.notify(actor, token)

    def clear(self) -> None:
        """Reset the flag."""
        self._flag = False

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until set or until `timeout` simulated seconds pass; return the flag."""
        if self._flag:
            return True
        clock = installed_clock()
        me = clock.current_actor()
        deadline = None if timeout is None else clock.now() + max(timeout, 0.0)
        if me is None:
            marker = _DriverWaiter()
            self._waiters.append((marker, 0))
            return clock.drive_until(lambda: self._flag or marker.notified, deadline=deadline)
        # Like the stdlib, a waiter that was notified returns True even if the flag was cleared
        # again right after (moto's interpreter does set(); clear() to interrupt Wait states).
        while not self._flag:
            if deadline is not None and clock.now() >= deadline:
                break
            waiter: tuple[Actor | _DriverWaiter, int] | None = None

            def register(token: int) -> None:
                nonlocal waiter
                assert me is not None
                waiter = (me, token)
                self._waiters.append(waiter)

            if clock.park(me, deadline, register):
                return True
            if waiter is not None and waiter in self._waiters:
                self._waiters.remove(waiter)
        return self._flag


class ClockCondition:
    """`threading.Condition` whose waits pass in simulated time.

    The lock is a real one: only one thread runs at a time, so it is never contended while its
    holder runs, and a waiter releases it before yielding the baton.
    """

    def __init__(self, lock: threading.Lock | None = None) -> None:
        self._lock = lock if lock is not None else threading.Lock()
        self._waiters: list[tuple[Actor | _DriverWaiter, int]] = []

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Acquire the underlying lock."""
        return self._lock.acquire(blocking, timeout)

    def release(self) -> None:
        """Release the underlying lock."""
        self._lock.release()

    def __enter__(self) -> bool:
        return self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()

    def wait(self, timeout: float | None = None) -> bool:
        """Release the lock, wait to be notified (True) or for `timeout` (False), re-acquire."""
        clock = installed_clock()
        me = clock.current_actor()
        deadline = None if timeout is None else clock.now() + max(timeout, 0.0)
        waiter: tuple[Actor | _DriverWaiter, int] | None = None

        def register(token: int) -> None:
            nonlocal waiter
            assert me is not None
            waiter = (me, token)
            self._waiters.append(waiter)

        self._lock.release()
        try:
            if me is None:
                marker = _DriverWaiter()
                waiter = (marker, 0)
                self._waiters.append(waiter)
                return clock.drive_until(lambda: marker.notified, deadline=deadline)
            return clock.park(me, deadline, register)
        finally:
            # A waiter that timed out must not absorb a later notify(1).
            if waiter is not None and waiter in self._waiters:
                self._waiters.remove(waiter)
            self._lock.acquire()

    def wait_for(self, predicate: Callable[[], Any], timeout: float | None = None) -> Any:
        """Wait until `predicate()` is true or `timeout` simulated seconds pass."""
        clock = installed_clock()
        deadline = None if timeout is None else clock.now() + timeout
        result = predicate()
        while not result:
            remaining = None if deadline is None else deadline - clock.now()
            if remaining is not None and remaining <= 0:
                break
            self.wait(remaining)
            result = predicate()
        return result

    def notify(self, n: int = 1) -> None:
        """Wake up to `n` waiters."""
        waking, self._waiters = self._waiters[:n], self._waiters[n:]
        clock = installed_clock() if waking else None
        for waiter, token in waking:
            if isinstance(waiter, _DriverWaiter):
                waiter.notified = True
            elif clock is not None:
                clock.notify(waiter, token)

    def notify_all(self) -> None:
        """Wake every waiter."""
        self.notify(len(self._waiters))

    notifyAll = notify_all  # noqa: N815 - the stdlib alias


class _DriverWaiter:
    """Stands for a non-actor thread waiting on a condition while it drives the clock."""

    def __init__(self) -> None:
        self.notified = False


def clock_sleep(seconds: float) -> None:
    """`time.sleep` on the simulated clock."""
    installed_clock().sleep(seconds)


def cooperative_threading() -> types.ModuleType:
    """A stand-in for the `threading` module whose Thread, Event and Condition use the clock."""
    module = _ForwardingModule("threading", threading)
    module.Thread = ActorThread  # type: ignore[attr-defined]
    module.Event = ClockEvent  # type: ignore[attr-defined]
    module.Condition = ClockCondition  # type: ignore[attr-defined]
    return module


def simulated_time(now: Callable[[], float], sleep: Callable[[float], None]) -> types.ModuleType:
    """A stand-in for the `time` module that reads and sleeps on the simulated clock.

    `perf_counter` stays real: it measures the code's own speed, which has no simulated meaning.
    """
    start = now()
    module = _ForwardingModule("time", real_time)
    module.time = now  # type: ignore[attr-defined]
    module.time_ns = lambda: int(now() * 1_000_000_000)  # type: ignore[attr-defined]
    module.monotonic = lambda: now() - start  # type: ignore[attr-defined]
    module.monotonic_ns = lambda: int((now() - start) * 1_000_000_000)  # type: ignore[attr-defined]
    module.sleep = sleep  # type: ignore[attr-defined]
    return module


class _ForwardingModule(types.ModuleType):
    """A module object that forwards every attribute it does not define to the real module."""

    def __init__(self, name: str, real: types.ModuleType) -> None:
        super().__init__(name)
        self.__dict__["_real"] = real

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.__dict__["_real"], attribute)
