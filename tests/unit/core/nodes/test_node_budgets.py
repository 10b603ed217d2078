"""Disruption budgets and their cron schedules, as Karpenter evaluates them.

Sources, kubernetes-sigs/karpenter at commit 013941a7a8917c3879ec515b9317df48c6fb3317:

* ``pkg/apis/v1/nodepool_budgets_test.go``: the budgets and clock of its ``BeforeEach`` (June 15,
  2000, 12:30:30 UTC) and its ``GetAllowedDisruptionsByReason``, ``AllowedDisruptions`` and
  ``IsActive`` cases, ported one for one below;
* ``pkg/apis/v1/nodepool.go``: ``GetAllowedDisruptions`` rounds percentages up and treats an
  inactive budget as unbounded; ``IsActive`` looks back ``duration`` from now for a schedule hit,
  in UTC, with robfig/cron's ``ParseStandard``;
* ``pkg/controllers/disruption/helpers.go`` ``BuildDisruptionBudgetMapping`` (commit
  007859a5f3c3774a9a2aac040a9f091d18491dea): nodes not ready or marked for deletion use up the
  allowance, never below zero;
* https://karpenter.sh/docs/concepts/disruption/#nodepool-disruption-budgets (the docs' example: 20% of
  19 nodes allows 4).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from ebb.core.nodes.budgets import Budget, DisruptionReason, allowed_disruptions
from ebb.core.nodes.cron import CronError, CronSchedule

NOW = datetime(2000, 6, 15, 12, 30, 30, tzinfo=UTC)
HOUR = timedelta(hours=1)
ALL_REASONS = tuple(DisruptionReason)


def upstream_budgets() -> list[Budget]:
    """The six budgets of the upstream ``BeforeEach``."""
    return [
        Budget(nodes="10", schedule="* * * * *", duration=HOUR),
        Budget(nodes="100", schedule="* * * * *", duration=HOUR),
        Budget(nodes="100%", schedule="* * * * *", duration=HOUR),
        Budget(
            nodes="15",
            schedule="* * * * *",
            duration=HOUR,
            reasons=(DisruptionReason.DRIFTED, DisruptionReason.UNDERUTILIZED),
        ),
        Budget(nodes="5", schedule="* * * * *", duration=HOUR, reasons=(DisruptionReason.DRIFTED,)),
        Budget(nodes="0", schedule="@weekly", duration=HOUR, reasons=ALL_REASONS),
    ]


def allowed(
    budgets: list[Budget], reason: DisruptionReason, now: datetime = NOW, total: int = 100
) -> int | None:
    return allowed_disruptions(budgets, now, total, 0, reason).allowed


def test_zero_for_every_reason_when_a_zero_budget_is_active_for_all_reasons() -> None:
    """Upstream: should return 0 for all reasons if a budget is active for all reasons."""
    budgets = upstream_budgets()
    budgets[5] = Budget(nodes="0", schedule="* * * * *", duration=HOUR, reasons=ALL_REASONS)
    assert all(allowed(budgets, reason) == 0 for reason in ALL_REASONS)


def test_unbounded_when_no_budget_is_active() -> None:
    """Upstream: should return MaxInt32 for all reasons when there are no active budgets."""
    budgets = [b.model_copy(update={"schedule": "@yearly", "duration": HOUR}) for b in upstream_budgets()]
    assert all(allowed(budgets, reason) is None for reason in ALL_REASONS)


def test_inactive_reason_budgets_are_ignored() -> None:
    """Upstream: should ignore reason-defined budgets when inactive."""
    budgets = upstream_budgets()
    budgets[3] = budgets[3].model_copy(update={"schedule": "@yearly"})
    budgets[4] = budgets[4].model_copy(update={"schedule": "@yearly"})
    assert all(allowed(budgets, reason) == 10 for reason in ALL_REASONS)


def test_a_budget_without_reasons_applies_to_every_reason() -> None:
    """Upstream: should return the budget for all disruption reasons when undefined."""
    assert all(allowed(upstream_budgets()[:1], reason) == 10 for reason in ALL_REASONS)


def test_the_minimum_budget_per_reason() -> None:
    """Upstream: should get the minimum budget for each reason."""
    budgets = [
        *upstream_budgets(),
        Budget(nodes="4", schedule="* * * * *", duration=HOUR, reasons=(DisruptionReason.EMPTY,)),
    ]
    assert allowed(budgets, DisruptionReason.EMPTY) == 4
    assert allowed(budgets, DisruptionReason.DRIFTED) == 5
    assert allowed(budgets, DisruptionReason.UNDERUTILIZED) == 10


def test_counts_and_percentages() -> None:
    """Upstream: int and string values when active; the docs' 20% of 19 nodes rounds up to 4."""
    assert upstream_budgets()[0].limit(100) == 10
    assert upstream_budgets()[2].limit(100) == 100
    assert Budget(nodes="20%").limit(19) == 4
    assert Budget(nodes="5%").limit(10) == 1


