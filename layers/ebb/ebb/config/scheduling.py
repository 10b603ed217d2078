"""Kubernetes scheduling vocabulary: taints, tolerations, node selectors and node affinity.

Matching follows Kubernetes: `Toleration.ToleratesTaint` (k8s.io/api/core/v1/toleration.go) and
node selector requirements as the scheduler's node-affinity filter evaluates them
(k8s.io/component-helpers/scheduling/corev1/nodeaffinity: terms are ORed, a term's expressions
ANDed, an empty term matches nothing; `NotIn` and `DoesNotExist` match a node without the label).
Validation follows k8s.io/kubernetes pkg/apis/core/validation (`validateTaints`,
`ValidateTolerations`, `ValidateNodeSelectorRequirement`).
"""

from collections.abc import Iterator, Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, StrictInt, StrictStr

from ebb.config.kubernetes_names import LabelValue, QualifiedName, label_value_problem, qualified_name_problem
from ebb.config.model_base import Finding, ManifestModel, NonEmpty, error_at

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


class NodeAffinity(ManifestModel):
    """`affinity.nodeAffinity`: only the required part constrains placement."""

    unused_fields: ClassVar[Mapping[str, str]] = {
        "preferredDuringSchedulingIgnoredDuringExecution": "a preference does not constrain placement; "
        "ebb plans with the required node affinity only",
    }

    required: NodeSelector | None = Field(None, alias="requiredDuringSchedulingIgnoredDuringExecution")
    preferred: Any = Field(None, alias="preferredDuringSchedulingIgnoredDuringExecution")


class Affinity(ManifestModel):
    """`affinity`."""

    unused_fields: ClassVar[Mapping[str, str]] = {
        "podAffinity": "ebb packs pods onto nodes by resources and node constraints only",
        "podAntiAffinity": "ebb packs pods onto nodes by resources and node constraints only",
    }

    node_affinity: NodeAffinity | None = Field(None, alias="nodeAffinity")
    pod_affinity: Any = Field(None, alias="podAffinity")
    pod_anti_affinity: Any = Field(None, alias="podAntiAffinity")
