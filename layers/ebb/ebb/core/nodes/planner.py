"""The node planner: from the pods every scaler wants to the nodes each NodePool should add or remove.

Order of decisions, as Karpenter's scheduler makes them:

1. pods that have no node yet (replicas above what runs, and pods of nodes being deleted) go
   first onto nodes that exist or are launching, largest pods first, each onto the first node it
   fits (pools by weight, then ready before joining before launching nodes);
2. what remains gets new nodes, pool by pool in weight order: a pod that a pool cannot take
   (no compatible node, limits, no capacity) falls through to the next pool;
3. when replicas fall, the pods to delete first are chosen so that whole nodes empty out;
4. each pool then consolidates (see :mod:`ebb.core.nodes.consolidation`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from ebb.core.nodes.consolidation import choose_deletions, consolidate
from ebb.core.nodes.inputs import PlanningInput
from ebb.core.nodes.new_nodes import pack
from ebb.core.nodes.packing import Item, Shortfall
from ebb.core.nodes.plan import (
    ExistingPlacement,
    GroupTarget,
    NewNodes,
    NodePlan,
    NodePlans,
    PlanNote,
    UnplacedPods,
    UnplacedReason,
)
from ebb.core.nodes.pool_view import PoolView
from ebb.core.nodes.quantities import how_many_fit
from ebb.core.nodes.workload import ExistingNode, PodGroup

_REASONS = {
    Shortfall.NO_FIT: UnplacedReason.FITS_NO_TYPE,
    Shortfall.UNAVAILABLE: UnplacedReason.OFFERINGS_UNAVAILABLE,
    Shortfall.LIMIT: UnplacedReason.POOL_LIMIT,
}


def packing_order(groups: tuple[PodGroup, ...]) -> list[PodGroup]:
    """Largest pods first: CPU, then memory, descending (Karpenter's queue order); ties keep input order."""
    indexed = list(enumerate(groups))
    indexed.sort(key=lambda pair: (-pair[1].requests.cpu_millis, -pair[1].requests.memory_bytes, pair[0]))
    return [group for _, group in indexed]


@dataclass
class _Launches:
    """A pool's new nodes, and whether they are provably the cheapest."""

    new_nodes: list[NewNodes] = field(default_factory=list)
    exact: bool = False
    tied_with: int | None = None
    """An equally cheap packing of this many nodes lost on its node count."""


class _Planning:
    """The state one call of :func:`plan_nodes` works on."""

    def __init__(self, inp: PlanningInput) -> None:
        self.inp = inp
        self.groups = {g.name: g for g in inp.instance_groups}
        self.targets = inp.target_counts()
        self.pod_groups = {g.name: g for g in inp.pod_groups}
        self.pools = sorted(inp.node_pools, key=lambda p: (-p.weight, p.name))
        types = {t.name: t for t in inp.instance_types}
        nodes_by_pool: dict[str, list[ExistingNode]] = defaultdict(list)
        for node in inp.nodes:
            nodes_by_pool[node.node_pool].append(node)
        self.views = {
            pool.name: PoolView(
                pool,
                groups=self.groups,
                targets=self.targets,
                types=types,
                nodes=nodes_by_pool[pool.name],
                pod_groups=self.pod_groups,
                unavailable=inp.unavailable,
                now=inp.now,
            )
            for pool in self.pools
        }
        running: Counter[str] = Counter()
        for node in inp.nodes:
            if not node.deleting:
                for placed in node.pods:
                    running[placed.group] += placed.count
        self.pending = {g.name: max(g.replicas - running[g.name], 0) for g in inp.pod_groups}
        self.surplus = {
            g.name: running[g.name] - g.replicas for g in inp.pod_groups if running[g.name] > g.replicas
        }
        self.order = packing_order(inp.pod_groups)
        self.shortfalls: dict[str, list[tuple[str, UnplacedReason, str]]] = defaultdict(list)

    def place_on_existing(self) -> dict[str, list[ExistingPlacement]]:
        """Pending pods onto nodes that exist or are launching, largest first, first fit."""
        placements: dict[str, list[ExistingPlacement]] = defaultdict(list)
        for group in self.order:
            for pool in self.pools:
                if not self.pending[group.name]:
                    break
                view = self.views[pool.name]
                if not view.tolerates(group):
                    continue
                for target in view.nodes:
                    if (
                        not target.accepts_pods
                        or target.free[3] == 0
                        or not view.runs_on(group, target.labels)
                    ):
                        continue
                    count = min(self.pending[group.name], how_many_fit(group.vector, target.free))
                    if count:
                        view.place(target, group, count)
                        placements[pool.name].append(
                            ExistingPlacement(node=target.node.name, group=group.name, count=count)
                        )
                        self.pending[group.name] -= count
                        if not self.pending[group.name]:
                            break
        return placements

    def launch(self, pool_name: str) -> _Launches:
        """New nodes in one pool for the pods still pending; what cannot go is noted as a shortfall."""
        view = self.views[pool_name]
        key_of = {g.name: index for index, g in enumerate(self.inp.pod_groups)}
        items = [
            Item(key=key_of[group.name], count=self.pending[group.name], vector=group.vector, mask=mask)
            for group in self.order
            if self.pending[group.name] and (mask := view.option_mask(group))
        ]
        packing = pack(
            items, [launch.option for launch in view.options], view.limits, self.inp.exact_search_states
        )
        result = _Launches(exact=packing.exact, tied_with=packing.tied_with)
        for batch in packing.batches:
            launch = view.options[batch.option]
            for key, count in batch.contents:
                self.pending[self.inp.pod_groups[key].name] -= count * batch.count
            result.new_nodes.append(
                NewNodes(
                    instance_group=launch.group.name,
                    instance_types=tuple(t.name for t in launch.types),
                    zone=launch.group.zone,
                    count=batch.count,
                    pods_per_node=tuple(
                        (self.inp.pod_groups[key].name, count) for key, count in batch.contents
                    ),
                    price_per_hour=launch.option.cost,
                )
            )
        for key, (_, shortfall, blocked_by) in packing.leftover.items():
            group = self.inp.pod_groups[key]
            detail = blocked_by
            if shortfall is Shortfall.UNAVAILABLE:
                detail = _unavailable_detail(view, group)
            elif shortfall is Shortfall.LIMIT and blocked_by:
                detail = f"limit on {blocked_by}"
            self.shortfalls[group.name].append((pool_name, _REASONS[shortfall], detail))
        return result

    def unplaced(self) -> tuple[dict[str, list[UnplacedPods]], list[UnplacedPods]]:
        """Pods still pending: per pool where they first fell short, and those no pool can run."""
        by_pool: dict[str, list[UnplacedPods]] = defaultdict(list)
        nowhere: list[UnplacedPods] = []
        for group in self.inp.pod_groups:
            left = self.pending[group.name]
            if not left:
                continue
            tried = self.shortfalls.get(group.name, [])
            if not tried:
                nowhere.append(
                    UnplacedPods(
                        group=group.name,
                        count=left,
                        reason=UnplacedReason.NO_MATCHING_POOL,
                        detail="no node pool's nodes match the pods' node selector, affinity and tolerations",
                    )
                )
                continue
            pool_name, reason, detail = tried[0]
            others = "; ".join(f"{p}: {r}" for p, r, _ in tried[1:])
            by_pool[pool_name].append(
                UnplacedPods(
                    group=group.name,
                    count=left,
                    reason=reason,
                    node_pool=pool_name,
                    detail="; ".join(
                        part for part in (detail, f"also tried {others}" if others else "") if part
                    ),
                )
            )
        return by_pool, nowhere


def plan_nodes(inp: PlanningInput) -> NodePlans:
    """Plan every NodePool: placements, new nodes, removals, with the reasons."""
    planning = _Planning(inp)
    placements = planning.place_on_existing()
    launches = {pool.name: planning.launch(pool.name) for pool in planning.pools}
    unplaced, nowhere = planning.unplaced()
    views = [planning.views[p.name] for p in planning.pools]
    # Only now: pods about to be deleted still hold their room while the new pods are placed.
    deletions = choose_deletions(views, planning.pod_groups, planning.surplus)
    touched = {d.node for pool_deletions in deletions.values() for d in pool_deletions}
    emptied = {n.node.name for v in views for n in v.nodes if n.node.name in touched and not n.pods}
    receiving = {p.node for pool_placements in placements.values() for p in pool_placements}
    touched |= receiving

    plans = []
    for pool in planning.pools:
        launched = launches[pool.name]
        added: Counter[str] = Counter()
        for nodes in launched.new_nodes:
            added[nodes.instance_group] += nodes.count
        groups = planning.groups
        targets = planning.targets
        scale_in = consolidate(
            planning.views[pool.name],
            now=inp.now,
            pod_groups=planning.pod_groups,
            views=views,
            touched=touched,
            receiving=receiving,
            emptied=emptied,
            removable={
                name: max(targets[name] + added[name] - groups[name].min_count, 0)
                for name in pool.instance_groups
            },
            growing=bool(launched.new_nodes) or bool(unplaced[pool.name]),
        )
        for replacement in scale_in.replacements:
            added[replacement.instance_group] += replacement.count
        removed: Counter[str] = Counter(r.instance_group for r in scale_in.removals)
        notes: tuple[PlanNote, ...] = ()
        if launched.new_nodes and not launched.exact:
            notes = (
                PlanNote(
                    code="Heuristic",
                    message="new nodes chosen by heuristics: too many pod combinations to prove the cheapest",
                ),
            )
        if launched.tied_with is not None:
            launching = sum(n.count for n in launched.new_nodes)
            cost = sum(n.cost_per_hour for n in launched.new_nodes)
            notes += (
                PlanNote(
                    code="TieBreak",
                    message=(
                        f"{launching} new node(s) rather than {launched.tied_with} at the same "
                        f"${cost:.4f}/h: equal-cost plans go to fewer launches (each can fail for "
                        "capacity and carries the daemon sets' overhead)"
                    ),
                ),
            )
        plans.append(
            NodePlan(
                node_pool=pool.name,
                placements=tuple(placements[pool.name]),
                new_nodes=tuple(launched.new_nodes),
                targets=tuple(
                    GroupTarget(
                        instance_group=name,
                        target_before=targets[name],
                        target_after=targets[name] + added[name] - removed[name],
                    )
                    for name in pool.instance_groups
                    if added[name] or removed[name]
                ),
                unplaced=tuple(unplaced[pool.name]),
                removals=scale_in.removals,
                replacements=scale_in.replacements,
                moves=scale_in.moves,
                deletions=tuple(deletions.get(pool.name, ())),
                blocked=scale_in.blocked,
                notes=notes + scale_in.notes,
                exact=launched.exact,
            )
        )
    return NodePlans(plans=tuple(plans), unplaced=tuple(nowhere))


def _unavailable_detail(view: PoolView, group: PodGroup) -> str:
    parts = []
    mask = view.option_mask(group)
    for launch in view.options:
        if not mask >> launch.option.index & 1:
            continue
        if launch.unavailable_types and launch.option.available == 0:
            parts.append(f"{launch.group.name}: {', '.join(launch.unavailable_types)} lack capacity")
        elif launch.option.available == 0:
            parts.append(f"{launch.group.name}: at max_count {launch.group.max_count}")
    return "; ".join(parts)
