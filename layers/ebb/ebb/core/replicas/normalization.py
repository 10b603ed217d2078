"""The HPA's normalization of a raw desired count: stabilization, rate limits and bounds.

Transcribes `horizontal.go` (`normalizeDesiredReplicas*`, `stabilizeRecommendation*`,
`convertDesiredReplicasWith*`, `calculateScale*Limit*`):

* with `behavior`: stabilize to `clamp(current, min of the recommendations newer than the
  scale-up window, max of those newer than the scale-down window)` (both including the new raw
  value), then limit by the direction's policies counted from the replicas at the start of each
  policy's period (current, minus scale-ups, plus scale-downs inside it), then by min/max;
* without `behavior` (the legacy path KEDA gets when the ScaledObject sets none): the maximum of
  the recommendations inside the downscale stabilization window, then
  `[minReplicas, min(maxReplicas, max(2 * current, 4))]`.

A recommendation or event counts when strictly newer than the cutoff (Go's `After`); the legacy
window counts any entry not strictly older (`!Before`). Defaults are the API server's: scale-up
window 0 s with Pods 4 and Percent 100 per 15 s, selectPolicy Max; scale-down Percent 100 per 15 s,
selectPolicy Max and the controller's downscale stabilization window (300 s).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from ebb.core.replicas.policy import (
    HpaBehavior,
    HpaScalingPolicy,
    HpaScalingRules,
    ScalingPolicyType,
    SelectPolicy,
)
from ebb.core.replicas.replica_calculation import DEFAULT_TOLERANCE, Tolerances
from ebb.core.replicas.state import Recommendation, ScaleEvent

_DEFAULT_SCALE_UP_POLICIES = (
    HpaScalingPolicy(type=ScalingPolicyType.PODS, value=4, period_seconds=15),
    HpaScalingPolicy(type=ScalingPolicyType.PERCENT, value=100, period_seconds=15),
)
_DEFAULT_SCALE_DOWN_POLICIES = (
    HpaScalingPolicy(type=ScalingPolicyType.PERCENT, value=100, period_seconds=15),
)
_LEGACY_SCALE_UP_FACTOR = 2.0
_LEGACY_SCALE_UP_MINIMUM = 4.0


class HpaCondition(StrEnum):
    """The HPA's condition reasons for what shaped (or stopped) a decision."""

    SCALING_DISABLED = "ScalingDisabled"
    INVALID_METRICS = "FailedGetExternalMetric"
    SCALE_UP_STABILIZED = "ScaleUpStabilized"
    SCALE_DOWN_STABILIZED = "ScaleDownStabilized"
    SCALE_UP_LIMIT = "ScaleUpLimit"
    SCALE_DOWN_LIMIT = "ScaleDownLimit"
    TOO_MANY_REPLICAS = "TooManyReplicas"
    TOO_FEW_REPLICAS = "TooFewReplicas"
    DESIRED_WITHIN_RANGE = "DesiredWithinRange"


@dataclass(frozen=True, slots=True)
class ScalingRules:
    """One direction's rules with every default filled in."""

    stabilization_window_seconds: int
    select_policy: SelectPolicy
    policies: tuple[HpaScalingPolicy, ...]
    tolerance: float

    @property
    def longest_period_seconds(self) -> int:
        """The period of the slowest policy: older scale events cannot matter."""
        return max((policy.period_seconds for policy in self.policies), default=0)


def _fill(rules: HpaScalingRules | None, window: int, policies: tuple[HpaScalingPolicy, ...]) -> ScalingRules:
    rules = rules or HpaScalingRules()
    return ScalingRules(
        stabilization_window_seconds=window
        if rules.stabilization_window_seconds is None
        else rules.stabilization_window_seconds,
        select_policy=rules.select_policy or SelectPolicy.MAX,
        policies=rules.policies or policies,
        tolerance=DEFAULT_TOLERANCE if rules.tolerance is None else rules.tolerance,
    )


