"""Counting the outside calls a decision makes, by kind (`service:Operation`), for its report."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class CallCounts:
    """A counter of calls by kind, per thread: `take()` returns what the calling thread counted
    since its last take.

    Per thread so that a decision reports its own calls only: a Lambda environment runs one
    invocation at a time, but where invocations share a process and its adapters (the local world
    runs each in its own thread over one loaded handler module), one decision's take would
    otherwise carry the calls of another made meanwhile.
    """

    def __init__(self) -> None:
        self._local = threading.local()

    def _counts(self) -> Counter[str]:
        counts: Counter[str] | None = getattr(self._local, "counts", None)
        if counts is None:
            counts = self._local.counts = Counter()
        return counts

    def count(self, kind: str, n: int = 1) -> None:
        """Count `n` calls of `kind`."""
        self._counts()[kind] += n

    def take(self) -> dict[str, int]:
        """The counts since the last take, and start again from zero."""
        counts = self._counts()
        taken = dict(sorted(counts.items()))
        counts.clear()
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
