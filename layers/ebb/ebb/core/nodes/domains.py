"""Where each pod may go given the pods around it: the rules of :mod:`ebb.core.nodes.topology` resolved.

The packing machinery knows nothing of other pods, so the planner turns each group's constraints
into things it does know:

* constraints on a topology key whose value a whole launch option shares (zone, instance group,
  instance type, capacity type) become *cells*: the group's pending pods are shared out over the
  cells pod by pod, each pod into the cheapest cell every rule allows (kube-scheduler's filter,
  with the counts updated as Karpenter updates them after each pod), and each cell's share is then
  packed with the launch options and nodes of that cell only;
* hostname constraints become a per-node room on existing nodes and a per-node cap on new ones;
* hostname anti-affinity between different groups keeps them off shared new nodes (packed apart);
* a group whose pods must share one node (hostname affinity to itself, none running yet) is
  packed as one bundle.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from ebb.core.nodes.packing import Option
from ebb.core.nodes.pool_view import NodeView, PoolView
from ebb.core.nodes.preferences import Preference, PreferenceKind
from ebb.core.nodes.quantities import how_many_fit
from ebb.core.nodes.topology import HOSTNAME_KEY, LabelSelector, WhenUnsatisfiable
from ebb.core.nodes.workload import PodGroup

UNBOUNDED = 1 << 62
PRICED_OPTIONS = 16


class RuleKind(StrEnum):
    """What a rule asks of a domain."""

    SPREAD = "TopologySpread"
    AFFINITY = "PodAffinity"
    ANTI_AFFINITY = "PodAntiAffinity"


@dataclass(frozen=True, slots=True)
class Rule:
    """One constraint of one group on one topology key, with the groups whose pods it counts."""

    kind: RuleKind
    key: str
    counts: frozenset[str]
    """Names of the pod groups whose pods the selector matches (in a counted namespace)."""
    self_match: bool
    """The group's own pods count (``selfMatchNum`` is 1)."""
    max_skew: int = 0
    min_domains: int | None = None
    relaxable: bool = False
    """``whenUnsatisfiable: ScheduleAnyway``: a preference."""
    origin: str = ""
    """How the plan names the rule (``topologySpreadConstraints[0] on topology.kubernetes.io/zone``)."""


class _GroupIndex:
    """The pod groups by label, so that a selector is checked only against groups that can match."""

    def __init__(self, groups: tuple[PodGroup, ...]) -> None:
        self.groups = groups
        self.by_label: dict[tuple[str, str], list[PodGroup]] = defaultdict(list)
        for group in groups:
            for item in group.labels.items():
                self.by_label[item].append(group)

    def matching(self, selector: LabelSelector | None, namespaces: Iterable[str]) -> frozenset[str]:
        """Names of the groups in ``namespaces`` whose pods ``selector`` matches."""
        if selector is None:
            return frozenset()
        allowed = set(namespaces)
        candidates: Iterable[PodGroup] = self.groups
        if selector.match_labels:
            candidates = self.by_label.get(next(iter(selector.match_labels.items())), [])
        return frozenset(g.name for g in candidates if g.namespace in allowed and selector.matches(g.labels))


