"""One HPA reconcile, as `reconcileAutoscaler` in `horizontal.go` runs it, on explicit state.

Order of the rules:

1. An absent recommendation history is seeded with the current replicas (`recordInitialRecommendation`),
   which holds a first scale-down for the downscale window.
2. At zero replicas scaling is disabled (the workload was scaled to zero by someone else).
3. Above `maxReplicas` or below `minReplicas` the count is corrected without reading metrics.
4. Otherwise the largest metric proposal (see `combine`) is normalized with or without
   `behavior`; a failed metric blocks a scale-down and every metric failing blocks all scaling,
   in which case no recommendation is recorded.
5. With `behavior`, every change is stored as a scale event for the rate-limit policies, in the
   slot of an outdated event of its direction when there is one (`storeScaleEvent`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ebb.core.replicas.normalization import (
    HpaCondition,
    effective_rules,
    limit_legacy,
    limit_with_behavior,
    stabilize_legacy,
    stabilize_with_behavior,
)
from ebb.core.replicas.policy import HpaBehavior
from ebb.core.replicas.replica_calculation import combine
from ebb.core.replicas.state import Recommendation, ScaleEvent, live_recommendations

_RATE_LIMITS = (HpaCondition.SCALE_UP_LIMIT, HpaCondition.SCALE_DOWN_LIMIT)


@dataclass(frozen=True, slots=True)
class HpaSpec:
    """The parts of an HPA object the reconcile reads."""

    min_replicas: int
    max_replicas: int
    behavior: HpaBehavior | None
    downscale_stabilization_seconds: int = 300


@dataclass(frozen=True, slots=True)
class HpaMemory:
    """What the HPA controller keeps in memory per HPA (keyed by namespace/name upstream)."""

    recommendations: tuple[Recommendation, ...] | None = None
    scale_up_events: tuple[ScaleEvent, ...] = ()
    scale_down_events: tuple[ScaleEvent, ...] = ()


@dataclass(frozen=True, slots=True)
class HpaOutcome:
    """The reconcile's result: the replicas to set and how the HPA got there."""

    desired: int
    metric_desired: int | None
    """The largest metric proposal, when metrics were used and valid."""
    stabilized: int | None
    stabilization: HpaCondition | None
    condition: HpaCondition
    rate_limit: int | None
    """The policy limit, when it is what bound the result."""
    memory: HpaMemory


def reconcile(
    spec: HpaSpec, proposals: Sequence[int | None], current: int, memory: HpaMemory, now: datetime
) -> HpaOutcome:
    """The replicas the HPA sets from the metric proposals (`None`: that metric failed)."""
    memory = seeded(memory, current, now)
    history = memory.recommendations or ()

    if current == 0:
        return HpaOutcome(
            0, None, None, None, HpaCondition.SCALING_DISABLED, None, forget_expired(spec, memory, now)
        )
    if current > spec.max_replicas or current < spec.min_replicas:
        corrected = min(max(current, spec.min_replicas), spec.max_replicas)
        condition = (
            HpaCondition.TOO_MANY_REPLICAS if current > spec.max_replicas else HpaCondition.TOO_FEW_REPLICAS
        )
        memory = _record_event(spec, memory, current, corrected, now)
        return HpaOutcome(corrected, None, None, None, condition, None, forget_expired(spec, memory, now))

    combined = combine(proposals, current)
    if combined.replicas is None:
        return HpaOutcome(
            current, None, None, None, HpaCondition.INVALID_METRICS, None, forget_expired(spec, memory, now)
        )
    desired = max(combined.replicas, 0)

    if spec.behavior is None:
        stabilized = stabilize_legacy(history, desired, spec.downscale_stabilization_seconds, now)
        limited = limit_legacy(stabilized.replicas, current, spec.min_replicas, spec.max_replicas)
    else:
        up_rules, down_rules = effective_rules(spec.behavior, spec.downscale_stabilization_seconds)
        stabilized = stabilize_with_behavior(
            history,
            desired,
            current,
            up_window_seconds=up_rules.stabilization_window_seconds,
            down_window_seconds=down_rules.stabilization_window_seconds,
            now=now,
        )
        limited = limit_with_behavior(
            stabilized.replicas,
            current,
            min_replicas=spec.min_replicas,
            max_replicas=spec.max_replicas,
            up_rules=up_rules,
            down_rules=down_rules,
            up_events=memory.scale_up_events,
            down_events=memory.scale_down_events,
            now=now,
        )
    memory = HpaMemory(stabilized.history, memory.scale_up_events, memory.scale_down_events)
    memory = _record_event(spec, memory, current, limited.replicas, now)
    return HpaOutcome(
        limited.replicas,
        combined.replicas,
        stabilized.replicas,
        stabilized.condition,
        limited.condition,
        limited.limit if limited.condition in _RATE_LIMITS else None,
        forget_expired(spec, memory, now),
    )


