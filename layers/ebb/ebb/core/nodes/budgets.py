"""NodePool disruption budgets: how many nodes may be voluntarily disrupted at once.

Semantics of Karpenter's ``NodePool.spec.disruption.budgets``:

* ``nodes`` is a count (``"5"``) or a percentage (``"20%"``) of the pool's nodes, rounded up;
* a budget with ``schedule`` and ``duration`` is active from each schedule hit (UTC) for that
  long; without them it is always active; an inactive budget does not limit anything;
* a budget with ``reasons`` applies only to those disruption reasons;
* the allowed number is the smallest active applicable budget minus the nodes already being
  disrupted (deleting or not ready), never below zero.
"""

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ebb.core.nodes.cron import CronError, CronSchedule

_NODES = re.compile(r"^((100|[0-9]{1,2})%|[0-9]+)$")


class DisruptionReason(StrEnum):
    """Why a node is voluntarily disrupted."""

    UNDERUTILIZED = "Underutilized"
    EMPTY = "Empty"
    DRIFTED = "Drifted"


class Budget(BaseModel):
    """One entry of ``spec.disruption.budgets``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    nodes: str = "10%"
    schedule: str | None = None
    duration: timedelta | None = None
    reasons: tuple[DisruptionReason, ...] | None = None
    """``None``: the budget applies to every reason."""

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not _NODES.match(self.nodes):
            raise ValueError(
                f"budget nodes {self.nodes!r} must be a count ('5') or a percentage up to 100% ('20%')"
            )
        if (self.schedule is None) != (self.duration is None):
            raise ValueError("budget 'schedule' must be set together with 'duration'")
        if self.schedule is not None:
            try:
                CronSchedule.parse(self.schedule)
            except CronError as error:
                raise ValueError(f"budget schedule {self.schedule!r}: {error}") from error
        if self.duration is not None and (
            self.duration < timedelta(0) or self.duration % timedelta(minutes=1)
        ):
            raise ValueError(
                f"budget duration {self.duration} must be whole minutes or hours (cron has no seconds)"
            )
        if self.reasons is not None and not self.reasons:
            raise ValueError("budget reasons must not be empty; omit it to apply the budget to every reason")
        return self

    def is_active(self, now: datetime) -> bool:
        """Whether ``now`` falls within ``duration`` of the schedule's latest hit (end excluded)."""
        if self.schedule is None or self.duration is None:
            return True
        last_hit = CronSchedule.parse(self.schedule).latest_at_or_before(now)
        return last_hit is not None and now < last_hit + self.duration

    def applies_to(self, reason: DisruptionReason) -> bool:
        """Whether the budget limits disruptions for ``reason``."""
        return self.reasons is None or reason in self.reasons

    def limit(self, total_nodes: int) -> int:
        """The budget's value for a pool of ``total_nodes`` nodes (percentages round up)."""
        if self.nodes.endswith("%"):
            percent = int(self.nodes[:-1])
            return -(-total_nodes * percent // 100)
        return int(self.nodes)

    def __str__(self) -> str:
        text = f"nodes={self.nodes}"
        if self.schedule is not None:
            text += f" schedule={self.schedule!r} duration={self.duration}"
        if self.reasons is not None:
            text += f" reasons={','.join(self.reasons)}"
        return text


DEFAULT_BUDGETS: tuple[Budget, ...] = (Budget(nodes="10%"),)
"""Karpenter's default when a NodePool sets no budgets."""


class AllowedDisruptions(BaseModel):
    """How many more nodes may be disrupted for a reason, and which budget decided it."""

    model_config = ConfigDict(frozen=True)

    allowed: int | None = Field(description="None: no active budget limits this reason")
    budget: Budget | None = None

    def __str__(self) -> str:
        if self.allowed is None:
            return "no active disruption budget applies"
        return f"{self.allowed} more node(s) allowed by budget {self.budget}"


def allowed_disruptions(
    budgets: Iterable[Budget], now: datetime, total_nodes: int, disrupting: int, reason: DisruptionReason
) -> AllowedDisruptions:
    """The number of nodes that may still be disrupted for ``reason`` right now.

    ``total_nodes`` counts the pool's initialized nodes; ``disrupting`` those already being
    deleted or not ready.
    """
    tightest: Budget | None = None
    tightest_limit = 0
    for budget in budgets:
        if not budget.applies_to(reason) or not budget.is_active(now):
            continue
        limit = budget.limit(total_nodes)
        if tightest is None or limit < tightest_limit:
            tightest, tightest_limit = budget, limit
    if tightest is None:
        return AllowedDisruptions(allowed=None)
    return AllowedDisruptions(allowed=max(tightest_limit - disrupting, 0), budget=tightest)
