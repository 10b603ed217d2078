"""The provisioning workflow as deployed, in the local world (latency model, fixed 240 s boots).

- plan to usable, through decide's normal cadence: work for N nodes arrives on the batch
  worker's queue (8 messages a node: queueLength 2, four 1-GPU pods a 4-GPU node) with decide's
  tick on; the next tick decides the replicas and a node plan of N, decide starts the execution,
  and the clock stops once all N Kubernetes nodes are Ready with their GPUs allocatable, for
  N = 1, 10, 120 (goal: one boot time + one decision interval + 30 s, counted from the work's
  arrival, so the wait for the tick is in it). The example's NodePool limits (8 nodes) and the
  worker's maxReplicaCount (8) are raised to fit N, and its HPA scale-up policy lets it reach
  its replicas in one step (`advanced.horizontalPodAutoscalerConfig.behavior`: a user's setting
  for a batch ramp; the default, 100 % or 4 pods per 15 s, would measure the ramp, not the
  workflow). Also printed: from the decision that planned N nodes to all usable;
- one zone out of capacity, with decide on: from the first failure event to the moved share's
  node usable in the other zone (goal: one boot time + 2 min), and the reaction to that cluster
  event: how long until a provisioning round runs (goal: 10 s);
- a quiet hour: state transitions of an execution waiting for a node that takes hours to boot
  (goal: at most 30);
- across every run, asserted (`ebb.local.provisioning_invariants`, the checker every test that
  deploys the stack runs): never more nodes requested than the current generation's targets and
  never two executions acting on the pool at once.

Run: .venv/bin/python bench/bench_provision.py [--sizes 1 10 120]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from ebb.config import EbbConfig, load_config_files
from ebb.core.nodes.catalogue import INSTANCE_GROUP_LABEL
from ebb.local.cluster import HyperPodOnEks
from ebb.local.kubernetes import ClusterCertificates, generate_cluster_certificates
from ebb.local.provisioning_invariants import check_provisioning_invariants
from ebb.local.provisioning_runs import CLUSTER, G5, G6E, pin_generation, switch_off_decide
from ebb.local.stack_deployment import (
    BOOT_SECONDS,
    EXAMPLE,
    deployed,
    deployed_config,
    kubernetes,
    run_past_next_tick,
    send_jobs,
)
from ebb.service.provisioning import POLL_SECONDS

DECISION_INTERVAL = 60.0


@contextmanager
def _stack(certificates: ClusterCertificates) -> Iterator[tuple[HyperPodOnEks, Any]]:
    with tempfile.TemporaryDirectory() as scratch, deployed(Path(scratch) / "config", certificates) as stack:
        yield stack


def _usable(cluster: HyperPodOnEks, config: Any, groups: tuple[str, ...]) -> int:
    client = kubernetes(cluster, config)
    try:
        nodes = client.list_nodes(f"{INSTANCE_GROUP_LABEL} in ({','.join(groups)})")
    finally:
        client.close()
    return sum(
        1
        for n in nodes
        if n.is_ready
        and not n.spec.unschedulable
        and n.status.allocatable.get("nvidia.com/gpu", Decimal(0)) > 0
    )


def _run_until(cluster: HyperPodOnEks, done: Any, limit: float, step: float = 5.0) -> datetime | None:
    end = cluster.world.now() + timedelta(seconds=limit)
    while cluster.world.now() < end:
        if done():
            return cluster.world.now()
        cluster.world.run_for(step)
    return cluster.world.now() if done() else None


def _executions(cluster: HyperPodOnEks) -> list[str]:
    sfn = cluster.world.clients.client("stepfunctions")
    machine = cluster.world.state_machine_arn("ProvisionStateMachine")
    return [e["executionArn"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]]


def check_invariants(cluster: HyperPodOnEks, config: Any) -> tuple[int, int]:
    """Assert both invariants (the checker every deployed-stack test runs); returns (additions
    checked, acting rounds checked)."""
    report = check_provisioning_invariants(cluster, config)
    return report.additions, report.rounds


def _config_for(directory: Path, size: int) -> EbbConfig:
    """The example, shadow mode off, with room for `size` nodes of the batch worker's pods."""
    directory.mkdir(parents=True, exist_ok=True)
    replicas = 4 * size
    for path in sorted(EXAMPLE.glob("*.yaml")):
        documents = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
        for document in documents:
            if document.get("kind") == "ClusterBinding":
                document["spec"]["shadowMode"] = False
            if document.get("kind") == "NodePool":
                limits = document["spec"]["limits"]
                limits["nodes"] = str(max(int(limits["nodes"]), size))
                limits["nvidia.com/gpu"] = str(max(int(limits["nvidia.com/gpu"]), 4 * size))
            if document.get("kind") == "ScaledObject" and document["metadata"]["name"] == "batch-worker":
                document["spec"]["maxReplicaCount"] = max(document["spec"]["maxReplicaCount"], replicas)
                document["spec"]["advanced"] = {
                    "horizontalPodAutoscalerConfig": {
                        "behavior": {
                            "scaleUp": {
                                "stabilizationWindowSeconds": 0,
                                "policies": [{"type": "Pods", "value": replicas, "periodSeconds": 15}],
                            }
                        }
                    }
                }
        (directory / path.name).write_text(yaml.safe_dump_all(documents, sort_keys=False), encoding="utf-8")
    return load_config_files(sorted(directory.glob("*.yaml")))


