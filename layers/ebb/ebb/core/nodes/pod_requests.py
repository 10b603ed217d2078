"""A pod's effective resource request, as the Kubernetes scheduler computes it.

The rules (Kubernetes ``component-helpers/resource`` ``PodRequests`` and API defaulting):

* a container that sets a limit but no request for a resource requests its limit;
* regular containers and sidecars (init containers with ``restartPolicy: Always``) run together,
  so their requests add up;
* ordinary init containers run one at a time, each alongside the sidecars declared before it, so
  the pod needs the largest of those moments;
* the pod's request is the larger of the two phases, per resource, plus the RuntimeClass overhead.
"""

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ebb.core.nodes.quantities import (
    CPU,
    MEMORY,
    NVIDIA_GPU,
    PODS,
    Quantity,
    Resources,
    parse_quantity,
    to_millis,
    to_units,
)

ResourceAmounts = dict[str, Decimal]
"""Exact amounts per resource name (``{"cpu": Decimal("0.5"), "memory": Decimal(2**30)}``)."""

# Resources the node planner deliberately does not pack: node-local storage is not a HyperPod
# instance-type dimension ebb chooses between.
IGNORED_BY_PLANNER = frozenset({"ephemeral-storage"})


class ContainerResources(BaseModel):
    """The ``resources`` of one container, and whether an init container is a sidecar."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = ""
    requests: dict[str, Quantity] = Field(default_factory=dict)
    limits: dict[str, Quantity] = Field(default_factory=dict)
    restart_policy: Literal["Always"] | None = None
    """``Always`` on an init container makes it a sidecar (it keeps running)."""

    def effective(self) -> ResourceAmounts:
        """Requests, with a limit standing in for each resource that has no request."""
        amounts = {name: parse_quantity(value) for name, value in self.limits.items()}
        amounts.update({name: parse_quantity(value) for name, value in self.requests.items()})
        return amounts


class PodResources(BaseModel):
    """The parts of a pod spec that decide what it requests."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    containers: tuple[ContainerResources, ...] = Field(min_length=1)
    init_containers: tuple[ContainerResources, ...] = ()
    overhead: dict[str, Quantity] = Field(default_factory=dict)
    """``spec.overhead``, set by the RuntimeClass admission controller."""


def _add_into(total: ResourceAmounts, amounts: Mapping[str, Decimal]) -> None:
    for name, value in amounts.items():
        total[name] = total.get(name, Decimal(0)) + value


def _max_into(total: ResourceAmounts, amounts: Mapping[str, Decimal]) -> None:
    for name, value in amounts.items():
        total[name] = max(total.get(name, Decimal(0)), value)


def effective_requests(pod: PodResources) -> ResourceAmounts:
    """The pod's effective request per resource, pod overhead included."""
    running: ResourceAmounts = {}
    for container in pod.containers:
        _add_into(running, container.effective())

    sidecars_so_far: ResourceAmounts = {}
    init_peak: ResourceAmounts = {}
    for container in pod.init_containers:
        amounts = container.effective()
        if container.restart_policy == "Always":
            _add_into(running, amounts)
            _add_into(sidecars_so_far, amounts)
            _max_into(init_peak, sidecars_so_far)
        else:
            moment = dict(sidecars_so_far)
            _add_into(moment, amounts)
            _max_into(init_peak, moment)

    _max_into(running, init_peak)
    _add_into(running, {name: parse_quantity(value) for name, value in pod.overhead.items()})
    return running


class UnsupportedResource(ValueError):
    """A pod's request the node planner cannot represent (a fraction of a device)."""


def to_planner_resources(
    amounts: Mapping[str, Decimal], ignore: Iterable[str] = IGNORED_BY_PLANNER
) -> Resources:
    """Map effective requests to the planner's vector; one pod slot is added.

    Every resource besides cpu and memory is packed by name (``nvidia.com/gpu``, MIG profiles,
    ``vpc.amazonaws.com/efa``, ``aws.amazon.com/neuron``, ...): a node offers it only if its
    instance type says so, so a pod asking for one no type has is left unplaced with that reason,
    not planned onto nodes that cannot run it. Devices are whole: Kubernetes refuses a fractional
    request of an extended resource, and :class:`UnsupportedResource` says so here.
    """
    ignored = set(ignore)
    extended: dict[str, int] = {}
    gpus = 0
    for name, value in sorted(amounts.items()):
        if name in (CPU, MEMORY, PODS) or name in ignored or not value:
            continue
        if value != value.to_integral_value():
            raise UnsupportedResource(f"{name} must be a whole number, got {value}")
        if name == NVIDIA_GPU:
            gpus = int(value)
        else:
            extended[name] = int(value)
    return Resources(
        cpu_millis=to_millis(amounts.get(CPU, Decimal(0))),
        memory_bytes=to_units(amounts.get(MEMORY, Decimal(0))),
        gpus=gpus,
        pods=1,
        extended=tuple(extended.items()),
    )
