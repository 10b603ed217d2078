"""Point the wall clock of selected modules at the simulated clock.

moto stamps messages, alarms and execution histories with `datetime.now()` and `time.time()`;
Powertools computes idempotency expiry the same way; the handlers and ebb's runtime write
timestamps. In the local world all of them must read the simulated time, and their sleeps must
pass on the simulated clock. The process-wide `time.time` cannot be replaced for C callers and
`datetime.datetime.now` not at all, so, like freezegun does, this swaps the names each module
bound (`time`, `datetime`, `date`, `time.time`, ...) for stand-ins, in the modules whose names
start with one of the configured prefixes, and puts the originals back when the world stops.

Naive `datetime.now()` is the simulated instant in the process's local time zone, as the real
one is (so `.timestamp()` round-trips); in Lambda, and in CI, that zone is UTC.
"""

from __future__ import annotations

import datetime as real_datetime_module
import sys
import time as real_time
import types
from collections.abc import Callable
from typing import Any

from ebb.local.clock import SimClock
from ebb.local.clock_threads import clock_sleep, simulated_time

_RealDatetime = real_datetime_module.datetime
_RealDate = real_datetime_module.date
_now_sources: list[Callable[[], float]] = []


def _simulated_now() -> float:
    return _now_sources[-1]() if _now_sources else real_time.time()


class _DatetimeType(type):
    """Lets `isinstance(x, datetime)` keep working for real datetimes after the swap."""

    def __instancecheck__(cls, instance: object) -> bool:
        return isinstance(instance, _RealDatetime)

    def __subclasscheck__(cls, subclass: type) -> bool:
        return issubclass(subclass, _RealDatetime)


class _DateType(type):
    def __instancecheck__(cls, instance: object) -> bool:
        return isinstance(instance, _RealDate)

    def __subclasscheck__(cls, subclass: type) -> bool:
        return issubclass(subclass, _RealDate)


class SimulatedDatetime(_RealDatetime, metaclass=_DatetimeType):
    """`datetime.datetime` whose `now`, `utcnow` and `today` read the simulated clock."""

    @classmethod
    def now(cls, tz: real_datetime_module.tzinfo | None = None) -> _RealDatetime:  # type: ignore[override]
        """The simulated time (naive local time without `tz`, like the real `now`)."""
        if tz is not None:
            return _RealDatetime.fromtimestamp(_simulated_now(), tz)
        return _RealDatetime.fromtimestamp(_simulated_now())

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        # A model whose annotations resolve after the swap still validates plain datetimes.
        return handler.generate_schema(_RealDatetime)

    @classmethod
    def utcnow(cls) -> _RealDatetime:  # type: ignore[override]
        """The simulated time, naive UTC."""
        return _RealDatetime.fromtimestamp(_simulated_now(), real_datetime_module.UTC).replace(tzinfo=None)

    @classmethod
    def today(cls) -> _RealDatetime:  # type: ignore[override]
        """The simulated time, naive local."""
        return cls.now()


class SimulatedDate(_RealDate, metaclass=_DateType):
    """`datetime.date` whose `today` reads the simulated clock."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        return handler.generate_schema(_RealDate)

    @classmethod
    def today(cls) -> _RealDate:  # type: ignore[override]
        """The simulated local date."""
        return SimulatedDatetime.now().date()


def _simulated_datetime_module() -> types.ModuleType:
    module = types.ModuleType("datetime")
    module.__dict__.update(vars(real_datetime_module))
    module.datetime = SimulatedDatetime  # type: ignore[attr-defined]
    module.date = SimulatedDate  # type: ignore[attr-defined]
    return module


class WallClockRedirect:
    """Swaps the clock names of matching modules for simulated ones; see the module docstring."""

    def __init__(self, clock: SimClock, *, prefixes: tuple[str, ...], excluded: tuple[str, ...]) -> None:
        self._clock = clock
        self._prefixes = prefixes
        self._excluded = excluded
        self._extra_modules: set[str] = set()
        self._saved: list[tuple[types.ModuleType, str, Any]] = []
        self._patched_modules: set[str] = set()
        self._seen_module_count = -1
        self._time_module = simulated_time(clock.now, clock_sleep)
        self._datetime_module = _simulated_datetime_module()
        time_module: Any = self._time_module
        self._replacements: dict[int, Any] = {
            id(real_time): self._time_module,
            id(real_datetime_module): self._datetime_module,
            id(_RealDatetime): SimulatedDatetime,
            id(_RealDate): SimulatedDate,
            id(real_time.time): time_module.time,
            id(real_time.time_ns): time_module.time_ns,
            id(real_time.sleep): time_module.sleep,
            id(real_time.monotonic): time_module.monotonic,
            id(real_time.monotonic_ns): time_module.monotonic_ns,
        }
        self._installed = False

    def add_module(self, name: str) -> None:
        """Also redirect the module called `name` (a handler module loaded by the runtime)."""
        self._extra_modules.add(name)
        self._seen_module_count = -1

    def install(self) -> None:
        """Start redirecting, in every matching module loaded so far."""
        _now_sources.append(self._clock.now)
        self._installed = True
        self.refresh()

    def refresh(self) -> None:
        """Redirect modules loaded since the last call (cheap when none were)."""
        if not self._installed or len(sys.modules) == self._seen_module_count:
            return
        self._seen_module_count = len(sys.modules)
        for name, module in list(sys.modules.items()):
            if name in self._patched_modules or module is None or not self._matches(name):
                continue
            self._patch_module(module)
            self._patched_modules.add(name)

    def uninstall(self) -> None:
        """Put every original back."""
        for module, attribute, original in reversed(self._saved):
            setattr(module, attribute, original)
        self._saved.clear()
        self._patched_modules.clear()
        if self._installed:
            _now_sources.remove(self._clock.now)
        self._installed = False

    def _matches(self, name: str) -> bool:
        if name in self._extra_modules:
            return True
        if any(name == excluded or name.startswith(excluded + ".") for excluded in self._excluded):
            return False
        return any(name == prefix or name.startswith(prefix + ".") for prefix in self._prefixes)

    def _patch_module(self, module: types.ModuleType) -> None:
        for attribute, value in list(vars(module).items()):
            replacement = self._replacements.get(id(value))
            if replacement is not None and replacement is not value:
                self._saved.append((module, attribute, value))
                setattr(module, attribute, replacement)
