"""How an alarm's state follows from its datapoints, as the CloudWatch User Guide documents it.

Source: CloudWatch User Guide, "Configuring how CloudWatch alarms treat missing data"
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html),
the two tables of "How alarm state is evaluated when data is missing" and the section "Avoiding
premature transitions to alarm state". In the tables 0 is a non-breaching datapoint, X a
breaching one, - a missing one, oldest first; the evaluation range is 5 for Evaluation Periods 3.
"""

from __future__ import annotations

import pytest

from ebb.local.alarm_evaluation import (
    AlarmState,
    Point,
    TreatMissingData,
    aggregate,
    classify,
    evaluate_alarm,
    evaluation_range,
)

pytestmark = pytest.mark.integration

RETAIN = "retain"  # the guide's "Retain current state"
COLUMNS: tuple[TreatMissingData, ...] = ("missing", "ignore", "breaching", "notBreaching")


def points(text: str) -> list[Point]:
    return [Point(symbol) for symbol in text.split()]


def outcome(text: str, m: int, treat: TreatMissingData, current: AlarmState = "OK") -> AlarmState:
    return evaluate_alarm(
        points(text),
        evaluation_periods=3,
        datapoints_to_alarm=m,
        treat_missing_data=treat,
        current_state=current,
    )


# First table: Datapoints to Alarm 3, Evaluation Periods 3.
THREE_OF_THREE = [
    ("0 - X - X", ("OK", "OK", "OK", "OK")),
    ("0 - - - -", ("OK", "OK", "OK", "OK")),
    ("- - - - -", ("INSUFFICIENT_DATA", RETAIN, "ALARM", "OK")),
    ("0 X X - X", ("ALARM", "ALARM", "ALARM", "ALARM")),
    ("- - X - -", ("ALARM", RETAIN, "ALARM", "OK")),
]
# Second table: Datapoints to Alarm 2, Evaluation Periods 3 (an M out of N alarm).
TWO_OF_THREE = [
    ("0 - X - X", ("ALARM", "ALARM", "ALARM", "ALARM")),
    ("0 0 X 0 X", ("ALARM", "ALARM", "ALARM", "ALARM")),
    ("0 - X - -", ("OK", "OK", "ALARM", "OK")),
    ("- - - - 0", ("OK", "OK", "ALARM", "OK")),
    ("- - - X -", ("ALARM", RETAIN, "ALARM", "OK")),
]


@pytest.mark.parametrize(
    ("m", "row", "expected"), [(3, *row) for row in THREE_OF_THREE] + [(2, *row) for row in TWO_OF_THREE]
)
def test_each_row_of_the_user_guide_tables(m: int, row: str, expected: tuple[str, ...]) -> None:
    for treat, wanted in zip(COLUMNS, expected, strict=True):
        states: tuple[AlarmState, ...] = ("OK", "ALARM", "INSUFFICIENT_DATA")
        for current in states:
            assert outcome(row, m, treat, current) == (current if wanted == RETAIN else wanted), (
                row,
                treat,
                current,
            )


def test_the_evaluation_range_of_the_worked_example_is_five_for_three_periods() -> None:
    assert evaluation_range(3) == 5


def test_no_premature_alarm_when_the_only_breach_is_too_recent() -> None:
    # "the alarm does not go immediately into ALARM state when the data is either - - - - X or
    # - - - X - and Datapoints to Alarm is 3"
    assert outcome("- - - - X", 3, "missing") != "ALARM"
    assert outcome("- - - X -", 3, "missing") != "ALARM"


def test_a_non_breaching_datapoint_after_the_breach_prevents_the_premature_alarm() -> None:
    assert outcome("- - X 0 -", 2, "missing") == "OK"


def test_an_old_breach_alone_in_the_range_alarms_as_in_the_earlier_revision_of_the_guide() -> None:
    # awsdocs/amazon-cloudwatch-user-guide, doc_source/AlarmThatSendsEmail.md at commit
    # 05fd32f63861ca6646c8aa5c94334fd6e0dfdbf5, first table, row "X - - - -": ALARM when missing
    # data is missing, retain when ignored, ALARM when breaching, OK when not breaching.
    assert [outcome("X - - - -", 3, treat, "OK") for treat in COLUMNS] == ["ALARM", "OK", "ALARM", "OK"]


def test_enough_real_datapoints_make_the_missing_data_setting_irrelevant() -> None:
    for treat in COLUMNS:
        assert outcome("X - X X -", 3, treat, "OK") == "ALARM"
        assert outcome("X - 0 X 0", 2, treat, "ALARM") == "OK"


@pytest.mark.parametrize(
    ("operator", "value", "breaching"),
    [
        ("GreaterThanThreshold", 10.0, False),
        ("GreaterThanOrEqualToThreshold", 10.0, True),
        ("LessThanThreshold", 9.5, True),
        ("LessThanOrEqualToThreshold", 10.5, False),
    ],
)
def test_comparison_operators_against_a_threshold_of_ten(
    operator: str, value: float, breaching: bool
) -> None:
    assert (classify(value, operator, 10.0) is Point.BREACHING) is breaching
    assert classify(None, operator, 10.0) is Point.MISSING


def test_statistics_over_raw_values_and_statistic_sets() -> None:
    values = [1.0, 2.0, 3.0, 10.0]
    sets = [(20.0, 4.0, 0.5, 9.0)]  # (sum, sample count, minimum, maximum)
    assert aggregate(values, sets, "SampleCount") == 8.0
    assert aggregate(values, sets, "Sum") == 36.0
    assert aggregate(values, sets, "Average") == 4.5
    assert aggregate(values, sets, "Minimum") == 0.5
    assert aggregate(values, sets, "Maximum") == 10.0
    assert aggregate([float(v) for v in range(1, 101)], [], "p99") == 99.0
    assert aggregate([], [], "Average") is None
