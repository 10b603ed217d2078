"""Kubernetes scheduling vocabulary: taints, tolerations, node selectors, node and pod affinity,
topology spread constraints.

Matching follows Kubernetes: `Toleration.ToleratesTaint` (k8s.io/api/core/v1/toleration.go) and
node selector requirements as the scheduler's node-affinity filter evaluates them
(k8s.io/component-helpers/scheduling/corev1/nodeaffinity: terms are ORed, a term's expressions
ANDed, an empty term matches nothing; `NotIn` and `DoesNotExist` match a node without the label).
Validation follows k8s.io/kubernetes pkg/apis/core/validation (`validateTaints`,
`ValidateTolerations`, `ValidateNodeSelectorRequirement`).
"""

from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, Strict, StrictInt, StrictStr

from ebb.config.kubernetes_names import LabelValue, QualifiedName, label_value_problem, qualified_name_problem
from ebb.config.model_base import Finding, FrozenMap, ManifestModel, NonEmpty, empty_map, error_at

TaintEffect = Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]
# Taints the scheduler enforces; PreferNoSchedule only steers.
BLOCKING_EFFECTS: frozenset[str] = frozenset({"NoSchedule", "NoExecute"})
NodeSelectorOperator = Literal["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]


class Taint(ManifestModel):
    """A node taint."""

    key: QualifiedName
    value: LabelValue | None = None
    effect: TaintEffect
    time_added: Any = Field(None, alias="timeAdded")

    def describe(self) -> str:
        """`key=value:Effect`, as kubectl prints it."""
        value = f"={self.value}" if self.value else ""
        return f"{self.key}{value}:{self.effect}"


class Toleration(ManifestModel):
    """A pod toleration."""

    key: StrictStr | None = None
    operator: Literal["Exists", "Equal"] = "Equal"
    value: StrictStr | None = None
    effect: TaintEffect | Literal[""] | None = None
    toleration_seconds: StrictInt | None = Field(None, alias="tolerationSeconds")

    def tolerates(self, taint: Taint) -> bool:
        """Kubernetes' ToleratesTaint."""
        if self.effect and self.effect != taint.effect:
            return False
        if self.key and self.key != taint.key:
            return False
        if self.operator == "Exists":
            return True
        return (self.value or "") == (taint.value or "")

    def findings(self) -> Iterator[Finding]:
        if self.key:
            problem = qualified_name_problem(self.key)
            if problem is not None:
                yield error_at(("key",), f"{self.key!r}: {problem}")
        elif self.operator != "Exists":
            yield error_at(("operator",), "must be Exists when key is empty (a toleration for every taint)")
        if self.operator == "Exists" and self.value:
            yield error_at(("value",), "must be empty when operator is Exists")
        if self.operator == "Equal" and self.value:
            problem = label_value_problem(self.value)
            if problem is not None:
                yield error_at(("value",), f"{self.value!r}: {problem}")


def untolerated(tolerations: tuple[Toleration, ...], taints: tuple[Taint, ...]) -> tuple[Taint, ...]:
    """The NoSchedule/NoExecute taints that no toleration tolerates."""
    return tuple(
        taint
        for taint in taints
        if taint.effect in BLOCKING_EFFECTS and not any(t.tolerates(taint) for t in tolerations)
    )


class NodeSelectorRequirement(ManifestModel):
    """One expression of a node selector term."""

    key: QualifiedName
    operator: NodeSelectorOperator
    values: tuple[StrictStr, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a node with `labels` satisfies this requirement."""
        present = self.key in labels
        value = labels.get(self.key, "")
        if self.operator == "In":
            return present and value in self.values
        if self.operator == "NotIn":
            return not present or value not in self.values
        if self.operator == "Exists":
            return present
        if self.operator == "DoesNotExist":
            return not present
        if not present or len(self.values) != 1:
            return False
        try:
            node_value, bound = int(value), int(self.values[0])
        except ValueError:
            return False
        return node_value > bound if self.operator == "Gt" else node_value < bound

    def findings(self) -> Iterator[Finding]:
        if self.operator in ("In", "NotIn") and not self.values:
            yield error_at(("values",), f"must be specified when operator is {self.operator}")
        if self.operator in ("Exists", "DoesNotExist") and self.values:
            yield error_at(("values",), f"may not be specified when operator is {self.operator}")
        if self.operator in ("Gt", "Lt") and (len(self.values) != 1 or not _is_integer(self.values[0])):
            yield error_at(("values",), f"must be a single integer when operator is {self.operator}")


def _is_integer(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


class NodeSelectorTerm(ManifestModel):
    """Expressions that must all hold."""

    match_expressions: tuple[NodeSelectorRequirement, ...] = Field((), alias="matchExpressions")
    match_fields: tuple[Any, ...] = Field((), alias="matchFields")

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a node with `labels` satisfies every expression (a term with none matches nothing)."""
        if self.match_fields or not self.match_expressions:
            # matchFields selects nodes by name, which ebb cannot know in advance.
            return False
        return all(requirement.matches(labels) for requirement in self.match_expressions)

    def findings(self) -> Iterator[Finding]:
        if self.match_fields:
            yield error_at(
                ("matchFields",),
                "not supported: matchFields selects nodes by name, which do not exist before ebb launches "
                "them",
            )


class NodeSelector(ManifestModel):
    """Terms of which at least one must hold."""

    node_selector_terms: Annotated[tuple[NodeSelectorTerm, ...], NonEmpty] = Field(alias="nodeSelectorTerms")

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether any term matches."""
        return any(term.matches(labels) for term in self.node_selector_terms)


class PreferredSchedulingTerm(ManifestModel):
    """A preferred node affinity term (core/v1 `PreferredSchedulingTerm`, weight 1-100)."""

    weight: Annotated[int, Strict(), Field(ge=1, le=100)]
    preference: NodeSelectorTerm


class NodeAffinity(ManifestModel):
    """`affinity.nodeAffinity`: the required terms, and the preferred ones Karpenter-style.

    A preference is planned as Karpenter plans it: the heaviest term is required while the pods
    can all be placed with it, then relaxed (the plan says so) for the next one.
    """

    required: NodeSelector | None = Field(None, alias="requiredDuringSchedulingIgnoredDuringExecution")
    preferred: tuple[PreferredSchedulingTerm, ...] = Field(
        (), alias="preferredDuringSchedulingIgnoredDuringExecution"
    )


class LabelSelectorRequirement(ManifestModel):
    """One `matchExpressions` entry of a `metav1.LabelSelector`."""

    key: QualifiedName
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: tuple[StrictStr, ...] = ()

    def findings(self) -> Iterator[Finding]:
        # apimachinery ValidateLabelSelectorRequirement.
        if self.operator in ("In", "NotIn") and not self.values:
            yield error_at(("values",), f"must be specified when operator is {self.operator}")
        if self.operator in ("Exists", "DoesNotExist") and self.values:
            yield error_at(("values",), f"may not be specified when operator is {self.operator}")


class LabelSelector(ManifestModel):
    """A pod label selector: `matchLabels` and `matchExpressions`, ANDed."""

    match_labels: FrozenMap[QualifiedName, LabelValue] = Field(default_factory=empty_map, alias="matchLabels")
    match_expressions: tuple[LabelSelectorRequirement, ...] = Field((), alias="matchExpressions")


class PodAffinityTerm(ManifestModel):
    """A pod (anti-)affinity term: pods the selector matches, per domain of `topologyKey`."""

    label_selector: LabelSelector | None = Field(None, alias="labelSelector")
    topology_key: QualifiedName = Field(alias="topologyKey")
    namespaces: tuple[StrictStr, ...] = ()
    namespace_selector: Any = Field(None, alias="namespaceSelector")
    match_label_keys: tuple[StrictStr, ...] = Field((), alias="matchLabelKeys")
    mismatch_label_keys: tuple[StrictStr, ...] = Field((), alias="mismatchLabelKeys")

    def findings(self) -> Iterator[Finding]:
        # ebb plans from the binding alone: it cannot know which namespaces a selector picks.
        if self.namespace_selector is not None:
            yield error_at(
                ("namespaceSelector",),
                "not supported: ebb cannot tell offline which namespaces it selects; list them in namespaces",
            )
        for name, keys in (
            ("matchLabelKeys", self.match_label_keys),
            ("mismatchLabelKeys", self.mismatch_label_keys),
        ):
            if keys:
                yield error_at((name,), "not supported on pod (anti-)affinity terms by ebb's node planner")


class WeightedPodAffinityTerm(ManifestModel):
    """A preferred pod (anti-)affinity term."""

    weight: Annotated[int, Field(ge=1, le=100)]
    pod_affinity_term: PodAffinityTerm = Field(alias="podAffinityTerm")


class PodAffinity(ManifestModel):
    """`podAffinity` or `podAntiAffinity`: required terms, and preferred ones planned Karpenter-style
    (required while the pods can all be placed with them, relaxed heaviest first and reported)."""

    required: tuple[PodAffinityTerm, ...] = Field((), alias="requiredDuringSchedulingIgnoredDuringExecution")
    preferred: tuple[WeightedPodAffinityTerm, ...] = Field(
        (), alias="preferredDuringSchedulingIgnoredDuringExecution"
    )


class TopologySpreadConstraint(ManifestModel):
    """One `topologySpreadConstraints` entry (core/v1 TopologySpreadConstraint)."""

    max_skew: Annotated[int, Strict(), Field(ge=1)] = Field(alias="maxSkew")
    topology_key: QualifiedName = Field(alias="topologyKey")
    when_unsatisfiable: Literal["DoNotSchedule", "ScheduleAnyway"] = Field(alias="whenUnsatisfiable")
    label_selector: LabelSelector | None = Field(None, alias="labelSelector")
    min_domains: Annotated[int, Strict(), Field(ge=1)] | None = Field(None, alias="minDomains")
    match_label_keys: tuple[StrictStr, ...] = Field((), alias="matchLabelKeys")
    node_affinity_policy: Literal["Honor", "Ignore"] | None = Field(None, alias="nodeAffinityPolicy")
    node_taints_policy: Literal["Honor", "Ignore"] | None = Field(None, alias="nodeTaintsPolicy")

    def findings(self) -> Iterator[Finding]:
        # core/v1 validation (ValidateTopologySpreadConstraints): minDomains only with DoNotSchedule.
        if self.min_domains is not None and self.when_unsatisfiable != "DoNotSchedule":
            yield error_at(("minDomains",), "may only be set when whenUnsatisfiable is DoNotSchedule")
        # ebb counts domains as kube-scheduler's defaults do; other policies are refused, not ignored.
        if self.node_affinity_policy not in (None, "Honor"):
            yield error_at(("nodeAffinityPolicy",), "not supported: ebb plans with the default, Honor")
        if self.node_taints_policy not in (None, "Ignore"):
            yield error_at(("nodeTaintsPolicy",), "not supported: ebb plans with the default, Ignore")


class Affinity(ManifestModel):
    """`affinity`."""

    node_affinity: NodeAffinity | None = Field(None, alias="nodeAffinity")
    pod_affinity: PodAffinity | None = Field(None, alias="podAffinity")
    pod_anti_affinity: PodAffinity | None = Field(None, alias="podAntiAffinity")
