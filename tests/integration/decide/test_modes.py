"""The modes users migrate with, on the deployed stack (template.yaml in the local world):
run-time pauses (`ebb pause` / `ebb resume`), replicas changed by hand, pre-warm windows,
pods-only NodePools and the refusal to manage nodes HyperPod's own autoscaling manages, and
shadow mode reaching the provisioning workflow's fence.

Sources: a pause holds replicas as KEDA's `autoscaling.keda.sh/paused: "true"` annotation does
(KEDA docs, "Scaling Deployments, StatefulSets & Custom Resources", Pausing autoscaling: paused
at the current replica count, `paused-replicas` to pause at a given one); hand-changed replicas
are overridden as the HPA does (Kubernetes docs, "Horizontal Pod Autoscaling": "Migrating
Deployments and StatefulSets to horizontal autoscaling" says an applied `spec.replicas` scales
the target to that value while an HPA is active, and "Algorithm details" computes each sync's
desired count from the current replicas and the metrics, not from what was applied);
DescribeCluster's `AutoScaling` (`Mode` Enable|Disable,
`AutoScalerType` Karpenter, `Status`) is botocore's sagemaker service model,
ClusterAutoScalingConfigOutput.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from rich.console import Console

from ebb.cli.explain import run_explain
from ebb.cli.main import build_parser
from ebb.local.cluster import HyperPodOnEks
from ebb.local.stack_deployment import (
    ROOT,
    STACK,
    audit,
    run_past_next_tick,
    send_jobs,
)
from ebb.service.provisioning import POLL_SECONDS

from .conftest import ExampleStack

pytestmark = pytest.mark.integration

WORKER = "batch/batch-worker"
LLM = "serving/llm-inference"
TABLE = f"{STACK}-StateTable"
EVENTS = ROOT / "events"


def _cli(*argv: str) -> tuple[int, str]:
    """An `ebb` sub-command as the command parses it, against the local world's table."""
    args = build_parser().parse_args([*argv, "--table", TABLE, "--region", "us-east-1"])
    output = io.StringIO()
    code = args.run(args, Console(file=output, width=500, highlight=False))
    return code, " ".join(output.getvalue().split())


def test_a_paused_pool_acts_on_nothing_its_execution_stops_and_resume_scales_again(
    example: ExampleStack,
) -> None:
    with example.deployed() as (cluster, config):
        since = run_past_next_tick(cluster)
        send_jobs(cluster, 8)
        run_past_next_tick(cluster)  # four workers, generation 1 provisioning one node
        assert example.worker_replicas(cluster, config) == 4

        code, said = _cli("pause", "--nodepool", "gpu", "--reason", "migrating from KEDA")
        assert code == 0
        assert "node pool gpu paused by arn:aws:" in said
        assert "(ebb pause: migrating from KEDA)" in said
        send_jobs(cluster, 12)  # unpaused, 20 messages would want 8 workers and a second node
        paused_at = cluster.world.now()
        run_past_next_tick(cluster)
        cluster.world.run_for(POLL_SECONDS)  # the execution's next round meets the pause at its fence

        assert example.worker_replicas(cluster, config) == 4
        held = [d for d in audit(cluster, WORKER, paused_at) if d["paused"]]
        assert held, "every decision while paused says so"
        for decision in held:
            assert decision["paused"].startswith("paused by arn:aws:")
            assert "migrating from KEDA" in decision["paused"]
            assert decision["desired"] == 4
            assert decision["applied"] is False
        pool = example.pool_decisions(cluster, paused_at)
        assert pool
        for decision in pool:
            assert decision["actions"] == []
            assert decision["generation"] == 1
            assert decision["modeNotes"][0].startswith("node pool 'gpu' paused by arn:aws:")
        ended = example.pool_events(cluster, "provisioning-ended", since)
        assert [(e["generation"], e["outcome"], e["fence"]) for e in ended] == [(1, "superseded", "paused")]

        code, said = _cli("resume", "--nodepool", "gpu")
        assert (code, said) == (
            0,
            "node pool gpu resumed; the next decision of node pool gpu scales it again",
        )
        resumed_at = cluster.world.now()
        run_past_next_tick(cluster)
        assert example.worker_replicas(cluster, config) == 8
        assert all(d["paused"] is None for d in audit(cluster, WORKER, resumed_at))
        assert any(d["generation"] == 2 for d in example.pool_decisions(cluster, resumed_at))
        assert _cli("resume", "--nodepool", "gpu") == (0, "node pool gpu was not paused")


