"""Schedule expressions of EventBridge rules and EventBridge Scheduler: at(), rate(), cron().

Syntax and meaning follow the EventBridge Scheduler User Guide, "Schedule types on EventBridge
Scheduler", and the EventBridge User Guide, "Schedule expressions for rules": six cron fields
(minutes hours day-of-month month day-of-week year), one of day-of-month and day-of-week must be
`?`, day-of-week 1-7 is SUN-SAT, with `L`, `W` and `#`; rate(value unit) with a singular unit
for 1; at(yyyy-mm-ddThh:mm:ss) in the schedule's time zone. Pure: times come in as arguments.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ebb.errors import ConfigError

_MONTHS = {name: index for index, name in enumerate(calendar.month_abbr) if name}
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_CRON = re.compile(r"^cron\(([^)]*)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
# How far ahead a cron expression is searched before it is declared to never fire.
_SEARCH_DAYS = 366 * 5


class ScheduleExpressionError(ConfigError):
    """A schedule expression that EventBridge would reject; the message says why."""


@dataclass(frozen=True)
class OneTime:
    """at(...): one moment."""

    moment: datetime


@dataclass(frozen=True)
class Rate:
    """rate(...): every `seconds`, counted from the schedule's start."""

    seconds: int


@dataclass(frozen=True)
class _Field:
    values: frozenset[int]
    any: bool


@dataclass(frozen=True)
class Cron:
    """cron(...): the six fields, parsed."""

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: str
    months: frozenset[int]
    days_of_week: str
    years: frozenset[int] | None

    def matches_day(self, day: date) -> bool:
        """Whether the expression fires on `day` (at some of its hours and minutes)."""
        if day.month not in self.months or (self.years is not None and day.year not in self.years):
            return False
        if self.days_of_month != "?":
            return _day_of_month_matches(self.days_of_month, day)
        return _day_of_week_matches(self.days_of_week, day)


Expression = OneTime | Rate | Cron


def parse_expression(expression: str, timezone: str = "UTC") -> Expression:
    """Parse at()/rate()/cron(); `at` times are read in `timezone`."""
    zone = _zone(timezone)
    text = expression.strip()
    if match := _AT.match(text):
        try:
            moment = datetime.fromisoformat(match.group(1)).replace(tzinfo=zone)
        except ValueError:
            raise ScheduleExpressionError(f"{expression!r}: not a valid date and time") from None
        return OneTime(moment.astimezone(UTC))
    if match := _RATE.match(text):
        value, unit = int(match.group(1)), match.group(2)
        if value <= 0:
            raise ScheduleExpressionError(f"{expression!r}: the rate must be positive")
        singular = unit.rstrip("s")
        if (value == 1) != (unit == singular):
            raise ScheduleExpressionError(
                f"{expression!r}: use {'a singular' if value == 1 else 'a plural'} unit for {value}"
            )
        return Rate(value * _UNIT_SECONDS[singular])
    if match := _CRON.match(text):
        return _parse_cron(expression, match.group(1))
    raise ScheduleExpressionError(f"{expression!r}: expected at(...), rate(...) or cron(...)")


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleExpressionError(f"{timezone!r} is not an IANA time zone") from None


def _parse_cron(expression: str, body: str) -> Cron:
    fields = body.split()
    if len(fields) != 6:
        raise ScheduleExpressionError(
            f"{expression!r}: a cron expression has six fields, found {len(fields)}"
        )
    minutes, hours, days_of_month, months, days_of_week, years = fields
    if (days_of_month == "?") == (days_of_week == "?"):
        raise ScheduleExpressionError(
            f"{expression!r}: exactly one of day-of-month and day-of-week must be '?'"
        )
    _check_day_field(days_of_month, 1, 31, {}, expression=expression, allow="LW")
    _check_day_field(days_of_week, 1, 7, _DAYS, expression=expression, allow="L#")
    year_values = _parse_field(years, 1970, 2199, {}, expression)
    return Cron(
        expression=expression,
        minutes=_parse_field(minutes, 0, 59, {}, expression).values,
        hours=_parse_field(hours, 0, 23, {}, expression).values,
        days_of_month=days_of_month,
        months=_parse_field(months, 1, 12, _MONTHS, expression).values,
        days_of_week=days_of_week.upper(),
        years=None if year_values.any else year_values.values,
    )


def _number(token: str, names: dict[str, int], expression: str) -> int:
    token = token.upper()
    if token in names:
        return names[token]
    if not token.isdigit():
        raise ScheduleExpressionError(f"{expression!r}: {token!r} is not a number or name")
    return int(token)


