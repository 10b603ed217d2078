"""Errors of the local world.

They subclass ebb's base exceptions: a template the world cannot run is a configuration error,
a clock that is used wrongly or stalls is a plain `EbbError` (a bug in a test or a stand-in).
"""

from __future__ import annotations

from ebb.errors import ConfigError, EbbError


class TemplateError(ConfigError):
    """The template cannot be run locally; the message names the resource and the property."""


class ClockMisuse(EbbError):
    """The simulated clock was driven from a place that cannot wait (e.g. inside a timer callback)."""


class ClockStalled(EbbError):
    """An actor held the baton without waiting on the clock (blocked on a real lock, socket or sleep)."""


class ActorCrashed(EbbError):
    """An actor of the clock raised an exception nobody handled."""


class WorldStopped(BaseException):
    """Raised inside parked actors when the world shuts down, so their stacks unwind.

    A BaseException so that handler code catching `Exception` cannot swallow it.
    """


class PinMismatch(EbbError):
    """An internal of a pinned library that the local world patches is missing or has changed."""
