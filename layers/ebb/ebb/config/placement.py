"""Which instance groups a scaler's pods can land on and fit: a plain check for validation.

This is not the node planner (that is `ebb.core`): it answers, per instance group, whether the
NodePool's requirements admit the group's instance type and zone, whether the pod template
selects the group and tolerates its taints, and whether one pod fits one empty node
(requests + per-node overhead within allocatable, enough GPUs), and how many would.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from ebb.config.binding import InstanceGroupFacts
from ebb.config.catalogue import GIB, InstanceTypeSpec
from ebb.config.node_pool import CAPACITY_TYPE_KEY, ZONE_KEY, NodePool
from ebb.config.pod_spec import INSTANCE_GROUP_LABEL, PodSpec
from ebb.config.scheduling import untolerated

# Requested resources ebb cannot compare with a catalogue entry; the scheduler checks them.
UNCHECKED_RESOURCES = frozenset({"ephemeral-storage", "pods"})


@dataclass(frozen=True)
class Fit:
    """Whether one pod fits an empty node of an instance type, and how many would."""

    fits: bool
    pods_per_node: int | None
    reason: str


@dataclass(frozen=True)
class GroupPlacement:
    """How a scaler's pods relate to one instance group."""

    instance_group: str
    instance_type: str
    zone: str
    in_pool: bool
    admitted: bool
    admission_reason: str
    selected: bool
    untolerated_taints: tuple[str, ...]
    fit: Fit | None

    @property
    def lands(self) -> bool:
        """Whether pods can be placed on this group's nodes (fit unknown counts as possible)."""
        fits = self.fit is None or self.fit.fits
        return self.in_pool and self.admitted and self.selected and not self.untolerated_taints and fits


def node_labels(group: InstanceGroupFacts, spec: InstanceTypeSpec | None) -> dict[str, str]:
    """The labels a HyperPod node of `group` carries, as far as the configuration tells."""
    labels = {
        INSTANCE_GROUP_LABEL: group.name,
        "node.kubernetes.io/instance-type": group.instance_type,
        ZONE_KEY: group.availability_zone,
    }
    if spec is not None:
        labels["kubernetes.io/arch"] = spec.architecture
    labels.update(group.labels)
    return labels


def admission(pool: NodePool, group: InstanceGroupFacts, spec: InstanceTypeSpec | None) -> tuple[bool, str]:
    """Whether the pool's requirements admit the group, and if not, which requirement refuses it."""
    facts = {ZONE_KEY: group.availability_zone, CAPACITY_TYPE_KEY: group.capacity_type}
    facts["node.kubernetes.io/instance-type"] = group.instance_type
    if spec is not None:
        facts.update(spec.requirement_facts())
    for requirement in pool.requirements:
        if requirement.is_valid and not requirement.admits(facts):
            values = f" {', '.join(requirement.values)}" if requirement.values else ""
            return False, f"requirement {requirement.key} {requirement.operator}{values} excludes it"
    return True, "admitted"


def pod_fit(
    requests: Mapping[str, Decimal], spec: InstanceTypeSpec, node_overhead: Mapping[str, Decimal]
) -> Fit:
    """Whether a pod requesting `requests` fits one empty node of `spec`."""
    allocatable = spec.allocatable(node_overhead)
    counts: list[int] = []
    for name, amount in sorted(requests.items()):
        if amount <= 0 or name in UNCHECKED_RESOURCES:
            continue
        available = allocatable.get(name)
        if available is None:
            return Fit(False, 0, f"{spec.name} has no {name}")
        if amount > available:
            return Fit(
                False,
                0,
                f"needs {format_amount(name, amount)} {name}, {spec.name} has "
                f"{format_amount(name, available)} allocatable",
            )
        counts.append(int((available / amount).to_integral_value(rounding=ROUND_FLOOR)))
    per_node = min(counts) if counts else None
    return Fit(True, per_node, "fits" if per_node is None else f"{per_node} per node")


def format_amount(resource: str, amount: Decimal) -> str:
    """`3.25` cores, `11.7Gi` memory: amounts as a person reads them."""
    if resource == "memory":
        return f"{(amount / GIB).quantize(Decimal('0.01')).normalize():f}Gi"
    return f"{amount.normalize():f}"


def place(
    pod_spec: PodSpec | None,
    pool: NodePool,
    pool_groups: tuple[str, ...],
    *,
    groups: Mapping[str, InstanceGroupFacts],
    specs: Mapping[str, InstanceTypeSpec],
    node_overhead: Mapping[str, Decimal],
) -> tuple[GroupPlacement, ...]:
    """Placement of a scaler's pods on every known instance group (its pool's first)."""
    ordered = [name for name in pool_groups if name in groups]
    ordered += [name for name in groups if name not in pool_groups]
    requests = pod_spec.effective_requests() if pod_spec is not None else None
    placements = []
    for name in ordered:
        group = groups[name]
        spec = specs.get(group.instance_type)
        admitted, reason = admission(pool, group, spec)
        labels = node_labels(group, spec)
        taints = (*pool.taints, *group.taints) if name in pool_groups else group.taints
        selected = True if pod_spec is None else pod_spec.selects(labels)
        blocked = () if pod_spec is None else untolerated(pod_spec.tolerations, taints)
        fit = None if requests is None or spec is None else pod_fit(requests, spec, node_overhead)
        placements.append(
            GroupPlacement(
                instance_group=name,
                instance_type=group.instance_type,
                zone=group.availability_zone,
                in_pool=name in pool_groups,
                admitted=admitted,
                admission_reason=reason,
                selected=selected,
                untolerated_taints=tuple(taint.describe() for taint in blocked),
                fit=fit,
            )
        )
    return tuple(placements)
