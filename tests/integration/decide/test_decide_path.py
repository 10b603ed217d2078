"""The decide path as `sam deploy` installs it: template.yaml's rules, schedules, queues and
functions in the local world, driven by events and time only.

Sources: SQS Developer Guide, "FIFO queue logic" (message groups); Lambda Developer Guide, "Using
Lambda with Amazon SQS" (partial batch responses); EventBridge Scheduler User Guide (rate
schedules, context attributes).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from ebb.local.kubernetes import ClusterCertificates
from ebb.service.signals import scaler_alarms

from .decide_testkit import BATCH, ROOT, STACK, audit, deployed, kubernetes, send_jobs

EVENTS = ROOT / "events"

pytestmark = pytest.mark.integration


def test_queued_work_at_zero_scales_the_worker_and_starts_provisioning_through_the_tick(
    tmp_path: Path, certificates: ClusterCertificates
) -> None:
    with deployed(tmp_path / "config", certificates) as (cluster, config):
        send_jobs(cluster, 8)
        cluster.world.run_for(75)  # the first tick fires at the first minute

        client = kubernetes(cluster, config)
        try:
            assert client.read_scale(BATCH).spec.replicas == 4
        finally:
            client.close()
        (latest, *_) = audit(cluster, "batch/batch-worker")
        assert (latest["current"], latest["desired"], latest["applied"]) == (0, 4, True)
        assert latest["reasons"] == ["tick"]
        pool = audit(cluster, "POOL#gpu")
        started = [r for r in pool if r.get("event") == "provisioning-started"]
        (decision,) = [r for r in pool if "generation" in r and r.get("event") is None]
        assert decision["generation"] == 1
        assert decision["nodeTargets"] == {"gpu-g5-use1a": 1, "gpu-g6e-use1b": 0}
        assert [r["generation"] for r in started] == [1]


def _alarm_event(name: str, event_id: str, state: str = "ALARM") -> dict[str, Any]:
    event = json.loads((EVENTS / "alarm-state-change.json").read_text())
    event["id"] = event_id
    event["detail"]["alarmName"] = name
    event["detail"]["state"]["value"] = state
    event["resources"] = [f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"]
    return event


def test_a_bad_event_scales_nothing_and_is_kept_with_its_reason(
    tmp_path: Path, certificates: ClusterCertificates
) -> None:
    with deployed(tmp_path / "config", certificates) as (cluster, config):
        send_jobs(cluster, 8)
        malformed = json.loads((EVENTS / "malformed-alarm-state-change.json").read_text())
        malformed["detail"]["alarmName"] = f"{STACK}.00f5fa706a38.s0-aws-sqs-queue"
        cluster.world.put_event(malformed)
        cluster.world.run_for(30)  # before the first tick

        (kept,) = cluster.world.receive_all("RejectedEventsQueue")
        assert json.loads(kept["Body"]) == malformed
        reason = kept["MessageAttributes"]["Reason"]["StringValue"]
        assert "'CloudWatch Alarm State Change' does not have the expected shape" in reason
        assert "detail.state.value" in reason
        client = kubernetes(cluster, config)
        try:
            assert client.read_scale(BATCH).spec.replicas == 0
        finally:
            client.close()
        assert audit(cluster, "batch/batch-worker") == []


def test_an_alarm_delivered_twice_decides_once(tmp_path: Path, certificates: ClusterCertificates) -> None:
    with deployed(tmp_path / "config", certificates) as (cluster, config):
        send_jobs(cluster, 8)
        (alarm,) = [
            name for name, owner in scaler_alarms(config, STACK).items() if owner == "batch/batch-worker"
        ]
        event = _alarm_event(alarm, "5b0c3b1e-0000-4000-8000-000000000001")
        cluster.world.put_event(event)
        cluster.world.put_event(event)  # EventBridge delivers at least once
        cluster.world.run_for(30)

        decisions = audit(cluster, "batch/batch-worker")
        assert [(d["reasons"], d["desired"]) for d in decisions] == [(["alarm"], 4)]


def test_the_first_tick_makes_one_alarm_per_trigger_and_an_alarm_edge_wakes_the_pool(
    tmp_path: Path, certificates: ClusterCertificates
) -> None:
    with deployed(tmp_path / "config", certificates) as (cluster, config):
        cluster.world.run_for(65)
        cloudwatch = cluster.world.clients.client("cloudwatch")
        alarms = {
            a["AlarmName"]: a for a in cloudwatch.describe_alarms(AlarmNamePrefix=f"{STACK}.")["MetricAlarms"]
        }
        assert sorted(alarms) == sorted(scaler_alarms(config, STACK))
        queue_alarm = alarms[
            next(n for n, s in scaler_alarms(config, STACK).items() if s == "batch/batch-worker")
        ]
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
        # CloudWatch evaluates at whole minutes: the alarm goes OK -> ALARM at t+2 min, the same
        # minute as the tick, and the two requests may share a batch.
        cluster.world.run_for(60)
        decisions = audit(cluster, "batch/batch-worker")
        assert any("alarm" in d["reasons"] for d in decisions)
        assert decisions[0]["desired"] == 4
        (state,) = cloudwatch.describe_alarms(AlarmNames=[queue_alarm["AlarmName"]])["MetricAlarms"]
        assert state["StateValue"] == "ALARM"


def test_an_idle_scaler_arms_one_timer_which_fires_and_is_deleted_then_it_goes_to_zero(
    tmp_path: Path, certificates: ClusterCertificates
) -> None:
    with deployed(tmp_path / "config", certificates) as (cluster, config):
        world = cluster.world
        send_jobs(cluster, 8)
        world.run_for(75)  # the first tick scales the worker up
        sqs = world.clients.client("sqs")
        sqs.purge_queue(QueueUrl=sqs.get_queue_url(QueueName="batch-jobs")["QueueUrl"])
        world.run_for(60 * 4)  # inactive from the second tick on: KEDA's cooldownPeriod (300 s) runs

        scheduler = world.clients.client("scheduler")
        group = f"{STACK}-idle"
        (timer,) = scheduler.list_schedules(GroupName=group)["Schedules"]
        (last_active,) = {d["wakeAt"] for d in audit(cluster, "batch/batch-worker") if d["wakeAt"]}
        detail = scheduler.get_schedule(GroupName=group, Name=timer["Name"])
        assert detail["ActionAfterCompletion"] == "DELETE"
        assert json.loads(detail["Target"]["Input"])["scaler"] == "batch/batch-worker"

        world.run_for(60 * 3)
        fired = [
            i for i in world.scheduler.invocations if i.schedule_arn.endswith(f"/{group}/{timer['Name']}")
        ]
        assert [i.outcome for i in fired] == ["delivered"]
        # Precise to the minute (EventBridge Scheduler User Guide, one-time schedules): never early.
        assert fired[0].scheduled_time >= datetime.fromisoformat(last_active)
        assert scheduler.list_schedules(GroupName=group)["Schedules"] == []
        client = kubernetes(cluster, config)
        try:
            assert client.read_scale(BATCH).spec.replicas == 0
        finally:
            client.close()
        reasons = [
            d["reasons"] for d in audit(cluster, "batch/batch-worker") if d["desired"] == 0 and d["current"]
        ]
        assert reasons, "the worker went to zero"


def test_new_node_targets_start_a_new_generation_whose_fence_an_older_execution_fails(
    tmp_path: Path, certificates: ClusterCertificates
) -> None:
    with deployed(tmp_path / "config", certificates) as (cluster, _config):
        world = cluster.world
        send_jobs(cluster, 8)
        world.run_for(75)  # generation 1: one g5 node for four workers
        send_jobs(cluster, 12)
        world.run_for(60)  # 20 messages want 8 workers (its maximum): two nodes, generation 2

        decisions = [r for r in audit(cluster, "POOL#gpu") if r.get("event") is None]
        generations = [r["generation"] for r in reversed(decisions)]
        assert generations[0] == 1
        assert generations[-1] == 2
        latest = decisions[0]
        assert latest["nodeTargets"]["gpu-g5-use1a"] + latest["nodeTargets"]["gpu-g6e-use1b"] >= 2
        assert any(
            a.startswith("started provisioning gpu-") and a.endswith("-g2-c0") for a in latest["actions"]
        )
        assert any(a.startswith("stopped ") and a.endswith("-g1-c0") for a in latest["actions"])
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
        assert entered == ["ValidateRequest", "CheckGeneration", "StillCurrent", "Superseded"]


def test_a_hyperpod_cluster_event_for_the_pools_group_re_plans_at_once(
    tmp_path: Path, certificates: ClusterCertificates
) -> None:
    with deployed(tmp_path / "config", certificates) as (cluster, _config):
        event = json.loads((EVENTS / "hyperpod-cluster-event-capacity.json").read_text())
        cluster.world.put_event(event)
        cluster.world.run_for(20)  # well before the first tick
        (decision,) = [r for r in audit(cluster, "POOL#gpu") if r.get("event") is None]
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
    # KEDA's fallback: once a trigger failed failureThreshold times in a row, the target gets the
    # fallback replicas (KEDA docs, "Scaling Deployments, StatefulSets & Custom Resources":
    # fallback; kedacore/keda pkg/fallback/fallback.go: more failures than the threshold).
    with deployed(tmp_path / "config", certificates, fallback={"failureThreshold": 2, "replicas": 6}) as (
        cluster,
        _config,
    ):
        send_jobs(cluster, 8)
        cluster.world.run_for(75)  # 4 workers
        broken["batch-jobs"] = True
        cluster.world.run_for(60 * 3)
        decisions = list(reversed(audit(cluster, "batch/batch-worker")))
        # Above the current 4, so no downscale stabilization holds it back.
        assert [d["desired"] for d in decisions] == [4, 4, 4, 6]
        assert "AccessDenied" in " ".join(decisions[1]["triggers"])
        assert decisions[-1]["triggers"] == ["s0-aws-sqs-queue=failed 3 times, fallback -> 6"]
