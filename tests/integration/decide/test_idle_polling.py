"""The tick's slower cadence for a NodePool at rest (`ebb.service.idle_polling`), on the deployed
stack (template.yaml in the local world): a pool at rest is decided by the tick only on the
minutes that are a multiple of IDLE_POLL_MINUTES, its alarms still wake it at once, traffic its
alarm does not see is picked up at the next such minute, its SQS triggers' queues are read by
every tick, and a busy pool is decided every tick.

Sources: a CloudWatch alarm's state change is delivered to EventBridge as a "CloudWatch Alarm
State Change" event (CloudWatch User Guide, "Alarm events and EventBridge"), which is what wakes
a pool between polls; EventBridge Scheduler fires a rate schedule at a moment of its minute and
passes its scheduled time as `<aws.scheduler.scheduled-time>` (EventBridge Scheduler User Guide,
"Schedule types" and "Adding context attributes"), which the cadence is derived from; five minutes
is KEDA's default `cooldownPeriod`, 300 s (KEDA docs, "ScaledObject specification").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from ebb.adapters.kubernetes import WorkloadRef
from ebb.config import EbbConfig
from ebb.local.cluster import HyperPodOnEks
from ebb.local.stack_deployment import STACK, audit, kubernetes, run_past_next_tick, send_jobs
from ebb.service.idle_polling import IDLE_POLL_MINUTES, polls_every_pool
from ebb.service.signals import alarm_name

from .conftest import ExampleStack

pytestmark = pytest.mark.integration

WORKER = "batch/batch-worker"
LLM = "serving/llm-inference"
LLM_TARGET = WorkloadRef(namespace="serving", name="llm-inference")


def _ticks(cluster: HyperPodOnEks, since: datetime) -> list[datetime]:
    """The scheduled times of the stack's ticks fired from `since` on, oldest first."""
    return sorted(
        i.scheduled_time
        for i in cluster.world.scheduler.invocations
        if i.schedule_arn.endswith("SignalsFunctionTick") and i.invoked_at >= since
    )


def _until_a_polling_tick(cluster: HyperPodOnEks, example: ExampleStack) -> datetime:
    """Run until a tick that polls every pool has been decided; returns the moment after."""
    for _ in range(IDLE_POLL_MINUTES + 2):
        since = cluster.world.now()
        after = run_past_next_tick(cluster)
        if any(polls_every_pool(t) for t in _ticks(cluster, since)):
            return after
    raise AssertionError(f"no polling tick in {IDLE_POLL_MINUTES + 2} ticks")


def _decisions(cluster: HyperPodOnEks, example: ExampleStack, since: datetime) -> list[dict[str, Any]]:
    return sorted(example.pool_decisions(cluster, since), key=lambda d: d["at"])


def test_a_pool_at_rest_is_decided_only_on_the_polling_minutes(example: ExampleStack) -> None:
    with example.deployed() as (cluster, _config):
        run_past_next_tick(cluster)  # the configuration's first tick decides every pool
        run_past_next_tick(cluster)  # the new alarms' first edges (INSUFFICIENT_DATA -> OK) decided
        since = cluster.world.now()
        for _ in range(2 * IDLE_POLL_MINUTES + 1):
            run_past_next_tick(cluster)
        ticks = _ticks(cluster, since)
        polling = [t for t in ticks if polls_every_pool(t)]
        assert len(ticks) >= 2 * IDLE_POLL_MINUTES + 1
        assert len(polling) in {2, 3}
        decisions = _decisions(cluster, example, since)
        # One decision per polling tick, none on the ticks in between; each reads the LLM
        # service's two CloudWatch triggers, so its GetMetricData reads are a fifth of a minute's.
        assert len(decisions) == len(polling)
        assert all(d["reasons"] == ["tick"] for d in decisions)
        for decision, tick in zip(decisions, polling, strict=True):
            assert 0 <= (datetime.fromisoformat(decision["at"]) - tick).total_seconds() < 60
        llm = audit(cluster, LLM, since)
        assert len(llm) == len(polling)
        assert all(len(d["metrics"]) == 2 for d in llm)


def _llm_replicas(cluster: HyperPodOnEks, config: EbbConfig) -> int:
    client = kubernetes(cluster, config)
    try:
        return client.read_scale(LLM_TARGET).spec.replicas
    finally:
        client.close()


