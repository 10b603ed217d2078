"""Karpenter `NodePool` (karpenter.sh/v1) over HyperPod instance groups.

Field names, defaults and rules follow kubernetes-sigs/karpenter pkg/apis/v1/nodepool.go and
nodeclaim.go (CRD markers: weight 1..100, at most 50 budgets, budget `nodes` pattern, `schedule`
with `duration`, at most 100 requirements, `minValues` 1..50) and nodeclaim_validation.go
(`ValidateRequirement`, duplicate taints). ebb plans HyperPod instance groups, whose nodes it cannot
label, so requirements may only use the keys below; Gt and Lt only numeric ones.

Fields ebb parses and what it does with them: requirements, taints, nodeClassRef, limits, weight,
disruption (consolidationPolicy, consolidateAfter, budgets) are acted on by the node planner and
the scale-in; terminationGracePeriod bounds a drain (given up, not forced, when it passes);
expireAfter other than Never and requirements' minValues are refused (not acted on); template
labels and annotations and startupTaints are noted as unused (HyperPod sets a node's labels and
taints); status is ignored.
"""

import re
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, StrictInt, StrictStr

from ebb.config.durations import BudgetDuration, Duration, NillableDuration, cron_problem, parse_duration
from ebb.config.issues import Severity
from ebb.config.kubernetes_names import LabelValue, QualifiedName, label_value_problem, qualified_name_problem
from ebb.config.model_base import Finding, FrozenMap, ManifestModel, empty_map, error_at
from ebb.config.object_meta import ClusterObjectMeta
from ebb.config.quantity import NonNegativeQuantity
from ebb.config.scheduling import Taint

HYPERPOD_NODE_CLASS_GROUP = "karpenter.sagemaker.amazonaws.com"
HYPERPOD_NODE_CLASS_KIND = "HyperpodNodeClass"

INSTANCE_TYPE_KEY = "node.kubernetes.io/instance-type"
ZONE_KEY = "topology.kubernetes.io/zone"
CAPACITY_TYPE_KEY = "karpenter.sh/capacity-type"
ARCH_KEY = "kubernetes.io/arch"
INSTANCE_CPU_KEY = "karpenter.k8s.aws/instance-cpu"
INSTANCE_MEMORY_KEY = "karpenter.k8s.aws/instance-memory"  # MiB, as Karpenter's AWS provider labels it
INSTANCE_GPU_COUNT_KEY = "karpenter.k8s.aws/instance-gpu-count"
# Karpenter normalizes these deprecated spellings to the stable ones (labels.go NormalizedLabels).
NORMALIZED_KEYS = {
    "beta.kubernetes.io/instance-type": INSTANCE_TYPE_KEY,
    "failure-domain.beta.kubernetes.io/zone": ZONE_KEY,
    "beta.kubernetes.io/arch": ARCH_KEY,
}
CATEGORY_KEYS = (INSTANCE_TYPE_KEY, ZONE_KEY, CAPACITY_TYPE_KEY, ARCH_KEY)
NUMERIC_KEYS = (INSTANCE_CPU_KEY, INSTANCE_MEMORY_KEY, INSTANCE_GPU_COUNT_KEY)
RESTRICTED_KEYS = ("karpenter.sh/nodepool", "kubernetes.io/hostname")

_BUDGET_NODES_RE = re.compile(r"^((100|[0-9]{1,2})%|[0-9]+)$")

ConsolidationPolicy = Literal["WhenEmpty", "WhenEmptyOrUnderutilized"]
DisruptionReason = Literal["Underutilized", "Empty", "Drifted"]


def _is_number(text: str) -> bool:
    return re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", text) is not None


