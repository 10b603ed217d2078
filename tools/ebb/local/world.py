"""The entry point: start the local world from a template and a config.

    with start_local_world(Path("template.yaml"), LocalWorldConfig(seed=7)) as world:
        world.clients.client("sqs").send_message(QueueUrl=world.queue_url("Jobs"), MessageBody="job")
        balancer = world.create_load_balancer("web", availability_zones=("us-east-1a",))
        balancer.add_target_group("web", healthy_targets=lambda: [Target("pod-1", "us-east-1a")])
        balancer.set_request_rate("web", 600)
        world.run_for(600)      # AWS/SQS and AWS/ApplicationELB metrics appear, alarms follow
        ...

Starting the world: read and check the template (before anything else, so a wrong template
fails at once), start moto with real Step Functions execution, seed moto's identifiers, install
the clock and every patch (each pinned to moto 5.2.5), create the template's resources in moto,
import the handlers in their environments, and start the alarm evaluator, the scheduled rules,
Scheduler, the SQS pollers and the metrics AWS publishes by itself (`metric_publishing`: the
AWS/SQS metrics of every queue, and the AWS/ApplicationELB metrics of the load balancers made
with `create_load_balancer`). Stopping undoes everything. Later parts of the world (the HyperPod
and Kubernetes stand-ins) plug in as `WorldPart`s.
"""

from __future__ import annotations

import importlib
import json
import os
import random
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Protocol

import yaml
from moto import mock_aws
from moto.cloudwatch.models import CloudWatchBackend, Dimension, cloudwatch_backends
from moto.core.config import DefaultConfig
from moto.moto_api._internal import mock_random
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from ebb.local.alarms import AlarmEvaluator
from ebb.local.clock import DEFAULT_STALL_SECONDS, SimClock, TimerHandle
from ebb.local.clock_threads import install_clock, uninstall_clock
from ebb.local.errors import ClockMisuse, TemplateError
from ebb.local.eventbridge import EventBridgeBus
from ebb.local.kubernetes.https_server import install_request_timing, uninstall_request_timing
from ebb.local.lambda_runtime import InvocationResult, LambdaRuntime
from ebb.local.latency import LatencyModel, TimingConfig
from ebb.local.load_balancer import LoadBalancerError, LocalLoadBalancer
from ebb.local.metric_publishing import DEFAULT_PUBLISHING_DELAY_SECONDS, MetricPublisher
from ebb.local.patches import PatchSet, PinnedAttribute
from ebb.local.provisioning import provision
from ebb.local.queue_metrics import QueueMetrics
from ebb.local.randomness import SeededRandomness
from ebb.local.scheduler import SchedulerService
from ebb.local.sqs_event_sources import SqsEventSources
from ebb.local.stack_model import read_stack
from ebb.local.stack_resources import Stack
from ebb.local.stepfunctions_driver import THREADING_MODULES, RetryWait, StepFunctionsDriver
from ebb.local.targets import AwsClients, TargetInvoker, queue_url
from ebb.local.wall_clock import WallClockRedirect

MOTO_CONFIG: DefaultConfig = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}
# moto modules the world patches or reads; imported up front so that their clocks are redirected.
_MOTO_MODULES = (
    "moto.sqs.models",
    "moto.events.models",
    "moto.scheduler.models",
    "moto.cloudwatch.models",
    "moto.dynamodb.models",
    "moto.sns.models",
    "moto.iam.models",
    "moto.awslambda.models",
    "moto.awslambda_simple.models",
    "moto.stepfunctions.models",
    "moto.stepfunctions.parser.models",
    "moto.stepfunctions.parser.backend.execution",
    "moto.stepfunctions.parser.asl.eval.event.event_manager",
    "moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function",
    "moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp",
    *THREADING_MODULES,
)
_PUT_METRIC_DATA = PinnedAttribute(
    CloudWatchBackend,
    "put_metric_data",
    "(self, namespace: str, metric_data: list[dict[str, typing.Any]]) -> None",
)
# moto 5.2.5 matches a GetMetricData query's dimensions to a datum's by sorting both lists, with a
# `Dimension.__lt__` that compares a value with a name: the match then depends on the order the
# dimensions were given in. In CloudWatch the dimensions are name/value pairs, each "part of the
# identity of a metric" (CloudWatch API Reference, Dimension; the same text is in botocore's
# model), with no order among them, so the world orders them by (name, value).
_DIMENSION_ORDER = PinnedAttribute(Dimension, "__lt__", "(self, other: 'Dimension') -> bool")


