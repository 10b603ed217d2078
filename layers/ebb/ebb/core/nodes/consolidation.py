"""Scale-in: which pods to delete first when replicas go down, and which nodes to remove.

Karpenter's consolidation, as ebb applies it to one NodePool per decision:

* a node is a candidate only once initialized (launching, joining and health-checking nodes are
  never "empty" yet), not already deleting, without ``karpenter.sh/do-not-disrupt`` on it or its
  pods, and after ``consolidateAfter`` has passed since a pod last arrived or left (``Never``
  disables consolidation); ebb also never removes a node running pods it does not manage, nor
  takes an instance group below its minimum;
* empty nodes go first, all at once within the ``Empty`` budget;
* with ``WhenEmptyOrUnderutilized``, one more command: several nodes whose pods fit elsewhere plus
  at most one cheaper new node (multi-node), else one node whose pods fit elsewhere (delete) or
  elsewhere plus one cheaper node (replace), candidates taken in order of disruption cost (fewest
  pods first), within the ``Underutilized`` budget;
* budgets count the pool's initialized nodes; nodes being deleted or not ready use up allowance.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ebb.core.nodes.budgets import DisruptionReason, allowed_disruptions
from ebb.core.nodes.nodepool import ConsolidationPolicy
from ebb.core.nodes.plan import (
    BlockedNode,
    NewNodes,
    NodeRemoval,
    PlanNote,
    PodDeletion,
    PodMove,
    RemovalKind,
)
from ebb.core.nodes.pool_view import NodeView, PoolView
from ebb.core.nodes.quantities import Vector, add, fits, floor_sub, how_many_fit, scale
from ebb.core.nodes.workload import NodeState, PodGroup

# Karpenter's multi-node consolidation looks at no more than this many candidates at once.
MAX_MULTI_NODE_CANDIDATES = 100


@dataclass(frozen=True, slots=True)
class ScaleIn:
    """Consolidation's part of a pool's plan."""

    removals: tuple[NodeRemoval, ...] = ()
    replacements: tuple[NewNodes, ...] = ()
    moves: tuple[PodMove, ...] = ()
    blocked: tuple[BlockedNode, ...] = ()
    notes: tuple[PlanNote, ...] = field(default=())


def _deletion_rank_key(view: NodeView) -> tuple[int, int, float, str]:
    pinned = view.node.do_not_disrupt or view.node.has_unmanaged_pods
    launching = view.node.state is NodeState.LAUNCHING
    return (0 if launching else 2 if pinned else 1, sum(view.pods.values()), -view.price, view.node.name)


def choose_deletions(
    views: list[PoolView], pod_groups: Mapping[str, PodGroup], surplus: dict[str, int]
) -> dict[str, list[PodDeletion]]:
    """Pick the pods to delete when replicas go down so that whole nodes empty out.

    Nodes are ranked as consolidation would take them (pods not yet running first, then nodes with
    the fewest pods, dearer first); a node whose every pod can go is emptied before any other node
    gives up pods. The chosen pods are taken off the views. Returns deletions per pool, ranked.
    """
    left = {name: count for name, count in surplus.items() if count > 0}
    if not left:
        return {}
    ranked = sorted(
        ((pool_view, node) for pool_view in views for node in pool_view.nodes if not node.node.deleting),
        key=lambda pair: _deletion_rank_key(pair[1]),
    )
    chosen: dict[str, dict[str, int]] = {}
    for _, node in ranked:
        if node.pods and all(left.get(group, 0) >= count for group, count in node.pods.items()):
            chosen[node.node.name] = dict(node.pods)
            for group, count in node.pods.items():
                left[group] -= count
    for _, node in ranked:
        for group, count in node.pods.items():
            already = chosen.get(node.node.name, {}).get(group, 0)
            take = min(left.get(group, 0), count - already)
            if take > 0:
                chosen.setdefault(node.node.name, {})[group] = already + take
                left[group] -= take
    out: dict[str, list[PodDeletion]] = {}
    rank = 0
    for pool_view, node in ranked:
        picked = chosen.get(node.node.name)
        if not picked:
            continue
        for group, count in sorted(picked.items()):
            out.setdefault(pool_view.pool.name, []).append(
                PodDeletion(node=node.node.name, group=group, count=count, rank=rank)
            )
            node.pods[group] -= count
            if not node.pods[group]:
                del node.pods[group]
            node.free = add(node.free, scale(pod_groups[group].vector, count))
        rank += 1
    return out


def _why_not_candidate(
    view: NodeView, pool_view: PoolView, pod_groups: Mapping[str, PodGroup], now: datetime, changes: _Changes
) -> str | None:
    node = view.node
    disruption = pool_view.pool.disruption
    # The caller passes only nodes that joined (Ready or NotReady) and are not being deleted.
    if node.state is NodeState.NOT_READY:
        return "not ready"
    if node.initialized_at is None:
        return f"not initialized yet ({node.state})"
    if node.do_not_disrupt or any(pod_groups[g].do_not_disrupt for g in view.pods):
        return "karpenter.sh/do-not-disrupt"
    if node.has_unmanaged_pods:
        return "runs pods ebb does not manage"
    if node.name in changes.receiving:
        return "receives pending pods in this plan"
    if disruption.consolidate_after is None:
        return "consolidateAfter is Never"
    last_event = now if node.name in changes.touched else (node.last_pod_event_at or node.initialized_at)
    if now - last_event < disruption.consolidate_after:
        return f"consolidateAfter {disruption.consolidate_after} not reached since the last pod change"
    return None


@dataclass(frozen=True, slots=True)
class _Changes:
    """Nodes whose pods change in this plan."""

    touched: frozenset[str]
    """Pods arrive or are deleted: consolidateAfter restarts now."""
    receiving: frozenset[str]
    """Pending pods are placed here."""
    emptied: frozenset[str]
    """Falling replicas empty these: nothing is moved onto them."""


class _Simulation:
    """Where the pods of candidate nodes would go: free room on other ready nodes, else one new node."""

    def __init__(
        self,
        views: list[PoolView],
        pod_groups: Mapping[str, PodGroup],
        gone: set[str],
        pinned: frozenset[str] = frozenset(),
    ) -> None:
        self.views = views
        self.pod_groups = pod_groups
        self.gone = gone
        self.pinned = pinned

    def relocate(
        self, candidates: list[NodeView], home: PoolView
    ) -> tuple[list[tuple[str, str, int]], tuple[int, float, dict[str, int]] | None] | None:
        """Moves for the candidates' pods, and the replacement needed (option, price, pods), or ``None``.

        A replacement must cost less than the candidates together and, like Karpenter's
        ``filterOutSameType``, when some option that could hold the pods has the instance type of a
        candidate, every option must cost less than the cheapest candidate of that type: replacing
        nodes with a twin of one of them (in any group or zone) is the saving of deleting the others,
        with more disruption and a launch that can fail for capacity.
        """
        if any(name in self.pinned for c in candidates for name in c.pods):
            # Moving pods whose place depends on other pods (spread, affinity) is not simulated:
            # such nodes are only removed once empty, never consolidated by moving their pods.
            return None
        leaving = {c.node.name for c in candidates} | self.gone
        total_price = sum(c.price for c in candidates)
        type_price: dict[str, float] = {}
        for candidate in candidates:
            for kind in candidate.types:
                type_price[kind.name] = min(type_price.get(kind.name, candidate.price), candidate.price)
        free: dict[str, Vector] = {}
        moves: list[tuple[str, str, int]] = []
        rest: dict[str, int] = {}
        pods: dict[str, int] = {}
        for candidate in candidates:
            for group, count in candidate.pods.items():
                pods[group] = pods.get(group, 0) + count
        ordered = sorted(
            pods.items(),
            key=lambda kv: (
                -self.pod_groups[kv[0]].requests.cpu_millis,
                -self.pod_groups[kv[0]].requests.memory_bytes,
                kv[0],
            ),
        )
        for group_name, count in ordered:
            pods_of = self.pod_groups[group_name]
            left = count
            for view in self.views:
                if not view.tolerates(pods_of):
                    continue
                for node in view.nodes:
                    if (
                        node.node.name in leaving
                        or node.node.state is not NodeState.READY
                        or node.node.deleting
                        or not view.runs_on(pods_of, node.labels)
                    ):
                        continue
                    room = free.get(node.node.name, node.free)
                    take = min(left, how_many_fit(pods_of.vector, room))
                    if take:
                        free[node.node.name] = floor_sub(room, scale(pods_of.vector, take))
                        moves.append((group_name, node.node.name, take))
                        left -= take
                        if not left:
                            break
                if not left:
                    break
            if left:
                rest[group_name] = left
        if not rest:
            return moves, None
        need: Vector = (0, 0, 0, 0)
        mask = -1
        for group_name, count in rest.items():
            need = add(need, scale(self.pod_groups[group_name].vector, count))
            mask &= home.option_mask(self.pod_groups[group_name])
        fitting = [
            launch
            for launch in home.options
            if mask >> launch.option.index & 1
            and launch.option.available != 0
            and fits(need, launch.option.capacity)
            and launch.option.cost < total_price
        ]
        # One cap for all options, as Karpenter applies it to the replacement's whole type list.
        cap = min(
            (type_price[kind.name] for launch in fitting for kind in launch.types if kind.name in type_price),
            default=total_price,
        )
        best: tuple[int, float] | None = None
        for launch in fitting:
            option = launch.option
            if option.cost < cap and (best is None or option.cost < best[1]):
                best = (option.index, option.cost)
        if best is None:
            return None
        moves.extend((group_name, "new", count) for group_name, count in rest.items())
        return moves, (best[0], best[1], rest)


def consolidate(
    view: PoolView,
    *,
    now: datetime,
    pod_groups: Mapping[str, PodGroup],
    views: list[PoolView],
    touched: set[str],
    receiving: set[str],
    emptied: set[str],
    removable: dict[str, int],
    growing: bool,
    pinned: frozenset[str] = frozenset(),
) -> ScaleIn:
    """Decide this pool's node removals.

    ``touched`` names nodes whose pods change in this plan (their consolidateAfter restarts now),
    ``receiving`` those pending pods are placed on (never removed in the same plan), ``emptied``
    those that falling replicas empty (no pods are moved onto them);
    ``removable`` says how many nodes each instance group may still lose (consumed here);
    ``growing`` says the pool is short of capacity, which defers underutilized consolidation.
    """
    pool = view.pool
    initialized = [n for n in view.nodes if n.node.state in (NodeState.READY, NodeState.NOT_READY)]
    total = len(initialized)
    disrupting = sum(1 for n in initialized if n.node.state is NodeState.NOT_READY or n.node.deleting)
    budget_empty = allowed_disruptions(
        pool.disruption.budgets, now, total, disrupting, DisruptionReason.EMPTY
    )
    budget_under = allowed_disruptions(
        pool.disruption.budgets, now, total, disrupting, DisruptionReason.UNDERUTILIZED
    )
    notes: list[PlanNote] = []
    blocked: list[BlockedNode] = []
    changes = _Changes(frozenset(touched), frozenset(receiving), frozenset(emptied))

    candidates: list[NodeView] = []
    for node in view.nodes:
        if node.node.state in (NodeState.LAUNCHING, NodeState.REGISTERED) or node.node.deleting:
            continue
        why = _why_not_candidate(node, view, pod_groups, now, changes)
        if why is not None:
            blocked.append(BlockedNode(node=node.node.name, why=why))
        else:
            candidates.append(node)

    removals: list[NodeRemoval] = []
    for node in sorted((n for n in candidates if not n.pods), key=lambda n: (-n.price, n.node.name)):
        allowed = budget_empty.allowed
        if node.price == 0:
            why = "empty, but its capacity is already paid for (removing it saves nothing)"
        elif allowed is not None and len(removals) >= allowed:
            why = f"empty, held by the disruption budget ({budget_empty})"
        elif removable.get(node.group.name, 0) <= 0:
            why = f"empty, but instance group {node.group.name} is at its min_count {node.group.min_count}"
        else:
            removable[node.group.name] -= 1
            removals.append(
                NodeRemoval(
                    node=node.node.name,
                    instance_group=node.group.name,
                    kind=RemovalKind.EMPTY,
                    reason=DisruptionReason.EMPTY,
                    saves_per_hour=node.price,
                )
            )
            continue
        blocked.append(BlockedNode(node=node.node.name, why=why))

    replacements: list[NewNodes] = []
    moves: list[PodMove] = []
    busy = [n for n in candidates if n.pods and n.price > 0]
    if pool.disruption.consolidation_policy is ConsolidationPolicy.WHEN_EMPTY_OR_UNDERUTILIZED and busy:
        allowance = budget_under.allowed
        if allowance is not None:
            allowance = max(allowance - len(removals), 0)
        if growing:
            notes.append(
                PlanNote(
                    code="ConsolidationDeferred",
                    message="the pool is adding capacity for pending pods; no underutilized node is removed",
                )
            )
        elif allowance == 0:
            notes.append(
                PlanNote(
                    code="BudgetExhausted",
                    message=f"underutilized consolidation held by the disruption budget ({budget_under})",
                )
            )
        else:
            command = _underutilized_command(
                view,
                views=views,
                pod_groups=pod_groups,
                busy=busy,
                allowance=allowance,
                removable=removable,
                gone={r.node for r in removals} | emptied,
                pinned=pinned,
            )
            if command is not None:
                chosen, moved, replacement, kind = command
                moves = [PodMove(group=g, destination=d, count=c) for g, d, c in moved]
                for node in chosen:
                    removable[node.group.name] -= 1
                    removals.append(
                        NodeRemoval(
                            node=node.node.name,
                            instance_group=node.group.name,
                            kind=kind,
                            reason=DisruptionReason.UNDERUTILIZED,
                            saves_per_hour=node.price,
                        )
                    )
                if replacement is not None:
                    launch = view.options[replacement[0]]
                    replacements.append(
                        NewNodes(
                            instance_group=launch.group.name,
                            instance_types=tuple(t.name for t in launch.types),
                            zone=launch.group.zone,
                            count=1,
                            pods_per_node=tuple(sorted(replacement[2].items())),
                            price_per_hour=launch.option.cost,
                        )
                    )
    return ScaleIn(
        removals=tuple(removals),
        replacements=tuple(replacements),
        moves=tuple(moves),
        blocked=tuple(blocked),
        notes=tuple(notes),
    )


def _underutilized_command(
    view: PoolView,
    *,
    views: list[PoolView],
    pod_groups: Mapping[str, PodGroup],
    busy: list[NodeView],
    allowance: int | None,
    removable: dict[str, int],
    gone: set[str],
    pinned: frozenset[str],
) -> (
    tuple[list[NodeView], list[tuple[str, str, int]], tuple[int, float, dict[str, int]] | None, RemovalKind]
    | None
):
    if allowance == 0:
        return None
    ordered = sorted(busy, key=lambda n: (sum(n.pods.values()), -n.price, n.node.name))
    simulation = _Simulation(views, pod_groups, gone, pinned)

    def allowed(nodes: list[NodeView]) -> bool:
        per_group: dict[str, int] = {}
        for node in nodes:
            per_group[node.group.name] = per_group.get(node.group.name, 0) + 1
        return all(removable.get(g, 0) >= n for g, n in per_group.items())

    limit = len(ordered) if allowance is None else min(len(ordered), allowance)
    limit = min(limit, MAX_MULTI_NODE_CANDIDATES)
    # Multi-node: the longest prefix (at least two nodes) that can go, found by bisection.
    low, high, found = 2, limit, None
    while low <= high:
        middle = (low + high) // 2
        prefix = ordered[:middle]
        result = simulation.relocate(prefix, view) if allowed(prefix) else None
        if result is not None:
            found = (prefix, result)
            low = middle + 1
        else:
            high = middle - 1
    if found is not None:
        prefix, (moves, replacement) = found
        return prefix, moves, replacement, RemovalKind.REPLACE if replacement else RemovalKind.DELETE
    for node in ordered[:limit]:
        if not allowed([node]):
            continue
        result = simulation.relocate([node], view)
        if result is not None:
            moves, replacement = result
            return [node], moves, replacement, RemovalKind.REPLACE if replacement else RemovalKind.DELETE
    return None
