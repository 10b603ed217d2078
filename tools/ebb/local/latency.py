"""What things cost in simulated time: a seeded, deterministic latency model for the local world.

Without it every AWS and Kubernetes call, every Lambda cold start and every handler's compute
would take no simulated time, and any end-to-end timing measured locally would pass by
construction. The model charges:
- each AWS API call made by an actor of the clock (a handler, a poller, a state machine task), half
  before the request reaches moto and half after its answer, so the service acts mid-call;
- each Kubernetes API request made by an actor, the same way around the local API server's answer;
- a cold Lambda execution environment its init time, once, and every invocation a duration charge
  for its handler's compute (the handler's own waits and calls are charged as they happen).

Calls made outside the simulation (a test driving the world, a timer callback) cost nothing: they
stand for the world's own bookkeeping, not for a component whose timing is being measured.

Every figure is a `Span` drawn uniformly from a generator of its own, seeded from the world's seed,
so that turning the model on does not move any other random draw of the world; the clock runs the
actors in a deterministic order, so the same seed gives the same draws at the same moments. Where
AWS or Kubernetes documents a figure it is cited next to it; where nothing is documented the
figure is the local world's stated assumption (README, "Timing in the local world").
"""

from __future__ import annotations

import random
from typing import Annotated, Any, Self

from moto.core.botocore_stubber import BotocoreStubber
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ebb.local.clock import Actor, SimClock
from ebb.local.errors import WorldStopped
from ebb.local.patches import PatchSet, PinnedAttribute


class Span(BaseModel):
    """A duration drawn uniformly between two bounds (equal bounds: a fixed figure)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    low_seconds: Annotated[float, Field(ge=0)]
    high_seconds: Annotated[float, Field(ge=0)]

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.high_seconds < self.low_seconds:
            raise ValueError(f"high_seconds {self.high_seconds} is below low_seconds {self.low_seconds}")
        return self

    @classmethod
    def fixed(cls, seconds: float) -> Span:
        """Always `seconds`."""
        return cls(low_seconds=seconds, high_seconds=seconds)

    def draw(self, generator: random.Random) -> float:
        """One duration; a fixed span draws nothing, so it leaves the generator where it was."""
        if self.low_seconds == self.high_seconds:
            return self.low_seconds
        return generator.uniform(self.low_seconds, self.high_seconds)


_FREE = Span.fixed(0.0)

# Lambda Developer Guide, "Understanding the Lambda execution environment lifecycle": the Init
# phase is limited to 10 seconds.
LAMBDA_INIT_LIMIT_SECONDS = 10.0
# Lambda Developer Guide, "Lambda quotas": 1,000 concurrent executions per Region by default.
DEFAULT_ACCOUNT_CONCURRENCY = 1000


class TimingConfig(BaseModel):
    """The figures of the latency model (README, "Timing in the local world", gives each source).

    `aws_operations` overrides `aws_call` for one operation, keyed `service.Operation` with
    botocore's service name (`sqs.ReceiveMessage`, `dynamodb.PutItem`); `function_durations`
    overrides `lambda_duration` for one function, by logical id or physical name.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    # Assumption: AWS publishes no per-call latency for most APIs; in-Region calls answer in
    # milliseconds to tens of milliseconds.
    aws_call: Span = Span(low_seconds=0.010, high_seconds=0.040)
    aws_operations: dict[str, Span] = Field(
        default_factory=lambda: {
            # DynamoDB Developer Guide, "What is Amazon DynamoDB?": single-digit millisecond
            # performance at any scale (the service side; the round trip adds a little).
            **{
                f"dynamodb.{operation}": Span(low_seconds=0.002, high_seconds=0.009)
                for operation in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query")
            },
        }
    )
    # Kubernetes SIG Scalability SLOs (kubernetes/community sig-scalability/slos/api_call_latency.md):
    # p99 per cluster-day <= 1 s for mutating calls and single-object reads, <= 5 s for a
    # namespace's list, <= 30 s for a cluster-wide list. The figures below are assumptions well
    # inside those bounds (a healthy, small EKS control plane).
    kubernetes_write: Span = Span(low_seconds=0.010, high_seconds=0.050)
    kubernetes_read_object: Span = Span(low_seconds=0.005, high_seconds=0.030)
    kubernetes_read_namespace: Span = Span(low_seconds=0.010, high_seconds=0.060)
    kubernetes_read_cluster: Span = Span(low_seconds=0.020, high_seconds=0.120)
    # Lambda Operator Guide, "Lambda execution environments" (cold starts and latency): a cold
    # start lasts from under 100 ms to over 1 second; the Init phase is limited to 10 s. The span
    # is an assumption for a Python function with ebb's layer.
    lambda_init: Span = Span(low_seconds=0.250, high_seconds=1.200)
    # Assumption: the compute of one invocation of ebb's handlers, apart from their calls and waits.
    lambda_duration: Span = Span(low_seconds=0.005, high_seconds=0.050)
    function_durations: dict[str, Span] = Field(default_factory=dict)
    # Assumption: AWS keeps an idle environment "for a non-deterministic period of time" (Lambda
    # Operator Guide, "Lambda execution environments"); the local world keeps it 10 minutes.
    lambda_idle_lifetime_seconds: Annotated[float, Field(gt=0)] = 600.0
    account_concurrency: Annotated[int, Field(ge=1)] = DEFAULT_ACCOUNT_CONCURRENCY

    @model_validator(mode="after")
    def _init_within_limit(self) -> Self:
        if self.lambda_init.high_seconds > LAMBDA_INIT_LIMIT_SECONDS:
            raise ValueError(
                f"lambda_init.high_seconds {self.lambda_init.high_seconds} exceeds Lambda's "
                f"{LAMBDA_INIT_LIMIT_SECONDS:.0f} s limit on the Init phase"
            )
        return self

    @classmethod
    def free(cls) -> TimingConfig:
        """Everything instantaneous (no concurrency limit beyond the account's): the world as it
        was before time cost anything, for tests that pin other arithmetic exactly."""
        return cls(enabled=False)


