"""One scaler's replicas: KEDA's executor and fallback around the Kubernetes HPA, number for number.

`decide_replicas` runs, for one ScaledObject and one instant, what KEDA's operator and the HPA
controller would do between them: read each trigger's metric (`metrics`), count failures and
substitute fallbacks (`fallback`), let KEDA's executor activate, cool down or deactivate
(`activation`), and otherwise let the HPA propose (`replica_calculation`) and normalize
(`normalization`, `hpa`). The state both controllers keep in memory comes in and goes out as one
`ScalerState`. The time is `now`; nothing here reads a clock.

Deliberate differences from KEDA + HPA, each switched off by `ScalerPolicy.keda_exact`:

1. Activation goes straight to the metrics' proposal. KEDA scales a target at zero (or idle) to
   `max(minReplicaCount, 1)` and leaves the rest to the HPA's next sync, 15 s later. ebb decides
   about once a minute, so it runs that HPA step in the same decision, from `max(minReplicaCount, 1)`
   and under the same `behavior` limits: a cold GPU deployment with a full queue starts the
   replicas it needs a decision earlier.
2. Fallback replicas are exact. KEDA reports a synthetic metric `target * replicas` that the HPA
   passes through its 10% tolerance and milli-unit truncation, so a fallback of 10 at 11 current
   replicas keeps 11. ebb uses the fallback count itself as the failing trigger's proposal.
3. Activity is recorded even while another trigger fails. KEDA skips `lastActiveTime` when any
   trigger errors, so once the error clears a target can drop to zero without waiting for the
   cooldown after its last real activity. ebb records the activity.
4. `minReplicaCount` holds whatever the triggers say. Below the minimum (outside idle mode) KEDA
   raises the target only when no trigger is active and none fails; a failing trigger, or an
   active one while scale-out is paused, leaves it at zero, where the HPA does nothing. ebb
   raises it: the minimum does not depend on any metric.

Not switchable, because they are about cadence rather than rules: KEDA counts a trigger's failures
once per HPA metric query (every 15 s while the HPA is active) and ebb once per decision; KEDA
checks activation every `pollingInterval` and ebb on every decision (tick, alarm or idle timer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from ebb.core.replicas.activation import ExecutorAction, ExecutorOutcome, run_executor
from ebb.core.replicas.explanation import ReplicaExplanation, Rule, TriggerReport
from ebb.core.replicas.fallback import FallbackMetric, fallback_metric, fallback_replicas, is_falling_back
from ebb.core.replicas.hpa import HpaMemory, HpaOutcome, HpaSpec, forget_expired, reconcile, seeded
from ebb.core.replicas.metrics import MetricProblem, MetricReading, read_metric
from ebb.core.replicas.normalization import HpaCondition, tolerances_for
from ebb.core.replicas.observations import Observation, ReplicaCounts
from ebb.core.replicas.policy import ScalerPolicy, SqsQueueTrigger, Trigger
from ebb.core.replicas.quantities import format_milli_quantity
from ebb.core.replicas.replica_calculation import Proposal, ProposalError, Tolerances, propose
from ebb.core.replicas.state import ScalerState


@dataclass(frozen=True, slots=True)
class ReplicaDecision:
    """The replicas to set, the state to store and why."""

    desired_replicas: int
    state: ScalerState
    explanation: ReplicaExplanation
    wake_at: datetime | None
    """When a cooldown ends: a decision then may scale to zero (arm an idle timer for it)."""


def decide_replicas(
    policy: ScalerPolicy,
    observations: Mapping[str, Observation],
    replicas: ReplicaCounts,
    state: ScalerState | None,
    now: datetime,
) -> ReplicaDecision:
    """Decide one scaler's desired replicas at `now` from its metrics, replicas and stored state."""
    if now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    now = now.astimezone(UTC)
    state = state or ScalerState()
    created_at = state.created_at or now
    current = replicas.spec

    if policy.paused_replicas is not None or policy.paused:
        return _paused(policy, replicas, state, created_at)

    previous_failures = state.consecutive_failures
    readings = [
        (trigger, read_metric(trigger, observations.get(trigger.name), now)) for trigger in policy.triggers
    ]
    failures = {
        trigger.name: previous_failures.get(trigger.name, 0) + 1
        for trigger, reading in readings
        if isinstance(reading, MetricProblem)
    }
    active = any(isinstance(reading, MetricReading) and reading.active for _, reading in readings)
    outcome = run_executor(
        policy,
        current=current,
        active=active,
        any_error=bool(failures),
        last_active_at=state.last_active_at,
        created_at=state.created_at,
        now=now,
    )

    spec = HpaSpec(
        policy.hpa_min_replicas,
        policy.max_replica_count,
        policy.hpa_behavior,
        policy.downscale_stabilization_seconds,
    )
    tolerances = tolerances_for(spec.behavior)
    memory = HpaMemory(state.recommendations, state.scale_up_events, state.scale_down_events)
    steps: list[str] = []
    hpa: HpaOutcome | None = None
    counts = replicas
    hpa_current = current
    # Difference 1: after an activation, the HPA's next sync runs in the same decision.
    chained = outcome.action is ExecutorAction.ACTIVATE and not policy.keda_exact
    if chained and outcome.replicas is not None:
        hpa_current = outcome.replicas
        counts = ReplicaCounts(spec=hpa_current, status=hpa_current, ready=0)
    results = _trigger_results(policy, readings, failures, counts, tolerances)
    proposals = [result.replicas for result in results]

    if outcome.replicas is not None and not chained:
        desired = outcome.replicas
        # The HPA reconciles on its own cadence; all it does meanwhile is seed its history.
        memory = forget_expired(spec, seeded(memory, current, now), now)
        steps.append(_executor_step(policy, outcome, current))
    else:
        if outcome.action is not ExecutorAction.NONE:
            steps.append(_executor_step(policy, outcome, current))
        hpa = reconcile(spec, proposals, hpa_current, memory, now)
        desired, memory = hpa.desired, hpa.memory

    if hpa is not None:
        steps.extend(_hpa_steps(hpa, hpa_current, results))
    rule = _rule(policy, outcome, hpa, results=results, current=current, desired=desired, active=active)
    new_state = ScalerState.model_construct(
        version=2,
        created_at=created_at,
        last_active_at=outcome.last_active_at,
        recommendations=memory.recommendations,
        scale_up_events=memory.scale_up_events,
        scale_down_events=memory.scale_down_events,
        consecutive_failures=failures,
    )
    explanation = ReplicaExplanation(
        scaler=policy.name,
        current=current,
        desired=desired,
        rule=rule,
        steps=tuple(steps),
        triggers=tuple(_report(result) for result in results),
        keda_exact=policy.keda_exact,
    )
    return ReplicaDecision(desired, new_state, explanation, outcome.cooldown_ends_at)


