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
from ebb.core.nodes.domains import (
    Allocation,
    Cell,
    CellIndex,
    Rule,
    RuleKind,
    allocate,
    cell_of,
    conflicts,
    group_rules,
    matching_on,
    new_node_cap,
    new_nodes_allowed,
    node_room,
)
from ebb.core.nodes.exact import WorkTally
from ebb.core.nodes.inputs import PlanningInput
from ebb.core.nodes.new_nodes import FULL_EFFORT, Effort, pack
from ebb.core.nodes.packing import Batch, Item, Option, Packing, Shortfall, consume
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
from ebb.core.nodes.pool_view import NodeView, PoolView
from ebb.core.nodes.preferences import Preference, describe, in_force, next_relaxation
from ebb.core.nodes.quantities import how_many_fit, scale
from ebb.core.nodes.reshare import Outcome, Shares, improves, reshare
from ebb.core.nodes.topology import HOSTNAME_KEY
from ebb.core.nodes.workload import ExistingNode, PodGroup

_REASONS = {
    Shortfall.NO_FIT: UnplacedReason.FITS_NO_TYPE,
    Shortfall.UNAVAILABLE: UnplacedReason.OFFERINGS_UNAVAILABLE,
    Shortfall.LIMIT: UnplacedReason.POOL_LIMIT,
}
_RULE_REASONS = {
    RuleKind.SPREAD: UnplacedReason.TOPOLOGY_SPREAD,
    RuleKind.AFFINITY: UnplacedReason.POD_AFFINITY,
    RuleKind.ANTI_AFFINITY: UnplacedReason.POD_ANTI_AFFINITY,
}
# Passes that re-share a constrained group's pods after some cell could not take its share (each
# pass lowers that cell's bound to what it took), so that the spread holds over what is placed.
MAX_PASSES = 6
# Re-share measures a plan by its pending pods times launch options (a trial is a whole plan: its
# greedy constructions, pool views and allocations cost about that product): it makes at most
# RESHARE_TRIAL_SIZE // size trials, none above RESHARE_MAX_SIZE, and stops once its trials'
# packings took RESHARE_WORK search steps.
RESHARE_MAX_SIZE = 2_400
RESHARE_TRIAL_SIZE = 24_000
RESHARE_WORK = 1_500_000
# A trial's packings search less than a plan's (DEFAULT_WORK and IMPROVEMENT_WORK): the search
# compares many plans, and the one it ends with is planned again in full.
TRIAL_EFFORT = Effort(exact_work=200_000, improvement_work=60_000)


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

    def __init__(
        self,
        inp: PlanningInput,
        relaxed: frozenset[Preference] = frozenset(),
        caps: dict[str, dict[Cell, int]] | None = None,
        *,
        steer: Shares | None = None,
        tally: WorkTally | None = None,
        effort: Effort = FULL_EFFORT,
    ) -> None:
        self.inp = inp
        self.tally = tally
        self.effort = effort
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
        self.to_place = sum(self.pending.values())
        """Pods without a node when the planning starts."""
        self.surplus = {
            g.name: running[g.name] - g.replicas for g in inp.pod_groups if running[g.name] > g.replicas
        }
        self.order = packing_order(inp.pod_groups)
        self.shortfalls: dict[str, list[tuple[str, UnplacedReason, str]]] = defaultdict(list)
        self.rules = group_rules(inp.pod_groups, relaxed)
        self.allocations: dict[str, Allocation] = {}
        self.shares: dict[str, dict[Cell, int]] = {}
        """Each constrained group's pods per cell as first shared out (before any was placed)."""
        self.bundles: set[str] = set()
        self.steerable: dict[str, tuple[Cell, ...]] = {}
        """Groups whose share over several cells :mod:`ebb.core.nodes.reshare` may move: their cells."""
        self.blocked: dict[str, tuple[int, Rule]] = {}
        self.cells = CellIndex()
        self._allocate(caps or {}, steer or {})

    def _allocate(self, caps: dict[str, dict[Cell, int]], steer: Shares) -> None:
        """Share each constrained group's pending pods over its cells, largest groups first."""
        views = [self.views[p.name] for p in self.pools]
        planned: dict[str, Counter[tuple[str, str]]] = {}
        for group in self.order:
            rules = self.rules[group.name]
            pending = self.pending[group.name]
            if not rules or not pending:
                continue
            bundle = False
            for rule in rules:
                if rule.key != HOSTNAME_KEY or rule.kind is not RuleKind.AFFINITY:
                    continue
                anywhere = any(
                    matching_on(rule, n.pods) for v in views for n in v.nodes if not n.node.deleting
                )
                if not anywhere and rule.self_match:
                    bundle = True  # the first pods choose the node; the rest must join them
                elif not anywhere:
                    self.blocked[group.name] = (pending, rule)
            if group.name in self.blocked:
                continue
            if bundle:
                self.bundles.add(group.name)
            allocation = allocate(
                group,
                rules,
                pending,
                views=views,
                planned=planned,
                caps=caps.get(group.name, {}),
                cells=self.cells,
                bundle=bundle,
                steer=steer.get(group.name),
            )
            if not allocation.keys:
                allocation.quota = {(): pending}
                allocation.blocked = 0
            elif allocation.blocked and allocation.blocked_by is not None:
                self.blocked[group.name] = (allocation.blocked, allocation.blocked_by)
            self.allocations[group.name] = allocation
            self.shares[group.name] = dict(allocation.quota)
            if len(allocation.cells) > 1 and not bundle:
                self.steerable[group.name] = allocation.cells
            mine = planned.setdefault(group.name, Counter())
            for cell, count in allocation.quota.items():
                for key, value in zip(allocation.keys, cell, strict=True):
                    mine[(key, value)] += count

    def _room(self, group: PodGroup, target: NodeView) -> tuple[Cell | None, int]:
        """The node's cell for a constrained group and how many of its pods may still go there."""
        allocation = self.allocations.get(group.name)
        if allocation is None:
            # A group blocked before allocation (affinity to pods that run nowhere) goes nowhere.
            return (None, 0) if group.name in self.blocked else ((), self.pending[group.name])
        cell = cell_of(allocation.keys, target.labels) if allocation.keys else ()
        if cell is None:
            return None, 0
        rules = self.rules[group.name]
        if group.name in self.bundles:
            rules = [r for r in rules if r.kind is not RuleKind.AFFINITY or r.key != HOSTNAME_KEY]
        return cell, min(allocation.quota.get(cell, 0), node_room(rules, target))

    def shortfall_caps(self) -> dict[str, dict[Cell, int]]:
        """Cells that could not take their share of a constrained group: what each took."""
        short: dict[str, dict[Cell, int]] = {}
        for name, allocation in self.allocations.items():
            if not allocation.keys:
                continue
            for cell, left in allocation.quota.items():
                if left:
                    short.setdefault(name, {})[cell] = self.shares[name][cell] - left
        return short

    def to_relax(self, relaxed: frozenset[Preference]) -> dict[str, Preference]:
        """Per group with pods left pending, its next preference not yet relaxed (Karpenter's order)."""
        found: dict[str, Preference] = {}
        for group in self.inp.pod_groups:
            if not self.pending[group.name]:
                continue
            preference = next_relaxation(group, relaxed)
            if preference is not None:
                found[group.name] = preference
        return found

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
                    cell, room = self._room(group, target)
                    if cell is None:
                        continue
                    fit = how_many_fit(group.vector, target.free)
                    count = min(self.pending[group.name], fit, room)
                    if group.name in self.bundles and count < room:
                        continue  # the bundle goes onto one node whole, or not at all
                    if count:
                        if group.name in self.allocations:
                            self.allocations[group.name].quota[cell] -= count
                            if group.name in self.bundles:
                                self.bundles.discard(group.name)
                                self.allocations[group.name].quota = {}
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
        items, entries = self._items(view)
        options = [launch.option for launch in view.options]
        packing = self._pack_apart(items, entries, options, view)
        result = _Launches(exact=packing.exact, tied_with=packing.tied_with)
        for batch in packing.batches:
            launch = view.options[batch.option]
            for key, count in batch.contents:
                name, cell, per_item = entries[key]
                placed = count * per_item * batch.count
                self.pending[name] -= placed
                if cell is not None:
                    self.allocations[name].quota[cell] -= placed
            result.new_nodes.append(
                NewNodes(
                    instance_group=launch.group.name,
                    instance_types=tuple(t.name for t in launch.types),
                    zone=launch.group.zone,
                    count=batch.count,
                    pods_per_node=tuple(
                        (entries[key][0], count * entries[key][2]) for key, count in batch.contents
                    ),
                    price_per_hour=launch.option.cost,
                )
            )
        seen: set[tuple[str, Shortfall]] = set()
        for key, (_, shortfall, blocked_by) in packing.leftover.items():
            group = self.pod_groups[entries[key][0]]
            if (group.name, shortfall) in seen:
                continue
            seen.add((group.name, shortfall))
            detail = blocked_by
            if shortfall is Shortfall.UNAVAILABLE:
                detail = _unavailable_detail(view, group)
            elif shortfall is Shortfall.LIMIT and blocked_by:
                detail = f"limit on {blocked_by}"
            self.shortfalls[group.name].append((pool_name, _REASONS[shortfall], detail))
        return result

    def _items(self, view: PoolView) -> tuple[list[Item], list[tuple[str, Cell | None, int]]]:
        """The pending pods as packing items, and per item key: group, cell, pods per item."""
        items: list[Item] = []
        entries: list[tuple[str, Cell | None, int]] = []
        for group in self.order:
            pending = self.pending[group.name]
            mask = view.option_mask(group) if pending else 0
            if not mask:
                continue
            allocation = self.allocations.get(group.name)
            if allocation is None and group.name in self.blocked:
                continue  # blocked before allocation: no node may take these pods
            if allocation is None:
                items.append(Item(key=len(entries), count=pending, vector=group.vector, mask=mask))
                entries.append((group.name, None, 1))
                continue
            rules = self.rules[group.name]
            bundle = group.name in self.bundles
            if not bundle and not new_nodes_allowed(rules):
                continue
            cap = new_node_cap(rules)
            for cell, count in sorted(allocation.quota.items()):
                narrowed = mask & self.cells.mask(view, allocation.keys, cell) if allocation.keys else mask
                if not count or not narrowed:
                    continue
                if bundle:
                    self._bundle(view, group, cell, count, narrowed, items, entries)
                    break
                items.append(Item(key=len(entries), count=count, vector=group.vector, mask=narrowed, cap=cap))
                entries.append((group.name, cell, 1))
        return items, entries

    def _bundle(  # noqa: PLR0917 - one step of ``_items``, sharing its lists
        self,
        view: PoolView,
        group: PodGroup,
        cell: Cell,
        count: int,
        mask: int,
        items: list[Item],
        entries: list[tuple[str, Cell | None, int]],
    ) -> None:
        """Pods that must share a node, as one item as large as all of them.

        Those beyond what the largest node holds stay pending: the first node decides the domain.
        """
        most = max(
            how_many_fit(group.vector, view.options[i].option.capacity)
            for i in range(len(view.options))
            if mask >> i & 1
        )
        if most < count:
            rules = self.rules[group.name]
            rule = next(r for r in rules if r.kind is RuleKind.AFFINITY and r.key == HOSTNAME_KEY)
            self.blocked[group.name] = (count - most, rule)
            self.allocations[group.name].quota[cell] = most
            count = most
        if count:
            items.append(Item(key=len(entries), count=1, vector=scale(group.vector, count), mask=mask))
            entries.append((group.name, cell, count))

    def _pack_apart(
        self,
        items: list[Item],
        entries: list[tuple[str, Cell | None, int]],
        options: list[Option],
        view: PoolView,
    ) -> Packing:
        """Pack the items; groups that may not share a node (hostname anti-affinity) in turn, apart."""
        apart = conflicts(self.rules)
        if not apart:
            return pack(
                items,
                options,
                view.limits,
                self.inp.exact_search_states,
                tally=self.tally,
                effort=self.effort,
            )
        classes: list[tuple[list[Item], set[str]]] = []
        for item in items:
            name = entries[item.key][0]
            for members, names in classes:
                if not apart.get(name, set()) & names:
                    members.append(item)
                    names.add(name)
                    break
            else:
                classes.append(([item], {name}))
        if len(classes) <= 1:
            return pack(
                items,
                options,
                view.limits,
                self.inp.exact_search_states,
                tally=self.tally,
                effort=self.effort,
            )
        combined = Packing(exact=True)
        limits = view.limits
        reserved = list(options)
        for members, _ in classes:
            packing = pack(
                members, reserved, limits, self.inp.exact_search_states, tally=self.tally, effort=self.effort
            )
            combined.batches.extend(packing.batches)
            combined.leftover.update(packing.leftover)
            combined.exact = combined.exact and packing.exact
            for batch in packing.batches:
                limits = consume(limits, options[batch.option].limit_usage, batch.count)
            reserved = [
                Option(
                    index=o.index,
                    capacity=o.capacity,
                    cost=o.cost,
                    available=None
                    if o.available is None
                    else o.available - sum(b.count for b in combined.batches if b.option == o.index),
                    limit_usage=o.limit_usage,
                )
                for o in options
            ]
        combined.batches = [
            Batch(option=b.option, count=b.count, contents=b.contents) for b in combined.batches
        ]
        return combined

    def home_pool(self, group: PodGroup) -> str:
        """The first pool (in weight order) whose nodes the pods may use at all."""
        for pool in self.pools:
            view = self.views[pool.name]
            if view.option_mask(group) or any(view.runs_on(group, n.labels) for n in view.nodes):
                return pool.name
        return self.pools[0].name

    def unplaced(self) -> tuple[dict[str, list[UnplacedPods]], list[UnplacedPods]]:
        """Pods still pending: per pool where they first fell short, and those no pool can run."""
        by_pool: dict[str, list[UnplacedPods]] = defaultdict(list)
        nowhere: list[UnplacedPods] = []
        for group in self.inp.pod_groups:
            left = self.pending[group.name]
            if not left:
                continue
            if group.name in self.blocked:
                count, rule = self.blocked[group.name]
                count = min(count, left)
                left -= count
                by_pool[self.home_pool(group)].append(
                    UnplacedPods(
                        group=group.name,
                        count=count,
                        reason=_RULE_REASONS[rule.kind],
                        node_pool=self.home_pool(group),
                        detail=f"{rule.origin}: no domain the pods may use keeps it",
                    )
                )
                if not left:
                    continue
            tried = self.shortfalls.get(group.name, [])
            needs = [
                r for r in self.rules[group.name] if r.kind is RuleKind.AFFINITY and r.key == HOSTNAME_KEY
            ]
            if not tried and needs:
                by_pool[self.home_pool(group)].append(
                    UnplacedPods(
                        group=group.name,
                        count=left,
                        reason=UnplacedReason.POD_AFFINITY,
                        node_pool=self.home_pool(group),
                        detail=f"{needs[0].origin}: no node running the pods it needs has room for them",
                    )
                )
                continue
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


