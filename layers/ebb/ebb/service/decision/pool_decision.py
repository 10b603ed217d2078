"""`decide_pool`: one NodePool's decision, from what was observed, what was stored and `now`.

It runs, for every scaler of the pool, the replica core (KEDA and HPA semantics), then one node
plan for the pool with the node core, packing the pods of all the pool's scalers together with the
pending pods of no scaler that this pool owns (`owning_pool`). The result says exactly what to do:
which targets to scale, which pods to delete first, which idle timers to arm and, only when the
pool's node targets change, a provisioning order for a new generation. Node targets are absolute
per instance group, so whoever carries them out computes what to add or remove from a fresh read.

The Lambda, the simulator and the demo all run this function; none of them decides anything else.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime

from ebb.config import EbbConfig, ScaledObject
from ebb.config.node_planning import GroupCounts, planning_input, pod_group_name
from ebb.config.replica_policy import scaler_policy
from ebb.core.nodes import (
    DEFAULT_UNAVAILABLE_TTL,
    ExistingNode,
    NodePlan,
    NodeRemoval,
    NodeState,
    OfferingKey,
    PlanningInput,
    PodDeletion,
    PodsOnNode,
    UnavailableOfferings,
    plan_nodes,
)
from ebb.core.replicas import ReplicaDecision, decide_replicas
from ebb.service.decision.backfill_floor import raise_to_floor, with_group_floors
from ebb.service.decision.modes import prewarm_floor
from ebb.service.decision.pending_pods import owning_pool, pending_pod_group
from ebb.service.decision.pool_state import NodeMemory, Pauses, PoolState
from ebb.service.decision.snapshot import NodeFailure, ObservedNode, PoolSnapshot
from ebb.service.decision.spot_interruptions import SpotReclaim, spot_reclaims, still_removing


@dataclass(frozen=True, slots=True)
class ScaleAction:
    """Set a scale target's replicas."""

    scaler: str
    namespace: str
    kind: str
    name: str
    replicas_before: int
    replicas: int

    def __str__(self) -> str:
        return f"scale {self.kind} {self.namespace}/{self.name}: {self.replicas_before} -> {self.replicas}"


@dataclass(frozen=True, slots=True)
class ScalerOutcome:
    """One scaler's replica decision."""

    scaler: str
    decision: ReplicaDecision
    held_by: tuple[str, ...] = ()
    """The other autoscalers on its target: ebb scaled nothing (its replicas are theirs)."""
    paused: str | None = None
    """Why ebb scales nothing now: a run-time pause of the scaler or of its pool (`ebb pause`)."""
    changed_by_hand: tuple[int, int] | None = None
    """(replicas ebb set, replicas found): the target was scaled by something else since."""

    @property
    def desired(self) -> int:
        """The replicas to set."""
        return self.decision.desired_replicas


@dataclass(frozen=True, slots=True)
class Unplaceable:
    """Pods the plan does not give a node, and why (including constraints ebb does not model yet)."""

    pods: str
    """A scaler's ``namespace/name`` or ``pending:namespace/name``."""
    count: int
    reason: str
    detail: str = ""

    def __str__(self) -> str:
        extra = f" ({self.detail})" if self.detail else ""
        return f"{self.count} pod(s) of {self.pods!r} unplaceable: {self.reason}{extra}"


UNMODELLED_CONSTRAINT = "UnmodelledConstraint"
"""The pods use a scheduling constraint the node core does not model yet: never planned as if
they fit, since a node chosen without it could be one the scheduler refuses."""


@dataclass(frozen=True, slots=True)
class ProvisioningOrder:
    """Start provisioning toward new absolute node targets, as generation `generation`."""

    node_pool: str
    generation: int
    node_targets: dict[str, int]
    removals: tuple[NodeRemoval, ...]
    """Nodes the plan chose to take away (drained before deletion)."""
    reason: str