def group_rules(
    groups: tuple[PodGroup, ...], relaxed: frozenset[Preference] = frozenset()
) -> dict[str, list[Rule]]:
    """Every group's rules, its own and those other groups' anti-affinity imposes on it.

    ``relaxed`` names the preferences already given up (ScheduleAnyway spreads, preferred pod
    (anti-)affinity terms); those still in force are rules like the required ones.
    """
    rules: dict[str, list[Rule]] = {g.name: [] for g in groups}
    if not any(g.has_pod_constraints for g in groups):
        return rules
    index_of = _GroupIndex(groups)
    _matching = index_of.matching
    for group in groups:
        for index, spread in enumerate(group.topology_spread):
            if Preference(group.name, PreferenceKind.SPREAD, index) in relaxed:
                continue
            counted = _matching(spread.selector_for(group.labels), (group.namespace,))
            rules[group.name].append(
                Rule(
                    kind=RuleKind.SPREAD,
                    key=spread.topology_key,
                    counts=counted,
                    self_match=group.name in counted,
                    max_skew=spread.max_skew,
                    min_domains=spread.min_domains,
                    relaxable=spread.when_unsatisfiable is WhenUnsatisfiable.SCHEDULE_ANYWAY,
                    origin=f"topologySpreadConstraints[{index}] on {spread.topology_key}",
                )
            )
        for index, term in enumerate(group.pod_affinity):
            counted = _matching(term.label_selector, term.namespaces or (group.namespace,))
            rules[group.name].append(
                Rule(
                    kind=RuleKind.AFFINITY,
                    key=term.topology_key,
                    counts=counted,
                    self_match=group.name in counted,
                    origin=f"podAffinity[{index}] on {term.topology_key}",
                )
            )
        for index, term in enumerate(group.pod_anti_affinity):
            counted = _matching(term.label_selector, term.namespaces or (group.namespace,))
            rules[group.name].append(
                Rule(
                    kind=RuleKind.ANTI_AFFINITY,
                    key=term.topology_key,
                    counts=counted,
                    self_match=group.name in counted,
                    origin=f"podAntiAffinity[{index}] on {term.topology_key}",
                )
            )
            # Symmetry: a pod the term matches may not join this group's pods either (required
            # terms only: a preferred anti-affinity does not keep other pods away).
            for other in sorted(counted - {group.name}):
                rules[other].append(
                    Rule(
                        kind=RuleKind.ANTI_AFFINITY,
                        key=term.topology_key,
                        counts=frozenset({group.name}),
                        self_match=False,
                        origin=f"podAntiAffinity[{index}] of {group.name!r} on {term.topology_key}",
                    )
                )
        for kind, preferred in (
            (PreferenceKind.POD_AFFINITY, group.preferred_pod_affinity),
            (PreferenceKind.POD_ANTI_AFFINITY, group.preferred_pod_anti_affinity),
        ):
            field = "podAffinity" if kind is PreferenceKind.POD_AFFINITY else "podAntiAffinity"
            rule_kind = RuleKind.AFFINITY if kind is PreferenceKind.POD_AFFINITY else RuleKind.ANTI_AFFINITY
            for index, weighted in enumerate(preferred):
                if Preference(group.name, kind, index) in relaxed:
                    continue
                term = weighted.term
                counted = _matching(term.label_selector, term.namespaces or (group.namespace,))
                rules[group.name].append(
                    Rule(
                        kind=rule_kind,
                        key=term.topology_key,
                        counts=counted,
                        self_match=group.name in counted,
                        relaxable=True,
                        origin=(
                            f"{field}.preferredDuringSchedulingIgnoredDuringExecution[{index}] "
                            f"on {term.topology_key} (weight {weighted.weight})"
                        ),
                    )
                )
    return rules


def matching_on(rule: Rule, pods: Mapping[str, int]) -> int:
    """How many pods ``rule`` counts among ``pods`` (per group)."""
    return sum(count for name, count in pods.items() if name in rule.counts)


def node_room(rules: list[Rule], node: NodeView) -> int:
    """How many more pods of the group the hostname rules let onto ``node``."""
    room = UNBOUNDED
    for rule in rules:
        if rule.key != HOSTNAME_KEY:
            continue
        here = matching_on(rule, node.pods)
        if rule.kind is RuleKind.SPREAD:
            # The minimum over hostnames is 0: a new node is always a possible, empty domain.
            if rule.self_match:
                room = min(room, max(rule.max_skew - here, 0))
            elif here > rule.max_skew:
                room = 0
        elif rule.kind is RuleKind.ANTI_AFFINITY:
            if here:
                room = 0
            elif rule.self_match:
                room = min(room, 1)
        elif not here:
            room = 0
    return room


