"""Every Task state of statemachines/*.asl.json that invokes Lambda retries Lambda's transient
service exceptions.

Source: AWS Step Functions Developer Guide, "Handle transient Lambda service exceptions"
(https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html): Lambda can
fail an invocation with a 500 (ClientExecutionTimeoutException, ServiceException,
AWSLambdaException, SdkClientException), reported as `Lambda.<name>`; the page recommends a
Retry on those four, and names `Lambda.TooManyRequestsException` as the error of an invocation
over Lambda's concurrency limit.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEFINITIONS = sorted((ROOT / "statemachines").glob("*.asl.json"))
TRANSIENT_LAMBDA_ERRORS = (
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)


def _states(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every state, with those nested in Parallel branches and Map iterators."""
    for name, state in states.items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from _states(branch["States"])
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                yield from _states(state[key]["States"])


def _invokes_lambda(state: dict[str, Any]) -> bool:
    """A Task whose Resource is a function ARN (here a `${...FunctionArn}` substitution) or the
    Lambda service integration (`arn:aws:states:::lambda:invoke`, with or without a pattern)."""
    if state.get("Type") != "Task":
        return False
    resource = str(state["Resource"])
    return resource.endswith("FunctionArn}") or ":lambda:" in resource


def _lambda_tasks() -> list[tuple[str, str, dict[str, Any]]]:
    tasks = []
    for path in DEFINITIONS:
        definition = json.loads(path.read_text(encoding="utf-8"))
        states = _states(definition["States"])
        tasks += [(path.name, name, state) for name, state in states if _invokes_lambda(state)]
    return tasks


def _retried(state: dict[str, Any], error: str) -> dict[str, Any] | None:
    """The retrier Step Functions would use for `error`: the first whose ErrorEquals names it or
    is States.ALL (retriers are tried in order)."""
    for retrier in state.get("Retry", []):
        if error in retrier["ErrorEquals"] or retrier["ErrorEquals"] == ["States.ALL"]:
            return dict(retrier)
    return None


def test_the_definitions_have_lambda_tasks_to_check() -> None:
    names = {name for _, name, _ in _lambda_tasks()}
    assert {"ValidateRequest", "ScaleOut", "WaitForChange", "RecordFailure"} <= names


@pytest.mark.parametrize(
    ("definition", "name", "state"), _lambda_tasks(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_lambda_task_retries_lambdas_transient_service_exceptions(
    definition: str, name: str, state: dict[str, Any]
) -> None:
    missing = [error for error in TRANSIENT_LAMBDA_ERRORS if _retried(state, error) is None]
    assert not missing, f"{definition}: {name} does not retry {missing}"
    for error in TRANSIENT_LAMBDA_ERRORS:
        retrier = _retried(state, error)
        assert retrier is not None
        # With backoff: more than one attempt, each interval longer than the last.
        attempts = retrier.get("MaxAttempts", 3)
        assert attempts >= 3, f"{name}: {error} is retried {attempts} times"
        assert retrier.get("BackoffRate", 2.0) > 1, f"{name}: {error} is retried without backoff"
