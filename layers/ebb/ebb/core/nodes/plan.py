"""What the node planner decides, as values with readable explanations."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from ebb.core.nodes.budgets import DisruptionReason


class UnplacedReason(StrEnum):
    """Why pods get no node."""

    NO_MATCHING_POOL = "NoMatchingNodePool"
    """No pool's nodes satisfy the pods' node selector, affinity and tolerations."""
    FITS_NO_TYPE = "FitsNoInstanceType"
    """Some nodes would be allowed, but no allowed instance type is large enough."""
    OFFERINGS_UNAVAILABLE = "OfferingsUnavailable"
    """Every fitting offering is known to lack capacity, or its group is at its maximum."""
    POOL_LIMIT = "NodePoolLimit"
    """Another node would take the pool past its limits."""
    TOPOLOGY_SPREAD = "TopologySpread"
    """Every domain the pods may use would break a DoNotSchedule topology spread constraint."""
    POD_AFFINITY = "PodAffinity"
    """No domain holds the pods a required pod affinity needs."""
    POD_ANTI_AFFINITY = "PodAntiAffinity"
    """Every domain the pods may use holds pods a required anti-affinity keeps them from."""


@dataclass(frozen=True, slots=True)
class UnplacedPods:
    """Pods of a group that the plan leaves pending, and why."""

    group: str
    count: int
    reason: UnplacedReason
    node_pool: str | None = None
    detail: str = ""

    def __str__(self) -> str:
        where = f" in node pool {self.node_pool!r}" if self.node_pool else ""
        extra = f" ({self.detail})" if self.detail else ""
        return f"{self.count} pod(s) of {self.group!r} cannot be placed{where}: {self.reason}{extra}"


@dataclass(frozen=True, slots=True)
class ExistingPlacement:
    """Pending pods that fit on a node that exists or is launching."""

    node: str
    group: str
    count: int

    def __str__(self) -> str:
        return f"{self.count} pod(s) of {self.group!r} -> existing node {self.node!r}"


@dataclass(frozen=True, slots=True)
class NewNodes:
    """``count`` identical new nodes of an instance group, each with the same pods."""

    instance_group: str
    instance_types: tuple[str, ...]
    """The type, or the types HyperPod may choose from for a flexible group."""
    zone: str
    count: int
    pods_per_node: tuple[tuple[str, int], ...]
    price_per_hour: float
    """Marginal price of one node (0 for capacity already paid for)."""

    @property
    def cost_per_hour(self) -> float:
        """Marginal price of all ``count`` nodes."""
        return self.price_per_hour * self.count

    def __str__(self) -> str:
        pods = ", ".join(f"{n} x {g}" for g, n in self.pods_per_node)
        types = "|".join(self.instance_types)
        return (
            f"{self.count} new node(s) in {self.instance_group} ({types}, {self.zone}) "
            f"at ${self.price_per_hour:.4f}/h each, holding {pods} per node"
        )


@dataclass(frozen=True, slots=True)
class GroupTarget:
    """The new target count of an instance group."""

    instance_group: str
    target_before: int
    target_after: int

    def __str__(self) -> str:
        return f"{self.instance_group}: target {self.target_before} -> {self.target_after}"


class RemovalKind(StrEnum):
    """How consolidation takes a node away."""

    EMPTY = "Empty"
    DELETE = "Delete"
    """Underutilized: its pods fit on other nodes."""
    REPLACE = "Replace"
    """Underutilized: its pods fit elsewhere plus one cheaper new node."""


@dataclass(frozen=True, slots=True)
class NodeRemoval:
    """A node the plan removes (after draining it)."""

    node: str
    instance_group: str
    kind: RemovalKind
    reason: DisruptionReason
    saves_per_hour: float
    """The node's marginal price (a replacement's price is listed with the replacements)."""

    def __str__(self) -> str:
        return f"remove {self.node!r} ({self.instance_group}, {self.kind}, ${self.saves_per_hour:.4f}/h)"


@dataclass(frozen=True, slots=True)
class PodMove:
    """Where consolidation expects evicted pods to land (the evidence that a removal is safe)."""

    group: str
    destination: str
    """An existing node's name, or ``"new"`` for the replacement node."""
    count: int

    def __str__(self) -> str:
        return f"{self.count} pod(s) of {self.group!r} -> {self.destination}"


