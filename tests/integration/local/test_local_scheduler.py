"""EventBridge Scheduler in the local world: schedules fire on the simulated clock.

Facts and sources (EventBridge Scheduler User Guide): "All schedule types on EventBridge Scheduler
invoke their targets with 60 second precision. This means that if you set your schedule to run at
1:00, it will invoke the target API between 1:00:00 and 1:00:59" ("Schedule types on EventBridge
Scheduler"); a rate() schedule runs every interval from
its start; an at() schedule runs once, and with ActionAfterCompletion DELETE the schedule is
deleted after its last invocation (CreateSchedule API reference, ActionAfterCompletion); a
FLEXIBLE window invokes the target within MaximumWindowInMinutes after the scheduled time
("Configuring flexible time windows"); <aws.scheduler.scheduled-time> in the input is replaced by
the scheduled time ("Adding context attributes"); failed invocations go to the schedule's DLQ with
the documented attributes ("Configuring a dead-letter queue"). AWS does not document an at() in
the past; the local world refuses it, as DefangLabs/pulumi-defang reports AWS does (pull request
425, cd/program/selfdestruct_aws.go: "AWS rejects a fire time in the past at create").
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from ebb.local.world import LocalWorld, LocalWorldConfig, start_local_world

from .world_testkit import TEMPLATE

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::123456789012:role/ebb-local-execution-role"


def recorder_events(world: LocalWorld) -> list[object]:
    return [
        i.event
        for i in world.lambda_runtime.invocations
        if i.function_name == world.function_name("Recorder")
    ]


def test_the_template_schedule_fires_every_interval_with_its_input(world: LocalWorld) -> None:
    world.run_for(46 * 60)
    ticks = [event for event in recorder_events(world) if isinstance(event, dict) and "tick" in event]
    start = world.config.start_time
    assert ticks == [
        {"tick": (start + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")}
        for minutes in (15, 30, 45)
    ]


def test_a_one_time_schedule_fires_once_and_deletes_itself(world: LocalWorld) -> None:
    scheduler = world.clients.client("scheduler")
    fire_at = world.now() + timedelta(minutes=20)
    scheduler.create_schedule(
        Name="idle-timer",
        ScheduleExpression=f"at({fire_at.strftime('%Y-%m-%dT%H:%M:%S')})",
        FlexibleTimeWindow={"Mode": "OFF"},
        ActionAfterCompletion="DELETE",
        Target={"Arn": world.stack.functions["Recorder"].arn, "RoleArn": ROLE, "Input": '{"idle": "pool-a"}'},
    )
    world.run_for(19 * 60)
    assert {"idle": "pool-a"} not in recorder_events(world)
    scheduler.get_schedule(Name="idle-timer")  # still there

    world.run_for(2 * 60)
    world.run_until_quiet()
    (invocation,) = [i for i in world.lambda_runtime.invocations if i.event == {"idle": "pool-a"}]
    assert fire_at <= invocation.started_at < fire_at + timedelta(minutes=1)
    with pytest.raises(ClientError) as gone:
        scheduler.get_schedule(Name="idle-timer")
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"
    world.run_for(3600)
    assert len([i for i in world.lambda_runtime.invocations if i.event == {"idle": "pool-a"}]) == 1


def test_updating_a_schedule_rearms_it_and_deleting_it_disarms_it(world: LocalWorld) -> None:
    scheduler = world.clients.client("scheduler")
    target = {"Arn": world.stack.functions["Recorder"].arn, "RoleArn": ROLE, "Input": '{"moved": true}'}
    first = world.now() + timedelta(minutes=10)
    scheduler.create_schedule(
        Name="moving",
        ScheduleExpression=f"at({first:%Y-%m-%dT%H:%M:%S})",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target=target,
    )
    later = world.now() + timedelta(minutes=30)
    scheduler.update_schedule(
        Name="moving",
        ScheduleExpression=f"at({later:%Y-%m-%dT%H:%M:%S})",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target=target,
    )
    scheduler.create_schedule(
        Name="cancelled",
        ScheduleExpression=f"at({first:%Y-%m-%dT%H:%M:%S})",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={**target, "Input": '{"cancelled": true}'},
    )
    scheduler.delete_schedule(Name="cancelled")
    world.run_for(3600)

    (moved,) = [i.started_at for i in world.lambda_runtime.invocations if i.event == {"moved": True}]
    minute = later.replace(second=0, microsecond=0)
    assert minute <= moved < minute + timedelta(minutes=1)
    assert not any(i.event == {"cancelled": True} for i in world.lambda_runtime.invocations)


def one_time_firings(seed: int, expression: str, *, count: int, created_after: float = 0.0) -> list[datetime]:
    """When `count` at() schedules, created `created_after` seconds in, fired (in creation order)."""
    with start_local_world(TEMPLATE, LocalWorldConfig(seed=seed)) as world:
        world.run_for(created_after)
        for index in range(count):
            world.clients.client("scheduler").create_schedule(
                Name=f"one-time-{index}",
                ScheduleExpression=expression,
                FlexibleTimeWindow={"Mode": "OFF"},
                Target={
                    "Arn": world.stack.functions["Recorder"].arn,
                    "RoleArn": ROLE,
                    "Input": f'{{"once": {index}}}',
                },
            )
        world.run_for(3600)
        fired = {
            i.event["once"]: i.started_at
            for i in world.lambda_runtime.invocations
            if isinstance(i.event, dict) and "once" in i.event
        }
        return [fired[index] for index in range(count)]


def test_a_one_time_schedule_fires_at_a_seeded_moment_of_its_minute_even_before_its_seconds() -> None:
    # at(00:10:30): between 00:10:00 and 00:10:59, so possibly before 00:10:30 (60 s precision).
    minute = datetime(2025, 1, 6, 0, 10, tzinfo=UTC)
    moments = one_time_firings(1, "at(2025-01-06T00:10:30)", count=6)
    assert one_time_firings(1, "at(2025-01-06T00:10:30)", count=6) == moments
    assert all(minute <= moment < minute + timedelta(minutes=1) for moment in moments)
    assert len(set(moments)) == 6
    assert any(moment < minute + timedelta(seconds=30) for moment in moments)


def test_a_one_time_schedule_due_later_in_the_current_minute_fires_in_what_is_left_of_it() -> None:
    created = datetime(2025, 1, 6, 0, 0, 40, tzinfo=UTC)
    moments = one_time_firings(2, "at(2025-01-06T00:00:50)", count=4, created_after=40)
    assert all(created <= moment < datetime(2025, 1, 6, 0, 1, tzinfo=UTC) for moment in moments)


def test_an_at_schedule_in_the_past_is_refused_on_create_and_on_update(world: LocalWorld) -> None:
    scheduler = world.clients.client("scheduler")
    target = {"Arn": world.stack.functions["Recorder"].arn, "RoleArn": ROLE, "Input": "{}"}
    world.run_for(120)
    with pytest.raises(
        ClientError, match=r"Invalid Schedule Expression at\(2025-01-06T00:01:59\): the time is in the past"
    ) as refused:
        scheduler.create_schedule(
            Name="too-late",
            ScheduleExpression="at(2025-01-06T00:01:59)",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target=target,
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError):
        scheduler.get_schedule(Name="too-late")

    scheduler.create_schedule(
        Name="on-time",
        ScheduleExpression="at(2025-01-06T00:30:00)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target=target,
    )
    with pytest.raises(ClientError, match="the time is in the past"):
        scheduler.update_schedule(
            Name="on-time",
            ScheduleExpression="at(2025-01-06T00:00:00)",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target=target,
        )
    assert scheduler.get_schedule(Name="on-time")["ScheduleExpression"] == "at(2025-01-06T00:30:00)"


def flexible_firing_time(seed: int) -> datetime:
    with start_local_world(TEMPLATE, LocalWorldConfig(seed=seed)) as world:
        world.clients.client("scheduler").create_schedule(
            Name="flexible",
            ScheduleExpression="at(2025-01-06T01:00:00)",
            FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15},
            Target={
                "Arn": world.stack.functions["Recorder"].arn,
                "RoleArn": ROLE,
                "Input": '{"flexible": true}',
            },
        )
        world.run_for(2 * 3600)
        (invocation,) = [i for i in world.lambda_runtime.invocations if i.event == {"flexible": True}]
        return invocation.started_at


def test_a_flexible_window_delays_the_invocation_by_a_seeded_amount_within_the_window() -> None:
    scheduled = datetime(2025, 1, 6, 1, 0, tzinfo=UTC)
    moments = [flexible_firing_time(seed) for seed in (1, 1, 2)]
    assert moments[0] == moments[1]
    assert moments[0] != moments[2]
    assert all(scheduled <= moment <= scheduled + timedelta(minutes=15) for moment in moments)


def test_a_schedule_whose_target_is_gone_dead_letters_with_the_scheduler_attributes(
    world: LocalWorld,
) -> None:
    scheduler = world.clients.client("scheduler")
    machine = world.state_machine_arn("Ephemeral")
    world.clients.client("stepfunctions").delete_state_machine(stateMachineArn=machine)
    dead_letters = world.stack.queues["OrphanDeadLetters"]
    fire_at = world.now() + timedelta(minutes=5)
    schedule_arn = scheduler.create_schedule(
        Name="to-nowhere",
        ScheduleExpression=f"at({fire_at:%Y-%m-%dT%H:%M:%S})",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": machine,
            "RoleArn": ROLE,
            "Input": "{}",
            "DeadLetterConfig": {"Arn": dead_letters.arn},
        },
    )["ScheduleArn"]
    world.run_for(10 * 60)

    (dead,) = world.receive_all("OrphanDeadLetters")
    attributes = {name: value["StringValue"] for name, value in dead["MessageAttributes"].items()}
    assert attributes["SCHEDULE_ARN"] == schedule_arn
    assert attributes["TARGET_ARN"] == machine
    assert attributes["ERROR_CODE"] == "RESOURCE_NOT_FOUND"
    assert attributes["SCHEDULED_TIME"] == fire_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert attributes["RETRY_ATTEMPTS"] == "0"
    assert json.loads(dead["Body"]) == {}
