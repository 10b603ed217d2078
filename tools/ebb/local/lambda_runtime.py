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

Execution environments and concurrency (Lambda Developer Guide, "Understanding the Lambda
execution environment lifecycle", "Lambda scaling behavior", "Configuring reserved concurrency"):
an invocation runs in an idle environment of its function if one is warm, else in a new one, whose
Init phase costs simulated time once (the latency model's `lambda_init`; module-level code itself
ran once, when the world loaded the handler). Each invocation is charged its compute
(`lambda_duration`) within its timeout. An environment serves one invocation at a time, so the
number of busy environments is the function's concurrency: a function with
ReservedConcurrentExecutions runs at most that many at once, the others share what the account's
concurrency leaves. Past the limit an invocation is throttled (TooManyRequestsException, HTTP 429):
a synchronous caller gets the error; an asynchronous event is retried for up to its maximum age
(6 hours by default), the interval doubling from 1 second to at most 5 minutes ("How Lambda handles
errors and retries with asynchronous invocation"); event source mappings retry on their own.
"""

from __future__ import annotations

import gc
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

from moto.core.exceptions import JsonRESTError

from ebb.local.clock import Actor, LambdaBudget, SimClock
from ebb.local.errors import TemplateError
from ebb.local.event_shapes import (
    compact_json,
    lambda_dead_letter_attributes,
    lambda_error_payload,
    lambda_invocation_record,
    lambda_timeout_payload,
)
from ebb.local.latency import LatencyModel
from ebb.local.randomness import SeededRandomness
from ebb.local.stack_resources import FunctionSpec, function_name_from
from ebb.local.wall_clock import WallClockRedirect

# Lambda Developer Guide, "How Lambda handles errors and retries with asynchronous invocation".
ASYNC_RETRY_DELAYS_SECONDS = (60.0, 120.0)
# Same guide: throttled events are retried, "from 1 second after the first attempt to a maximum
# of 5 minutes", the interval increasing exponentially (the local world doubles it).
THROTTLE_RETRY_FIRST_SECONDS = 1.0
THROTTLE_RETRY_MAX_SECONDS = 300.0
HANDLER_MODULE_PREFIX = "ebb_local_function"
# The message Lambda's TooManyRequestsException carries.
THROTTLE_MESSAGE = "Rate Exceeded."


class LambdaThrottled(Exception):
    """TooManyRequestsException (HTTP 429): no concurrency left to run the function now.

    `reason` is one of the Lambda API's ThrottleReason values (botocore's service model).
    """

    def __init__(self, function_name: str, reason: str) -> None:
        super().__init__(f"{THROTTLE_MESSAGE} {function_name}: {reason}")
        self.function_name = function_name
        self.reason = reason


def next_throttle_retry(delay: float) -> float:
    """The interval after `delay` between retries of a throttled invocation."""
    return min(delay * 2, THROTTLE_RETRY_MAX_SECONDS)


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
    throttled: bool = False

    @property
    def succeeded(self) -> bool:
        """Whether the handler returned."""
        return self.function_error is None and not self.throttled


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
    environment: str = ""
    init_seconds: float = 0.0
    compute_seconds: float = 0.0


@dataclass
class ThrottleRecord:
    """An invocation refused for want of concurrency, as the world records it for assertions."""

    function_name: str
    request_id: str
    invocation_type: str
    at: datetime
    reason: str


@dataclass(eq=False)
class ExecutionEnvironment:
    """One execution environment of a function: it serves one invocation at a time."""

    identifier: str
    function_name: str
    created_at: float
    last_used: float
    busy: bool = False
    invocations: int = 0


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
        latency: LatencyModel,
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
        self._latency = latency
        self.invocations: list[InvocationRecord] = []
        self.throttles: list[ThrottleRecord] = []
        self.environments: dict[str, list[ExecutionEnvironment]] = {}
        self._environment_count = 0

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

    def redeploy(self) -> None:
        """A stack update that changes every function (a new configuration layer version, as
        `sam deploy` of a changed configuration makes): each handler is imported again, so its
        module-level code (the configuration, read once per container) runs anew, and the idle
        execution environments are retired, so the next invocation of each is a cold start.

        An invocation already running finishes in its old environment, as Lambda lets it.
        """
        for loaded in list(self._functions.values()):
            self.load(loaded.spec)
        for environments in self.environments.values():
            environments[:] = [environment for environment in environments if environment.busy]

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
        outcome: list[InvocationResult | LambdaThrottled] = []

        def attempt() -> None:
            try:
                outcome.append(self._attempt(loaded, event, request_id, invocation_type, 1))
            except LambdaThrottled as throttled:
                outcome.append(throttled)

        actor = self._clock.spawn(attempt, name=f"lambda {loaded.spec.name} {request_id[:8]}")
        self._clock.wait_for_actor(actor, None)
        if isinstance(outcome[0], LambdaThrottled):
            raise outcome[0]
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
        started = self._clock.now_datetime()
        environment, cold = self._acquire_environment(spec, request_id, invocation_type)
        try:
            return self._run_in(
                environment, cold, loaded, event, request_id, invocation_type, attempt, started
            )
        finally:
            environment.busy = False
            environment.last_used = self._clock.now()

    def _run_in(  # noqa: PLR0917 - one attempt's whole context
        self,
        environment: ExecutionEnvironment,
        cold: bool,
        loaded: _LoadedFunction,
        event: Any,
        request_id: str,
        invocation_type: str,
        attempt: int,
        started: datetime,
    ) -> InvocationResult:
        spec = loaded.spec
        actor = self._clock.current_actor()
        assert actor is not None, "an invocation runs as an actor"
        # The Init phase is not part of the function's timeout (it has its own 10 s limit).
        init_seconds = self._latency.lambda_init() if cold else 0.0
        if init_seconds > 0:
            self._clock.sleep(init_seconds)
        environment.invocations += 1
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
        compute = 0.0
        try:
            handler_error: Exception | None = None
            try:
                payload = loaded.handler(wire_event, context)
            except Exception as error:  # the runtime reports any handler error
                handler_error = error
            # The handler's compute, which the in-process run took no simulated time for; it
            # counts against the timeout, as it would in Lambda, whether the handler returned
            # or raised.
            compute = self._latency.lambda_duration(spec.logical_id, spec.name)
            if compute > 0:
                self._clock.sleep(compute)
            if handler_error is not None:
                result = InvocationResult(
                    request_id, lambda_error_payload(handler_error, request_id), "Unhandled", timed_out=False
                )
            else:
                result = _returned(request_id, payload)
        except LambdaTimeout:
            result = InvocationResult(
                request_id,
                lambda_timeout_payload(request_id, spec.timeout_seconds),
                "Unhandled",
                timed_out=True,
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
                environment=environment.identifier,
                init_seconds=init_seconds,
                compute_seconds=compute,
            )
        )
        return result

    def _acquire_environment(
        self, spec: FunctionSpec, request_id: str, invocation_type: str
    ) -> tuple[ExecutionEnvironment, bool]:
        """A warm idle environment of the function (the last used), or a new one; else throttle."""
        now = self._clock.now()
        lifetime = self._latency.config.lambda_idle_lifetime_seconds
        pool = self.environments.setdefault(spec.name, [])
        pool[:] = [env for env in pool if env.busy or now - env.last_used <= lifetime]
        idle = [env for env in pool if not env.busy]
        if idle:
            environment = max(idle, key=lambda env: env.last_used)
            environment.busy = True
            return environment, False
        reason = self._throttle_reason(spec)
        if reason is not None:
            self.throttles.append(
                ThrottleRecord(spec.name, request_id, invocation_type, self._clock.now_datetime(), reason)
            )
            raise LambdaThrottled(spec.name, reason)
        self._environment_count += 1
        environment = ExecutionEnvironment(
            identifier=f"{spec.name}/{self._environment_count}",
            function_name=spec.name,
            created_at=now,
            last_used=now,
            busy=True,
        )
        pool.append(environment)
        return environment, True

    def _busy(self, name: str) -> int:
        return sum(1 for env in self.environments.get(name, []) if env.busy)

    def _throttle_reason(self, spec: FunctionSpec) -> str | None:
        """Why one more concurrent invocation of `spec` is refused, or None if it may run."""
        if spec.reserved_concurrency is not None:
            if self._busy(spec.name) >= spec.reserved_concurrency:
                return "ReservedFunctionConcurrentInvocationLimitExceeded"
            return None
        functions = [loaded.spec for loaded in self._functions.values()]
        reserved = sum(other.reserved_concurrency or 0 for other in functions)
        unreserved_busy = sum(
            self._busy(other.name) for other in functions if other.reserved_concurrency is None
        )
        if unreserved_busy >= self._latency.config.account_concurrency - reserved:
            return "ConcurrentInvocationLimitExceeded"
        return None

    def _run_async(self, loaded: _LoadedFunction, event: Any, request_id: str, queued_at: float) -> None:
        config = loaded.spec.async_config
        attempts = 0
        result: InvocationResult | None = None
        condition = "RetriesExhausted"
        throttle_delay = THROTTLE_RETRY_FIRST_SECONDS
        while True:
            try:
                result = self._attempt(loaded, event, request_id, "Event", attempts + 1)
            except LambdaThrottled:
                # Throttles are not function errors: they do not use up MaximumRetryAttempts.
                if self._clock.now() + throttle_delay - queued_at > config.maximum_event_age_seconds:
                    condition = "EventAgeExceeded"
                    result = InvocationResult(
                        request_id,
                        {"errorType": "TooManyRequestsException", "errorMessage": THROTTLE_MESSAGE},
                        None,
                        timed_out=False,
                        throttled=True,
                    )
                    break
                self._clock.sleep(throttle_delay)
                throttle_delay = next_throttle_retry(throttle_delay)
                continue
            attempts += 1
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
                lambda_dead_letter_attributes(request_id, message, 429 if result.throttled else 200),
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
            status_code=429 if result.throttled else 200,
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
        try:
            result = self.invoke(function_name, event)
        except LambdaThrottled as throttled:
            raise _TooManyRequests(throttled) from None
        if result.function_error is not None:
            response_headers["x-amz-function-error"] = result.function_error
        return json.dumps(result.payload).encode()


def _returned(request_id: str, payload: Any) -> InvocationResult:
    try:
        return InvocationResult(request_id, json.loads(json.dumps(payload)), None, timed_out=False)
    except (TypeError, ValueError) as error:
        # What the Python runtime reports for a result it cannot serialise.
        marshal_error = {
            "errorType": "Runtime.MarshalError",
            "errorMessage": f"Unable to marshal response: {error}",
        }
        return InvocationResult(request_id, marshal_error, "Unhandled", timed_out=False)


class _TooManyRequests(JsonRESTError):
    """The Invoke API's throttling error, as moto serialises service errors."""

    code = 429

    def __init__(self, throttled: LambdaThrottled) -> None:
        super().__init__("TooManyRequestsException", THROTTLE_MESSAGE)
        # The Lambda API's TooManyRequestsException carries a Reason (botocore's service model).
        self.description = json.dumps(
            {"__type": self.error_type, "message": self.message, "Reason": throttled.reason}
        )


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
    finally:
        # A handler pauses collection for its init and freezes what it built (functions/*/app.py):
        # right for a Lambda container, one process per container. Here one process hosts every
        # container and the tests, so collection is resumed even when an init fails, and nothing
        # stays frozen (later collections would skip everything the process held by then).
        gc.unfreeze()
        gc.enable()
    return module
