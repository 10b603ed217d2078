"""How CloudWatch decides an alarm's state from its datapoints. Pure: no clock, no I/O.

Follows the CloudWatch User Guide, "Configuring how CloudWatch alarms treat missing data"
(docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html), sections
"How alarm state is evaluated when data is missing" and "Avoiding premature transitions to
alarm state":

- CloudWatch retrieves more periods than EvaluationPeriods (N), the *evaluation range*; the
  guide's worked example uses 5 for N = 3, and `evaluation_range(N)` is N + 2 accordingly (AWS
  publishes no general formula).
- With at least N real datapoints in the range, the most recent N real ones are evaluated and
  TreatMissingData plays no part.
- With fewer, the missing ones are filled according to TreatMissingData, using as few filled
  points as possible; every real datapoint of the range is kept.
- `missing`: no datapoint at all gives INSUFFICIENT_DATA; `ignore` keeps the current state.
- Premature alarm: with `missing`, if no datapoint of the range is non-breaching and the oldest
  breaching one is at least M (DatapointsToAlarm) periods old, the alarm goes to ALARM even with
  fewer than M real breaching datapoints (the guide's rows `- - X - -` and `- - - X -`, and
  `X - - - -` of its earlier revision; `0 - X - -` stays OK).

The tests replay the guide's two tables row by row.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import Enum
from typing import Literal

AlarmState = Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
TreatMissingData = Literal["breaching", "notBreaching", "ignore", "missing"]


class Point(Enum):
    """One period of the evaluation range."""

    BREACHING = "X"
    NOT_BREACHING = "0"
    MISSING = "-"


def evaluation_range(evaluation_periods: int) -> int:
    """How many periods CloudWatch looks back (see the module docstring)."""
    return evaluation_periods + 2


def is_breaching(value: float, comparison_operator: str, threshold: float) -> bool:
    """Whether one datapoint crosses the threshold."""
    if comparison_operator == "GreaterThanOrEqualToThreshold":
        return value >= threshold
    if comparison_operator == "GreaterThanThreshold":
        return value > threshold
    if comparison_operator == "LessThanThreshold":
        return value < threshold
    if comparison_operator == "LessThanOrEqualToThreshold":
        return value <= threshold
    raise ValueError(f"unsupported comparison operator {comparison_operator!r}")


def classify(value: float | None, comparison_operator: str, threshold: float) -> Point:
    """A datapoint's category: breaching, not breaching, or missing (no value)."""
    if value is None or math.isnan(value):
        return Point.MISSING
    return Point.BREACHING if is_breaching(value, comparison_operator, threshold) else Point.NOT_BREACHING


def evaluate_alarm(
    points: Sequence[Point],
    *,
    evaluation_periods: int,
    datapoints_to_alarm: int,
    treat_missing_data: TreatMissingData,
    current_state: AlarmState,
) -> AlarmState:
    """The alarm's next state, from the evaluation range's points (oldest first)."""
    n, m = evaluation_periods, datapoints_to_alarm
    real = [point for point in points if point is not Point.MISSING]
    if len(real) >= n:
        latest = real[-n:]
        return "ALARM" if latest.count(Point.BREACHING) >= m else "OK"
    if treat_missing_data in ("breaching", "notBreaching"):
        filler = Point.BREACHING if treat_missing_data == "breaching" else Point.NOT_BREACHING
        evaluated = real + [filler] * (n - len(real))
        return "ALARM" if evaluated.count(Point.BREACHING) >= m else "OK"
    if treat_missing_data == "missing" and _premature_alarm(points, m):
        return "ALARM"
    breaching = real.count(Point.BREACHING)
    if breaching >= m:
        return "ALARM"
    if Point.NOT_BREACHING in real:
        return "OK"
    return "INSUFFICIENT_DATA" if treat_missing_data == "missing" else current_state


def _premature_alarm(points: Sequence[Point], m: int) -> bool:
    # The guide's rows `- - X - -` (M = 3) and `- - - X -` (M = 2) go to ALARM, `0 - X - -` (M = 2)
    # does not: only a range without any non-breaching datapoint qualifies.
    if Point.NOT_BREACHING in points:
        return False
    ages = [len(points) - index for index, point in enumerate(points) if point is Point.BREACHING]
    return bool(ages) and max(ages) >= m


def aggregate(
    values: Sequence[float], aggregates: Sequence[tuple[float, float, float, float]], statistic: str
) -> float | None:
    """A period's statistic from raw values and (sum, count, min, max) statistic sets.

    Percentiles (pNN) use the raw values only, as CloudWatch needs raw data for them; None
    means the period has no datapoint.
    """
    count = len(values) + sum(item[1] for item in aggregates)
    if count == 0:
        return None
    if statistic == "SampleCount":
        return float(count)
    total = sum(values) + sum(item[0] for item in aggregates)
    if statistic == "Sum":
        return total
    if statistic == "Average":
        return total / count
    if statistic == "Minimum":
        return min([*values, *(item[2] for item in aggregates)])
    if statistic == "Maximum":
        return max([*values, *(item[3] for item in aggregates)])
    if statistic.startswith("p"):
        if not values:
            return None
        ordered = sorted(values)
        rank = max(1, math.ceil(float(statistic[1:]) / 100 * len(ordered)))
        return ordered[rank - 1]
    raise ValueError(f"unsupported statistic {statistic!r}")