@dataclass(frozen=True, slots=True)
class _Attempt:
    """One pass of the planner through placement and launches."""

    planning: _Planning
    placements: dict[str, list[ExistingPlacement]]
    launches: dict[str, _Launches]

    def outcome(self) -> Outcome[_Attempt]:
        """The attempt as :mod:`ebb.core.nodes.reshare` compares plans."""
        new = [n for launched in self.launches.values() for n in launched.new_nodes]
        planning = self.planning
        return Outcome(
            cost=sum(n.cost_per_hour for n in new),
            nodes=sum(n.count for n in new),
            pending=sum(planning.pending.values()),
            shares={name: dict(planning.shares[name]) for name in planning.steerable},
            plan=self,
        )


def _reshared(
    inp: PlanningInput, relaxed: frozenset[Preference], caps: dict[str, dict[Cell, int]], first: _Attempt
) -> Outcome[_Attempt]:
    """``first``, or a cheaper plan with constrained groups' pods moved between cells (bounded).

    Each trial of the search (:func:`~ebb.core.nodes.reshare.reshare`) is a whole plan, made with
    :data:`TRIAL_EFFORT` (and so compared with the start planned the same way); the search stops
    after ``inp.reshare_trials`` trials (fewer for larger plans: :data:`RESHARE_TRIAL_SIZE`) or
    once their packings took :data:`RESHARE_WORK` search steps, and runs only below
    :data:`RESHARE_MAX_SIZE`. The shares it ends with are planned
    again as ``first`` was, and that plan is kept only if it is better.
    """
    start = first.outcome()
    steerable = first.planning.steerable
    size = first.planning.to_place * sum(len(view.options) for view in first.planning.views.values())
    trials = min(inp.reshare_trials, RESHARE_TRIAL_SIZE // max(size, 1))
    if not steerable or not trials or size > RESHARE_MAX_SIZE:
        return start
    left = [RESHARE_WORK]

    def afford() -> bool:
        return left[0] > 0

    def allows(shares: Shares) -> bool:
        planning = _Planning(inp, relaxed, caps, steer=shares)
        return all(planning.shares.get(name) == own for name, own in shares.items())

    def plan(shares: Shares, effort: Effort) -> _Attempt | None:
        tally = WorkTally()
        planning = _Planning(inp, relaxed, caps, steer=shares, tally=tally, effort=effort)
        placements = planning.place_on_existing()
        launches = {pool.name: planning.launch(pool.name) for pool in planning.pools}
        left[0] -= tally.steps
        if planning.shortfall_caps():
            return None  # a cell could not take its steered share: not a plan of those shares
        return _Attempt(planning, placements, launches)

    def attempt(shares: Shares) -> Outcome[_Attempt] | None:
        made = plan(shares, TRIAL_EFFORT)
        return None if made is None else made.outcome()

    baseline = attempt(start.shares)
    if baseline is None:
        return start
    found = reshare(
        baseline, steerable, allows=allows, attempt=attempt, afford=afford, trials=inp.reshare_trials
    )
    if found is baseline:
        return start
    final = plan(found.shares, FULL_EFFORT)
    if final is None:
        return start
    chosen = final.outcome()
    return chosen if improves(chosen, start) else start


def plan_nodes(inp: PlanningInput) -> NodePlans:
    """Plan every NodePool: placements, new nodes, removals, with the reasons."""
    relaxed: frozenset[Preference] = frozenset()
    relaxations: list[PlanNote] = []
    while True:
        # Preferences are required while in force: the preferred node affinity term in force joins
        # the required node affinity; the pod (anti-)affinity ones become rules (group_rules).
        effective = inp
        if any(g.preferred_node_affinity for g in inp.pod_groups):
            effective = inp.model_copy(
                update={"pod_groups": tuple(in_force(g, relaxed) for g in inp.pod_groups)}
            )
        caps: dict[str, dict[Cell, int]] = {}
        for _ in range(MAX_PASSES):
            planning = _Planning(effective, relaxed, caps)
            placements = planning.place_on_existing()
            launches = {pool.name: planning.launch(pool.name) for pool in planning.pools}
            short = planning.shortfall_caps()
            if not short:
                break
            for name, cells in short.items():
                caps.setdefault(name, {}).update(cells)
        # Preferences are given up one at a time, in Karpenter's order (ebb.core.nodes.preferences).
        giving_up = planning.to_relax(relaxed)
        if not giving_up:
            break
        for name, preference in sorted(giving_up.items()):
            relaxations.append(
                PlanNote(
                    code="Relaxed",
                    message=(
                        f"{name}: {describe(planning.pod_groups[name], preference)} relaxed: the pods "
                        "could not all be placed keeping it"
                    ),
                )
            )
        relaxed |= frozenset(giving_up.values())
    # The cheapest plan the re-share search finds (the one made is the search's start).
    chosen = _reshared(effective, relaxed, caps, _Attempt(planning, placements, launches)).plan
    planning, placements, launches = chosen.planning, chosen.placements, chosen.launches
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
            pinned=frozenset(name for name, rules in planning.rules.items() if rules),
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
                notes=notes + tuple(relaxations) + scale_in.notes,
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
