"""The provisioning workflow as `sam deploy` installs it (statemachines/provision.asl.json and its
Lambda tasks from template.yaml), executed by the local world's Step Functions on the simulated
clock against the HyperPod stand-in.

Sources: SageMaker API Reference, BatchAddClusterNodes ("up to 5 instance groups ... a maximum of
50 nodes total", `IncrementTargetCountBy`, ClientToken) and BatchDeleteClusterNodes (by
NodeLogicalId); SageMaker Developer Guide, "Continuous provisioning for enhanced cluster
operations on Amazon EKS" (failed launches retried by HyperPod, cluster events) and "Automatic
node recovery"; Step Functions Developer Guide, "Handling errors in Step Functions workflows"
(Retry with IntervalSeconds, BackoffRate, MaxDelaySeconds and JitterStrategy FULL; Catch
States.ALL, States.Timeout), "Wait for a Callback with Task Token" (`.waitForTaskToken`,
SendTaskSuccess) and "Continue as new execution" (Standard executions end at 25,000 history
events; a long workflow starts a new execution of itself).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ebb.local.kubernetes import ClusterCertificates
from ebb.local.provisioning_invariants import (
    ProvisioningInvariantViolated,
    check_one_execution_acting,
    check_provisioning_invariants,
)
from ebb.local.provisioning_runs import (
    CLUSTER,
    G5,
    G6E,
    add_requests,
    group,
    pin_generation,
    pool_events,
    record_generation,
    running,
    states_entered,
    status,
    switch_off_decide,
)
from ebb.local.stack_deployment import BOOT_SECONDS, STACK, audit, deployed, run_past_next_tick, send_jobs
from ebb.service.provisioning import POLL_SECONDS

pytestmark = pytest.mark.integration


def test_more_than_50_nodes_go_out_in_several_requests_and_the_generation_is_satisfied(
    tmp_path: Path, certificates: ClusterCertificates, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="moto.stepfunctions")
    with deployed(tmp_path / "config", certificates) as (cluster, _config):
        switch_off_decide(cluster)
        request, execution = pin_generation(cluster, {G5: 60, G6E: 7})
        cluster.world.run_for(BOOT_SECONDS + POLL_SECONDS + 30)

        adds = add_requests(cluster)
        sizes = [sum(s["IncrementTargetCountBy"] for s in a["request"]["NodesToAdd"]) for a in adds]
        assert sizes == [50, 17]
        assert all(len(a["request"]["NodesToAdd"]) <= 5 for a in adds)
        assert len({a["request"]["ClientToken"] for a in adds}) == 2
        assert (group(cluster, G5)["TargetCount"], group(cluster, G6E)["TargetCount"]) == (60, 7)
        assert (running(cluster, G5), running(cluster, G6E)) == (60, 7)
        (ended,) = pool_events(cluster, "provisioning-ended")
        assert ended["outcome"] == "satisfied"
        assert ended["granted"] == {"us-east-1a": {G5: 60}, "us-east-1b": {G6E: 7}}
        assert ended["requested"] == {G5: 60, G6E: 7}
        assert ended["timeToSatisfySeconds"] <= BOOT_SECONDS + POLL_SECONDS + 30
        assert status(cluster, execution) == "SUCCEEDED"
        assert states_entered(cluster, execution)[-3:] == ["ScaleIn", "RecordOutcome", "Ended"]
        assert request.generation == ended["generation"]
        # No removals: the ScaleIn Choice takes its Default without moto's interpreter logging a
        # path it could not find (it reads a field every round writes).
        assert [r.getMessage() for r in caplog.records if r.name.startswith("moto.stepfunctions")] == []
        # What the invariant checker (run for every test here) looked at: both additions, and
        # the rounds that called HyperPod.
        report = check_provisioning_invariants(cluster, _config)
        assert report.additions == 2
        assert report.rounds >= 2


def test_throttling_is_retried_with_exponential_backoff_and_full_jitter(
    tmp_path: Path, certificates: ClusterCertificates
) -> None:
    with deployed(tmp_path / "config", certificates) as (cluster, _config):
        switch_off_decide(cluster)
        cluster.hyperpod.inject_errors("BatchAddClusterNodes", "ThrottlingException", times=3)
        _request, execution = pin_generation(cluster, {G5: 2, G6E: 0})
        cluster.world.run_for(120)

        waits = [w for w in cluster.world.retry_waits(execution) if w.state_name == "ScaleOut"]
        # IntervalSeconds 2, BackoffRate 2, MaxDelaySeconds 60, FULL jitter: the k-th retry waits a
        # random time in [0, min(60, 2 * 2**k)].
        assert [w.retry_count for w in waits] == [0, 1, 2]
        for wait in waits:
            assert 0 <= wait.interval_seconds <= min(60, 2 * 2**wait.retry_count)
        assert len({w.interval_seconds for w in waits}) == 3  # jittered, not the fixed schedule
        errors = [a["error"] for a in add_requests(cluster)]
        assert errors == ["ThrottlingException"] * 3 + [None]
        assert group(cluster, G5)["TargetCount"] == 2  # added once, whatever the retries


def test_a_quota_error_marks_the_offering_out_alarms_and_decide_re_plans_onto_the_other_group(
    tmp_path: Path, certificates: ClusterCertificates
) -> None:
    with deployed(tmp_path / "config", certificates) as (cluster, _config):
        cluster.hyperpod.set_quota("ml.g5.12xlarge", 0)
        since = run_past_next_tick(cluster)
        send_jobs(cluster, 8)
        run_past_next_tick(cluster)
        cluster.world.run_for(BOOT_SECONDS + 60)

        (quota,) = pool_events(cluster, "provisioning-quota-exceeded", since)
        assert quota["offerings"] == [f"{G5}/ml.g5.12xlarge/us-east-1a"]
        ended = pool_events(cluster, "provisioning-ended", since)
        (refused,) = [e for e in ended if e["quota"]]
        assert refused["outcome"] == "superseded"
        assert refused["quota"] == [f"{G5}/ml.g5.12xlarge/us-east-1a"]
        assert ended[-1]["outcome"] == "satisfied"
        assert ended[-1]["granted"]["us-east-1b"][G6E] >= 1
        assert group(cluster, G5)["TargetCount"] == 0
        # The metric is one count, so the alarm goes to ALARM for the minute after it and back.
        changes = [
            (c.state, c.at)
            for c in cluster.world.alarms.transitions
            if c.alarm_name == f"{STACK}-provisioning-quota"
        ]
        fired = [at for state, at in changes if state == "ALARM"]
        assert len(fired) == 1
        assert timedelta(0) < fired[0] - datetime.fromisoformat(quota["at"]) <= timedelta(minutes=2)


def test_one_zone_out_of_capacity_its_pending_nodes_are_cancelled_the_share_moves_and_comes_back(
    tmp_path: Path, certificates: ClusterCertificates
) -> None:
    with deployed(tmp_path / "config", certificates) as (cluster, _config):
        world = cluster.world
        cluster.hyperpod.set_capacity("ml.g5.12xlarge", 0, availability_zone="us-east-1a")
        since = run_past_next_tick(cluster)
        send_jobs(cluster, 8)
        run_past_next_tick(cluster)  # generation 1: one g5 node, whose launch finds no capacity
        world.run_for(BOOT_SECONDS + 90)

        deletions = [r for r in cluster.hyperpod.requests if r["operation"] == "BatchDeleteClusterNodes"]
        assert deletions
        assert all(set(d["request"]) == {"ClusterName", "NodeLogicalIds"} for d in deletions)
        assert group(cluster, G5)["TargetCount"] == 0  # cancelled: HyperPod stops retrying them
        assert running(cluster, G6E) >= 1  # the share moved to the other zone's group
        ended = pool_events(cluster, "provisioning-ended", since)
        satisfied = [e for e in ended if e["outcome"] == "satisfied"]
        assert satisfied
        assert satisfied[-1]["granted"]["us-east-1b"][G6E] >= 1
        offering = f"{G5}/ml.g5.12xlarge/us-east-1a"
        assert any(offering in e["shortages"] for e in ended)

        # Capacity is back; once the mark has expired, new demand is planned onto g5 again.
        cluster.hyperpod.set_capacity("ml.g5.12xlarge", None, availability_zone="us-east-1a")
        world.run_for(6 * 60)
        send_jobs(cluster, 12)
        run_past_next_tick(cluster)
        world.run_for(BOOT_SECONDS + 60)
        assert running(cluster, G5) >= 1


def test_a_newer_generation_supersedes_an_older_execution_delayed_before_its_call(
    tmp_path: Path, certificates: ClusterCertificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ebb.adapters.hyperpod import SageMakerHyperPod
    from ebb.local.clock_threads import clock_sleep

    with deployed(tmp_path / "config", certificates) as (cluster, _config):
        switch_off_decide(cluster)
        reading = SageMakerHyperPod.list_nodes
        delayed = {"first": True}

        def slow_read(adapter: SageMakerHyperPod) -> Any:
            # The first round stalls after its fence check, before its fresh read and its call;
            # meanwhile decide records generation 2 and starts its execution.
            if delayed.pop("first", False):
                record_generation(cluster, {G5: 1, G6E: 0})
                clock_sleep(30)
            return reading(adapter)

        _old, older = pin_generation(cluster, {G5: 3, G6E: 0})
        monkeypatch.setattr(SageMakerHyperPod, "list_nodes", slow_read)  # started, not yet run
        cluster.world.run_for(90)

        adds = add_requests(cluster)
        assert [[s["IncrementTargetCountBy"] for s in a["request"]["NodesToAdd"]] for a in adds] == [[1]]
        assert group(cluster, G5)["TargetCount"] == 1
        (ended,) = pool_events(cluster, "provisioning-ended")
        assert (ended["generation"], ended["outcome"], ended["requested"]) == (
            _old.generation,
            "superseded",
            {},
        )
        assert status(cluster, older) == "SUCCEEDED"


def test_a_lower_target_decided_while_a_round_past_its_last_fence_acts_waits_for_its_lease(
    tmp_path: Path, certificates: ClusterCertificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13's last race, through the real decide path: a round of generation 1 (3 g5 nodes)
    has passed its last fence check and holds the pool's acting lease when a decision finds no
    work for them (a plan of 0). BatchAddClusterNodes has no condition, so publishing 0 then
    would leave 3 requested above the current generation's target. decide keeps the target back
    and says why; the round adds its 3 while generation 1 is current; releasing the lease, it asks
    decide again at once; and the pool converges to the lower target through scale-in. The
    invariant checker every test here runs passes (never more requested than the current
    generation's targets, never two executions acting at once)."""
    from ebb.adapters.hyperpod import SageMakerHyperPod
    from ebb.local.clock_threads import clock_sleep

    with deployed(tmp_path / "config", certificates) as (cluster, config):
        switch_off_decide(cluster)
        world = cluster.world
        adding = SageMakerHyperPod.add_nodes
        asked: dict[str, datetime] = {}

        def slow_add(adapter: SageMakerHyperPod, request: Any) -> Any:
            # Past the round's last fence check, before its call: a decision request arrives
            # (as a tick's would), and decide runs while the round holds the lease.
            if not asked:
                asked["at"] = world.now()
                world.clients.client("sqs").send_message(
                    QueueUrl=world.queue_url("DecisionQueue"),
                    MessageBody=json.dumps(
                        {"nodePool": "gpu", "eventId": "during-the-round", "reason": "tick"}
                    ),
                    MessageGroupId="gpu",
                    MessageDeduplicationId="during-the-round",
                )
                clock_sleep(30)
            return adding(adapter, request)

        monkeypatch.setattr(SageMakerHyperPod, "add_nodes", slow_add)
        _request, execution = pin_generation(cluster, {G5: 3, G6E: 0})
        world.run_for(120)

        (add,) = add_requests(cluster)
        assert [s["IncrementTargetCountBy"] for s in add["request"]["NodesToAdd"]] == [3]
        decisions = [r for r in reversed(audit(cluster, "POOL#gpu")) if r.get("event") is None]
        (during,) = [d for d in decisions if d["deferred"]]
        assert asked["at"] <= datetime.fromisoformat(during["recordedAt"]) <= add["at"]
        assert (during["generation"], during["nodeTargets"]) == (1, {G5: 3, G6E: 0})
        holder = execution.rsplit(":", 1)[-1]
        assert during["deferred"] == [
            f"lower target deferred: {G5} keeps 3 (the plan asks 0) while {holder} holds the pool's "
            "acting lease; published once it is released"
        ]
        # Released, the round found the deferral and asked decide again: decided within seconds
        # (not at the next tick), on a fresh read. With the 3 nodes now in flight, that plan
        # keeps them until they have been empty for the NodePool's consolidateAfter.
        (released,) = [d for d in decisions if "acting-lease-released" in d["reasons"]]
        assert timedelta(0) < datetime.fromisoformat(released["at"]) - add["at"] <= timedelta(seconds=5)
        assert released["deferred"] == []
        assert check_provisioning_invariants(cluster, config).additions == 1

        # Ticks back on: the empty nodes go (consolidateAfter 5m, then scale-in's cordon, drain,
        # delete) until the pool holds the lower target, every generation at or below the last.
        start_ticking(cluster)
        world.run_for(BOOT_SECONDS + 5 * 60 + 10 * 60)
        assert group(cluster, G5)["TargetCount"] == 0
        targets = [r["nodeTargets"][G5] for r in pool_events(cluster, "provisioning-started")]
        assert targets[0] == 3
        assert targets[-1] == 0
        assert targets == sorted(targets, reverse=True)


