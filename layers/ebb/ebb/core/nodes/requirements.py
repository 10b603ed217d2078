"""Node selector requirements (NodePool requirements, node affinity) and their matching rules.

Matching follows k8s.io/apimachinery ``labels.Requirement.Matches``: ``NotIn`` and
``DoesNotExist`` match a node that lacks the label, ``Gt``/``Lt`` need the label and an integer
value, and the terms of a required node affinity are ORed while the expressions inside one term
are ANDed.
"""

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Operator(StrEnum):
    """The operators of a ``NodeSelectorRequirement``."""

    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"
    GT = "Gt"
    LT = "Lt"


def _as_int(value: str) -> int | None:
    try:
        return int(value, 10)
    except ValueError:
        return None


class Requirement(BaseModel):
    """One ``key operator values`` expression."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(min_length=1)
    operator: Operator
    values: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _values_fit_operator(self) -> Self:
        count = len(self.values)
        if self.operator in (Operator.IN, Operator.NOT_IN) and count == 0:
            raise ValueError(
                f"requirement on {self.key!r}: operator {self.operator} needs at least one value"
            )
        if self.operator in (Operator.EXISTS, Operator.DOES_NOT_EXIST) and count:
            raise ValueError(f"requirement on {self.key!r}: operator {self.operator} takes no values")
        if self.operator in (Operator.GT, Operator.LT) and (count != 1 or _as_int(self.values[0]) is None):
            raise ValueError(
                f"requirement on {self.key!r}: operator {self.operator} needs exactly one integer value, "
                f"got {list(self.values)}"
            )
        return self

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a node with these labels satisfies the requirement."""
        value = labels.get(self.key)
        match self.operator:
            case Operator.IN:
                return value is not None and value in self.values
            case Operator.NOT_IN:
                return value is None or value not in self.values
            case Operator.EXISTS:
                return value is not None
            case Operator.DOES_NOT_EXIST:
                return value is None
            case Operator.GT | Operator.LT:
                number = None if value is None else _as_int(value)
                if number is None:
                    return False
                bound = int(self.values[0])
                return number > bound if self.operator is Operator.GT else number < bound

    def __str__(self) -> str:
        if self.operator in (Operator.EXISTS, Operator.DOES_NOT_EXIST):
            return f"{self.key} {self.operator}"
        return f"{self.key} {self.operator} [{', '.join(self.values)}]"


class NodeSelectorTerm(BaseModel):
    """Expressions that must all hold (one term of a required node affinity)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    match_expressions: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """An empty term matches no node, as in Kubernetes."""
        return bool(self.match_expressions) and all(r.matches(labels) for r in self.match_expressions)


def all_match(requirements: Iterable[Requirement], labels: Mapping[str, str]) -> bool:
    """Whether every requirement holds."""
    return all(r.matches(labels) for r in requirements)


def affinity_matches(terms: tuple[NodeSelectorTerm, ...], labels: Mapping[str, str]) -> bool:
    """Required node affinity: no terms means no constraint, otherwise any term must match."""
    return not terms or any(term.matches(labels) for term in terms)


class PreferredSchedulingTerm(BaseModel):
    """One ``preferredDuringSchedulingIgnoredDuringExecution`` entry of a node affinity.

    Planned as Karpenter plans it: the heaviest term still in force is required, and relaxed (the
    next heaviest then required) when the pods cannot all be placed with it (see
    :mod:`ebb.core.nodes.preferences`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    weight: int = Field(ge=1, le=100)
    preference: NodeSelectorTerm


def with_preference(
    terms: tuple[NodeSelectorTerm, ...], preferred: NodeSelectorTerm
) -> tuple[NodeSelectorTerm, ...]:
    """Required node affinity ``terms`` ANDed with one preferred term.

    The terms are ORed, so the preference's expressions join every term: ``(A or B) and P`` is
    ``(A and P) or (B and P)``. A preferred term without expressions matches every node
    (core/v1: "an empty preferred scheduling term matches all objects"), so it adds nothing.
    """
    if not preferred.match_expressions:
        return terms
    if not terms:
        return (preferred,)
    return tuple(
        NodeSelectorTerm(match_expressions=(*term.match_expressions, *preferred.match_expressions))
        for term in terms
    )