def effective_rules(
    behavior: HpaBehavior, downscale_stabilization_seconds: int
) -> tuple[ScalingRules, ScalingRules]:
    """Scale-up and scale-down rules with the API server's and the controller's defaults."""
    return (
        _fill(behavior.scale_up, 0, _DEFAULT_SCALE_UP_POLICIES),
        _fill(behavior.scale_down, downscale_stabilization_seconds, _DEFAULT_SCALE_DOWN_POLICIES),
    )


def tolerances_for(behavior: HpaBehavior | None) -> Tolerances:
    """The tolerances the HPA applies: per direction when `behavior` sets them, else 0.1."""
    if behavior is None:
        return Tolerances()
    up = (
        DEFAULT_TOLERANCE
        if behavior.scale_up is None or behavior.scale_up.tolerance is None
        else (behavior.scale_up.tolerance)
    )
    down = (
        DEFAULT_TOLERANCE
        if behavior.scale_down is None or behavior.scale_down.tolerance is None
        else (behavior.scale_down.tolerance)
    )
    return Tolerances(scale_down=down, scale_up=up)


@dataclass(frozen=True, slots=True)
class Stabilized:
    """A stabilized recommendation and the history with the new raw value recorded."""

    replicas: int
    condition: HpaCondition | None
    """Which stabilization changed the value, if it did."""
    history: tuple[Recommendation, ...]


def stabilize_with_behavior(
    history: tuple[Recommendation, ...],
    desired: int,
    current: int,
    *,
    up_window_seconds: int,
    down_window_seconds: int,
    now: datetime,
) -> Stabilized:
    """`stabilizeRecommendationWithBehaviors`: clamp current between the windows' extremes."""
    up_cutoff = now - timedelta(seconds=up_window_seconds)
    down_cutoff = now - timedelta(seconds=down_window_seconds)
    up = desired
    down = desired
    kept: list[Recommendation] = []
    for entry in history:
        if entry.at > up_cutoff and entry.replicas < up:
            up = entry.replicas
        if entry.at > down_cutoff and entry.replicas > down:
            down = entry.replicas
        # Older than both windows: the HPA overwrites such a slot; it is never read again.
        if not (entry.at < up_cutoff and entry.at < down_cutoff):
            kept.append(entry)
    recommendation = min(max(current, up), down)
    kept.append(Recommendation.model_construct(at=now, replicas=desired))
    condition = None
    if recommendation != desired:
        condition = (
            HpaCondition.SCALE_UP_STABILIZED if desired >= current else HpaCondition.SCALE_DOWN_STABILIZED
        )
    return Stabilized(recommendation, condition, tuple(kept))


def stabilize_legacy(
    history: tuple[Recommendation, ...], desired: int, window_seconds: int, now: datetime
) -> Stabilized:
    """`stabilizeRecommendation`: the highest recommendation of the downscale window."""
    cutoff = now - timedelta(seconds=window_seconds)
    highest = desired
    kept: list[Recommendation] = []
    for entry in history:
        if entry.at < cutoff:
            continue
        kept.append(entry)
        highest = max(highest, entry.replicas)
    kept.append(Recommendation.model_construct(at=now, replicas=desired))
    condition = HpaCondition.SCALE_DOWN_STABILIZED if highest != desired else None
    return Stabilized(highest, condition, tuple(kept))


def replicas_changed_within(events: Sequence[ScaleEvent], period_seconds: int, now: datetime) -> int:
    """`getReplicasChangePerPeriod`: the replicas the events strictly inside the period moved."""
    cutoff = now - timedelta(seconds=period_seconds)
    return sum(event.change for event in events if event.at > cutoff)


def _period_start(
    current: int,
    policy: HpaScalingPolicy,
    up_events: Sequence[ScaleEvent],
    down_events: Sequence[ScaleEvent],
    now: datetime,
) -> int:
    added = replicas_changed_within(up_events, policy.period_seconds, now)
    deleted = replicas_changed_within(down_events, policy.period_seconds, now)
    return current - added + deleted


