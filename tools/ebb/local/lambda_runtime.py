"""A Lambda runtime in-process: the template's real handlers, on the simulated clock.

Each invocation runs as its own actor of the clock, with a Lambda-like context, the function's
environment (swapped in whenever that actor holds the baton), and its timeout enforced in
simulated time: past the timeout, the handler's next wait raises and the invocation reports
`Sandbox.Timedout`. Handler errors report their Python class name as `errorType`, as the Python
runtime does, so Step Functions' Retry/Catch match on it.

Asynchronous invocations (EventBridge, Scheduler, `InvocationType=Event`) follow the Lambda
Developer Guide, "How Lambda handles errors and retries with asynchronous invocation": on a
function error (timeouts included) Lambda retries twice by default, one minute after the first
attempt and two minutes after the second; events older than MaximumEventAgeInSeconds are not
retried; a failed event goes to the on-failure destination (an invocation record) and to the
dead-letter queue (the event, with RequestID/ErrorCode/ErrorMessage attributes).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ebb.local.clock import Actor, LambdaBudget, SimClock
from ebb.local.errors import TemplateError
from ebb.local.event_shapes import (
    compact_json,
    lambda_dead_letter_attributes,
    lambda_error_payload,
    lambda_invocation_record,
    lambda_timeout_payload,
)
from ebb.local.randomness import SeededRandomness
from ebb.local.stack_resources import FunctionSpec, function_name_from
from ebb.local.wall_clock import WallClockRedirect

# Lambda Developer Guide, "How Lambda handles errors and retries with asynchronous invocation".
ASYNC_RETRY_DELAYS_SECONDS = (60.0, 120.0)
HANDLER_MODULE_PREFIX = "ebb_local_function"


class LambdaTimeout(BaseException):
    """Raised inside a handler whose invocation ran out of time. A BaseException, like SystemExit,
    so that a handler's `except Exception` cannot swallow it."""


@dataclass
class LambdaContext:
    """The context object a Python handler receives (Lambda Developer Guide, "Using the Lambda
    context object to retrieve Python function information"); time is simulated."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    _deadline: float
    _clock: SimClock

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function times out, on the simulated clock."""
        return max(0, int((self._deadline - self._clock.now()) * 1000))


@dataclass
class InvocationResult:
    """The outcome of one attempt: a payload, or an error payload with its kind."""

    request_id: str
    payload: Any
    function_error: str | None
    timed_out: bool

    @property
    def succeeded(self) -> bool:
        """Whether the handler returned."""
        return self.function_error is None


@dataclass
class InvocationRecord:
    """One attempt, as the world records it for assertions."""

    function_name: str
    request_id: str
    invocation_type: str
    attempt: int
    started_at: datetime
    ended_at: datetime
    event: Any
    result: InvocationResult


@dataclass
class _LoadedFunction:
    spec: FunctionSpec
    handler: Callable[[Any, LambdaContext], Any]
    environment: dict[str, str]


@dataclass
class _Environments:
    """Swaps os.environ to the environment of whichever actor holds the baton."""

    base: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    applied: dict[str, str] | None = None

    def apply(self, overlay: dict[str, str] | None) -> None:
        if overlay is self.applied:
            return
        if self.applied is not None:
            for key in self.applied:
                if key in self.base:
                    os.environ[key] = self.base[key]
                else:
                    os.environ.pop(key, None)
        if overlay is not None:
            os.environ.update(overlay)
        self.applied = overlay


