"""Sub-minute polling (`subMinutePolling`, `ebb.service.sub_minute_polls`) on the deployed stack
(template.yaml in the local world): a pool whose scaler opts in with `pollingInterval: 15` is
decided four times a minute while busy, a pool that does not opt in once a minute, a poll
delivered twice decides once, a pool at rest is not polled, and a malformed poll is kept as a
rejected event.

Sources: KEDA checks each trigger every `pollingInterval` seconds, default 30 (KEDA docs,
"ScaledObject specification"); EventBridge Scheduler's finest rate is one minute and it fires a
rate schedule at some moment of its minute ("Schedule types on EventBridge Scheduler"); a message
timer hides one message of a standard queue for up to 15 minutes, and "FIFO queues don't support
timers on individual messages" (SQS Developer Guide, "Amazon SQS message timers"); a standard
queue delivers at least once (SQS Developer Guide, "Amazon SQS standard queues"); a FIFO message
whose deduplication id was accepted in the last five minutes is accepted and not delivered (SQS
Developer Guide, "Using the message deduplication ID").
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ebb.local.cluster import HyperPodOnEks
from ebb.local.stack_deployment import STACK, audit, run_past_next_tick, send_jobs
from ebb.service.idle_polling import IDLE_POLL_MINUTES, polls_every_pool

from .conftest import ExampleStack, edit_binding

pytestmark = pytest.mark.integration

WORKER = "batch/batch-worker"
LLM = "serving/llm-inference"
POLLS = "SignalsFunctionPolls"
"""The poll queue's event source mapping (template.yaml: SignalsFunction, event Polls)."""
DECISIONS = "DecideFunctionDecisions"


def _opt_in(scaler: str) -> Callable[[Path], None]:
    namespace, name = scaler.split("/")

    def edit(directory: Path) -> None:
        def change(spec: dict[str, Any]) -> None:
            for entry in spec["scalers"]:
                if entry["scaledObject"] == {"name": name, "namespace": namespace}:
                    entry["subMinutePolling"] = True

        edit_binding(directory, change)

    return edit


def _next_minute(cluster: HyperPodOnEks) -> datetime:
    """Run to the start of the next whole minute; returns it."""
    now = cluster.world.now()
    start = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    cluster.world.run_for((start - now).total_seconds())
    return start


def _decided(cluster: HyperPodOnEks, since: datetime, until: datetime) -> list[dict[str, Any]]:
    records = audit(cluster, "POOL#gpu", since)
    return sorted(
        (r for r in records if "event" not in r and datetime.fromisoformat(r["at"]) < until),
        key=lambda r: r["at"],
    )


def _offset(record: dict[str, Any]) -> float:
    at = datetime.fromisoformat(record["at"])
    return at.second + at.microsecond / 1e6


def _outcomes(cluster: HyperPodOnEks, mapping: str) -> list[Any]:
    return [o for o in cluster.world.sqs_event_sources.outcomes if o.mapping == mapping]


def _busy(example: ExampleStack, cluster: HyperPodOnEks, config: Any) -> None:
    """The batch worker at 4 replicas on its 8 queued jobs (nothing consumes them here): its pool
    is not at rest from then on."""
    run_past_next_tick(cluster)
    send_jobs(cluster, 8)
    example.run_until_worker_replicas(cluster, config, 4)


def test_an_opted_in_pool_with_pollinginterval_15_is_decided_four_times_a_minute(
    example: ExampleStack,
) -> None:
    minutes = 4
    with example.deployed(edit=_opt_in(WORKER)) as (cluster, config):
        _busy(example, cluster, config)
        run_past_next_tick(cluster)  # a tick that sees the pool busy sends the next minute's polls
        start = _next_minute(cluster)
        cluster.world.run_for(minutes * 60 + 10)
        decided = _decided(cluster, start, start + timedelta(minutes=minutes))

        polls = [r for r in decided if "poll" in r["reasons"]]
        ticks = [r for r in decided if "tick" in r["reasons"]]
        # Each minute: its tick (at some moment of the minute) and three polls, due at :15, :30
        # and :45 of the minute and decided within seconds of it.
        assert len(ticks) == minutes
        assert len(polls) == 3 * minutes
        for minute in range(minutes):
            due = [start + timedelta(minutes=minute, seconds=offset) for offset in (15, 30, 45)]
            for when in due:
                (poll,) = [
                    r for r in polls if when <= datetime.fromisoformat(r["at"]) < when + timedelta(seconds=5)
                ]
                assert poll["requestsByReason"]["poll"] == 1
        assert len([r for r in decided if {"poll", "tick"} & set(r["reasons"])]) == 4 * minutes
        # Both scalers of the pool are decided in each of its decisions, the opted-in one and not.
        llm = [
            r
            for r in audit(cluster, LLM, start)
            if datetime.fromisoformat(r["at"]) < start + timedelta(minutes=minutes)
        ]
        assert len(llm) == len(decided)
        assert all(len(r["metrics"]) == 2 for r in llm)


def test_a_pool_not_opted_in_is_decided_once_a_minute(example: ExampleStack) -> None:
    minutes = 3
    with example.deployed() as (cluster, config):
        _busy(example, cluster, config)
        start = _next_minute(cluster)
        cluster.world.run_for(minutes * 60 + 10)
        decided = _decided(cluster, start, start + timedelta(minutes=minutes))

        assert [r for r in decided if "poll" in r["reasons"]] == []
        assert len([r for r in decided if "tick" in r["reasons"]]) == minutes
        assert _outcomes(cluster, POLLS) == []  # the tick left no poll in the poll queue
        assert cluster.world.receive_all("PollQueue") == []


