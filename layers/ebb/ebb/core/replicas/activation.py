"""KEDA's scale executor for ScaledObjects (`pkg/scaling/executor/scale_scaledobjects.go`).

KEDA itself only moves the target between zero (or `idleReplicaCount`) and the HPA's range; the
HPA does the rest. With an active trigger (or `force-activation`):

* at zero replicas, or below `minReplicaCount` in idle mode, scale to `max(minReplicaCount, 1)`
  unless scale-out is paused, and record the activity;
* otherwise only record the activity, except while another trigger fails (KEDA then leaves
  `lastActiveTime` as it was).

With no active trigger:

* if a trigger fails and a `fallback` with replicas is configured, or no fallback at all, leave
  the target alone (the HPA or the fallback decides);
* above `idleReplicaCount` in idle mode, or above zero with `minReplicaCount` 0, scale to the idle
  count (or zero) once `lastActiveTime + cooldownPeriod` has passed, or, if no trigger was ever
  active, `creation + initialCooldownPeriod`; unless scale-in is paused;
* below `minReplicaCount` outside idle mode, raise to `minReplicaCount`.

"Passed" is strict, as Go's `Time.Before`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from ebb.core.replicas.policy import ScalerPolicy


class ExecutorAction(StrEnum):
    """What KEDA's executor does this time."""

    ACTIVATE = "activate"
    DEACTIVATE = "deactivate"
    COOLING_DOWN = "cooling-down"
    RAISE_TO_MIN = "raise-to-min"
    HOLD_ON_ERRORS = "hold-on-errors"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class ExecutorOutcome:
    """KEDA's executor decision and the activity record it leaves."""

    action: ExecutorAction
    replicas: int | None
    """The replicas KEDA writes, when it writes any."""
    last_active_at: datetime | None
    cooldown_ends_at: datetime | None
    """When the cooldown passes, if the target is waiting for it."""


def run_executor(
    policy: ScalerPolicy,
    *,
    current: int,
    active: bool,
    any_error: bool,
    last_active_at: datetime | None,
    created_at: datetime | None,
    now: datetime,
) -> ExecutorOutcome:
    """KEDA's `RequestScale` for one polling cycle.

    `created_at` is `None` for a scaler first seen in this decision: KEDA then stamps the
    creation time and compares it with a later clock read, so only a zero initial cooldown has
    passed.

    Unless `policy.keda_exact`, two deliberate differences apply (see `ebb.core.replicas.decision`):
    activity is recorded while another trigger fails, and a target below `minReplicaCount` is
    raised to it whatever the triggers say (KEDA does not while a trigger fails, nor for an active
    trigger while scale-out is paused).
    """
    idle = policy.idle_replica_count
    minimum = policy.min_replica_count
    if active or policy.force_activation:
        if (idle is not None and current < minimum) or current == 0:
            if policy.paused_scale_out:
                if current < minimum and idle is None and not policy.keda_exact:
                    return ExecutorOutcome(ExecutorAction.RAISE_TO_MIN, minimum, last_active_at, None)
                return ExecutorOutcome(ExecutorAction.NONE, None, last_active_at, None)
            return ExecutorOutcome(ExecutorAction.ACTIVATE, max(minimum, 1), now, None)
        if any_error and policy.keda_exact:
            return ExecutorOutcome(ExecutorAction.NONE, None, last_active_at, None)
        return ExecutorOutcome(ExecutorAction.NONE, None, now, None)

    fallback = policy.fallback
    if any_error and (fallback is None or fallback.replicas != 0):
        if current < minimum and idle is None and not policy.keda_exact:
            return ExecutorOutcome(ExecutorAction.RAISE_TO_MIN, minimum, last_active_at, None)
        return ExecutorOutcome(ExecutorAction.HOLD_ON_ERRORS, None, last_active_at, None)
    if (idle is not None and current > idle) or (current > 0 and minimum == 0):
        if policy.paused_scale_in:
            return ExecutorOutcome(ExecutorAction.NONE, None, last_active_at, None)
        if last_active_at is not None:
            ends = last_active_at + timedelta(seconds=policy.cooldown_period)
            passed = ends < now
        elif created_at is not None:
            ends = created_at + timedelta(seconds=policy.initial_cooldown_period)
            passed = ends < now
        else:
            ends = now + timedelta(seconds=policy.initial_cooldown_period)
            passed = policy.initial_cooldown_period == 0
        if passed:
            return ExecutorOutcome(
                ExecutorAction.DEACTIVATE, minimum if idle is None else idle, last_active_at, None
            )
        return ExecutorOutcome(ExecutorAction.COOLING_DOWN, None, last_active_at, ends)
    if current < minimum and idle is None:
        return ExecutorOutcome(ExecutorAction.RAISE_TO_MIN, minimum, last_active_at, None)
    return ExecutorOutcome(ExecutorAction.NONE, None, last_active_at, None)
