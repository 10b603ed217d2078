"""A NodePool resolved against the catalogue: what it can launch, what exists, what may run where."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ebb.core.nodes.catalogue import NODEPOOL_LABEL, InstanceGroup, InstanceType, node_labels
from ebb.core.nodes.nodepool import NodePool
from ebb.core.nodes.offerings import OfferingKey, UnavailableOfferings
from ebb.core.nodes.packing import Limits, Option
from ebb.core.nodes.quantities import POOL_PODS_DIMENSION, Vector, add, floor_sub, largest, scale, smallest
from ebb.core.nodes.taints import blocking
from ebb.core.nodes.workload import ExistingNode, NodeState, PodGroup

# Pods are placed on launching and registering nodes too: their capacity is on its way.
_ACCEPTING = (NodeState.READY, NodeState.REGISTERED, NodeState.LAUNCHING)
_STATE_ORDER = {NodeState.READY: 0, NodeState.REGISTERED: 1, NodeState.LAUNCHING: 2, NodeState.NOT_READY: 3}


def limit_usage(types: tuple[InstanceType, ...]) -> Vector:
    """What a node counts against pool limits: its capacity (the largest of its possible types).

    In limit-vector order (see :meth:`~ebb.core.nodes.nodepool.PoolLimits.as_vector`): one node
    at index 3, its pod slots at :data:`~ebb.core.nodes.quantities.POOL_PODS_DIMENSION`.
    """
    capacity = largest([t.capacity.vector for t in types])
    return (capacity[0], capacity[1], capacity[2], 1, capacity[3], *capacity[POOL_PODS_DIMENSION + 1 :])


@dataclass(slots=True)
class LaunchOption:
    """One instance group as a kind of new node (conservative over a flexible group's types)."""

    option: Option
    group: InstanceGroup
    types: tuple[InstanceType, ...]
    labels: tuple[dict[str, str], ...]
    unavailable_types: tuple[str, ...] = ()


@dataclass(slots=True)
class NodeView:
    """An existing node with what is still free on it."""

    node: ExistingNode
    group: InstanceGroup
    types: tuple[InstanceType, ...]
    labels: tuple[dict[str, str], ...]
    allocatable: Vector
    free: Vector
    price: float
    limit_usage: Vector
    pods: dict[str, int] = field(default_factory=dict)

    @property
    def accepts_pods(self) -> bool:
        """Whether new pods may be placed here."""
        return self.node.state in _ACCEPTING and not self.node.deleting


class PoolView:
    """The resolved pool; compatibility answers are cached per scheduling signature."""

    def __init__(
        self,
        pool: NodePool,
        *,
        groups: Mapping[str, InstanceGroup],
        targets: Mapping[str, int],
        types: Mapping[str, InstanceType],
        nodes: list[ExistingNode],
        pod_groups: Mapping[str, PodGroup],
        unavailable: UnavailableOfferings,
        now: datetime,
    ) -> None:
        self.pool = pool
        self.taints = blocking(pool.taints)
        pool_labels = pool.template_labels()
        pool_labels[NODEPOOL_LABEL] = pool.name
        overhead = pool.daemonset_overhead.vector
        avoided = unavailable.active(now)
        # An instance type's allocatable is a model built on each read: read it once per type, and
        # each (group, type)'s node labels once, for the options and every node of the pool.
        allocatable_of: dict[str, Vector] = {}
        usage_of: dict[str, Vector] = {}
        labels_of: dict[tuple[str, str], dict[str, str]] = {}

        def allocatable_vector(kind: InstanceType) -> Vector:
            known = allocatable_of.get(kind.name)
            if known is None:
                known = allocatable_of[kind.name] = kind.allocatable.vector
            return known

        def usage(kinds: tuple[InstanceType, ...]) -> Vector:
            if len(kinds) != 1:
                return limit_usage(kinds)
            known = usage_of.get(kinds[0].name)
            if known is None:
                known = usage_of[kinds[0].name] = limit_usage(kinds)
            return known

        def labels(group: InstanceGroup, kind: InstanceType) -> dict[str, str]:
            # One dict per (group, type), shared by its nodes: labels are only ever read.
            known = labels_of.get((group.name, kind.name))
            if known is None:
                known = labels_of[(group.name, kind.name)] = node_labels(group, kind, pool_labels)
            return known

        self.options: list[LaunchOption] = []
        for group_name in pool.instance_groups:
            group = groups[group_name]
            admitted = [
                types[name] for name in group.instance_types if pool.admits(labels(group, types[name]))
            ]
            if not admitted:
                continue
            available = tuple(
                t
                for t in admitted
                if OfferingKey(instance_group=group.name, instance_type=t.name, zone=group.zone)
                not in avoided
            )
            missing = tuple(t.name for t in admitted if t not in available)
            chosen = tuple(available or admitted)
            capacity = floor_sub(smallest([allocatable_vector(t) for t in chosen]), overhead)
            option = Option(
                index=len(self.options),
                capacity=capacity,
                cost=max(group.node_price(t) for t in chosen),
                available=group.headroom(targets[group.name]) if available else 0,
                limit_usage=usage(chosen),
            )
            self.options.append(
                LaunchOption(
                    option=option,
                    group=group,
                    types=chosen,
                    labels=tuple(labels(group, t) for t in chosen),
                    unavailable_types=missing,
                )
            )
        self.nodes: list[NodeView] = []
        used: Vector = (0, 0, 0, 0, 0)
        for node in sorted(nodes, key=lambda n: (_STATE_ORDER[n.state], n.name)):
            group = groups[node.instance_group]
            node_types = (
                (types[node.instance_type],)
                if node.instance_type is not None
                else tuple(types[name] for name in group.instance_types)
            )
            allocatable = floor_sub(smallest([allocatable_vector(t) for t in node_types]), overhead)
            node_usage = usage(node_types)
            used = add(used, node_usage)
            taken = node.unmanaged.vector
            for placed in node.pods:
                taken = add(taken, scale(pod_groups[placed.group].vector, placed.count))
            self.nodes.append(
                NodeView(
                    node=node,
                    group=group,
                    types=node_types,
                    labels=tuple(labels(group, t) for t in node_types),
                    allocatable=allocatable,
                    free=floor_sub(allocatable, taken),
                    price=max(group.node_price(t) for t in node_types),
                    limit_usage=node_usage,
                    pods={placed.group: placed.count for placed in node.pods},
                )
            )
        self.limits: Limits = pool.limits.headroom(used)
        self._masks: dict[object, int] = {}

    @staticmethod
    def signature(group: PodGroup) -> object:
        """What decides where a group's pods may run (pods with equal signatures share answers)."""
        return (tuple(sorted(group.node_selector.items())), group.node_affinity, group.tolerations)

    def tolerates(self, group: PodGroup) -> bool:
        """Whether the pods tolerate the pool's taints."""
        return not group.untolerated(self.taints)

    def runs_on(self, group: PodGroup, labels: tuple[dict[str, str], ...]) -> bool:
        """Whether the pods may run on a node whatever its type among ``labels``' (conservative)."""
        return self.tolerates(group) and all(group.selects(one) for one in labels)

    def option_mask(self, group: PodGroup) -> int:
        """Bitmask of the launch options the group's pods may use."""
        key = self.signature(group)
        mask = self._masks.get(key)
        if mask is None:
            mask = 0
            for launch in self.options:
                if self.runs_on(group, launch.labels):
                    mask |= 1 << launch.option.index
            self._masks[key] = mask
        return mask

    def place(self, view: NodeView, group: PodGroup, count: int) -> None:
        """Record ``count`` more pods of ``group`` on an existing node."""
        view.free = floor_sub(view.free, scale(group.vector, count))
        view.pods[group.name] = view.pods.get(group.name, 0) + count