def new_node_cap(rules: list[Rule]) -> int | None:
    """The most pods of the group one new (empty) node may hold, by the hostname rules."""
    cap: int | None = None
    for rule in rules:
        if rule.key != HOSTNAME_KEY or not rule.self_match:
            continue
        if rule.kind is RuleKind.SPREAD:
            cap = rule.max_skew if cap is None else min(cap, rule.max_skew)
        elif rule.kind is RuleKind.ANTI_AFFINITY:
            cap = 1
    return cap


def new_nodes_allowed(rules: list[Rule]) -> bool:
    """Whether an empty new node is a domain the hostname rules accept at all."""
    return not any(rule.key == HOSTNAME_KEY and rule.kind is RuleKind.AFFINITY for rule in rules)


def cell_keys(rules: list[Rule]) -> tuple[str, ...]:
    """The topology keys other than hostname the group's rules use."""
    return tuple(sorted({rule.key for rule in rules if rule.key != HOSTNAME_KEY}))


Cell = tuple[str, ...]


def cell_of(keys: tuple[str, ...], labels: tuple[dict[str, str], ...]) -> Cell | None:
    """The values of ``keys`` every possible type of a node agrees on; ``None`` if any is missing."""
    values = []
    for key in keys:
        seen = {one.get(key) for one in labels}
        if len(seen) != 1:
            return None
        (value,) = seen
        if value is None:
            return None
        values.append(value)
    return tuple(values)


@dataclass
class CellShare:
    """What is known of one cell for one group while its pods are shared out."""

    cell: Cell
    room: int
    """Upper bound on how many more pods of the group the cell can take."""
    free_room: int
    """Of which on nodes that exist (costing nothing more)."""
    price: float
    """Cheapest price per pod of a new node in the cell (``inf``: none can be launched)."""
    per_node: int = 1
    """How many of the group's pods a node of that cheapest option holds."""
    taken: int = 0


@dataclass
class Allocation:
    """A group's pending pods shared out over cells, and those no cell may take."""

    keys: tuple[str, ...]
    quota: dict[Cell, int] = field(default_factory=dict)
    blocked: int = 0
    blocked_by: Rule | None = None
    cells: tuple[Cell, ...] = ()
    """Every cell that could take some of the pods (in cell order), chosen or not."""


def _domains(rule: Rule, keys: tuple[str, ...], cells: Iterable[Cell], extra: Iterable[str]) -> set[str]:
    position = keys.index(rule.key)
    return {cell[position] for cell in cells} | set(extra)


class CellIndex:
    """Each view's launch options and nodes by cell, per set of topology keys (computed once)."""

    def __init__(self) -> None:
        self._options: dict[tuple[int, tuple[str, ...]], dict[Cell, list[int]]] = {}
        self._masks: dict[tuple[int, tuple[str, ...]], dict[Cell, int]] = {}

    def options(self, view: PoolView, keys: tuple[str, ...]) -> dict[Cell, list[int]]:
        """Option indices per cell, cheapest first."""
        known = self._options.get((id(view), keys))
        if known is None:
            known = {}
            for launch in sorted(view.options, key=lambda o: (o.option.cost, o.option.index)):
                cell = cell_of(keys, launch.labels)
                if cell is not None:
                    known.setdefault(cell, []).append(launch.option.index)
            self._options[(id(view), keys)] = known
        return known

    def mask(self, view: PoolView, keys: tuple[str, ...], cell: Cell) -> int:
        """The launch options of ``view`` whose nodes fall in ``cell``."""
        masks = self._masks.get((id(view), keys))
        if masks is None:
            masks = {c: sum(1 << i for i in indices) for c, indices in self.options(view, keys).items()}
            self._masks[(id(view), keys)] = masks
        return masks.get(cell, 0)


