"""The cron dialect of disruption-budget schedules, field by field and at its edges.

Karpenter parses ``schedule`` with robfig/cron v3 ``ParseStandard`` in UTC
(kubernetes-sigs/karpenter ``pkg/apis/v1/nodepool.go`` ``IsActive``). The parsing rules and the
error texts below follow robfig/cron v3 ``parser.go``: ``getField`` (comma-separated lists),
``getRange`` ("too many hyphens", "too many slashes", "beginning of range (%d) below minimum
(%d)", "end of range (%d) above maximum (%d)", "step of range should be a positive number";
"N/step" runs to the field's maximum; ``?`` is the same as ``*``) and its ``TestField`` case
``"1,5-7/2,3"``. ebb's message names the field, where robfig/cron appends the expression.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from ebb.core.nodes.cron import CronError, CronSchedule


def test_a_list_keeps_every_element() -> None:
    """robfig/cron ``TestField``: ``1,5-7/2,3`` is 1, 3, 5 and 7."""
    assert CronSchedule.parse("1,5-7/2,3 * * * *").minutes == frozenset({1, 3, 5, 7})


def test_a_question_mark_is_a_star() -> None:
    """robfig/cron ``getRange``: ``?`` means the same as ``*`` (so both day fields must match)."""
    schedule = CronSchedule.parse("0 0 ? * 1")
    assert schedule.days == frozenset(range(1, 32))
    assert (schedule.days_star, schedule.weekdays_star) == (True, False)
    # Day of month unrestricted: only Mondays hit, not "any day or Monday".
    assert schedule.latest_at_or_before(datetime(2024, 1, 10, tzinfo=UTC)) == datetime(2024, 1, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("1-2-3 * * * *", "minute: too many hyphens in '1-2-3'"),
        ("1/2/3 * * * *", "minute: too many slashes in '1/2/3'"),
        ("5/ * * * *", "minute: step '' in '5/' is not a number"),
        ("0 0 0 * *", "day of month: beginning of range (0) below minimum (1)"),
        ("0 24 * * *", "hour: end of range (24) above maximum (23)"),
        ("0 0 * 1-13 *", "month: end of range (13) above maximum (12)"),
        ("0 0 * * 5/0", "day of week: step of range should be a positive number"),
        ("0 0 * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 4"),
        (
            "@every 5m",
            "unknown macro '@every 5m' (allowed: @yearly, @annually, @monthly, @weekly, @daily, "
            "@midnight, @hourly)",
        ),
    ],
)
def test_each_syntax_error_says_which_field_and_what(expression: str, message: str) -> None:
    with pytest.raises(CronError) as raised:
        CronSchedule.parse(expression)
    assert str(raised.value) == message
    assert type(raised.value) is CronError


def test_a_schedule_reads_as_it_was_written() -> None:
    assert str(CronSchedule.parse("@daily")) == "@daily"
    assert str(CronSchedule.parse(" 0 9 * * 1-5 ")) == " 0 9 * * 1-5 "


def test_sunday_is_day_zero() -> None:
    """Day of week 0 (or SUN) is Sunday, the day ``isoweekday`` calls 7."""
    sunday = datetime(2024, 1, 7, tzinfo=UTC)
    for expression in ("0 0 * * 0", "0 0 * * SUN"):
        assert CronSchedule.parse(expression).latest_at_or_before(datetime(2024, 1, 10, tzinfo=UTC)) == sunday


@pytest.mark.parametrize(
    ("expression", "moment", "expected"),
    [
        # The last minute before a skipped month, day or hour is itself a candidate.
        ("59 23 * 2 *", datetime(2024, 3, 15, 10, 30, tzinfo=UTC), datetime(2024, 2, 29, 23, 59, tzinfo=UTC)),
        ("59 23 * * 1", datetime(2024, 1, 10, 10, 30, tzinfo=UTC), datetime(2024, 1, 8, 23, 59, tzinfo=UTC)),
        ("59 9 * * *", datetime(2024, 1, 10, 10, 30, tzinfo=UTC), datetime(2024, 1, 10, 9, 59, tzinfo=UTC)),
        # Seconds and microseconds of "now" never leak into the hit.
        (
            "*/15 * * * *",
            datetime(2024, 3, 1, 10, 44, 59, 999_999, tzinfo=UTC),
            datetime(2024, 3, 1, 10, 30, tzinfo=UTC),
        ),
        (
            "* * * * *",
            datetime(2024, 3, 1, 10, 44, 59, 1, tzinfo=UTC),
            datetime(2024, 3, 1, 10, 44, tzinfo=UTC),
        ),
    ],
)
def test_the_latest_hit_at_the_edge_of_a_skipped_period(
    expression: str, moment: datetime, expected: datetime
) -> None:
    assert CronSchedule.parse(expression).latest_at_or_before(moment) == expected


def test_the_search_looks_back_five_years_and_no_further() -> None:
    """29 February: found five years back (2096 from 2101), not eight (from 2104; 2100 is no leap year)."""
    leap_day = CronSchedule.parse("0 0 29 2 *")
    assert leap_day.latest_at_or_before(datetime(2101, 3, 1, tzinfo=UTC)) == datetime(2096, 2, 29, tzinfo=UTC)
    assert leap_day.latest_at_or_before(datetime(2104, 2, 28, tzinfo=UTC)) is None


def test_the_search_stops_at_the_first_year_without_overflowing() -> None:
    """Near ``datetime.min`` the search still answers: a hit in year 2, none before year 1."""
    assert CronSchedule.parse("0 0 1 1 *").latest_at_or_before(datetime(2, 6, 1, tzinfo=UTC)) == datetime(
        2, 1, 1, tzinfo=UTC
    )
    assert CronSchedule.parse("0 0 31 2 *").latest_at_or_before(datetime(3, 1, 1, tzinfo=UTC)) is None


@pytest.fixture
def local_zone_five_hours_behind(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The machine's local time zone set to UTC-5 (a POSIX TZ, no tz database needed), restored afterwards."""
    monkeypatch.setenv("TZ", "EST5")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("local_zone_five_hours_behind")
def test_schedules_are_utc_whatever_the_machines_local_zone() -> None:
    """Karpenter ``IsActive`` evaluates schedules in UTC, not in the controller's local zone."""
    assert time.localtime(0).tm_hour == 19  # the fixture took effect: 1970-01-01 00:00 UTC is 19:00 at UTC-5
    hit = CronSchedule.parse("0 0 1 jan *").latest_at_or_before(datetime(2024, 3, 4, tzinfo=UTC))
    assert hit == datetime(2024, 1, 1, tzinfo=UTC)
    assert hit is not None
    assert hit.utcoffset() == UTC.utcoffset(None)
