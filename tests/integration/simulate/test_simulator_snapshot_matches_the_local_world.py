"""The simulator's snapshot builder against a snapshot the decide service observes in the local world.

The comparison's configuration is deployed with `ebb.local.stack_deployment` (shadow mode on, so
ebb's own decisions change nothing), a cluster state is put in place through the same APIs a
user's cluster would see (BatchAddClusterNodes on two groups, the Deployment scaled), and the
pool is observed with the service's `observe_pool` through the production adapters. The same
state is built in the simulator (the same nodes added, the pods bound where the local world's
scheduler bound them: placement is the scheduler's business, not the snapshot's) and its
`pool_snapshot` must say the same: groups' counts, nodes (group, type, state, pods, failure,
cordon) and the scaler's replica counts, and `decide_pool` must decide the same from both.
Node names differ (HyperPod's are `hyperpod-i-...`, the simulator's its own), so nodes are
compared without them, and so are the launch times (each world draws its own).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from ebb.adapters.hyperpod import SageMakerHyperPod
from ebb.adapters.kubernetes import WorkloadRef
from ebb.adapters.metrics import AwsMetricReader
from ebb.config import load_config_files
from ebb.config.pod_spec import INSTANCE_GROUP_LABEL
from ebb.local.kubernetes import ClusterCertificates
from ebb.local.stack_deployment import BOOT_SECONDS, deployed_config, kubernetes
from ebb.service.decision import PoolDecision, PoolSnapshot, PoolState, decide_pool
from ebb.service.observe import ClusterAccess, observe_pool
from ebb.sim.simulator.cluster import EventQueue, SimCluster
from ebb.sim.simulator.snapshot import pool_snapshot
from ebb.sim.simulator.world import ORIGIN, group_specs, the_scaled_object

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "simulate-comparison"
ADDED = {"g5-4gpu-use1a": 2, "g5-8gpu-use1b": 1}
REPLICAS = 9


def _nodes(snapshot: PoolSnapshot) -> Counter[tuple[object, ...]]:
    return Counter(
        (n.instance_group, n.instance_type, n.state, n.failure, n.deleting, sum(n.pods.values()))
        for n in snapshot.nodes
    )


def _decided(decision: PoolDecision) -> tuple[object, ...]:
    return (
        [(a.scaler, a.replicas_before, a.replicas) for a in decision.scale],
        decision.node_targets,
        decision.provisioning.node_targets if decision.provisioning else None,
        [o.decision.desired_replicas for o in decision.scalers],
        [(u.pods, u.count, u.reason) for u in decision.unplaceable],
    )


def test_the_same_cluster_state_gives_the_same_snapshot_and_decision(
    tmp_path: Path, certificates: ClusterCertificates
) -> None:
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    for path in sorted(EXAMPLE.glob("*.yaml")):
        (config_dir / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    config = load_config_files(sorted(config_dir.glob("*.yaml")))
    pool, scaled_object = the_scaled_object(config)
    binding = config.binding.spec
    with deployed_config(config_dir, config, certificates) as (cluster, config):
        sagemaker = cluster.world.clients.client("sagemaker")
        for group, count in ADDED.items():
            response = sagemaker.batch_add_cluster_nodes(
                ClusterName=binding.hyper_pod_cluster.name,
                NodesToAdd=[{"InstanceGroupName": group, "IncrementTargetCountBy": count}],
            )
            assert response["Failed"] == []
        client = kubernetes(cluster, config)
        client.scale(WorkloadRef(namespace="serving", name="llm-inference"), REPLICAS)
        # Boot, join, GPUs allocatable, containers started and the model loaded, with room to spare.
        cluster.world.run_for(BOOT_SECONDS + 300)
        now = cluster.world.now()
        access = ClusterAccess(
            metrics=AwsMetricReader(binding.region),
            hyperpod=SageMakerHyperPod(binding.hyper_pod_cluster.name, region_name=binding.region),
            kubernetes=client,
        )
        observed = observe_pool(config, pool, access, now)
        # Where the local world's scheduler put the pods, read from the Kubernetes API itself.
        groups = {node.name: node.labels[INSTANCE_GROUP_LABEL] for node in client.list_nodes()}
        placed: dict[str, list[int]] = {group: [] for group in ADDED}
        per_node = Counter(pod.node_name for pod in client.list_live_pods() if pod.is_ready)
        for node_name, group in groups.items():
            placed[group].append(per_node.get(node_name, 0))

    # The same state in the simulator: the same nodes added and Ready, the pods where they are.
    events = EventQueue()
    sim = SimCluster(
        group_specs(config, pool, scaled_object),
        events,
        boot_delay=BOOT_SECONDS,
        model_load_seconds=60.0,
        rng=np.random.default_rng(0),
    )
    for group, count in ADDED.items():
        sim.add_nodes(group, count, 0.0)
    events.run_until(BOOT_SECONDS * 2)
    pods_by_node = {}
    for group, counts in placed.items():
        names = sorted(n.name for n in sim.group_nodes(group))
        pods_by_node.update(zip(names, sorted(counts), strict=True))
    sim.bind_as(pods_by_node, BOOT_SECONDS * 2)
    simulated = pool_snapshot(
        sim,
        node_pool=pool,
        scaler=f"{scaled_object.namespace}/{scaled_object.name}",
        observations=dict(observed.scalers[f"{scaled_object.namespace}/{scaled_object.name}"].observations),
        origin=ORIGIN,
    )

    assert simulated.node_pool == observed.node_pool
    assert simulated.groups == observed.groups
    assert _nodes(simulated) == _nodes(observed)
    assert {k: v.replicas for k, v in simulated.scalers.items()} == {
        k: v.replicas for k, v in observed.scalers.items()
    }
    assert simulated.pending == observed.pending
    # And so the same decision (at the same instant, from a fresh state).
    assert _decided(decide_pool(simulated, PoolState(), config, now)) == _decided(
        decide_pool(observed, PoolState(), config, now)
    )
