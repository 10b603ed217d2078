"""The simulated cluster as the decide service observes a pool: a `PoolSnapshot`.

The same translation `ebb.service.observe.observe_pool` makes from HyperPod and Kubernetes reads
(checked against it in tests/integration/simulate/): a node without an instance yet is
launching, one whose launch found no capacity is failed for lack of it (no planning state), a
booting node is launching (HyperPod lists it before it joins), a Ready node takes pods; a
cordoned node is on its way out. A group's current count is its nodes with a running instance
that joined (Ready), its target count every node in it (HyperPod keeps a failed node in the
target while it retries it).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ebb.config.node_planning import GroupCounts
from ebb.core.nodes import NodeState
from ebb.core.replicas import Observation, ReplicaCounts
from ebb.service.decision import NodeFailure, ObservedNode, PoolSnapshot, ScalerSnapshot
from ebb.sim.simulator.cluster import NodePhase, SimCluster, SimNode


def observed_node(node: SimNode, scaler: str, origin: datetime) -> ObservedNode:
    """One node as the pool's snapshot lists it."""
    failure = NodeFailure.CAPACITY if node.phase is NodePhase.FAILED_CAPACITY else None
    state = {
        NodePhase.REQUESTED: NodeState.LAUNCHING,
        NodePhase.BOOTING: NodeState.LAUNCHING,
        NodePhase.READY: NodeState.READY,
        NodePhase.FAILED_CAPACITY: None,
    }[node.phase]
    return ObservedNode(
        name=node.name,
        instance_group=node.group.name,
        instance_type=node.group.instance_type,
        state=state,
        failure=failure,
        launched_at=origin + timedelta(seconds=node.launched_at) if node.launched_at is not None else None,
        pods={scaler: node.pods} if node.pods else {},
        deleting=node.cordoned,
    )


NodeKey = tuple[str, str, NodePhase, float | None, int, bool]


def pool_snapshot(
    cluster: SimCluster,
    *,
    node_pool: str,
    scaler: str,
    observations: dict[str, Observation],
    origin: datetime,
    nodes_seen: dict[NodeKey, ObservedNode] | None = None,
) -> PoolSnapshot:
    """The snapshot of `node_pool` with its one scaler `scaler` (``namespace/name``).

    `nodes_seen` (the caller's, kept between snapshots) reuses the `ObservedNode` of a node whose
    observed facts are unchanged: the model is frozen and built from those facts only.
    """
    counts = {name: [0, 0] for name in cluster.groups}
    for node in cluster.nodes.values():
        entry = counts[node.group.name]
        entry[1] += 1
        if node.phase is NodePhase.READY:
            entry[0] += 1
    return PoolSnapshot(
        node_pool=node_pool,
        scalers={
            scaler: ScalerSnapshot(
                observations=observations,
                replicas=ReplicaCounts(
                    spec=cluster.replicas, status=len(cluster.pods), ready=cluster.ready_pods
                ),
            )
        },
        groups={name: GroupCounts(current=c, target=t) for name, (c, t) in counts.items()},
        nodes=tuple(
            _observed(node, scaler, origin, nodes_seen)
            for node in sorted(cluster.nodes.values(), key=lambda n: n.name)
        ),
    )


def _observed(
    node: SimNode, scaler: str, origin: datetime, seen: dict[NodeKey, ObservedNode] | None
) -> ObservedNode:
    if seen is None:
        return observed_node(node, scaler, origin)
    key = (node.name, node.group.name, node.phase, node.launched_at, node.pods, node.cordoned)
    found = seen.get(key)
    if found is None:
        if len(seen) > 4096:  # nodes come and go: forget the old facts now and then
            seen.clear()
        found = seen[key] = observed_node(node, scaler, origin)
    return found
