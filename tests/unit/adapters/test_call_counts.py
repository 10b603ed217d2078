"""Counting a decision's calls: each thread's take holds its own calls only."""

from __future__ import annotations

import threading

from ebb.adapters.call_counts import CallCounts, counted


class _Adapter:
    def read(self) -> int:
        return 1


def test_a_take_holds_only_the_calls_its_own_thread_made_meanwhile() -> None:
    calls = CallCounts()
    adapter = counted(_Adapter(), calls, "system")
    started, other_counted = threading.Event(), threading.Event()
    taken: dict[str, dict[str, int]] = {}

    def other() -> None:
        started.wait()
        adapter.read()
        adapter.read()
        other_counted.set()
        taken["other"] = calls.take()

    thread = threading.Thread(target=other)
    thread.start()
    adapter.read()
    started.set()
    other_counted.wait()  # the other thread counted between this thread's call and its take
    taken["this"] = calls.take()
    thread.join()

    assert taken == {"this": {"system:read": 1}, "other": {"system:read": 2}}
    assert calls.take() == {}