def allocate(
    group: PodGroup,
    rules: list[Rule],
    pending: int,
    *,
    views: list[PoolView],
    planned: Mapping[str, Counter[tuple[str, str]]],
    caps: Mapping[Cell, int],
    cells: CellIndex,
    bundle: bool = False,
    steer: Mapping[Cell, int] | None = None,
) -> Allocation:
    """Share ``pending`` pods of ``group`` over the cells of its non-hostname rules.

    ``planned`` holds earlier groups' allocations in this plan by ``(key, value)``; ``caps`` bounds
    cells that fell short in an earlier pass (their shares could not be placed). A ``bundle``
    (pods that must share one new node) goes to one cell. ``steer`` asks for a share per cell
    (:mod:`ebb.core.nodes.reshare`): each pod goes to a cell still below its asked share when
    the rules let it, else where it would have gone; every pod passes the same filter either way.
    """
    keys = cell_keys(rules)
    result = Allocation(keys=keys)
    cell_rules = [r for r in rules if r.key != HOSTNAME_KEY]
    shares: dict[Cell, CellShare] = {}
    # Domains and counts come from every node the pods' node constraints accept (nodeAffinityPolicy
    # Honor) and every launch option they may use; pods count wherever they run.
    counts: dict[int, Counter[str]] = {i: Counter() for i in range(len(cell_rules))}
    node_domains: dict[int, set[str]] = defaultdict(set)
    cap_per_node = new_node_cap(rules)
    launchable = bundle or new_nodes_allowed(rules)
    for view in views:
        tolerated = view.tolerates(group)
        mask = view.option_mask(group)
        for node in view.nodes:
            if node.node.deleting:
                continue
            labels = node.labels[0]
            for index, rule in enumerate(cell_rules):
                value = labels.get(rule.key)
                if value is not None:
                    counts[index][value] += matching_on(rule, node.pods)
            if not tolerated or not view.runs_on(group, node.labels):
                continue
            cell = cell_of(keys, node.labels)
            if cell is None:
                continue
            for index, rule in enumerate(cell_rules):
                node_domains[index].add(cell[keys.index(rule.key)])
            if not node.accepts_pods:
                continue
            fit = min(how_many_fit(group.vector, node.free), node_room(rules, node))
            share = shares.setdefault(cell, CellShare(cell=cell, room=0, free_room=0, price=math.inf))
            share.room += fit
            share.free_room += fit
        if not launchable:
            continue
        by_cell = cells.options(view, keys)
        # Prices only rank cells against each other: with one cell, its room is all that matters.
        # The rank looks at each cell's PRICED_OPTIONS cheapest usable options (a ranking
        # heuristic: the packing then chooses the nodes among all of them).
        priced = len(by_cell) > 1 or len(views) > 1
        for cell, indices in by_cell.items():
            looked = 0
            for index in indices:
                if not mask >> index & 1:
                    continue
                option = view.options[index].option
                per_node = _per_node(group, option, cap_per_node)
                if per_node == 0:
                    continue
                share = shares.setdefault(cell, CellShare(cell=cell, room=0, free_room=0, price=math.inf))
                available = option.available
                share.room = (
                    UNBOUNDED if available is None else min(share.room + available * per_node, UNBOUNDED)
                )
                if option.cost / per_node < share.price:
                    share.price, share.per_node = option.cost / per_node, per_node
                looked += 1
                if share.room >= UNBOUNDED and (not priced or looked >= PRICED_OPTIONS):
                    break
    for cell, cap in caps.items():
        if cell in shares:
            shares[cell].room = min(shares[cell].room, cap)
    for index, rule in enumerate(cell_rules):
        for name in rule.counts:
            for (key, value), count in planned.get(name, Counter()).items():
                if key == rule.key:
                    counts[index][value] += count
    domains = {
        index: _domains(rule, keys, shares, node_domains[index]) for index, rule in enumerate(cell_rules)
    }
    anywhere = {index: sum(counts[index].values()) for index in range(len(cell_rules))}
    ordered = sorted(shares.values(), key=lambda s: s.cell)
    result.cells = tuple(share.cell for share in ordered if share.room)
    positions = [keys.index(rule.key) for rule in cell_rules]
    for _ in range(pending):
        best: CellShare | None = None
        best_key: tuple[float, ...] | None = None
        failed: Rule | None = None
        lowest = [_lowest(rule, counts[index], domains[index]) for index, rule in enumerate(cell_rules)]
        for share in ordered:
            if share.taken >= share.room:
                continue
            refusal = _refusal(cell_rules, positions, share.cell, counts, lowest, anywhere)
            if refusal is not None:
                failed = failed or refusal
                continue
            # A pod costs nothing more on an existing node's free room, or in a slot of a new node
            # this cell's earlier pods already opened (its cheapest option, partly filled): only
            # a pod that opens a node pays its per-pod price. Without this, equal-price cells
            # get one pod each and each opens a node (1/1/1 on three small nodes where 3/0/0
            # fills one big one that the skew allows).
            beyond = share.taken - share.free_room
            price = 0.0 if beyond < 0 or beyond % share.per_node else share.price
            rank: tuple[float, ...] = (price, share.taken)
            if steer is not None:
                # Cells below their asked share first (False sorts before True).
                rank = (share.taken >= steer.get(share.cell, 0), price, share.taken)
            if best_key is None or rank < best_key:
                best, best_key = share, rank
        if best is None:
            result.blocked = pending - sum(result.quota.values())
            result.blocked_by = failed or (cell_rules[0] if cell_rules else None)
            break
        if bundle:
            ordered = [best]
        best.taken += 1
        result.quota[best.cell] = result.quota.get(best.cell, 0) + 1
        for index, rule in enumerate(cell_rules):
            if rule.self_match:
                counts[index][best.cell[positions[index]]] += 1
                anywhere[index] += 1
    return result


