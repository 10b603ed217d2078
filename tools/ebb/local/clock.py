"""One simulated clock for everything local, and the actors that run on it.

An actor is a real thread, but only one thread runs at a time: the driver (whoever calls
`run_until` and friends) or exactly one actor, which holds the baton until it waits on the clock
(a sleep, an event, a condition, a join). Waiting hands the baton back to the driver, which
advances simulated time to the next due entry (ties broken by a sequence number) and hands it to
that actor or runs that timer. Nothing else decides the order, so the same inputs give the same
timeline, and simulated hours pass as fast as the code between the waits runs.

Timer callbacks run in the driver's thread and must not wait; work that waits is spawned as an
actor. A thread that is not an actor and waits on the clock (a test calling into the world) drives
it until its own wait is over.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ebb.local.errors import ActorCrashed, ClockMisuse, ClockStalled, WorldStopped

# How long (wall time) an actor may hold the baton before the driver declares it stalled. An actor
# only stalls when it blocks on something that is not the clock; generous, since handler code may
# legitimately compute for a while.
DEFAULT_STALL_SECONDS = 120.0


@dataclass
class LambdaBudget:
    """A deadline on an actor's simulated time: past it, the actor's next wait raises."""

    deadline: float
    make_error: Callable[[], BaseException]


@dataclass(eq=False)
class Actor:
    """A thread of the simulated world; see the module docstring."""

    name: str
    daemon: bool
    tags: dict[str, str] = field(default_factory=dict)
    done: bool = False
    error: BaseException | None = None
    budgets: list[LambdaBudget] = field(default_factory=list)
    thread: threading.Thread | None = None
    _resume: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))
    _token: int | None = None
    _notified: bool = False
    _woken_by_notify: bool = False
    _done_waiters: list[tuple[Actor, int]] = field(default_factory=list)

    def innermost_budget(self) -> LambdaBudget | None:
        """The earliest deadline among the budgets this actor runs under."""
        return min(self.budgets, key=lambda budget: budget.deadline) if self.budgets else None


@dataclass(eq=False)
class TimerHandle:
    """A callback due at a simulated time; `cancel()` stops it from running."""

    due: float
    callback: Callable[[], None]
    name: str
    daemon: bool
    cancelled: bool = False

    def cancel(self) -> None:
        """Do not run this timer."""
        self.cancelled = True


@dataclass(eq=False)
class _Wake:
    actor: Actor
    token: int
    by_notify: bool


_current = threading.local()


class SimClock:
    """The simulated clock: a time, a queue of due entries and the baton."""

    def __init__(
        self,
        start: datetime,
        *,
        stall_seconds: float = DEFAULT_STALL_SECONDS,
        raise_actor_errors: bool = True,
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("the clock's start time must be timezone-aware (UTC)")
        self._now = start.timestamp()
        self._sequence = itertools.count()
        self._queue: list[tuple[float, int, TimerHandle | _Wake]] = []
        self._lock = threading.Lock()
        self._driver_wakeup = threading.Semaphore(0)
        self._driving_thread: int | None = None
        self._in_callback = False
        self._actors: list[Actor] = []
        self._closing = False
        self._stall_seconds = stall_seconds
        self._raise_actor_errors = raise_actor_errors
        self.crashed: list[Actor] = []
        self.switches = 0
        # Called with the actor about to get the baton, and with None when it comes back.
        self.switch_hooks: list[Callable[[Actor | None], None]] = []

    # -- reading the time -------------------------------------------------------------------

    def now(self) -> float:
        """Simulated seconds since the Unix epoch."""
        return self._now

    def now_datetime(self) -> datetime:
        """The simulated time as an aware UTC datetime."""
        return datetime.fromtimestamp(self._now, UTC)

    # -- scheduling -------------------------------------------------------------------------

    def next_sequence(self) -> int:
        """A fresh tie-breaking number (also used to order notifications)."""
        return next(self._sequence)

    def _push(self, due: float, entry: TimerHandle | _Wake) -> None:
        with self._lock:
            heapq.heappush(self._queue, (due, next(self._sequence), entry))

    def call_at(
        self, due: float, callback: Callable[[], None], *, name: str, daemon: bool = False
    ) -> TimerHandle:
        """Run `callback` in the driver at simulated time `due` (or now, if `due` has passed).

        A daemon timer does not keep `run_until_quiet` going: periodic background work (alarm
        evaluation, pollers) is daemon, the work it starts is not.
        """
        handle = TimerHandle(due=max(due, self._now), callback=callback, name=name, daemon=daemon)
        self._push(handle.due, handle)
        return handle

    def call_later(
        self, delay: float, callback: Callable[[], None], *, name: str, daemon: bool = False
    ) -> TimerHandle:
        """Run `callback` in the driver `delay` simulated seconds from now."""
        return self.call_at(self._now + max(delay, 0.0), callback, name=name, daemon=daemon)

    def spawn(
        self,
        target: Callable[[], Any],
        *,
        name: str,
        tags: dict[str, str] | None = None,
        daemon: bool = False,
    ) -> Actor:
        """Start `target` as a new actor; it first runs once the current holder of the baton waits."""
        actor = self.register_actor(name, tags=tags, daemon=daemon)
        # The real thread is daemonic so that a world torn down mid-run never blocks interpreter exit.
        actor.thread = threading.Thread(target=self.actor_main, args=(actor, target), name=name, daemon=True)
        actor.thread.start()
        return actor

    # -- actors -----------------------------------------------------------------------------

    def current_actor(self) -> Actor | None:
        """The actor running in the calling thread, if it is one of this clock's."""
        actor = getattr(_current, "actor", None)
        return actor if isinstance(actor, Actor) and getattr(_current, "clock", None) is self else None

    def register_actor(self, name: str, *, tags: dict[str, str] | None, daemon: bool) -> Actor:
        """Create an actor (inheriting the tags of the creating actor) and make it due now."""
        if self._closing:
            raise WorldStopped
        parent = self.current_actor()
        inherited = dict(parent.tags) if parent is not None else {}
        inherited.update(tags or {})
        actor = Actor(name=name, daemon=daemon, tags=inherited)
        actor._token = self.next_sequence()
        self._actors.append(actor)
        self._push(self._now, _Wake(actor, actor._token, by_notify=False))
        return actor

    def actor_main(self, actor: Actor, body: Callable[[], Any]) -> None:
        """The body of an actor's thread: wait for the baton, run, hand the baton back."""
        actor._resume.acquire()
        try:
            if self._closing:
                return
            _current.actor = actor
            _current.clock = self
            body()
        except WorldStopped:
            pass
        except BaseException as error:  # recorded and re-raised by the driver
            actor.error = error
        finally:
            actor.done = True
            _current.actor = None
            waiters, actor._done_waiters = actor._done_waiters, []
            for waiter, token in waiters:
                self.notify(waiter, token)
            if not self._closing:
                self._driver_wakeup.release()

    def park(
        self,
        actor: Actor,
        deadline: float | None,
        register: Callable[[int], None] | None = None,
    ) -> bool:
        """Hand the baton back until notified (True) or until `deadline` passes (False).

        `register` receives the wait's token before the actor yields, so that whoever will
        notify it can find it. A Lambda budget shorter than the deadline cuts the wait short and
        raises the budget's error, as the runtime would stop the function.
        """
        if self._closing:
            raise WorldStopped
        budget = actor.innermost_budget()
        effective = deadline
        if budget is not None and (effective is None or budget.deadline < effective):
            effective = budget.deadline
        token = self.next_sequence()
        actor._token = token
        actor._notified = False
        if register is not None:
            register(token)
        if effective is not None:
            self._push(max(effective, self._now), _Wake(actor, token, by_notify=False))
        self._driver_wakeup.release()
        actor._resume.acquire()
        if self._closing:
            raise WorldStopped
        if actor._woken_by_notify:
            return True
        if (
            budget is not None
            and budget.deadline <= self._now
            and (deadline is None or budget.deadline < deadline)
        ):
            raise budget.make_error()
        return False

    def notify(self, actor: Actor, token: int) -> None:
        """Make a parked actor due now (after whoever notifies it yields)."""
        with self._lock:
            if actor._token != token or actor._notified:
                return
            actor._notified = True
            heapq.heappush(
                self._queue, (self._now, next(self._sequence), _Wake(actor, token, by_notify=True))
            )

    def wait_for_actor(self, actor: Actor, timeout: float | None) -> bool:
        """Wait (as an actor, or by driving) until `actor` is done; False on timeout."""
        if actor.done:
            return True
        me = self.current_actor()
        deadline = None if timeout is None else self._now + timeout
        if me is None:
            return self.drive_until(lambda: actor.done, deadline=deadline)
        while not actor.done:
            if deadline is not None and self._now >= deadline:
                return False
            self.park(me, deadline, lambda token: actor._done_waiters.append((me, token)))
        return True

    # -- waiting ----------------------------------------------------------------------------

    def sleep(self, seconds: float) -> None:
        """Wait `seconds` of simulated time: park if an actor, else drive the clock that long."""
        me = self.current_actor()
        due = self._now + max(seconds, 0.0)
        if me is None:
            self.run_until(due)
            return
        while self._now < due:
            self.park(me, due)
        # A zero-length sleep still yields, so other actors due now get their turn.
        if seconds <= 0:
            self.park(me, self._now)

    # -- driving ----------------------------------------------------------------------------

    def _check_can_drive(self) -> None:
        if self._in_callback:
            raise ClockMisuse("a timer callback waited on the clock; spawn an actor for work that waits")
        if self.current_actor() is not None:
            raise ClockMisuse("an actor tried to drive the clock; actors wait, the driver drives")
        if self._driving_thread is not None:
            raise ClockMisuse("the clock is already being driven by another caller")
        if self._closing:
            raise WorldStopped

    def run_until(self, due: float) -> None:
        """Process everything due up to `due`, then set the time to `due`."""
        self._drive(stop_at=due, predicate=None, quiet=False)

    def run_for(self, seconds: float) -> None:
        """Process the next `seconds` of simulated time."""
        self.run_until(self._now + seconds)

    def drive_until(self, predicate: Callable[[], bool], *, deadline: float | None) -> bool:
        """Process entries until `predicate()` holds (True) or `deadline` passes (False)."""
        return self._drive(stop_at=deadline, predicate=predicate, quiet=False)

    def run_until_quiet(self, max_seconds: float) -> bool:
        """Process entries until only daemon work is pending (True), at most `max_seconds` (False)."""
        return self._drive(stop_at=self._now + max_seconds, predicate=None, quiet=True)

    def _foreground_pending(self) -> bool:
        for _, _, entry in self._queue:
            if isinstance(entry, TimerHandle):
                if not entry.cancelled and not entry.daemon:
                    return True
            elif entry.actor._token == entry.token and not entry.actor.daemon:
                return True
        return False

    def _drive(self, *, stop_at: float | None, predicate: Callable[[], bool] | None, quiet: bool) -> bool:
        self._check_can_drive()
        self._driving_thread = threading.get_ident()
        try:
            while True:
                if predicate is not None and predicate():
                    return True
                if quiet and not self._foreground_pending():
                    return True
                with self._lock:
                    if not self._queue:
                        entry = None
                    else:
                        due, _, entry = self._queue[0]
                        if stop_at is not None and due > stop_at:
                            entry = None
                        else:
                            heapq.heappop(self._queue)
                if entry is None:
                    if stop_at is not None:
                        self._now = max(self._now, stop_at)
                    return predicate is None and not quiet
                self._now = max(self._now, due)
                if isinstance(entry, TimerHandle):
                    if not entry.cancelled:
                        self._run_callback(entry)
                else:
                    self._switch_to(entry)
        finally:
            self._driving_thread = None

    def _run_callback(self, handle: TimerHandle) -> None:
        self._in_callback = True
        try:
            handle.callback()
        finally:
            self._in_callback = False

    def _switch_to(self, wake: _Wake) -> None:
        actor = wake.actor
        with self._lock:
            if actor._token != wake.token or actor.done:
                return  # stale: the actor was woken by the other of its two entries
            actor._token = None
            actor._woken_by_notify = wake.by_notify
        self.switches += 1
        for hook in self.switch_hooks:
            hook(actor)
        actor._resume.release()
        stalled = not self._driver_wakeup.acquire(timeout=self._stall_seconds)
        for hook in self.switch_hooks:
            hook(None)
        if stalled:
            raise ClockStalled(
                f"actor {actor.name!r} held the baton for {self._stall_seconds:.0f} s of wall time "
                "without waiting on the simulated clock (blocked on a real lock, socket or sleep?)"
            )
        if actor.done and actor.error is not None:
            self.crashed.append(actor)
            error, actor.error = actor.error, None
            if self._raise_actor_errors:
                raise ActorCrashed(f"actor {actor.name!r} raised {type(error).__name__}: {error}") from error

    # -- shutting down ----------------------------------------------------------------------

    def close(self, *, unwind_seconds: float = 5.0) -> None:
        """Unwind every actor still parked (they see `WorldStopped`) and refuse further work.

        Each actor finishes unwinding before the next is released, and before `close` returns, so
        that nothing runs while the world's patches are taken down.
        """
        self._closing = True
        for actor in self._actors:
            if not actor.done:
                actor._resume.release()
                if actor.thread is not None and actor.thread is not threading.current_thread():
                    # The real join: an ActorThread's own join waits on the (closed) clock.
                    threading.Thread.join(actor.thread, unwind_seconds)
        self._actors = [actor for actor in self._actors if not actor.done]


def active_actor_clock() -> SimClock | None:
    """The clock of the actor running in the calling thread, if any."""
    clock = getattr(_current, "clock", None)
    return clock if isinstance(clock, SimClock) and getattr(_current, "actor", None) is not None else None