def store_scale_event(
    spec: HpaSpec, memory: HpaMemory, current: int, desired: int, now: datetime
) -> HpaMemory:
    """`storeScaleEvent`: record a change for the rate-limit policies, forget expired events.

    Only an HPA with `behavior` keeps events; a legacy HPA never reads them.
    """
    return forget_expired(spec, _record_event(spec, memory, current, desired, now), now)


def _record_event(spec: HpaSpec, memory: HpaMemory, current: int, desired: int, now: datetime) -> HpaMemory:
    if spec.behavior is None or desired == current:
        return memory
    up_rules, down_rules = effective_rules(spec.behavior, spec.downscale_stabilization_seconds)
    if desired > current:
        event = ScaleEvent.model_construct(at=now, change=desired - current)
        up = _in_slot(memory.scale_up_events, event, up_rules.longest_period_seconds, now)
        return HpaMemory(memory.recommendations, up, memory.scale_down_events)
    event = ScaleEvent.model_construct(at=now, change=current - desired)
    down = _in_slot(memory.scale_down_events, event, down_rules.longest_period_seconds, now)
    return HpaMemory(memory.recommendations, memory.scale_up_events, down)


def _in_slot(
    events: tuple[ScaleEvent, ...], event: ScaleEvent, longest_period_seconds: int, now: datetime
) -> tuple[ScaleEvent, ...]:
    """`storeScaleEvent`: the new event takes the slot of the last one outdated for its direction.

    Outdated is strictly older than the direction's longest policy period (`markScaleEventsOutdated`);
    with none outdated the event is appended. Until its slot is taken an outdated event still
    counts wherever a policy period reaches it, including the other direction's longer periods.
    """
    cutoff = now - timedelta(seconds=longest_period_seconds)
    outdated = [index for index, old in enumerate(events) if old.at < cutoff]
    if not outdated:
        return (*events, event)
    slot = outdated[-1]
    return (*events[:slot], event, *events[slot + 1 :])


def seeded(memory: HpaMemory, current: int, now: datetime) -> HpaMemory:
    """`recordInitialRecommendation`: an absent history starts with the current replicas."""
    if memory.recommendations is not None:
        return memory
    seed = (Recommendation.model_construct(at=now, replicas=current),)
    return HpaMemory(seed, memory.scale_up_events, memory.scale_down_events)


def forget_expired(spec: HpaSpec, memory: HpaMemory, now: datetime) -> HpaMemory:
    """Drop the recommendations no stabilization window of the current spec can read any more.

    Scale events stay as the HPA keeps them, in slots (`_in_slot`): an event past its own
    direction's periods may still count in the other direction's longer period until a newer
    event of its direction takes its slot, and the slots already bound their number. A legacy HPA
    (no `behavior`) never reads scale events, so none are kept for it.
    """
    history = memory.recommendations or ()
    if spec.behavior is None:
        horizon = now - timedelta(seconds=spec.downscale_stabilization_seconds)
        return HpaMemory(live_recommendations(history, horizon))
    up_rules, down_rules = effective_rules(spec.behavior, spec.downscale_stabilization_seconds)
    window = max(up_rules.stabilization_window_seconds, down_rules.stabilization_window_seconds)
    return HpaMemory(
        live_recommendations(history, now - timedelta(seconds=window)),
        memory.scale_up_events,
        memory.scale_down_events,
    )
