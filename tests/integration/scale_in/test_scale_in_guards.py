"""What scale-in never does: disrupt a node outside its NodePool's disruption budget, or a node
running pods ebb does not manage, or one marked `karpenter.sh/do-not-disrupt`.

Sources: Karpenter docs "Disruption" (https://karpenter.sh/docs/concepts/disruption/):
"NodePool Disruption Budgets" (a budget with `schedule` and `duration` is active from each
schedule hit, UTC, for that long; `nodes: "0"` allows no disruption then), "Pod-Level Controls"
and "Node-Level Controls" (`karpenter.sh/do-not-disrupt: "true"` on a pod or a node keeps the
node from voluntary disruption), "Control Flow" (a node with pods that cannot be evicted is left
alone). ebb also leaves alone any node running a pod it does not manage (design: "never a node
running pods ebb does not manage").
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from scale_in_testkit import (
    G5,
    G6E,
    POOL,
    add_nodes,
    deployed_pool,
    first,
    hyperpod_nodes,
    kubernetes_writes,
    node_names,
    run_until,
    scale_in_records,
    timeline,
)

from ebb.adapters.state_table import DynamoStateTable
from ebb.local.kubernetes import ClusterCertificates
from ebb.local.stack_deployment import STACK, audit, run_past_next_tick
from ebb.service.decision import PoolState
from ebb.service.provisioning_request import DecisionRequest, NodeToRemove

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# The local world starts on 2025-01-06 at 00:00 UTC (LocalWorldConfig.start_time).
WINDOW_END = datetime(2025, 1, 6, 0, 20, tzinfo=UTC)


def _frozen_until_twenty_past_midnight(spec: dict[str, Any]) -> None:
    spec["disruption"]["consolidateAfter"] = "2m"
    spec["disruption"]["budgets"] = [
        {"nodes": "0", "schedule": "0 0 * * *", "duration": "20m"},
        {"nodes": "1"},
    ]


def test_a_scheduled_budget_blocks_scale_in_during_its_window_and_allows_it_after(
    tmp_path: Path, certificates: ClusterCertificates
) -> None:
    with deployed_pool(tmp_path / "config", certificates, _frozen_until_twenty_past_midnight) as (cluster, _):
        since = run_past_next_tick(cluster)
        add_nodes(cluster, G5, 1, "scale-out-1")  # what the workflow's scale-out part will do
        (node,) = node_names(cluster)
        run_until(cluster, lambda: not hyperpod_nodes(cluster), seconds=1800, step=60)

        entries = timeline(cluster)
        usable = first(entries, lambda k, w: k == "node" and w[0] == node and w[2]["gpus"] != "0")
        cordoned = first(entries, lambda k, w: k == "node" and w[0] == node and w[2]["cordoned"])
        # Empty and past consolidateAfter long before the window ended; disrupted only after it.
        assert usable + timedelta(minutes=2) < WINDOW_END - timedelta(minutes=5)
        assert WINDOW_END <= cordoned < WINDOW_END + timedelta(minutes=2)
        held = [
            d
            for d in audit(cluster, f"POOL#{POOL}", since)
            if d.get("event") is None and datetime.fromisoformat(d["at"]) < WINDOW_END
        ]
        assert any(f"{node!r} kept: empty, held by the disruption budget" in d["plan"] for d in held)
        (finished,) = [r for r in scale_in_records(cluster, since) if r["event"] == "scale-in-finished"]
        assert [(r["node"], r["phase"]) for r in finished["removals"]] == [(node, "Deleted")]


def _quick(spec: dict[str, Any]) -> None:
    spec["disruption"]["consolidateAfter"] = "1m"
    spec["disruption"]["budgets"] = [{"nodes": "100%"}]


def test_a_node_with_unmanaged_pods_or_do_not_disrupt_is_never_cordoned_even_when_asked(
    tmp_path: Path, certificates: ClusterCertificates
) -> None:
    with deployed_pool(tmp_path / "config", certificates, _quick) as (cluster, _):
        since = run_past_next_tick(cluster)
        add_nodes(cluster, G5, 2, "scale-out-1")
        training, marked = node_names(cluster)
        # A training job's pod, pinned to the first node: not a pod of any scaler.
        cluster.kubernetes.create(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "training", "namespace": "default"},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": {"app": "training"}},
                    "template": {
                        "metadata": {"labels": {"app": "training"}},
                        "spec": {
                            "nodeSelector": {"kubernetes.io/hostname": training},
                            "containers": [
                                {
                                    "name": "train",
                                    "image": "trainer:1",
                                    "resources": {"requests": {"cpu": "1"}},
                                }
                            ],
                            "tolerations": [
                                {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
                            ],
                        },
                    },
                },
            }
        )

        def mark(node: dict[str, Any]) -> None:
            node["metadata"].setdefault("annotations", {})["karpenter.sh/do-not-disrupt"] = "true"

        cluster.kubernetes.update("Node", marked, mark, namespace=None)
        cluster.world.run_for(600)
        (trainer,) = [p["metadata"]["name"] for p in cluster.kubernetes.objects("Pod", "default")]

        # decide never chose them, whatever consolidateAfter says.
        assert len(hyperpod_nodes(cluster)) == 2
        plans = [d["plan"] for d in audit(cluster, f"POOL#{POOL}", since) if d.get("event") is None]
        assert f"{training!r} kept: runs pods ebb does not manage" in plans[0]
        assert f"{marked!r} kept: karpenter.sh/do-not-disrupt" in plans[0]

        # Nor does the workflow, if a decision named them (a pod may land after the decision):
        # an execution of the current generation, started by hand, asks for both.
        table = cluster.world.clients.client("dynamodb")
        item = table.get_item(
            TableName=f"{STACK}-StateTable", Key={"pk": {"S": f"POOL#{POOL}"}, "sk": {"S": "STATE"}}
        )["Item"]
        generation = PoolState.model_validate_json(item["state"]["S"]).generation
        # The fence also checks the configuration version: hand it the one decide runs under.
        config_version = DynamoStateTable(
            f"{STACK}-StateTable",
            audit_retention=timedelta(days=30),
            client_factory=lambda: cluster.world.clients.client("dynamodb"),
        ).current_config_sequence()
        request = DecisionRequest(
            node_pool=POOL,
            generation=generation,
            config_version=config_version,
            node_targets={G5: 0, G6E: 0},
            removals=tuple(NodeToRemove(node=n, instance_group=G5, kind="Empty") for n in (training, marked)),
            decided_at=cluster.world.now(),
        )
        sfn = cluster.world.clients.client("stepfunctions")
        machine = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
        execution = sfn.start_execution(
            stateMachineArn=machine,
            name="by-hand",
            input=request.model_dump_json(by_alias=True),
        )["executionArn"]
        run_until(
            cluster,
            lambda: sfn.describe_execution(executionArn=execution)["status"] != "RUNNING",
            seconds=120,
            step=5,
        )
        assert sfn.describe_execution(executionArn=execution)["status"] == "SUCCEEDED"

        assert not [
            w for w in kubernetes_writes(cluster) if w[0] == "PATCH" and w[1].startswith("/api/v1/nodes/")
        ]
        assert len(hyperpod_nodes(cluster)) == 2
        (finished,) = [r for r in scale_in_records(cluster, since) if r["execution"] == "by-hand"]
        assert finished["actions"] == []
        assert [(r["node"], r["phase"], r["reason"]) for r in finished["removals"]] == [
            (training, "Skipped", f"pod default/{trainer} is not managed by ebb"),
            (marked, "Skipped", "the node is marked karpenter.sh/do-not-disrupt"),
        ]
