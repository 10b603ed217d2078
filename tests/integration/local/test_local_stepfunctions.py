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
- `.waitForTaskToken` tasks (Step Functions Developer Guide, "Wait for a Callback with Task Token";
  API Reference, SendTaskSuccess / SendTaskFailure / SendTaskHeartbeat): an expired heartbeat is
  matched by `States.HeartbeatTimeout` and `States.Timeout`, not `States.TaskFailed`, and recorded
  as `States.Timeout` (sources at each test); a closed token is `TaskTimedOut`, an unknown one
  `InvalidToken`, output that is not JSON `InvalidOutput` (botocore's service model documents each).
- JSONPath workflow variables ("Passing data between states with variables"), checked against
  histories localstack recorded against AWS (cited at the test).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ebb.local.world import LocalWorld, LocalWorldConfig, start_local_world

from .world_testkit import TEMPLATE, items_of

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


# -- .waitForTaskToken tasks: tokens, heartbeats and timeouts on the clock ---------------------

ROLE = "arn:aws:iam::123456789012:role/ebb-local-execution-role"


def _token_task(world: LocalWorld, **fields: Any) -> dict[str, Any]:
    """A Lambda callback task whose handler (the Recorder) stores the token with the execution."""
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {
            "FunctionName": world.stack.functions["Recorder"].arn,
            "Payload": {"token.$": "$$.Task.Token", "execution.$": "$$.Execution.Name"},
        },
        **fields,
    }


def _start(world: LocalWorld, definition: dict[str, Any], name: str, execution_input: Any = None) -> str:
    sfn = world.clients.client("stepfunctions")
    machine = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)
    return str(
        sfn.start_execution(
            stateMachineArn=machine["stateMachineArn"],
            name=f"{name}-1",
            input=json.dumps(execution_input or {}),
        )["executionArn"]
    )


def _tokens(world: LocalWorld, execution_name: str) -> list[str]:
    """The tokens the Recorder was handed for an execution, oldest first."""
    events = [json.loads(item["event"]) for item in items_of(world, "Recorder")]
    return [event["token"] for event in events if event.get("execution") == execution_name]


def _answer(world: LocalWorld, token: str, action: str, **details: Any) -> dict[str, Any]:
    """Have the TaskCompleter handler call SendTask<action> with the token, now."""
    result = world.invoke("TaskCompleter", {"token": token, "action": action, **details})
    assert result.succeeded, result.payload
    return result.payload  # type: ignore[no-any-return]


def _events(world: LocalWorld, execution: str) -> list[tuple[float, str, dict[str, Any]]]:
    """(seconds since the execution started, type, details) of each history event."""
    history = world.execution_history(execution)
    start = history[0]["timestamp"]
    return [
        (
            (event["timestamp"] - start).total_seconds(),
            event["type"],
            next((value for key, value in event.items() if key.endswith("EventDetails")), {}),
        )
        for event in history
    ]


def _entered(events: list[tuple[float, str, dict[str, Any]]]) -> list[str]:
    return [details["name"] for _, kind, details in events if kind.endswith("StateEntered")]


HEARTBEAT_CATCHERS = [
    {"ErrorEquals": ["States.HeartbeatTimeout"], "ResultPath": "$.error", "Next": "WorkerLost"},
    {"ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": "TimedOut"},
]


def _heartbeat_machine(world: LocalWorld, catchers: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "StartAt": "Await",
        "States": {
            "Await": _token_task(world, HeartbeatSeconds=60, TimeoutSeconds=1000, Catch=catchers, End=True),
            "WorkerLost": {"Type": "Pass", "End": True},
            "TimedOut": {"Type": "Pass", "End": True},
        },
    }