class LatencyModel:
    """Draws the figures of a `TimingConfig` and charges them to the actor that runs."""

    def __init__(self, config: TimingConfig, *, seed: int, clock: SimClock) -> None:
        self.config = config
        self._clock = clock
        # A generator of its own (a string seed is hashed the same way in every process).
        self._generator = random.Random(f"ebb-local-latency-{seed}")
        self._running: Actor | None = None

    @property
    def enabled(self) -> bool:
        """Whether anything costs time."""
        return self.config.enabled

    # -- figures ------------------------------------------------------------------------------

    def aws_call(self, service: str, operation: str) -> float:
        """The round trip of one AWS API call."""
        if not self.config.enabled:
            return 0.0
        span = self.config.aws_operations.get(f"{service}.{operation}", self.config.aws_call)
        return span.draw(self._generator)

    def kubernetes_call(self, method: str, path: str) -> float:
        """The round trip of one Kubernetes API request, by verb and scope."""
        if not self.config.enabled:
            return 0.0
        return self._kubernetes_span(method, path).draw(self._generator)

    def lambda_init(self) -> float:
        """The Init phase of a new execution environment."""
        return self.config.lambda_init.draw(self._generator) if self.config.enabled else 0.0

    def lambda_duration(self, logical_id: str, name: str) -> float:
        """The compute one invocation of the function is charged."""
        if not self.config.enabled:
            return 0.0
        durations = self.config.function_durations
        span = durations.get(logical_id) or durations.get(name) or self.config.lambda_duration
        return span.draw(self._generator)

    def _kubernetes_span(self, method: str, path: str) -> Span:
        if method.upper() not in {"GET", "HEAD"}:
            return self.config.kubernetes_write
        return {
            "object": self.config.kubernetes_read_object,
            "namespace": self.config.kubernetes_read_namespace,
            "cluster": self.config.kubernetes_read_cluster,
        }[kubernetes_scope(path)]

    # -- charging -----------------------------------------------------------------------------

    def on_switch(self, actor: Actor | None) -> None:
        """Clock hook: remember which actor holds the baton (None: the driver has it back)."""
        self._running = actor

    def charge_aws_call(self, service: str, operation: str, call: Any) -> Any:
        """Make the AWS call `call()` cost its latency to the calling actor, if one calls."""
        if self._clock.current_actor() is None or not self.config.enabled:
            return call()
        seconds = self.aws_call(service, operation)
        self._clock.sleep(seconds / 2)
        answer = call()
        self._clock.sleep(seconds / 2)
        return answer

    def charge_kubernetes_request(self, method: str, path: str, answer: Any) -> Any:
        """Make a Kubernetes request cost its latency to the actor that sent it.

        Runs in the HTTPS server's thread, while the sending actor holds the baton and waits on its
        socket: the server waits the simulated time on the actor's behalf (the actor's turn ends
        and comes back, as if it had slept), so the rest of the world runs meanwhile.
        """
        actor = self._running
        if actor is None or not self.config.enabled:
            return answer()
        seconds = self.kubernetes_call(method, path)
        self._wait_for(actor, seconds / 2)
        reply = answer()
        self._wait_for(actor, seconds / 2)
        return reply

    def install(self, patches: PatchSet) -> None:
        """Charge every AWS call moto answers (moto's botocore hook, pinned to moto 5.2.5)."""
        model = self
        pin = PinnedAttribute(
            BotocoreStubber,
            "__call__",
            "(self, event_name: str, request: botocore.awsrequest.AWSPreparedRequest, **kwargs: Any) "
            "-> botocore.awsrequest.AWSResponse | None",
        )

        def timed(original: Any) -> Any:
            def __call__(stubber: Any, event_name: str, request: Any, **kwargs: Any) -> Any:  # noqa: N807
                # botocore names the event before-send.<service>.<Operation>.
                _, service, operation = [*event_name.split(".", 2), "", ""][:3]
                return model.charge_aws_call(
                    service, operation, lambda: original(stubber, event_name, request, **kwargs)
                )

            return __call__

        patches.wrap_method(pin, timed)

    def _wait_for(self, actor: Actor, seconds: float) -> None:
        try:
            self._clock.park(actor, self._clock.now() + seconds)
        except WorldStopped:
            pass  # the world stops: answer at once, the actor unwinds at its next wait
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:
            # The actor's Lambda budget ran out meanwhile (park raises its timeout, a
            # BaseException): the actor's own next wait raises it again, in its own thread.
            pass


def kubernetes_scope(path: str) -> str:
    """`object`, `namespace` or `cluster`: what a read request is about (the SLO's scopes).

    `/api/v1/namespaces/ns/pods/name` and `/api/v1/nodes/name` name an object (a subresource
    too); `/api/v1/namespaces/ns/pods` lists a namespace; `/api/v1/pods` and `/api/v1/nodes`
    list the cluster.
    """
    segments = [segment for segment in path.split("?", 1)[0].split("/") if segment]
    if segments[:1] == ["api"]:
        rest = segments[2:]
    elif segments[:1] == ["apis"]:
        rest = segments[3:]
    else:
        return "object"  # /version, /healthz and the like: one small answer
    if rest[:1] == ["namespaces"] and len(rest) >= 3:
        return "object" if len(rest) >= 4 else "namespace"
    return "object" if len(rest) >= 2 else "cluster"