def _parse_field(text: str, low: int, high: int, names: dict[str, int], expression: str) -> _Field:
    if text == "*":
        return _Field(frozenset(range(low, high + 1)), any=True)
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step <= 0:
            raise ScheduleExpressionError(f"{expression!r}: step {step_text!r} must be positive")
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, last = base.split("-", 1)
            start, end = _number(first, names, expression), _number(last, names, expression)
        else:
            start = _number(base, names, expression)
            end = high if step_text else start
        if not (low <= start <= high and low <= end <= high) or start > end:
            raise ScheduleExpressionError(f"{expression!r}: {part!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return _Field(frozenset(values), any=False)


def _check_day_field(
    text: str, low: int, high: int, names: dict[str, int], *, expression: str, allow: str
) -> None:
    if text in ("?", "*"):
        return
    if "L" in allow and (text == "L" or (text.endswith("L") and text[:-1] and "#" not in text)):
        if text in ("L", "LW"):
            return
        _number(text[:-1], names, expression)
        return
    if "W" in allow and text.endswith("W"):
        day = _number(text[:-1], names, expression)
        if not low <= day <= high:
            raise ScheduleExpressionError(f"{expression!r}: {text!r} is outside {low}-{high}")
        return
    if "#" in allow and "#" in text:
        weekday, nth = text.split("#", 1)
        if not 1 <= _number(weekday, names, expression) <= 7 or not nth.isdigit() or not 1 <= int(nth) <= 5:
            raise ScheduleExpressionError(f"{expression!r}: {text!r} must be weekday#1..5")
        return
    _parse_field(text, low, high, names, expression)


def _aws_weekday(day: date) -> int:
    # AWS counts SUN=1 ... SAT=7; Python counts MON=0 ... SUN=6.
    return (day.weekday() + 1) % 7 + 1


def _day_of_month_matches(text: str, day: date) -> bool:
    last = calendar.monthrange(day.year, day.month)[1]
    if text == "*":
        return True
    if text == "L":
        return day.day == last
    if text == "LW":
        target = date(day.year, day.month, last)
        while target.weekday() >= 5:
            target -= timedelta(days=1)
        return day == target
    if text.endswith("W"):
        return day == _nearest_weekday(day.year, day.month, min(int(text[:-1]), last))
    return day.day in _parse_field(text, 1, 31, {}, text).values


def _nearest_weekday(year: int, month: int, day_number: int) -> date:
    target = date(year, month, day_number)
    if target.weekday() == 5:  # Saturday: the Friday before, unless that leaves the month
        return target - timedelta(days=1) if day_number > 1 else target + timedelta(days=2)
    if target.weekday() == 6:  # Sunday: the Monday after, unless that leaves the month
        last = calendar.monthrange(year, month)[1]
        return target + timedelta(days=1) if day_number < last else target - timedelta(days=2)
    return target


def _day_of_week_matches(text: str, day: date) -> bool:
    weekday = _aws_weekday(day)
    if text == "*":
        return True
    if text == "L":
        return weekday == 7
    if text.endswith("L"):
        wanted = _number(text[:-1], _DAYS, text)
        last = calendar.monthrange(day.year, day.month)[1]
        return weekday == wanted and day.day + 7 > last
    if "#" in text:
        wanted_text, nth = text.split("#", 1)
        return weekday == _number(wanted_text, _DAYS, text) and (day.day - 1) // 7 + 1 == int(nth)
    return weekday in _parse_field(text, 1, 7, _DAYS, text).values


def next_fire_time(
    expression: Expression, *, after: datetime, start: datetime, timezone: str = "UTC"
) -> datetime | None:
    """The first time strictly after `after` at which the expression fires (None: never again).

    `start` anchors rate() schedules (their first run is one interval after it) and is the
    earliest moment any schedule may fire.
    """
    zone = _zone(timezone)
    after = max(after, start - timedelta(microseconds=1))
    if isinstance(expression, OneTime):
        return expression.moment if expression.moment > after else None
    if isinstance(expression, Rate):
        elapsed = (after - start).total_seconds()
        periods = int(elapsed // expression.seconds) + 1 if elapsed >= 0 else 1
        return start + timedelta(seconds=periods * expression.seconds)
    local_after = after.astimezone(zone)
    day = local_after.date()
    for _ in range(_SEARCH_DAYS):
        if expression.matches_day(day):
            for hour in sorted(expression.hours):
                for minute in sorted(expression.minutes):
                    candidate = datetime.combine(day, time(hour, minute), tzinfo=zone).astimezone(UTC)
                    if candidate > after:
                        return candidate
        day += timedelta(days=1)
    return None
