"""Determinism first: one seed, one timeline, event for event, across every part of the world."""

from __future__ import annotations

import json

import pytest

from ebb.local.world import LocalWorldConfig, start_local_world

from .world_testkit import TEMPLATE

pytestmark = pytest.mark.integration


def busy_day(seed: int) -> list[tuple[str, str, str]]:
    """Three simulated hours of alarms, events, schedules, queues and executions."""
    with start_local_world(TEMPLATE, LocalWorldConfig(seed=seed)) as world:
        sqs = world.clients.client("sqs")
        sfn = world.clients.client("stepfunctions")
        for hour in range(3):
            for minute in range(0, 60, 10):
                world.put_metric(
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    float((hour * 7 + minute) % 25),
                    {"QueueName": world.stack.queues["Jobs"].name},
                )
                sqs.send_message(
                    QueueUrl=world.queue_url("Jobs"),
                    MessageBody=f"job-{hour}-{minute}",
                    MessageGroupId=f"g{minute % 3}",
                )
                world.emit_event(
                    source="ebb.test", detail_type="Thing Happened", detail={"kind": "wanted", "size": minute}
                )
                world.run_for(600)
            world.invoke_async("Failer", {"hour": hour})
            sfn.start_execution(
                stateMachineArn=world.state_machine_arn("Determinism"),
                name=f"hour-{hour}",
                input=json.dumps({"items": [hour]}),
            )
        world.run_until_quiet()
        return world.timeline()


def test_the_same_seed_gives_the_same_timeline_and_another_seed_another() -> None:
    first = busy_day(seed=21)
    second = busy_day(seed=21)
    other = busy_day(seed=22)

    assert first == second
    assert first != other
    kinds = {kind for _, kind, _ in first}
    assert kinds >= {"lambda", "lambda-result", "eventbridge", "alarm", "schedule", "sqs-batch", "retry-wait"}


def _tokens(seed: int) -> list[str]:
    import secrets

    with start_local_world(TEMPLATE, LocalWorldConfig(seed=seed)):
        return [secrets.token_hex(4), secrets.token_hex(8), secrets.token_hex()]


def test_tokens_drawn_with_secrets_inside_the_world_follow_the_seed() -> None:
    # ebb draws the state table's epoch and decide's claim token with `secrets.token_hex`, which
    # is os.urandom: unseeded, two runs of one seed would name their executions differently.
    first, second, other = _tokens(21), _tokens(21), _tokens(22)

    assert first == second
    assert first != other
    assert [len(token) for token in first] == [8, 16, 64]
