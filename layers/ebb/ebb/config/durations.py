"""Karpenter's duration strings (`30s`, `1h30m`, `Never`) and cron schedules.

The accepted syntax is what karpenter.sh/v1 NodePool's CRD allows (kubernetes-sigs/karpenter,
pkg/apis/v1/nodepool.go): `expireAfter` and `consolidateAfter` match
`^(([0-9]+(s|m|h))+)|(Never)$`; a budget's `duration` takes minutes and hours only; a budget's
`schedule` is a five-field cron expression or one of the `@yearly`-style macros.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from pydantic import PlainSerializer, PlainValidator

from ebb.config.model_errors import custom_error, describe_yaml_value
from ebb.core.nodes.cron import CronError, CronSchedule

_DURATION_RE = re.compile(r"^(?:[0-9]+[smh])+$")
_DURATION_PART_RE = re.compile(r"([0-9]+)([smh])")
_BUDGET_DURATION_RE = re.compile(r"^(([0-9]+(h|m))|([0-9]+h[0-9]+m))(0s)?$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}


@dataclass(frozen=True)
class Duration:
    """A duration as written; `seconds` is None for `Never`."""

    text: str
    seconds: int | None

    def __str__(self) -> str:
        return self.text

    @property
    def is_never(self) -> bool:
        """Whether the duration is Karpenter's `Never` (disabled)."""
        return self.seconds is None


def parse_duration(text: str, *, allow_never: bool) -> Duration:
    """Parse `1h30m`-style text (and `Never` when allowed); raise ValueError saying what is allowed."""
    if allow_never and text == "Never":
        return Duration(text, None)
    if not _DURATION_RE.match(text):
        allowed = "a duration such as 30s, 10m or 1h30m" + (", or Never" if allow_never else "")
        raise ValueError(f"{text!r} is not a valid duration; allowed: {allowed}")
    seconds = sum(int(amount) * _UNIT_SECONDS[unit] for amount, unit in _DURATION_PART_RE.findall(text))
    return Duration(text, seconds)


def _duration_validator(*, allow_never: bool) -> PlainValidator:
    def validate(value: object) -> Duration:
        if isinstance(value, Duration):
            return value
        if not isinstance(value, str):
            raise custom_error(
                "duration_type", f"must be a duration string such as 10m, got {describe_yaml_value(value)}"
            )
        try:
            return parse_duration(value, allow_never=allow_never)
        except ValueError as error:
            raise custom_error("duration_syntax", str(error)) from None

    return PlainValidator(validate)


def _budget_duration(value: object) -> Duration:
    if not isinstance(value, str) or not _BUDGET_DURATION_RE.match(value):
        shown = repr(value) if isinstance(value, str) else describe_yaml_value(value)
        raise custom_error(
            "budget_duration",
            f"{shown} is not allowed; a budget duration takes hours and minutes only, such as 20m, 2h or "
            "2h20m",
        )
    return parse_duration(value.removesuffix("0s") or value, allow_never=False)


_SERIALIZE = PlainSerializer(str, return_type=str)
NillableDuration = Annotated[Duration, _duration_validator(allow_never=True), _SERIALIZE]
PositiveDuration = Annotated[Duration, _duration_validator(allow_never=False), _SERIALIZE]
BudgetDuration = Annotated[Duration, PlainValidator(_budget_duration), _SERIALIZE]


def cron_problem(schedule: str) -> str | None:
    """Why `schedule` is not a standard cron expression (five fields or a macro), or None.

    The node core's parser decides: what the configuration accepts is exactly what budgets and
    pre-warm windows are evaluated with.
    """
    try:
        CronSchedule.parse(schedule)
    except CronError as error:
        return str(error)
    return None
