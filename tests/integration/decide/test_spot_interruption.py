"""A Spot instance EC2 reclaims, through the deployed stack: template.yaml's HyperPod rule, the
signals and decide functions, the provisioning workflow, on the local world.

The configuration is the example's with a Spot group (`ebb.local.spot_example`): the batch
worker's pods go to Spot while it is available (the cheapest offering), to an on-demand group
while its Spot offering is avoided. What HyperPod does on a reclaim is the stand-in's
`interrupt_spot` (Spot instances in Amazon SageMaker HyperPod, Managing Node Interruption: taint,
evict, terminate, replace in the same group); what ebb does mirrors Karpenter's interruption
handling (aws/karpenter-provider-aws pkg/controllers/interruption: the Spot offering marked
unavailable, the node's pods given a new node from another offering).
"""

from __future__ import annotations

import copy
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from ebb.core.nodes import DEFAULT_UNAVAILABLE_TTL
from ebb.local.cluster import HyperPodOnEks
from ebb.local.kubernetes import ClusterCertificates
from ebb.local.spot_example import SPOT_GROUP, SPOT_TYPE, SPOT_ZONE, write_spot_example
from ebb.local.stack_deployment import audit, deployed_config, run_past_next_tick, send_jobs

pytestmark = pytest.mark.integration

CLUSTER = "ml-inference"
ON_DEMAND = "gpu-g5-use1a"
OFFERING = f"{SPOT_GROUP}/{SPOT_TYPE}/{SPOT_ZONE}"


def _decisions(cluster: HyperPodOnEks, since: datetime) -> list[dict[str, Any]]:
    """The pool's decisions from `since`, oldest first."""
    return [r for r in reversed(audit(cluster, "POOL#gpu", since)) if r.get("event") is None]


def _started(cluster: HyperPodOnEks, since: datetime) -> list[int]:
    records = reversed(audit(cluster, "POOL#gpu", since))
    return [r["generation"] for r in records if r.get("event") == "provisioning-started"]


def _instances(cluster: HyperPodOnEks, group: str) -> list[Any]:
    return [n for n in cluster.hyperpod.cluster(CLUSTER).nodes.values() if n.group == group]


def _batch_pods_on(cluster: HyperPodOnEks, node: str) -> list[dict[str, Any]]:
    return [
        pod
        for pod in cluster.kubernetes.objects("Pod", "batch")
        if pod["spec"].get("nodeName") == node and not pod["metadata"].get("deletionTimestamp")
    ]