@dataclass(frozen=True, slots=True)
class PoolDecision:
    """Everything one decision of a pool does, and the state to store once it is done."""

    node_pool: str
    now: datetime
    scalers: tuple[ScalerOutcome, ...]
    plan: NodePlan
    node_targets: dict[str, int]
    """The absolute target of every instance group of the pool after this decision."""
    scale: tuple[ScaleAction, ...]
    delete_first: tuple[PodDeletion, ...]
    """Pods to give the lowest pod-deletion-cost before the replicas of their scaler go down."""
    provisioning: ProvisioningOrder | None
    idle_timers: dict[str, datetime | None]
    """Per scaler: when a cooldown ends (arm its idle timer), or ``None`` (delete it)."""
    unplaceable: tuple[Unplaceable, ...]
    state: PoolState
    backfill_notes: tuple[str, ...] = ()
    """What the pool's backfill changed in this decision (or that its window ended)."""
    retired: tuple[str, ...] = ()
    """Scalers the stored state knows and the configuration no longer has: their state is
    dropped, their idle timers go, their targets keep their replicas (as KEDA leaves a target
    whose ScaledObject is deleted) and their pods count as pods ebb does not manage."""
    mode_notes: tuple[str, ...] = ()
    """The pool's mode when it is not the normal one: paused, pods only, or node management
    refused (HyperPod's own autoscaling manages the groups); each says what ebb did not do."""
    deferred: tuple[str, ...] = ()
    """Lower targets kept back because a provisioning round held the pool's acting lease: one
    note per group, saying what the plan asked, what the group keeps and who held the lease."""
    spot_reclaims: tuple[SpotReclaim, ...] = ()
    """Spot nodes HyperPod is taking away without ebb (`spot_interruptions`): each out of its
    group's target, its offering avoided."""

    @property
    def held(self) -> dict[str, tuple[str, ...]]:
        """The scalers whose targets another autoscaler holds, with those autoscalers."""
        return {o.scaler: o.held_by for o in self.scalers if o.held_by}

    def explain(self) -> str:
        """The decision, readable: each scaler's rule, the node plan, the provisioning order."""
        lines = [f"node pool {self.node_pool!r} at {self.now.isoformat()}"]
        for outcome in self.scalers:
            explanation = outcome.decision.explanation
            why = str(explanation.rule) + (f", {held_by_text(outcome.held_by)}" if outcome.held_by else "")
            lines.append(f"  {outcome.scaler}: {explanation.current} -> {explanation.desired} ({why})")
        lines.extend("  " + line for line in str(self.plan).splitlines())
        lines.extend(f"  {u}" for u in self.unplaceable)
        lines.extend(f"  {note}" for note in self.backfill_notes)
        lines.extend(f"  {note}" for note in self.mode_notes)
        lines.extend(f"  {note}" for note in self.deferred)
        lines.extend(f"  {reclaim}" for reclaim in self.spot_reclaims)
        lines.extend(f"  scaler {name} retired: its target keeps its replicas" for name in self.retired)
        if self.provisioning is not None:
            targets = ", ".join(f"{g}={n}" for g, n in sorted(self.provisioning.node_targets.items()))
            lines.append(
                f"  provisioning generation {self.provisioning.generation}: {targets} "
                f"({self.provisioning.reason})"
            )
        return "\n".join(lines)


def held_by_text(held_by: tuple[str, ...]) -> str:
    """Why a target is not scaled: the other autoscalers that hold it, named."""
    return f"held by {', '.join(held_by)}: ebb does not scale a target another autoscaler scales"


def _held(decision: ReplicaDecision, held_by: tuple[str, ...]) -> ReplicaDecision:
    explanation = replace(decision.explanation, steps=(*decision.explanation.steps, held_by_text(held_by)))
    return replace(decision, explanation=explanation)


