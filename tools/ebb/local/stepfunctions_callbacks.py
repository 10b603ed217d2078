"""Task tokens of `.waitForTaskToken` tasks, kept as Step Functions keeps them (moto 5.2.5).

moto's interpreter issues a token when a callback task is entered and answers SendTaskSuccess,
SendTaskFailure and SendTaskHeartbeat from its pool. What it gets wrong, and what is patched here:

- An expired `HeartbeatSeconds` fails the task with an error no catcher or retrier on
  `States.HeartbeatTimeout` matches. In AWS such a catcher matches it (Step Functions Developer
  Guide, "Handling errors in Step Functions workflows": States.HeartbeatTimeout is available in
  Catch and Retry), while the history's `TaskTimedOut` and the execution's error still say
  `States.Timeout` (an AWS recording of a heartbeat expiry: localstack/localstack,
  tests/aws/services/stepfunctions/v2/timeouts/test_heartbeats.snapshot.json, validated against
  AWS on 2024-04-18). `States.Timeout` keeps matching it too (the same guide: a Task state "failed
  to send a heartbeat for a period longer than the HeartbeatSeconds value").
- A retried callback task reuses the first attempt's token, already interrupted, so the retry
  "times out" at once; here every attempt gets a token of its own and waits its own timeout.
- A token stays open after its task ends: a late SendTaskSuccess is accepted silently (or, once
  the execution ended, refused as `InvalidToken`). Here a token is closed when its task attempt
  ends (completed, failed, timed out, or its execution ended) and any later call is refused with
  `TaskTimedOut` ("The task token has either expired or the task associated with the token has
  already been closed", botocore's service model); a token never issued is `InvalidToken`.
- moto accepts SendTaskSuccess output that is not JSON; AWS refuses the call (`InvalidOutput`,
  "The provided JSON output data is not valid").
- StopExecution leaves an execution that waits on a token RUNNING until the task's timeout (by
  default 99999999 s). AWS aborts it at once (StopExecution API reference); here stopping closes
  the execution's waiting tokens, which ends the wait without a task event.
- SendTaskFailure drops the `cause`; AWS records it in `TaskFailed` and the error output.
- SendTaskHeartbeat on an open task without `HeartbeatSeconds` is refused as `InvalidToken`, as if
  the token had never been issued. Here it is accepted and changes nothing: an inference, AWS
  documents no error for it (its InvalidToken is "The provided token is not valid").
- Tokens are uuid4 from the real generator; here they are drawn from the world's seeded one.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from typing import Any, cast

from moto.core.responses import EmptyResult
from moto.stepfunctions.parser.api import (
    ExecutionStatus,
    InvalidOutput,
    InvalidToken,
    TaskTimedOut,
)
from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_callback
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task import StateTask
from moto.stepfunctions.parser.asl.eval.callback.callback import (
    CallbackConsumerTimeout,
    CallbackEndpoint,
    CallbackOutcomeFailure,
    CallbackOutcomeSuccess,
    HeartbeatTimeoutError,
)
from moto.stepfunctions.parser.backend.execution import Execution
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.stepfunctions.responses import StepFunctionResponse

from ebb.local.patches import PatchSet, PinnedAttribute
from ebb.local.randomness import SeededRandomness

STATES_MODULE = "moto.stepfunctions.parser.asl.eval.states"
# moto's TaskTimedOut and InvalidOutput take no default message or type (raising them bare is a
# TypeError); the messages are the errors' documentation in botocore's service model.
_CLOSED = "The task token has either expired or the task associated with the token has already been closed."
_NOT_JSON = "The provided JSON output data is not valid."
_HEARTBEAT_TIMEOUT = StatesErrorName(typ=StatesErrorNameType.StatesHeartbeatTimeout)


class HeartbeatExpiry(StatesErrorName):
    """The error of a task whose heartbeat expired: named `States.Timeout` (as AWS records it),
    matched by `States.HeartbeatTimeout` as well as by `States.Timeout` and `States.ALL`."""

    def __init__(self) -> None:
        super().__init__(typ=StatesErrorNameType.StatesTimeout)


def pins() -> list[PinnedAttribute]:
    """Every moto internal this module replaces, with the signature it was written against."""
    return [
        PinnedAttribute(importlib.import_module(STATES_MODULE), "long_uid"),
        PinnedAttribute(
            StateTask, "_from_error", "(self, env: 'Environment', ex: 'Exception') -> 'FailureEvent'"
        ),
        PinnedAttribute(
            ErrorEqualsDecl,
            "_eval_body",
            "(self, env: moto.stepfunctions.parser.asl.eval.environment.Environment) -> None",
        ),
        PinnedAttribute(
            ExecutionState,
            "_evaluate_with_timeout",
            "(self, env: moto.stepfunctions.parser.asl.eval.environment.Environment) -> None",
        ),
        PinnedAttribute(
            StepFunctionsParserBackend,
            "send_task_success",
            "(self, task_token: str, outcome: str) -> moto.stepfunctions.parser.api.SendTaskSuccessOutput",
        ),
        PinnedAttribute(
            StepFunctionsParserBackend,
            "send_task_failure",
            "(self, task_token: str, error: str = None, cause: str = None) "
            "-> moto.stepfunctions.parser.api.SendTaskFailureOutput",
        ),
        PinnedAttribute(
            StepFunctionsParserBackend,
            "send_task_heartbeat",
            "(self, task_token: str) -> moto.stepfunctions.parser.api.SendTaskHeartbeatOutput",
        ),
        PinnedAttribute(
            StepFunctionResponse, "send_task_failure", "(self) -> moto.core.responses.ActionResult"
        ),
        PinnedAttribute(
            Execution,
            "stop",
            "(self, stop_date: 'datetime.datetime', error: 'str | None', cause: 'str | None')",
        ),
    ]


def install(patches: PatchSet, randomness: SeededRandomness) -> None:
    """Apply every patch of the module docstring (checking its pin first)."""
    by_target = {(id(pin.owner), pin.attribute): pin for pin in pins()}

    def pin(owner: Any, attribute: str) -> PinnedAttribute:
        return by_target[(id(owner), attribute)]

    patches.replace(pin(importlib.import_module(STATES_MODULE), "long_uid"), randomness.uuid4)
    patches.wrap_method(pin(StateTask, "_from_error"), _name_heartbeat_expiry)
    patches.wrap_method(pin(ErrorEqualsDecl, "_eval_body"), _match_heartbeat_timeout)
    waiting = _WaitingTokens()
    patches.wrap_method(pin(ExecutionState, "_evaluate_with_timeout"), waiting.token_per_attempt)
    patches.wrap_method(pin(Execution, "stop"), waiting.close_on_stop)
    patches.replace(pin(StepFunctionsParserBackend, "send_task_success"), _send_task_success)
    patches.replace(pin(StepFunctionsParserBackend, "send_task_failure"), _send_task_failure)
    patches.replace(pin(StepFunctionsParserBackend, "send_task_heartbeat"), _send_task_heartbeat)
    patches.replace(pin(StepFunctionResponse, "send_task_failure"), _send_task_failure_response)


def _name_heartbeat_expiry(original: Callable[..., FailureEvent]) -> Callable[..., FailureEvent]:
    def _from_error(self: Any, env: Any, ex: Exception) -> FailureEvent:
        failure = original(self, env, ex)
        if not isinstance(ex, HeartbeatTimeoutError):
            return failure
        # moto's TaskTimedOut event stays as it is (AWS records the same); only the name a catcher
        # or retrier matches changes.
        return FailureEvent(
            env=env,
            error_name=HeartbeatExpiry(),
            event_type=failure.event_type,
            event_details=failure.event_details,
        )

    return _from_error


def _match_heartbeat_timeout(original: Callable[..., None]) -> Callable[..., None]:
    def _eval_body(self: Any, env: Any) -> None:
        if isinstance(env.stack[-1], HeartbeatExpiry) and _HEARTBEAT_TIMEOUT in self.error_names:
            env.stack.pop()
            env.stack.append(True)
            return
        original(self, env)

    return _eval_body


class _WaitingTokens:
    """The open tokens of each execution's waiting callback tasks, to close them on StopExecution."""

    def __init__(self) -> None:
        self._by_execution: dict[str, set[CallbackEndpoint]] = {}

    def token_per_attempt(self, original: Callable[..., None]) -> Callable[..., None]:
        waiting = self._by_execution

        def _evaluate_with_timeout(self: Any, env: Any) -> None:
            context = env.states.context_object
            task = context.context_object_data.get("Task")
            if not isinstance(self, state_task_service_callback.StateTaskServiceCallback) or task is None:
                original(self, env)
                return
            pool = env.callback_pool_manager
            if _is_closed(pool.get(task["Token"])):
                # A retry: moto issued one token when the state was entered; each attempt needs its own.
                pool.add(context.update_task_token())
            endpoint = pool.get(context.context_object_data["Task"]["Token"])
            execution_arn = str(context.context_object_data["Execution"]["Id"])
            waiting.setdefault(execution_arn, set()).add(endpoint)
            try:
                original(self, env)
            except Exception:
                # Stopped while waiting: the stop is the execution's end (ExecutionAborted), not a
                # task failure to record, retry or catch.
                if env.is_running():
                    raise
            finally:
                waiting.get(execution_arn, set()).discard(endpoint)
                _close(endpoint)

        return _evaluate_with_timeout

    def close_on_stop(self, original: Callable[..., None]) -> Callable[..., None]:
        waiting = self._by_execution

        def stop(self: Any, stop_date: Any, error: str | None, cause: str | None) -> None:
            original(self, stop_date, error, cause)
            for endpoint in list(waiting.pop(str(self.exec_arn), ())):
                _close(endpoint)

        return stop


