"""Step Functions in the local world: moto's interpreter on the simulated clock, real handlers.

Facts pinned here and their sources:
- Retry: the n-th retry waits IntervalSeconds * BackoffRate^(n-1), capped by MaxDelaySeconds;
  JitterStrategy FULL picks a random wait between 0 and that (Step Functions Developer Guide,
  "Handling errors in Step Functions workflows", Retrier fields).
- A Lambda task's error name is the function's `errorType` (same guide, "Handling Lambda errors";
  the Python runtime's errorType is the exception's class name).
- aws-sdk task errors are named `<Service>.<ErrorCode>`, with an `Exception` suffix added when
  missing (Step Functions Developer Guide, "AWS SDK service integrations").
- StartExecution: a name already used is refused (ExecutionAlreadyExists) unless the execution
  is running with the same input, which makes the call idempotent (Step Functions API Reference,
  StartExecution).
- A Lambda function that runs past its timeout reports errorType `Sandbox.Timedout` (Lambda
  Developer Guide, "Troubleshoot invocation issues in Lambda").
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ebb.local.world import LocalWorld, LocalWorldConfig, start_local_world

from .world_testkit import TEMPLATE

pytestmark = pytest.mark.integration

ITEMS = ["alpha", "beta", "gamma"]


@cache
def run_determinism(seed: int) -> tuple[list[dict[str, Any]], list[tuple[str, int, float, datetime]], str]:
    with start_local_world(TEMPLATE, LocalWorldConfig(seed=seed)) as world:
        sfn = world.clients.client("stepfunctions")
        execution = sfn.start_execution(
            stateMachineArn=world.state_machine_arn("Determinism"),
            name="run-1",
            input=json.dumps({"items": ITEMS}),
        )["executionArn"]
        assert world.run_until_quiet(max_seconds=86400)
        status = sfn.describe_execution(executionArn=execution)["status"]
        waits = [
            (wait.state_name, wait.retry_count, wait.interval_seconds, wait.started_at)
            for wait in world.retry_waits(execution)
        ]
        return world.execution_history(execution), waits, status


def test_the_same_seed_gives_the_same_history_and_another_seed_other_jitter() -> None:
    history, waits, status = run_determinism(seed=5)
    again, waits_again, _ = run_determinism.__wrapped__(seed=5)  # a second, uncached run
    other, other_waits, _ = run_determinism(seed=6)

    assert status == "SUCCEEDED"
    assert history == again
    assert waits == waits_again
    assert len(waits) == len(other_waits) == 2 * len(ITEMS)
    assert [wait[2] for wait in waits] != [wait[2] for wait in other_waits]
    assert sorted(event["type"] for event in history) == sorted(event["type"] for event in other)


def test_retries_wait_a_full_jitter_of_the_backoff_and_the_history_shows_the_waits() -> None:
    history, waits, _ = run_determinism(seed=5)

    # IntervalSeconds 20, BackoffRate 3, MaxDelaySeconds 120: caps 20 s then 60 s.
    failed = {e["timestamp"] for e in history if e["type"] == "LambdaFunctionFailed"}
    scheduled = {e["timestamp"] for e in history if e["type"] == "LambdaFunctionScheduled"}
    for state, retry_count, interval, started_at in waits:
        assert state == "CallFlaky"
        assert 0 <= interval <= min(120, 20 * 3**retry_count)
        # The history shows each wait: a failure, then the next attempt scheduled `interval` later
        # (histories keep milliseconds).
        assert _millis(started_at) in {_millis(moment) for moment in failed}
        assert _millis(started_at + timedelta(seconds=interval)) in {_millis(moment) for moment in scheduled}


def _millis(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def test_waits_and_parallel_branches_overlap_in_simulated_time() -> None:
    history, _, _ = run_determinism(seed=5)
    start = history[0]["timestamp"]

    def first(kind: str, **details: Any) -> datetime:
        for event in history:
            if event["type"] == kind and all(
                event.get(key, {}).get("name") == value for key, value in details.items()
            ):
                return event["timestamp"]  # type: ignore[no-any-return]
        raise AssertionError(f"no {kind} {details}")

    fan_in = first("ParallelStateEntered", stateEnteredEventDetails="Fan")
    assert fan_in - start == timedelta(seconds=1800)
    # The branches wait 60 s and 300 s side by side: the Parallel state ends after 300 s, not 360 s.
    assert first("ParallelStateExited", stateExitedEventDetails="Fan") - fan_in == timedelta(seconds=300)


def test_lambda_errors_are_named_by_their_error_type() -> None:
    history, _, _ = run_determinism(seed=5)
    errors = {
        e["lambdaFunctionFailedEventDetails"]["error"] for e in history if e["type"] == "LambdaFunctionFailed"
    }
    assert errors == {"TransientFailure"}


def test_a_reused_execution_name_is_refused_and_a_running_duplicate_is_idempotent(world: LocalWorld) -> None:
    sfn = world.clients.client("stepfunctions")
    machine = world.state_machine_arn("Determinism")
    first = sfn.start_execution(stateMachineArn=machine, name="gen-1", input='{"items": []}')["executionArn"]

    repeat = sfn.start_execution(stateMachineArn=machine, name="gen-1", input='{"items": []}')["executionArn"]
    assert repeat == first
    with pytest.raises(ClientError) as refused:
        sfn.start_execution(stateMachineArn=machine, name="gen-1", input='{"items": ["other"]}')
    assert refused.value.response["Error"]["Code"] == "ExecutionAlreadyExists"

    world.run_until_quiet()
    assert sfn.describe_execution(executionArn=first)["status"] == "SUCCEEDED"
    with pytest.raises(ClientError) as finished:
        sfn.start_execution(stateMachineArn=machine, name="gen-1", input='{"items": []}')
    assert finished.value.response["Error"]["Code"] == "ExecutionAlreadyExists"


def test_an_execution_started_without_a_name_gets_a_unique_one(world: LocalWorld) -> None:
    sfn = world.clients.client("stepfunctions")
    machine = world.state_machine_arn("Determinism")
    arns = {
        sfn.start_execution(stateMachineArn=machine, input='{"items": []}')["executionArn"] for _ in range(2)
    }
    assert len(arns) == 2
    assert not any(arn.endswith(":None") for arn in arns)


def test_stop_execution_interrupts_a_wait_at_the_simulated_time_of_the_stop(world: LocalWorld) -> None:
    sfn = world.clients.client("stepfunctions")
    execution = sfn.start_execution(
        stateMachineArn=world.state_machine_arn("Determinism"), name="stopped", input='{"items": []}'
    )["executionArn"]
    world.run_for(600)
    sfn.stop_execution(executionArn=execution, error="Superseded", cause="generation 2")
    world.run_until_quiet()

    described = sfn.describe_execution(executionArn=execution)
    assert described["status"] == "ABORTED"
    assert described["stopDate"] - described["startDate"] == timedelta(seconds=600)
    assert "ParallelStateEntered" not in [event["type"] for event in world.execution_history(execution)]


def test_a_lambda_task_that_times_out_fails_with_sandbox_timedout(world: LocalWorld) -> None:
    sfn = world.clients.client("stepfunctions")
    sleeper = world.stack.functions["Sleeper"].arn
    definition = {"StartAt": "Nap", "States": {"Nap": {"Type": "Task", "Resource": sleeper, "End": True}}}
    machine = sfn.create_state_machine(
        name="napper",
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/ebb-local-execution-role",
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, name="nap", input='{"seconds": 60}')[
        "executionArn"
    ]
    world.run_until_quiet()

    described = sfn.describe_execution(executionArn=execution)
    assert described["status"] == "FAILED"
    assert described["error"] == "Sandbox.Timedout"
    # The 5 s timeout runs from the end of the cold environment's Init phase; the execution also
    # spends the Invoke call's own latency (moto dates it in whole milliseconds).
    (nap,) = world.lambda_runtime.invocations
    assert (nap.ended_at - nap.started_at).total_seconds() == pytest.approx(5 + nap.init_seconds)
    elapsed = (described["stopDate"] - described["startDate"]).total_seconds()
    assert 5 + nap.init_seconds - 0.001 <= elapsed < 5 + nap.init_seconds + 0.1


def test_aws_sdk_task_errors_are_named_as_step_functions_names_them(world: LocalWorld) -> None:
    sagemaker = world.clients.client("sagemaker")
    with pytest.raises(ClientError) as direct:
        sagemaker.describe_cluster(ClusterName="no-such-cluster")
    code = direct.value.response["Error"]["Code"]

    sfn = world.clients.client("stepfunctions")
    definition = {
        "StartAt": "Describe",
        "States": {
            "Describe": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:sagemaker:describeCluster",
                "Parameters": {"ClusterName": "no-such-cluster"},
                "End": True,
            }
        },
    }
    machine = sfn.create_state_machine(
        name="describer",
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/ebb-local-execution-role",
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, name="describe")["executionArn"]
    world.run_until_quiet()

    error = sfn.describe_execution(executionArn=execution)["error"]
    assert error == f"SageMaker.{code.removesuffix('Exception')}Exception"