class NodeSelectorRequirementWithMinValues(ManifestModel):
    """A NodePool requirement."""

    key: QualifiedName
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]
    values: tuple[StrictStr, ...] = ()
    min_values: Annotated[StrictInt, Field(ge=1, le=50)] | None = Field(None, alias="minValues")

    @property
    def normalized_key(self) -> str:
        """The key with deprecated spellings replaced, as Karpenter normalizes it."""
        return NORMALIZED_KEYS.get(self.key, self.key)

    def admits(self, facts: Mapping[str, str]) -> bool:
        """Whether a node with these well-known facts satisfies the requirement."""
        key = self.normalized_key
        present = key in facts
        value = facts.get(key, "")
        if self.operator == "In":
            return present and value in self.values
        if self.operator == "NotIn":
            return not present or value not in self.values
        if self.operator == "Exists":
            return present
        if self.operator == "DoesNotExist":
            return not present
        if not present or len(self.values) != 1 or not _is_number(value) or not _is_number(self.values[0]):
            return False
        node_value, bound = Decimal(value), Decimal(self.values[0])
        return node_value > bound if self.operator == "Gt" else node_value < bound

    @property
    def is_valid(self) -> bool:
        """Whether the requirement has no error of its own (invalid ones are reported, not evaluated)."""
        return not any(finding.severity is Severity.ERROR for finding in self.findings())

    def findings(self) -> Iterator[Finding]:
        key = self.normalized_key
        if key in RESTRICTED_KEYS:
            yield error_at(("key",), f"label {key!r} is restricted")
        elif self.operator in ("Gt", "Lt"):
            if key not in NUMERIC_KEYS:
                yield error_at(
                    ("operator",),
                    f"{self.operator} needs a numeric key; allowed keys for Gt and Lt: "
                    f"{', '.join(NUMERIC_KEYS)}",
                )
            if len(self.values) != 1 or not self.values[0].isdigit():
                # Karpenter's message (ValidateRequirement).
                yield error_at(
                    ("values",),
                    f"key {self.key} with operator {self.operator} must have a single positive integer value",
                )
        elif key not in CATEGORY_KEYS and key not in NUMERIC_KEYS:
            yield error_at(
                ("key",),
                f"{self.key!r} is not a key ebb can plan for: HyperPod nodes carry no labels ebb could "
                f"set; allowed: {', '.join(CATEGORY_KEYS + NUMERIC_KEYS)}",
            )
        if self.operator == "In" and not self.values:
            yield error_at(("values",), f"key {self.key} with operator In must have a value defined")
        for index, value in enumerate(self.values):
            problem = label_value_problem(value)
            if problem is not None:
                yield error_at(("values", index), f"invalid value {value!r} for key {self.key}: {problem}")
        if self.min_values is not None:
            yield error_at(
                ("minValues",),
                "ebb does not enforce minValues (how many distinct values a launch may choose from): "
                "each HyperPod instance group launches its own instance type, and ebb plans groups; "
                "remove it",
            )
        if self.operator == "In" and self.min_values is not None and len(self.values) < self.min_values:
            yield error_at(
                ("minValues",),
                f"key {self.key} with operator In must have at least minimum number of values defined in "
                f"'values' field ({self.min_values})",
            )


class NodeClassReference(ManifestModel):
    """`nodeClassRef`: ebb provisions HyperPod instance groups, so it must name a HyperpodNodeClass."""

    group: StrictStr
    kind: StrictStr
    name: Annotated[StrictStr, Field(min_length=1)]

    def findings(self) -> Iterator[Finding]:
        if self.group != HYPERPOD_NODE_CLASS_GROUP:
            yield error_at(
                ("group",),
                f"{self.group!r} is not supported; allowed: {HYPERPOD_NODE_CLASS_GROUP!r} (ebb plans "
                "HyperPod instance groups)",
            )
        if self.kind != HYPERPOD_NODE_CLASS_KIND:
            yield error_at(
                ("kind",), f"{self.kind!r} is not supported; allowed: {HYPERPOD_NODE_CLASS_KIND!r}"
            )


class NodeClaimTemplateMetadata(ManifestModel):
    """`spec.template.metadata`."""

    unused_fields: ClassVar[Mapping[str, str]] = {
        "labels": "ebb cannot label HyperPod nodes; set instance group labels through HyperPod's "
        "KubernetesConfig and state them in the ClusterBinding",
        "annotations": "ebb cannot annotate HyperPod nodes",
    }

    labels: FrozenMap[QualifiedName, LabelValue] = Field(default_factory=empty_map)
    annotations: FrozenMap[StrictStr, StrictStr] = Field(default_factory=empty_map)


def _default_expire_after() -> Duration:
    return parse_duration("720h", allow_never=True)