def _is_closed(endpoint: CallbackEndpoint | None) -> bool:
    return endpoint is None or endpoint.consumer_error is not None


def _close(endpoint: CallbackEndpoint | None) -> None:
    """Refuse any later call on the token, and wake whatever still waits on it."""
    if endpoint is not None and endpoint.consumer_error is None:
        endpoint.report(CallbackConsumerTimeout())
        endpoint.interrupt_all()


def _open_endpoint(backend: StepFunctionsParserBackend, task_token: str) -> CallbackEndpoint:
    """The endpoint of an open task's token; InvalidToken if never issued, TaskTimedOut if closed."""
    for execution in backend._get_executions():
        worker = execution.exec_worker
        endpoint: CallbackEndpoint | None = (
            worker.env.callback_pool_manager.get(task_token) if worker is not None else None
        )
        if endpoint is None:
            continue
        if execution.status != ExecutionStatus.RUNNING or _is_closed(endpoint):
            raise TaskTimedOut(_CLOSED, exception_type="TaskTimedOut")
        return endpoint
    raise InvalidToken()  # type: ignore[no-untyped-call]


def _send_task_success(backend: StepFunctionsParserBackend, task_token: str, outcome: str) -> None:
    endpoint = _open_endpoint(backend, task_token)
    try:
        json.loads(outcome)
    except (TypeError, ValueError):
        raise InvalidOutput(_NOT_JSON, exception_type="InvalidOutput") from None
    endpoint.notify(CallbackOutcomeSuccess(callback_id=task_token, output=outcome))
    # Closed from now on: a second completion of the same task is refused, as in AWS.
    endpoint.report(CallbackConsumerTimeout())


def _send_task_failure(
    backend: StepFunctionsParserBackend, task_token: str, error: str | None = None, cause: str | None = None
) -> None:
    endpoint = _open_endpoint(backend, task_token)
    endpoint.notify(CallbackOutcomeFailure(callback_id=task_token, error=error, cause=cause))
    endpoint.report(CallbackConsumerTimeout())


def _send_task_heartbeat(backend: StepFunctionsParserBackend, task_token: str) -> None:
    # A task without HeartbeatSeconds has nothing waiting for heartbeats: accepted, no effect.
    _open_endpoint(backend, task_token).notify_heartbeat()


def _send_task_failure_response(response: StepFunctionResponse) -> EmptyResult:
    backend = cast(StepFunctionsParserBackend, response.stepfunction_backend)
    backend.send_task_failure(
        response._get_param("taskToken"),
        error=response._get_param("error"),
        cause=response._get_param("cause"),
    )
    return EmptyResult()