def scale_up_limit(
    current: int,
    up_events: Sequence[ScaleEvent],
    down_events: Sequence[ScaleEvent],
    rules: ScalingRules,
    now: datetime,
) -> int:
    """`calculateScaleUpLimitWithScalingRules`: the most replicas the policies allow now."""
    if rules.select_policy is SelectPolicy.DISABLED:
        return current
    proposals = []
    for policy in rules.policies:
        start = _period_start(current, policy, up_events, down_events, now)
        if policy.type is ScalingPolicyType.PODS:
            proposals.append(start + policy.value)
        else:
            # Rounded up, or a small percentage could never add a pod.
            proposals.append(math.ceil(float(start) * (1 + float(policy.value) / 100)))
    return min(proposals) if rules.select_policy is SelectPolicy.MIN else max(proposals)


def scale_down_limit(
    current: int,
    up_events: Sequence[ScaleEvent],
    down_events: Sequence[ScaleEvent],
    rules: ScalingRules,
    now: datetime,
) -> int:
    """`calculateScaleDownLimitWithBehaviors`: the fewest replicas the policies allow now."""
    if rules.select_policy is SelectPolicy.DISABLED:
        return current
    proposals = []
    for policy in rules.policies:
        start = _period_start(current, policy, up_events, down_events, now)
        if policy.type is ScalingPolicyType.PODS:
            proposals.append(start - policy.value)
        else:
            proposals.append(int(float(start) * (1 - float(policy.value) / 100)))
    return max(proposals) if rules.select_policy is SelectPolicy.MIN else min(proposals)


@dataclass(frozen=True, slots=True)
class Limited:
    """A count after the rate limits and bounds, and which of them decided it."""

    replicas: int
    condition: HpaCondition
    limit: int | None
    """The rate limit that applied in the direction of the change, if one was computed."""


def limit_with_behavior(
    desired: int,
    current: int,
    *,
    min_replicas: int,
    max_replicas: int,
    up_rules: ScalingRules,
    down_rules: ScalingRules,
    up_events: Sequence[ScaleEvent],
    down_events: Sequence[ScaleEvent],
    now: datetime,
) -> Limited:
    """`convertDesiredReplicasWithBehaviorRate`: the policies' limit, then min/max."""
    if desired > current:
        limit = max(scale_up_limit(current, up_events, down_events, up_rules, now), current)
        if max_replicas > limit:
            ceiling, condition = limit, HpaCondition.SCALE_UP_LIMIT
        else:
            ceiling, condition = max_replicas, HpaCondition.TOO_MANY_REPLICAS
        if desired > ceiling:
            return Limited(ceiling, condition, limit)
        return Limited(desired, HpaCondition.DESIRED_WITHIN_RANGE, limit)
    if desired < current:
        limit = min(scale_down_limit(current, up_events, down_events, down_rules, now), current)
        if min_replicas < limit:
            floor, condition = limit, HpaCondition.SCALE_DOWN_LIMIT
        else:
            floor, condition = min_replicas, HpaCondition.TOO_FEW_REPLICAS
        if desired < floor:
            return Limited(floor, condition, limit)
        return Limited(desired, HpaCondition.DESIRED_WITHIN_RANGE, limit)
    return Limited(desired, HpaCondition.DESIRED_WITHIN_RANGE, None)


def legacy_scale_up_limit(current: int) -> int:
    """`calculateScaleUpLimit`: at most double, and at least 4."""
    return int(max(_LEGACY_SCALE_UP_FACTOR * float(current), _LEGACY_SCALE_UP_MINIMUM))


def limit_legacy(desired: int, current: int, min_replicas: int, max_replicas: int) -> Limited:
    """`convertDesiredReplicasWithRules`: `[min, min(max, scale-up limit)]`."""
    limit = legacy_scale_up_limit(current)
    if max_replicas > limit:
        ceiling, condition = limit, HpaCondition.SCALE_UP_LIMIT
    else:
        ceiling, condition = max_replicas, HpaCondition.TOO_MANY_REPLICAS
    if desired < min_replicas:
        return Limited(min_replicas, HpaCondition.TOO_FEW_REPLICAS, None)
    if desired > ceiling:
        return Limited(ceiling, condition, limit)
    return Limited(desired, HpaCondition.DESIRED_WITHIN_RANGE, None)
