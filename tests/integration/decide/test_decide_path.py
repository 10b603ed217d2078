"""The decide path as `sam deploy` installs it: template.yaml's rules, schedules, queues and
functions in the local world (with its latency model), driven by events and time only.

Each test starts just past a tick (`run_past_next_tick`) and reads the audit trail from then on,
so what it asserts is what its own events and the ticks after them did.

Sources: SQS Developer Guide, "FIFO queue logic" (message groups); Lambda Developer Guide, "Using
Lambda with Amazon SQS" (partial batch responses); EventBridge Scheduler User Guide (rate and
one-time schedules, context attributes); CloudWatch User Guide, "Alarm events and EventBridge".
"""

from __future__ import annotations

import itertools
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from ebb.local.cluster import HyperPodOnEks
from ebb.local.kubernetes import ClusterCertificates
from ebb.local.stack_deployment import (
    BATCH,
    ROOT,
    STACK,
    audit,
    deployed,
    kubernetes,
    run_past_next_tick,
    send_jobs,
    stop_ticking,
)
from ebb.service.provisioning import POLL_SECONDS
from ebb.service.signals import scaler_alarms

EVENTS = ROOT / "events"
WORKER = "batch/batch-worker"

pytestmark = pytest.mark.integration


def _replicas(cluster: HyperPodOnEks, config: Any) -> int:
    client = kubernetes(cluster, config)
    try:
        return client.read_scale(BATCH).spec.replicas
    finally:
        client.close()


def _decisions(cluster: HyperPodOnEks, since: datetime) -> list[dict[str, Any]]:
    """The pool's decisions from `since` on, newest first (not the workflow's own entries)."""
    return [r for r in audit(cluster, "POOL#gpu", since) if r.get("event") is None]


