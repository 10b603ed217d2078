"""The parts of a pod template ebb reads: resource requests and node constraints.

A user may paste a Deployment's `spec.template.spec` here; fields ebb does not read (image, env,
volumes, ...) are accepted and listed in one note. The effective request is computed as the
scheduler sizes a pod (k8s.io/component-helpers/resource `PodRequests`): per resource, the larger of
the sum over containers and the largest init container, plus the pod overhead; a container that
sets a limit but no request requests its limit (the API server's defaulting).
"""

from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import ConfigDict, Field, StrictStr

from ebb.config.container_resources import resource_requirements_findings
from ebb.config.model_base import Finding, FrozenMap, ManifestModel, NonEmpty, empty_map, note_at
from ebb.config.quantity import NonNegativeQuantity
from ebb.config.scheduling import Affinity, NodeSelector, Toleration, TopologySpreadConstraint

INSTANCE_GROUP_LABEL = "sagemaker.amazonaws.com/instance-group-name"

ResourceList = FrozenMap[StrictStr, NonNegativeQuantity]


class ResourceRequirements(ManifestModel):
    """A container's `resources`."""

    unused_fields: ClassVar[Mapping[str, str]] = {"claims": "dynamic resource claims are not planned by ebb"}

    requests: ResourceList = Field(default_factory=empty_map)
    limits: ResourceList = Field(default_factory=empty_map)
    claims: Any = None

    def effective_requests(self) -> dict[str, Decimal]:
        """Requests, with a limit standing in for a missing request."""
        merged = {name: quantity.value for name, quantity in self.limits.items()}
        merged.update({name: quantity.value for name, quantity in self.requests.items()})
        return merged

    def findings(self) -> Iterator[Finding]:
        # What kube-apiserver would refuse: such a pod template never runs (container_resources).
        return resource_requirements_findings(self.requests, self.limits)


class Container(ManifestModel):
    """A container; only `name`, `resources` and an init container's `restartPolicy` are read."""

    model_config = ConfigDict(frozen=True, extra="allow", validate_default=False)

    name: StrictStr
    resources: ResourceRequirements = Field(default_factory=ResourceRequirements)
    restart_policy: Literal["Always"] | None = Field(None, alias="restartPolicy")


class PodSpec(ManifestModel):
    """A pod template's `spec`, reduced to what placement and fit depend on."""

    model_config = ConfigDict(frozen=True, extra="allow", validate_default=False)

    containers: Annotated[tuple[Container, ...], NonEmpty]
    init_containers: tuple[Container, ...] = Field((), alias="initContainers")
    overhead: ResourceList = Field(default_factory=empty_map)
    node_selector: FrozenMap[StrictStr, StrictStr] = Field(default_factory=empty_map, alias="nodeSelector")
    tolerations: tuple[Toleration, ...] = ()
    affinity: Affinity | None = None
    topology_spread_constraints: tuple[TopologySpreadConstraint, ...] = Field(
        (), alias="topologySpreadConstraints"
    )

    @property
    def required_node_affinity(self) -> NodeSelector | None:
        """The required node affinity, if any."""
        if self.affinity is None or self.affinity.node_affinity is None:
            return None
        return self.affinity.node_affinity.required

    def selects(self, node_labels: Mapping[str, str]) -> bool:
        """Whether a node with `node_labels` satisfies the node selector and required node affinity."""
        if any(node_labels.get(key) != value for key, value in self.node_selector.items()):
            return False
        required = self.required_node_affinity
        return required is None or required.matches(node_labels)

    def constrains_label(self, key: str) -> bool:
        """Whether every way this pod may be placed pins the node label `key`."""
        if key in self.node_selector:
            return True
        required = self.required_node_affinity
        if required is None:
            return False
        return all(
            any(r.key == key and r.operator == "In" for r in term.match_expressions)
            for term in required.node_selector_terms
        )

    def effective_requests(self) -> dict[str, Decimal]:
        """The pod's resource request as the scheduler sizes it."""
        # Sidecars (init containers that keep running) count with the regular containers.
        running = [*self.containers, *(c for c in self.init_containers if c.restart_policy == "Always")]
        total: dict[str, Decimal] = {}
        for container in running:
            for name, amount in container.resources.effective_requests().items():
                total[name] = total.get(name, Decimal(0)) + amount
        for container in self.init_containers:
            if container.restart_policy == "Always":
                continue
            for name, amount in container.resources.effective_requests().items():
                total[name] = max(total.get(name, Decimal(0)), amount)
        for name, quantity in self.overhead.items():
            total[name] = total.get(name, Decimal(0)) + quantity.value
        return total

    def findings(self) -> Iterator[Finding]:
        ignored = sorted(self.model_extra or {})
        if ignored:
            yield note_at((), f"fields ebb does not read here: {', '.join(ignored)}")
