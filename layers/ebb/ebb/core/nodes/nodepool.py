"""The NodePool, in Karpenter's vocabulary, with its HyperpodNodeClass instance groups."""

from datetime import timedelta
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ebb.core.nodes.budgets import DEFAULT_BUDGETS, Budget
from ebb.core.nodes.catalogue import WELL_KNOWN_LABELS
from ebb.core.nodes.quantities import ZERO, Resources, Vector
from ebb.core.nodes.requirements import Operator, Requirement
from ebb.core.nodes.taints import Taint


class ConsolidationPolicy(StrEnum):
    """Which nodes consolidation may remove."""

    WHEN_EMPTY = "WhenEmpty"
    WHEN_EMPTY_OR_UNDERUTILIZED = "WhenEmptyOrUnderutilized"


class Disruption(BaseModel):
    """``spec.disruption``: Karpenter's defaults apply to what is left out."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    consolidation_policy: ConsolidationPolicy = ConsolidationPolicy.WHEN_EMPTY_OR_UNDERUTILIZED
    consolidate_after: timedelta | None = timedelta(0)
    """How long a node must see no pod scheduled or removed; ``None`` is ``Never``."""
    budgets: tuple[Budget, ...] = DEFAULT_BUDGETS


class PoolLimits(BaseModel):
    """``spec.limits``: caps on the total capacity of the pool's nodes (``None``: no cap)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cpu_millis: int | None = Field(default=None, ge=0)
    memory_bytes: int | None = Field(default=None, ge=0)
    gpus: int | None = Field(default=None, ge=0)
    nodes: int | None = Field(default=None, ge=0)

    def as_vector(self) -> tuple[int | None, int | None, int | None, int | None]:
        """``(cpu, memory, gpus, nodes)``."""
        return (self.cpu_millis, self.memory_bytes, self.gpus, self.nodes)

    def headroom(self, used: Vector) -> tuple[int | None, int | None, int | None, int | None]:
        """What is left under each cap given the capacity ``used`` (may be negative)."""

        def left(cap: int | None, use: int) -> int | None:
            return None if cap is None else cap - use

        return (
            left(self.cpu_millis, used[0]),
            left(self.memory_bytes, used[1]),
            left(self.gpus, used[2]),
            left(self.nodes, used[3]),
        )


class NodePool(BaseModel):
    """A NodePool whose nodes come from HyperPod instance groups."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    instance_groups: tuple[str, ...] = Field(min_length=1)
    """The HyperpodNodeClass's instance groups, by name."""
    requirements: tuple[Requirement, ...] = ()
    labels: dict[str, str] = Field(default_factory=dict)
    """``spec.template.metadata.labels``."""
    taints: tuple[Taint, ...] = ()
    limits: PoolLimits = PoolLimits()
    weight: int = Field(default=0, ge=0, le=100)
    """Higher weights are tried first; no weight counts as 0."""
    disruption: Disruption = Disruption()
    daemonset_overhead: Resources = ZERO
    """What the DaemonSets that run on this pool's nodes request, once per node."""

    @model_validator(mode="after")
    def _unique_groups(self) -> Self:
        if len(set(self.instance_groups)) != len(self.instance_groups):
            raise ValueError(f"node pool {self.name!r}: instance_groups lists a group twice")
        return self

    def template_labels(self) -> dict[str, str]:
        """Labels the pool puts on its nodes: template labels and single-valued ``In`` requirements.

        Karpenter labels a node with a custom requirement key when the requirement pins one value.
        A custom ``In`` with several values leaves the value to the launch, so no pod may rely on it.
        """
        labels = dict(self.labels)
        for requirement in self.requirements:
            if (
                requirement.operator is Operator.IN
                and len(requirement.values) == 1
                and requirement.key not in WELL_KNOWN_LABELS
            ):
                labels.setdefault(requirement.key, requirement.values[0])
        return labels

    def admits(self, labels: dict[str, str]) -> bool:
        """Whether a node with ``labels`` satisfies the pool's requirements."""
        for requirement in self.requirements:
            undecided = (
                requirement.key not in labels
                and requirement.key not in WELL_KNOWN_LABELS
                and requirement.operator is Operator.IN
            )
            if not undecided and not requirement.matches(labels):
                return False
        return True
