"""EventBridge Scheduler in the local world: schedules fire on the simulated clock.

Facts and sources (EventBridge Scheduler User Guide): a rate() schedule runs every interval from
its start; an at() schedule runs once, and with ActionAfterCompletion DELETE the schedule is
deleted after its last invocation (CreateSchedule API reference, ActionAfterCompletion); a
FLEXIBLE window invokes the target within MaximumWindowInMinutes after the scheduled time
("Configuring flexible time windows"); <aws.scheduler.scheduled-time> in the input is replaced by
the scheduled time ("Adding context attributes"); failed invocations go to the schedule's DLQ with
the documented attributes ("Configuring a dead-letter queue").
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
    invocations = [i for i in world.lambda_runtime.invocations if i.event == {"idle": "pool-a"}]
    assert [i.started_at for i in invocations] == [fire_at]
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

    assert [i.started_at for i in world.lambda_runtime.invocations if i.event == {"moved": True}] == [later]
    assert not any(i.event == {"cancelled": True} for i in world.lambda_runtime.invocations)


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
