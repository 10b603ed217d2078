"""Scale-in that drains: cordon, then evict through the Eviction API, then delete; and a
PodDisruptionBudget that refuses every eviction until the drain's deadline.

Sources: kubernetes-sigs/karpenter ``pkg/controllers/node/termination/suite_test.go`` (commit
0038e3b2bff7c301d8dd8414be6e30a4e03f6ae7), "should not delete nodes until all pods are deleted"
and "should fail to evict pods that violate a PDB" (the refused pod is tried again); Karpenter docs
"Disruption" (https://karpenter.sh/docs/concepts/disruption/): consolidation deletes a node whose
pods fit on other nodes ("Consolidation"), the node is tainted before it is drained ("Control
Flow"), and `terminationGracePeriod` bounds the drain ("TerminationGracePeriod"; where Karpenter
then deletes the pods, ebb uncordons the node and records why). Kubernetes docs "API-initiated
Eviction": a refused eviction answers 429 TooManyRequests.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from scale_in_testkit import (
    G5,
    G6E,
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

from ebb.local.cluster import HyperPodOnEks
from ebb.local.kubernetes import ClusterCertificates
from ebb.local.provisioning_runs import record_generation, status, switch_off_decide
from ebb.local.stack_deployment import run_past_next_tick, send_jobs

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _underutilized(spec: dict[str, Any]) -> None:
    spec["disruption"]["consolidationPolicy"] = "WhenEmptyOrUnderutilized"
    spec["disruption"]["consolidateAfter"] = "2m"
    spec["template"]["spec"]["terminationGracePeriod"] = "10m"


def _running_pods(cluster: HyperPodOnEks) -> dict[str, str]:
    """The batch worker's Running, not terminating pods: name -> node."""
    return {
        pod["metadata"]["name"]: pod["spec"].get("nodeName", "")
        for pod in cluster.kubernetes.objects("Pod", "batch")
        if pod.get("status", {}).get("phase") == "Running" and not pod["metadata"].get("deletionTimestamp")
    }


def _two_nodes_one_pod_each(cluster: HyperPodOnEks) -> None:
    run_past_next_tick(cluster)
    add_nodes(cluster, G5, 2, "scale-out-1")  # what the workflow's scale-out part will do
    send_jobs(cluster, 4)  # queueLength 2: two workers, spread over the two nodes
    run_until(cluster, lambda: len(set(_running_pods(cluster).values())) == 2, seconds=300)


def test_scale_in_cordons_then_evicts_then_deletes_the_node_whose_pods_fit_elsewhere(
    tmp_path: Path, certificates: ClusterCertificates
) -> None:
    with deployed_pool(tmp_path / "config", certificates, _underutilized) as (cluster, _):
        _two_nodes_one_pod_each(cluster)
        before = dict(_running_pods(cluster))
        run_until(cluster, lambda: len(hyperpod_nodes(cluster)) == 1, seconds=900)
        run_until(cluster, lambda: len(node_names(cluster)) == 1, seconds=300)
        (kept,) = node_names(cluster)
        (removed,) = set(before.values()) - {kept}
        (moved,) = [name for name, node in before.items() if node == removed]
        assert group_target(cluster, G5) == 1

        entries = timeline(cluster)
        cordoned = first(entries, lambda k, w: k == "node" and w[0] == removed and w[2]["cordoned"])
        evicted = first(entries, lambda k, w: k == "pod" and w[0] == f"batch/{moved}" and w[2]["terminating"])
        shutting = first(entries, lambda k, w: k == "hyperpod" and w[5] == "ShuttingDown")
        assert cordoned <= evicted < shutting
        # Not deleted before the evicted pod was gone ("wait until pods are fully deleted").
        pod_gone = first(entries, lambda k, w: k == "pod" and w[0] == f"batch/{moved}" and w[1] == "gone")
        assert pod_gone <= shutting
        # Its replacement runs on the node that stays; the other pod was never touched.
        run_until(cluster, lambda: len(_running_pods(cluster)) == 2, seconds=300)
        assert set(_running_pods(cluster).values()) == {kept}
        writes = kubernetes_writes(cluster)
        assert writes.index(("PATCH", f"/api/v1/nodes/{removed}")) < writes.index(
            ("POST", f"/api/v1/namespaces/batch/pods/{moved}/eviction")
        )
        assert [w for w in writes if w[1].endswith("/eviction")] == [
            ("POST", f"/api/v1/namespaces/batch/pods/{moved}/eviction")
        ]
        finished = scale_in_records(cluster)[-1]
        assert [(r["node"], r["kind"], r["phase"]) for r in finished["removals"]] == [
            (removed, "Delete", "Deleted")
        ]