class LambdaRuntime:
    """Runs the template's functions; see the module docstring."""

    def __init__(
        self,
        *,
        clock: SimClock,
        randomness: SeededRandomness,
        wall_clock: WallClockRedirect,
        region: str,
        account_id: str,
        send_to_queue: Callable[[str, str, dict[str, dict[str, str]]], None],
        deliver_record: Callable[[str, dict[str, Any]], None],
        extra_environment: dict[str, str] | None = None,
    ) -> None:
        self._clock = clock
        self._randomness = randomness
        self._wall_clock = wall_clock
        self._region = region
        self._account = account_id
        self._send_to_queue = send_to_queue
        self._deliver_record = deliver_record
        self._extra_environment = dict(extra_environment or {})
        self._functions: dict[str, _LoadedFunction] = {}
        self._environments = _Environments()
        self._actor_environment: dict[int, dict[str, str]] = {}
        self.invocations: list[InvocationRecord] = []

    # -- loading ----------------------------------------------------------------------------

    def environment_of(self, spec: FunctionSpec) -> dict[str, str]:
        """The environment a function sees: its variables plus the runtime's reserved ones."""
        return {
            "AWS_REGION": self._region,
            "AWS_DEFAULT_REGION": self._region,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"local/{spec.name}",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "_HANDLER": spec.handler,
            # X-Ray is not modelled; keep Powertools' tracer from looking for a daemon.
            "POWERTOOLS_TRACE_DISABLED": "true",
            **self._extra_environment,
            **spec.environment,
        }

    def load(self, spec: FunctionSpec) -> None:
        """Import the function's handler (its module-level code runs now, in its environment)."""
        module_path, _, function_name = spec.handler.rpartition(".")
        source = spec.code_dir / (module_path.replace(".", "/") + ".py")
        if not source.is_file():
            raise TemplateError(
                f"Resources.{spec.logical_id}.Handler: {spec.handler} needs {source}, which does not exist"
            )
        module_name = f"{HANDLER_MODULE_PREFIX}_{spec.logical_id}_{module_path.replace('.', '_')}"
        environment = self.environment_of(spec)
        with self._environment(environment), _on_path(str(spec.code_dir)):
            module = _import_file(module_name, source)
        self._wall_clock.add_module(module_name)
        self._wall_clock.refresh()
        handler = getattr(module, function_name, None)
        if not callable(handler):
            raise TemplateError(
                f"Resources.{spec.logical_id}.Handler: {source} has no function {function_name}"
            )
        self._functions[spec.name] = _LoadedFunction(spec=spec, handler=handler, environment=environment)

    def spec(self, name_or_arn: str) -> FunctionSpec | None:
        """The loaded function with this name or ARN."""
        loaded = self._functions.get(function_name_from(name_or_arn))
        return loaded.spec if loaded is not None else None

    @contextmanager
    def _environment(self, overlay: dict[str, str]) -> Iterator[None]:
        previous = self._environments.applied
        self._environments.apply(overlay)
        try:
            yield
        finally:
            self._environments.apply(previous)

    def on_switch(self, actor: Actor | None) -> None:
        """Clock hook: give the actor about to run its function's environment (or the base one)."""
        overlay = self._actor_environment.get(id(actor)) if actor is not None else None
        self._environments.apply(overlay)

    # -- invoking ---------------------------------------------------------------------------

    def invoke(
        self, name_or_arn: str, event: Any, *, invocation_type: str = "RequestResponse"
    ) -> InvocationResult:
        """Invoke synchronously: run one attempt in a new actor and wait for it (in simulated time)."""
        loaded = self._require(name_or_arn)
        request_id = self._randomness.uuid4()
        outcome: list[InvocationResult] = []
        actor = self._clock.spawn(
            lambda: outcome.append(self._attempt(loaded, event, request_id, invocation_type, 1)),
            name=f"lambda {loaded.spec.name} {request_id[:8]}",
        )
        self._clock.wait_for_actor(actor, None)
        return outcome[0]

    def invoke_async(self, name_or_arn: str, event: Any) -> str:
        """Queue an asynchronous invocation; return its request id (the world's `202 Accepted`)."""
        loaded = self._require(name_or_arn)
        request_id = self._randomness.uuid4()
        queued_at = self._clock.now()
        self._clock.spawn(
            lambda: self._run_async(loaded, event, request_id, queued_at),
            name=f"lambda-async {loaded.spec.name} {request_id[:8]}",
        )
        return request_id

    def _require(self, name_or_arn: str) -> _LoadedFunction:
        loaded = self._functions.get(function_name_from(name_or_arn))
        if loaded is None:
            raise LookupError(f"Function not found: {name_or_arn}")
        return loaded

    def _attempt(
        self, loaded: _LoadedFunction, event: Any, request_id: str, invocation_type: str, attempt: int
    ) -> InvocationResult:
        spec = loaded.spec
        actor = self._clock.current_actor()
        assert actor is not None, "an invocation runs as an actor"
        started = self._clock.now_datetime()
        deadline = self._clock.now() + spec.timeout_seconds
        context = LambdaContext(
            function_name=spec.name,
            function_version="$LATEST",
            invoked_function_arn=spec.arn,
            memory_limit_in_mb=spec.memory_mb,
            aws_request_id=request_id,
            log_group_name=f"/aws/lambda/{spec.name}",
            log_stream_name=f"local/{spec.name}",
            _deadline=deadline,
            _clock=self._clock,
        )
        self._wall_clock.refresh()
        self._actor_environment[id(actor)] = loaded.environment
        self._environments.apply(loaded.environment)
        actor.budgets.append(LambdaBudget(deadline, lambda: LambdaTimeout(spec.name)))
        # The event is passed as JSON, as over the wire: the handler gets its own copy.
        wire_event = json.loads(json.dumps(event))
        try:
            payload = loaded.handler(wire_event, context)
            try:
                result = InvocationResult(request_id, json.loads(json.dumps(payload)), None, timed_out=False)
            except (TypeError, ValueError) as error:
                # What the Python runtime reports for a result it cannot serialise.
                marshal_error = {
                    "errorType": "Runtime.MarshalError",
                    "errorMessage": f"Unable to marshal response: {error}",
                }
                result = InvocationResult(request_id, marshal_error, "Unhandled", timed_out=False)
        except LambdaTimeout:
            result = InvocationResult(
                request_id,
                lambda_timeout_payload(request_id, spec.timeout_seconds),
                "Unhandled",
                timed_out=True,
            )
        except Exception as error:  # the runtime reports any handler error
            result = InvocationResult(
                request_id, lambda_error_payload(error, request_id), "Unhandled", timed_out=False
            )
        finally:
            actor.budgets.pop()
            self._actor_environment.pop(id(actor), None)
            self._environments.apply(None)
        self.invocations.append(
            InvocationRecord(
                function_name=spec.name,
                request_id=request_id,
                invocation_type=invocation_type,
                attempt=attempt,
                started_at=started,
                ended_at=self._clock.now_datetime(),
                event=event,
                result=result,
            )
        )
        return result

    def _run_async(self, loaded: _LoadedFunction, event: Any, request_id: str, queued_at: float) -> None:
        config = loaded.spec.async_config
        attempts = 0
        result: InvocationResult | None = None
        condition = "RetriesExhausted"
        while True:
            attempts += 1
            result = self._attempt(loaded, event, request_id, "Event", attempts)
            if result.succeeded:
                break
            if attempts > config.maximum_retry_attempts:
                break
            delay = ASYNC_RETRY_DELAYS_SECONDS[min(attempts - 1, len(ASYNC_RETRY_DELAYS_SECONDS) - 1)]
            if self._clock.now() + delay - queued_at > config.maximum_event_age_seconds:
                condition = "EventAgeExceeded"
                break
            self._clock.sleep(delay)
        assert result is not None
        destinations = config.destinations
        if result.succeeded:
            if destinations.on_success is not None:
                self._deliver_record(
                    destinations.on_success.destination,
                    self._record(
                        loaded.spec,
                        event,
                        request_id=request_id,
                        condition="Success",
                        attempts=attempts,
                        result=result,
                    ),
                )
            return
        if destinations.on_failure is not None:
            self._deliver_record(
                destinations.on_failure.destination,
                self._record(
                    loaded.spec,
                    event,
                    request_id=request_id,
                    condition=condition,
                    attempts=attempts,
                    result=result,
                ),
            )
        if loaded.spec.dead_letter_arn is not None:
            message = str(result.payload.get("errorMessage", "")) if isinstance(result.payload, dict) else ""
            self._send_to_queue(
                loaded.spec.dead_letter_arn,
                compact_json(event),
                lambda_dead_letter_attributes(request_id, message),
            )

    def _record(
        self,
        spec: FunctionSpec,
        event: Any,
        *,
        request_id: str,
        condition: str,
        attempts: int,
        result: InvocationResult,
    ) -> dict[str, Any]:
        return lambda_invocation_record(
            time=self._clock.now_datetime(),
            request_id=request_id,
            function_arn=spec.arn,
            condition=condition,
            approximate_invoke_count=attempts,
            request_payload=event,
            function_error=result.function_error,
            response_payload=result.payload,
        )

    # -- moto's Lambda API ------------------------------------------------------------------

    def moto_invoke(
        self, function_name: str, headers: Any, body: Any, response_headers: dict[str, str]
    ) -> bytes | None:
        """Serve moto's Invoke for one of our functions (None: not ours)."""
        if self.spec(function_name) is None:
            return None
        text = body.decode() if isinstance(body, bytes) else body
        event = json.loads(text) if text else {}
        invocation_type = (
            headers.get("X-Amz-Invocation-Type", "RequestResponse") if headers else "RequestResponse"
        )
        if invocation_type == "Event":
            self.invoke_async(function_name, event)
            return b""
        if invocation_type == "DryRun":
            return b""
        result = self.invoke(function_name, event)
        if result.function_error is not None:
            response_headers["x-amz-function-error"] = result.function_error
        return json.dumps(result.payload).encode()


@contextmanager
def _on_path(directory: str) -> Iterator[None]:
    # Lambda puts the function's code directory on sys.path; sibling modules import as in Lambda.
    sys.path.insert(0, directory)
    try:
        yield
    finally:
        if directory in sys.path:
            sys.path.remove(directory)


def _import_file(module_name: str, source: Any) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(module_name, source)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {source}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module