def _run_until(cluster: HyperPodOnEks, done: Any, *, seconds: int, step: int = 5) -> None:
    for _ in range(seconds // step):
        if done():
            return
        cluster.world.run_for(step)
    assert done(), f"not done within {seconds} s"


def test_a_reclaimed_spot_node_moves_its_pods_on_demand_once_and_spot_comes_back_after_the_mark(
    tmp_path: Path, certificates: ClusterCertificates
) -> None:
    directory = tmp_path / "config"
    config = write_spot_example(directory)
    with deployed_config(directory, config, certificates) as (cluster, _config):
        start = run_past_next_tick(cluster)
        send_jobs(cluster, 8)  # four workers: one ml.g5.12xlarge of four GPUs
        _run_until(cluster, lambda: len(_batch_pods_on(cluster, _spot_node(cluster) or "")) == 4, seconds=600)
        assert _decisions(cluster, start)[0]["nodeTargets"] == {
            ON_DEMAND: 0,
            "gpu-g6e-use1b": 0,
            SPOT_GROUP: 1,
        }
        (spot,) = _instances(cluster, SPOT_GROUP)
        reclaimed = str(spot.instance_id)
        node = f"hyperpod-{reclaimed}"

        # EC2 takes its Spot capacity back, with its two minutes' notice.
        cluster.hyperpod.set_capacity(SPOT_TYPE, 0, availability_zone=SPOT_ZONE, capacity_type="Spot")
        noticed = cluster.world.now()
        cluster.hyperpod.interrupt_spot(CLUSTER, reclaimed)
        cluster.world.run_for(10)
        assert cluster.kubernetes.existing("Node", node, None)["spec"]["unschedulable"] is True
        assert _batch_pods_on(cluster, node) == []  # evicted: their replacements are pending

        # The instance terminates: HyperPod's termination event goes through the rule to decide.
        cluster.world.run_for(110)
        terminated = cluster.world.now()
        _run_until(
            cluster, lambda: any(d["spotReclaims"] for d in _decisions(cluster, terminated)), seconds=30
        )
        (acted,) = [d for d in _decisions(cluster, noticed) if d["spotReclaims"]][:1]
        assert "hyperpod-event" in acted["reasons"]
        (reclaim,) = acted["spotReclaims"]
        assert (reclaim["instanceId"], reclaim["offering"], reclaim["firstSeen"]) == (
            reclaimed,
            OFFERING,
            True,
        )
        marked_until = datetime.fromisoformat(reclaim["until"])
        assert marked_until == datetime.fromisoformat(acted["at"]) + DEFAULT_UNAVAILABLE_TTL
        # Its pods go on demand: the Spot group down by the reclaimed node, the on-demand one up.
        assert acted["nodeTargets"] == {ON_DEMAND: 1, "gpu-g6e-use1b": 0, SPOT_GROUP: 0}
        # During the notice the node is cordoned: ebb takes it as leaving, as any cordoned node,
        # and plans its pods on Spot again (the offering is not marked yet); HyperPod's target
        # already holds that node, so nothing is added. The termination moves them on demand.
        before = [d for d in _decisions(cluster, noticed) if datetime.fromisoformat(d["at"]) < terminated]
        assert {d["nodeTargets"][SPOT_GROUP] for d in before} <= {1}
        assert {d["nodeTargets"][ON_DEMAND] for d in before} <= {0}
        started = _started(cluster, noticed)
        assert started[-1] == acted["generation"]

        # The same event delivered again acts no more: no new generation, the mark unmoved.
        (event,) = [
            e
            for _, e in cluster.world.eventbridge.published
            if e.get("detail-type") == "SageMaker HyperPod Cluster Event"
            and e["detail"]["EventDetails"]
            .get("Description", "")
            .startswith(f"Termination of EC2 Instance {reclaimed}")
        ]
        cluster.world.put_event(copy.deepcopy(event))
        cluster.world.run_for(20)
        later = [d for d in _decisions(cluster, terminated) if d["spotReclaims"]]
        assert {d["spotReclaims"][0]["until"] for d in later} == {reclaim["until"]}
        assert [d["spotReclaims"][0]["firstSeen"] for d in later].count(True) == 1
        assert _started(cluster, noticed) == started

        # The on-demand node runs the four workers; HyperPod's Spot replacement, short of
        # capacity, is cancelled by the workflow (the group's offering is out).
        on_demand_node = lambda: next(  # noqa: E731
            (f"hyperpod-{n.instance_id}" for n in _instances(cluster, ON_DEMAND) if n.status == "Running"),
            None,
        )
        _run_until(cluster, lambda: len(_batch_pods_on(cluster, on_demand_node() or "")) == 4, seconds=600)
        _run_until(cluster, lambda: _instances(cluster, SPOT_GROUP) == [], seconds=600)
        assert cluster.hyperpod.cluster(CLUSTER).groups[SPOT_GROUP].target_count == 0

        # Past the marks, Spot capacity back and more work: the new node is Spot again.
        cluster.hyperpod.set_capacity(SPOT_TYPE, None, availability_zone=SPOT_ZONE, capacity_type="Spot")
        cluster.world.run_for(max((marked_until - cluster.world.now()).total_seconds(), 0) + 600)
        more = run_past_next_tick(cluster)
        send_jobs(cluster, 8)  # eight workers
        _run_until(
            cluster, lambda: any(d["nodeTargets"][SPOT_GROUP] for d in _decisions(cluster, more)), seconds=180
        )
        grown = next(d for d in _decisions(cluster, more) if d["nodeTargets"][SPOT_GROUP])
        assert grown["nodeTargets"] == {ON_DEMAND: 1, "gpu-g6e-use1b": 0, SPOT_GROUP: 1}
        assert grown["spotReclaims"] == []
        _run_until(
            cluster, lambda: any(n.status == "Running" for n in _instances(cluster, SPOT_GROUP)), seconds=600
        )
        assert datetime.fromisoformat(grown["at"]) > marked_until


def _spot_node(cluster: HyperPodOnEks) -> str | None:
    running = [n for n in _instances(cluster, SPOT_GROUP) if n.status == "Running"]
    return f"hyperpod-{running[0].instance_id}" if running else None