def test_an_expired_heartbeat_is_caught_by_states_heartbeat_timeout(world: LocalWorld) -> None:
    """AWS: a catcher on States.HeartbeatTimeout matches an expired heartbeat, and the history's
    TaskTimedOut (with resource and resourceType) and the error output name it States.Timeout
    (Step Functions Developer Guide, "Handling errors in Step Functions workflows", error names;
    localstack/localstack tests/aws/services/stepfunctions/v2/timeouts/test_heartbeats.snapshot.json,
    TestHeartbeats::test_heartbeat_timeout, recorded against AWS, commit 0d47683).
    SendTaskHeartbeat resets the heartbeat clock (Step Functions API Reference, SendTaskHeartbeat)."""
    execution = _start(world, _heartbeat_machine(world, HEARTBEAT_CATCHERS), "heartbeats")
    world.run_for(40)
    (token,) = _tokens(world, "heartbeats-1")
    assert _answer(world, token, "heartbeat") == {"accepted": "heartbeat"}
    world.run_for(50)
    assert _answer(world, token, "heartbeat") == {"accepted": "heartbeat"}
    world.run_until_quiet()

    events = _events(world, execution)
    timed_out = [(at, details) for at, kind, details in events if kind == "TaskTimedOut"]
    # The last heartbeat came at 90 s: the task fails 60 s later, not at its TimeoutSeconds.
    assert timed_out == [
        (150.0, {"error": "States.Timeout", "resource": "invoke.waitForTaskToken", "resourceType": "lambda"})
    ]
    assert _entered(events) == ["Await", "WorkerLost"]
    assert json.loads(events[-1][2]["output"])["error"] == {"Error": "States.Timeout", "Cause": ""}
    assert _answer(world, token, "success", output={"late": True})["refused"] == "TaskTimedOut"


@pytest.mark.parametrize(
    ("catchers", "heartbeat_every", "entered", "execution_error"),
    [
        # TimeoutSeconds passes while heartbeats keep coming: a timeout, not a heartbeat timeout.
        (HEARTBEAT_CATCHERS, 50, ["Await", "TimedOut"], None),
        # States.Timeout also names an expired heartbeat (same guide: a Task state "failed to send a
        # heartbeat for a period longer than the HeartbeatSeconds value").
        (HEARTBEAT_CATCHERS[1:], None, ["Await", "TimedOut"], None),
        # States.TaskFailed matches every error except States.Timeout (same guide).
        ([{"ErrorEquals": ["States.TaskFailed"], "Next": "WorkerLost"}], None, ["Await"], "States.Timeout"),
    ],
    ids=["timeout-with-heartbeats", "states-timeout-catches-heartbeat", "task-failed-does-not"],
)
def test_which_catcher_matches_a_timeout_and_an_expired_heartbeat(
    world: LocalWorld,
    catchers: list[dict[str, Any]],
    heartbeat_every: int | None,
    entered: list[str],
    execution_error: str | None,
) -> None:
    machine = _heartbeat_machine(world, catchers)
    machine["States"]["Await"]["TimeoutSeconds"] = 120
    execution = _start(world, machine, "catchers")
    if heartbeat_every is not None:
        for _ in range(3):
            world.run_for(heartbeat_every)
            (token,) = _tokens(world, "catchers-1")
            _answer(world, token, "heartbeat")
    world.run_until_quiet()

    events = _events(world, execution)
    assert [at for at, kind, _ in events if kind == "TaskTimedOut"] == [120.0 if heartbeat_every else 60.0]
    assert _entered(events) == entered
    described = world.clients.client("stepfunctions").describe_execution(executionArn=execution)
    assert described.get("error") == execution_error


def test_a_retried_callback_task_gets_a_new_token_and_waits_its_whole_timeout(world: LocalWorld) -> None:
    """Each attempt is a new task: the timed-out attempt's token is closed (TaskTimedOut, "the task
    token has either expired or the task associated with the token has already been closed":
    Step Functions API Reference, SendTaskSuccess errors), the retry waits its own TimeoutSeconds."""
    machine = {
        "StartAt": "Await",
        "States": {
            "Await": _token_task(
                world,
                TimeoutSeconds=100,
                Retry=[{"ErrorEquals": ["States.Timeout"], "IntervalSeconds": 10, "MaxAttempts": 1}],
                End=True,
            )
        },
    }
    execution = _start(world, machine, "retried")
    world.run_for(150)
    first, second = _tokens(world, "retried-1")
    assert first != second
    assert _answer(world, first, "success")["refused"] == "TaskTimedOut"
    assert _answer(world, second, "success", output={"node": "i-2"}) == {"accepted": "success"}
    world.run_until_quiet()

    events = _events(world, execution)
    assert [
        (at, kind) for at, kind, _ in events if kind.startswith("Task") and kind != "TaskStateEntered"
    ] == [
        (0.0, "TaskScheduled"),
        (0.0, "TaskStarted"),
        (0.0, "TaskSubmitted"),
        (100.0, "TaskTimedOut"),
        (110.0, "TaskScheduled"),
        (110.0, "TaskStarted"),
        (110.0, "TaskSubmitted"),
        (150.0, "TaskSucceeded"),
        (150.0, "TaskStateExited"),
    ]
    assert json.loads(events[-1][2]["output"]) == {"node": "i-2"}