def _planned_nodes(cluster: HyperPodOnEks) -> list[tuple[datetime, int]]:
    """Each provisioning execution's start and the nodes its generation targets, oldest first."""
    sfn = cluster.world.clients.client("stepfunctions")
    planned = []
    for arn in _executions(cluster):
        described = sfn.describe_execution(executionArn=arn)
        request = json.loads(described["input"])
        if "nodeTargets" in request:
            planned.append((described["startDate"], sum(request["nodeTargets"].values())))
    return sorted(planned)


def plan_to_usable(certificates: ClusterCertificates, size: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch) / "config"
        config = _config_for(directory, size)
        with deployed_config(directory, config, certificates) as (cluster, config):
            run_past_next_tick(cluster)  # the first ticks are made (alarms, timers); nothing to do yet
            arrived = cluster.world.now()
            send_jobs(cluster, 8 * size)
            groups = (G5, G6E)
            at = _run_until(
                cluster, lambda: _usable(cluster, config, groups) >= size, 4 * BOOT_SECONDS, step=1
            )
            assert at is not None, f"{size} nodes not usable within {4 * BOOT_SECONDS} s"
            plans = _planned_nodes(cluster)
            planned_at = next((moment for moment, nodes in plans if nodes >= size), None)
            assert planned_at is not None, f"no decision planned {size} nodes: {plans}"
            assert max(nodes for _moment, nodes in plans) == size, f"decide planned {plans}, not {size}"
            goal = BOOT_SECONDS + DECISION_INTERVAL + 30
            total = (at - arrived).total_seconds()
            adds = [r for r in cluster.hyperpod.requests if r["operation"] == "BatchAddClusterNodes"]
            checked, rounds = check_invariants(cluster, config)
            print(
                f"N={size:>3}: work arrived to all usable {total:6.1f} s "
                f"(goal {goal:.0f} s: {'met' if total <= goal else 'NOT met'}); "
                f"decision {(planned_at - arrived).total_seconds():5.1f} s after the work, "
                f"plan to all usable {(at - planned_at).total_seconds():6.1f} s; "
                f"{len(plans)} generation(s), {len(adds)} BatchAddClusterNodes; "
                f"invariants hold ({checked} additions, {rounds} rounds)"
            )


def zone_out(certificates: ClusterCertificates) -> None:
    with _stack(certificates) as (cluster, config):
        cluster.hyperpod.set_capacity("ml.g5.12xlarge", 0, availability_zone="us-east-1a")
        run_past_next_tick(cluster)
        send_jobs(cluster, 8)
        sagemaker = cluster.world.clients.client("sagemaker")

        def failures() -> list[datetime]:
            events = sagemaker.list_cluster_events(ClusterName=CLUSTER, SortOrder="Ascending")["Events"]
            return [e["EventTime"] for e in events if e.get("EventLevel") == "Error"]

        failed_at = _run_until(cluster, lambda: bool(failures()), 300, step=1)
        assert failed_at is not None, "no capacity failure"
        first_failure = failures()[0]
        at = _run_until(cluster, lambda: _usable(cluster, config, (G6E,)) >= 1, 3 * BOOT_SECONDS)
        assert at is not None, "the moved share never became usable"
        moved = (at - first_failure).total_seconds()
        goal = BOOT_SECONDS + 120
        rounds = sorted(
            e["timestamp"]
            for arn in _executions(cluster)
            for e in cluster.world.execution_history(arn)
            if e["type"] == "TaskStateEntered" and e["stateEnteredEventDetails"]["name"] == "ScaleOut"
        )
        reaction = min((r - first_failure).total_seconds() for r in rounds if r >= first_failure)
        checked, spans = check_invariants(cluster, config)
        print(
            f"zone out: first failure event to the moved share usable {moved:.1f} s "
            f"(goal {goal:.0f} s: {'met' if moved <= goal else 'NOT met'}); "
            f"cluster event to the next provisioning round {reaction:.1f} s "
            f"(goal 10 s: {'met' if reaction <= 10 else 'NOT met'}); "
            f"invariants hold ({checked} additions, {spans} rounds)"
        )


def quiet_hour(certificates: ClusterCertificates) -> None:
    with _stack(certificates) as (cluster, _config):
        switch_off_decide(cluster)
        cluster.hyperpod.set_timings(CLUSTER, G5, boot_seconds=(4 * 3600.0, 4 * 3600.0))
        _request, arn = pin_generation(cluster, {G5: 1, G6E: 0})
        cluster.world.run_for(POLL_SECONDS)
        start = cluster.world.now()
        cluster.world.run_for(3600)
        end = cluster.world.now()
        transitions = [
            e
            for e in cluster.world.execution_history(arn)
            if e["type"].endswith("StateEntered") and start <= e["timestamp"] < end
        ]
        print(
            f"quiet hour: {len(transitions)} state transitions while waiting "
            f"(goal at most 30: {'met' if len(transitions) <= 30 else 'NOT met'})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[1, 10, 120])
    arguments = parser.parse_args()
    certificates = generate_cluster_certificates()
    for size in arguments.sizes:
        plan_to_usable(certificates, size)
    zone_out(certificates)
    quiet_hour(certificates)


if __name__ == "__main__":
    main()