def _dimension_before(dimension: Any, other: Any) -> bool:
    return (str(dimension.name), str(dimension.value)) < (str(other.name), str(other.value))


# The code under test draws unique tokens with `secrets` (the state table's epoch, decide's claim
# token), which would make two runs of one seed differ; inside the world they are drawn from the seed.
_TOKEN_HEX = PinnedAttribute(secrets, "token_hex", "(nbytes=None)")

_CLOCK_PREFIXES = ("moto", "aws_lambda_powertools", "ebb")
_TOOL_PACKAGES = ("ebb.local", "ebb.sim", "ebb.cli")
_running: list[LocalWorld] = []


class LocalWorldConfig(BaseModel):
    """How to start the local world. Loadable from YAML (`LocalWorldConfig.from_yaml`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = 0
    start_time: AwareDatetime = datetime(2025, 1, 6, 0, 0, tzinfo=UTC)
    region: Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")] = "us-east-1"
    account_id: Annotated[str, Field(pattern=r"^\d{12}$")] = "123456789012"
    stack_name: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9-]{0,127}$")] = "ebb-local"
    parameters: dict[str, str] = Field(default_factory=dict)
    environment: dict[str, str] = Field(default_factory=dict)
    stall_seconds: Annotated[float, Field(gt=0)] = DEFAULT_STALL_SECONDS
    # What calls, cold starts and compute cost in simulated time (ebb.local.latency).
    timing: TimingConfig = Field(default_factory=TimingConfig)
    metric_publishing_delay_seconds: Annotated[float, Field(ge=0)] = DEFAULT_PUBLISHING_DELAY_SECONDS
    """From the end of a one-minute period until AWS's datapoints for it are readable."""

    @classmethod
    def from_yaml(cls, path: Path) -> LocalWorldConfig:
        """Read a config file; errors name the file and the field."""
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            return cls.model_validate(data)
        except (OSError, yaml.YAMLError) as error:
            raise TemplateError(f"{path}: cannot read the local world config: {error}") from error
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in issue['loc'])}: {issue['msg']}" for issue in error.errors()
            )
            raise TemplateError(f"{path}: {problems}") from None


class WorldPart(Protocol):
    """A stand-in plugged into the world (HyperPod, Kubernetes, ...)."""

    def install(self, world: LocalWorld, patches: PatchSet) -> None:
        """Patch what it needs, before resources are created."""

    def start(self, world: LocalWorld) -> None:
        """Start its actors, once the template's resources exist."""

    def stop(self) -> None:
        """Undo what `install` did and stop what `start` started; safe to call more than once."""


