"""The provisioning workflow as deployed, in the local world (latency model, fixed 240 s boots).

- plan to usable: from a generation's plan of N nodes handed to the workflow to all N Kubernetes
  nodes Ready with their GPUs allocatable, for N = 1, 10, 120 (goal: one boot time + one decision
  interval + 30 s). The plan is handed over as decide records it (`pin_generation`), with decide's
  triggers off, since the example's demand alone never asks for 120 nodes: no decision interval
  is spent here, so the goal holds with that interval to spare;
- one zone out of capacity, with decide on: from the first failure event to the moved share's
  node usable in the other zone (goal: one boot time + 2 min), and the reaction to that cluster
  event: how long until a provisioning round runs (goal: 10 s);
- a quiet hour: state transitions of an execution waiting for a node that takes hours to boot
  (goal: at most 30);
- across every run, asserted: never more nodes requested than the current generation's targets
  (the stand-in's own record of BatchAddClusterNodes against the pool's decisions) and never two
  executions acting on the pool at once (their successful rounds, from the execution histories,
  never overlap).

Run: .venv/bin/python bench/bench_provision.py [--sizes 1 10 120]
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ebb.core.nodes.catalogue import INSTANCE_GROUP_LABEL
from ebb.local.cluster import HyperPodOnEks
from ebb.local.kubernetes import ClusterCertificates, generate_cluster_certificates
from ebb.local.provisioning_runs import CLUSTER, G5, G6E, pin_generation, switch_off_decide
from ebb.local.stack_deployment import (
    BOOT_SECONDS,
    audit,
    deployed,
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
        if n.is_ready and not n.spec.unschedulable and n.status.allocatable.get("nvidia.com/gpu", 0)
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


def check_invariants(cluster: HyperPodOnEks) -> tuple[int, int]:
    """Assert both invariants; returns (additions checked, successful rounds checked)."""
    # 1. Every BatchAddClusterNodes leaves each group at most at the current generation's target.
    decisions = sorted(
        (datetime.fromisoformat(r["at"]), r["generation"], r["nodeTargets"])
        for r in audit(cluster, "POOL#gpu")
        if r.get("event") in (None, "provisioning-started") and "generation" in r
    )
    targets: dict[str, int] = {}
    group_of: dict[str, str] = {}
    checked = 0
    for call in cluster.hyperpod.requests:
        response = call["response"] or {}
        if call["error"] is not None:
            continue
        if call["operation"] == "BatchDeleteClusterNodes":
            # The workflow cancels by NodeLogicalId, each lowering its group's target.
            for logical_id in response.get("SuccessfulNodeLogicalIds", []):
                targets[group_of[logical_id]] -= 1
            continue
        if call["operation"] != "BatchAddClusterNodes":
            continue
        for node in response.get("Successful", []):
            group_of[node["NodeLogicalId"]] = node["InstanceGroupName"]
            targets[node["InstanceGroupName"]] = targets.get(node["InstanceGroupName"], 0) + 1
        current = max((d for d in decisions if d[0] <= call["at"]), key=lambda d: d[1], default=None)
        assert current is not None, f"nodes added at {call['at']} before any decision"
        for name, count in targets.items():
            ceiling = current[2].get(name, 0)
            assert count <= ceiling, (
                f"{name}: {count} requested by {call['at']}, generation {current[1]} targets {ceiling}"
            )
        checked += 1
    # 2. Successful rounds (the acting ones) of different executions never overlap.
    spans = []
    for arn in _executions(cluster):
        in_round, started = False, None
        for event in cluster.world.execution_history(arn):
            if event["type"].endswith("StateEntered"):
                in_round = event["stateEnteredEventDetails"]["name"] == "ScaleOut"
            if in_round and event["type"] == "LambdaFunctionStarted":
                started = event["timestamp"]
            if in_round and event["type"] == "LambdaFunctionSucceeded" and started is not None:
                output = json.loads(event["lambdaFunctionSucceededEventDetails"]["output"])
                # A round that found itself superseded returned before it took the lease.
                if output.get("status") != "superseded":
                    spans.append((started, event["timestamp"], arn))
                started = None
    spans.sort()
    for (_, end, first), (start, _, second) in itertools.pairwise(spans):
        assert first == second or end <= start, f"{first} and {second} acted at once"
    return checked, len(spans)


def plan_to_usable(certificates: ClusterCertificates, size: int) -> None:
    with _stack(certificates) as (cluster, config):
        switch_off_decide(cluster)
        _request, _arn = pin_generation(cluster, {G5: size, G6E: 0})
        start = cluster.world.now()
        at = _run_until(cluster, lambda: _usable(cluster, config, (G5,)) >= size, 3 * BOOT_SECONDS)
        assert at is not None, f"{size} nodes not usable within {3 * BOOT_SECONDS} s"
        goal = BOOT_SECONDS + DECISION_INTERVAL + 30
        adds = [r for r in cluster.hyperpod.requests if r["operation"] == "BatchAddClusterNodes"]
        checked, rounds = check_invariants(cluster)
        print(
            f"N={size:>3}: plan to all usable {(at - start).total_seconds():6.1f} s "
            f"(goal {goal:.0f} s: {'met' if (at - start).total_seconds() <= goal else 'NOT met'}); "
            f"{len(adds)} BatchAddClusterNodes; invariants hold ({checked} additions, {rounds} rounds)"
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
        checked, spans = check_invariants(cluster)
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
