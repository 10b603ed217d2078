"""ebb refuses to fight another controller: a target that an HPA or a KEDA ScaledObject in the
cluster also scales is left to it, as `sam deploy` installs the decide path (local world).

The conflict is KEDA's own: its admission webhook refuses a ScaledObject on a workload an HPA
already manages ("the workload '%s' of type '%s' is already managed by the hpa '%s'",
kedacore/keda apis/keda/v1alpha1/scaledobject_webhook.go, verifyHpas; tests/internals/
scaled_object_validation, testScaledWorkloadByOtherHpa). Shapes: autoscaling/v2
HorizontalPodAutoscaler (Kubernetes API reference) and keda.sh/v1alpha1 ScaledObject, whose
`scaleTargetRef` defaults to an apps/v1 Deployment (KEDA docs, "ScaledObject specification").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ebb.local.cluster import HyperPodOnEks
from ebb.local.kubernetes import ClusterCertificates
from ebb.local.stack_deployment import BATCH, audit, deployed, kubernetes, run_past_next_tick, send_jobs
from ebb.service.idle_polling import IDLE_POLL_MINUTES

WORKER = "batch/batch-worker"
LLM = "serving/llm-inference"
HELD = "held by {}: ebb does not scale a target another autoscaler scales"

pytestmark = pytest.mark.integration


def _hpa(namespace: str, name: str, target: str) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "minReplicas": 1,
            "maxReplicas": 4,
        },
    }


def _replicas(cluster: HyperPodOnEks, config: Any) -> int:
    client = kubernetes(cluster, config)
    try:
        return client.read_scale(BATCH).spec.replicas
    finally:
        client.close()


def _metric_values(output: str, name: str, dimensions: list[str] | None = None) -> list[float]:
    """The values of metric `name` in the EMF records printed (one JSON object a line, a list of
    values where an invocation added the metric several times) whose first dimension set is
    `dimensions` (default Powertools' own, `["service"]`)."""
    values: list[float] = []
    for line in output.splitlines():
        if line.startswith('{"_aws"'):
            record = json.loads(line)
            if record["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0] != (dimensions or ["service"]):
                continue
            value = record.get(name, [])
            values.extend(value if isinstance(value, list) else [value])
    return values


def test_a_target_an_hpa_scales_is_not_scaled_and_the_audit_names_the_hpa(
    tmp_path: Path, certificates: ClusterCertificates, capsys: pytest.CaptureFixture[str]
) -> None:
    with deployed(tmp_path / "config", certificates) as (cluster, config):
        since = run_past_next_tick(cluster)
        cluster.kubernetes.create(_hpa("batch", "batch-worker-cpu", "batch-worker"))
        send_jobs(cluster, 8)  # unhindered, ebb would scale the worker to 4
        capsys.readouterr()
        run_past_next_tick(cluster)

        assert _replicas(cluster, config) == 0
        hpa = "HorizontalPodAutoscaler batch/batch-worker-cpu"
        # The tick decides; the queue's alarm may too (test_decide_path says why): each the same.
        decisions = audit(cluster, WORKER, since)
        assert decisions
        for decision in decisions:
            assert decision["heldBy"] == [hpa]
            assert (decision["current"], decision["desired"]) == (0, 0)
            assert (decision["action"], decision["applied"], decision["wakeAt"]) == (None, False, None)
            assert decision["steps"][-1] == HELD.format(hpa)
        pools = [d for d in audit(cluster, "POOL#gpu", since) if d.get("event") is None]
        assert len(pools) == len(decisions)
        for pool in pools:
            assert pool["heldBy"] == {WORKER: [hpa]}
            assert pool["actions"] == []
            # One list of HPAs and one of ScaledObjects per namespace of the pool's scalers (two here).
            assert pool["calls"]["kubernetes:conflicting_hpas"] == 2
            assert pool["calls"]["kubernetes:conflicting_scaled_objects"] == 2
        # The other scaler of the pool is decided as before.
        assert {tuple(d["heldBy"]) for d in audit(cluster, LLM, since)} == {()}
        # The decide function counts each: Powertools' EMF records on stdout.
        output = capsys.readouterr().out
        assert _metric_values(output, "AutoscalerConflicts") == [1.0] * len(pools)
        # And per pool and cluster (ebb.service.decision_metrics), one document per decision.
        assert _metric_values(output, "AutoscalerConflicts", ["Cluster"]) == [1.0] * len(pools)


def test_the_pods_of_a_held_target_still_get_nodes_as_pods_ebb_does_not_manage(
    tmp_path: Path, certificates: ClusterCertificates
) -> None:
    with deployed(tmp_path / "config", certificates) as (cluster, config):
        since = run_past_next_tick(cluster)
        # KEDA in the cluster scales the worker (its ScaledObject and the HPA it makes).
        cluster.kubernetes.create(
            {
                "apiVersion": "keda.sh/v1alpha1",
                "kind": "ScaledObject",
                "metadata": {"name": "batch-worker", "namespace": "batch"},
                "spec": {
                    "scaleTargetRef": {"name": "batch-worker"},
                    "triggers": [{"type": "cpu", "metadata": {"value": "50"}}],
                },
            }
        )
        client = kubernetes(cluster, config)
        try:
            client.scale(BATCH, 2)  # as KEDA's HPA would: two workers, pending without a node
        finally:
            client.close()
        cluster.world.run_for(5)
        changed = cluster.world.now()
        # The pool was at rest: its pending pods are seen by the next tick that polls it
        # (ebb.service.idle_polling, every IDLE_POLL_MINUTES), no alarm being about them.
        for _ in range(IDLE_POLL_MINUTES + 1):
            run_past_next_tick(cluster)
            if [d for d in audit(cluster, "POOL#gpu", changed) if d.get("event") is None]:
                break

        assert _replicas(cluster, config) == 2  # ebb did not take them back to 0
        decisions = audit(cluster, WORKER, since)
        assert {tuple(d["heldBy"]) for d in decisions} == {("ScaledObject batch/batch-worker",)}
        pool = [d for d in audit(cluster, "POOL#gpu", since) if d.get("event") is None][-1]
        # Its two pending pods are planned like any pending pod of no scaler: one g5 node.
        assert pool["nodeTargets"] == {"gpu-g5-use1a": 1, "gpu-g6e-use1b": 0}
        assert pool["generation"] == 1
        assert "pending:batch/batch-worker-" in pool["plan"]
        assert any(a.startswith("started provisioning gpu-") for a in pool["actions"])