def start_ticking(cluster: Any) -> None:
    """Enable the stack's tick schedule again (the opposite of `switch_off_decide`'s first step)."""
    scheduler = cluster.world.clients.client("scheduler")
    tick = scheduler.get_schedule(Name=f"{STACK}-SignalsFunctionTick")
    scheduler.update_schedule(
        Name=tick["Name"],
        ScheduleExpression=tick["ScheduleExpression"],
        FlexibleTimeWindow=tick["FlexibleTimeWindow"],
        Target=tick["Target"],
        State="ENABLED",
    )


@pytest.mark.breaks_provisioning_invariants
def test_without_the_acting_lease_two_executions_act_at_once_and_the_checker_says_so(
    tmp_path: Path, certificates: ClusterCertificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The acting lease switched off: an older round, slow between its read and its call, and a
    newer generation's round both read the group empty and both add. Both invariants break, and
    the checker every deployed-stack test runs names each breach."""
    from ebb.adapters.hyperpod import SageMakerHyperPod
    from ebb.adapters.state_table import DynamoStateTable
    from ebb.local.clock_threads import clock_sleep

    with deployed(tmp_path / "config", certificates) as (cluster, config):
        switch_off_decide(cluster)
        adding = SageMakerHyperPod.add_nodes
        newer: dict[str, Any] = {}

        def slow_add(adapter: SageMakerHyperPod, request: Any) -> Any:
            if not newer:
                newer["request"], newer["arn"] = record_generation(cluster, {G5: 2, G6E: 0})
                clock_sleep(30)
            return adding(adapter, request)

        monkeypatch.setattr(SageMakerHyperPod, "add_nodes", slow_add)
        monkeypatch.setattr(DynamoStateTable, "acquire_acting", lambda *args, **kwargs: None)
        monkeypatch.setattr(DynamoStateTable, "release_acting", lambda *args, **kwargs: None)
        older, _arn = pin_generation(cluster, {G5: 3, G6E: 0})
        cluster.world.run_for(120)

        adds = add_requests(cluster)
        assert sorted(sum(s["IncrementTargetCountBy"] for s in a["request"]["NodesToAdd"]) for a in adds) == [
            2,
            3,
        ]
        assert group(cluster, G5)["TargetCount"] == 5
        with pytest.raises(
            ProvisioningInvariantViolated,
            match=rf"^{G5}: 5 node\(s\) requested after ebb's BatchAddClusterNodes at \S+, above "
            rf"generation {newer['request'].generation}'s target of 2$",
        ):
            check_provisioning_invariants(cluster, config)
        with pytest.raises(
            ProvisioningInvariantViolated,
            match=rf"^node pool 'gpu': gpu-\w+-g{older.generation}-c0 and "
            rf"gpu-\w+-g{newer['request'].generation}-c0 acted at once",
        ):
            check_one_execution_acting(cluster)


def test_a_crash_in_the_middle_is_recorded_alarmed_and_the_next_tick_reconciles(
    tmp_path: Path, certificates: ClusterCertificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ebb.service.provisioning import ProvisioningTasks

    original = ProvisioningTasks._add
    crashes = {"left": 1}

    def crash_once(self: ProvisioningTasks, *args: Any, **kwargs: Any) -> Any:
        if crashes["left"]:
            crashes["left"] -= 1
            raise RuntimeError("injected crash between the fresh read and the call")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ProvisioningTasks, "_add", crash_once)
    with deployed(tmp_path / "config", certificates) as (cluster, _config):
        since = run_past_next_tick(cluster)
        send_jobs(cluster, 8)
        run_past_next_tick(cluster)  # generation 1 starts and crashes in its first round
        (failed,) = pool_events(cluster, "provisioning-failed", since)
        assert failed["error"] == "RuntimeError"
        assert "injected crash" in failed["cause"]
        run_past_next_tick(cluster)  # the tick sees no execution open and HyperPod behind the plan
        cluster.world.run_for(BOOT_SECONDS + 60)

        started = pool_events(cluster, "provisioning-started", since)
        assert [r["generation"] for r in started] == [failed["generation"], failed["generation"] + 1]
        assert pool_events(cluster, "provisioning-ended", since)[-1]["outcome"] == "satisfied"
        assert running(cluster, G5) + running(cluster, G6E) >= 1
        fired = [
            c.at
            for c in cluster.world.alarms.transitions
            if c.alarm_name == f"{STACK}-provisioning-failure" and c.state == "ALARM"
        ]
        assert len(fired) == 1


def test_a_node_under_automatic_recovery_is_in_flight_not_failed(
    tmp_path: Path, certificates: ClusterCertificates
) -> None:
    with deployed(tmp_path / "config", certificates) as (cluster, _config):
        switch_off_decide(cluster)
        pin_generation(cluster, {G5: 1, G6E: 0})
        cluster.world.run_for(BOOT_SECONDS + 30)
        (node,) = cluster.world.clients.client("sagemaker").list_cluster_nodes(
            ClusterName=CLUSTER, IncludeNodeLogicalIds=True
        )["ClusterNodeSummaries"]
        cluster.hyperpod.inject_fault(CLUSTER, node["NodeLogicalId"], repair="Replace")
        cluster.world.run_for(60)  # automatic recovery starts the replacement
        _request, execution = pin_generation(cluster, {G5: 2, G6E: 0})
        cluster.world.run_for(BOOT_SECONDS + POLL_SECONDS)

        adds = add_requests(cluster)
        # One node for generation 1, one more for generation 2: the node being replaced is not
        # requested again, not cancelled, and no shortage is recorded.
        assert [sum(s["IncrementTargetCountBy"] for s in a["request"]["NodesToAdd"]) for a in adds] == [1, 1]
        assert not [r for r in cluster.hyperpod.requests if r["operation"] == "BatchDeleteClusterNodes"]
        ended = pool_events(cluster, "provisioning-ended")
        assert ended[-1]["outcome"] == "satisfied"
        assert ended[-1]["shortages"] == []
        assert running(cluster, G5) == 2
        assert status(cluster, execution) == "SUCCEEDED"


def test_a_long_wait_continues_as_a_new_execution_of_the_same_generation(
    tmp_path: Path, certificates: ClusterCertificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ebb.service.provisioning.ROUNDS_PER_EXECUTION", 2)
    with deployed(tmp_path / "config", certificates) as (cluster, _config):
        switch_off_decide(cluster)
        cluster.hyperpod.set_timings(CLUSTER, G5, boot_seconds=(900.0, 900.0))  # a long boot
        request, first = pin_generation(cluster, {G5: 1, G6E: 0})
        cluster.world.run_for(2 * POLL_SECONDS + 60)

        assert states_entered(cluster, first)[-2:] == ["ContinueAsNew", "Continued"]
        (continued,) = pool_events(cluster, "provisioning-continued")
        assert continued["next"].endswith(f"-g{request.generation}-c1")
        cluster.world.run_for(2 * POLL_SECONDS)
        (ended,) = pool_events(cluster, "provisioning-ended")
        assert (ended["execution"], ended["outcome"]) == (continued["next"], "satisfied")
        assert [
            sum(s["IncrementTargetCountBy"] for s in a["request"]["NodesToAdd"])
            for a in add_requests(cluster)
        ] == [1]


def test_a_cancellation_that_does_not_lower_the_target_is_recorded_alarmed_and_not_handed_back(
    tmp_path: Path, certificates: ClusterCertificates
) -> None:
    # ebb assumes (README, "HyperPod behaviours assumed") that BatchDeleteClusterNodes of pending
    # NodeLogicalIds lowers the group's target; the stand-in is told to break that assumption.
    with deployed(tmp_path / "config", certificates) as (cluster, _config):
        switch_off_decide(cluster)
        cluster.hyperpod.set_capacity("ml.g5.12xlarge", 0, availability_zone="us-east-1a")
        cluster.hyperpod.set_cancel_keeps_target(True)
        pin_generation(cluster, {G5: 1, G6E: 0})
        cluster.world.run_for(POLL_SECONDS + 90)  # the launch fails; the next round sees it

        deletions = [r for r in cluster.hyperpod.requests if r["operation"] == "BatchDeleteClusterNodes"]
        assert len(deletions) == 1
        assert group(cluster, G5)["TargetCount"] == 1
        (kept,) = pool_events(cluster, "provisioning-cancel-kept-target")
        assert kept["instanceGroup"] == G5
        decisions = [r for r in audit(cluster, "POOL#gpu") if r.get("event") is None]
        assert not [d for d in decisions if "provisioning-shortage" in d["reasons"]]
        fired = [
            c.at
            for c in cluster.world.alarms.transitions
            if c.alarm_name == f"{STACK}-provisioning-cancel-kept-target" and c.state == "ALARM"
        ]
        assert len(fired) == 1
