"""KEDA's `fallback` (`pkg/fallback/fallback.go`): replicas for a trigger that keeps failing.

Each trigger's consecutive failures are counted; a success resets the count. Once the count is
strictly above `failureThreshold`, KEDA stops reporting the error to the HPA and reports instead
a metric worth `target * replicas` (divided by the ready replicas for a `Value` target), where
`replicas` depends on `behavior`: the fallback count (`static`), the current spec replicas
(`currentReplicas`), or the higher/lower of the two (`currentReplicasIfHigher`/`IfLower`).
The HPA then computes with that metric like any other, tolerance included.
"""

from __future__ import annotations

from dataclasses import dataclass

from ebb.core.replicas.policy import Fallback, FallbackBehavior, MetricTargetType


def is_falling_back(fallback: Fallback | None, consecutive_failures: int) -> bool:
    """Whether a trigger with this many consecutive failures is replaced by its fallback."""
    return fallback is not None and consecutive_failures > fallback.failure_threshold


def fallback_replicas(fallback: Fallback, current_replicas: int) -> int:
    """The replica count `behavior` selects from the fallback count and the current spec count."""
    if fallback.behavior is FallbackBehavior.CURRENT_REPLICAS:
        return current_replicas
    if fallback.behavior is FallbackBehavior.CURRENT_REPLICAS_IF_HIGHER:
        return max(current_replicas, fallback.replicas)
    if fallback.behavior is FallbackBehavior.CURRENT_REPLICAS_IF_LOWER:
        return min(current_replicas, fallback.replicas)
    return fallback.replicas


@dataclass(frozen=True, slots=True)
class FallbackMetric:
    """The metric KEDA reports in place of the failing one, in milli-units."""

    milli: int


@dataclass(frozen=True, slots=True)
class FallbackUnavailable:
    """KEDA cannot build the fallback metric (a `Value` target with no ready replica)."""

    reason: str


def fallback_metric(
    replicas: int, target_type: MetricTargetType, target_value: float, ready_replicas: int
) -> FallbackMetric | FallbackUnavailable:
    """KEDA's synthetic metric `target * replicas` (per ready replica for `Value` targets).

    `target_value` is the target as the HPA spec's quantity reads back as a float.
    """
    amount = float(replicas)
    if target_type is MetricTargetType.VALUE:
        if ready_replicas <= 0:
            return FallbackUnavailable("status.readyReplicas is 0 in scaleTargetRef")
        amount /= float(ready_replicas)
    # Go's int64(float) truncates toward zero, in this order of operations.
    return FallbackMetric(int(target_value * 1000 * amount))
