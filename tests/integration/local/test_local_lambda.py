"""The in-process Lambda runtime: real handlers, their environment and context, on the clock.

Facts pinned here and their sources (Lambda Developer Guide):
- "How Lambda handles errors and retries with asynchronous invocation": a failing asynchronous
  invocation is run two more times, one minute after the first attempt and two minutes after the
  second; function errors include timeouts.
- "Adding a dead-letter queue": the event goes to the DLQ as the message body, with the message
  attributes RequestID, ErrorCode and ErrorMessage.
- "Capturing records of Lambda asynchronous invocations": the on-failure destination gets an
  invocation record (requestContext.condition RetriesExhausted, approximateInvokeCount,
  responseContext.functionError, requestPayload, responsePayload).
- "Troubleshoot invocation issues in Lambda": a timeout reports errorType Sandbox.Timedout.
- "Using the Lambda context object": get_remaining_time_in_millis counts down from the timeout.
- "Understanding the Lambda execution environment lifecycle": the Init phase of a new execution
  environment runs before the handler and is not part of the function's timeout.

Time costs something here (the world's default latency model): each invocation records its Init
phase (on a cold start) and its compute charge, and the assertions count them in.
"""

from __future__ import annotations

import itertools
import json
import os
from datetime import datetime, timedelta

import pytest

from ebb.local.world import LocalWorld

from .world_testkit import fixture_json, items_of, missing_from

pytestmark = pytest.mark.integration


def test_a_handler_sees_the_simulated_time_its_environment_and_its_context(world: LocalWorld) -> None:
    world.run_for(90)
    result = world.invoke("Recorder", {"hello": "world"})

    assert result.succeeded
    # The handler ran after its environment's Init phase, if the environment was cold.
    record = world.lambda_runtime.invocations[-1]
    handler_started = record.started_at + timedelta(seconds=record.init_seconds)
    assert result.payload["seen_at"] == handler_started.isoformat()
    assert result.payload["stage"] == "test"
    # (The Recorder also hears the alarms of the template; pick this invocation's item.)
    (item,) = [
        item for item in items_of(world, "Recorder") if json.loads(item["event"]) == {"hello": "world"}
    ]
    assert item["seen_at"] == handler_started.isoformat()
    assert item["remaining_ms"] == "30000"  # the Globals timeout, nothing spent yet
    # The call to DynamoDB and the handler's compute took simulated time after that.
    assert world.now() > handler_started
    # The function's environment is the function's only: nothing leaks into the process.
    assert "STAGE" not in os.environ


def test_the_timeout_is_enforced_on_the_clock(world: LocalWorld) -> None:
    start = world.now()
    quick = world.invoke("Sleeper", {"seconds": 2})
    assert quick.succeeded
    assert quick.payload == {"slept": 2, "remaining_ms": 3000}
    cold = world.lambda_runtime.invocations[-1]
    assert cold.init_seconds > 0  # the first invocation of Sleeper starts an environment
    assert world.now() - start == timedelta(seconds=cold.init_seconds + 2 + cold.compute_seconds)

    slow = world.invoke("Sleeper", {"seconds": 60})
    assert slow.timed_out
    assert slow.function_error == "Unhandled"
    assert slow.payload["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 5.00 seconds" in slow.payload["errorMessage"]
    warm = world.lambda_runtime.invocations[-1]
    assert (warm.environment, warm.init_seconds) == (cold.environment, 0.0)
    assert warm.ended_at - warm.started_at == timedelta(seconds=5)


def test_an_async_invocation_that_keeps_failing_is_retried_then_dead_lettered(world: LocalWorld) -> None:
    start = world.now()
    request_id = world.invoke_async("Failer", {"order": 42})
    world.run_until_quiet()

    attempts = [
        record
        for record in world.lambda_runtime.invocations
        if record.function_name == world.function_name("Failer")
    ]
    assert attempts[0].started_at == start
    # One minute between the first two attempts, two between the second and third.
    assert [later.started_at - earlier.ended_at for earlier, later in itertools.pairwise(attempts)] == [
        timedelta(minutes=1),
        timedelta(minutes=2),
    ]
    assert all(record.result.payload["errorType"] == "TransientFailure" for record in attempts)

    (dead,) = world.receive_all("FailerDeadLetters")
    assert json.loads(dead["Body"]) == {"order": 42}
    attributes = {name: value["StringValue"] for name, value in dead["MessageAttributes"].items()}
    assert attributes["RequestID"] == request_id
    assert attributes["ErrorCode"] == "200"
    assert attributes["ErrorMessage"].startswith("cannot handle")

    (failure,) = world.receive_all("FailerFailures")
    record = json.loads(failure["Body"])
    documented = fixture_json("lambda_async_failure_record")
    documented["requestPayload"] = {}  # the event itself is free-form
    assert missing_from(record, documented) == []
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestPayload"] == {"order": 42}
    assert record["responsePayload"]["errorType"] == "TransientFailure"


def test_invoking_through_the_lambda_api_reaches_the_handler(world: LocalWorld) -> None:
    lambda_client = world.clients.client("lambda")
    name = world.function_name("Failer")

    response = lambda_client.invoke(FunctionName=name, Payload=json.dumps({"via": "api"}))
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert error["errorType"] == "TransientFailure"
    # The stack trace starts at the handler, as the Python runtime reports it.
    assert "handlers.py" in error["stackTrace"][0]
    assert not any("ebb/local" in frame for frame in error["stackTrace"])

    accepted = lambda_client.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")
    assert accepted["StatusCode"] == 202
    world.run_until_quiet()
    assert len(world.receive_all("FailerDeadLetters")) == 1


def test_a_context_reports_the_time_left_after_waiting(world: LocalWorld) -> None:
    result = world.invoke("Sleeper", {"seconds": 4.5})
    assert result.payload["remaining_ms"] == 500


def test_powertools_idempotency_expires_on_the_simulated_clock(world: LocalWorld) -> None:
    # Powertools computes the record's expiry from datetime.now(); IdempotencyConfig here keeps
    # a result for 3600 s (Powertools for AWS Lambda (Python), "Idempotency").
    first = world.invoke("Remembering", {"order": 7})
    world.run_for(1800)
    repeated = world.invoke("Remembering", {"order": 7})
    world.run_for(1801)
    expired = world.invoke("Remembering", {"order": 7})

    assert repeated.payload == first.payload
    # Seen afresh, during this invocation (after Powertools' own calls to DynamoDB).
    record = world.lambda_runtime.invocations[-1]
    assert record.started_at < datetime.fromisoformat(expired.payload["first_seen_at"]) < record.ended_at
    assert expired.payload != first.payload


def test_a_result_json_cannot_carry_is_a_marshal_error(world: LocalWorld) -> None:
    # The Python runtime's error for an unserialisable result: Runtime.MarshalError.
    result = world.invoke("Marshaller", {})
    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == "Runtime.MarshalError"
    assert result.payload["errorMessage"].startswith("Unable to marshal response")