def decide_pool(
    snapshot: PoolSnapshot,
    state: PoolState,
    config: EbbConfig,
    now: datetime,
    *,
    new_generation: str | None = None,
    pauses: Pauses | None = None,
    acting: str | None = None,
) -> PoolDecision:
    """Decide the replicas of every scaler of one NodePool and its node targets at `now`.

    `pauses` (set at run time with `ebb pause`) hold a scaler's replicas as KEDA's
    `autoscaling.keda.sh/paused` does, or the whole pool's replicas and nodes. A pre-warm window
    of the binding raises a scaler's replicas to its floor while it lasts. A pods-only pool (the
    binding's `podsOnly`), or any pool while HyperPod's own autoscaling is enabled, gets replicas
    and no node plan.

    While the state's backfill window is open, its floors hold: node targets never below its
    node floor, replicas never below its replica floors (decided by the replica core, then
    raised). `new_generation` (a reason) takes a new generation even if the targets stay, for a
    backfill's execution, which must supersede every older one.

    `acting` names the holder of the pool's acting lease while one runs (a provisioning round
    that may be past its last fence check, about to add toward the current generation's
    targets): no group's target goes below the current generation's then. Those groups keep it,
    their removals wait, and `deferred` says so; raised targets go ahead (what that round adds
    stays within them). decide publishes the lower targets once the lease is released.
    """
    if now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    pool_config = config.node_pool(snapshot.node_pool)
    if pool_config is None:
        raise ValueError(f"node pool {snapshot.node_pool!r} is not in the configuration")
    scaled_objects = sorted(config.scaled_objects_of(pool_config), key=pod_group_name)
    group_names = [g.name for g in config.instance_groups_of(pool_config)]
    _check_coverage(snapshot, [pod_group_name(so) for so in scaled_objects], group_names)
    backfill = state.backfill if state.backfill is not None and state.backfill.holds(now) else None
    backfill_notes: tuple[str, ...] = ()
    if state.backfill is not None and backfill is None:
        backfill_notes = (f"{state.backfill} ended: normal scaling resumes",)
    pauses = pauses or Pauses()
    mode_notes = _mode_notes(snapshot, config, pauses)
    plans_nodes = not mode_notes

    outcomes = []
    for scaled_object in scaled_objects:
        name = pod_group_name(scaled_object)
        observed = snapshot.scalers[name]
        policy = scaler_policy(config, scaled_object)
        run_time = None if observed.held_by else (pauses.pool or pauses.scalers.get(name))
        # A run-time pause (`ebb pause`) first, then the target's own annotation.
        pause = run_time or (None if observed.held_by else observed.target_pause)
        if observed.target_pause is not None and pause is observed.target_pause:
            policy = policy.model_copy(
                update={"paused": True, "paused_replicas": observed.target_pause.replicas}
            )
        elif observed.held_by or pause is not None:
            # Another autoscaler holds the target. Two would fight over its replicas, which is why
            # KEDA's admission webhook refuses a ScaledObject on a target an HPA already manages
            # (kedacore/keda apis/keda/v1alpha1/scaledobject_webhook.go, verifyHpas). ebb keeps
            # the replicas as KEDA's pause does, forgetting the HPA history of its own scaling.
            # A run-time pause (`ebb pause`) holds them the same way.
            policy = policy.model_copy(update={"paused": True, "paused_replicas": None})
        decision = decide_replicas(
            policy, observed.observations, observed.replicas, state.scalers.get(name), now
        )
        if observed.held_by:
            decision = _held(decision, observed.held_by)
        elif pause is not None:
            decision = _with_step(decision, str(pause))
        else:
            if backfill is not None and name in backfill.replicas:
                floor = min(backfill.replicas[name], policy.max_replica_count)
                step = (
                    f"backfill floor until {backfill.until.isoformat()}: at least {floor} "
                    f"(backfill {backfill.name!r})"
                )
                decision = _with_replica_floor(decision, floor, step)
            window = prewarm_floor(config, name, now)
            if window is not None:
                floor = min(window.min_replicas, policy.max_replica_count)
                decision = _with_replica_floor(decision, floor, window.explain(now))
        set_before = state.replicas_set.get(name)
        changed = None
        if (
            not observed.held_by
            and pause is None
            and set_before is not None
            and set_before != observed.replicas.spec
        ):
            # Scaled by hand (or by something else) since ebb set it: the decision stands, as the
            # HPA's next sync sets its own count whatever spec.replicas was changed to.
            changed = (set_before, observed.replicas.spec)
            decision = _with_step(
                decision,
                f"replicas changed by hand: ebb set {set_before}, found {observed.replicas.spec}; "
                f"this decision sets {decision.desired_replicas}",
            )
        outcomes.append(
            ScalerOutcome(
                scaler=name,
                decision=decision,
                held_by=observed.held_by,
                paused=str(pause) if pause is not None else None,
                changed_by_hand=changed,
            )
        )

    pool_groups = config.instance_groups_of(pool_config)
    zones = {g.name: g.availability_zone for g in pool_groups}
    unavailable = _mark_shortages(state.unavailable.prune(now), snapshot.nodes, zones, now)
    spot = spot_reclaims(
        snapshot.nodes,
        spot_zones={g.name: g.availability_zone for g in pool_groups if g.capacity_type == "spot"},
        removing=state.removing,
        seen=state.reclaimed,
        unavailable=unavailable,
        now=now,
    )
    unavailable = spot.unavailable
    memory = _remember_nodes(state.nodes, snapshot.nodes, now)
    # The pods of a held target count as pods ebb does not manage (the snapshot says so on nodes).
    managed = {
        pod_group_name(so) for so in scaled_objects if not snapshot.scalers[pod_group_name(so)].held_by
    }

    unplaceable: list[Unplaceable] = []
    replicas: dict[str, int] = {}
    for outcome in outcomes:
        observed = snapshot.scalers[outcome.scaler]
        if outcome.held_by:
            replicas[outcome.scaler] = 0  # its pods: pending pods of no scaler, or unmanaged on nodes
        elif observed.unmodelled_constraints:
            running = sum(node.pods.get(outcome.scaler, 0) for node in snapshot.nodes)
            waiting = max(outcome.desired - running, 0)
            if waiting:
                unplaceable.append(
                    Unplaceable(
                        outcome.scaler,
                        waiting,
                        UNMODELLED_CONSTRAINT,
                        ", ".join(observed.unmodelled_constraints),
                    )
                )
            # Its running pods keep their room; no node is planned for the rest.
            replicas[outcome.scaler] = min(outcome.desired, running)
        else:
            replicas[outcome.scaler] = outcome.desired

    group_counts = spot.without_reclaimed(_without_leaving(snapshot))
    planning = planning_input(
        config,
        snapshot.node_pool,
        now=now,
        replicas=replicas,
        nodes=tuple(
            _existing(node, snapshot.node_pool, managed, memory) for node in snapshot.nodes if node.state
        ),
        group_counts=group_counts,
        unavailable=unavailable,
    )
    extra_groups = []
    for pod in snapshot.pending:
        # A held target's pending pods are this pool's (its binding says so); others, Karpenter's order.
        if pod.held_scaler is None and owning_pool(config, pod) != snapshot.node_pool:
            continue
        if pod.unmodelled_constraints:
            unplaceable.append(
                Unplaceable(
                    f"pending:{pod.qualified_name}",
                    1,
                    UNMODELLED_CONSTRAINT,
                    ", ".join(pod.unmodelled_constraints),
                )
            )
        else:
            extra_groups.append(pending_pod_group(pod))
    if extra_groups:
        planning = PlanningInput.model_validate(
            {**dict(planning), "pod_groups": planning.pod_groups + tuple(extra_groups)}
        )
    targets = {name: group_counts[name].target for name in group_names}
    provisioning = None
    deferred: tuple[str, ...] = ()
    if plans_nodes:
        if backfill is not None:
            planning = with_group_floors(planning, backfill)
        plan = plan_nodes(planning).for_pool(snapshot.node_pool)
        unplaceable.extend(Unplaceable(u.group, u.count, str(u.reason), u.detail) for u in plan.unplaced)
        for target in plan.targets:
            targets[target.instance_group] = target.target_after
        removals = plan.removals
        if backfill is not None:
            floored = raise_to_floor(planning, plan, targets, backfill)
            targets, removals = floored.targets, floored.removals
            backfill_notes = floored.notes(backfill)
        if acting is not None:
            targets, removals, deferred = _keep_lower_targets_back(targets, removals, state, acting)
        provisioning = _provisioning(
            snapshot, group_counts, state, removals, targets, new_generation=new_generation
        )
    else:
        # Paused, pods only, or refused: no node is planned, the groups keep what HyperPod has.
        plan = NodePlan(node_pool=snapshot.node_pool)

    lowering = {o.scaler for o in outcomes if o.desired < snapshot.scalers[o.scaler].replicas.spec}
    new_state = PoolState(
        generation=provisioning.generation if provisioning else state.generation,
        node_targets=targets if provisioning or not state.node_targets else state.node_targets,
        provisioning_open=True if provisioning else state.provisioning_open,
        scalers={o.scaler: o.decision.state for o in outcomes},
        nodes=memory,
        unavailable=unavailable,
        idle_timers={s: at for s, at in state.idle_timers.items() if s in snapshot.scalers},
        backfill=backfill,
        replicas_set={o.scaler: o.desired for o in outcomes if not o.held_by and o.paused is None},
        removing=still_removing(
            state.removing,
            snapshot.nodes,
            (r.node for r in provisioning.removals) if provisioning else (),
            now,
        ),
        reclaimed=spot.seen,
    )
    return PoolDecision(
        node_pool=snapshot.node_pool,
        now=now,
        scalers=tuple(outcomes),
        plan=plan,
        node_targets=targets,
        scale=tuple(
            _scale_action(so, snapshot.scalers[pod_group_name(so)].replicas.spec, outcome.desired)
            for so, outcome in zip(scaled_objects, outcomes, strict=True)
            if outcome.desired != snapshot.scalers[outcome.scaler].replicas.spec
        ),
        delete_first=tuple(d for d in plan.deletions if d.group in lowering),
        provisioning=provisioning,
        idle_timers={o.scaler: o.decision.wake_at for o in outcomes},
        unplaceable=tuple(unplaceable),
        state=new_state,
        backfill_notes=backfill_notes,
        mode_notes=mode_notes,
        retired=tuple(sorted(set(state.scalers) - {o.scaler for o in outcomes})),
        deferred=deferred,
        spot_reclaims=spot.reclaims,
    )


