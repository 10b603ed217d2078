"""at(), rate() and cron() as EventBridge and EventBridge Scheduler read them.

Sources: EventBridge User Guide, "Schedule expressions for rules" (cron fields, wildcards, the
examples table: `cron(0 10 * * ? *)`, `cron(15 12 * * ? *)`, `cron(0 18 ? * MON-FRI *)`,
`cron(0 8 1 * ? *)`, `cron(0/15 * * * ? *)`, `cron(0/5 8-17 ? * MON-FRI *)`; rate needs a
singular unit for 1), and EventBridge Scheduler User Guide, "Schedule types on EventBridge
Scheduler" (at() in the schedule's time zone; L, W and # in the day fields).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ebb.local.schedule_expressions import (
    OneTime,
    Rate,
    ScheduleExpressionError,
    next_fire_time,
    parse_expression,
)

pytestmark = pytest.mark.integration

# A Monday.
MONDAY = datetime(2025, 1, 6, 0, 0, tzinfo=UTC)


def fires(expression: str, count: int, *, after: datetime = MONDAY, timezone: str = "UTC") -> list[datetime]:
    parsed = parse_expression(expression, timezone)
    moments: list[datetime] = []
    while len(moments) < count:
        moment = next_fire_time(parsed, after=after, start=MONDAY, timezone=timezone)
        assert moment is not None
        moments.append(moment)
        after = moment
    return moments


def at(day: int, hour: int, minute: int = 0, month: int = 1) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=UTC)


def test_the_documented_cron_examples() -> None:
    assert fires("cron(0 10 * * ? *)", 2) == [at(6, 10), at(7, 10)]
    assert fires("cron(15 12 * * ? *)", 1) == [at(6, 12, 15)]
    friday_evening = fires("cron(0 18 ? * MON-FRI *)", 6)
    assert friday_evening[4:6] == [at(10, 18), at(13, 18)]  # skips the weekend
    assert fires("cron(0 8 1 * ? *)", 2) == [at(1, 8, month=2), at(1, 8, month=3)]
    assert fires("cron(0/15 * * * ? *)", 3) == [at(6, 0, 15), at(6, 0, 30), at(6, 0, 45)]
    business = fires("cron(0/5 8-17 ? * MON-FRI *)", 121)
    assert [business[0], business[119], business[120]] == [at(6, 8), at(6, 17, 55), at(7, 8)]


def test_last_day_nearest_weekday_and_nth_weekday() -> None:
    assert fires("cron(0 0 L * ? *)", 2) == [at(31, 0), at(28, 0, month=2)]
    assert fires("cron(0 9 ? * 2#1 *)", 2) == [at(6, 9), at(3, 9, month=2)]  # first Monday
    assert fires("cron(0 9 ? * 6L *)", 1) == [at(31, 9)]  # last Friday of January 2025
    # 15 February 2025 is a Saturday: the nearest weekday is Friday the 14th.
    assert fires("cron(0 9 15W * ? *)", 2)[1] == at(14, 9, month=2)


def test_cron_in_a_time_zone_follows_daylight_saving() -> None:
    summer = fires(
        "cron(0 9 * * ? *)", 1, after=datetime(2025, 7, 1, tzinfo=UTC), timezone="America/New_York"
    )
    winter = fires(
        "cron(0 9 * * ? *)", 1, after=datetime(2025, 12, 1, tzinfo=UTC), timezone="America/New_York"
    )
    assert summer == [datetime(2025, 7, 1, 13, 0, tzinfo=UTC)]
    assert winter == [datetime(2025, 12, 1, 14, 0, tzinfo=UTC)]


def test_rate_counts_from_the_start_and_at_fires_once_in_its_time_zone() -> None:
    assert parse_expression("rate(1 minute)") == Rate(60)
    assert fires("rate(5 minutes)", 2) == [MONDAY + timedelta(minutes=5), MONDAY + timedelta(minutes=10)]
    once = parse_expression("at(2025-01-06T09:30:00)", "Europe/Paris")
    assert once == OneTime(datetime(2025, 1, 6, 8, 30, tzinfo=UTC))
    assert next_fire_time(once, after=datetime(2025, 1, 6, 8, 30, tzinfo=UTC), start=MONDAY) is None


@pytest.mark.parametrize(
    ("expression", "complaint"),
    [
        ("rate(1 minutes)", "singular"),
        ("rate(5 minute)", "plural"),
        ("rate(0 hours)", "positive"),
        ("cron(0 10 * * * *)", "exactly one"),
        ("cron(0 10 * *)", "six fields"),
        ("cron(61 10 * * ? *)", "outside"),
        ("cron(0 10 ? * 9 *)", "outside"),
        ("at(2025-13-01T00:00:00)", "not a valid date"),
        ("every(5 minutes)", "expected at"),
    ],
)
def test_invalid_expressions_are_refused_with_the_reason(expression: str, complaint: str) -> None:
    with pytest.raises(ScheduleExpressionError, match=complaint):
        parse_expression(expression)


def test_an_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ScheduleExpressionError, match="IANA"):
        parse_expression("rate(1 hour)", "Mars/Olympus")