def test_a_token_completed_before_its_timeout_ends_the_wait_and_is_closed_after(world: LocalWorld) -> None:
    """SendTaskSuccess before TimeoutSeconds: the task succeeds at that moment with the output;
    the token is then closed (TaskTimedOut); a token never issued is InvalidToken and output that is
    not JSON is InvalidOutput (Step Functions API Reference, SendTaskSuccess errors)."""
    sfn = world.clients.client("stepfunctions")
    execution = sfn.start_execution(
        stateMachineArn=world.state_machine_arn("Callbacks"), name="early", input='{"request": "r-1"}'
    )["executionArn"]
    world.run_for(100)
    (token,) = _tokens(world, "early")
    assert _answer(world, token, "success", raw_output="{not json")["refused"] == "InvalidOutput"
    assert _answer(world, "no-such-token", "success")["refused"] == "InvalidToken"
    assert _answer(world, token, "success", output={"node": "i-1"}) == {"accepted": "success"}
    assert _answer(world, token, "success", output={"node": "i-1"})["refused"] == "TaskTimedOut"
    assert _answer(world, token, "heartbeat")["refused"] == "TaskTimedOut"
    world.run_until_quiet()

    events = _events(world, execution)
    assert [at for at, kind, _ in events if kind == "TaskSucceeded"] == [100.0]
    described = sfn.describe_execution(executionArn=execution)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"request": "r-1", "polls": 0, "event": {"node": "i-1"}}


def test_the_timeout_is_a_fallback_poll_and_a_late_token_is_refused(world: LocalWorld) -> None:
    """The provisioning pattern: each TimeoutSeconds is caught (States.Timeout), counted, and the
    event awaited again with a new token; the token of a wait that timed out is closed."""
    sfn = world.clients.client("stepfunctions")
    execution = sfn.start_execution(
        stateMachineArn=world.state_machine_arn("Callbacks"), name="polling", input='{"request": "r-2"}'
    )["executionArn"]
    world.run_for(450)
    first, second = _tokens(world, "polling")
    assert _answer(world, first, "success", output={"node": "late"})["refused"] == "TaskTimedOut"
    assert _answer(world, second, "success", output={"node": "i-3"}) == {"accepted": "success"}
    world.run_until_quiet()

    events = _events(world, execution)
    assert [at for at, kind, _ in events if kind == "TaskTimedOut"] == [300.0]
    assert [at for at, kind, _ in events if kind == "TaskSucceeded"] == [450.0]
    assert _entered(events) == ["Start", "AwaitEvent", "Poll", "PolledEnough", "AwaitEvent", "Done"]
    assert json.loads(sfn.describe_execution(executionArn=execution)["output"]) == {
        "request": "r-2",
        "polls": 1,
        "event": {"node": "i-3"},
    }


def test_waiting_without_an_event_polls_three_times_then_gives_up(world: LocalWorld) -> None:
    sfn = world.clients.client("stepfunctions")
    execution = sfn.start_execution(
        stateMachineArn=world.state_machine_arn("Callbacks"), name="silent", input='{"request": "r-3"}'
    )["executionArn"]
    world.run_until_quiet()

    events = _events(world, execution)
    assert [at for at, kind, _ in events if kind == "TaskTimedOut"] == [300.0, 600.0, 900.0]
    assert len(set(_tokens(world, "silent"))) == 3
    assert events[-1][:2] == (900.0, "ExecutionFailed")
    assert events[-1][2] == {"error": "NoEvent", "cause": "no event after three polls"}


