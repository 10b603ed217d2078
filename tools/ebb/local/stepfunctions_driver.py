"""Drive moto's Step Functions interpreter (moto 5.2.5) on the simulated clock.

moto runs every execution on its own threads with real sleeps (see the module list below). Here
the names those modules use (`threading`, `Thread`, `Event`, `time`, `random`) are swapped for
clock-aware stand-ins, so executions, their tasks, Parallel branches and Map iterations become
actors of the clock: their waits overlap in simulated time as in AWS while only one runs at a
time; retry intervals and Wait states pass on the clock; FULL jitter draws from the world's
seeded generator. Each retry interval is recorded (`RetryWait`) for assertions.

Also:
- Lambda tasks (and any `Invoke`) reach the template's real handlers (moto's simple backend only
  echoes); an error returns `{"errorType", "errorMessage"}` with the function-error flag, so the
  error name is Lambda's `errorType`.
- aws-sdk task errors are named as Step Functions names them, `<Service>.<ErrorCode>Exception`
  (Step Functions Developer Guide, "AWS SDK service integrations", error names): moto says
  `sagemaker.sagemakerException` where AWS says `SageMaker.ResourceNotFoundException`.
- `.waitForTaskToken` tasks: heartbeat expiry matched by `States.HeartbeatTimeout`, a token per
  attempt, closed tokens refused, seeded tokens (`ebb.local.stepfunctions_callbacks`).
- JSONPath workflow variables (`Assign`, `$name` references) run (`ebb.local.stepfunctions_variables`).
- StartExecution without a name gets a UUID (AWS does so; moto would name it `None`); names are
  validated and a reused name is refused by moto as AWS does (StartExecution API reference:
  idempotent only for a running execution with the same name and input).

Every patched attribute is pinned (`PINS`); a moto upgrade that moves one fails at world start.
"""

from __future__ import annotations

import importlib
import threading
import time
import types
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.stepfunctions.parser.asl.component.common.retry.retrier_decl import RetrierDecl
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
    StateTaskServiceAwsSdk,
)
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from ebb.local import stepfunctions_callbacks, stepfunctions_variables
from ebb.local.clock import SimClock
from ebb.local.clock_threads import ActorThread, ClockEvent, cooperative_threading
from ebb.local.lambda_runtime import LambdaRuntime
from ebb.local.patches import PatchSet, PinnedAttribute
from ebb.local.randomness import SeededRandomness

_PARSER = "moto.stepfunctions.parser"
_ASL = f"{_PARSER}.asl"

# Modules whose `threading` becomes the cooperative one (threads, events, conditions).
THREADING_MODULES = (
    f"{_ASL}.component.program.program",
    f"{_ASL}.component.state.exec.execute_state",
    f"{_ASL}.component.state.exec.state_parallel.branch_worker",
    f"{_ASL}.component.state.exec.state_parallel.branches_decl",
    f"{_ASL}.component.state.exec.state_map.iteration.inline_iteration_component",
    f"{_ASL}.component.state.exec.state_map.iteration.job",
    f"{_ASL}.component.state.exec.state_map.iteration.itemprocessor.map_run_record",
    f"{_ASL}.component.state.exec.state_task.service.state_task_service_callback",
    f"{_ASL}.eval.count_down_latch",
    f"{_ASL}.eval.environment",
)
EXECUTION_WORKER_MODULE = f"{_PARSER}.backend.execution_worker"
EXECUTE_STATE_MODULE = f"{_ASL}.component.state.exec.execute_state"
CALLBACK_MODULE = f"{_ASL}.eval.callback.callback"
RETRIER_MODULE = f"{_ASL}.component.common.retry.retrier_decl"
JITTER_MODULE = f"{_ASL}.component.common.retry.jitter_strategy_decl"
ALIAS_MODULE = f"{_PARSER}.backend.alias"
AWS_SDK_TASK_MODULE = f"{_ASL}.component.state.exec.state_task.service.state_task_service_aws_sdk"

# Service names as Step Functions spells them in aws-sdk error names, beyond moto's own table.
SERVICE_ERROR_NAMES = {"sagemaker": "SageMaker"}


