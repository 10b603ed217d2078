"""A backfill's node floor inside the pool decision: the plan's targets, never below the floor.

Per-group floors become the groups' minimum counts for the node planner, so its consolidation
never chooses a removal that would take a group below its floor (as it never goes below a
group's `minInstanceCount`). A floor on the pool's nodes in total is met, after the plan, first
by keeping nodes the plan would have removed (Empty and Delete removals, the cheapest nodes
first: they run already), then by new nodes on the planner's own launch options (its
`PoolView`: each group's price, its headroom, and no option whose every instance type is marked
unavailable), cheapest first and within the NodePool's limits. What no group can take is
reported, not hidden.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ebb.core.nodes import NodePlan, NodeRemoval, PlanningInput, RemovalKind
from ebb.core.nodes.packing import consume, limit_room
from ebb.core.nodes.pool_view import PoolView
from ebb.core.nodes.quantities import Vector, add, scale
from ebb.service.decision.pool_state import BackfillFloor


def with_group_floors(planning: PlanningInput, floor: BackfillFloor) -> PlanningInput:
    """`planning` with each floored group's minimum count raised to its floor."""
    if not floor.group_nodes:
        return planning
    groups = tuple(
        group.model_copy(update={"min_count": max(group.min_count, floor.group_nodes[group.name])})
        if group.name in floor.group_nodes
        else group
        for group in planning.instance_groups
    )
    return PlanningInput.model_validate({**dict(planning), "instance_groups": groups})


@dataclass(frozen=True, slots=True)
class FlooredTargets:
    """The plan's targets raised to a backfill's floor, and how."""

    targets: dict[str, int]
    removals: tuple[NodeRemoval, ...]
    """The plan's removals still to carry out (those the floor keeps are not)."""
    kept: tuple[str, ...] = ()
    """Nodes the plan would have removed that the floor keeps."""
    added: dict[str, int] = field(default_factory=dict)
    """New nodes per group for the floor (beyond the plan's own)."""
    short: int = 0
    """Nodes of the total floor that no group can take (headroom, limits or capacity)."""

    def notes(self, floor: BackfillFloor) -> tuple[str, ...]:
        """What the floor changed, readable (empty when the plan met it by itself)."""
        notes = []
        if self.kept:
            notes.append(f"{floor}: keeps {', '.join(self.kept)}")
        if self.added:
            added = ", ".join(f"{group}+{count}" for group, count in sorted(self.added.items()))
            notes.append(f"{floor}: adds {added}")
        if self.short:
            notes.append(
                f"{floor}: {self.short} node(s) short (no group of the pool has headroom, "
                "available capacity or room under the NodePool's limits)"
            )
        return tuple(notes)


def raise_to_floor(
    planning: PlanningInput, plan: NodePlan, targets: dict[str, int], floor: BackfillFloor
) -> FlooredTargets:
    """`targets` (the plan's, per group of the pool) raised to `floor`."""
    raised = {group: max(count, floor.group_nodes.get(group, 0)) for group, count in targets.items()}
    added = {group: raised[group] - targets[group] for group in targets if raised[group] > targets[group]}
    missing = 0 if floor.nodes is None else max(floor.nodes - sum(raised.values()), 0)

    # Keep nodes the plan would remove before launching new ones: they are there already.
    keepable = sorted(
        (r for r in plan.removals if r.kind is not RemovalKind.REPLACE),
        key=lambda r: (r.saves_per_hour, r.node),
    )
    kept = tuple(r.node for r in keepable[:missing])
    for removal in keepable[:missing]:
        raised[removal.instance_group] += 1
    missing -= len(kept)
    removals = tuple(r for r in plan.removals if r.node not in kept)

    launched: dict[str, int] = {}
    if missing:
        launched, missing = _cheapest_new_nodes(planning, plan.node_pool, raised, missing)
    for group, count in launched.items():
        raised[group] += count
        added[group] = added.get(group, 0) + count
    return FlooredTargets(targets=raised, removals=removals, kept=kept, added=added, short=missing)


def _cheapest_new_nodes(
    planning: PlanningInput, pool_name: str, targets: dict[str, int], wanted: int
) -> tuple[dict[str, int], int]:
    """`wanted` new nodes over the pool's launch options, cheapest first; returns them and the rest."""
    (pool,) = [p for p in planning.node_pools if p.name == pool_name]
    view = PoolView(
        pool,
        groups={g.name: g for g in planning.instance_groups},
        targets=targets,
        types={t.name: t for t in planning.instance_types},
        nodes=[],
        pod_groups={},
        unavailable=planning.unavailable,
        now=planning.now,
    )
    # Every node the groups' targets hold counts against the NodePool's limits, launching or not.
    used: Vector = (0, 0, 0, 0)
    for launch in view.options:
        used = add(used, scale(launch.option.limit_usage, targets[launch.group.name]))
    limits = pool.limits.headroom(used)
    chosen: dict[str, int] = {}
    for launch in sorted(view.options, key=lambda o: (o.option.cost, o.group.name)):
        if not wanted:
            break
        room = [wanted]
        if launch.option.available is not None:
            room.append(launch.option.available)
        if (under_limits := limit_room(limits, launch.option.limit_usage)) is not None:
            room.append(under_limits)
        count = max(min(room), 0)
        if count:
            chosen[launch.group.name] = count
            limits = consume(limits, launch.option.limit_usage, count)
            wanted -= count
    return chosen, wanted