def _503s(cluster: HyperPodOnEks) -> None:
    """The load balancer's 503s of a request to the LLM service at zero: what its wake-up trigger
    reads (`HTTPCode_ELB_503_Count`, AWS/ApplicationELB, per LoadBalancer)."""
    cluster.world.clients.client("cloudwatch").put_metric_data(
        Namespace="AWS/ApplicationELB",
        MetricData=[
            {
                "MetricName": "HTTPCode_ELB_503_Count",
                "Dimensions": [{"Name": "LoadBalancer", "Value": "app/llm-inference/50dc6c495c0c9188"}],
                "Timestamp": cluster.world.now(),
                "Value": 3.0,
                "Unit": "Count",
            }
        ],
    )


def test_an_alarm_wakes_a_pool_at_rest_at_once(example: ExampleStack) -> None:
    with example.deployed() as (cluster, config):
        run_past_next_tick(cluster)
        polled = _until_a_polling_tick(cluster, example)
        _503s(cluster)
        # The wake-up trigger's alarm goes to ALARM on that datapoint: well before the next
        # polling minute, its edge has decided the pool.
        while not _decisions(cluster, example, polled):
            cluster.world.run_for(10)
        woken = _decisions(cluster, example, polled)[0]
        assert "alarm" in woken["reasons"]
        assert (datetime.fromisoformat(woken["at"]) - polled).total_seconds() < (IDLE_POLL_MINUTES - 1) * 60
        assert not any(polls_every_pool(t) for t in _ticks(cluster, polled))
        assert _llm_replicas(cluster, config) == 1


def test_traffic_its_alarm_does_not_see_is_picked_up_at_the_next_polling_minute(
    example: ExampleStack,
) -> None:
    with example.deployed() as (cluster, config):
        run_past_next_tick(cluster)
        # The LLM service's alarms deleted by hand: its 503s wake nothing.
        cloudwatch = cluster.world.clients.client("cloudwatch")
        names = [alarm_name(STACK, LLM, trigger) for trigger in ("requests-per-target", "wake-on-503")]
        cloudwatch.delete_alarms(AlarmNames=names)
        polled = _until_a_polling_tick(cluster, example)
        # Up to the next polling minute (its tick fires some moment of it, maybe seconds after the
        # tick before it): nothing decides the pool, whatever the 503s.
        minutes = int(polled.timestamp() // 60)
        polling_minute = datetime.fromtimestamp(
            (minutes + IDLE_POLL_MINUTES - minutes % IDLE_POLL_MINUTES) * 60, tz=polled.tzinfo
        )
        while cluster.world.now() < polling_minute:
            _503s(cluster)
            cluster.world.run_for(min(60.0, (polling_minute - cluster.world.now()).total_seconds()))
            assert _decisions(cluster, example, polled) == []
        assert _llm_replicas(cluster, config) == 0
        _503s(cluster)
        caught = _until_a_polling_tick(cluster, example)
        decision = _decisions(cluster, example, polled)[0]  # then its node's events follow
        assert decision["reasons"] == ["tick"]
        assert polls_every_pool(_ticks(cluster, polled)[-1])
        assert (caught - polled).total_seconds() <= (IDLE_POLL_MINUTES + 1) * 60
        assert _llm_replicas(cluster, config) == 1


def test_a_queue_trigger_of_a_pool_at_rest_is_read_by_every_tick(example: ExampleStack) -> None:
    """An SQS trigger's queue costs one GetQueueAttributes to read: the tick reads it every
    minute, so the first message waits neither for the queue's alarm nor for a polling minute."""
    with example.deployed() as (cluster, config):
        run_past_next_tick(cluster)
        polled = _until_a_polling_tick(cluster, example)
        send_jobs(cluster, 8)
        after = run_past_next_tick(cluster)
        ticks = _ticks(cluster, polled)  # one, or two a few seconds apart across a minute's end
        assert ticks
        assert not any(polls_every_pool(tick) for tick in ticks)
        first = _decisions(cluster, example, polled)[0]
        assert first["reasons"] == ["tick"]
        assert datetime.fromisoformat(first["at"]) < after
        assert example.worker_replicas(cluster, config) == 4


def test_a_busy_pool_is_decided_on_every_tick(example: ExampleStack) -> None:
    with example.deployed() as (cluster, config):
        run_past_next_tick(cluster)
        send_jobs(cluster, 8)
        while example.worker_replicas(cluster, config) == 0:
            run_past_next_tick(cluster)
        since = cluster.world.now()
        for _ in range(IDLE_POLL_MINUTES + 1):
            run_past_next_tick(cluster)
        ticks = _ticks(cluster, since)
        decided = [d for d in _decisions(cluster, example, since) if "tick" in d["reasons"]]
        assert len(ticks) >= IDLE_POLL_MINUTES + 1
        assert len(decided) == len(ticks)
        assert all(d["desired"] == 4 for d in audit(cluster, WORKER, since))