class NodeClaimTemplateSpec(ManifestModel):
    """`spec.template.spec`."""

    unused_fields: ClassVar[Mapping[str, str]] = {
        "startupTaints": "HyperPod applies taints through the instance group's KubernetesConfig; startup "
        "taints are not planned",
    }

    taints: tuple[Taint, ...] = ()
    startup_taints: tuple[Taint, ...] = Field((), alias="startupTaints")
    requirements: Annotated[tuple[NodeSelectorRequirementWithMinValues, ...], Field(max_length=100)]
    node_class_ref: NodeClassReference = Field(alias="nodeClassRef")
    termination_grace_period: NillableDuration | None = Field(None, alias="terminationGracePeriod")
    expire_after: NillableDuration = Field(default_factory=_default_expire_after, alias="expireAfter")

    def findings(self) -> Iterator[Finding]:
        seen: set[tuple[str, str]] = set()
        for index, taint in enumerate(self.taints):
            pair = (taint.key, taint.effect)
            if pair in seen:
                yield error_at(
                    ("taints", index), f"duplicate taint Key/Effect pair {taint.key}={taint.effect}"
                )
            seen.add(pair)
        if not self.expire_after.is_never:
            # Honouring it means replacing expired nodes within the disruption budget, replacement
            # first; ebb does not do that yet, so it must not look as if it did.
            stated = "expire_after" in self.model_fields_set
            yield error_at(
                ("expireAfter",),
                (
                    f"{self.expire_after} is not supported"
                    if stated
                    else "absent, Karpenter expires nodes after 720h"
                )
                + ": ebb does not expire nodes (replacing expired nodes is not implemented); allowed: Never",
            )
        if self.termination_grace_period is not None and self.termination_grace_period.is_never:
            yield error_at(
                ("terminationGracePeriod",), "'Never' is not allowed here; allowed: a duration such as 30m"
            )


class NodeClaimTemplate(ManifestModel):
    """`spec.template`."""

    metadata: NodeClaimTemplateMetadata | None = None
    spec: NodeClaimTemplateSpec


class Budget(ManifestModel):
    """A disruption budget: at most `nodes` disrupted at once, optionally only in a window."""

    reasons: tuple[DisruptionReason, ...] | None = None
    nodes: StrictStr = "10%"
    schedule: StrictStr | None = None
    duration: BudgetDuration | None = None

    def findings(self) -> Iterator[Finding]:
        if not _BUDGET_NODES_RE.match(self.nodes):
            yield error_at(
                ("nodes",),
                f"{self.nodes!r} is not allowed; allowed: a node count such as 5, or a percentage 0%-100%",
            )
        if (self.schedule is None) != (self.duration is None):
            yield error_at((), "'schedule' must be set with 'duration'")
        if self.schedule is not None:
            problem = cron_problem(self.schedule)
            if problem is not None:
                yield error_at(("schedule",), f"{self.schedule!r} is not a cron schedule: {problem}")


def _default_budgets() -> tuple[Budget, ...]:
    return (Budget(nodes="10%"),)


class Disruption(ManifestModel):
    """`spec.disruption`; absent, Karpenter defaults it to `consolidateAfter: 0s`."""

    consolidate_after: NillableDuration = Field(alias="consolidateAfter")
    consolidation_policy: ConsolidationPolicy = Field("WhenEmptyOrUnderutilized", alias="consolidationPolicy")
    budgets: Annotated[tuple[Budget, ...], Field(max_length=50)] = Field(default_factory=_default_budgets)


def _default_disruption() -> Disruption:
    return Disruption(consolidateAfter=parse_duration("0s", allow_never=True))


class NodePoolSpec(ManifestModel):
    """`spec` of a NodePool."""

    template: NodeClaimTemplate
    disruption: Disruption = Field(default_factory=_default_disruption)
    limits: FrozenMap[StrictStr, NonNegativeQuantity] = Field(default_factory=empty_map)
    weight: Annotated[StrictInt, Field(ge=1, le=100)] | None = None

    def findings(self) -> Iterator[Finding]:
        # Karpenter's Limits is a ResourceList: any resource name, each compared with the summed
        # capacity of the pool's nodes (kubernetes-sigs/karpenter pkg/apis/v1/nodepool.go).
        for name in self.limits:
            if problem := qualified_name_problem(name):
                yield error_at(("limits", name), f"{name!r} is not a resource name: {problem}")


class NodePool(ManifestModel):
    """A Karpenter NodePool document."""

    unused_fields: ClassVar[Mapping[str, str]] = {"status": "written by Karpenter; ebb ignores it"}

    api_version: Literal["karpenter.sh/v1"] = Field(alias="apiVersion")
    kind: Literal["NodePool"]
    metadata: ClusterObjectMeta
    spec: NodePoolSpec
    status: Any = None

    @property
    def name(self) -> str:
        """The NodePool's name."""
        return self.metadata.name

    @property
    def requirements(self) -> tuple[NodeSelectorRequirementWithMinValues, ...]:
        """`spec.template.spec.requirements`."""
        return self.spec.template.spec.requirements

    @property
    def taints(self) -> tuple[Taint, ...]:
        """`spec.template.spec.taints`."""
        return self.spec.template.spec.taints

    @property
    def node_class_name(self) -> str:
        """The HyperpodNodeClass this pool draws instance groups from."""
        return self.spec.template.spec.node_class_ref.name