def test_a_paused_scaler_keeps_its_replicas_while_the_pool_goes_on(
    example: ExampleStack,
) -> None:
    with example.deployed() as (cluster, config):
        run_past_next_tick(cluster)
        # Its pool is read from its newest decision.
        code, said = _cli("pause", "--scaler", WORKER)
        assert code == 0
        assert said.startswith(f"scaler {WORKER} paused by arn:aws:")
        assert said.endswith("(ebb pause); the next decision of node pool gpu holds it")
        send_jobs(cluster, 8)
        since = cluster.world.now()
        run_past_next_tick(cluster)

        assert example.worker_replicas(cluster, config) == 0
        decisions = audit(cluster, WORKER, since)
        assert decisions
        for decision in decisions:
            assert (decision["current"], decision["desired"], decision["rule"]) == (0, 0, "paused")
            assert decision["paused"].endswith("(ebb pause)")
            assert decision["steps"][-1] == decision["paused"]
        # The rest of the pool is decided as usual.
        assert all(d["paused"] is None for d in audit(cluster, LLM, since))
        assert all(d["modeNotes"] == [] for d in example.pool_decisions(cluster, since))

        assert _cli("resume", "--scaler", WORKER)[0] == 0
        run_past_next_tick(cluster)
        assert example.worker_replicas(cluster, config) == 4
        assert _cli("pause", "--scaler", "no-slash") == (2, "--scaler: 'no-slash' is not NAMESPACE/NAME")


def _annotate(cluster: HyperPodOnEks, annotations: dict[str, str | None]) -> None:
    """`kubectl annotate deployment batch-worker -n batch ...` (None removes one), as another client."""

    def change(deployment: dict[str, Any]) -> None:
        present = deployment["metadata"].setdefault("annotations", {})
        for key, value in annotations.items():
            if value is None:
                present.pop(key, None)
            else:
                present[key] = value

    cluster.kubernetes.update("Deployment", "batch-worker", change, namespace="batch")


def _kubernetes_calls(record: dict[str, Any]) -> dict[str, int]:
    return {k: n for k, n in record["calls"].items() if k.startswith("kubernetes:")}


def test_a_pause_annotation_on_the_target_holds_it_in_every_decision_until_removed(
    example: ExampleStack,
) -> None:
    """`ebb.dev/paused` and `ebb.dev/paused-replicas` on the target, read as KEDA reads its
    `autoscaling.keda.sh/paused` and `paused-replicas` on a ScaledObject (kedacore/keda
    apis/keda/v1alpha1/scaledobject_types.go at 01ee1d30, NeedToBePausedByAnnotation: the
    replicas form wins; KEDA docs, "Scaling Deployments, StatefulSets & Custom Resources",
    Pausing autoscaling)."""
    with example.deployed() as (cluster, config):
        run_past_next_tick(cluster)
        send_jobs(cluster, 8)
        example.run_until_worker_replicas(cluster, config, 4)
        before = example.pool_decisions(cluster, cluster.world.now().replace(minute=0, second=0))[0]

        _annotate(cluster, {"ebb.dev/paused": "true"})
        send_jobs(cluster, 8)  # 16 messages: 8 replicas, were it not paused
        since = cluster.world.now()
        run_past_next_tick(cluster)
        run_past_next_tick(cluster)
        assert example.worker_replicas(cluster, config) == 4
        held = audit(cluster, WORKER, since)
        assert held
        text = "paused by annotation ebb.dev/paused: 'true' on Deployment batch/batch-worker (replicas kept)"
        for decision in held:
            assert (decision["current"], decision["desired"], decision["rule"]) == (4, 4, "paused")
            assert decision["paused"] == text
            assert decision["steps"][-1] == text
            assert decision["applied"] is False
        # Read from the Deployment decide lists anyway: no Kubernetes call more per decision.
        for record in example.pool_decisions(cluster, since):
            assert _kubernetes_calls(record) == _kubernetes_calls(before)
        code, said = _cli_explain(cluster, WORKER)
        assert code == 0
        assert f"action: none: paused ({text})" in said

        # The replicas form: held at its count (set once), and it wins over `paused`.
        _annotate(cluster, {"ebb.dev/paused-replicas": "2"})
        since = cluster.world.now()
        run_past_next_tick(cluster)
        assert example.worker_replicas(cluster, config) == 2
        first = sorted(audit(cluster, WORKER, since), key=lambda d: d["at"])[0]
        assert (first["desired"], first["rule"], first["applied"]) == (2, "paused-replicas", True)
        assert first["paused"] == (
            "paused by annotation ebb.dev/paused-replicas: '2' on Deployment batch/batch-worker (held at 2)"
        )

        _annotate(cluster, {"ebb.dev/paused": None, "ebb.dev/paused-replicas": None})
        since = cluster.world.now()
        run_past_next_tick(cluster)
        # Scaled again from the 2 it held, toward the queue's 8 (at the HPA's scale-up rate).
        resumed = audit(cluster, WORKER, since)
        assert resumed
        assert all(d["paused"] is None and d["rule"] not in {"paused", "paused-replicas"} for d in resumed)
        assert example.worker_replicas(cluster, config) > 2


