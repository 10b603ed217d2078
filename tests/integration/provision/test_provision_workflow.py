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

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from provision_testkit import (
    G5,
    G6E,
    add_requests,
    group,
    pin_generation,
    pool_events,
    running,
    states_entered,
    status,
    switch_off_decide,
)

from ebb.local.kubernetes import ClusterCertificates
from ebb.local.stack_deployment import BOOT_SECONDS, STACK, deployed, run_past_next_tick, send_jobs
from ebb.service.provisioning import POLL_SECONDS

pytestmark = pytest.mark.integration


def test_more_than_50_nodes_go_out_in_several_requests_and_the_generation_is_satisfied(
    tmp_path: Path, certificates: ClusterCertificates
) -> None:
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
        assert ended[0]["outcome"] == "superseded"
        assert ended[0]["quota"] == [f"{G5}/ml.g5.12xlarge/us-east-1a"]
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
