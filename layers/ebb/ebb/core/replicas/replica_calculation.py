"""One metric's replica proposal and the combination of several, as the HPA computes them.

Transcribes `pkg/controller/podautoscaler/replica_calculator.go` and `computeReplicasForMetrics`
in `horizontal.go` for the two target types KEDA's external metrics use:

* `Value` (`GetExternalMetricReplicas`): ratio = metric / target; inside the tolerance the
  current (spec) count stays, otherwise `ceil(ratio * ready pods)`; at zero replicas `ceil(ratio)`
  with no tolerance. Listing no pod at all is an error.
* `AverageValue` (`GetExternalPerPodMetricReplicas`): ratio = metric / (target * status replicas);
  inside the tolerance the status count stays, otherwise `ceil(metric / target)`.

The tolerance test is `1 - down <= ratio <= 1 + up` (inclusive, `Tolerances.isWithin`), and all
arithmetic is IEEE double in the HPA's order, so results never differ by one near whole numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ebb.core.replicas.observations import ReplicaCounts
from ebb.core.replicas.policy import INT32_MAX, MetricTargetType

DEFAULT_TOLERANCE = 0.1
"""kube-controller-manager's `--horizontal-pod-autoscaler-tolerance`."""


@dataclass(frozen=True, slots=True)
class Tolerances:
    """How far the usage ratio may stray from 1 before the HPA acts, per direction."""

    scale_down: float = DEFAULT_TOLERANCE
    scale_up: float = DEFAULT_TOLERANCE

    def within(self, ratio: float) -> bool:
        """Whether `ratio` is close enough to 1 to keep the current count (NaN is not)."""
        return (1.0 - self.scale_down) <= ratio <= (1.0 + self.scale_up)


@dataclass(frozen=True, slots=True)
class Proposal:
    """The replicas one metric asks for."""

    replicas: int
    ratio: float
    within_tolerance: bool
    reported_milli: int
    """What the HPA reports as the metric's current value (per pod for `AverageValue`)."""


@dataclass(frozen=True, slots=True)
class ProposalError:
    """The HPA cannot compute a proposal from this metric."""

    reason: str


def _ceil_int32(value: float) -> int:
    # Go's int32(math.Ceil(x)); values past int32 saturate as the HPA's Value path does.
    if value > INT32_MAX:
        return INT32_MAX
    return math.ceil(value)


def _divide(numerator: float, denominator: float) -> float:
    # Go float division: x/0 is +-Inf, 0/0 is NaN.
    if denominator:
        return numerator / denominator
    if numerator:
        return math.copysign(math.inf, numerator)
    return math.nan


def propose(
    target_type: MetricTargetType,
    metric_milli: int,
    target_milli: int,
    counts: ReplicaCounts,
    tolerances: Tolerances,
) -> Proposal | ProposalError:
    """The replicas the HPA derives from one external metric, given the target's replica counts."""
    if target_type is MetricTargetType.VALUE:
        return _propose_value(metric_milli, target_milli, counts, tolerances)
    return _propose_average_value(metric_milli, target_milli, counts.status, tolerances)


def _propose_value(
    metric_milli: int, target_milli: int, counts: ReplicaCounts, tolerances: Tolerances
) -> Proposal | ProposalError:
    spec, status, ready = counts.spec, counts.status, counts.ready
    ratio = float(metric_milli) / float(target_milli)
    if spec == 0:
        return Proposal(_ceil_int32(ratio), ratio, False, metric_milli)
    if tolerances.within(ratio):
        return Proposal(spec, ratio, True, metric_milli)
    if status == 0:
        return ProposalError("no pods returned by selector while calculating replica count")
    return Proposal(_ceil_int32(ratio * float(ready)), ratio, False, metric_milli)


def _propose_average_value(
    metric_milli: int, target_milli: int, status: int, tolerances: Tolerances
) -> Proposal:
    ratio = _divide(float(metric_milli), float(target_milli) * float(status))
    within = tolerances.within(ratio)
    replicas = status if within else _ceil_int32(float(metric_milli) / float(target_milli))
    reported = math.ceil(metric_milli / status) if status else 0
    return Proposal(replicas, ratio, within, reported)


@dataclass(frozen=True, slots=True)
class Combined:
    """The metrics' joint proposal, or why the HPA will not scale on them."""

    replicas: int | None
    """`None`: no change (every metric failed, or a failure would let the others scale down)."""
    failed: int


def combine(proposals: Sequence[int | None], spec_replicas: int) -> Combined:
    """The largest proposal; a failed metric (`None`) blocks a scale-down, all failed block everything."""
    replicas = 0
    failed = 0
    for proposal in proposals:
        if proposal is None:
            failed += 1
        elif replicas == 0 or proposal > replicas:
            replicas = proposal
    if failed >= len(proposals) or (failed and replicas < spec_replicas):
        return Combined(None, failed)
    return Combined(replicas, failed)
