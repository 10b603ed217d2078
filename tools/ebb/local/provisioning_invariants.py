"""The provisioning workflow's two invariants, checked from what the local world recorded:

1. **Never more nodes than the targets asked.** After every BatchAddClusterNodes that ebb made
   (its ClientTokens start with ``ebb-``: `ebb.adapters.hyperpod_requests.client_token`), each
   group it added to holds at most the target of its pool's generation current at that moment.
   A group's count is rebuilt from the HyperPod stand-in's own record of requests: the
   CreateCluster counts, plus every node added (by ebb or by anyone else, e.g. a test acting as
   an operator), less every node deleted. The current generation is the newest whose execution
   had started by then (decide starts the execution before it records the generation, so this
   is the earliest moment it can be current), or that a backfill's take-over had begun taking.
2. **Never two executions acting on one pool at once.** A round acts from its first HyperPod call
   to its last (it reads the groups, then adds or cancels), as the stand-in served them: each
   call names its caller's thread, which the local Lambda runtime names after the invocation, and
   the invocation's event names the execution. The rounds (`ScaleOut` tasks) of different
   executions of one pool never overlap. (The scale-in steps are not rounds: they take no acting
   lease, and a superseded step makes no HyperPod call.)

`check_provisioning_invariants` raises `ProvisioningInvariantViolated` naming the first breach.
`stack_deployment.deployed_config` runs registered checks before its world closes; the
integration conftests of the tests that deploy the stack register this one for every test
(`checking_deployments`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ebb.config import EbbConfig
from ebb.local.cluster import HyperPodOnEks

EBB_TOKEN_PREFIX = "ebb-"
STATE_MACHINE = "ProvisionStateMachine"
ROUND_FUNCTION = "ProvisionRoundFunction"


class ProvisioningInvariantViolated(AssertionError):
    """The recorded histories break one of the provisioning invariants (the message says which)."""


@dataclass(frozen=True, slots=True)
class InvariantReport:
    """What a check looked at."""

    additions: int
    """ebb's BatchAddClusterNodes calls checked against their generation's targets."""
    rounds: int
    """Acting rounds checked for overlap."""


@dataclass(frozen=True, slots=True)
class _Generation:
    pool: str
    at: datetime
    generation: int
    targets: dict[str, int]


DeploymentCheck = Callable[[HyperPodOnEks, EbbConfig], Any]
_CHECKS: list[DeploymentCheck] = []


@contextmanager
def checking_deployments(check: DeploymentCheck) -> Iterator[None]:
    """While inside, every deployment of the stack runs `check` before its world closes."""
    _CHECKS.append(check)
    try:
        yield
    finally:
        _CHECKS.remove(check)


def run_deployment_checks(cluster: HyperPodOnEks, config: EbbConfig) -> None:
    """Run the registered checks (called by `deployed_config` when its block ends normally)."""
    for check in list(_CHECKS):
        check(cluster, config)


def check_provisioning_invariants(cluster: HyperPodOnEks, config: EbbConfig) -> InvariantReport:
    """Check both invariants over everything recorded so far (see the module docstring)."""
    executions = _executions(cluster)
    generations = sorted(
        (g for arn, details in executions.items() for g in _generations(cluster, arn, details)),
        key=lambda g: g.at,
    )
    pool_of_group = {
        group.name: pool.name for pool in config.node_pools for group in config.instance_groups_of(pool)
    }
    return InvariantReport(
        additions=_check_additions(cluster, generations, pool_of_group),
        rounds=_check_rounds(cluster, executions),
    )


def check_one_execution_acting(cluster: HyperPodOnEks) -> int:
    """Invariant 2 alone; returns the acting rounds checked."""
    return _check_rounds(cluster, _executions(cluster))


def _executions(cluster: HyperPodOnEks) -> dict[str, dict[str, Any]]:
    sfn = cluster.world.clients.client("stepfunctions")
    machine = cluster.world.state_machine_arn(STATE_MACHINE)
    found: dict[str, dict[str, Any]] = {}
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine):
        for execution in page["executions"]:
            described = sfn.describe_execution(executionArn=execution["executionArn"])
            found[execution["executionArn"]] = {
                "start": described["startDate"],
                "input": json.loads(described.get("input") or "{}"),
            }
    return found


def _generations(cluster: HyperPodOnEks, arn: str, details: dict[str, Any]) -> Iterator[_Generation]:
    request = details["input"]
    if "generation" in request and "nodeTargets" in request:
        yield _Generation(
            request["nodePool"], details["start"], int(request["generation"]), dict(request["nodeTargets"])
        )
        return
    # A backfill: the generation its take-over recorded, current from when the take-over began.
    entered = None
    for event in cluster.world.execution_history(arn):
        if (
            event["type"] == "TaskStateEntered"
            and event["stateEnteredEventDetails"]["name"] == "BackfillTakeOver"
        ):
            entered = event["timestamp"]
        if (
            event["type"] == "TaskStateExited"
            and event["stateExitedEventDetails"]["name"] == "BackfillTakeOver"
        ):
            taken = json.loads(event["stateExitedEventDetails"]["output"]).get("backfill", {}).get("request")
            if entered is not None and taken and "generation" in taken:
                yield _Generation(
                    taken["nodePool"], entered, int(taken["generation"]), dict(taken["nodeTargets"])
                )


def _check_additions(
    cluster: HyperPodOnEks, generations: list[_Generation], pool_of_group: dict[str, str]
) -> int:
    counts: dict[str, int] = {}
    group_of: dict[str, str] = {}
    checked = 0
    for call in cluster.hyperpod.requests:
        request, response = call["request"], call["response"] or {}
        operation = call["operation"]
        if call["error"] is not None:
            continue
        if operation == "CreateCluster":
            for group in request.get("InstanceGroups", []):
                counts[group["InstanceGroupName"]] = int(group.get("InstanceCount", 0))
        elif operation == "ListClusterNodes":
            for node in response.get("ClusterNodeSummaries", []):
                for key in ("InstanceId", "NodeLogicalId"):
                    if node.get(key):
                        group_of[node[key]] = node["InstanceGroupName"]
        elif operation == "BatchDeleteClusterNodes":
            for identifier in [
                *response.get("Successful", []),
                *response.get("SuccessfulNodeLogicalIds", []),
            ]:
                if identifier in group_of:
                    counts[group_of[identifier]] = counts.get(group_of[identifier], 0) - 1
        elif operation == "BatchAddClusterNodes":
            added: set[str] = set()
            for node in response.get("Successful", []):
                group_of[node["NodeLogicalId"]] = node["InstanceGroupName"]
                counts[node["InstanceGroupName"]] = counts.get(node["InstanceGroupName"], 0) + 1
                added.add(node["InstanceGroupName"])
            if not str(request.get("ClientToken", "")).startswith(EBB_TOKEN_PREFIX) or not added:
                continue  # someone else's addition (an operator, a test): counted, not judged
            checked += 1
            for name in sorted(added):
                pool = pool_of_group.get(name)
                current = max(
                    (g for g in generations if g.pool == pool and g.at <= call["at"]),
                    key=lambda g: g.generation,
                    default=None,
                )
                if current is None:
                    raise ProvisioningInvariantViolated(
                        f"ebb added nodes to {name} at {call['at'].isoformat()} before any generation of "
                        f"node pool {pool!r} had started"
                    )
                ceiling = current.targets.get(name, 0)
                if counts[name] > ceiling:
                    raise ProvisioningInvariantViolated(
                        f"{name}: {counts[name]} node(s) requested after ebb's BatchAddClusterNodes at "
                        f"{call['at'].isoformat()}, above generation {current.generation}'s target "
                        f"of {ceiling}"
                    )
    return checked


def _check_rounds(cluster: HyperPodOnEks, executions: dict[str, dict[str, Any]]) -> int:
    world = cluster.world
    function = world.function_name(ROUND_FUNCTION)
    pool_of_execution = {
        arn.rsplit(":", 1)[-1]: d["input"].get("nodePool", "") for arn, d in executions.items()
    }
    # Each round invocation, by the name of the thread that ran it.
    rounds: dict[str, tuple[str, str]] = {}
    for invocation in world.lambda_runtime.invocations:
        if invocation.function_name == function and isinstance(invocation.event, dict):
            name = str(invocation.event.get("execution", ""))
            thread = f"lambda {function} {invocation.request_id[:8]}"
            rounds[thread] = (name, pool_of_execution.get(name, ""))
    # A round's acting interval: its first to its last HyperPod call, as the stand-in served them.
    spans: dict[tuple[str, str], list[datetime]] = {}
    for call in cluster.hyperpod.requests:
        found = rounds.get(str(call.get("caller", "")))
        if found is not None:
            spans.setdefault((call["caller"], found[0]), []).append(call["at"])
    by_pool: dict[str, list[tuple[datetime, datetime, str]]] = {}
    for (thread, name), moments in spans.items():
        by_pool.setdefault(rounds[thread][1], []).append((min(moments), max(moments), name))
    total = 0
    for pool, pool_spans in by_pool.items():
        pool_spans.sort()
        total += len(pool_spans)
        # Each round against every earlier one still going: the latest end of each execution.
        ends: dict[str, datetime] = {}
        for start, end, name in pool_spans:
            for other, other_end in ends.items():
                if other != name and start < other_end:
                    raise ProvisioningInvariantViolated(
                        f"node pool {pool!r}: {other} and {name} acted at once "
                        f"({name}'s round called HyperPod at {start.isoformat()}, before {other}'s "
                        f"last call at {other_end.isoformat()})"
                    )
            ends[name] = max(end, ends.get(name, end))
    return total
