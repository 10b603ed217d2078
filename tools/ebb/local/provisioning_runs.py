"""Runs of the provisioning workflow in the deployed local stack, for its tests and its benchmark:
a generation handed to the workflow, and what the workflow and the HyperPod stand-in recorded.

Two ways to give the workflow a generation. `decide_for_real` leaves the stack as deployed (decide
plans from real work). `pin_generation` writes the pool's state as decide would have recorded it
(its generation, targets and an open execution, under configuration sequence 1) and starts the
execution as decide starts it, with decide's triggers (tick, HyperPod events) switched off, so a
test drives the workflow toward targets the example's demand alone would not ask for (more than
50 nodes) without decide re-planning them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ebb.adapters.workflows import execution_name
from ebb.local.cluster import HyperPodOnEks
from ebb.local.stack_deployment import STACK, audit, stop_ticking
from ebb.service.decision import PoolState
from ebb.service.provisioning_request import DecisionRequest

POOL = "gpu"
G5 = "gpu-g5-use1a"
G6E = "gpu-g6e-use1b"
TABLE = f"{STACK}-StateTable"
CLUSTER = "ml-inference"


def switch_off_decide(cluster: HyperPodOnEks) -> None:
    """No tick and no HyperPod-event rule: nothing but the test starts decisions."""
    stop_ticking(cluster)
    events = cluster.world.clients.client("events")
    for rule in events.list_rules()["Rules"]:
        if "HyperPodClusterEvents" in rule["Name"]:
            events.disable_rule(Name=rule["Name"])


def pin_generation(cluster: HyperPodOnEks, targets: Mapping[str, int]) -> tuple[DecisionRequest, str]:
    """Record the pool's next generation with `targets` as decide does (under the current
    configuration sequence) and start its execution; returns (request, execution ARN)."""
    cluster.world.run_for(15)  # decisions already queued are done
    return record_generation(cluster, targets)


def record_generation(cluster: HyperPodOnEks, targets: Mapping[str, int]) -> tuple[DecisionRequest, str]:
    """`pin_generation` without running the world first (for use inside a world callback)."""
    dynamodb = cluster.world.clients.client("dynamodb")
    stored = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": f"POOL#{POOL}"}, "sk": {"S": "STATE"}})
    before = PoolState.model_validate_json(stored["Item"]["state"]["S"]) if "Item" in stored else PoolState()
    config = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "TABLE"}, "sk": {"S": "CONFIG"}})
    sequence = int(config["Item"]["sequence"]["N"]) if "Item" in config else 1
    generation = before.generation + 1
    state = before.model_copy(
        update={"generation": generation, "node_targets": dict(targets), "provisioning_open": True}
    )
    dynamodb.update_item(
        TableName=TABLE,
        Key={"pk": {"S": f"POOL#{POOL}"}, "sk": {"S": "STATE"}},
        UpdateExpression="SET #state = :state",
        ExpressionAttributeNames={"#state": "state"},
        ExpressionAttributeValues={":state": {"S": state.model_dump_json()}},
    )
    request = DecisionRequest(
        node_pool=POOL,
        generation=generation,
        config_version=sequence,
        node_targets=dict(targets),
        decided_at=cluster.world.now(),
    )
    return request, start(cluster, request)


def start(cluster: HyperPodOnEks, request: DecisionRequest) -> str:
    """Start `request`'s execution under the name decide gives it."""
    sfn = cluster.world.clients.client("stepfunctions")
    name = execution_name(request.node_pool, "pinned0", request.generation, request.continuation)
    return str(
        sfn.start_execution(
            stateMachineArn=cluster.world.state_machine_arn("ProvisionStateMachine"),
            name=name,
            input=json.dumps(request.model_dump(mode="json", by_alias=True)),
        )["executionArn"]
    )


def states_entered(cluster: HyperPodOnEks, execution_arn: str) -> list[str]:
    """The names of the states an execution entered, in order."""
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in cluster.world.execution_history(execution_arn)
        if e["type"].endswith("StateEntered")
    ]


def status(cluster: HyperPodOnEks, execution_arn: str) -> str:
    """RUNNING, SUCCEEDED, FAILED, ..."""
    sfn = cluster.world.clients.client("stepfunctions")
    return str(sfn.describe_execution(executionArn=execution_arn)["status"])


def pool_events(cluster: HyperPodOnEks, event: str, since: datetime | None = None) -> list[dict[str, Any]]:
    """The workflow's audit records of kind `event`, oldest first."""
    return [r for r in reversed(audit(cluster, f"POOL#{POOL}", since)) if r.get("event") == event]


def group(cluster: HyperPodOnEks, name: str) -> dict[str, Any]:
    """DescribeCluster's entry of one instance group."""
    sagemaker = cluster.world.clients.client("sagemaker")
    groups = sagemaker.describe_cluster(ClusterName=CLUSTER)["InstanceGroups"]
    return next(g for g in groups if g["InstanceGroupName"] == name)


def running(cluster: HyperPodOnEks, name: str) -> int:
    """Nodes of group `name` that HyperPod reports Running."""
    nodes = cluster.world.clients.client("sagemaker").list_cluster_nodes(
        ClusterName=CLUSTER, IncludeNodeLogicalIds=True
    )["ClusterNodeSummaries"]
    return sum(
        1 for n in nodes if n["InstanceGroupName"] == name and n["InstanceStatus"]["Status"] == "Running"
    )


def add_requests(cluster: HyperPodOnEks) -> list[dict[str, Any]]:
    """Every BatchAddClusterNodes call the stand-in served, as (time, request, answer)."""
    return [r for r in cluster.hyperpod.requests if r["operation"] == "BatchAddClusterNodes"]