def _paused(
    policy: ScalerPolicy, replicas: ReplicaCounts, state: ScalerState, created_at: datetime
) -> ReplicaDecision:
    # KEDA deletes its HPA while paused, and the controller forgets that HPA's history.
    held = replicas.spec if policy.paused_replicas is None else policy.paused_replicas
    rule = Rule.PAUSED if policy.paused_replicas is None else Rule.PAUSED_REPLICAS
    step = "autoscaling paused" if rule is Rule.PAUSED else f"paused-replicas holds {held}"
    new_state = ScalerState.model_construct(
        version=2,
        created_at=created_at,
        last_active_at=state.last_active_at,
        recommendations=None,
        scale_up_events=(),
        scale_down_events=(),
        consecutive_failures={
            name: count
            for name, count in state.consecutive_failures.items()
            if any(trigger.name == name for trigger in policy.triggers)
        },
    )
    explanation = ReplicaExplanation(policy.name, replicas.spec, held, rule, (step,), (), policy.keda_exact)
    return ReplicaDecision(held, new_state, explanation, None)


@dataclass(frozen=True, slots=True)
class _Result:
    trigger: Trigger
    reading: MetricReading | MetricProblem
    failures: int
    fallback: bool
    proposal: Proposal | None
    replicas: int | None


def _target_value(trigger: Trigger) -> float:
    # The target as KEDA's fallback reads it back from the HPA spec (AsApproximateFloat64).
    if isinstance(trigger, SqsQueueTrigger):
        return float(trigger.queue_length)
    return trigger.target_milli * 1e-3


def _trigger_results(
    policy: ScalerPolicy,
    readings: Sequence[tuple[Trigger, MetricReading | MetricProblem]],
    failures: Mapping[str, int],
    counts: ReplicaCounts,
    tolerances: Tolerances,
) -> list[_Result]:
    results = []
    for trigger, reading in readings:
        count = failures.get(trigger.name, 0)
        if isinstance(reading, MetricReading):
            proposal = propose(trigger.metric_type, reading.milli, trigger.target_milli, counts, tolerances)
            if isinstance(proposal, ProposalError):
                results.append(_Result(trigger, MetricProblem(proposal.reason), count, False, None, None))
            else:
                results.append(_Result(trigger, reading, count, False, proposal, proposal.replicas))
            continue
        if policy.fallback is None or not is_falling_back(policy.fallback, count):
            results.append(_Result(trigger, reading, count, False, None, None))
            continue
        replicas = fallback_replicas(policy.fallback, counts.spec)
        if not policy.keda_exact:
            # Difference 2: the fallback count is the proposal, with no tolerance band around it.
            exact = Proposal(replicas, 1.0, False, 0)
            results.append(_Result(trigger, reading, count, True, exact, replicas))
            continue
        metric = fallback_metric(replicas, trigger.metric_type, _target_value(trigger), counts.ready)
        if not isinstance(metric, FallbackMetric):
            results.append(_Result(trigger, MetricProblem(metric.reason), count, False, None, None))
            continue
        synthetic = propose(trigger.metric_type, metric.milli, trigger.target_milli, counts, tolerances)
        if isinstance(synthetic, ProposalError):
            results.append(_Result(trigger, MetricProblem(synthetic.reason), count, True, None, None))
        else:
            results.append(_Result(trigger, reading, count, True, synthetic, synthetic.replicas))
    return results


