"""Time costs something in the local world: calls, cold starts, compute, and concurrency limits.

Facts and sources:
- Lambda Developer Guide, "Understanding the Lambda execution environment lifecycle": a new
  execution environment runs its Init phase (limited to 10 s) before the first invocation; a
  reused (warm) one does not; an environment processes one invocation at a time. Lambda Operator
  Guide, "Lambda execution environments": a cold start lasts from under 100 ms to over 1 second.
- Lambda Developer Guide, "Lambda scaling behavior" and "Configuring reserved concurrency": a
  function with reserved concurrency runs at most that many invocations at once; beyond it Lambda
  throttles (TooManyRequestsException, HTTP 429; Reason
  ReservedFunctionConcurrentInvocationLimitExceeded in botocore's lambda service model).
- Lambda Developer Guide, "How Lambda handles errors and retries with asynchronous invocation":
  throttled events are retried for up to the maximum event age, "the retry interval increases
  exponentially from 1 second after the first attempt to a maximum of 5 minutes"; an event too
  old goes to the on-failure destination with condition EventAgeExceeded.
- Lambda Developer Guide, "Handling errors for an SQS event source in Lambda" (backoff strategy
  for failed invocations): a throttled batch is retried with backoff until the messages'
  visibility timeout ends; they then become visible again. "Configuring scaling behavior for SQS
  event source mappings": MaximumConcurrency caps the invocations one mapping runs at once.
- Kubernetes SIG Scalability, kubernetes/community sig-scalability/slos/api_call_latency.md: API
  call latency depends on the verb and the scope (single object, namespace, cluster).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import boto3
import pytest
from pydantic import ValidationError

from ebb.adapters.kubernetes import EksKubernetesClient, WorkloadRef
from ebb.adapters.kubernetes.errors import KubernetesNotFound
from ebb.local.cluster import ClusterWorldConfig, start_cluster_world
from ebb.local.lambda_runtime import InvocationRecord, LambdaThrottled
from ebb.local.latency import Span, TimingConfig, kubernetes_scope
from ebb.local.world import LocalWorld, LocalWorldConfig, start_local_world

pytestmark = pytest.mark.integration

HERE = Path(__file__).parent
TEMPLATE = HERE / "timing" / "template.yaml"
CLUSTER_TEMPLATE = HERE.parent / "world" / "template.yaml"
# Fixed figures, so that every expected moment below is plain arithmetic.
AWS_CALL = 0.02
INIT = 0.5
COMPUTE = 0.01
FIXED = TimingConfig(
    aws_call=Span.fixed(AWS_CALL),
    aws_operations={},
    lambda_init=Span.fixed(INIT),
    lambda_duration=Span.fixed(COMPUTE),
)


@pytest.fixture
def world() -> Iterator[LocalWorld]:
    """The timing template, with fixed figures."""
    with start_local_world(TEMPLATE, LocalWorldConfig(seed=5, timing=FIXED)) as running:
        yield running


def of(world: LocalWorld, function: str) -> list[InvocationRecord]:
    name = world.function_name(function)
    return [record for record in world.lambda_runtime.invocations if record.function_name == name]


def seconds_since(start: datetime, moment: datetime) -> float:
    return round((moment - start).total_seconds(), 6)


def test_a_cold_start_adds_init_time_once_per_environment(world: LocalWorld) -> None:
    start = world.now()
    first = world.invoke("Echo", {"n": 1})
    second = world.invoke("Echo", {"n": 2})
    cold, warm = of(world, "Echo")

    # The handler ran after the Init phase; the second invocation reused the environment.
    assert datetime.fromisoformat(first.payload["seen_at"]) == start + timedelta(seconds=INIT)
    assert (cold.init_seconds, warm.init_seconds) == (INIT, 0.0)
    assert warm.environment == cold.environment
    assert seconds_since(start, cold.ended_at) == INIT + COMPUTE
    assert seconds_since(start, datetime.fromisoformat(second.payload["seen_at"])) == INIT + COMPUTE
    assert seconds_since(warm.started_at, warm.ended_at) == COMPUTE

    # Two at once need two environments: the warm one, and a new one that pays its Init.
    world.invoke_async("Echo", {"n": 3})
    world.invoke_async("Echo", {"n": 4})
    world.run_for(5)
    third, fourth = of(world, "Echo")[2:]
    assert (third.environment, third.init_seconds) == (cold.environment, 0.0)
    assert fourth.environment != cold.environment
    assert fourth.init_seconds == INIT

    # An environment idle for longer than the local world keeps it (10 minutes) is gone.
    world.run_for(601)
    world.invoke("Echo", {"n": 5})
    latest = of(world, "Echo")[-1]
    assert latest.init_seconds == INIT
    assert latest.environment not in {cold.environment, fourth.environment}


def test_reserved_concurrency_throttles_a_synchronous_invocation(world: LocalWorld) -> None:
    world.invoke_async("Limited", {"seconds": 10})
    with pytest.raises(LambdaThrottled) as throttled:
        world.invoke("Limited", {"seconds": 1})
    assert type(throttled.value) is LambdaThrottled
    assert str(throttled.value) == (
        f"Rate Exceeded. {world.function_name('Limited')}: ReservedFunctionConcurrentInvocationLimitExceeded"
    )
    assert throttled.value.reason == "ReservedFunctionConcurrentInvocationLimitExceeded"


def test_the_invoke_api_answers_a_throttle_with_too_many_requests(world: LocalWorld) -> None:
    world.invoke_async("Limited", {"seconds": 10})
    lambda_client = world.clients.client("lambda")
    refused: list[BaseException] = []

    def call() -> None:
        try:
            lambda_client.invoke(FunctionName=world.function_name("Limited"), Payload=b'{"seconds": 1}')
        except lambda_client.exceptions.TooManyRequestsException as error:
            refused.append(error)

    # From an actor (a handler would call it so), after the first invocation took the one slot.
    world.clock.wait_for_actor(world.clock.spawn(call, name="caller"), None)
    (error,) = refused
    assert error.response["Error"]["Code"] == "TooManyRequestsException"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert error.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"


def test_a_throttled_async_event_is_retried_with_a_doubling_interval_until_a_slot_frees(
    world: LocalWorld,
) -> None:
    start = world.now()
    world.invoke_async("Limited", {"seconds": 10})
    world.invoke_async("Limited", {"seconds": 1})
    world.run_for(60)

    throttles = [seconds_since(start, throttle.at) for throttle in world.lambda_runtime.throttles]
    assert throttles == [0.0, 1.0, 3.0, 7.0]  # retried after 1, 2 and 4 s; the slot frees at 10.5
    long, short = of(world, "Limited")
    assert (seconds_since(start, long.started_at), seconds_since(start, long.ended_at)) == (
        0.0,
        INIT + 10 + COMPUTE,
    )
    assert seconds_since(start, short.started_at) == 15.0  # after a further 8 s
    assert (short.environment, short.init_seconds) == (long.environment, 0.0)


def test_an_async_event_throttled_past_its_maximum_age_goes_to_the_failure_destination(
    world: LocalWorld,
) -> None:
    start = world.now()
    world.invoke_async("Limited", {"seconds": 100})
    request_id = world.invoke_async("Limited", {"seconds": 1})
    world.run_for(200)

    # Retries at 1, 3, 7, 15 and 31 s; the next, at 63 s, would be past the 60 s maximum age.
    assert [
        seconds_since(start, t.at) for t in world.lambda_runtime.throttles if t.request_id == request_id
    ] == [
        0.0,
        1.0,
        3.0,
        7.0,
        15.0,
        31.0,
    ]
    assert len(of(world, "Limited")) == 1
    (failure,) = world.receive_all("LimitedFailures")
    record = json.loads(failure["Body"])
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["requestId"] == request_id
    assert record["responseContext"]["statusCode"] == 429
    assert record["requestPayload"] == {"seconds": 1}


def test_an_sqs_batch_throttled_past_its_visibility_timeout_comes_back_later(world: LocalWorld) -> None:
    start = world.now()
    sqs = world.clients.client("sqs")
    sqs.send_message(QueueUrl=world.queue_url("Work"), MessageBody="18")
    sqs.send_message(QueueUrl=world.queue_url("Work"), MessageBody="1")
    world.run_for(100)

    # (Outcomes are recorded as batches end.)
    throttled, long, retried = world.sqs_event_sources.outcomes
    # MaximumConcurrency 2 lets the mapping take both messages; the function's reserved
    # concurrency of 1 runs one. The other is retried after 1, 2, 4 and 8 s; the next retry would
    # end past its 20 s visibility timeout, so Lambda gives it up at 15 s.
    assert throttled.bodies == ["1"]
    assert throttled.throttled
    assert throttled.throttles == 5
    assert seconds_since(start, throttled.ended_at) == 2 * AWS_CALL + 15
    # The long one finishes; the given-up message is visible again after its timeout, and runs.
    assert long.bodies == ["18"]
    assert long.succeeded
    assert retried.bodies == ["1"]
    assert retried.succeeded
    assert retried.started_at >= throttled.started_at + timedelta(seconds=20)
    (last,) = [i for i in of(world, "Worker") if i.event["Records"][0]["body"] == "1"]
    assert last.event["Records"][0]["attributes"]["ApproximateReceiveCount"] == "2"


def test_maximum_concurrency_delays_a_mappings_third_batch_until_one_is_done(world: LocalWorld) -> None:
    start = world.now()
    sqs = world.clients.client("sqs")
    for _ in range(3):
        sqs.send_message(QueueUrl=world.queue_url("Paced"), MessageBody="5")
    world.run_for(60)

    started = sorted(seconds_since(start, outcome.started_at) for outcome in world.sqs_event_sources.outcomes)
    first_done = min(seconds_since(start, outcome.ended_at) for outcome in world.sqs_event_sources.outcomes)
    # Two run at once (no throttle: the function has no reserved concurrency); the third batch is
    # received only once one of them is done, after its Init phase, 5 s nap and compute.
    assert len(started) == 3
    assert started[1] < 1
    assert started[2] >= first_done >= INIT + 5
    assert world.lambda_runtime.throttles == []


def test_an_end_to_end_timing_now_takes_simulated_time() -> None:
    def queue_to_queue(timing: TimingConfig) -> float:
        """Seconds from a request's SentTimestamp to its forwarded result's."""
        with start_local_world(TEMPLATE, LocalWorldConfig(seed=5, timing=timing)) as world:
            world.clients.client("sqs").send_message(QueueUrl=world.queue_url("Requests"), MessageBody="ping")
            world.run_for(30)
            (result,) = world.receive_all("Results")
            (invocation,) = of(world, "Forwarder")
            sent = invocation.event["Records"][0]["attributes"]["SentTimestamp"]
            return (int(result["Attributes"]["SentTimestamp"]) - int(sent)) / 1000

    # Before time cost anything, this measured 0 by construction.
    assert queue_to_queue(TimingConfig.free()) == 0.0
    # Now: the poller's two ReceiveMessage calls (the second finds the queue empty), the cold
    # environment's Init phase, and SendMessage's way to SQS (half its round trip).
    assert queue_to_queue(FIXED) == pytest.approx(2 * AWS_CALL + INIT + AWS_CALL / 2, abs=0.001)
    assert queue_to_queue(TimingConfig()) > 0.25  # the default figures: at least one Init phase


def busy_hour(seed: int) -> tuple[list[tuple[str, str, str]], list[tuple[float, float]]]:
    """Invocations, queue batches and throttles under the default (drawn) figures."""
    with start_local_world(TEMPLATE, LocalWorldConfig(seed=seed)) as world:
        sqs = world.clients.client("sqs")
        for minute in range(0, 60, 5):
            sqs.send_message(QueueUrl=world.queue_url("Requests"), MessageBody=f"r{minute}")
            sqs.send_message(QueueUrl=world.queue_url("Work"), MessageBody="2")
            sqs.send_message(QueueUrl=world.queue_url("Work"), MessageBody="1")
            sqs.send_message(
                QueueUrl=world.queue_url("Ledger"),
                MessageBody=f"g{minute % 2}:{minute // 10 + 1}",
                MessageGroupId=f"g{minute % 2}",
            )
            world.invoke_async("Echo", {"minute": minute})
            world.invoke_async("Echo", {"minute": minute, "again": True})
            world.run_for(300)
        world.run_until_quiet()
        costs = [(record.init_seconds, record.compute_seconds) for record in world.lambda_runtime.invocations]
        return world.timeline(), costs


def test_the_same_seed_gives_the_same_timeline_with_its_latencies() -> None:
    first, first_costs = busy_hour(seed=31)
    second, second_costs = busy_hour(seed=31)
    other, other_costs = busy_hour(seed=32)

    assert first == second
    assert first_costs == second_costs
    assert first_costs != other_costs
    assert first != other
    assert {kind for _, kind, _ in first} >= {"lambda", "lambda-result", "sqs-batch", "lambda-throttle"}


def test_kubernetes_calls_cost_their_latency_by_verb_and_scope() -> None:
    timing = TimingConfig(
        aws_call=Span.fixed(0.0),
        aws_operations={},
        kubernetes_read_cluster=Span.fixed(0.25),
        kubernetes_read_object=Span.fixed(0.05),
        kubernetes_write=Span.fixed(0.1),
    )
    with start_cluster_world(
        CLUSTER_TEMPLATE, LocalWorldConfig(seed=5, timing=timing), ClusterWorldConfig()
    ) as cluster:
        world = cluster.world
        spent: list[float] = []

        def adapter() -> EksKubernetesClient:
            return EksKubernetesClient.for_eks_cluster(
                cluster.config.eks_cluster_name, session=boto3.Session(region_name=world.config.region)
            )

        def calls() -> None:
            client = adapter()
            moments = [world.clock.now()]
            client.list_nodes()  # GET, cluster scope
            moments.append(world.clock.now())
            with pytest.raises(KubernetesNotFound):
                client.read_scale(WorkloadRef(namespace="default", name="absent"))  # GET, one object
            moments.append(world.clock.now())
            with pytest.raises(KubernetesNotFound):
                client.cordon("absent")  # PATCH
            moments.append(world.clock.now())
            spent.extend(round(later - earlier, 3) for earlier, later in itertools.pairwise(moments))

        # As an actor of the clock (a handler, say), each request costs its latency.
        world.clock.wait_for_actor(world.clock.spawn(calls, name="kubernetes caller"), None)
        assert spent == [0.25, 0.05, 0.1]
        # The test itself, driving the world from outside, is not charged.
        before = world.now()
        adapter().list_nodes()
        assert world.now() == before


@pytest.mark.parametrize(
    ("path", "scope"),
    [
        ("/api/v1/nodes", "cluster"),
        ("/api/v1/pods", "cluster"),
        ("/api/v1/nodes/hyperpod-i-0abc", "object"),
        ("/api/v1/namespaces/default/pods", "namespace"),
        ("/api/v1/namespaces/default/pods/web-1", "object"),
        ("/apis/apps/v1/namespaces/default/deployments/web/scale", "object"),
        ("/apis/policy/v1/namespaces/default/poddisruptionbudgets", "namespace"),
        ("/apis/policy/v1/poddisruptionbudgets", "cluster"),
        ("/api/v1/namespaces", "cluster"),
        ("/api/v1/namespaces/default", "object"),
    ],
)
def test_a_kubernetes_read_is_scoped_as_the_slo_scopes_it(path: str, scope: str) -> None:
    # api_call_latency.md: "resource if the request is about a single object, namespace if it is
    # about objects from a single namespace or cluster if it spawns objects from multiple namespaces".
    assert kubernetes_scope(path) == scope


def test_an_init_phase_longer_than_lambdas_limit_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"lambda_init.high_seconds 12.0 exceeds Lambda's 10 s limit"):
        TimingConfig(lambda_init=Span(low_seconds=1, high_seconds=12))
    with pytest.raises(ValidationError, match=r"high_seconds 0.1 is below low_seconds 0.2"):
        Span(low_seconds=0.2, high_seconds=0.1)