def test_disrupting_nodes_use_up_the_allowance_never_below_zero() -> None:
    """helpers.go: allowed = max(budget - (not ready + marked for deletion), 0)."""
    budgets = [Budget(nodes="20%")]
    assert allowed_disruptions(budgets, NOW, 19, 1, DisruptionReason.EMPTY).allowed == 3
    assert allowed_disruptions(budgets, NOW, 19, 9, DisruptionReason.EMPTY).allowed == 0


def test_schedules_are_evaluated_in_utc() -> None:
    """Upstream: should always consider a schedule and time in UTC (a clock one hour ahead of UTC)."""
    ahead = datetime(2000, 5, 31, 0, 0, tzinfo=timezone(timedelta(hours=1)))
    assert not Budget(nodes="10", schedule="@daily", duration=timedelta(minutes=30)).is_active(ahead)


def test_a_budget_without_schedule_is_always_active() -> None:
    """Upstream: should return that a schedule is active when schedule and duration are nil."""
    assert Budget(nodes="10").is_active(NOW)


def test_active_and_inactive_schedules() -> None:
    """Upstream: should return that a schedule is active / inactive."""
    assert upstream_budgets()[0].is_active(NOW)
    assert not upstream_budgets()[0].model_copy(update={"schedule": "@yearly"}).is_active(NOW)


def test_active_when_the_hit_is_inside_the_duration() -> None:
    """Upstream: should return that a schedule is active when the schedule hit is in the middle of the
    duration."""
    now = datetime(1000, 1, 1, 12, tzinfo=UTC)
    assert Budget(nodes="10", schedule="@yearly", duration=timedelta(hours=24)).is_active(now)


def test_active_when_the_duration_is_longer_than_the_recurrence() -> None:
    """Upstream: should return that a schedule is active when the duration is longer than the recurrence."""
    now = datetime(2024, 1, 7, tzinfo=UTC)
    assert Budget(nodes="10", schedule="@daily", duration=timedelta(hours=48)).is_active(now)


def test_inactive_when_the_window_ended() -> None:
    """Upstream: should return that a schedule is inactive when the schedule hit is after the duration."""
    now = datetime(2024, 1, 7, tzinfo=UTC)
    assert not Budget(nodes="10", schedule="30 6 * * SUN", duration=timedelta(hours=6)).is_active(now)


def test_a_window_includes_its_start_and_excludes_its_end() -> None:
    """nodepool.go IsActive: active iff a hit lies in (now - duration, now]."""
    budget = Budget(nodes="0", schedule="0 9 * * 1-5", duration=timedelta(hours=8))
    monday = datetime(2024, 1, 8, tzinfo=UTC)
    assert not budget.is_active(monday.replace(hour=8, minute=59))
    assert budget.is_active(monday.replace(hour=9))
    assert budget.is_active(monday.replace(hour=16, minute=59, second=59))
    assert not budget.is_active(monday.replace(hour=17))
    assert not budget.is_active(datetime(2024, 1, 13, 10, tzinfo=UTC))


def test_a_reversed_range_is_reported_as_upstream_reports_it() -> None:
    """Upstream: should return an error indicating why the cron fails to parse ("0 0 * * tue-mon")."""
    with pytest.raises(CronError, match=r"beginning of range \(2\) beyond end of range \(1\)"):
        CronSchedule.parse("0 0 * * tue-mon")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"nodes": "10", "schedule": "@wrongly", "duration": HOUR},
            "unknown macro",
        ),
        ({"nodes": "1000a%"}, "count"),
        ({"nodes": "101%"}, "percentage up to 100%"),
        ({"nodes": "1", "schedule": "@daily"}, "together with 'duration'"),
        ({"nodes": "1", "schedule": "@daily", "duration": timedelta(seconds=90)}, "whole minutes"),
        ({"nodes": "1", "reasons": ()}, "must not be empty"),
    ],
)
def test_invalid_budgets_are_rejected_with_the_reason(fields: dict[str, object], message: str) -> None:
    """Upstream rejects a bad schedule or nodes value; here validation says so up front."""
    with pytest.raises(ValidationError, match=message):
        Budget.model_validate(fields)