def _keep_lower_targets_back(
    targets: dict[str, int], removals: tuple[NodeRemoval, ...], state: PoolState, acting: str
) -> tuple[dict[str, int], tuple[NodeRemoval, ...], tuple[str, ...]]:
    """`targets` with every group the plan lowers below the current generation's target kept
    at it, the removals in those groups left for later, and a note per group kept."""
    lowered = {
        name: (before, targets[name])
        for name, before in sorted(state.node_targets.items())
        if name in targets and targets[name] < before
    }
    if not lowered:
        return targets, removals, ()
    kept = {name: lowered[name][0] if name in lowered else count for name, count in targets.items()}
    notes = tuple(
        f"lower target deferred: {name} keeps {before} (the plan asks {after}) while {acting} holds "
        "the pool's acting lease; published once it is released"
        for name, (before, after) in lowered.items()
    )
    return kept, tuple(r for r in removals if r.instance_group not in lowered), notes


def _check_coverage(snapshot: PoolSnapshot, scalers: list[str], groups: list[str]) -> None:
    # A snapshot that misses a scaler or a group would silently plan without it.
    problems = []
    if missing := sorted(set(scalers) - set(snapshot.scalers)):
        problems.append(f"no observation of scaler(s) {', '.join(missing)}")
    if strangers := sorted(set(snapshot.scalers) - set(scalers)):
        problems.append(f"scaler(s) {', '.join(strangers)} are not on this node pool")
    if missing := sorted(set(groups) - set(snapshot.groups)):
        problems.append(f"no counts for instance group(s) {', '.join(missing)}")
    for node in snapshot.nodes:
        if node.instance_group not in groups:
            problems.append(f"node {node.name!r} is in group {node.instance_group!r}, not one of the pool's")
    if problems:
        raise ValueError(f"snapshot of node pool {snapshot.node_pool!r}: " + "; ".join(problems))