@dataclass(frozen=True, slots=True)
class BlockedNode:
    """A node consolidation would consider but may not touch, and why."""

    node: str
    why: str

    def __str__(self) -> str:
        return f"{self.node!r} kept: {self.why}"


@dataclass(frozen=True, slots=True)
class PodDeletion:
    """When replicas go down: delete these pods first.

    Before lowering replicas, give these pods a ``controller.kubernetes.io/pod-deletion-cost``
    below every other pod's, increasing with ``rank``: the ReplicaSet deletes the lowest first.
    """

    node: str
    group: str
    count: int
    rank: int
    """0 first; the same rank for all pods of one node."""

    def __str__(self) -> str:
        return f"#{self.rank}: delete {self.count} pod(s) of {self.group!r} on {self.node!r}"


@dataclass(frozen=True, slots=True)
class PlanNote:
    """A structured remark on a decision (a bound that limited it, a fallback taken)."""

    code: str
    message: str

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


@dataclass(frozen=True, slots=True)
class NodePlan:
    """The decision for one NodePool."""

    node_pool: str
    placements: tuple[ExistingPlacement, ...] = ()
    new_nodes: tuple[NewNodes, ...] = ()
    targets: tuple[GroupTarget, ...] = ()
    unplaced: tuple[UnplacedPods, ...] = ()
    removals: tuple[NodeRemoval, ...] = ()
    replacements: tuple[NewNodes, ...] = ()
    moves: tuple[PodMove, ...] = ()
    deletions: tuple[PodDeletion, ...] = ()
    blocked: tuple[BlockedNode, ...] = ()
    notes: tuple[PlanNote, ...] = ()
    exact: bool = False
    """The new nodes are provably the cheapest packing (small problems)."""

    @property
    def added_cost_per_hour(self) -> float:
        """Marginal price of the new nodes."""
        return sum(n.cost_per_hour for n in self.new_nodes)

    @property
    def nodes_added(self) -> int:
        """Number of new nodes."""
        return sum(n.count for n in self.new_nodes)

    def __str__(self) -> str:
        lines = [
            f"node pool {self.node_pool!r}: +{self.nodes_added} node(s), +${self.added_cost_per_hour:.4f}/h"
        ]
        sections: list[tuple[str, tuple[object, ...]]] = [
            ("on existing nodes", self.placements),
            ("new nodes", self.new_nodes),
            ("targets", self.targets),
            ("unplaced", self.unplaced),
            ("removals", self.removals),
            ("replacements", self.replacements),
            ("expected moves", self.moves),
            ("delete first", self.deletions),
            ("kept", self.blocked),
            ("notes", self.notes),
        ]
        for title, entries in sections:
            if entries:
                lines.append(f"  {title}:")
                lines.extend(f"    {entry}" for entry in entries)
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class NodePlans:
    """One plan per NodePool, and the pods no pool can take."""

    plans: tuple[NodePlan, ...]
    unplaced: tuple[UnplacedPods, ...] = field(default=())

    def for_pool(self, name: str) -> NodePlan:
        """The plan of pool ``name``."""
        for plan in self.plans:
            if plan.node_pool == name:
                return plan
        raise KeyError(name)

    @property
    def added_cost_per_hour(self) -> float:
        """Marginal price of all new nodes."""
        return sum(plan.added_cost_per_hour for plan in self.plans)

    def __str__(self) -> str:
        parts = [str(plan) for plan in self.plans]
        parts.extend(f"unplaced: {u}" for u in self.unplaced)
        return "\n".join(parts)