@pytest.mark.parametrize(
    ("expression", "moment", "expected"),
    [
        (
            "*/15 * * * *",
            datetime(2024, 3, 1, 10, 44, 59, tzinfo=UTC),
            datetime(2024, 3, 1, 10, 30, tzinfo=UTC),
        ),
        ("0 22 * * FRI", datetime(2024, 3, 4, 8, tzinfo=UTC), datetime(2024, 3, 1, 22, tzinfo=UTC)),
        ("0 0 1 jan *", datetime(2024, 3, 4, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC)),
        # Both day fields restricted: either one matching is a hit (the 13th or any Friday).
        ("0 0 13 * 5", datetime(2024, 9, 14, tzinfo=UTC), datetime(2024, 9, 13, tzinfo=UTC)),
        ("0 0 13 * 5", datetime(2024, 9, 12, tzinfo=UTC), datetime(2024, 9, 6, tzinfo=UTC)),
        ("0 12 29 2 *", datetime(2025, 3, 1, tzinfo=UTC), datetime(2024, 2, 29, 12, tzinfo=UTC)),
    ],
)
def test_latest_hit(expression: str, moment: datetime, expected: datetime) -> None:
    assert CronSchedule.parse(expression).latest_at_or_before(moment) == expected


def test_a_schedule_that_never_fires_is_never_active() -> None:
    assert CronSchedule.parse("0 0 31 2 *").latest_at_or_before(NOW) is None


# robfig/cron v3 ``parser.go`` ``getRange``: "N/step" runs from N to the field's maximum, a range
# with a step stops at its end, and only a bare "*" (step 1) counts as unrestricted for the
# day-of-month / day-of-week rule.


def test_steps_run_to_the_end_of_the_field_or_of_their_range() -> None:
    assert CronSchedule.parse("5/15 * * * *").minutes == frozenset({5, 20, 35, 50})
    assert CronSchedule.parse("0 0 1-10/3 * *").days == frozenset({1, 4, 7, 10})
    every_other_day = CronSchedule.parse("0 0 */2 * 1")
    assert (every_other_day.days_star, every_other_day.weekdays_star) == (False, False)
    assert CronSchedule.parse("0 0 */1 * 1").days_star


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 0 * foo *", r"^month: 'foo' is not a number or a name$"),
        ("x 0 * * *", r"^minute: 'x' is not a number$"),
        ("1,,2 * * * *", r"^minute: empty element in '1,,2'$"),
    ],
)
def test_cron_errors_say_which_field_and_what(expression: str, message: str) -> None:
    with pytest.raises(CronError, match=message):
        CronSchedule.parse(expression)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"nodes": "1000a%"},
            "budget nodes '1000a%' must be a count ('5') or a percentage up to 100% ('20%')",
        ),
        ({"nodes": "1", "schedule": "@daily"}, "budget 'schedule' must be set together with 'duration'"),
        ({"nodes": "1", "duration": HOUR}, "budget 'schedule' must be set together with 'duration'"),
        (
            {"nodes": "1", "schedule": "@wrongly", "duration": HOUR},
            "budget schedule '@wrongly': unknown macro '@wrongly' (allowed: @yearly, @annually, @monthly, "
            "@weekly, @daily, @midnight, @hourly)",
        ),
        (
            {"nodes": "1", "schedule": "@daily", "duration": timedelta(seconds=90)},
            "budget duration 0:01:30 must be whole minutes or hours (cron has no seconds)",
        ),
        (
            {"nodes": "1", "schedule": "@daily", "duration": timedelta(minutes=-1)},
            "budget duration -1 day, 23:59:00 must be whole minutes or hours (cron has no seconds)",
        ),
        (
            {"nodes": "1", "reasons": ()},
            "budget reasons must not be empty; omit it to apply the budget to every reason",
        ),
    ],
)
def test_each_invalid_budget_says_exactly_what_is_wrong(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Budget.model_validate(fields)
    assert raised.value.errors()[0]["msg"] == f"Value error, {message}"


def test_valid_edges_of_a_budget() -> None:
    """100% and a zero-minute duration are valid; the default is Karpenter's 10%."""
    assert Budget(nodes="100%").limit(7) == 7
    assert Budget(nodes="0%").limit(7) == 0
    assert Budget(nodes="1", schedule="@daily", duration=timedelta(0)).duration == timedelta(0)
    assert Budget().nodes == "10%"
    assert Budget(nodes="10%").limit(1) == 1
    assert Budget(nodes="7").limit(100) == 7
