"""Cron schedules for disruption budgets, with the dialect Karpenter accepts.

Karpenter parses a budget's ``schedule`` with ``robfig/cron`` ``ParseStandard`` in UTC: five
fields (minute, hour, day of month, month, day of week 0-6 with Sunday 0), ``*`` and ``?``,
ranges, steps, lists, month and weekday names, and the macros ``@yearly`` ``@annually``
``@monthly`` ``@weekly`` ``@daily`` ``@midnight`` ``@hourly``. When both day fields are
restricted a day matching either is a hit; when one of them is ``*`` both must match.
No standard-library or runtime dependency offers this, hence the small parser here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

_MACROS: Final = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS: Final = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1
    )
}
_WEEKDAYS: Final = {
    name: number for number, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))
}
# How far back a schedule is searched for its last hit (robfig/cron gives up after five years).
_SEARCH_YEARS: Final = 5


class CronError(ValueError):
    """A schedule is not valid cron syntax."""


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int]


_FIELDS: Final = (
    _Field("minute", 0, 59, {}),
    _Field("hour", 0, 23, {}),
    _Field("day of month", 1, 31, {}),
    _Field("month", 1, 12, _MONTHS),
    _Field("day of week", 0, 6, _WEEKDAYS),
)


def _number(text: str, spec: _Field) -> int:
    named = spec.names.get(text.lower())
    if named is not None:
        return named
    if not text.isdigit():
        raise CronError(f"{spec.name}: {text!r} is not a number{' or a name' if spec.names else ''}")
    return int(text)


def _parse_range(part: str, spec: _Field) -> tuple[frozenset[int], bool]:
    """One comma-separated element; the flag says whether it is a bare ``*``/``?``."""
    range_text, _, step_text = part.partition("/")
    if "/" in step_text:
        raise CronError(f"{spec.name}: too many slashes in {part!r}")
    star = range_text in ("*", "?")
    if star:
        start, end = spec.low, spec.high
    else:
        bounds = range_text.split("-")
        if len(bounds) > 2:
            raise CronError(f"{spec.name}: too many hyphens in {part!r}")
        start = _number(bounds[0], spec)
        end = _number(bounds[1], spec) if len(bounds) == 2 else start
    step = 1
    if step_text or part.endswith("/"):
        if not step_text.isdigit():
            raise CronError(f"{spec.name}: step {step_text!r} in {part!r} is not a number")
        step = int(step_text)
        if "-" not in range_text and not star:
            end = spec.high  # "N/step" means from N to the end of the field
        star = star and step == 1
    if start < spec.low:
        raise CronError(f"{spec.name}: beginning of range ({start}) below minimum ({spec.low})")
    if end > spec.high:
        raise CronError(f"{spec.name}: end of range ({end}) above maximum ({spec.high})")
    if start > end:
        raise CronError(f"{spec.name}: beginning of range ({start}) beyond end of range ({end})")
    if step == 0:
        raise CronError(f"{spec.name}: step of range should be a positive number")
    return frozenset(range(start, end + 1, step)), star


def _parse_field(text: str, spec: _Field) -> tuple[frozenset[int], bool]:
    values: set[int] = set()
    star = False
    for part in text.split(","):
        if not part:
            raise CronError(f"{spec.name}: empty element in {text!r}")
        part_values, part_star = _parse_range(part, spec)
        values |= part_values
        star = star or part_star
    return frozenset(values), star


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """A parsed schedule; times are UTC."""

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    days_star: bool
    weekdays_star: bool

    @classmethod
    def parse(cls, expression: str) -> CronSchedule:
        """Parse ``expression``; raises :class:`CronError` saying what is wrong."""
        text = expression.strip()
        text = _MACROS.get(text.lower(), text)
        if text.startswith("@"):
            raise CronError(f"unknown macro {expression!r} (allowed: {', '.join(_MACROS)})")
        fields = text.split()
        if len(fields) != len(_FIELDS):
            raise CronError(
                f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}"
            )
        parsed = [_parse_field(field, spec) for field, spec in zip(fields, _FIELDS, strict=True)]
        return cls(
            expression=expression,
            minutes=parsed[0][0],
            hours=parsed[1][0],
            days=parsed[2][0],
            months=parsed[3][0],
            weekdays=parsed[4][0],
            days_star=parsed[2][1],
            weekdays_star=parsed[4][1],
        )

    def _day_matches(self, moment: datetime) -> bool:
        day = moment.day in self.days
        weekday = (moment.isoweekday() % 7) in self.weekdays
        if self.days_star or self.weekdays_star:
            return day and weekday
        return day or weekday

    def latest_at_or_before(self, moment: datetime) -> datetime | None:
        """The last time the schedule fired at or before ``moment``, or ``None`` within five years."""
        current = moment.astimezone(UTC).replace(second=0, microsecond=0)
        oldest = current.year - _SEARCH_YEARS
        while current.year >= oldest and current.year > 1:
            if current.month not in self.months:
                current = current.replace(day=1, hour=0, minute=0) - timedelta(minutes=1)
            elif not self._day_matches(current):
                current = current.replace(hour=0, minute=0) - timedelta(minutes=1)
            elif current.hour not in self.hours:
                current = current.replace(minute=0) - timedelta(minutes=1)
            elif current.minute not in self.minutes:
                current -= timedelta(minutes=1)
            else:
                return current
        return None

    def __str__(self) -> str:
        return self.expression