def _cli_explain(cluster: HyperPodOnEks, scaler: str) -> tuple[int, str]:
    """`ebb explain` against the local world's table, on the world's clock."""
    args = build_parser().parse_args(
        ["explain", scaler, "--since", "5m", "--table", TABLE, "--region", "us-east-1"]
    )
    output = io.StringIO()
    code = run_explain(args, output, clock=cluster.world.now)
    return code, " ".join(output.getvalue().split())


def test_replicas_changed_by_hand_are_overridden_at_the_next_decision_and_reported(
    example: ExampleStack,
) -> None:
    with example.deployed() as (cluster, config):
        run_past_next_tick(cluster)
        send_jobs(cluster, 8)
        run_past_next_tick(cluster)
        assert example.worker_replicas(cluster, config) == 4

        example.set_worker_replicas(cluster, config, 7)  # kubectl scale --replicas=7, by hand
        since = cluster.world.now()
        run_past_next_tick(cluster)

        assert example.worker_replicas(cluster, config) == 4
        first = audit(cluster, WORKER, since)[-1]
        assert first["changedByHand"] == {"set": 4, "found": 7}
        assert (first["current"], first["desired"], first["applied"]) == (7, 4, True)
        assert "replicas changed by hand: ebb set 4, found 7; this decision sets 4" in first["steps"]
        later = cluster.world.now()
        run_past_next_tick(cluster)
        assert all(d["changedByHand"] is None for d in audit(cluster, WORKER, later))


def test_a_pre_warm_window_raises_the_floor_while_it_lasts_and_ends_on_time(
    example: ExampleStack,
) -> None:
    # The world starts on Monday 2025-01-06 at 00:00 UTC: a window from 00:05 for 4 minutes.
    window = {"scaledObject": {"name": "batch-worker", "namespace": "batch"}, "schedule": "5 0 * * *"}
    prewarm = [{**window, "duration": "4m", "minReplicas": 2}]
    with example.deployed(prewarm=prewarm) as (cluster, config):
        world = cluster.world
        start = world.now().replace(minute=5, second=0, microsecond=0)
        end = start.replace(minute=9)
        while not audit(cluster, WORKER, start):
            run_past_next_tick(cluster)
        assert example.worker_replicas(cluster, config) == 2
        decision = audit(cluster, WORKER, start)[-1]
        assert decision["desired"] == 2
        assert decision["steps"][-1] == (
            "pre-warm window '5 0 * * *' from 2025-01-06T00:05:00+00:00 until "
            "2025-01-06T00:09:00+00:00: at least 2"
        )
        # Nodes follow from the plan: two workers need a node.
        assert example.pool_decisions(cluster, start)[-1]["nodeTargets"] == {
            "gpu-g5-use1a": 1,
            "gpu-g6e-use1b": 0,
        }
        while not audit(cluster, WORKER, end):
            run_past_next_tick(cluster)
        # The first decision at or after 00:09 no longer holds it: an idle worker goes to zero.
        assert example.worker_replicas(cluster, config) == 0
        after = audit(cluster, WORKER, end)
        assert all(not any(s.startswith("pre-warm") for s in d["steps"]) for d in after)
        assert all(
            any(s.startswith("pre-warm") for s in d["steps"])
            for d in audit(cluster, WORKER, start)
            if d["at"] < end.isoformat()
        )