def test_a_failure_sent_with_the_token_is_caught_by_its_name_with_its_cause(world: LocalWorld) -> None:
    """SendTaskFailure's error and cause reach TaskFailed and the catcher's error output (Step
    Functions Developer Guide, "Wait for a Callback with Task Token")."""
    sfn = world.clients.client("stepfunctions")
    execution = sfn.start_execution(
        stateMachineArn=world.state_machine_arn("Callbacks"), name="failing", input='{"request": "r-4"}'
    )["executionArn"]
    world.run_for(30)
    (token,) = _tokens(world, "failing")
    answer = _answer(
        world, token, "failure", error="HyperPod.NodeFailed", cause="i-9 failed its health check"
    )
    assert answer == {"accepted": "failure"}
    world.run_until_quiet()

    failed = [(at, details) for at, kind, details in _events(world, execution) if kind == "TaskFailed"]
    assert failed == [
        (
            30.0,
            {
                "error": "HyperPod.NodeFailed",
                "cause": "i-9 failed its health check",
                "resource": "invoke.waitForTaskToken",
                "resourceType": "lambda",
            },
        )
    ]
    assert json.loads(sfn.describe_execution(executionArn=execution)["output"]) == {
        "request": "r-4",
        "cause": "i-9 failed its health check",
    }


# -- JSONPath workflow variables ----------------------------------------------------------------


def test_jsonpath_variables_are_assigned_and_read_across_states(world: LocalWorld) -> None:
    """Assign stores variables; later JSONPath states read them as `$name` (optionally with a path
    into the value) in Parameters, InputPath, Choice rules (Variable and ...Path), Wait's SecondsPath,
    intrinsic function arguments and a Map's ItemsPath and inner states (outer scope); the history's
    assignedVariables holds each value as JSON text. (Step Functions Developer Guide, "Passing data
    between states with variables"; localstack/localstack
    tests/aws/services/stepfunctions/v2/assign/test_assign_reference_variables.py,
    TestAssignReferenceVariables::test_reference_assign[BASE_REFERENCE_IN_PARAMETERS,
    BASE_REFERENCE_IN_CHOICE, BASE_REFERENCE_IN_WAIT, BASE_REFERENCE_IN_ITERATOR_OUTER_SCOPE,
    BASE_REFERENCE_IN_INPUTPATH, BASE_REFERENCE_IN_INTRINSIC_FUNCTION], recorded against AWS,
    snapshot commit e4000fb.)"""
    machine = {
        "StartAt": "Remember",
        "States": {
            "Remember": {
                "Type": "Pass",
                "Result": {"cluster": {"name": "inference", "groups": ["gpu-a", "gpu-b"]}},
                "Assign": {"cluster.$": "$.cluster", "delay": 45, "guess": "gpu-a", "prefix": "node"},
                "Next": "Settle",
            },
            "Settle": {"Type": "Wait", "SecondsPath": "$delay", "Next": "Check"},
            "Check": {
                "Type": "Choice",
                "Choices": [{"Variable": "$guess", "StringEqualsPath": "$cluster.groups[1]", "Next": "Each"}],
                "Default": "Guess",
            },
            "Guess": {"Type": "Pass", "Assign": {"guess.$": "$cluster.groups[1]"}, "Next": "Check"},
            "Each": {
                "Type": "Map",
                "ItemsPath": "$cluster.groups",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Name",
                    "States": {
                        "Name": {
                            "Type": "Pass",
                            "Parameters": {
                                "cluster.$": "$cluster.name",
                                "node.$": "States.Format('{}-{}', $prefix, $)",
                            },
                            "End": True,
                        }
                    },
                },
                "ResultPath": "$.nodes",
                "Next": "Report",
            },
            "Report": {
                "Type": "Pass",
                "InputPath": "$cluster",
                "Parameters": {"name.$": "$.name", "guess.$": "$guess", "first.$": "$cluster.groups[0]"},
                "End": True,
            },
        },
    }
    execution = _start(world, machine, "variables")
    world.run_until_quiet()

    described = world.clients.client("stepfunctions").describe_execution(executionArn=execution)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert json.loads(described["output"]) == {"name": "inference", "guess": "gpu-b", "first": "gpu-a"}
    events = _events(world, execution)
    assert _entered(events) == [
        "Remember",
        "Settle",
        "Check",
        "Guess",
        "Check",
        "Each",
        "Name",
        "Name",
        "Report",
    ]
    assigned = [details["assignedVariables"] for _, _, details in events if "assignedVariables" in details]
    assert assigned == [
        {
            "cluster": '{"name":"inference","groups":["gpu-a","gpu-b"]}',
            "delay": "45",
            "guess": '"gpu-a"',
            "prefix": '"node"',
        },
        {"guess": '"gpu-b"'},
    ]
    assert [at for at, kind, _ in events if kind == "WaitStateExited"] == [45.0]
    names = [json.loads(details["output"]) for _, kind, details in events if kind == "PassStateExited"]
    assert {"cluster": "inference", "node": "node-gpu-a"} in names
    assert {"cluster": "inference", "node": "node-gpu-b"} in names