def _mark_shortages(
    unavailable: UnavailableOfferings, nodes: tuple[ObservedNode, ...], zones: dict[str, str], now: datetime
) -> UnavailableOfferings:
    """Each node that failed to launch for lack of capacity marks its offering (type x zone) out.

    HyperPod keeps retrying such a node by itself, so the mark is refreshed while it stays failed.
    """
    for node in nodes:
        if node.failure is NodeFailure.CAPACITY:
            offering = OfferingKey(
                instance_group=node.instance_group,
                instance_type=node.instance_type,
                zone=zones[node.instance_group],
            )
            unavailable = unavailable.mark(offering, now, DEFAULT_UNAVAILABLE_TTL)
    return unavailable


def _remember_nodes(
    memory: dict[str, NodeMemory], nodes: tuple[ObservedNode, ...], now: datetime
) -> dict[str, NodeMemory]:
    """Carry each joined node's initialization and last pod event; forget nodes that are gone."""
    remembered: dict[str, NodeMemory] = {}
    for node in nodes:
        if node.state not in (NodeState.READY, NodeState.REGISTERED, NodeState.NOT_READY):
            continue
        before = memory.get(node.name)
        initialized_at = before.initialized_at if before else None
        if initialized_at is None and node.state is NodeState.READY:
            initialized_at = now
        # A pod came or went since the last decision: that is the last event. A node first seen
        # with no pods has had none (Karpenter's lastPodEventTime stays zero and consolidateAfter
        # counts from initialization); one first seen with pods had them bound by now at the latest.
        if before is None:
            last_event = now if node.pods else None
        else:
            last_event = now if before.pods != node.pods else before.last_pod_event_at
        remembered[node.name] = NodeMemory(
            initialized_at=initialized_at, pods=dict(node.pods), last_pod_event_at=last_event
        )
    return remembered