@dataclass(frozen=True)
class RetryWait:
    """One retry interval an execution waited (after backoff, MaxDelaySeconds and jitter)."""

    execution_arn: str
    state_name: str
    retry_count: int
    interval_seconds: float
    started_at: datetime


def _module(name: str) -> types.ModuleType:
    return importlib.import_module(name)


def pins() -> list[PinnedAttribute]:
    """Every moto internal the driver replaces, with the signature it was written against."""
    return [
        *(PinnedAttribute(_module(name), "threading") for name in THREADING_MODULES),
        PinnedAttribute(_module(EXECUTION_WORKER_MODULE), "Thread"),
        PinnedAttribute(_module(EXECUTE_STATE_MODULE), "Thread"),
        PinnedAttribute(_module(CALLBACK_MODULE), "Event"),
        PinnedAttribute(_module(RETRIER_MODULE), "time"),
        PinnedAttribute(_module(JITTER_MODULE), "random"),
        PinnedAttribute(_module(ALIAS_MODULE), "random"),
        PinnedAttribute(RetrierDecl, "_eval_body", "(self, env: 'Environment') -> 'None'"),
        PinnedAttribute(
            LambdaSimpleBackend,
            "invoke",
            "(self, function_name: str, qualifier: str | None, body: Any, headers: Any, "
            "response_headers: Any) -> str | bytes | None",
        ),
        PinnedAttribute(
            StateTaskServiceAwsSdk, "_normalise_service_error_name", "(service_name: str) -> str"
        ),
        PinnedAttribute(
            StateTaskServiceAwsSdk,
            "_normalise_exception_name",
            "(norm_service_name: str, ex: Exception) -> str",
        ),
        PinnedAttribute(
            StepFunctionsParserBackend,
            "start_execution",
            "(self, state_machine_arn: str, name: str = None, execution_input: str = None, "
            "trace_header: str = None) -> moto.stepfunctions.parser.backend.execution.Execution",
        ),
        *stepfunctions_callbacks.pins(),
        *stepfunctions_variables.pins(),
    ]


