"""Taints and tolerations, matched as ``core/v1`` ``Toleration.ToleratesTaint`` does.

Only ``NoSchedule`` and ``NoExecute`` taints keep a pod off a node; ``PreferNoSchedule`` is a
preference the scheduler may ignore, so the planner does not count it as a constraint.
"""

from collections.abc import Iterable
from enum import StrEnum
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class TaintEffect(StrEnum):
    """What a taint does to pods that do not tolerate it."""

    NO_SCHEDULE = "NoSchedule"
    PREFER_NO_SCHEDULE = "PreferNoSchedule"
    NO_EXECUTE = "NoExecute"


class Taint(BaseModel):
    """A node taint."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(min_length=1)
    value: str = ""
    effect: TaintEffect

    def __str__(self) -> str:
        return f"{self.key}={self.value}:{self.effect}" if self.value else f"{self.key}:{self.effect}"


class Toleration(BaseModel):
    """A pod toleration."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = ""
    operator: Literal["Equal", "Exists"] = "Equal"
    value: str = ""
    effect: TaintEffect | None = None
    """``None`` tolerates every effect."""

    @model_validator(mode="after")
    def _empty_key_needs_exists(self) -> Self:
        if not self.key and self.operator != "Exists":
            raise ValueError(
                "a toleration with an empty key must use operator Exists (it matches every taint)"
            )
        if self.operator == "Exists" and self.value:
            raise ValueError(f"toleration {self.key!r}: operator Exists takes no value")
        return self

    def tolerates(self, taint: Taint) -> bool:
        """Whether this toleration matches the taint."""
        if self.effect is not None and self.effect != taint.effect:
            return False
        if self.key and self.key != taint.key:
            return False
        return self.operator == "Exists" or self.value == taint.value


def blocking(taints: Iterable[Taint]) -> tuple[Taint, ...]:
    """The taints that keep untolerating pods off a node."""
    return tuple(t for t in taints if t.effect is not TaintEffect.PREFER_NO_SCHEDULE)


def untolerated(tolerations: Iterable[Toleration], taints: Iterable[Taint]) -> tuple[Taint, ...]:
    """The blocking taints that none of the tolerations matches."""
    tolerations = tuple(tolerations)
    return tuple(t for t in blocking(taints) if not any(tol.tolerates(t) for tol in tolerations))
