"""Idle timers: one-shot EventBridge Scheduler schedules, one per scaler, that wake `decide`.

A timer is armed at the core's `wake_at` (the end of a cooldown) and deleted by Scheduler after
it fires (`ActionAfterCompletion: DELETE`). Arming is idempotent: the schedule's name is derived
from the scaler, so arming again updates the one schedule rather than adding another. Scheduler is
precise to the minute (EventBridge Scheduler User Guide, "Schedule types": one-time schedules), so
a timer only wakes the decision; the core's cooldown rule decides.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from ebb.adapters.aws_clients import LazyClient
from ebb.adapters.aws_errors import error_code, translate_aws_error
from ebb.adapters.call_counts import CallCounts

if TYPE_CHECKING:
    from mypy_boto3_scheduler import EventBridgeSchedulerClient

MAX_NAME = 64


def timer_name(prefix: str, scaler: str) -> str:
    """`<prefix>-idle-<hash>`: stable per scaler, within Scheduler's 64 characters."""
    digest = hashlib.sha256(scaler.encode()).hexdigest()[:16]
    return f"{prefix[: MAX_NAME - 22]}-idle-{digest}"


class IdleTimers(Protocol):
    """What the decide service arms and disarms idle timers through."""

    def arm(self, scaler: str, node_pool: str, at: datetime) -> None:
        """Have the timer of `scaler` fire at `at` (the minute it falls in)."""

    def disarm(self, scaler: str) -> None:
        """Delete the timer of `scaler`, if any."""


class SchedulerIdleTimers:
    """`IdleTimers` over EventBridge Scheduler; the target is the signals function."""

    def __init__(
        self,
        *,
        prefix: str,
        group_name: str,
        target_arn: str,
        role_arn: str,
        region_name: str | None = None,
        calls: CallCounts | None = None,
        client_factory: Callable[[], EventBridgeSchedulerClient] | None = None,
    ) -> None:
        self._prefix = prefix
        self._group = group_name
        self._target_arn = target_arn
        self._role_arn = role_arn
        self._client: LazyClient[EventBridgeSchedulerClient] = LazyClient(
            "scheduler", region_name, client_factory
        )
        self.calls = calls or CallCounts()

    def arm(self, scaler: str, node_pool: str, at: datetime) -> None:
        # at() takes a minute-precise local time without zone; round up so it never fires early.
        moment = at.astimezone(UTC)
        if moment.second or moment.microsecond:
            moment = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        name = timer_name(self._prefix, scaler)
        request = {
            "Name": name,
            "GroupName": self._group,
            "ScheduleExpression": f"at({moment.strftime('%Y-%m-%dT%H:%M:%S')})",
            "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "ActionAfterCompletion": "DELETE",
            "Target": {
                "Arn": self._target_arn,
                "RoleArn": self._role_arn,
                "Input": json.dumps({"ebb": "idle-timer", "scaler": scaler, "nodePool": node_pool}),
                "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600},
            },
        }
        client = self._client()
        try:
            self.calls.count("scheduler:CreateSchedule")
            client.create_schedule(**request)  # type: ignore[arg-type]
        except ClientError as error:
            if error_code(error) != "ConflictException":
                raise translate_aws_error(error, operation="CreateSchedule") from error
            try:
                self.calls.count("scheduler:UpdateSchedule")
                client.update_schedule(**request)  # type: ignore[arg-type]
            except (ClientError, BotoCoreError) as retry_error:
                raise translate_aws_error(retry_error, operation="UpdateSchedule") from retry_error
        except BotoCoreError as error:
            raise translate_aws_error(error, operation="CreateSchedule") from error

    def disarm(self, scaler: str) -> None:
        try:
            self.calls.count("scheduler:DeleteSchedule")
            self._client().delete_schedule(Name=timer_name(self._prefix, scaler), GroupName=self._group)
        except ClientError as error:
            if error_code(error) != "ResourceNotFoundException":
                raise translate_aws_error(error, operation="DeleteSchedule") from error
        except BotoCoreError as error:
            raise translate_aws_error(error, operation="DeleteSchedule") from error
