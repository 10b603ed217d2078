"""Counting the outside calls a decision makes, by kind (`service:Operation`), for its report."""

from __future__ import annotations

from collections import Counter


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