class StepFunctionsDriver:
    """Installs the patches described in the module docstring."""

    def __init__(
        self, *, clock: SimClock, randomness: SeededRandomness, lambda_runtime: LambdaRuntime
    ) -> None:
        self._clock = clock
        self._randomness = randomness
        self._lambda_runtime = lambda_runtime
        self._retrying = threading.local()
        self.retry_waits: list[RetryWait] = []

    def retry_waits_of(self, execution_arn: str) -> list[RetryWait]:
        """The retry intervals one execution waited, in order."""
        return [wait for wait in self.retry_waits if wait.execution_arn == execution_arn]

    def install(self, patches: PatchSet) -> None:
        """Apply every patch (checking its pin first)."""
        by_target = {(id(pin.owner), pin.attribute): pin for pin in pins()}

        def pin(owner: Any, attribute: str) -> PinnedAttribute:
            return by_target[(id(owner), attribute)]

        threading_stand_in = cooperative_threading()
        for name in THREADING_MODULES:
            patches.replace(pin(_module(name), "threading"), threading_stand_in)
        patches.replace(pin(_module(EXECUTION_WORKER_MODULE), "Thread"), _execution_thread)
        patches.replace(pin(_module(EXECUTE_STATE_MODULE), "Thread"), ActorThread)
        patches.replace(pin(_module(CALLBACK_MODULE), "Event"), ClockEvent)
        patches.replace(pin(_module(RETRIER_MODULE), "time"), _RetryTime(self))
        random_stand_in = self._randomness.as_random_module()
        patches.replace(pin(_module(JITTER_MODULE), "random"), random_stand_in)
        patches.replace(pin(_module(ALIAS_MODULE), "random"), random_stand_in)

        retrying = self._retrying

        def remember_env(original: Callable[..., None]) -> Callable[..., None]:
            def _eval_body(self: Any, env: Any) -> None:
                retrying.env = env
                try:
                    original(self, env)
                finally:
                    retrying.env = None

            return _eval_body

        patches.wrap_method(pin(RetrierDecl, "_eval_body"), remember_env)

        runtime = self._lambda_runtime

        def dispatch_invoke(original: Callable[..., Any]) -> Callable[..., Any]:
            def invoke(  # noqa: PLR0917 - moto's positional signature
                backend: Any,
                function_name: str,
                qualifier: str | None,
                body: Any,
                headers: Any,
                response_headers: Any,
            ) -> str | bytes | None:
                payload = runtime.moto_invoke(function_name, headers, body, response_headers)
                if payload is not None:
                    return payload
                backend.get_function(function_name, qualifier)  # moto's "function not found"
                return original(backend, function_name, qualifier, body, headers, response_headers)  # type: ignore[no-any-return]

            return invoke

        patches.wrap_method(pin(LambdaSimpleBackend, "invoke"), dispatch_invoke)

        moto_service_name = pin(StateTaskServiceAwsSdk, "_normalise_service_error_name").check().__func__
        patches.replace(
            pin(StateTaskServiceAwsSdk, "_normalise_service_error_name"),
            staticmethod(
                lambda service_name: (
                    SERVICE_ERROR_NAMES.get(service_name.lower()) or moto_service_name(service_name)
                )
            ),
        )
        patches.replace(
            pin(StateTaskServiceAwsSdk, "_normalise_exception_name"), staticmethod(aws_sdk_error_name)
        )

        randomness = self._randomness

        def default_name(original: Callable[..., Any]) -> Callable[..., Any]:
            def start_execution(
                backend: Any,
                state_machine_arn: str,
                name: str | None = None,
                execution_input: str | None = None,
                trace_header: str | None = None,
            ) -> Any:
                if name is None:
                    name = randomness.uuid4()
                else:
                    backend._validate_name(name)
                return original(backend, state_machine_arn, name, execution_input, trace_header)

            return start_execution

        patches.wrap_method(pin(StepFunctionsParserBackend, "start_execution"), default_name)
        stepfunctions_callbacks.install(patches, self._randomness)
        stepfunctions_variables.install(patches)

    def wait_retry_interval(self, seconds: float) -> None:
        """The retrier's sleep: record the interval, then wait it (a stop cuts it short)."""
        env = getattr(self._retrying, "env", None)
        if env is None:
            self._clock.sleep(seconds)
            return
        context = env.states.context_object.context_object_data
        self.retry_waits.append(
            RetryWait(
                execution_arn=str(context["Execution"]["Id"]),
                state_name=str(context["State"]["Name"]),
                retry_count=int(context["State"]["RetryCount"]),
                interval_seconds=float(seconds),
                started_at=self._clock.now_datetime(),
            )
        )
        event = env.program_state_event
        if isinstance(event, ClockEvent):
            event.wait(seconds)
        else:
            self._clock.sleep(seconds)


def aws_sdk_error_name(norm_service_name: str, ex: Exception) -> str:
    """`<Service>.<ErrorCode>Exception`, the name Step Functions gives an aws-sdk task error."""
    code = ex.response.get("Error", {}).get("Code") if isinstance(ex, ClientError) else None
    name = f"{norm_service_name}.{code or type(ex).__name__}"
    return name if name.endswith("Exception") else f"{name}Exception"


class _RetryTime(types.ModuleType):
    """The `time` of moto's retrier: its `sleep` is the driver's recorded, clock-based wait."""

    def __init__(self, driver: StepFunctionsDriver) -> None:
        super().__init__("time")
        self._driver = driver

    def sleep(self, seconds: float) -> None:
        self._driver.wait_retry_interval(seconds)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(time, attribute)


def _execution_thread(
    target: Callable[[], None], daemon: bool | None = None, name: str | None = None
) -> ActorThread:
    """moto's ExecutionWorker thread, as an actor tagged with its execution's ARN."""
    thread = ActorThread(target=target, daemon=daemon, name=name)
    worker = getattr(target, "__self__", None)
    details = getattr(getattr(worker, "_evaluation_details", None), "execution_details", None)
    arn = getattr(details, "arn", None)
    if arn is not None:
        thread.tag(execution=str(arn))
        thread.name = f"execution {str(arn).rsplit(':', 1)[-1]}"
    return thread
