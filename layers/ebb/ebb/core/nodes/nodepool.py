"""The NodePool, in Karpenter's vocabulary, with its HyperpodNodeClass instance groups."""

from datetime import timedelta
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ebb.core.nodes.budgets import DEFAULT_BUDGETS, Budget
from ebb.core.nodes.catalogue import WELL_KNOWN_LABELS
from ebb.core.nodes.quantities import CPU, MEMORY, NVIDIA_GPU, PODS, ZERO, Resources, Vector, dimension
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
    """``spec.limits``: caps on the total capacity of the pool's nodes (``None``: no cap).

    Karpenter accepts any resource name here (a ``corev1.ResourceList``) and counts each node's
    capacity of it, ``pods`` included; ``nodes`` caps the node count.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    cpu_millis: int | None = Field(default=None, ge=0)
    memory_bytes: int | None = Field(default=None, ge=0)
    gpus: int | None = Field(default=None, ge=0)
    nodes: int | None = Field(default=None, ge=0)
    pods: int | None = Field(default=None, ge=0)
    """What the pool's nodes may hold in pod slots, counted by each node's ``max_pods``."""
    extended: dict[str, int] = Field(default_factory=dict)
    """Caps on extended resources by name (``vpc.amazonaws.com/efa``, ``aws.amazon.com/neuron``, ...)."""

    @model_validator(mode="after")
    def _extended_names(self) -> Self:
        for name, cap in self.extended.items():
            if name in (CPU, MEMORY, NVIDIA_GPU, PODS, "nodes"):
                raise ValueError(f"limit {name!r} has its own field")
            if cap < 0:
                raise ValueError(f"limit {name!r}: {cap} is negative")
        return self

    def as_vector(self) -> tuple[int | None, ...]:
        """The caps in limit-vector order: ``(cpu, memory, gpus, nodes, pods, extended...)``.

        An extended resource sits at its :func:`~ebb.core.nodes.quantities.dimension`; trailing
        ``None`` (no cap) is left out.
        """
        caps: list[int | None] = [self.cpu_millis, self.memory_bytes, self.gpus, self.nodes, self.pods]
        for name, cap in self.extended.items():
            index = dimension(name)
            caps.extend([None] * (index + 1 - len(caps)))
            caps[index] = cap
        while len(caps) > 4 and caps[-1] is None:
            caps.pop()
        return tuple(caps)

    def headroom(self, used: Vector) -> tuple[int | None, ...]:
        """What is left under each cap given the limit usage ``used`` (may be negative)."""
        return tuple(
            None if cap is None else cap - (used[index] if index < len(used) else 0)
            for index, cap in enumerate(self.as_vector())
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
