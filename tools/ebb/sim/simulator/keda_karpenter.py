"""KEDA + the HPA for pods and Karpenter for nodes, with their documented defaults and cadences.

Pods: ebb's own replica core with `kedaExact` on (`ScalerPolicy.keda_exact`: every deliberate
difference from KEDA + HPA switched off), run at KEDA's and the HPA's cadences:
- KEDA polls each ScaledObject every `pollingInterval` (default 30 s: KEDA docs, "Scaling
  Deployments, StatefulSets & Custom Resources", ScaledObject spec `pollingInterval`); the poll
  activates a target at zero and deactivates it after `cooldownPeriod` (default 300 s, same page).
- The HPA syncs every 15 s (kube-controller-manager `--horizontal-pod-autoscaler-sync-period`,
  default 15s: kubernetes.io "Horizontal Pod Autoscaling"), with the 0.1 tolerance
  (`--horizontal-pod-autoscaler-tolerance`) and the 300 s scale-down stabilization
  (`--horizontal-pod-autoscaler-downscale-stabilization`), both inside the replica core. The
  HPA does nothing at zero replicas (same page: scaling is disabled while the target has 0), and
  only KEDA's poll takes a target to zero: an HPA sync between two polls whose decision would
  deactivate is not applied (the replica core runs KEDA's executor and the HPA in one call).
Nodes: the Karpenter reference (`ebb.sim.karpenter_reference.karpenter_plan`) on the pods that
are pending, batched as Karpenter batches them: a batch closes 1 s after the last new pending
pod or 10 s after the first (`BATCH_IDLE_DURATION` 1s, `BATCH_MAX_DURATION` 10s: Karpenter docs,
"Settings"). Each new node is one NodeClaim, launched into its instance group.
"""

from __future__ import annotations

import time

from ebb.config.node_planning import GroupCounts, planning_input
from ebb.config.replica_policy import scaler_policy
from ebb.core.nodes import ExistingNode, NodeState, PodsOnNode
from ebb.core.replicas import ReplicaCounts, ScalerState, decide_replicas
from ebb.sim.karpenter_reference import karpenter_plan
from ebb.sim.simulator.cluster import NodePhase
from ebb.sim.simulator.world import World

HPA_SYNC_SECONDS = 15.0
BATCH_IDLE_SECONDS = 1.0
BATCH_MAX_SECONDS = 10.0


class KedaKarpenterPolicy:
    """KEDA + HPA (replica core, kedaExact) and the Karpenter reference."""

    name = "keda-karpenter"

    def __init__(self, world: World, *, phase: float) -> None:
        self.world = world
        self.phase = phase
        self.policy = scaler_policy(world.config, world.scaled_object).model_copy(update={"keda_exact": True})
        self.polling = float(world.scaled_object.spec.polling_interval)
        self.state: ScalerState | None = None
        self.decisions = 0
        self.decision_seconds = 0.0
        self.node_target_changes = 0
        self._syncs = 0
        self._batch_start: float | None = None
        self._last_pending = 0

    def start(self) -> None:
        self.world.events.at(self.phase, self._sync)

    # -- KEDA and the HPA ---------------------------------------------------------------------------

    def _sync(self, t: float) -> None:
        world = self.world
        cluster = world.cluster
        polls_per_sync = max(round(self.polling / HPA_SYNC_SECONDS), 1)
        poll = self._syncs % polls_per_sync == 0
        self._syncs += 1
        world.events.at(t + HPA_SYNC_SECONDS, self._sync)
        if poll or cluster.replicas > 0:
            started = time.perf_counter()
            decision = decide_replicas(
                self.policy,
                world.signals.observations(t),
                ReplicaCounts(spec=cluster.replicas, status=len(cluster.pods), ready=cluster.ready_pods),
                self.state,
                world.at(t),
            )
            self.decision_seconds += time.perf_counter() - started
            self.decisions += 1
            if poll or decision.desired_replicas > 0:
                self.state = decision.state
                if decision.desired_replicas != cluster.replicas:
                    cluster.set_replicas(decision.desired_replicas, t)
        self._watch_pending(t)

    # -- Karpenter ----------------------------------------------------------------------------------

    def _watch_pending(self, t: float) -> None:
        pending = self._unplaced()
        if pending and self._batch_start is None:
            self._batch_start = t
            self._last_pending = pending
            self.world.events.at(t + BATCH_IDLE_SECONDS, self._batch)

    def _unplaced(self) -> int:
        """Pending pods that the Ready and in-flight nodes cannot take."""
        cluster = self.world.cluster
        room = sum(
            max(n.group.pods_per_node - n.pods, 0)
            for n in cluster.nodes.values()
            if not n.cordoned and n.phase in (NodePhase.REQUESTED, NodePhase.BOOTING, NodePhase.READY)
        )
        return max(cluster.pending_pods() - room, 0)

    def _batch(self, t: float) -> None:
        pending = self._unplaced()
        assert self._batch_start is not None
        if pending != self._last_pending and t - self._batch_start < BATCH_MAX_SECONDS:
            self._last_pending = pending
            self.world.events.at(t + BATCH_IDLE_SECONDS, self._batch)
            return
        self._batch_start = None
        self.provision(t)

    def existing_nodes(self) -> tuple[ExistingNode, ...]:
        world = self.world
        nodes = []
        for node in sorted(world.cluster.nodes.values(), key=lambda n: n.name):
            if node.phase is NodePhase.FAILED_CAPACITY:
                continue
            nodes.append(
                ExistingNode(
                    name=node.name,
                    node_pool=world.pool_name,
                    instance_group=node.group.name,
                    instance_type=node.group.instance_type,
                    state=NodeState.READY if node.phase is NodePhase.READY else NodeState.LAUNCHING,
                    pods=(PodsOnNode(group=world.scaler, count=node.pods),) if node.pods else (),
                    deleting=node.cordoned,
                    launched_at=world.at(node.launched_at) if node.launched_at is not None else None,
                    initialized_at=world.at(node.ready_at) if node.ready_at is not None else None,
                )
            )
        return tuple(nodes)

    def provision(self, t: float) -> None:
        world = self.world
        cluster = world.cluster
        counts = {
            name: GroupCounts(
                current=sum(1 for n in cluster.group_nodes(name) if n.phase is NodePhase.READY),
                target=len(cluster.group_nodes(name)),
            )
            for name in cluster.groups
        }
        started = time.perf_counter()
        inp = planning_input(
            world.config,
            world.pool_name,
            now=world.at(t),
            replicas={world.scaler: cluster.replicas},
            nodes=self.existing_nodes(),
            group_counts=counts,
        )
        plan = karpenter_plan(inp)
        self.decision_seconds += time.perf_counter() - started
        if plan.new_nodes:
            self.node_target_changes += 1
        for node in plan.new_nodes:
            cluster.add_nodes(node.instance_group, 1, t)
