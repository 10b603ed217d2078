"""Placement constraints as rows of the node-packing MILP (:mod:`ebb.sim.milp_oracle`).

Written from the Kubernetes rules, not from the planner's code. With ``x[g, b]`` the pods of
group ``g`` in bin ``b`` and ``y[b, o]`` the bin's instance group, a bin's zone is the zone of its
instance group; ``w[g, b, z]`` (``<= count_g * sum_{o in z} y[b, o]``, summing over ``z`` to
``x[g, b]``) puts each pod in a zone, and ``n[g, z] = sum_b w[g, b, z]`` counts a zone's pods.

* A zone spread (``topology.kubernetes.io/zone``) of group ``g`` whose selector counts exactly
  ``g``'s own pods: ``n[g, z1] - n[g, z2] <= maxSkew`` for every two eligible zones (those of the
  instance groups ``g`` may use); with fewer eligible zones than ``minDomains``, the minimum is 0,
  so ``n[g, z] <= maxSkew``. kube-scheduler checks the skew pod by pod
  (``podtopologyspread/filtering.go``: ``count + selfMatch - globalMin <= maxSkew``); for one
  self-selecting group that is the same as the final counts keeping it: the last pod into the
  fullest zone saw a minimum no higher than the final one, and, conversely, filling the zones
  lowest first reaches any final counts keeping the skew.
* A hostname spread: a new node is an empty domain, so the minimum is 0 and ``x[g, b] <= maxSkew``.
* Required anti-affinity on hostname (zone): a self-matching term allows one pod per bin (zone);
  a term matching another group ``h`` keeps ``g`` and ``h`` out of the same bin (zone), both ways
  (kube-scheduler's symmetry), with binaries ``u[g, b] >= x[g, b] / count_g`` (``v`` for zones).
* Required affinity to itself on hostname (zone): all the group's pods in one bin (zone),
  ``x[g, b] = count_g * u[g, b]``; kube-scheduler's first-pod exception lets the first pod start it.
* Preferences (when asked): a ScheduleAnyway spread and a self-matching preferred anti-affinity are
  required like their DoNotSchedule / required forms; the heaviest preferred node affinity term
  narrows where the group may run (Karpenter requires it first: ``pkg/scheduling/requirements.go``).

Refused (``NotImplementedError``), never approximated: topology keys other than zone and hostname,
spreads whose selector counts other groups, affinity to other groups, preferred pod affinity, a
preferred anti-affinity matching other groups.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy.sparse import coo_array

from ebb.core.nodes.catalogue import ZONE_LABEL
from ebb.core.nodes.inputs import PlanningInput
from ebb.core.nodes.topology import HOSTNAME_KEY, LabelSelector, WhenUnsatisfiable
from ebb.core.nodes.workload import PodGroup

if TYPE_CHECKING:
    from ebb.sim.milp_oracle import NumericProblem

_KEYS = (ZONE_LABEL, HOSTNAME_KEY)


class _Model:
    """Variables (integer, lower bound 0) and sparse rows, grown as the model is written."""

    def __init__(self) -> None:
        self.bounds: list[float] = []
        self.rows: list[int] = []
        self.cols: list[int] = []
        self.vals: list[float] = []
        self.lower: list[float] = []
        self.upper: list[float] = []

    @property
    def size(self) -> int:
        return len(self.bounds)

    def block(self, count: int, upper: float | np.ndarray) -> np.ndarray:
        """``count`` new variables in ``[0, upper]``; their indices."""
        start = self.size
        self.bounds.extend(np.broadcast_to(np.asarray(upper, dtype=float), (count,)).tolist())
        return np.arange(start, start + count)

    def row(self, entries: Iterable[tuple[int, float]], lo: float, hi: float) -> None:
        index = len(self.lower)
        for col, val in entries:
            self.rows.append(index)
            self.cols.append(int(col))
            self.vals.append(val)
        self.lower.append(lo)
        self.upper.append(hi)

    def matrix(self) -> coo_array:
        return coo_array((self.vals, (self.rows, self.cols)), shape=(len(self.lower), self.size)).tocsr()


def _counted(inp: PlanningInput, selector: LabelSelector | None, namespaces: Iterable[str]) -> set[int]:
    """Indices of the groups whose pods the selector matches in ``namespaces`` (``None``: none)."""
    if selector is None:
        return set()
    allowed = set(namespaces)
    return {i for i, g in enumerate(inp.pod_groups) if g.namespace in allowed and selector.matches(g.labels)}


def _check_key(key: str) -> None:
    if key not in _KEYS:
        raise NotImplementedError(f"the MILP models zone and hostname topology keys only, not {key!r}")


@dataclass
class PlacementConstraints:
    """The constraints of one input, ready to be added to the model."""

    allowed: np.ndarray
    """(G, O) where each group may run once its preferred node affinity in force is applied."""
    preferences_used: bool = False
    zone_spreads: list[tuple[int, int, int | None]] = field(default_factory=list)
    """(group, maxSkew, minDomains)."""
    host_caps: dict[int, int] = field(default_factory=dict)
    """Most pods of a group per bin (hostname spread, self anti-affinity)."""
    zone_caps: dict[int, int] = field(default_factory=dict)
    """Most pods of a group per zone (self zone anti-affinity)."""
    host_apart: set[tuple[int, int]] = field(default_factory=set)
    zone_apart: set[tuple[int, int]] = field(default_factory=set)
    host_together: set[int] = field(default_factory=set)
    zone_together: set[int] = field(default_factory=set)

    def add_to(self, model: _Model, p: NumericProblem, x: np.ndarray, y: np.ndarray) -> None:
        """Write the rows (see the module docstring)."""
        bins = x.shape[1]
        zones = sorted({labels[ZONE_LABEL] for labels in p.labels})
        in_zone = {z: [o for o, labels in enumerate(p.labels) if labels[ZONE_LABEL] == z] for z in zones}
        zonal = {g for g, _, _ in self.zone_spreads} | set(self.zone_caps) | self.zone_together
        zonal |= {g for pair in self.zone_apart for g in pair}
        n: dict[tuple[int, str], list[int]] = {}
        for g in sorted(zonal):
            count = float(p.counts[g])
            for b in range(bins):
                w = model.block(len(zones), count)
                model.row([(int(x[g, b]), 1.0), *((int(v), -1.0) for v in w)], 0.0, 0.0)
                for z, var in zip(zones, w, strict=True):
                    model.row([(int(var), 1.0), *((int(y[b, o]), -count) for o in in_zone[z])], -np.inf, 0.0)
                    n.setdefault((g, z), []).append(int(var))

        def zone_count(g: int, z: str, sign: float = 1.0) -> list[tuple[int, float]]:
            return [(var, sign) for var in n[(g, z)]]

        allowed = p.allowed & self.allowed
        for g, skew, min_domains in self.zone_spreads:
            eligible = sorted({p.labels[o][ZONE_LABEL] for o in np.flatnonzero(allowed[g])})
            if min_domains is not None and len(eligible) < min_domains:
                for z in eligible:
                    model.row(zone_count(g, z), -np.inf, float(skew))
                continue
            for z1 in eligible:
                for z2 in eligible:
                    if z1 != z2:
                        model.row(zone_count(g, z1) + zone_count(g, z2, -1.0), -np.inf, float(skew))
        for g, cap in self.zone_caps.items():
            for z in zones:
                model.row(zone_count(g, z), -np.inf, float(cap))
        for g, cap in self.host_caps.items():
            for b in range(bins):
                model.row([(int(x[g, b]), 1.0)], -np.inf, float(cap))
        host_used = self._indicators(model, p, x, {g for pair in self.host_apart for g in pair})
        for g, h in self.host_apart:
            for b in range(bins):
                model.row([(host_used[g][b], 1.0), (host_used[h][b], 1.0)], -np.inf, 1.0)
        for g in self.host_together:
            count = float(p.counts[g])
            chosen = model.block(bins, 1.0)
            for b in range(bins):
                model.row([(int(x[g, b]), 1.0), (int(chosen[b]), -count)], 0.0, 0.0)
        zone_used: dict[int, dict[str, int]] = {}
        for g in sorted({g for pair in self.zone_apart for g in pair} | self.zone_together):
            count = float(p.counts[g])
            flags = model.block(len(zones), 1.0)
            zone_used[g] = {z: int(v) for z, v in zip(zones, flags, strict=True)}
            for z in zones:
                # The zone's pods need its flag; for "together", all of them in the flagged zone.
                low = 0.0 if g in self.zone_together else -np.inf
                model.row([*zone_count(g, z), (zone_used[g][z], -count)], low, 0.0)
            if g in self.zone_together:
                model.row([(v, 1.0) for v in zone_used[g].values()], 0.0, 1.0)
        for g, h in self.zone_apart:
            for z in zones:
                model.row([(zone_used[g][z], 1.0), (zone_used[h][z], 1.0)], -np.inf, 1.0)

    @staticmethod
    def _indicators(
        model: _Model, p: NumericProblem, x: np.ndarray, groups: set[int]
    ) -> dict[int, list[int]]:
        """Binaries ``u[g, b]`` with ``x[g, b] <= count_g * u[g, b]``."""
        used: dict[int, list[int]] = {}
        bins = x.shape[1]
        for g in sorted(groups):
            flags = model.block(bins, 1.0)
            used[g] = [int(v) for v in flags]
            for b in range(bins):
                model.row([(int(x[g, b]), 1.0), (used[g][b], -float(p.counts[g]))], -np.inf, 0.0)
        return used


def placement_constraints(
    inp: PlanningInput, p: NumericProblem, *, preferences: bool
) -> PlacementConstraints:
    """The placement constraints of ``inp``'s pod groups; refuses what the model does not cover."""
    allowed = np.ones_like(p.allowed, dtype=bool)
    result = PlacementConstraints(allowed=allowed)
    for g, group in enumerate(inp.pod_groups):
        _spreads(inp, g, group, result, preferences=preferences)
        _anti_affinity(inp, g, group, result, preferences=preferences)
        for term in group.pod_affinity:
            _check_key(term.topology_key)
            counted = _counted(inp, term.label_selector, term.namespaces or (group.namespace,))
            if counted != {g}:
                raise NotImplementedError("the MILP models a required affinity to the group's own pods only")
            (result.host_together if term.topology_key == HOSTNAME_KEY else result.zone_together).add(g)
        if group.preferred_pod_affinity and preferences:
            raise NotImplementedError("the MILP does not model preferred pod affinity")
        if group.preferred_node_affinity and preferences:
            heaviest = max(
                enumerate(group.preferred_node_affinity), key=lambda pair: (pair[1].weight, -pair[0])
            )
            preference = heaviest[1].preference
            if preference.match_expressions:
                allowed[g] = [preference.matches(labels) for labels in p.labels]
                result.preferences_used = True
    return result


