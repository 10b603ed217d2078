"""EventBridge Scheduler on the simulated clock.

moto stores schedules but never fires them. Here every ENABLED schedule in moto's backend (from
the template, or created at run time, e.g. ebb's idle timers) is armed on the clock: at(),
rate() and cron() in the schedule's time zone, within StartDate/EndDate (EventBridge Scheduler
User Guide, "Schedule types on EventBridge Scheduler"). Without a flexible window the invocation
happens at a seeded-random moment of the scheduled time's minute, never before the schedule was
armed: "All schedule types on EventBridge Scheduler invoke their targets with 60 second
precision. This means that if you set your schedule to run at 1:00, it will invoke the target
API between 1:00:00 and 1:00:59" (same page); so an at() with seconds may fire before them. With
a FLEXIBLE window it happens at a seeded-random moment within MaximumWindowInMinutes after the
scheduled time ("Configuring flexible time windows"). CreateSchedule and UpdateSchedule refuse an
at() already in the past with a ValidationException: AWS does not document what it does with
one; DefangLabs/pulumi-defang (pull request 425, cd/program/selfdestruct_aws.go) reports that
"AWS rejects a fire time in the past at create", and refusing is the safe assumption, since code
that never creates one works whichever way AWS behaves. The target gets `Target.Input` with its context
attributes replaced (`<aws.scheduler.schedule-arn>`, `scheduled-time`, `execution-id`,
`attempt-number`; "Adding context attributes"), or `{}` when there is none (the guide says a
"default notification", whose shape it does not document). Failed deliveries are retried per
the target's RetryPolicy and then sent to its dead-letter queue with the documented
attributes. After the last invocation, ActionAfterCompletion DELETE deletes the schedule.
Creating, updating or deleting a schedule through the API re-arms it.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.scheduler.exceptions import ValidationException
from moto.scheduler.models import EventBridgeSchedulerBackend, scheduler_backends

from ebb.local.clock import SimClock
from ebb.local.event_shapes import iso_seconds, scheduler_dead_letter_attributes
from ebb.local.patches import PatchSet, PinnedAttribute
from ebb.local.randomness import SeededRandomness
from ebb.local.schedule_expressions import (
    OneTime,
    ScheduleExpressionError,
    next_fire_time,
    parse_expression,
)
from ebb.local.targets import DeliveryError, TargetInvoker, backoff_seconds


@dataclass
class ScheduleInvocation:
    """One scheduled invocation of a target, for assertions."""

    schedule_arn: str
    scheduled_time: datetime
    invoked_at: datetime
    payload: Any
    outcome: str  # "delivered", "dead-lettered" or "dropped"
    attempts: int
    error_code: str | None = None


@dataclass
class SchedulerService:
    """Fires moto's schedules on the clock; see the module docstring."""

    clock: SimClock
    randomness: SeededRandomness
    account_id: str
    region: str
    targets: TargetInvoker | None = None
    send_to_dead_letter_queue: Callable[[str, str, dict[str, dict[str, str]]], None] | None = None
    invocations: list[ScheduleInvocation] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    _generation: dict[tuple[str, str], int] = field(default_factory=dict)

    def _backend(self) -> Any:
        return scheduler_backends[self.account_id][self.region]

    def install(self, patches: PatchSet) -> None:
        """Re-arm schedules whenever they are created, updated or deleted through the API."""
        service = self
        common = (
            "(self, description: str, end_date: str, flexible_time_window: dict[str, typing.Any], "
            "group_name: str, "
            "kms_key_arn: str, name: str, schedule_expression: str, schedule_expression_timezone: str, "
            "start_date: str, state: str, target: dict[str, typing.Any]"
        )
        create_pin = PinnedAttribute(
            EventBridgeSchedulerBackend,
            "create_schedule",
            common + ", action_after_completion: str | None) -> moto.scheduler.models.Schedule",
        )
        update_pin = PinnedAttribute(
            EventBridgeSchedulerBackend, "update_schedule", common + ") -> moto.scheduler.models.Schedule"
        )
        delete_pin = PinnedAttribute(
            EventBridgeSchedulerBackend,
            "delete_schedule",
            "(self, group_name: str | None, name: str) -> None",
        )

        def rearm(original: Callable[..., Any]) -> Callable[..., Any]:
            signature = inspect.signature(original)

            def change(backend: Any, *args: Any, **kwargs: Any) -> Any:
                arguments = signature.bind(backend, *args, **kwargs).arguments
                service.refuse_past_one_time(
                    arguments["schedule_expression"], arguments["schedule_expression_timezone"]
                )
                schedule = original(backend, *args, **kwargs)
                service.arm(schedule)
                return schedule

            return change

        def disarm(original: Callable[..., None]) -> Callable[..., None]:
            def delete_schedule(backend: Any, group_name: str | None, name: str) -> None:
                original(backend, group_name, name)
                service._bump(group_name or "default", name)

            return delete_schedule

        patches.wrap_method(create_pin, rearm)
        patches.wrap_method(update_pin, rearm)
        patches.wrap_method(delete_pin, disarm)

    def refuse_past_one_time(self, expression: str, timezone: str | None) -> None:
        """Raise ValidationException for an at() before now (see the module docstring)."""
        try:
            parsed = parse_expression(expression, timezone or "UTC")
        except ScheduleExpressionError:
            return  # not ours to judge here: the expression is checked when it is armed
        if isinstance(parsed, OneTime) and parsed.moment < self.clock.now_datetime():
            raise ValidationException(
                f"Invalid Schedule Expression {expression}: the time is in the past "
                f"(now {iso_seconds(self.clock.now_datetime())})"
            )

    def start(self) -> None:
        """Arm every schedule that exists now."""
        for group in list(self._backend().schedule_groups.values()):
            for schedule in list(group.schedules.values()):
                self.arm(schedule)

    def _bump(self, group: str, name: str) -> int:
        key = (group, name)
        self._generation[key] = self._generation.get(key, 0) + 1
        return self._generation[key]

    def arm(self, schedule: Any) -> None:
        """Compute the schedule's next invocation and put it on the clock (replacing any earlier)."""
        generation = self._bump(schedule.group_name, schedule.name)
        # UpdateSchedule without State means ENABLED, its default (moto stores None).
        if (schedule.state or "ENABLED") != "ENABLED":
            return
        created = datetime.fromtimestamp(float(schedule.creation_date), UTC)
        start = _as_datetime(schedule.start_date) or created
        self._arm_after(schedule, self.clock.now_datetime() - timedelta(microseconds=1), start, generation)

    def _arm_after(self, schedule: Any, after: datetime, start: datetime, generation: int) -> None:
        expression = parse_expression(schedule.schedule_expression, schedule.schedule_expression_timezone)
        scheduled = next_fire_time(
            expression, after=after, start=start, timezone=schedule.schedule_expression_timezone
        )
        end = _as_datetime(schedule.end_date)
        if scheduled is None or (end is not None and scheduled > end):
            self._complete(schedule, generation)
            return
        window = schedule.flexible_time_window or {}
        if window.get("Mode") == "FLEXIBLE":
            due = scheduled.timestamp() + self.randomness.uniform(
                0.0, float(window.get("MaximumWindowInMinutes", 1)) * 60.0
            )
        else:
            # 60-second precision: some moment of the scheduled minute, not before now.
            minute = scheduled.timestamp() - scheduled.timestamp() % 60
            earliest = max(self.clock.now(), minute)
            due = earliest + self.randomness.uniform(0.0, 1.0) * (minute + 60 - earliest)
        key = (schedule.group_name, schedule.name)

        def fire() -> None:
            if self._generation.get(key) != generation:
                return
            self.clock.spawn(
                lambda: self._invoke(schedule, scheduled, expression, start, generation),
                name=f"schedule {schedule.name} {iso_seconds(scheduled)}",
            )

        self.clock.call_at(due, fire, name=f"schedule {schedule.name}", daemon=True)

    def _invoke(
        self, schedule: Any, scheduled: datetime, expression: Any, start: datetime, generation: int
    ) -> None:
        assert self.targets is not None
        target = schedule.target
        policy = target.get("RetryPolicy") or {}
        max_attempts = int(policy.get("MaximumRetryAttempts", 185))
        max_age = int(policy.get("MaximumEventAgeInSeconds", 86400))
        execution_id = self.randomness.uuid4().replace("-", "")[:16]
        group = (target.get("SqsParameters") or {}).get("MessageGroupId")
        attempts = 0
        payload: Any = None
        outcome, code = "delivered", None
        while True:
            attempts += 1
            payload = _payload(target.get("Input"), schedule.arn, scheduled, execution_id, attempts)
            try:
                self.targets.deliver(target["Arn"], payload, message_group_id=group)
                break
            except DeliveryError as error:
                exhausted: str | None = None
                if error.retryable:
                    if attempts > max_attempts:
                        exhausted = "MaximumRetryAttempts"
                    else:
                        delay = backoff_seconds(self.randomness, attempts)
                        if (self.clock.now() + delay) - scheduled.timestamp() > max_age:
                            exhausted = "MaximumEventAgeInSeconds"
                        else:
                            self.clock.sleep(delay)
                            continue
                outcome, code = self._dead_letter(
                    schedule,
                    scheduled,
                    execution_id=execution_id,
                    payload=payload,
                    error=error,
                    attempts=attempts,
                    exhausted=exhausted,
                )
                break
        self.invocations.append(
            ScheduleInvocation(
                schedule_arn=schedule.arn,
                scheduled_time=scheduled,
                invoked_at=self.clock.now_datetime(),
                payload=payload,
                outcome=outcome,
                attempts=attempts,
                error_code=code,
            )
        )
        if self._generation.get((schedule.group_name, schedule.name)) != generation:
            return
        if isinstance(expression, OneTime):
            self._complete(schedule, generation)
        else:
            self._arm_after(schedule, scheduled, start, generation)

    def _dead_letter(
        self,
        schedule: Any,
        scheduled: datetime,
        *,
        execution_id: str,
        payload: Any,
        error: DeliveryError,
        attempts: int,
        exhausted: str | None,
    ) -> tuple[str, str]:
        queue_arn = (schedule.target.get("DeadLetterConfig") or {}).get("Arn")
        if queue_arn is None or self.send_to_dead_letter_queue is None:
            return "dropped", error.code
        attributes = scheduler_dead_letter_attributes(
            schedule_arn=schedule.arn,
            target_arn=schedule.target["Arn"],
            scheduled_time=scheduled,
            execution_id=execution_id,
            error_code=error.code,
            error_message=error.message,
            retry_attempts=attempts - 1,
            exhausted_condition=exhausted,
        )
        body = payload if isinstance(payload, str) else json.dumps(payload)
        self.send_to_dead_letter_queue(queue_arn, body, attributes)
        return "dead-lettered", error.code

    def _complete(self, schedule: Any, generation: int) -> None:
        """No invocation left: honour ActionAfterCompletion."""
        if self._generation.get((schedule.group_name, schedule.name)) != generation:
            return
        if schedule.action_after_completion == "DELETE":
            self._backend().delete_schedule(schedule.group_name, schedule.name)
            self.deleted.append(schedule.arn)


def _payload(
    input_text: str | None, schedule_arn: str, scheduled: datetime, execution_id: str, attempt: int
) -> Any:
    if input_text is None:
        return {}
    for keyword, value in (
        ("<aws.scheduler.schedule-arn>", schedule_arn),
        ("<aws.scheduler.scheduled-time>", iso_seconds(scheduled)),
        ("<aws.scheduler.execution-id>", execution_id),
        ("<aws.scheduler.attempt-number>", str(attempt)),
    ):
        input_text = input_text.replace(keyword, value)
    try:
        return json.loads(input_text)
    except json.JSONDecodeError:
        return input_text


def _as_datetime(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(float(value), UTC)
    text = str(value)
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except ValueError:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