class LocalWorld:
    """The running local world; see the module docstring."""

    def __init__(self, stack: Stack, config: LocalWorldConfig) -> None:
        self.stack = stack
        self.config = config
        self._parts: list[WorldPart] = []
        self.randomness = SeededRandomness(config.seed)
        self.clock = SimClock(config.start_time, stall_seconds=config.stall_seconds)
        self.latency = LatencyModel(config.timing, seed=config.seed, clock=self.clock)
        self.clients = AwsClients(config.region)
        self.wall_clock = WallClockRedirect(self.clock, prefixes=_CLOCK_PREFIXES, excluded=_TOOL_PACKAGES)
        self.lambda_runtime = LambdaRuntime(
            clock=self.clock,
            randomness=self.randomness,
            wall_clock=self.wall_clock,
            region=config.region,
            account_id=config.account_id,
            send_to_queue=self.send_to_queue,
            deliver_record=self._deliver_record,
            latency=self.latency,
            extra_environment=config.environment,
        )
        self.stepfunctions = StepFunctionsDriver(
            clock=self.clock, randomness=self.randomness, lambda_runtime=self.lambda_runtime
        )
        self.eventbridge = EventBridgeBus(
            clock=self.clock, randomness=self.randomness, account_id=config.account_id, region=config.region
        )
        self.targets = TargetInvoker(
            clients=self.clients,
            lambda_runtime=self.lambda_runtime,
            randomness=self.randomness,
            publish_event=self.eventbridge.publish,
        )
        self.eventbridge.targets = self.targets
        self.eventbridge.send_to_dead_letter_queue = self.send_to_queue
        self.scheduler = SchedulerService(
            clock=self.clock,
            randomness=self.randomness,
            account_id=config.account_id,
            region=config.region,
            targets=self.targets,
            send_to_dead_letter_queue=self.send_to_queue,
        )
        self.alarms = AlarmEvaluator(
            clock=self.clock,
            randomness=self.randomness,
            account_id=config.account_id,
            region=config.region,
            put_event=lambda event: self.eventbridge.publish(event, "default"),
        )
        self.sqs_event_sources = SqsEventSources(
            clock=self.clock,
            runtime=self.lambda_runtime,
            clients=self.clients,
            account_id=config.account_id,
            region=config.region,
        )
        self.metrics = MetricPublisher(
            clock=self.clock,
            put_metric_data=self._put_metric_data,
            delay_seconds=config.metric_publishing_delay_seconds,
        )
        self.queue_metrics = QueueMetrics(
            clock=self.clock, randomness=self.randomness, account_id=config.account_id, region=config.region
        )
        self.metrics.add_source(self.queue_metrics)
        self.load_balancers: dict[str, LocalLoadBalancer] = {}
        self.parts: list[WorldPart] = []
        self._patches = PatchSet()
        # The world's one seeded generator, for the stand-ins (their protocols read `random`).
        self.random: random.Random = self.randomness.generator

    # -- time -------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The simulated time."""
        return self.clock.now_datetime()

    def run_for(self, seconds: float) -> None:
        """Let `seconds` of simulated time pass, running everything due."""
        self.wall_clock.refresh()
        self.clock.run_for(seconds)

    def run_until(self, moment: datetime) -> None:
        """Let simulated time pass until `moment`."""
        self.wall_clock.refresh()
        self.clock.run_until(moment.timestamp())

    def run_until_quiet(self, max_seconds: float = 86400.0) -> bool:
        """Run until only background work (alarm ticks, idle pollers, future schedules) is pending.

        Returns False if `max_seconds` of simulated time passed first.
        """
        self.wall_clock.refresh()
        return self.clock.run_until_quiet(max_seconds)

    # -- doing things in the world ----------------------------------------------------------

    def function_name(self, logical_id_or_name: str) -> str:
        """The physical name of a template function (by logical id or name)."""
        spec = self.stack.functions.get(logical_id_or_name) or self.stack.function_by_name(logical_id_or_name)
        if spec is None:
            raise KeyError(f"no function {logical_id_or_name!r} in the template")
        return spec.name

    def invoke(self, function: str, event: Any) -> InvocationResult:
        """Invoke a template function synchronously (by logical id or name), in simulated time.

        Raises `LambdaThrottled` when the function has no concurrency left, as Invoke answers 429.
        """
        self.wall_clock.refresh()
        return self.lambda_runtime.invoke(self.function_name(function), event)

    def invoke_async(self, function: str, event: Any) -> str:
        """Invoke a template function asynchronously; returns the request id."""
        return self.lambda_runtime.invoke_async(self.function_name(function), event)

    def put_metric(
        self,
        namespace: str,
        metric_name: str,
        value: float,
        dimensions: dict[str, str] | None = None,
        *,
        timestamp: datetime | None = None,
        unit: str | None = None,
    ) -> None:
        """PutMetricData of one value, stamped with the simulated time unless given."""
        datum: dict[str, Any] = {
            "MetricName": metric_name,
            "Value": value,
            "Timestamp": timestamp or self.now(),
            "Dimensions": [{"Name": name, "Value": text} for name, text in (dimensions or {}).items()],
        }
        if unit is not None:
            datum["Unit"] = unit
        self.clients.client("cloudwatch").put_metric_data(Namespace=namespace, MetricData=[datum])

    def create_load_balancer(
        self, name: str, *, availability_zones: Sequence[str], identifier: str | None = None
    ) -> LocalLoadBalancer:
        """An Application Load Balancer whose AWS/ApplicationELB metrics the world publishes.

        `identifier` (16 hex digits, the end of its ARN) is drawn from the seed unless given, for
        a configuration that already names the load balancer's dimension value.
        """
        if name in self.load_balancers:
            raise LoadBalancerError(f"a load balancer named {name!r} already exists")
        balancer = LocalLoadBalancer(
            clock=self.clock,
            name=name,
            identifier=identifier or self.elb_identifier(),
            arn_prefix=f"arn:aws:elasticloadbalancing:{self.config.region}:{self.config.account_id}",
            availability_zones=tuple(availability_zones),
            make_identifier=self.elb_identifier,
        )
        self.load_balancers[name] = balancer
        self.metrics.add_source(balancer)
        return balancer

    def elb_identifier(self) -> str:
        """16 hex digits, as ends an ELB ARN, drawn from the world's seed."""
        return f"{self.randomness.generator.getrandbits(64):016x}"

    def _put_metric_data(self, namespace: str, data: list[dict[str, Any]]) -> None:
        # Straight into moto's backend, in the shape its PutMetricData parser hands it (and with its
        # validation): a service publishing is not a client call, and a minute's datapoints of
        # every queue and load balancer would cost ~25 ms a call through botocore.
        backend = cloudwatch_backends[self.config.account_id][self.config.region]
        _PUT_METRIC_DATA.check()
        backend.put_metric_data(namespace, data)

    def emit_event(
        self,
        *,
        source: str,
        detail_type: str,
        detail: dict[str, Any],
        resources: list[str] | None = None,
        bus: str = "default",
    ) -> dict[str, Any]:
        """Build an event in the real EventBridge shape, put it on a bus, and return it."""
        return self.eventbridge.put_event(
            source=source, detail_type=detail_type, detail=detail, resources=resources, bus_name=bus
        )

    # -- what the stand-ins of later issues run on (random, now, call_later, put_event) ------

    def call_later(
        self,
        seconds: float,
        callback: Callable[[], None],
        *,
        name: str = "stand-in timer",
        daemon: bool = False,
    ) -> TimerHandle:
        """Run `callback` (which must not wait) once `seconds` of simulated time have passed."""
        return self.clock.call_later(seconds, callback, name=name, daemon=daemon)

    def put_event(self, event: Mapping[str, Any], bus: str = "default") -> None:
        """Put a whole EventBridge event (the envelope) on a bus."""
        self.eventbridge.publish(dict(event), bus)

    def state_machine_arn(self, logical_id: str) -> str:
        """The ARN of a template state machine."""
        return self.stack.state_machines[logical_id].arn

    def queue_url(self, logical_id: str) -> str:
        """The URL of a template queue."""
        return self.stack.queues[logical_id].url

    def execution_history(self, execution_arn: str) -> list[dict[str, Any]]:
        """The full history of an execution (all pages)."""
        sfn = self.clients.client("stepfunctions")
        events: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = sfn.get_execution_history(
                executionArn=execution_arn, **({"nextToken": token} if token else {})
            )
            events += page["events"]
            token = page.get("nextToken")
            if not token:
                return events

    def timeline(self) -> list[tuple[str, str, str]]:
        """Everything the world did, as (time, kind, what) in simulated-time order (stable)."""
        entries: list[tuple[datetime, int, str, str]] = []

        def add(moment: datetime, kind: str, what: object) -> None:
            entries.append((moment, len(entries), kind, json.dumps(what, sort_keys=True, default=str)))

        for record in self.lambda_runtime.invocations:
            add(
                record.started_at,
                "lambda",
                [
                    record.function_name,
                    record.request_id,
                    record.attempt,
                    record.event,
                    record.environment,
                    record.init_seconds,
                ],
            )
            add(
                record.ended_at,
                "lambda-result",
                [record.request_id, record.result.function_error, record.result.payload],
            )
        for throttle in self.lambda_runtime.throttles:
            add(
                throttle.at,
                "lambda-throttle",
                [throttle.function_name, throttle.request_id, throttle.invocation_type, throttle.reason],
            )
        for delivery in self.eventbridge.deliveries:
            add(
                delivery.at,
                "eventbridge",
                [delivery.rule_name, delivery.target_id, delivery.event_id, delivery.outcome],
            )
        for change in self.alarms.transitions:
            add(change.at, "alarm", [change.alarm_name, change.previous, change.state, change.event["id"]])
        for invocation in self.scheduler.invocations:
            add(
                invocation.invoked_at,
                "schedule",
                [invocation.schedule_arn, invocation.payload, invocation.outcome],
            )
        for outcome in self.sqs_event_sources.outcomes:
            add(
                outcome.started_at,
                "sqs-batch",
                [outcome.mapping, outcome.message_ids, outcome.failed_message_ids, outcome.throttles],
            )
        for wait in self.stepfunctions.retry_waits:
            add(
                wait.started_at,
                "retry-wait",
                [wait.execution_arn, wait.state_name, wait.retry_count, wait.interval_seconds],
            )
        return [
            (moment.isoformat(), kind, what)
            for moment, _, kind, what in sorted(entries, key=lambda e: (e[0], e[1]))
        ]

    def retry_waits(self, execution_arn: str) -> list[RetryWait]:
        """The retry intervals one execution waited."""
        return self.stepfunctions.retry_waits_of(execution_arn)

    def receive_all(self, queue_logical_id_or_arn: str) -> list[dict[str, Any]]:
        """Every message currently receivable from a queue (attributes included); for assertions."""
        spec = self.stack.queues.get(queue_logical_id_or_arn)
        url = spec.url if spec is not None else queue_url(queue_logical_id_or_arn)
        sqs = self.clients.client("sqs")
        messages: list[dict[str, Any]] = []
        while True:
            page = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            ).get("Messages", [])
            if not page:
                return messages
            messages += page

    def send_to_queue(self, queue_arn: str, body: str, attributes: dict[str, dict[str, str]]) -> None:
        """SendMessage to a queue by ARN (dead-letter queues, destinations)."""
        extra: dict[str, Any] = {}
        if queue_arn.endswith(".fifo"):
            extra = {"MessageGroupId": "ebb-local", "MessageDeduplicationId": self.randomness.uuid4()}
        self.clients.client("sqs").send_message(
            QueueUrl=queue_url(queue_arn), MessageBody=body, MessageAttributes=attributes, **extra
        )

    def _deliver_record(self, destination_arn: str, record: dict[str, Any]) -> None:
        service = destination_arn.split(":")[2]
        if service == "sqs":
            self.send_to_queue(destination_arn, json.dumps(record), {})
        elif service == "sns":
            self.clients.client("sns").publish(TopicArn=destination_arn, Message=json.dumps(record))
        elif service == "lambda":
            self.lambda_runtime.invoke_async(destination_arn, record)
        elif service == "events":
            detail_type = (
                "Lambda Function Invocation Result - Success"
                if record["requestContext"]["condition"] == "Success"
                else "Lambda Function Invocation Result - Failure"
            )
            self.eventbridge.put_event(
                source="lambda",
                detail_type=detail_type,
                detail=record,
                resources=[record["requestContext"]["functionArn"]],
                bus_name=destination_arn.rsplit("/", 1)[-1],
            )

    # -- starting and stopping --------------------------------------------------------------

    def _install(self, parts: Sequence[WorldPart]) -> None:
        self._parts.extend(parts)
        for module in _MOTO_MODULES:
            importlib.import_module(module)
        mock_random.seed(self.randomness.derived_seed())
        install_clock(self.clock)
        self.wall_clock.install()
        self.clock.switch_hooks.append(self.lambda_runtime.on_switch)
        self.clock.switch_hooks.append(self.latency.on_switch)
        self.latency.install(self._patches)
        install_request_timing(self.latency.charge_kubernetes_request)
        self.stepfunctions.install(self._patches)
        self.eventbridge.install(self._patches)
        self.scheduler.install(self._patches)
        self.alarms.install(self._patches)
        self.sqs_event_sources.install(self._patches)
        self.queue_metrics.install(self._patches)
        self._patches.replace(_DIMENSION_ORDER, _dimension_before)
        self._patches.replace(_TOKEN_HEX, self.randomness.token_hex)
        for part in parts:
            self.parts.append(part)
            part.install(self, self._patches)

    def _start_services(self) -> None:
        self.alarms.start()
        self.eventbridge.start()
        self.scheduler.start()
        self.sqs_event_sources.start(list(self.stack.event_source_mappings))
        self.metrics.start()
        for part in self.parts:
            part.start(self)

    def _stop(self) -> None:
        # Parts first, newest first: they may still read the clock or moto while stopping.
        for part in reversed(self._parts):
            part.stop()
        self.clock.close()
        self._patches.undo()
        uninstall_request_timing(self.latency.charge_kubernetes_request)
        self.lambda_runtime.on_switch(None)
        self.wall_clock.uninstall()
        uninstall_clock(self.clock)


@contextmanager
def start_local_world(
    template: Path, config: LocalWorldConfig | None = None, *, parts: Sequence[WorldPart] = ()
) -> Iterator[LocalWorld]:
    """Start the local world from `template` (SAM/CloudFormation) and `config`; stop it on exit."""
    if _running:
        raise ClockMisuse("a local world is already running in this process; stop it before starting another")
    config = config or LocalWorldConfig()
    stack = read_stack(
        template,
        stack_name=config.stack_name,
        region=config.region,
        account_id=config.account_id,
        parameters=config.parameters,
    )
    saved_environment = dict(os.environ)
    mock = mock_aws(config=MOTO_CONFIG)
    mock.start()
    world = LocalWorld(stack, config)
    _running.append(world)
    try:
        world._install(parts)
        provision(world.stack, world.clients, world.lambda_runtime)
        world._start_services()
        yield world
    finally:
        _running.remove(world)
        world._stop()
        mock.stop()
        os.environ.clear()
        os.environ.update(saved_environment)
