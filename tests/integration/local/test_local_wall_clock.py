"""Modules of the world read the simulated clock; everything else keeps the real one."""

from __future__ import annotations

import datetime as datetime_module
import sys
import time
import types
from datetime import UTC, datetime

import pytest

from ebb.local.clock import SimClock
from ebb.local.clock_threads import install_clock, uninstall_clock
from ebb.local.wall_clock import WallClockRedirect

pytestmark = pytest.mark.integration

START = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)


def make_module(name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(
        "import time\nimport datetime\nfrom datetime import datetime as DT, UTC\n"
        "from time import time as now\n"
        "def stamps():\n"
        "    return time.time(), now(), datetime.datetime.now(UTC), DT.now(), datetime.date.today()\n"
        "def is_datetime(value):\n"
        "    return isinstance(value, DT) and isinstance(value, datetime.datetime)\n"
        "def nap(seconds):\n"
        "    time.sleep(seconds)\n",
        module.__dict__,
    )
    sys.modules[name] = module
    return module


def test_matching_modules_read_and_sleep_on_the_simulated_clock_and_get_the_real_one_back() -> None:
    inside, outside = make_module("ebb_wall_clock_probe"), make_module("unrelated_wall_clock_probe")
    clock = SimClock(START)
    install_clock(clock)
    redirect = WallClockRedirect(clock, prefixes=("ebb_wall_clock_probe",), excluded=())
    try:
        redirect.install()
        seconds, bound_seconds, aware, naive, today = inside.stamps()
        assert seconds == bound_seconds == START.timestamp()
        assert aware == START
        # Naive now() is local time, like the real one (UTC in Lambda): it round-trips.
        assert naive == datetime.fromtimestamp(START.timestamp())
        assert naive.timestamp() == START.timestamp()
        assert today == naive.date()
        assert inside.is_datetime(datetime.now())
        assert inside.is_datetime(START)

        inside.nap(3600)  # a non-actor sleeping drives the clock
        assert clock.now_datetime() == datetime(2025, 1, 6, 13, 0, tzinfo=UTC)

        real_seconds = outside.stamps()[0]
        assert abs(real_seconds - time.time()) < 60
    finally:
        redirect.uninstall()
        uninstall_clock(clock)
        clock.close()
    assert (inside.time, inside.datetime, inside.DT) == (time, datetime_module, datetime)
    del sys.modules["ebb_wall_clock_probe"], sys.modules["unrelated_wall_clock_probe"]


def test_a_model_built_after_the_swap_still_takes_datetimes() -> None:
    from pydantic import BaseModel

    from ebb.local.wall_clock import SimulatedDatetime

    class Stamped(BaseModel):
        at: SimulatedDatetime  # what a lazily resolved `datetime` annotation becomes

    assert Stamped(at="2025-01-06T12:00:00Z").at == START