# -- many executions waiting on tokens at once --------------------------------------------------

WAITERS = 40


@cache
def run_waiters(seed: int) -> tuple[dict[str, list[dict[str, Any]]], dict[str, tuple[str, float]]]:
    """WAITERS executions of the Callbacks machine waiting at once; each is answered once, at a
    seeded random moment within three polls, with the token current then (success or failure),
    and some also with the token of a wait that already timed out."""
    with start_local_world(TEMPLATE, LocalWorldConfig(seed=seed)) as world:
        sfn = world.clients.client("stepfunctions")
        machine = world.state_machine_arn("Callbacks")
        names = [f"node-{index:02d}" for index in range(WAITERS)]
        executions = {
            name: sfn.start_execution(
                stateMachineArn=machine, name=name, input=json.dumps({"request": name})
            )["executionArn"]
            for name in names
        }
        start = world.now()
        # Moments off the 300 s poll boundaries, so each answer is plainly before or after one.
        plan = sorted((world.random.randrange(1, 880) // 10 * 10 + 5, name) for name in names)
        answers: dict[str, tuple[str, float]] = {}
        for moment, name in plan:
            world.run_until(start + timedelta(seconds=moment))
            tokens = _tokens(world, name)
            assert len(tokens) == moment // 300 + 1
            if len(tokens) > 1:
                stale = _answer(world, tokens[0], "success", output={"stale": True})
                assert stale["refused"] == "TaskTimedOut"
            if world.random.random() < 0.5:
                assert _answer(world, tokens[-1], "success", output={"node": name}) == {"accepted": "success"}
                answers[name] = ("success", moment)
            else:
                failure = _answer(world, tokens[-1], "failure", error="HyperPod.NodeFailed", cause=name)
                assert failure == {"accepted": "failure"}
                answers[name] = ("failure", moment)
        assert world.run_until_quiet()
        histories = {name: world.execution_history(arn) for name, arn in executions.items()}
        return histories, answers


def test_many_executions_wait_on_tokens_at_once_and_each_ends_when_answered() -> None:
    histories, answers = run_waiters(seed=7)

    assert len(answers) == WAITERS
    for name, (action, moment) in answers.items():
        history = histories[name]
        start = history[0]["timestamp"]
        at = {event["type"]: (event["timestamp"] - start).total_seconds() for event in history}
        polls = int(moment // 300)
        assert [event["type"] for event in history].count("TaskTimedOut") == polls
        if action == "success":
            assert at["TaskSucceeded"] == moment
            assert json.loads(history[-1]["executionSucceededEventDetails"]["output"]) == {
                "request": name,
                "polls": polls,
                "event": {"node": name},
            }
        else:
            assert at["TaskFailed"] == moment
            assert json.loads(history[-1]["executionSucceededEventDetails"]["output"]) == {
                "request": name,
                "cause": name,
            }


def test_many_waiting_executions_are_deterministic_for_a_seed_tokens_included() -> None:
    histories, answers = run_waiters(seed=7)
    again, answers_again = run_waiters.__wrapped__(seed=7)

    assert answers == answers_again
    assert histories == again


def test_stopping_an_execution_that_waits_on_a_token_aborts_it_at_once(world: LocalWorld) -> None:
    """StopExecution ends the execution then (ExecutionAborted at the stop; Step Functions API
    Reference, StopExecution), not when the task's timeout (here the default) would pass; its
    token is closed."""
    machine = {"StartAt": "Await", "States": {"Await": _token_task(world, End=True)}}
    execution = _start(world, machine, "stopped-waiting")
    world.run_for(100)
    sfn = world.clients.client("stepfunctions")
    sfn.stop_execution(executionArn=execution, error="Superseded", cause="generation 2")
    assert world.run_until_quiet(max_seconds=3600)

    described = sfn.describe_execution(executionArn=execution)
    assert described["status"] == "ABORTED"
    assert described["stopDate"] - described["startDate"] == timedelta(seconds=100)
    events = _events(world, execution)
    assert [kind for _, kind, _ in events][-2:] == ["TaskSubmitted", "ExecutionAborted"]
    (token,) = _tokens(world, "stopped-waiting-1")
    assert _answer(world, token, "success")["refused"] == "TaskTimedOut"
