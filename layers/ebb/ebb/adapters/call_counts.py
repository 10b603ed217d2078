"""Counting the outside calls a decision makes, by kind (`service:Operation`), for its report."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class CallCounts:
    """A counter of calls by kind; `take()` returns what was counted since the last take."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    def count(self, kind: str, n: int = 1) -> None:
        """Count `n` calls of `kind`."""
        self._counts[kind] += n

    def take(self) -> dict[str, int]:
        """The counts since the last take, and start again from zero."""
        taken = dict(sorted(self._counts.items()))
        self._counts.clear()
        return taken


def counted(adapter: T, calls: CallCounts, system: str) -> T:
    """`adapter`, with each call of its public methods counted as `<system>:<method>`.

    For adapters whose calls are one request each or one listing each (HyperPod, Kubernetes):
    what the decision report counts is how often ebb asked, not how many pages came back.
    """
    return _Counted(adapter, calls, system)  # type: ignore[return-value]


class _Counted:
    def __init__(self, adapter: Any, calls: CallCounts, system: str) -> None:
        self._adapter = adapter
        self._calls = calls
        self._system = system

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._adapter, name)
        if name.startswith("_") or not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            self._calls.count(f"{self._system}:{name}")
            return attribute(*args, **kwargs)

        wrapped: Callable[..., Any] = call
        return wrapped