def _executor_step(policy: ScalerPolicy, outcome: ExecutorOutcome, current: int) -> str:
    action = outcome.action
    if action is ExecutorAction.ACTIVATE:
        return f"KEDA activated {current} -> {outcome.replicas}"
    if action is ExecutorAction.DEACTIVATE:
        since = (
            "creation"
            if outcome.last_active_at is None
            else f"last activity {outcome.last_active_at:%H:%M:%S}"
        )
        target = "idleReplicaCount" if policy.idle_replica_count is not None else "zero"
        return f"KEDA scaled to {target} ({outcome.replicas}): cooldown passed since {since}"
    if action is ExecutorAction.COOLING_DOWN and outcome.cooldown_ends_at is not None:
        return f"KEDA: no trigger active, cooldown ends {outcome.cooldown_ends_at:%H:%M:%S}"
    if action is ExecutorAction.RAISE_TO_MIN:
        return f"KEDA raised to minReplicaCount {outcome.replicas}"
    if action is ExecutorAction.HOLD_ON_ERRORS:
        return "KEDA: no trigger active but a trigger failed, so no scale to zero"
    return "KEDA: no change"


def _hpa_steps(hpa: HpaOutcome, current: int, results: Sequence[_Result]) -> list[str]:
    condition = hpa.condition
    if condition is HpaCondition.SCALING_DISABLED:
        return ["HPA: scaling disabled at 0 replicas"]
    if condition is HpaCondition.INVALID_METRICS:
        failed = sum(result.replicas is None for result in results)
        if failed == len(results):
            return ["HPA: every trigger failed, no change"]
        return [f"HPA: {failed} of {len(results)} triggers failed, so no scale-down"]
    if hpa.metric_desired is None:
        return [f"HPA: {current} is out of range, set to {hpa.desired} ({condition})"]
    steps = [f"HPA: metrics want {hpa.metric_desired}"]
    if hpa.stabilization is not None and hpa.stabilized is not None:
        steps.append(f"stabilized to {hpa.stabilized} ({hpa.stabilization})")
    if condition is not HpaCondition.DESIRED_WITHIN_RANGE:
        limit = f", policy limit {hpa.rate_limit}" if hpa.rate_limit is not None else ""
        steps.append(f"{condition} -> {hpa.desired}{limit}")
    return steps


_LIMIT_RULES = {
    HpaCondition.SCALE_UP_LIMIT: Rule.SCALE_UP_LIMIT,
    HpaCondition.SCALE_DOWN_LIMIT: Rule.SCALE_DOWN_LIMIT,
    HpaCondition.TOO_MANY_REPLICAS: Rule.MAX_REPLICA_COUNT,
    HpaCondition.TOO_FEW_REPLICAS: Rule.MIN_REPLICA_COUNT,
    HpaCondition.INVALID_METRICS: Rule.FAILED_METRICS,
}


def _rule(
    policy: ScalerPolicy,
    outcome: ExecutorOutcome,
    hpa: HpaOutcome | None,
    *,
    results: Sequence[_Result],
    current: int,
    desired: int,
    active: bool,
) -> Rule:
    action = outcome.action
    if action is ExecutorAction.ACTIVATE:
        return Rule.ACTIVATION
    if action is ExecutorAction.DEACTIVATE:
        return Rule.SCALE_TO_ZERO if policy.idle_replica_count is None else Rule.SCALE_TO_IDLE
    if action is ExecutorAction.RAISE_TO_MIN:
        return Rule.MIN_REPLICA_COUNT
    if hpa is None:
        return Rule.METRICS
    if hpa.condition is HpaCondition.SCALING_DISABLED:
        return Rule.INACTIVE if not active else Rule.SCALING_DISABLED
    if action is ExecutorAction.COOLING_DOWN and desired == current:
        return Rule.COOLDOWN
    if hpa.condition in _LIMIT_RULES:
        return _LIMIT_RULES[hpa.condition]
    if hpa.stabilization is not None:
        return Rule.STABILIZATION
    valid = [result for result in results if result.replicas is not None]
    if any(result.fallback and result.replicas == hpa.metric_desired for result in valid):
        return Rule.FALLBACK
    if (
        desired == current
        and valid
        and all(r.proposal is not None and r.proposal.within_tolerance for r in valid)
    ):
        return Rule.TOLERANCE
    return Rule.METRICS


def _report(result: _Result) -> TriggerReport:
    trigger = result.trigger
    target = f"{trigger.metric_type} {format_milli_quantity(trigger.target_milli)}"
    reading = result.reading
    proposal = result.proposal
    return TriggerReport(
        name=trigger.name,
        kind=trigger.type,
        target=target,
        value=reading.value if isinstance(reading, MetricReading) else None,
        quantity=format_milli_quantity(reading.milli) if isinstance(reading, MetricReading) else None,
        detail=reading.detail if isinstance(reading, MetricReading) else reading.reason,
        active=isinstance(reading, MetricReading) and reading.active,
        proposal=result.replicas,
        within_tolerance=proposal is not None and proposal.within_tolerance,
        consecutive_failures=result.failures,
        fallback=result.fallback,
    )
