"""A tick over a fleet of NodePools, as `sam deploy` installs the decide path (local world): every
pool decided, and what each decision reads.

The 50-pool figures are bench/bench_tick.py's (deploying 50 pools here takes minutes of wall
time); 10 pools here. Sources: SQS Developer Guide, "FIFO queue logic" (one message group per
pool); EventBridge Scheduler User Guide (rate schedules); for the Kubernetes reads, the scale
subresource of apps/v1 kinds is computed from the object itself (kubernetes/kubernetes
pkg/registry/apps/deployment/storage/storage.go, `scaleFromDeployment`: spec.replicas,
status.replicas, the selector), and `status.phase` is a pod field selector that chains with
commas (Kubernetes documentation, "Field Selectors"; pkg/registry/core/pod/strategy.go,
`PodToSelectableFields`).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from ebb.adapters.kubernetes import WorkloadRef
from ebb.local.cluster import HyperPodOnEks
from ebb.local.fleet_deployment import deployed_fleet, pool_name
from ebb.local.kubernetes import ClusterCertificates
from ebb.local.stack_deployment import audit, kubernetes, run_past_next_tick
from ebb.service.idle_polling import IDLE_POLL_MINUTES, polls_every_pool

pytestmark = pytest.mark.integration

POOLS = 10
SCALERS = [5 if index % 5 == 0 else 1 for index in range(POOLS)]
"""Pools 0 and 5 have five scalers (SQS and CloudWatch triggers each), the others one."""
KUBERNETES_READS = {
    "kubernetes:list_nodes": 1,
    "kubernetes:list_live_pods": 1,
    "kubernetes:list_workloads": 1,
    "kubernetes:conflicting_hpas": 1,
    "kubernetes:conflicting_scaled_objects": 1,
}


def _ticks(cluster: HyperPodOnEks, since: datetime) -> list[tuple[datetime, datetime]]:
    """(scheduled time, invoked at) of the stack's ticks invoked from `since` on, oldest first."""
    return sorted(
        (i.scheduled_time, i.invoked_at)
        for i in cluster.world.scheduler.invocations
        if i.schedule_arn.endswith("SignalsFunctionTick")
        and i.invoked_at is not None
        and i.invoked_at >= since
    )


def test_a_tick_for_10_pools_reaches_every_pool_with_reads_that_do_not_grow_with_scalers(
    tmp_path: Path, certificates: ClusterCertificates
) -> None:
    with deployed_fleet(tmp_path / "config", certificates, SCALERS) as (cluster, config):
        run_past_next_tick(cluster, margin=30)  # the first ticks make the alarms
        # Pools at rest are polled by the ticks of every IDLE_POLL_MINUTES-th minute only
        # (ebb.service.idle_polling): watch for such a tick, which reaches every pool.
        polling = None
        for _ in range(IDLE_POLL_MINUTES + 1):
            before = cluster.world.now()
            run_past_next_tick(cluster, margin=30)
            polling = next((t for t in _ticks(cluster, before) if polls_every_pool(t[0])), None)
            if polling is not None:
                break
        assert polling is not None
        since = polling[1]
        # Scheduler fires each minute's tick at a moment of its minute, so the next one may fall
        # inside the margin too: count the decisions of the one tick, up to the tick after it.
        later = [invoked for _, invoked in _ticks(cluster, since) if invoked > since]
        until = later[0] if later else cluster.world.now()

        for index, scalers in enumerate(SCALERS):
            pool = pool_name(index)
            decisions = [
                d
                for d in audit(cluster, f"POOL#{pool}", since)
                if d.get("event") is None
                and "tick" in d["reasons"]
                and datetime.fromisoformat(d["at"]) < until
            ]
            assert len(decisions) == 1, pool
            calls = decisions[0]["calls"]
            assert {k: n for k, n in calls.items() if k.startswith("kubernetes:")} == KUBERNETES_READS, pool
            assert (calls["hyperpod:describe_cluster"], calls["hyperpod:list_nodes"]) == (1, 1), pool
            assert calls["sqs:GetQueueAttributes"] == scalers, pool
            # The pool's CloudWatch triggers share one window: one GetMetricData for all of them.
            assert calls.get("cloudwatch:GetMetricData", 0) == (1 if scalers > 1 else 0), pool
            assert len(audit(cluster, f"team-{index:02d}/worker-0", since)) >= 1

        # The list's object says what `/scale` says, for a target ebb scaled and one it did not.
        client = kubernetes(cluster, config)
        try:
            target = WorkloadRef(namespace="team-01", name="worker-0")
            client.scale(target, 3)
            cluster.world.run_for(5)
            (listed,) = client.list_workloads("Deployment", "team-01")
            scale = client.read_scale(target)
            assert (listed.spec.replicas, listed.status.replicas) == (
                scale.spec.replicas,
                scale.status.replicas,
            )
            assert scale.spec.replicas == 3
            (named,) = client.list_workloads("Deployment", "team-00", name="worker-3")
            assert named.metadata.name == "worker-3"
            assert len(client.list_workloads("Deployment", "team-00")) == 5
        finally:
            client.close()