def _alarm_event(name: str, event_id: str, state: str = "ALARM") -> dict[str, Any]:
    event = json.loads((EVENTS / "alarm-state-change.json").read_text())
    event["id"] = event_id
    event["detail"]["alarmName"] = name
    event["detail"]["state"]["value"] = state
    event["resources"] = [f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"]
    return event


def _worker_alarm(config: Any) -> str:
    (alarm,) = [name for name, owner in scaler_alarms(config, STACK).items() if owner == WORKER]
    return alarm


def test_queued_work_at_zero_scales_the_worker_and_starts_provisioning_through_the_tick(
    tmp_path: Path, certificates: ClusterCertificates
) -> None:
    with deployed(tmp_path / "config", certificates) as (cluster, config):
        since = run_past_next_tick(cluster)
        send_jobs(cluster, 8)
        run_past_next_tick(cluster)

        assert _replicas(cluster, config) == 4
        # The tick decides; the queue's alarm (AWS/SQS publishes its depth a minute later) may too.
        first = audit(cluster, WORKER, since)[-1]
        assert (first["current"], first["desired"], first["applied"]) == (0, 4, True)
        assert set(first["reasons"]) <= {"tick", "alarm"}
        decisions = _decisions(cluster, since)
        assert {d["generation"] for d in decisions} == {1}
        assert decisions[-1]["nodeTargets"] == {"gpu-g5-use1a": 1, "gpu-g6e-use1b": 0}
        # Both scalers of the pool are decided together, in each decision.
        llm = audit(cluster, "serving/llm-inference", since)
        assert [d["at"] for d in llm] == [d["at"] for d in decisions]
        assert {d["desired"] for d in llm} == {0}
        started = [r for r in audit(cluster, "POOL#gpu", since) if r.get("event") == "provisioning-started"]
        assert [r["generation"] for r in started] == [1]


def test_a_bad_event_scales_nothing_and_is_kept_with_its_reason(
    tmp_path: Path, certificates: ClusterCertificates
) -> None:
    with deployed(tmp_path / "config", certificates) as (cluster, config):
        since = run_past_next_tick(cluster)
        send_jobs(cluster, 8)
        malformed = json.loads((EVENTS / "malformed-alarm-state-change.json").read_text())
        malformed["detail"]["alarmName"] = _worker_alarm(config)
        cluster.world.put_event(malformed)
        # Only until the signals function has kept it: the next tick fires at a seeded second of
        # its minute ("Schedule types on EventBridge Scheduler": 60-second precision), which can
        # be less than 30 s after the last one, and it would scale the worker for its real jobs.
        rejected = cluster.world.stack.queues["RejectedEventsQueue"].url
        sqs = cluster.world.clients.client("sqs")
        for _ in range(30):
            cluster.world.run_for(1)
            attributes = sqs.get_queue_attributes(
                QueueUrl=rejected, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
            if attributes["ApproximateNumberOfMessages"] != "0":
                break

        (kept,) = cluster.world.receive_all("RejectedEventsQueue")
        assert json.loads(kept["Body"]) == malformed
        reason = kept["MessageAttributes"]["Reason"]["StringValue"]
        assert "'CloudWatch Alarm State Change' does not have the expected shape" in reason
        assert "detail.state.value" in reason
        assert _replicas(cluster, config) == 0
        assert audit(cluster, WORKER, since) == []


def test_an_alarm_delivered_twice_decides_once(tmp_path: Path, certificates: ClusterCertificates) -> None:
    with deployed(tmp_path / "config", certificates) as (cluster, config):
        since = run_past_next_tick(cluster)
        send_jobs(cluster, 8)
        event = _alarm_event(_worker_alarm(config), "5b0c3b1e-0000-4000-8000-000000000001")
        cluster.world.put_event(event)
        cluster.world.put_event(event)  # EventBridge delivers at least once
        cluster.world.run_for(30)

        # The nodes the workflow then adds send HyperPod events, which wake the pool too.
        decisions = [d for d in audit(cluster, WORKER, since) if "alarm" in d["reasons"]]
        assert [(d["reasons"], d["requests"], d["desired"]) for d in decisions] == [(["alarm"], 1, 4)]


def test_the_first_ticks_make_one_alarm_per_trigger_and_an_alarm_edge_wakes_the_pool(
    tmp_path: Path, certificates: ClusterCertificates
) -> None:
    with deployed(tmp_path / "config", certificates) as (cluster, config):
        since = run_past_next_tick(cluster)
        cloudwatch = cluster.world.clients.client("cloudwatch")
        alarms = {
            a["AlarmName"]: a for a in cloudwatch.describe_alarms(AlarmNamePrefix=f"{STACK}.")["MetricAlarms"]
        }
        assert sorted(alarms) == sorted(scaler_alarms(config, STACK))
        queue_alarm = alarms[_worker_alarm(config)]
        assert (queue_alarm["Namespace"], queue_alarm["MetricName"]) == (
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
        )
        assert queue_alarm["Dimensions"] == [{"Name": "QueueName", "Value": "batch-jobs"}]
        assert (queue_alarm["TreatMissingData"], queue_alarm["Threshold"]) == ("notBreaching", 0.0)

        send_jobs(cluster, 8)
        # AWS/SQS publishes the queue's depth once a minute.
        cluster.world.put_metric(
            "AWS/SQS", "ApproximateNumberOfMessagesVisible", 8.0, {"QueueName": "batch-jobs"}
        )
        # CloudWatch evaluates at whole minutes: the alarm goes OK -> ALARM in the same minute as
        # the tick, and the two requests may share a batch.
        run_past_next_tick(cluster)
        decisions = audit(cluster, WORKER, since)
        assert any("alarm" in d["reasons"] for d in decisions)
        assert decisions[0]["desired"] == 4
        (state,) = cloudwatch.describe_alarms(AlarmNames=[queue_alarm["AlarmName"]])["MetricAlarms"]
        assert state["StateValue"] == "ALARM"


def test_an_idle_scaler_arms_one_timer_which_fires_and_is_deleted_then_it_goes_to_zero(
    tmp_path: Path, certificates: ClusterCertificates
) -> None:
    with deployed(tmp_path / "config", certificates) as (cluster, config):
        world = cluster.world
        since = run_past_next_tick(cluster)
        send_jobs(cluster, 8)
        run_past_next_tick(cluster)  # the worker scales up
        sqs = world.clients.client("sqs")
        sqs.purge_queue(QueueUrl=sqs.get_queue_url(QueueName="batch-jobs")["QueueUrl"])
        world.run_for(60 * 4)  # inactive from the next tick on: KEDA's cooldownPeriod (300 s) runs

        scheduler = world.clients.client("scheduler")
        group = f"{STACK}-idle"
        (timer,) = scheduler.list_schedules(GroupName=group)["Schedules"]
        (wake_at,) = {d["wakeAt"] for d in audit(cluster, WORKER, since) if d["wakeAt"]}
        detail = scheduler.get_schedule(GroupName=group, Name=timer["Name"])
        assert detail["ActionAfterCompletion"] == "DELETE"
        assert json.loads(detail["Target"]["Input"])["scaler"] == WORKER

        # Without ticks (lost, or slower for idle scalers) the timer alone must wake the decision.
        stop_ticking(cluster)
        world.run_for(60 * 3)
        fired = [
            i for i in world.scheduler.invocations if i.schedule_arn.endswith(f"/{group}/{timer['Name']}")
        ]
        assert [i.outcome for i in fired] == ["delivered"]
        # Precise to the minute (EventBridge Scheduler User Guide, one-time schedules): never early.
        assert fired[0].scheduled_time >= datetime.fromisoformat(wake_at)
        assert scheduler.list_schedules(GroupName=group)["Schedules"] == []
        assert _replicas(cluster, config) == 0
        (to_zero,) = [d for d in audit(cluster, WORKER, since) if d["desired"] == 0 and d["current"] == 4]
        assert to_zero["reasons"] == ["idle-timer"]


def test_new_node_targets_start_a_new_generation_whose_fence_an_older_execution_fails(
    tmp_path: Path, certificates: ClusterCertificates
) -> None:
    with deployed(tmp_path / "config", certificates) as (cluster, _config):
        world = cluster.world
        since = run_past_next_tick(cluster)
        send_jobs(cluster, 8)
        run_past_next_tick(cluster)  # generation 1: one g5 node for four workers
        send_jobs(cluster, 12)
        run_past_next_tick(cluster)  # 20 messages want 8 workers (its maximum): two nodes, generation 2

        decisions = _decisions(cluster, since)
        generations = [r["generation"] for r in reversed(decisions)]
        assert generations == sorted(generations)
        assert (generations[0], generations[-1]) == (1, 2)
        latest = next(d for d in reversed(decisions) if d["generation"] == 2)
        assert latest["nodeTargets"]["gpu-g5-use1a"] + latest["nodeTargets"]["gpu-g6e-use1b"] >= 2
        assert any(
            a.startswith("started provisioning gpu-") and a.endswith("-g2-c0") for a in latest["actions"]
        )
        # Generation 1 is not stopped: fenced off, it ends by itself and records that it was superseded.
        world.run_for(POLL_SECONDS)
        ended = {
            r["generation"]: r
            for r in audit(cluster, "POOL#gpu", since)
            if r.get("event") == "provisioning-ended"
        }
        assert (ended[1]["outcome"], ended[1]["fence"]) == ("superseded", "newer-generation")
        # Calls of one decision, by kind: HyperPod read once, every SQS trigger once.
        assert latest["calls"]["hyperpod:describe_cluster"] == 1
        assert latest["calls"]["hyperpod:list_nodes"] == 1
        assert latest["calls"]["sqs:GetQueueAttributes"] == 1

        # Generation 1 started again by hand, after generation 2: its fence stops it from acting.
        sfn = world.clients.client("stepfunctions")
        machine = world.state_machine_arn("ProvisionStateMachine")
        request = json.loads((EVENTS / "provision-request.json").read_text()) | {"generation": 1}
        stale = sfn.start_execution(stateMachineArn=machine, name="stale-g1", input=json.dumps(request))
        world.run_for(10)
        entered = [
            e["stateEnteredEventDetails"]["name"]
            for e in world.execution_history(stale["executionArn"])
            if e["type"].endswith("StateEntered")
        ]
        assert entered == [
            "ValidateRequest",
            "RequestKind",
            "CheckGeneration",
            "StillCurrent",
            "Superseded",
            "RecordOutcome",
            "Ended",
        ]


def test_a_hyperpod_cluster_event_for_the_pools_group_re_plans_at_once(
    tmp_path: Path, certificates: ClusterCertificates
) -> None:
    with deployed(tmp_path / "config", certificates) as (cluster, _config):
        since = run_past_next_tick(cluster)
        event = json.loads((EVENTS / "hyperpod-cluster-event-capacity.json").read_text())
        cluster.world.put_event(event)
        cluster.world.run_for(20)  # well before the next tick
        (decision,) = _decisions(cluster, since)
        assert decision["reasons"] == ["hyperpod-event"]


def test_a_queue_that_cannot_be_read_falls_back_to_the_scalers_fallback_replicas(
    tmp_path: Path, certificates: ClusterCertificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.sqs.exceptions import SQSException
    from moto.sqs.models import SQSBackend

    reading = SQSBackend.get_queue_attributes
    broken = {"batch-jobs": False}

    def unreadable(backend: SQSBackend, queue_name: str, attribute_names: list[str]) -> dict[str, Any]:
        if broken.get(queue_name):
            raise SQSException("AccessDenied", "User is not authorized to perform sqs:GetQueueAttributes")
        return reading(backend, queue_name, attribute_names)

    monkeypatch.setattr(SQSBackend, "get_queue_attributes", unreadable)
    # KEDA's fallback: once a trigger failed more than failureThreshold times in a row, the target
    # gets the fallback replicas (KEDA docs, "Scaling Deployments, StatefulSets & Custom
    # Resources": fallback; kedacore/keda pkg/fallback/fallback.go).
    fallback = {"failureThreshold": 2, "replicas": 6}
    with deployed(tmp_path / "config", certificates, fallback=fallback) as (cluster, _config):
        since = run_past_next_tick(cluster)
        send_jobs(cluster, 8)
        run_past_next_tick(cluster)  # 4 workers
        broken["batch-jobs"] = True
        for _ in range(3):
            run_past_next_tick(cluster)
        decisions = list(reversed(audit(cluster, WORKER, since)))
        failed = [
            d
            for d in decisions
            if "AccessDenied" in " ".join(d["triggers"]) or "fallback" in " ".join(d["triggers"])
        ]
        # Two failures keep the 4 workers (no scale-down on a failed metric); the third gives the
        # fallback, above the current 4, so no downscale stabilization holds it back.
        # (The workflow's nodes send HyperPod events, which add decisions after the third.)
        assert [d["desired"] for d in failed][:3] == [4, 4, 6]
        assert failed[2]["triggers"] == ["s0-aws-sqs-queue=failed 3 times, fallback -> 6"]


def test_a_storm_of_signals_for_one_pool_is_decided_one_batch_at_a_time(
    tmp_path: Path, certificates: ClusterCertificates
) -> None:
    # The full storm (1,000 signals in a second) is bench/bench_decide.py's; 100 here.
    with deployed(tmp_path / "config", certificates) as (cluster, config):
        world = cluster.world
        since = run_past_next_tick(cluster)
        send_jobs(cluster, 8)
        alarm = _worker_alarm(config)
        for index in range(100):
            world.call_later(
                index / 100,
                lambda i=index: world.put_event(_alarm_event(alarm, f"storm-{i:04d}")),
                name="storm",
            )
        world.run_for(40)

        decisions = _decisions(cluster, since)
        # Each signal one message; a batch of up to ten is one decision; never two at once.
        # (The workflow's nodes send HyperPod events, which are requests too.)
        assert sum(d["requestsByReason"].get("alarm", 0) for d in decisions) == 100
        assert len(decisions) <= 100
        assert {d["claimAttempts"] for d in decisions} == {1}
        assert world.receive_all("DecisionQueue") == []
        spans = sorted(
            (datetime.fromisoformat(d["at"]), datetime.fromisoformat(d["recordedAt"])) for d in decisions
        )
        assert all(end <= next_start for (_, end), (next_start, _) in itertools.pairwise(spans))
