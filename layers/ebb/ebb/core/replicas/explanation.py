"""Why a scaler got its replica count: a structured value with a one-line `str()` for logs.

The structure goes to the audit trail as is; `str()` reads like
`orders: 3 -> 6 (scale-up-limit) | metrics want 9; Percent 100 per 15s allows 6 |
queue=42 msgs [active] -> 9`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class Rule(StrEnum):
    """The rule that decided (or bound) the replica count."""

    PAUSED = "paused"
    PAUSED_REPLICAS = "paused-replicas"
    ACTIVATION = "activation"
    INACTIVE = "inactive"
    COOLDOWN = "cooldown"
    SCALE_TO_ZERO = "scale-to-zero"
    SCALE_TO_IDLE = "scale-to-idle"
    MIN_REPLICA_COUNT = "min-replica-count"
    MAX_REPLICA_COUNT = "max-replica-count"
    SCALING_DISABLED = "scaling-disabled"
    TOLERANCE = "tolerance"
    METRICS = "metrics"
    STABILIZATION = "stabilization"
    SCALE_UP_LIMIT = "scale-up-limit"
    SCALE_DOWN_LIMIT = "scale-down-limit"
    FAILED_METRICS = "failed-metrics"
    FALLBACK = "fallback"


@dataclass(frozen=True, slots=True)
class TriggerReport:
    """One trigger's part in the decision."""

    name: str
    kind: str
    target: str
    """The HPA target as a Kubernetes quantity, e.g. `AverageValue 5` or `Value 1500m`."""
    value: float | None
    """The metric KEDA read; `None` when it failed."""
    quantity: str | None
    """The metric as KEDA reports it to the HPA, a Kubernetes quantity (`-1500m`); `None` when it failed."""
    detail: str
    """How the value was read, or why it could not be."""
    active: bool
    proposal: int | None
    """The replicas this trigger asked the HPA for; `None` when it gave none."""
    within_tolerance: bool
    consecutive_failures: int
    fallback: bool
    """The trigger failed past the threshold and its fallback stood in."""

    def __str__(self) -> str:
        if self.value is None and not self.fallback:
            reading = f"failed ({self.detail}; {self.consecutive_failures} in a row)"
        elif self.value is None:
            reading = f"failed {self.consecutive_failures} times, fallback"
        else:
            reading = f"{_readable(self.quantity)} ({self.target}{', active' if self.active else ''})"
        if self.proposal is None:
            return f"{self.name}={reading}"
        tolerance = " within tolerance" if self.within_tolerance else ""
        return f"{self.name}={reading} -> {self.proposal}{tolerance}"


def _readable(quantity: str | None) -> str:
    """A milli-quantity with its plain value first (`681.25 [681250m]`): a reader takes `681250m`
    for 681,250 million; the quantity itself is what the HPA reads, so it stays. Others as they are."""
    if quantity is None or not quantity.endswith("m"):
        return str(quantity)
    plain = Decimal(quantity[:-1]).scaleb(-3).normalize()
    return f"{plain:f} [{quantity}]"


@dataclass(frozen=True, slots=True)
class ReplicaExplanation:
    """The decision for one scaler, readable as a whole by `str()`."""

    scaler: str
    current: int
    desired: int
    rule: Rule
    steps: tuple[str, ...]
    """How the count was reached, in order (KEDA executor, HPA proposal, stabilization, limits)."""
    triggers: tuple[TriggerReport, ...]
    keda_exact: bool

    def __str__(self) -> str:
        mode = " [keda-exact]" if self.keda_exact else ""
        head = f"{self.scaler}: {self.current} -> {self.desired} ({self.rule}){mode}"
        parts = [head]
        if self.steps:
            parts.append("; ".join(self.steps))
        if self.triggers:
            parts.append(", ".join(str(trigger) for trigger in self.triggers))
        return " | ".join(parts)
