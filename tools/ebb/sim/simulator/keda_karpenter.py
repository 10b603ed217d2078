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
"Settings"). Each new node is one NodeClaim, launched into its instance group. A launch that
fails for lack of capacity marks its offering in Karpenter's unavailable-offerings cache
(`ebb.sim.karpenter_offerings`, 3 minutes) and the NodeClaim is deleted; its pods stay pending
and the next batch plans them elsewhere. Consolidation (`ebb.sim.karpenter_consolidation`) runs
every 10 s (the disruption controller's `pollingPeriod`, kubernetes-sigs/karpenter
`pkg/controllers/disruption/controller.go`) with the NodePool's `consolidationPolicy` and
`consolidateAfter`; a command is executed only if the same command is computed again 15 s later
(`consolidationTTL`); a replacement is launched first and the candidates are deleted once it is
Ready (cordon, evict, delete after the pods' termination, as for ebb).
"""

from __future__ import annotations

import time
from functools import partial

from ebb.config.node_planning import GroupCounts, planning_input
from ebb.config.replica_policy import scaler_policy
from ebb.core.nodes import ExistingNode, NodeState, PlanningInput, PodsOnNode
from ebb.core.replicas import ReplicaCounts, ScalerState, decide_replicas
from ebb.sim.karpenter_consolidation import CONSOLIDATION_VALIDATION_DELAY, karpenter_consolidate
from ebb.sim.karpenter_offerings import Offering, UnavailableOfferings
from ebb.sim.karpenter_reference import karpenter_plan
from ebb.sim.simulator.cluster import NodePhase, SimNode
from ebb.sim.simulator.world import World

HPA_SYNC_SECONDS = 15.0
BATCH_IDLE_SECONDS = 1.0
BATCH_MAX_SECONDS = 10.0
DISRUPTION_POLLING_SECONDS = 10.0
DRAIN_SECONDS = 5.0
"""Cordon and eviction until the node's deletion (the pods' termination), as for ebb."""


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
        self.unavailable = UnavailableOfferings()
        pool = world.config.node_pool(world.pool_name)
        assert pool is not None
        self.consolidation_policy = pool.spec.disruption.consolidation_policy
        self._proposed: tuple[tuple[str, ...], tuple[str, ...]] | None = None
        self._proposed_at = 0.0
        """The command computed at the last pass, executed if the next pass 15 s on agrees."""
        self._waiting: tuple[list[SimNode], tuple[str, ...]] | None = None
        """Replacements launched, and the nodes to delete once they are Ready."""
        after = pool.spec.disruption.consolidate_after.seconds
        self._consolidate_after = float(after) if after is not None else None
        # A pass is skipped only where it is shown identical (see `_consolidation_inputs`):
        # budgets without a schedule do not depend on the time.
        self.skip_unchanged = all(b.schedule is None for b in pool.spec.disruption.budgets)
        self._quiet: object = None
        """The inputs of the last pass that found no command."""

    def start(self) -> None:
        world = self.world
        world.events.at(self.phase, self._sync)
        world.events.at(self.phase + DISRUPTION_POLLING_SECONDS / 2, self._disrupt)
        world.cluster.listeners.append(self._cluster_event)

    def _cluster_event(self, t: float, what: str, node: SimNode) -> None:
        if what != "capacity-failure":
            return
        # The NodeClaim's launch found no capacity: the offering goes into the cache and the
        # NodeClaim is deleted; its pods are pending again for the next batch.
        group = node.group
        self.unavailable.mark(Offering(instance_type=group.instance_type, zone=group.zone), self.world.at(t))
        self.world.cluster.delete_node(node.name, t)
        self._watch_pending(t)

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

    def _planning(self, t: float) -> PlanningInput:
        world = self.world
        cluster = world.cluster
        counts = {
            name: GroupCounts(
                current=sum(1 for n in cluster.group_nodes(name) if n.phase is NodePhase.READY),
                target=len(cluster.group_nodes(name)),
            )
            for name in cluster.groups
        }
        return planning_input(
            world.config,
            world.pool_name,
            now=world.at(t),
            replicas={world.scaler: cluster.replicas},
            nodes=self.existing_nodes(),
            group_counts=counts,
        )

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
                    last_pod_event_at=world.at(node.pod_event_at) if node.pod_event_at is not None else None,
                )
            )
        return tuple(nodes)

    def provision(self, t: float) -> None:
        world = self.world
        started = time.perf_counter()
        plan = karpenter_plan(self._planning(t), unavailable=self.unavailable.active(world.at(t)))
        self.decision_seconds += time.perf_counter() - started
        if plan.new_nodes:
            self.node_target_changes += 1
        for node in plan.new_nodes:
            world.cluster.add_nodes(node.instance_group, 1, t)

    # -- Karpenter's consolidation ----------------------------------------------------------------

    def _disrupt(self, t: float) -> None:
        world = self.world
        cluster = world.cluster
        world.events.at(t + DISRUPTION_POLLING_SECONDS, self._disrupt)
        if self._waiting is not None:
            replacements, delete = self._waiting
            if all(n.phase is NodePhase.READY for n in replacements):
                self._waiting = None
                self._delete(delete, t)
            return
        if (
            self._proposed is not None
            and t < self._proposed_at + CONSOLIDATION_VALIDATION_DELAY.total_seconds()
        ):
            return
        inputs = self._consolidation_inputs(t)
        if self.skip_unchanged and inputs == self._quiet:
            return  # the same inputs found no command: so would this pass
        started = time.perf_counter()
        plan = karpenter_consolidate(
            self._planning(t),
            policy=self.consolidation_policy,
            now=world.at(t),
            unavailable=self.unavailable.active(world.at(t)),
        )
        self.decision_seconds += time.perf_counter() - started
        command = (plan.delete, tuple(r.instance_group for r in plan.replacements))
        if not plan.delete:
            self._proposed = None
            self._quiet = inputs
            return
        self._quiet = None
        if self._proposed != command:
            self._proposed = command  # computed now: executed only if it holds 15 s later
            self._proposed_at = t
            return
        self._proposed = None
        self.node_target_changes += 1
        if plan.replacements:
            launched = [
                node
                for replacement in plan.replacements
                for node in cluster.add_nodes(replacement.instance_group, 1, t)
            ]
            self._waiting = (launched, plan.delete)
        else:
            self._delete(plan.delete, t)

    def _consolidation_inputs(self, t: float) -> object:
        """Everything a consolidation pass reads, with the time reduced to what it reads of it.

        `karpenter_consolidate` sees the nodes (phase, pods, cordon, launch, initialization and
        last pod event), the replicas, the offerings the cache holds at `now`, and `now` itself
        only through which nodes have been idle for `consolidateAfter` (budgets without a
        schedule do not read it). Two passes with equal inputs give the same command.
        """
        cluster = self.world.cluster
        nodes = tuple(
            (n.name, n.phase, n.pods, n.cordoned, n.launched_at, n.ready_at, n.pod_event_at)
            for n in sorted(cluster.nodes.values(), key=lambda n: n.name)
        )
        after = self._consolidate_after
        idle = frozenset(
            n.name
            for n in cluster.nodes.values()
            if after is not None
            and (since := n.pod_event_at if n.pod_event_at is not None else n.ready_at) is not None
            and t >= since + after
        )
        return (nodes, cluster.replicas, len(cluster.pods), idle, self.unavailable.active(self.world.at(t)))

    def _delete(self, names: tuple[str, ...], t: float) -> None:
        cluster = self.world.cluster
        for name in names:
            cluster.cordon(name)
            self.world.events.at(t + DRAIN_SECONDS, partial(self._deleted, name))

    def _deleted(self, name: str, t: float) -> None:
        self.world.cluster.delete_node(name, t)
        self._watch_pending(t)