def _decision_requests(cluster: HyperPodOnEks, event_id: str) -> list[str]:
    """The decide function's deliveries of one decision request (by its event id)."""
    return [
        body
        for outcome in _outcomes(cluster, DECISIONS)
        for body in outcome.bodies
        if json.loads(body)["eventId"] == event_id
    ]


def test_a_poll_delivered_twice_decides_once(example: ExampleStack) -> None:
    with example.deployed(edit=_opt_in(WORKER)) as (cluster, config):
        _busy(example, cluster, config)
        run_past_next_tick(cluster)
        while not _outcomes(cluster, POLLS):
            cluster.world.run_for(5)
        (body,) = _outcomes(cluster, POLLS)[0].bodies
        poll = json.loads(body)
        event_id = f"poll:{datetime.fromisoformat(poll['dueAt']).isoformat()}"
        assert len(_decision_requests(cluster, event_id)) == 1
        sqs = cluster.world.clients.client("sqs")
        # Delivered again within its interval (as a standard queue may): forwarded again, and the
        # FIFO decision queue drops it, its deduplication id (pool and due time) already taken.
        sqs.send_message(QueueUrl=cluster.world.queue_url("PollQueue"), MessageBody=body)
        cluster.world.run_for(5)
        assert [o.bodies for o in _outcomes(cluster, POLLS)].count([body]) == 2
        assert len(_decision_requests(cluster, event_id)) == 1
        # And again six minutes later, past the five-minute deduplication interval: stale (due
        # more than its interval ago), so the signals function drops it.
        cluster.world.run_for(6 * 60)
        sqs.send_message(QueueUrl=cluster.world.queue_url("PollQueue"), MessageBody=body)
        cluster.world.run_for(5)
        assert [o.bodies for o in _outcomes(cluster, POLLS)].count([body]) == 3
        assert len(_decision_requests(cluster, event_id)) == 1
        polled = [r for r in audit(cluster, "POOL#gpu") if "poll" in r.get("reasons", [])]
        assert len(polled) == len({r["at"] for r in polled})


def test_a_pool_at_rest_is_not_polled_sub_minute(example: ExampleStack) -> None:
    with example.deployed(edit=_opt_in(WORKER)) as (cluster, config):
        start = run_past_next_tick(cluster)
        for _ in range(2 * IDLE_POLL_MINUTES):
            run_past_next_tick(cluster)
        rested = cluster.world.now()

        # At rest from its first decision on (the cluster's creation events decided it before
        # the first tick): no tick left a poll for it, and it was decided on the ticks of every
        # fifth minute only, and by alarm edges.
        assert _outcomes(cluster, POLLS) == []
        state = json.loads(
            cluster.world.clients.client("dynamodb").get_item(
                TableName=f"{STACK}-StateTable", Key={"pk": {"S": "POOL#gpu"}, "sk": {"S": "STATE"}}
            )["Item"]["state"]["S"]
        )
        assert state["at_rest"] is True
        decided = _decided(cluster, start, rested)
        assert decided
        assert all(set(r["reasons"]) <= {"tick", "alarm"} for r in decided)
        ticks = [
            i.scheduled_time
            for i in cluster.world.scheduler.invocations
            if i.schedule_arn.endswith("SignalsFunctionTick") and i.invoked_at >= start
        ]
        polling = [t for t in ticks if polls_every_pool(t)]
        assert len([r for r in decided if "tick" in r["reasons"]]) == len(polling)

        # Busy again (its queue holds work): the tick after its decision sends polls again.
        send_jobs(cluster, 8)
        example.run_until_worker_replicas(cluster, config, 4)
        run_past_next_tick(cluster)
        cluster.world.run_for(60)
        assert _outcomes(cluster, POLLS)
        assert [r for r in _decided(cluster, rested, cluster.world.now()) if "poll" in r["reasons"]]


def test_a_malformed_poll_is_kept_as_a_rejected_event(example: ExampleStack) -> None:
    with example.deployed(edit=_opt_in(WORKER)) as (cluster, _config):
        run_past_next_tick(cluster)
        sqs = cluster.world.clients.client("sqs")
        url = cluster.world.queue_url("PollQueue")
        sqs.send_message(QueueUrl=url, MessageBody="not json")
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"ebb": "poll", "nodePool": "gpu"}))
        cluster.world.run_for(10)

        rejected = cluster.world.receive_all("RejectedEventsQueue")
        reasons = sorted(m["MessageAttributes"]["Reason"]["StringValue"] for m in rejected)
        assert [json.loads(m["Body"]) for m in rejected if m["Body"] != '"not json"'] == [
            {"ebb": "poll", "nodePool": "gpu"}
        ]
        assert len(reasons) == 2
        assert all(reason.startswith("poll message does not have the expected shape: ") for reason in reasons)
        assert any("dueAt: Field required" in reason for reason in reasons)
        # Kept, not retried: both were deleted from the poll queue.
        assert all(o.succeeded for o in _outcomes(cluster, POLLS))
        assert cluster.world.receive_all("PollQueue") == []