def _existing(
    node: ObservedNode, pool: str, managed: set[str], memory: dict[str, NodeMemory]
) -> ExistingNode:
    remembered = memory.get(node.name)
    assert node.state is not None  # the caller passes capacity only
    return ExistingNode(
        name=node.name,
        node_pool=pool,
        instance_group=node.instance_group,
        instance_type=node.instance_type,
        state=node.state,
        pods=tuple(PodsOnNode(group=g, count=c) for g, c in sorted(node.pods.items()) if g in managed),
        unmanaged=node.unmanaged,
        unmanaged_pods=node.unmanaged_pods,
        do_not_disrupt=node.do_not_disrupt,
        deleting=node.deleting,
        launched_at=node.launched_at,
        initialized_at=remembered.initialized_at if remembered else None,
        last_pod_event_at=remembered.last_pod_event_at if remembered else None,
    )


def _without_leaving(snapshot: PoolSnapshot) -> dict[str, GroupCounts]:
    """The groups' counts without the nodes on their way out (cordoned or being deleted).

    HyperPod counts a node in its group's target until BatchDeleteClusterNodes; while ebb drains
    it, it is no capacity (Karpenter leaves a node marked for deletion out of its cluster state),
    so the target the decision starts from leaves it out too: otherwise every decision taken
    during a drain would restore the target and supersede the execution that is draining.
    """
    leaving = Counter(node.instance_group for node in snapshot.nodes if node.deleting and node.state)
    return {
        name: GroupCounts(current=counts.current, target=max(counts.target - leaving[name], 0))
        for name, counts in snapshot.groups.items()
    }


def _provisioning(
    snapshot: PoolSnapshot,
    group_counts: dict[str, GroupCounts],
    state: PoolState,
    removals: tuple[NodeRemoval, ...],
    targets: dict[str, int],
    *,
    new_generation: str | None = None,
) -> ProvisioningOrder | None:
    """A new generation when the targets differ from the current generation's.

    With no execution open (the last one ended, or none was ever started), targets that differ
    from what HyperPod reports also need one: the tick heals a crash or a lost execution.
    `new_generation` asks for one whatever the targets (its reason is given).
    """
    observed = {name: counts.target for name, counts in group_counts.items()}
    decided = state.node_targets or observed
    if targets != decided:
        reason = "node targets changed"
    elif not state.provisioning_open and targets != observed:
        reason = "HyperPod's targets differ from the current generation's and no execution is open"
    elif new_generation is not None:
        reason = new_generation
    else:
        return None
    return ProvisioningOrder(
        node_pool=snapshot.node_pool,
        generation=state.generation + 1,
        node_targets=dict(targets),
        removals=removals,
        reason=reason,
    )


def _scale_action(scaled_object: ScaledObject, before: int, after: int) -> ScaleAction:
    ref = scaled_object.spec.scale_target_ref
    return ScaleAction(
        scaler=pod_group_name(scaled_object),
        namespace=scaled_object.namespace,
        kind=ref.kind,
        name=ref.name,
        replicas_before=before,
        replicas=after,
    )


def _with_replica_floor(decision: ReplicaDecision, floor: int, step: str) -> ReplicaDecision:
    """The replica core's decision, raised to a floor (explained by `step`) when it is below."""
    if decision.desired_replicas >= floor:
        return decision
    explanation = replace(decision.explanation, desired=floor, steps=(*decision.explanation.steps, step))
    return replace(decision, desired_replicas=floor, explanation=explanation)


def _with_step(decision: ReplicaDecision, step: str) -> ReplicaDecision:
    explanation = replace(decision.explanation, steps=(*decision.explanation.steps, step))
    return replace(decision, explanation=explanation)


def _mode_notes(snapshot: PoolSnapshot, config: EbbConfig, pauses: Pauses) -> tuple[str, ...]:
    """Why this pool's nodes are not planned, if they are not (empty: the normal mode)."""
    pool = snapshot.node_pool
    if pauses.pool is not None:
        return (f"node pool {pool!r} {pauses.pool}: no replicas set, no node planned",)
    if pool in config.binding.spec.pods_only:
        return (
            f"node pool {pool!r} is pods only (ClusterBinding spec.podsOnly): ebb sets replicas and "
            "plans no node; HyperPod's own autoscaling provides them",
        )
    if snapshot.hyperpod_autoscaling:
        return (
            f"refused to manage the nodes of node pool {pool!r}: HyperPod autoscaling is enabled on "
            "the cluster (DescribeCluster AutoScaling.Mode Enable) and its Karpenter provisions the "
            "instance groups; ebb sets replicas only. Fix: add "
            f"{pool!r} to the ClusterBinding's spec.podsOnly, or disable HyperPod autoscaling "
            "(aws sagemaker update-cluster --auto-scaling Mode=Disable)",
        )
    return ()
