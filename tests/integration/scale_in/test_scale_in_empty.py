"""A NodePool with no pods left goes to zero through the deployed workflow, and comes back.

The empty-node delay is the NodePool's `consolidateAfter` (Karpenter docs "Disruption",
https://karpenter.sh/docs/concepts/disruption/, "Consolidation": `consolidateAfter` is how long
after a pod is added or removed a node may be consolidated; "Control Flow": the node is tainted so
nothing schedules to it, then drained, then deleted). The order is read from the stand-ins' own
records: the cluster timeline (Kubernetes node changes and HyperPod's node transitions) and the
Kubernetes API's request log.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from scale_in_testkit import (
    G5,
    add_nodes,
    deployed_pool,
    first,
    group_target,
    hyperpod_nodes,
    kubernetes_writes,
    node_names,
    run_until,
    scale_in_records,
    timeline,
)

from ebb.local.kubernetes import ClusterCertificates
from ebb.local.stack_deployment import STACK, audit, run_past_next_tick, send_jobs

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _two_minutes(spec: dict[str, Any]) -> None:
    spec["disruption"]["consolidateAfter"] = "2m"


def test_an_empty_pool_goes_to_zero_after_consolidate_after_and_comes_back(
    tmp_path: Path, certificates: ClusterCertificates
) -> None:
    with deployed_pool(tmp_path / "config", certificates, _two_minutes) as (cluster, _):
        since = run_past_next_tick(cluster)
        add_nodes(cluster, G5, 1, "scale-out-1")  # what the workflow's scale-out part will do
        (node,) = node_names(cluster)

        run_until(cluster, lambda: not hyperpod_nodes(cluster), seconds=900)
        assert group_target(cluster, G5) == 0
        assert node_names(cluster) == []

        entries = timeline(cluster)
        # Usable once its GPUs are allocatable (the device plugin registered them).
        usable = first(
            entries, lambda kind, what: kind == "node" and what[0] == node and what[2]["gpus"] != "0"
        )
        cordoned = first(
            entries, lambda kind, what: kind == "node" and what[0] == node and what[2]["cordoned"]
        )
        # The instant the Node object went (run_until polls every 30 s: its own clock is coarser).
        gone = first(entries, lambda kind, what: kind == "node" and what[0] == node and what[1] == "gone")
        shutting = first(entries, lambda kind, what: kind == "hyperpod" and what[5] == "ShuttingDown")
        assert cordoned < shutting
        # Not before consolidateAfter: the node was empty from the moment it joined, so Karpenter
        # counts from its initialization (kubernetes-sigs/karpenter
        # pkg/controllers/nodeclaim/disruption/consolidation.go: "If the lastPodEvent is zero, use
        # the time that the nodeclaim was initialized"), and initialization waits for the GPUs to
        # be allocatable (pkg/controllers/nodeclaim/lifecycle/initialization.go,
        # RequestedResourcesRegistered).
        assert cordoned - usable >= timedelta(minutes=2)
        # ebb sees the initialization at the first decision after it (a tick a minute) and acts on
        # consolidateAfter at the first decision after that: two ticks late at most, plus the time
        # a decision and the workflow's first step take.
        assert cordoned - usable < timedelta(minutes=2) + 2 * timedelta(minutes=1) + timedelta(seconds=30)
        # Then the cordon, the delete and HyperPod's shutdown.
        assert gone - cordoned < timedelta(minutes=2)
        writes = kubernetes_writes(cluster)
        assert (("PATCH", f"/api/v1/nodes/{node}")) in writes
        assert not [w for w in writes if w[1].endswith("/eviction")]  # nothing to evict

        (step, finished) = scale_in_records(cluster, since)
        assert step["actions"] == [f"cordoned {node}"]
        assert finished["event"] == "scale-in-finished"
        assert len(finished["actions"]) == 1
        assert finished["actions"][0].startswith("deleted i-")
        assert [(r["node"], r["kind"], r["phase"]) for r in finished["removals"]] == [
            (node, "Empty", "Deleted")
        ]

        # And back: work arrives, decide orders a node again (generation 3), the pods run on it.
        back = cluster.world.now()
        send_jobs(cluster, 4)
        run_past_next_tick(cluster)
        started = [r for r in audit(cluster, "POOL#gpu", back) if r.get("event") == "provisioning-started"]
        assert [(r["generation"], r["nodeTargets"]) for r in started][-1] == (3, {G5: 1, "gpu-g6e-use1b": 0})
        # The workflow adds the node itself (BatchAddClusterNodes) and waits for it.
        run_until(
            cluster,
            lambda: (
                sum(
                    1
                    for pod in cluster.kubernetes.objects("Pod", "batch")
                    if pod.get("status", {}).get("phase") == "Running"
                )
                == 2
            ),
            seconds=300,
        )
        assert len(node_names(cluster)) == 1


def test_a_deletion_that_keeps_failing_is_retried_with_backoff_then_given_up_recorded_and_alarmed(
    tmp_path: Path, certificates: ClusterCertificates
) -> None:
    """BatchDeleteClusterNodes answers per node (SageMaker API Reference, BatchDeleteClusterNodes:
    `Failed`, each with a Code and a Message; InvalidNodeStatus while the node's instance group is
    being updated). The drained node's deletion is asked again 15 s, 30 s, 1 min and 2 min later,
    then given up as DeleteFailed: recorded, counted, and `<stack>-scale-in-delete-failed` fires;
    the node stays cordoned and empty."""
    with deployed_pool(tmp_path / "config", certificates, _two_minutes) as (cluster, _):
        run_past_next_tick(cluster)
        add_nodes(cluster, G5, 1, "scale-out-1")  # someone else's node, empty: it goes
        (node,) = node_names(cluster)

        def cordoned() -> bool:
            return any(
                n["spec"].get("unschedulable")
                for n in cluster.kubernetes.objects("Node", None)
                if n["metadata"]["name"] == node
            )

        run_until(cluster, cordoned, seconds=600, step=1)
        # The group is being updated from now on: node operations on it are refused.
        cluster.hyperpod.set_instance_group_status("ml-inference", G5, "Updating")
        run_until(
            cluster,
            lambda: any(r["event"] == "scale-in-finished" for r in scale_in_records(cluster)),
            seconds=600,
            step=5,
        )
        cluster.world.run_for(120)

        deletes = [r for r in cluster.hyperpod.requests if r["operation"] == "BatchDeleteClusterNodes"]
        assert [r["response"]["Failed"][0]["Code"] for r in deletes] == ["InvalidNodeStatus"] * 5
        gaps = [(b["at"] - a["at"]).total_seconds() for a, b in itertools.pairwise(deletes)]
        # Each retry comes with the step after its backoff (a step's own work takes a moment).
        assert [round(g) for g in gaps] == [15, 30, 60, 120]
        finished = scale_in_records(cluster)[-1]
        (removal,) = finished["removals"]
        assert (removal["node"], removal["phase"]) == (node, "DeleteFailed")
        assert removal["reason"] == (
            "BatchDeleteClusterNodes failed 5 times; last: InvalidNodeStatus: "
            f"Instance group {G5} is Updating."
        )
        assert finished["actions"][-1] == f"gave up deleting {node}: {removal['reason']}"
        assert node_names(cluster) == [node]
        assert cordoned()
        assert len(hyperpod_nodes(cluster)) == 1
        changes = [
            (c.state, c.at)
            for c in cluster.world.alarms.transitions
            if c.alarm_name == f"{STACK}-scale-in-delete-failed"
        ]
        fired = [at for state, at in changes if state == "ALARM"]
        assert len(fired) == 1
        assert timedelta(0) < fired[0] - datetime.fromisoformat(finished["at"]) <= timedelta(minutes=2)
