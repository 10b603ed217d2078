"""Inter-pod scheduling constraints: topology spread, required pod affinity and anti-affinity.

The vocabulary is Kubernetes' (``core/v1`` ``TopologySpreadConstraint``, ``PodAffinityTerm``,
``metav1.LabelSelector``) and the rules are kube-scheduler's, as Karpenter simulates them when it
launches nodes (kubernetes-sigs/karpenter ``pkg/controllers/provisioning/scheduling/topology.go``,
``topologygroup.go``; kubernetes ``pkg/scheduler/framework/plugins/podtopologyspread/filtering.go``
and ``interpodaffinity/filtering.go``):

* a constraint counts the pods its label selector matches in the pod's namespace, per domain (the
  value of the topology key on the node the pod runs on);
* a pod may go to a domain when, after it, ``count - global minimum <= maxSkew``; the pod itself
  only counts when the selector matches its own labels (``selfMatchNum``);
* ``minDomains``: while fewer eligible domains exist, the global minimum is taken as 0;
* a nil label selector matches no pod (``LabelSelectorAsSelector(nil)`` is ``labels.Nothing()``);
* required anti-affinity keeps a pod out of every domain holding a matching pod, and the
  anti-affinity of pods already placed keeps matching pods out of theirs (it is symmetric);
* required affinity needs a matching pod in the domain, except for the first pod of a group that
  matches its own term (nothing matches anywhere yet).

For hostname the domain is the node. New nodes start empty, so, as in Karpenter's
``topologygroup.go`` (a new node is always a zero-count domain), the minimum over hostnames is 0
and a hostname spread caps each node at ``maxSkew`` matching pods.
"""

from collections.abc import Mapping
from enum import StrEnum
from typing import Final, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ebb.core.nodes.requirements import PreferredSchedulingTerm

HOSTNAME_KEY: Final = "kubernetes.io/hostname"


class SelectorOperator(StrEnum):
    """The operators of a ``metav1.LabelSelectorRequirement``."""

    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