def test_a_pdb_refusing_every_eviction_holds_the_drain_until_the_deadline_then_the_node_is_uncordoned(
    tmp_path: Path, certificates: ClusterCertificates
) -> None:
    with deployed_pool(tmp_path / "config", certificates, _underutilized) as (cluster, _):
        cluster.kubernetes.create(
            {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": {"name": "batch-worker", "namespace": "batch"},
                "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "batch-worker"}}},
            }
        )
        _two_nodes_one_pod_each(cluster)
        before = dict(_running_pods(cluster))

        def cordoned_nodes() -> list[str]:
            return [
                n["metadata"]["name"]
                for n in cluster.kubernetes.objects("Node", None)
                if n["spec"].get("unschedulable")
            ]

        run_until(cluster, lambda: bool(cordoned_nodes()), seconds=900, step=10)
        (drained,) = cordoned_nodes()
        (pod,) = [name for name, node in before.items() if node == drained]
        run_until(cluster, lambda: not cordoned_nodes(), seconds=900, step=10)
        # The cluster timeline records the uncordon at the Kubernetes clock's next step, and the
        # workflow records GaveUp after it: the API's answer above may precede both (where they
        # fall depends on the seeded draws), so wait for them, within two minutes.
        run_until(
            cluster,
            lambda: _uncordon_in_timeline(cluster, drained) and _last_phase(cluster) == "GaveUp",
            seconds=120,
            step=5,
        )

        # Nothing was deleted, nothing evicted: the budget held until the deadline.
        assert len(hyperpod_nodes(cluster)) == 2
        assert group_target(cluster, G5) == 2
        assert _running_pods(cluster) == before
        entries = timeline(cluster)
        cordoned = first(entries, lambda k, w: k == "node" and w[0] == drained and w[2]["cordoned"])
        released = first(
            [e for e in entries if e[0] > cordoned],
            lambda k, w: k == "node" and w[0] == drained and not w[2]["cordoned"],
        )
        assert timedelta(minutes=10) <= released - cordoned < timedelta(minutes=10, seconds=40)
        evictions = [w for w in kubernetes_writes(cluster) if w[1].endswith("/eviction")]
        assert set(evictions) == {("POST", f"/api/v1/namespaces/batch/pods/{pod}/eviction")}
        assert len(evictions) >= 10  # refused (429) and tried again every step
        finished = scale_in_records(cluster)[-1]
        (removal,) = finished["removals"]
        assert (removal["node"], removal["kind"], removal["phase"]) == (drained, "Delete", "GaveUp")
        assert removal["reason"] == (
            f"drain not finished within 10m: batch/{pod} still on the node; last eviction refusal: "
            "The disruption budget batch-worker needs 2 healthy pods and has 2 currently"
        )
        assert removal["evictionRefusals"] == len(evictions)
        assert finished["actions"] == [f"uncordoned {drained}: {removal['reason']}"]


def test_a_drain_superseded_by_a_newer_generation_uncordons_the_node_it_cordoned(
    tmp_path: Path, certificates: ClusterCertificates
) -> None:
    """The superseded execution's next step releases its cordon: decide leaves a cordoned node out
    of the targets and the newer execution drains only nodes it cordoned itself, so nobody else
    would uncordon it. Karpenter does the same with a disruption it abandons (docs "Disruption",
    https://karpenter.sh/docs/concepts/disruption/, "Control Flow": "If a replacement node fails to
    initialize, un-taint the node(s), and restart from Step (1)")."""
    with deployed_pool(tmp_path / "config", certificates, _underutilized) as (cluster, _):
        cluster.kubernetes.create(
            {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": {"name": "batch-worker", "namespace": "batch"},
                "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "batch-worker"}}},
            }
        )
        _two_nodes_one_pod_each(cluster)
        before = dict(_running_pods(cluster))

        def cordoned_nodes() -> list[str]:
            return [
                n["metadata"]["name"]
                for n in cluster.kubernetes.objects("Node", None)
                if n["spec"].get("unschedulable")
            ]

        run_until(cluster, lambda: bool(cordoned_nodes()), seconds=900, step=10)
        (drained,) = cordoned_nodes()
        # A newer generation that keeps both nodes (decide off from here, so none other follows).
        switch_off_decide(cluster)
        request, newer = record_generation(cluster, {G5: 2, G6E: 0})
        superseded_at = cluster.world.now()
        run_until(cluster, lambda: _uncordon_in_timeline(cluster, drained, superseded_at), seconds=60, step=5)

        entries = timeline(cluster)
        released = first(
            [e for e in entries if e[0] >= superseded_at],
            lambda k, w: k == "node" and w[0] == drained and not w[2]["cordoned"],
        )
        assert released - superseded_at <= timedelta(seconds=20)  # the next drain step, 15 s on
        assert len(hyperpod_nodes(cluster)) == 2
        assert _running_pods(cluster) == before
        (record,) = [r for r in scale_in_records(cluster) if r["event"] == "scale-in-superseded"]
        (removal,) = record["removals"]
        reason = f"superseded: generation {request.generation} owns the pool; the drain is given up"
        assert (removal["node"], removal["phase"], removal["reason"]) == (drained, "GaveUp", reason)
        assert record["actions"] == [f"uncordoned {drained}: {reason}"]
        cluster.world.run_for(30)
        assert status(cluster, newer) == "SUCCEEDED"
        assert cordoned_nodes() == []


def _uncordon_in_timeline(cluster: HyperPodOnEks, node: str, since: datetime | None = None) -> bool:
    """Whether the cluster timeline shows `node` uncordoned (after `since`, or after its cordon)."""
    entries = timeline(cluster)
    try:
        start = since or first(entries, lambda k, w: k == "node" and w[0] == node and w[2]["cordoned"])
        first(
            [e for e in entries if e[0] >= start],
            lambda k, w: k == "node" and w[0] == node and not w[2]["cordoned"],
        )
    except AssertionError:
        return False
    return True


def _last_phase(cluster: HyperPodOnEks) -> str | None:
    records = scale_in_records(cluster)
    removals = records[-1].get("removals") if records else None
    return str(removals[0]["phase"]) if removals else None
