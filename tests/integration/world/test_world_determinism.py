"""The combined world is deterministic: the same seed gives the same timeline, event for event.

Boot times, capacity retry intervals, instance ids, NodeLogicalIds, pod names and EventBridge
event ids all come from the world's one seeded generator, in the order the one clock runs
things; so HyperPod transitions, Kubernetes node and pod changes, and event deliveries repeat
exactly (README, "Testing": the same seed gives the same timeline).
"""

from __future__ import annotations

import json

import pytest

from ebb.local.cluster import ClusterWorldConfig, start_cluster_world
from ebb.local.kubernetes import ClusterCertificates
from ebb.local.world import LocalWorldConfig

from .world_testkit import (
    CLUSTER,
    GPU_TYPE,
    TEMPLATE,
    TIMINGS,
    ZONE,
    add_nodes,
    create_hyperpod_cluster,
    deployment,
    instance_ids,
)

pytestmark = pytest.mark.integration


def _run(seed: int, certificates: ClusterCertificates) -> tuple[list[tuple[str, str, str]], list[str]]:
    """A busy hour and a half: a shortage, retries, boots of drawn lengths, a deletion and a
    replacement, with pods following. Returns the merged timeline and the cluster's entries' kinds."""
    with start_cluster_world(
        TEMPLATE,
        LocalWorldConfig(seed=seed),
        ClusterWorldConfig(kubernetes_timings=TIMINGS),
        certificates=certificates,
    ) as cluster:
        create_hyperpod_cluster(cluster, boot_seconds=None)  # boot times drawn: 300-600 s
        cluster.kubernetes.create(deployment(replicas=6))
        cluster.hyperpod.set_capacity(GPU_TYPE, 1, availability_zone=ZONE)
        add_nodes(cluster, 3)
        cluster.world.run_for(1200)
        cluster.hyperpod.set_capacity(GPU_TYPE, None, availability_zone=ZONE)
        cluster.world.run_for(1800)
        first, second, _ = instance_ids(cluster)
        cluster.world.clients.client("sagemaker").batch_delete_cluster_nodes(
            ClusterName=CLUSTER, NodeIds=[first]
        )
        cluster.hyperpod.inject_fault(CLUSTER, second, repair="Replace")
        cluster.world.run_for(1800)
        return cluster.timeline(), [kind for _, kind, _ in cluster.cluster_timeline()]


def test_the_same_seed_gives_the_same_timeline_and_another_seed_another(
    certificates: ClusterCertificates,
) -> None:
    timeline, kinds = _run(5, certificates)
    again, _ = _run(5, certificates)
    other, _ = _run(6, certificates)

    assert timeline == again
    assert timeline != other
    # The timeline is the whole story: HyperPod's side, Kubernetes nodes and pods, event deliveries.
    assert {"hyperpod", "node", "pod", "eventbridge"} <= {kind for _, kind, _ in timeline}
    changes = [json.loads(what)[:2] for _, kind, what in timeline if kind == "node"]
    assert sum(change == "appeared" for _, change in changes) == 4  # three, then a replacement
    assert sum(change == "gone" for _, change in changes) == 2  # the deleted and the faulty one
    assert kinds.count("pod") > 20