class SelectorRequirement(BaseModel):
    """One ``matchExpressions`` entry of a label selector."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(min_length=1)
    operator: SelectorOperator
    values: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _values_fit_operator(self) -> Self:
        if self.operator in (SelectorOperator.IN, SelectorOperator.NOT_IN) and not self.values:
            raise ValueError(f"label selector on {self.key!r}: operator {self.operator} needs values")
        if self.operator in (SelectorOperator.EXISTS, SelectorOperator.DOES_NOT_EXIST) and self.values:
            raise ValueError(f"label selector on {self.key!r}: operator {self.operator} takes no values")
        return self

    def matches(self, labels: Mapping[str, str]) -> bool:
        """``labels.Requirement.Matches``: NotIn and DoesNotExist match a missing label."""
        value = labels.get(self.key)
        match self.operator:
            case SelectorOperator.IN:
                return value is not None and value in self.values
            case SelectorOperator.NOT_IN:
                return value is None or value not in self.values
            case SelectorOperator.EXISTS:
                return value is not None
            case SelectorOperator.DOES_NOT_EXIST:
                return value is None


class LabelSelector(BaseModel):
    """``metav1.LabelSelector``: ANDed ``matchLabels`` and ``matchExpressions``; empty matches every pod."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    match_labels: dict[str, str] = Field(default_factory=dict)
    match_expressions: tuple[SelectorRequirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a pod with ``labels`` is selected."""
        return all(labels.get(k) == v for k, v in self.match_labels.items()) and all(
            r.matches(labels) for r in self.match_expressions
        )

    def with_label_keys(self, keys: tuple[str, ...], own: Mapping[str, str]) -> "LabelSelector":
        """The selector ``matchLabelKeys`` makes: each key ANDed with the pod's own value.

        Keys the pod lacks are ignored, as kube-scheduler ignores them.
        """
        extra = {key: own[key] for key in keys if key in own}
        if not extra:
            return self
        return LabelSelector(
            match_labels={**self.match_labels, **extra}, match_expressions=self.match_expressions
        )


class WhenUnsatisfiable(StrEnum):
    """What a topology spread constraint does when no domain keeps the skew."""

    DO_NOT_SCHEDULE = "DoNotSchedule"
    SCHEDULE_ANYWAY = "ScheduleAnyway"
    """A preference: planned as required first and relaxed (and reported) when it cannot be met, as
    Karpenter's ``preferences.go`` treats it."""


class TopologySpread(BaseModel):
    """One ``topologySpreadConstraints`` entry."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    topology_key: str = Field(min_length=1)
    max_skew: int = Field(gt=0)
    when_unsatisfiable: WhenUnsatisfiable = WhenUnsatisfiable.DO_NOT_SCHEDULE
    label_selector: LabelSelector | None = None
    """``None`` matches no pod, so the constraint never restricts (kube-scheduler's rule)."""
    min_domains: int | None = Field(default=None, gt=0)
    match_label_keys: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _min_domains_needs_do_not_schedule(self) -> Self:
        # API validation (core/v1 ValidateTopologySpreadConstraints): minDomains only with DoNotSchedule.
        if self.min_domains is not None and self.when_unsatisfiable is not WhenUnsatisfiable.DO_NOT_SCHEDULE:
            raise ValueError("minDomains may only be set when whenUnsatisfiable is DoNotSchedule")
        return self

    def selector_for(self, own: Mapping[str, str]) -> LabelSelector | None:
        """The selector after ``matchLabelKeys``; ``None`` when it matches nothing."""
        if self.label_selector is None:
            return None
        return self.label_selector.with_label_keys(self.match_label_keys, own)


class PodAffinityTerm(BaseModel):
    """A required ``podAffinity`` / ``podAntiAffinity`` term."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    topology_key: str = Field(min_length=1)
    label_selector: LabelSelector | None = None
    """``None`` matches no pod."""
    namespaces: tuple[str, ...] = ()
    """Namespaces whose pods count; empty: the pod's own namespace."""

    def counts_namespace(self, own: str, other: str) -> bool:
        """Whether pods of namespace ``other`` count for a pod of namespace ``own``."""
        return other in self.namespaces if self.namespaces else other == own


class WeightedPodAffinityTerm(BaseModel):
    """A preferred ``podAffinity`` / ``podAntiAffinity`` term (``WeightedPodAffinityTerm``).

    Planned as Karpenter plans it: required while in force, relaxed heaviest first when the pods
    cannot all be placed with it (see :mod:`ebb.core.nodes.preferences`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    weight: int = Field(ge=1, le=100)
    term: PodAffinityTerm


class PodConstraints(BaseModel):
    """A pod's topology spread, pod (anti-)affinity and node preferences, as one value (compared, carried)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    topology_spread: tuple[TopologySpread, ...] = ()
    pod_affinity: tuple[PodAffinityTerm, ...] = ()
    pod_anti_affinity: tuple[PodAffinityTerm, ...] = ()
    preferred_pod_affinity: tuple[WeightedPodAffinityTerm, ...] = ()
    preferred_pod_anti_affinity: tuple[WeightedPodAffinityTerm, ...] = ()
    preferred_node_affinity: tuple[PreferredSchedulingTerm, ...] = ()

    def fields(self) -> dict[str, tuple[BaseModel, ...]]:
        """As :class:`~ebb.core.nodes.workload.PodGroup` fields."""
        return {
            "topology_spread": self.topology_spread,
            "pod_affinity": self.pod_affinity,
            "pod_anti_affinity": self.pod_anti_affinity,
            "preferred_pod_affinity": self.preferred_pod_affinity,
            "preferred_pod_anti_affinity": self.preferred_pod_anti_affinity,
            "preferred_node_affinity": self.preferred_node_affinity,
        }
