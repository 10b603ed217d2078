"""The decide path as `sam deploy` installs it: template.yaml's rules, schedules, queues and
functions in the local world, driven by events and time only.

Sources: SQS Developer Guide, "FIFO queue logic" (message groups); Lambda Developer Guide, "Using
Lambda with Amazon SQS" (partial batch responses); EventBridge Scheduler User Guide (rate
schedules, context attributes).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ebb.local.kubernetes import ClusterCertificates

from .decide_testkit import BATCH, audit, deployed, kubernetes, send_jobs

pytestmark = pytest.mark.integration


def test_queued_work_at_zero_scales_the_worker_and_starts_provisioning_through_the_tick(
    tmp_path: Path, certificates: ClusterCertificates
) -> None:
    with deployed(tmp_path / "config", certificates) as (cluster, config):
        send_jobs(cluster, 8)
        cluster.world.run_for(75)  # the first tick fires at the first minute

        client = kubernetes(cluster, config)
        try:
            assert client.read_scale(BATCH).spec.replicas == 4
        finally:
            client.close()
        (latest, *_) = audit(cluster, "batch/batch-worker")
        assert (latest["current"], latest["desired"], latest["applied"]) == (0, 4, True)
        assert latest["reasons"] == ["tick"]
        pool = audit(cluster, "POOL#gpu")
        started = [r for r in pool if r.get("event") == "provisioning-started"]
        (decision,) = [r for r in pool if "generation" in r and r.get("event") is None]
        assert decision["generation"] == 1
        assert decision["nodeTargets"] == {"gpu-g5-use1a": 1, "gpu-g6e-use1b": 0}
        assert [r["generation"] for r in started] == [1]
