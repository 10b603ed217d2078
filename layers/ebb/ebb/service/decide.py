"""The decide use case: observe a NodePool, run the pool decision step, and carry it out.

Claim, act, record. The pool's stored decision counter is read first; after observing and
deciding, the pool is claimed with a conditional write of that counter plus one (of two racers
only one can), then the decision is carried out (pod-deletion costs, replicas, idle timers, the
provisioning execution), then the new state and the audit entries are stored on the condition
that the claim still stands. The replica core's state is therefore recorded only after its
replicas were applied; a crash in between leaves the old state and the next decision (at the
latest the next tick) decides again. A lost claim means another invocation decided first: decide
again, on fresh state.

Lower node targets wait for the pool's acting lease. A provisioning round holding it may be past
its last fence check, about to add toward the current generation's targets with
BatchAddClusterNodes (which has no condition), so a lower target published then would leave the
pool with more nodes requested than its current generation asks. A decision that finds the
lease running keeps every lowered group at its current target (raised ones go ahead: what the
round adds stays within them) and records why (`deferred` in the pool's audit entry and in
`PoolDecision.explain`). A decision that does lower claims the pool only while no lease runs and
holds the lease itself until it has recorded (`StateTable.claim`), so no round acts meanwhile.
The pool is decided again as soon as the lease is released, on a fresh read (so what the round
just requested is planned with): the releasing round finds the deferral recorded and asks decide
again (`ProvisioningTasks.run_round`); if it released before the deferral was recorded, the
deferring decision itself, reading the lease again just after recording, decides again at once.
Only a holder that crashed delays that longer: its lease (90 s) runs out and the next tick
(within a minute) decides.

In shadow mode (the binding's default) everything is decided and recorded, and nothing acts.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ebb.adapters.call_counts import CallCounts
from ebb.adapters.idle_timers import IdleTimers
from ebb.adapters.kubernetes import WorkloadRef
from ebb.adapters.state_table import LEASE_RELEASED, AuditEntry, ClaimLost, StateTable, StoredPool
from ebb.adapters.workflows import ExecutionNameTaken, Workflows, execution_name
from ebb.config import EbbConfig
from ebb.config.node_planning import pod_group_name
from ebb.core.provisioning import Shortages
from ebb.core.replicas.explanation import TriggerReport
from ebb.service.decision import BackfillFloor, PoolDecision, PoolState, ProvisioningOrder, decide_pool
from ebb.service.decision.pool_state import Pauses
from ebb.service.idle_polling import pool_at_rest
from ebb.service.observe import ClusterAccess, observe_pool, target_of
from ebb.service.provisioning_request import DecisionRequest, NodeToRemove

CLAIM_LEASE = timedelta(seconds=90)
"""How long a claim keeps other decisions of the pool off: longer than the decide function's
timeout (60 s in template.yaml), so a claimant is stopped by Lambda before its lease runs out."""
CLAIM_ATTEMPTS = 3
"""Decisions that lose their claim decide again on fresh state, this many times in all."""
DELETION_COST_FIRST = -(2**31)
"""The lowest int32 pod-deletion-cost: the ReplicaSet deletes these pods before every other."""
DEFERRED_REDECISIONS = 2
"""A decision that kept lower targets back and then finds the lease released decides again at
once, this many times at most (a lease retaken each time waits for its releaser or the tick)."""


@dataclass(frozen=True, slots=True)
class DecideContext:
    """Everything a decision reads from and acts through."""

    config: EbbConfig
    config_version: str
    access: ClusterAccess
    table: StateTable
    timers: IdleTimers
    workflows: Workflows
    state_machine_arn: str
    clock: Callable[[], datetime]
    calls: CallCounts = field(default_factory=CallCounts)
    sequences: dict[str, int] = field(default_factory=dict)
    """The configuration's sequence number, read once per container (it never changes for a
    digest: a newer configuration takes a newer number)."""

    def config_sequence(self) -> int:
        """The sequence number of the configuration this container runs."""
        if self.config_version not in self.sequences:
            self.sequences[self.config_version] = self.table.config_sequence(self.config_version)
        return self.sequences[self.config_version]


@dataclass(frozen=True, slots=True)
class Takeover:
    """A provisioning execution started by hand (a backfill, or its cancellation) that takes the
    pool's next generation and carries it out itself.

    Its floor replaces the pool's backfill in the state before deciding (`None` removes it), the
    decision takes a new generation whatever its targets (so every older execution is fenced
    off), no execution is started for it, and the pool's previous execution is stopped.
    """

    execution_arn: str
    backfill: BackfillFloor | None
    reason: str


@dataclass(frozen=True, slots=True)
class PoolOutcome:
    """What one decision of a pool did."""

    node_pool: str
    decision: PoolDecision
    acted: bool
    """False in shadow mode and while the pool is paused (`ebb pause`)."""
    actions: tuple[str, ...]
    execution_arn: str | None
    claim_attempts: int
    calls: dict[str, int]
    request: DecisionRequest | None = None
    """The provisioning request of the generation this decision took (started or taken over)."""


def decide_now(
    node_pool: str,
    context: DecideContext,
    *,
    reasons: tuple[str, ...] = (),
    takeover: Takeover | None = None,
) -> PoolOutcome:
    """Decide `node_pool` now and carry the decision out (claim, act, record).

    `reasons` has one entry per request this decision answers (several coalesce into one).
    With `takeover`, the decision is a backfill's (see :class:`Takeover`). A decision that kept
    lower targets back for the acting lease (see the module docstring) and finds the lease
    released once it has recorded decides again at once, and that decision is the outcome
    (a take-over's is always its own).
    """
    outcome = _decide_once(node_pool, context, reasons=reasons, takeover=takeover)
    # Not for a take-over: its execution carries out the generation it took, and a decision
    # after it starts its own execution (the round's release or the tick asks for that one).
    for _ in range(DEFERRED_REDECISIONS if takeover is None else 0):
        if not outcome.decision.deferred:
            break
        if context.table.load_pool(node_pool).acting_holder(context.clock()) is not None:
            break  # its holder finds the deferral recorded when it releases the lease
        outcome = _decide_once(node_pool, context, reasons=(*reasons, LEASE_RELEASED), takeover=None)
    return outcome


def _decide_once(
    node_pool: str,
    context: DecideContext,
    *,
    reasons: tuple[str, ...],
    takeover: Takeover | None,
) -> PoolOutcome:
    sequence = context.config_sequence()
    for attempt in range(1, CLAIM_ATTEMPTS + 1):
        stored = context.table.load_pool(node_pool)
        state = PoolState.model_validate_json(stored.state_json) if stored.state_json else PoolState()
        if takeover is not None:
            state = state.model_copy(update={"backfill": takeover.backfill})
        now = context.clock()
        state = with_provisioning_news(state, stored, now)
        snapshot = observe_pool(context.config, node_pool, context.access, now)
        pauses = Pauses.from_stored(stored.pauses)
        decision = decide_pool(
            snapshot,
            state,
            context.config,
            now,
            new_generation=takeover.reason if takeover else None,
            pauses=pauses,
            acting=stored.acting_holder(now),
        )
        lowering = lowers_targets(decision, state)
        token = secrets.token_hex(8)
        try:
            claim = context.table.claim(
                node_pool, stored.decisions, token, now=now, lease=CLAIM_LEASE, lowering=lowering
            )
        except ClaimLost:
            if attempt == CLAIM_ATTEMPTS:
                raise
            continue
        shadow = context.config.binding.spec.shadow_mode
        # A decision under an older configuration than the pool's newest recorded one (a
        # container of the previous deployment) does not act; neither does a paused pool.
        older = stored.config_sequence > sequence
        acts = not shadow and pauses.pool is None and not older
        actions: list[str] = []
        execution_arn, armed = stored.execution_arn, dict(decision.state.idle_timers)
        if acts:
            actions, execution_arn, armed = _act(
                decision, state, stored.execution_arn, context, reasons=reasons, takeover=takeover
            )
        update: dict[str, Any] = {"idle_timers": armed, "at_rest": pool_at_rest(snapshot, decision)}
        if not acts:
            update["replicas_set"] = state.replicas_set  # nothing was set
        recorded = decision.state.model_copy(update=update)
        # The audit counts the calls made to observe, claim and act; the outcome adds the record.
        calls = context.calls.take()
        audit = _audit(
            decision,
            context,
            reasons=reasons,
            actions=actions,
            shadow=shadow,
            acts=acts,
            older=(sequence, stored.config_sequence) if older else None,
            state_before=state,
            claim_attempts=attempt,
            calls=calls,
            acted_by=context.clock(),
        )
        context.table.record(
            node_pool,
            claim=claim,
            token=token,
            state_json=recorded.model_dump_json(),
            execution_arn=execution_arn,
            audit=audit,
            config_sequence=None if older else sequence,
            lowering=lowering,
            deferred="; ".join(decision.deferred) or None,
        )
        return PoolOutcome(
            node_pool=node_pool,
            decision=decision,
            acted=acts,
            actions=tuple(actions),
            execution_arn=execution_arn,
            claim_attempts=attempt,
            calls=_merged(calls, context.calls.take()),
            request=(
                _decision_request(decision, decision.provisioning, context)
                if decision.provisioning is not None and acts
                else None
            ),
        )
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


@dataclass(frozen=True, slots=True)
class RetiredPool:
    """What retiring a NodePool the configuration no longer has did."""

    node_pool: str
    stopped_execution: str | None
    nodes_left: dict[str, list[str]]
    """Per instance group, the nodes left as they are (instance id, or logical id while none)."""
    scalers: tuple[str, ...]


def retire_pool(node_pool: str, context: DecideContext) -> RetiredPool:
    """Retire `node_pool`, which a configuration rollout removed: stop its open provisioning
    execution, delete its scalers' idle timers, leave its nodes as they are, and report it all.

    Nothing is deleted in HyperPod: nodes ebb no longer manages are the platform team's to keep
    or remove. The pool's item stays, so a pool of that name added again later continues its
    generations (execution names are unique for 90 days) with its execution closed.
    """
    stored = context.table.load_pool(node_pool)
    state = PoolState.model_validate_json(stored.state_json) if stored.state_json else PoolState()
    shadow = context.config.binding.spec.shadow_mode
    stopped = None
    if not shadow:
        if stored.execution_arn is not None and stored.closed_generation < state.generation:
            context.workflows.stop(
                stored.execution_arn, cause=f"node pool {node_pool!r} retired from the configuration"
            )
            stopped = stored.execution_arn
        context.table.close_generation(node_pool, state.generation)
        for scaler in sorted(state.idle_timers):
            context.timers.disarm(scaler)
    groups = set(state.node_targets)
    nodes_left: dict[str, list[str]] = {group: [] for group in sorted(groups)}
    for node in context.access.hyperpod.list_nodes():
        if node.instance_group in groups:
            nodes_left[node.instance_group].append(node.instance_id or node.logical_id or "?")
    now = context.clock()
    scalers = tuple(sorted(state.scalers))
    common = {
        "at": now.isoformat(),
        "recordedAt": now.isoformat(),
        "nodePool": node_pool,
        "configVersion": context.config_version,
        "reasons": ["retire"],
        "shadowMode": shadow,
    }
    entries = [
        AuditEntry(
            subject=f"POOL#{node_pool}",
            at=now,
            record={
                **common,
                "event": "node-pool-retired",
                "executionStopped": stopped,
                "nodesLeft": {group: sorted(ids) for group, ids in nodes_left.items()},
                "nodeTargets": state.node_targets,
                "generation": state.generation,
                "scalers": list(scalers),
                "note": "removed from the configuration: its execution stopped, its scalers' idle "
                "timers deleted, its nodes left as they are",
            },
        ),
        *(
            AuditEntry(
                subject=scaler,
                at=now,
                record={
                    **common,
                    "event": "scaler-retired",
                    "scaler": scaler,
                    "replicasLeft": state.replicas_set.get(scaler),
                    "note": "its node pool was removed from the configuration: its target keeps its "
                    "replicas, its pods are pods ebb does not manage",
                },
            )
            for scaler in scalers
        ),
    ]
    context.table.append_audit(entries)
    return RetiredPool(node_pool=node_pool, stopped_execution=stopped, nodes_left=nodes_left, scalers=scalers)


def lowers_targets(decision: PoolDecision, before: PoolState) -> bool:
    """Whether `decision` takes a generation with some group's target below the current one's
    (a group left out counts as lowered to zero)."""
    order = decision.provisioning
    if order is None:
        return False
    return any(order.node_targets.get(name, 0) < count for name, count in before.node_targets.items())


def _merged(first: dict[str, int], second: dict[str, int]) -> dict[str, int]:
    return {kind: first.get(kind, 0) + second.get(kind, 0) for kind in sorted(first.keys() | second.keys())}


def with_provisioning_news(state: PoolState, stored: StoredPool, now: datetime) -> PoolState:
    """The pool's state with what its provisioning executions wrote beside it: a generation whose
    execution ended is no longer open, and the shortages they found mark their offerings."""
    update: dict[str, Any] = {}
    if state.provisioning_open and stored.closed_generation >= state.generation:
        update["provisioning_open"] = False
    if stored.shortages_json:
        unavailable = state.unavailable
        for shortage in Shortages.model_validate_json(stored.shortages_json).entries:
            if now < shortage.until:
                unavailable = unavailable.mark(shortage.offering, now, shortage.until - now, shortage.reason)
        if unavailable != state.unavailable:
            update["unavailable"] = unavailable
    return state.model_copy(update=update) if update else state


def _act(
    decision: PoolDecision,
    state: PoolState,
    execution_arn: str | None,
    context: DecideContext,
    *,
    reasons: tuple[str, ...] = (),
    takeover: Takeover | None = None,
) -> tuple[list[str], str | None, dict[str, datetime]]:
    """Carry the decision out; return what was done, the pool's execution and the armed timers."""
    actions: list[str] = []
    kubernetes = context.access.kubernetes
    targets = {pod_group_name(so): target_of(so) for so in context.config.scaled_objects}
    # Before any replicas go down: the pods on the nodes the plan wants to empty go first.
    for deletion in decision.delete_first:
        pods = [
            pod
            for pod in kubernetes.pods_on_node(deletion.node)
            if _controls(targets[deletion.group], pod.metadata.labels, pod.metadata.controller)
        ][: deletion.count]
        for pod in pods:
            kubernetes.set_pod_deletion_cost(pod.namespace, pod.name, DELETION_COST_FIRST + deletion.rank)
            actions.append(f"pod-deletion-cost {pod.namespace}/{pod.name} (rank {deletion.rank})")
    for scale in decision.scale:
        kubernetes.scale(targets[scale.scaler], scale.replicas)
        actions.append(str(scale))

    armed = {scaler: at for scaler, at in state.idle_timers.items() if scaler not in decision.retired}
    for scaler in decision.retired:
        # Retired with the configuration: its schedule goes, armed or not (deleting none is a no-op).
        context.timers.disarm(scaler)
        actions.append(f"idle timer {scaler} deleted (scaler retired)")
    for scaler, wake_at in sorted(decision.idle_timers.items()):
        if wake_at is not None and armed.get(scaler) != wake_at:
            context.timers.arm(scaler, decision.node_pool, wake_at)
            armed[scaler] = wake_at
            actions.append(f"idle timer {scaler} at {wake_at.isoformat()}")
        elif wake_at is None and scaler in armed:
            context.timers.disarm(scaler)
            del armed[scaler]
            actions.append(f"idle timer {scaler} deleted")

    order = decision.provisioning
    # A waiting execution is woken by a HyperPod event for the pool (it reacts at once instead of
    # at its fallback poll) and by a new generation (it fences, finds itself superseded and ends,
    # recording what it did; it is not stopped, so its outcome is recorded).
    waiting = None
    if order is not None or "hyperpod-event" in reasons:
        waiting = context.table.take_wait_token(decision.node_pool)
    if order is not None and takeover is not None:
        # The backfill's own execution carries the generation out: nothing to start; the one it
        # supersedes is woken like any superseded execution, and ends at its next fence.
        execution_arn = takeover.execution_arn
        actions.append(f"took over provisioning as {execution_arn.rsplit(':', 1)[-1]}")
    elif order is not None:
        name = execution_name(decision.node_pool, context.table.epoch(), order.generation)
        request = _decision_request(decision, order, context)
        try:
            started = context.workflows.start(name, request.model_dump(mode="json", by_alias=True))
        except ExecutionNameTaken:
            # An earlier attempt of this very decision started it: it is the current one.
            started = _execution_arn(context.state_machine_arn, name)
        execution_arn = started
        actions.append(f"started provisioning {name}")
    if waiting is not None:
        generation, token = waiting
        why = "new-generation" if order is not None else "hyperpod-event"
        if context.workflows.wake(token, {"woken": why, "generation": decision.state.generation}):
            actions.append(f"woke generation {generation} ({why})")
    return actions, execution_arn, armed


def _decision_request(
    decision: PoolDecision, order: ProvisioningOrder, context: DecideContext
) -> DecisionRequest:
    return DecisionRequest(
        node_pool=order.node_pool,
        generation=order.generation,
        config_version=context.config_sequence(),
        node_targets=order.node_targets,
        removals=tuple(
            NodeToRemove(node=r.node, instance_group=r.instance_group, kind=r.kind.value)
            for r in order.removals
        ),
        decided_at=decision.now,
    )


def _controls(target: WorkloadRef, labels: dict[str, str], controller: Any) -> bool:
    if controller is None:
        return False
    if controller.kind == "ReplicaSet":
        template_hash = labels.get("pod-template-hash", "")
        return target.kind == "Deployment" and controller.name == f"{target.name}-{template_hash}"
    return bool(controller.kind == target.kind and controller.name == target.name)


def _execution_arn(state_machine_arn: str, name: str) -> str:
    # arn:aws:states:<region>:<account>:stateMachine:<machine> -> ...:execution:<machine>:<name>
    prefix, machine = state_machine_arn.rsplit(":stateMachine:", 1)
    return f"{prefix}:execution:{machine}:{name}"


def _trigger_record(trigger: TriggerReport) -> dict[str, Any]:
    return {
        "trigger": trigger.name,
        "kind": trigger.kind,
        "value": trigger.value,
        "quantity": trigger.quantity,
        "target": trigger.target,
        "active": trigger.active,
        "proposal": trigger.proposal,
        "fallback": trigger.fallback,
        "detail": trigger.detail,
    }


def _audit(
    decision: PoolDecision,
    context: DecideContext,
    *,
    reasons: tuple[str, ...],
    actions: list[str],
    shadow: bool,
    acts: bool,
    older: tuple[int, int] | None,
    state_before: PoolState,
    claim_attempts: int,
    calls: dict[str, int],
    acted_by: datetime,
) -> list[AuditEntry]:
    common = {
        "at": decision.now.isoformat(),
        "recordedAt": acted_by.isoformat(),
        "nodePool": decision.node_pool,
        "configVersion": context.config_version,
        "reasons": sorted(set(reasons)),
        "requests": len(reasons),
        "requestsByReason": {reason: reasons.count(reason) for reason in sorted(set(reasons))},
        "shadowMode": shadow,
        "claimAttempts": claim_attempts,
        "olderConfiguration": (
            f"configuration version {older[0]} is older than version {older[1]}, which the pool "
            "recorded: decided and recorded, nothing acts"
            if older
            else None
        ),
    }
    scale_of = {action.scaler: str(action) for action in decision.scale}
    entries = []
    for outcome in decision.scalers:
        explanation = outcome.decision.explanation
        entries.append(
            AuditEntry(
                subject=outcome.scaler,
                at=decision.now,
                record={
                    **common,
                    "scaler": outcome.scaler,
                    "current": explanation.current,
                    "desired": explanation.desired,
                    "rule": str(explanation.rule),
                    "steps": list(explanation.steps),
                    "triggers": [str(t) for t in explanation.triggers],
                    # The same readings as data, for `ebb explain` and scripts: value vs target.
                    "metrics": [_trigger_record(t) for t in explanation.triggers],
                    "wakeAt": outcome.decision.wake_at.isoformat() if outcome.decision.wake_at else None,
                    "action": scale_of.get(outcome.scaler),
                    "heldBy": list(outcome.held_by),
                    "paused": outcome.paused,
                    "changedByHand": (
                        {"set": outcome.changed_by_hand[0], "found": outcome.changed_by_hand[1]}
                        if outcome.changed_by_hand
                        else None
                    ),
                    "applied": acts and outcome.scaler in scale_of,
                },
            )
        )
    for scaler in decision.retired:
        # Its target is left as it is (KEDA leaves a target whose ScaledObject is deleted at its
        # current replicas); the last count ebb set is what it keeps, unless changed since.
        entries.append(
            AuditEntry(
                subject=scaler,
                at=decision.now,
                record={
                    **common,
                    "event": "scaler-retired",
                    "scaler": scaler,
                    "replicasLeft": state_before.replicas_set.get(scaler),
                    "note": "removed from the configuration: its alarms, idle timer and state are "
                    "deleted, its target keeps its replicas, its pods are pods ebb does not manage",
                },
            )
        )
    entries.append(
        AuditEntry(
            subject=f"POOL#{decision.node_pool}",
            at=decision.now,
            record={
                **common,
                "nodeTargets": decision.node_targets,
                "generation": decision.state.generation,
                "plan": str(decision.plan),
                "unplaceable": [str(u) for u in decision.unplaceable],
                "heldBy": {scaler: list(held_by) for scaler, held_by in decision.held.items()},
                "backfill": (
                    decision.state.backfill.model_dump(mode="json") if decision.state.backfill else None
                ),
                "backfillNotes": list(decision.backfill_notes),
                "modeNotes": list(decision.mode_notes),
                "deferred": list(decision.deferred),
                "spotReclaims": [
                    {
                        "node": r.node,
                        "instanceId": r.instance_id,
                        "offering": str(r.offering),
                        "until": r.until.isoformat(),
                        "firstSeen": r.first_seen,
                        "note": str(r),
                    }
                    for r in decision.spot_reclaims
                ],
                "retired": list(decision.retired),
                "actions": actions,
                "calls": calls,
            },
        )
    )
    return entries