def _lowest(rule: Rule, counts: Counter[str], eligible: set[str]) -> int:
    """The global minimum of a spread rule's matching pods over its eligible domains."""
    if rule.kind is not RuleKind.SPREAD or (
        rule.min_domains is not None and len(eligible) < rule.min_domains
    ):
        return 0
    return min((counts[d] for d in eligible), default=0)


def _per_node(group: PodGroup, option: Option, cap: int | None) -> int:
    fit = how_many_fit(group.vector, option.capacity)
    return fit if cap is None else min(fit, cap)


def _refusal(  # noqa: PLR0917 - the allocation loop's state, passed flat for speed
    rules: list[Rule],
    positions: list[int],
    cell: Cell,
    counts: Mapping[int, Counter[str]],
    lowest: list[int],
    anywhere: Mapping[int, int],
) -> Rule | None:
    """The first rule that keeps one more pod out of ``cell``, or ``None``."""
    for index, rule in enumerate(rules):
        here = counts[index][cell[positions[index]]]
        if rule.kind is RuleKind.SPREAD:
            if here + (1 if rule.self_match else 0) - lowest[index] > rule.max_skew:
                return rule
        elif rule.kind is RuleKind.ANTI_AFFINITY:
            if here:
                return rule
        elif not here and not (rule.self_match and anywhere[index] == 0):
            return rule
    return None


def conflicts(rules: Mapping[str, list[Rule]]) -> dict[str, set[str]]:
    """Per group, the other groups whose pods may not share a new node with its pods.

    A hostname anti-affinity keeps them apart both ways; so does a hostname spread that counts the
    other group's pods (sharing would break its per-node cap).
    """
    apart: dict[str, set[str]] = defaultdict(set)
    for name, own in rules.items():
        for rule in own:
            if rule.key != HOSTNAME_KEY or rule.kind is RuleKind.AFFINITY:
                continue
            for other in rule.counts - {name}:
                apart[name].add(other)
                apart[other].add(name)
    return apart