def test_a_pods_only_pool_gets_replicas_and_no_node_plan(
    example: ExampleStack,
) -> None:
    with example.deployed(podsOnly=["gpu"]) as (cluster, config):
        since = run_past_next_tick(cluster)
        send_jobs(cluster, 8)
        run_past_next_tick(cluster)

        assert example.worker_replicas(cluster, config) == 4
        decisions = example.pool_decisions(cluster, since)
        assert decisions
        for decision in decisions:
            assert decision["nodeTargets"] == {"gpu-g5-use1a": 0, "gpu-g6e-use1b": 0}
            assert decision["generation"] == 0
            assert not any(a.startswith("started provisioning") for a in decision["actions"])
            assert decision["modeNotes"] == [
                "node pool 'gpu' is pods only (ClusterBinding spec.podsOnly): ebb sets replicas and "
                "plans no node; HyperPod's own autoscaling provides them"
            ]
        sfn = cluster.world.clients.client("stepfunctions")
        machine = cluster.world.state_machine_arn("ProvisionStateMachine")
        assert sfn.list_executions(stateMachineArn=machine)["executions"] == []

        # A backfill is refused for it, with the reason, before anything changes.
        backfill = {"schemaVersion": 1, "kind": "backfill", "nodePool": "gpu", "nodes": 2}
        backfill["until"] = "2025-01-06T06:00:00Z"
        run = sfn.start_execution(stateMachineArn=machine, name="bf", input=json.dumps(backfill))
        cluster.world.run_for(10)
        described = sfn.describe_execution(executionArn=run["executionArn"])
        assert described["status"] == "FAILED"
        assert described["error"] == "InvalidProvisioningRequest"
        assert "backfill.nodePool: node pool 'gpu' is pods only" in described["cause"]


def test_hyperpod_autoscaling_on_a_pool_ebb_manages_is_refused_with_the_fix(
    example: ExampleStack,
) -> None:
    with example.deployed() as (cluster, config):
        sagemaker = cluster.world.clients.client("sagemaker")
        name = config.binding.spec.hyper_pod_cluster.name
        group = sagemaker.describe_cluster(ClusterName=name)["InstanceGroups"][0]
        sagemaker.update_cluster(
            ClusterName=name,
            # UpdateCluster needs at least one group; this one keeps its count.
            InstanceGroups=[
                {
                    "InstanceGroupName": group["InstanceGroupName"],
                    "InstanceType": group["InstanceType"],
                    "InstanceCount": group["TargetCount"],
                    "LifeCycleConfig": group["LifeCycleConfig"],
                    "ExecutionRole": group["ExecutionRole"],
                }
            ],
            AutoScaling={"Mode": "Enable", "AutoScalerType": "Karpenter"},
            ClusterRole="arn:aws:iam::123456789012:role/hyperpod-autoscaling",
        )
        assert sagemaker.describe_cluster(ClusterName=name)["AutoScaling"]["Mode"] == "Enable"
        since = run_past_next_tick(cluster)
        send_jobs(cluster, 8)
        run_past_next_tick(cluster)

        assert example.worker_replicas(cluster, config) == 4, "replicas are still set"
        decisions = example.pool_decisions(cluster, since)
        assert decisions
        for decision in decisions:
            assert decision["generation"] == 0
            (note,) = decision["modeNotes"]
            assert note.startswith(
                "refused to manage the nodes of node pool 'gpu': HyperPod autoscaling is enabled"
            )
            assert note.endswith(
                "Fix: add 'gpu' to the ClusterBinding's spec.podsOnly, or disable HyperPod "
                "autoscaling (aws sagemaker update-cluster --auto-scaling Mode=Disable)"
            )


def test_in_shadow_mode_a_provisioning_execution_started_by_hand_changes_nothing(
    example: ExampleStack,
) -> None:
    with example.deployed(shadow_mode=True) as (cluster, config):
        world = cluster.world
        since = run_past_next_tick(cluster)
        send_jobs(cluster, 8)
        run_past_next_tick(cluster)
        assert example.worker_replicas(cluster, config) == 0
        recorded = example.pool_decisions(cluster, since)[0]
        assert (recorded["shadowMode"], recorded["generation"]) == (True, 1)

        # The generation shadow mode recorded, carried out by hand: its fence refuses.
        sfn = world.clients.client("stepfunctions")
        machine = world.state_machine_arn("ProvisionStateMachine")
        request = json.loads((EVENTS / "provision-request.json").read_text()) | {
            "generation": 1,
            "configVersion": 1,
        }
        run = sfn.start_execution(stateMachineArn=machine, name="by-hand", input=json.dumps(request))
        world.run_for(60)
        assert sfn.describe_execution(executionArn=run["executionArn"])["status"] == "SUCCEEDED"
        ended = example.pool_events(cluster, "provisioning-ended", since)
        assert [(e["outcome"], e["fence"]) for e in ended] == [("superseded", "shadow-mode")]
        groups = world.clients.client("sagemaker").describe_cluster(
            ClusterName=config.binding.spec.hyper_pod_cluster.name
        )["InstanceGroups"]
        assert {g["InstanceGroupName"]: g["TargetCount"] for g in groups} == {
            "gpu-g5-use1a": 0,
            "gpu-g6e-use1b": 0,
        }