def _spreads(
    inp: PlanningInput, g: int, group: PodGroup, result: PlacementConstraints, *, preferences: bool
) -> None:
    for spread in group.topology_spread:
        if spread.when_unsatisfiable is WhenUnsatisfiable.SCHEDULE_ANYWAY:
            if not preferences:
                continue
            result.preferences_used = True
        _check_key(spread.topology_key)
        counted = _counted(inp, spread.selector_for(group.labels), (group.namespace,))
        if not counted:
            continue  # a selector matching no pod never restricts
        if counted != {g}:
            raise NotImplementedError(
                "the MILP models spreads whose selector counts the group's own pods only"
            )
        if spread.topology_key == HOSTNAME_KEY:
            result.host_caps[g] = min(result.host_caps.get(g, spread.max_skew), spread.max_skew)
        else:
            result.zone_spreads.append((g, spread.max_skew, spread.min_domains))


def _anti_affinity(
    inp: PlanningInput, g: int, group: PodGroup, result: PlacementConstraints, *, preferences: bool
) -> None:
    terms = [(term, True) for term in group.pod_anti_affinity]
    if preferences:
        terms += [(weighted.term, False) for weighted in group.preferred_pod_anti_affinity]
    for term, required in terms:
        _check_key(term.topology_key)
        counted = _counted(inp, term.label_selector, term.namespaces or (group.namespace,))
        if not required:
            if counted - {g}:
                raise NotImplementedError(
                    "the MILP models preferred anti-affinity to the group's own pods only"
                )
            result.preferences_used = True
        hostname = term.topology_key == HOSTNAME_KEY
        if g in counted:
            caps = result.host_caps if hostname else result.zone_caps
            caps[g] = 1
        for h in sorted(counted - {g}):
            (result.host_apart if hostname else result.zone_apart).add((min(g, h), max(g, h)))
