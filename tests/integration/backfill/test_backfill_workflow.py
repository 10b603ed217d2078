"""Backfills through the deployed stack: template.yaml's provisioning state machine started by hand
(as `aws stepfunctions start-execution` starts it), its Lambda tasks being ebb's handlers, on the
local world's HyperPod and Kubernetes, with the decide path's ticks running alongside.

A backfill's execution carries its generation out as any provisioning execution does: it adds the
nodes (BatchAddClusterNodes), waits on a task token until they are usable, and ends satisfied,
recording its outcome. The execution it supersedes is not stopped: decide wakes it, its fence finds
a newer generation and it ends superseded, recording what it did.

Sources: Step Functions API Reference, "StopExecution" and "DescribeExecution" (an aborted
execution's status is ABORTED); "StartExecution" (an execution's name is kept for 90 days);
Step Functions Developer Guide, "Fail workflow state" (`CausePath`), "Intrinsic functions"
(`States.StringToJson`) and "Wait for a Callback with Task Token" (`.waitForTaskToken`);
Karpenter documentation, "Disruption" (consolidation of empty nodes after `consolidateAfter`,
within the NodePool's budgets).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ebb.config.pod_spec import INSTANCE_GROUP_LABEL
from ebb.local.cluster import HyperPodOnEks
from ebb.local.kubernetes import ClusterCertificates
from ebb.local.provisioning_runs import add_requests, pool_events, running
from ebb.local.stack_deployment import (
    BATCH,
    BOOT_SECONDS,
    LLM,
    ROOT,
    STACK,
    audit,
    deployed,
    kubernetes,
    run_past_next_tick,
    send_jobs,
    stop_ticking,
)

EVENTS = ROOT / "events"
WORKER = "batch/batch-worker"
G5, G6E = "gpu-g5-use1a", "gpu-g6e-use1b"
TABLE = f"{STACK}-StateTable"
NORMAL_PATH = ["CheckGeneration", "StillCurrent", "RecordStart", "ScaleOut", "Standing"]
SATISFIED_END = ["Standing", "ScaleIn", "RecordOutcome", "Ended"]
# Long enough for a generation's nodes to boot, join and be seen usable (the stand-in's boot time
# and the HyperPod event that wakes the waiting execution), with the decide ticks alongside.
PROVISIONED_SECONDS = BOOT_SECONDS + 120
TAKE_OVER = ["ValidateRequest", "RequestKind", "BackfillTakeOver", "BackfillCarryOut", "BackfillHandOver"]

pytestmark = pytest.mark.integration


def _start(cluster: HyperPodOnEks, name: str, request: dict[str, Any]) -> str:
    sfn = cluster.world.clients.client("stepfunctions")
    machine = cluster.world.state_machine_arn("ProvisionStateMachine")
    return str(
        sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps(request))["executionArn"]
    )


def _described(cluster: HyperPodOnEks, execution: str) -> dict[str, Any]:
    described: dict[str, Any] = cluster.world.clients.client("stepfunctions").describe_execution(
        executionArn=execution
    )
    return described


def _entered(cluster: HyperPodOnEks, execution: str) -> list[str]:
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in cluster.world.execution_history(execution)
        if e["type"].endswith("StateEntered")
    ]


def _pool_item(cluster: HyperPodOnEks) -> dict[str, Any]:
    item: dict[str, Any] = cluster.world.clients.client("dynamodb").get_item(
        TableName=TABLE, Key={"pk": {"S": "POOL#gpu"}, "sk": {"S": "STATE"}}, ConsistentRead=True
    )["Item"]
    return item


def _pool_state(cluster: HyperPodOnEks) -> dict[str, Any]:
    state: dict[str, Any] = json.loads(_pool_item(cluster)["state"]["S"])
    return state


def _decisions(cluster: HyperPodOnEks, since: datetime) -> list[dict[str, Any]]:
    """The pool's decisions from `since` on, oldest first (not the workflow's own entries)."""
    return [r for r in reversed(audit(cluster, "POOL#gpu", since)) if r.get("event") is None]


def _replicas(cluster: HyperPodOnEks, config: Any, target: Any = BATCH) -> int:
    client = kubernetes(cluster, config)
    try:
        return client.read_scale(target).spec.replicas
    finally:
        client.close()


def _backfill(cluster: HyperPodOnEks, minutes: float, **fields: Any) -> dict[str, Any]:
    until = (cluster.world.now() + timedelta(minutes=minutes)).isoformat()
    return {"schemaVersion": 1, "kind": "backfill", "nodePool": "gpu", "until": until, **fields}


def _ready_nodes(cluster: HyperPodOnEks, config: Any) -> dict[str, int]:
    """Kubernetes nodes whose Ready condition is True, per HyperPod instance group (the cluster's
    own view, not the workflow's)."""
    client = kubernetes(cluster, config)
    try:
        nodes = client.list_nodes()
    finally:
        client.close()
    ready: dict[str, int] = {G5: 0, G6E: 0}
    for node in nodes:
        if node.is_ready:
            group = node.labels[INSTANCE_GROUP_LABEL]
            ready[group] = ready.get(group, 0) + 1
    return ready


def _group_targets(cluster: HyperPodOnEks, config: Any) -> dict[str, int]:
    described = cluster.world.clients.client("sagemaker").describe_cluster(
        ClusterName=config.binding.spec.hyper_pod_cluster.name
    )
    return {g["InstanceGroupName"]: g["TargetCount"] for g in described["InstanceGroups"]}


def test_a_backfill_raises_the_pool_to_its_floor_and_an_older_execution_cannot_act(
    tmp_path: Path, certificates: ClusterCertificates
) -> None:
    with deployed(tmp_path / "config", certificates) as (cluster, config):
        since = run_past_next_tick(cluster)
        send_jobs(cluster, 8)
        run_past_next_tick(cluster)  # decide: 4 workers, one g5 node, generation 1
        (first,) = {d["generation"] for d in _decisions(cluster, since)}
        assert first == 1
        older = _pool_item(cluster)["execution_arn"]["S"]
        assert older.endswith("-g1-c0")

        request = _backfill(
            cluster, 60, name="nightly", nodes=3, replicas=[{"scaler": WORKER, "replicas": 6}]
        )
        execution = _start(cluster, "backfill-gpu-nightly", request)
        cluster.world.run_for(20)

        # The older execution cannot act: woken by the new generation, its fence finds it
        # superseded, and it ends by itself, recording so (it is not stopped).
        assert _described(cluster, older)["status"] == "SUCCEEDED"
        assert _entered(cluster, older)[-3:] == ["Standing", "RecordOutcome", "Ended"]
        (superseded,) = pool_events(cluster, "provisioning-ended", since)
        assert (superseded["execution"], superseded["generation"]) == (older.rsplit(":", 1)[-1], 1)
        assert (superseded["outcome"], superseded["fence"]) == ("superseded", "newer-generation")
        assert _described(cluster, execution)["status"] == "RUNNING"  # waiting for its nodes

        cluster.world.run_for(PROVISIONED_SECONDS)
        described = _described(cluster, execution)
        assert described["status"] == "SUCCEEDED"
        entered = _entered(cluster, execution)
        assert entered[: len(TAKE_OVER) + len(NORMAL_PATH)] == [*TAKE_OVER, *NORMAL_PATH]
        assert entered[-len(SATISFIED_END) :] == SATISFIED_END
        assert "WaitForChange" in entered
        output = json.loads(described["output"])
        # The execution carried the generation it took, and its fence found it current.
        assert output["request"]["kind"] == "decision"
        assert output["request"]["generation"] == 2
        assert {k: output["fence"][k] for k in ("current", "generation", "poolGeneration")} == {
            "current": True,
            "generation": 2,
            "poolGeneration": 2,
        }
        assert output["outcome"] == {"outcome": "satisfied"}
        # Six workers (the metrics want four) on two g5 nodes; the floor's third node goes to the
        # cheaper group as well.
        assert output["request"]["nodeTargets"] == {G5: 3, G6E: 0}
        assert _replicas(cluster, config) == 6
        # The backfill added the nodes itself (the older generation's one and its own two) and
        # they are usable: Running in HyperPod, Ready in Kubernetes.
        (satisfied,) = [e for e in pool_events(cluster, "provisioning-ended", since) if e["generation"] == 2]
        assert (satisfied["execution"], satisfied["outcome"]) == ("backfill-gpu-nightly", "satisfied")
        assert satisfied["granted"] == {"us-east-1a": {G5: 3}, "us-east-1b": {G6E: 0}}
        assert _group_targets(cluster, config) == {G5: 3, G6E: 0}
        assert (running(cluster, G5), running(cluster, G6E)) == (3, 0)
        assert _ready_nodes(cluster, config) == {G5: 3, G6E: 0}

        state = _pool_state(cluster)
        assert state["generation"] == 2
        assert state["backfill"] == {
            "name": "nightly",
            "nodes": 3,
            "group_nodes": {},
            "replicas": {WORKER: 6},
            "until": request["until"].replace("+00:00", "Z"),
        }
        # It is the pool's execution now; the one it superseded was woken to end itself.
        assert _pool_item(cluster)["execution_arn"]["S"] == execution
        (taken,) = [d for d in _decisions(cluster, since) if d["reasons"] == ["backfill"]]
        assert "woke generation 1 (new-generation)" in taken["actions"]
        assert "took over provisioning as backfill-gpu-nightly" in taken["actions"]
        assert not any(a.startswith("started provisioning") for a in taken["actions"])
        (worker,) = [d for d in audit(cluster, WORKER, since) if d["reasons"] == ["backfill"]]
        assert worker["desired"] == 6
        assert worker["steps"][-1].startswith("backfill floor until ")

        # Generation 1's request, started again by hand: its fence stops it before it acts.
        stale = json.loads((EVENTS / "provision-request.json").read_text()) | {"generation": 1}
        adds = len(add_requests(cluster))
        replay = _start(cluster, "stale-g1", stale)
        cluster.world.run_for(10)
        assert _entered(cluster, replay) == [
            "ValidateRequest",
            "RequestKind",
            "CheckGeneration",
            "StillCurrent",
            "Superseded",
            "RecordOutcome",
            "Ended",
        ]
        assert len(add_requests(cluster)) == adds
        assert _group_targets(cluster, config) == {G5: 3, G6E: 0}


def test_decide_keeps_the_floor_through_the_window_and_scales_in_after_it(
    tmp_path: Path, certificates: ClusterCertificates
) -> None:
    with deployed(tmp_path / "config", certificates) as (cluster, config):
        run_past_next_tick(cluster)
        # No traffic at all: without the backfill the pool would stay at zero.
        request = _backfill(cluster, 20, name="window", nodes=2, replicas=[{"scaler": WORKER, "replicas": 1}])
        until = datetime.fromisoformat(request["until"])
        execution = _start(cluster, "backfill-gpu-window", request)
        cluster.world.run_for(20)
        assert _pool_state(cluster)["node_targets"] == {G5: 2, G6E: 0}
        # The backfill's own execution adds the floor's nodes and ends once they are usable.
        cluster.world.run_for(PROVISIONED_SECONDS)
        assert _described(cluster, execution)["status"] == "SUCCEEDED"
        assert _entered(cluster, execution)[-len(SATISFIED_END) :] == SATISFIED_END
        assert _ready_nodes(cluster, config) == {G5: 2, G6E: 0}
        since = cluster.world.now()
        # Ticks come once a minute and each wait ends 10 s past one: stopping 75 s before `until`
        # keeps every decision (and the state read below) inside the window, whatever moment of its
        # minute Scheduler picks.
        while cluster.world.now() < until - timedelta(seconds=75):
            run_past_next_tick(cluster)
        assert cluster.world.now() < until

        during = _decisions(cluster, since)
        assert len(during) >= 12
        assert {json.dumps(d["nodeTargets"], sort_keys=True) for d in during} == {
            json.dumps({G5: 2, G6E: 0}, sort_keys=True)
        }
        assert {d["generation"] for d in during} == {_pool_state(cluster)["generation"]}
        # The two nodes joined and stayed empty but for the floor's one worker: one of them has been
        # empty far longer than consolidateAfter (5m), and the floor kept it.
        assert any("keeps" in note for d in during[-3:] for note in d["backfillNotes"])
        assert _group_targets(cluster, config)[G5] == 2
        assert _replicas(cluster, config) == 1

        after = cluster.world.now()
        while cluster.world.now() < until + timedelta(minutes=3):
            run_past_next_tick(cluster)
        ended = [d for d in _decisions(cluster, after) if d["at"] >= until.isoformat()]
        assert any("ended: normal scaling resumes" in note for note in ended[0]["backfillNotes"])
        assert ended[-1]["backfill"] is None
        assert _pool_state(cluster)["backfill"] is None
        # Normal scaling: the worker goes to zero (no messages, cooldown long past), and empty nodes
        # go within the budget of one node at a time.
        assert _replicas(cluster, config) == 0
        lowered = [d for d in ended if sum(d["nodeTargets"].values()) < 2]
        assert lowered, [d["nodeTargets"] for d in ended]
        assert lowered[0]["nodeTargets"] == {G5: 1, G6E: 0}
        assert "remove" in lowered[0]["plan"]
        # And the workflow removes it: the lower generation's execution goes through the scale-in
        # states, ends satisfied, and the pool is down to one usable node.
        scale_in = _pool_item(cluster)["execution_arn"]["S"]
        assert "ScaleInStep" in _entered(cluster, scale_in)
        (removed,) = [
            e
            for e in pool_events(cluster, "provisioning-ended", after)
            if e["generation"] == lowered[0]["generation"]
        ]
        assert (removed["outcome"], removed["nodeTargets"]) == ("satisfied", {G5: 1, G6E: 0})
        assert _group_targets(cluster, config) == {G5: 1, G6E: 0}
        assert _ready_nodes(cluster, config) == {G5: 1, G6E: 0}


def test_a_cancelled_backfill_hands_the_pool_back_to_decide(
    tmp_path: Path, certificates: ClusterCertificates
) -> None:
    with deployed(tmp_path / "config", certificates) as (cluster, config):
        since = run_past_next_tick(cluster)
        backfill = _start(
            cluster,
            "backfill-gpu-c",
            _backfill(cluster, 120, nodes=2, replicas=[{"scaler": WORKER, "replicas": 2}]),
        )
        cluster.world.run_for(20)
        assert _replicas(cluster, config) == 2
        assert _pool_state(cluster)["backfill"]["name"] == "backfill-gpu-c"

        cancel = _start(
            cluster, "cancel-gpu-c", {"schemaVersion": 1, "kind": "backfill-cancel", "nodePool": "gpu"}
        )
        cluster.world.run_for(20)
        # The backfill's execution, still waiting for its nodes, is woken by the cancellation's
        # generation: its fence finds it superseded and it ends by itself, recording so.
        assert _described(cluster, backfill)["status"] == "SUCCEEDED"
        assert _entered(cluster, backfill)[-3:] == ["Standing", "RecordOutcome", "Ended"]
        (superseded,) = pool_events(cluster, "provisioning-ended", since)
        assert (superseded["execution"], superseded["outcome"]) == ("backfill-gpu-c", "superseded")
        assert superseded["fence"] == "newer-generation"
        entered = _entered(cluster, cancel)
        assert entered[: len(TAKE_OVER) + len(NORMAL_PATH)] == [*TAKE_OVER, *NORMAL_PATH]
        state = _pool_state(cluster)
        assert state["backfill"] is None
        assert _pool_item(cluster)["execution_arn"]["S"] == cancel
        (cancelled,) = [d for d in _decisions(cluster, since) if d["reasons"] == ["backfill-cancel"]]
        assert cancelled["generation"] == state["generation"]
        assert cancelled["backfill"] is None
        assert "woke generation 1 (new-generation)" in cancelled["actions"]
        assert "took over provisioning as cancel-gpu-c" in cancelled["actions"]
        # No work: no workers.
        assert _replicas(cluster, config) == 0

        # The cancellation's generation is decide's alone: the two nodes the backfill had already
        # added are not held any more; with no work they are empty, and decide removes them
        # (Karpenter's consolidation of empty nodes after consolidateAfter, one at a time within
        # the budget) through the workflow's scale-in: about 12 minutes here.
        cancelled_at = cluster.world.now()
        while _group_targets(cluster, config) != {G5: 0, G6E: 0}:
            assert cluster.world.now() < cancelled_at + timedelta(minutes=20), _group_targets(cluster, config)
            run_past_next_tick(cluster)
        assert _described(cluster, cancel)["status"] == "SUCCEEDED"
        assert _pool_state(cluster)["node_targets"] == {G5: 0, G6E: 0}
        assert _pool_state(cluster)["backfill"] is None
        assert _ready_nodes(cluster, config) == {G5: 0, G6E: 0}
        assert all(d["backfill"] is None for d in _decisions(cluster, cancelled_at))

        # Decide scales normally again: work brings workers, none of the floor's.
        send_jobs(cluster, 8)
        run_past_next_tick(cluster)
        assert _replicas(cluster, config) == 4
        assert _pool_state(cluster)["backfill"] is None

        # A second cancellation finds nothing to cancel and changes nothing.
        generation = _pool_state(cluster)["generation"]
        again = _start(
            cluster, "cancel-gpu-c2", {"schemaVersion": 1, "kind": "backfill-cancel", "nodePool": "gpu"}
        )
        cluster.world.run_for(20)
        assert _entered(cluster, again) == [
            "ValidateRequest",
            "RequestKind",
            "BackfillTakeOver",
            "BackfillCarryOut",
            "BackfillRecorded",
        ]
        assert json.loads(_described(cluster, again)["output"])["backfill"]["outcome"] == (
            "node pool 'gpu' has no backfill in its window: nothing to cancel"
        )
        assert _pool_state(cluster)["generation"] == generation


def _everything(cluster: HyperPodOnEks, config: Any) -> dict[str, Any]:
    """What a request could change: the state table, the Deployments' replicas, HyperPod's targets."""
    items = cluster.world.clients.client("dynamodb").scan(TableName=TABLE, ConsistentRead=True)["Items"]
    return {
        "table": sorted(json.dumps(item, sort_keys=True) for item in items),
        "replicas": {str(t): _replicas(cluster, config, t) for t in (BATCH, LLM)},
        "hyperpod": _group_targets(cluster, config),
    }


@pytest.mark.parametrize(
    ("change", "failed_in", "named"),
    [
        (
            {"nodes": -1},
            "ValidateRequest",
            ["backfill.nodes: Input should be greater than or equal to 0"],
        ),
        (
            {"kind": "backfil"},
            "ValidateRequest",
            [
                "kind: Input tag 'backfil' found using 'kind' does not match any of the expected tags: "
                "'decision', 'backfill', 'backfill-cancel'"
            ],
        ),
        (
            {"groupNodes": {"gpu-p5": 1}, "replicas": [{"scaler": "batch/unknown", "replicas": 1}]},
            "BackfillTakeOver",
            [
                "backfill.groupNodes.gpu-p5: not an instance group of node pool 'gpu' "
                f"(allowed: {G5}, {G6E})",
                "backfill.replicas.0.scaler: 'batch/unknown' is not a scaler of node pool 'gpu' "
                f"(allowed: {WORKER}, serving/llm-inference)",
            ],
        ),
        (
            {"nodes": 9, "replicas": [{"scaler": WORKER, "replicas": 9}]},
            "BackfillTakeOver",
            [
                "backfill.nodes: 9 is above node pool 'gpu''s limits.nodes (allowed: 0 to 8)",
                f"backfill.replicas.0.replicas: 9 is above {WORKER}'s maxReplicaCount (allowed: 0 to 8)",
            ],
        ),
        (
            {"until": "2020-01-01T00:00:00Z"},
            "BackfillTakeOver",
            ["backfill.until: 2020-01-01T00:00:00+00:00 has passed"],
        ),
    ],
)
def test_a_malformed_backfill_is_rejected_with_the_field_before_anything_changes(
    tmp_path: Path,
    certificates: ClusterCertificates,
    change: dict[str, Any],
    failed_in: str,
    named: list[str],
) -> None:
    with deployed(tmp_path / "config", certificates) as (cluster, config):
        # A pool with a backfill already: a bad request must not touch it either.
        _start(
            cluster,
            "backfill-gpu-good",
            _backfill(cluster, 60, nodes=1, replicas=[{"scaler": WORKER, "replicas": 2}]),
        )
        run_past_next_tick(cluster)
        # No ticks and no traffic (so no alarm edges): only the request could change anything now.
        stop_ticking(cluster)
        cluster.world.run_for(60)
        before = _everything(cluster, config)
        assert before["replicas"][str(BATCH)] == 2

        execution = _start(cluster, "backfill-gpu-bad", _backfill(cluster, 60, nodes=2) | change)
        cluster.world.run_for(30)

        described = _described(cluster, execution)
        assert (described["status"], described["error"]) == ("FAILED", "InvalidProvisioningRequest")
        for problem in named:
            assert problem in described["cause"]
        entered = _entered(cluster, execution)
        assert entered[-3:] == [failed_in, "RejectionReason", "Rejected"]
        assert _everything(cluster, config) == before


def test_in_shadow_mode_a_backfill_is_recorded_and_nothing_acts(
    tmp_path: Path, certificates: ClusterCertificates
) -> None:
    with deployed(tmp_path / "config", certificates, shadow_mode=True) as (cluster, config):
        run_past_next_tick(cluster)
        execution = _start(
            cluster,
            "backfill-gpu-shadow",
            _backfill(cluster, 60, nodes=2, replicas=[{"scaler": WORKER, "replicas": 3}]),
        )
        cluster.world.run_for(20)

        assert _entered(cluster, execution) == [
            "ValidateRequest",
            "RequestKind",
            "BackfillTakeOver",
            "BackfillCarryOut",
            "BackfillRecorded",
        ]
        output = json.loads(_described(cluster, execution)["output"])["backfill"]
        assert output["carryOut"] is False
        assert output["outcome"].endswith("(shadow mode: recorded, nothing acts)")
        state = _pool_state(cluster)
        assert state["backfill"]["replicas"] == {WORKER: 3}
        assert state["node_targets"] == {G5: 2, G6E: 0}
        assert "execution_arn" not in _pool_item(cluster)
        assert _replicas(cluster, config) == 0
        assert _group_targets(cluster, config) == {G5: 0, G6E: 0}
