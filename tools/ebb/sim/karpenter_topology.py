"""Karpenter's topology groups for the reference scheduler: spread, pod affinity and anti-affinity.

Follows kubernetes-sigs/karpenter ``pkg/controllers/provisioning/scheduling/topology.go`` and
``topologygroup.go`` (commit 025b80f7dcb2d9eaa60f730871730570b8c86d2f's tests, ``topology_test.go``),
written from those files' rules, not from ebb's planner:

* each constraint is a *topology group* counting, per domain, the pods its selector matches in the
  counted namespaces; pods already running count (``countDomains``);
* a pod's candidate node (existing node, in-flight claim or new claim) has a set of possible zones
  (the zones of its remaining offerings); each of the pod's groups narrows it in turn
  (``Topology.AddRequirements``):

  - a zone spread picks the one domain with the fewest matching pods among the candidate's zones,
    if ``count + selfMatch - min <= maxSkew``, the minimum taken over the zones the pod may use
    (0 with fewer than ``minDomains``) (``nextDomainTopologySpread``, ``domainMinCount``); ties go
    to the first zone by name (Go iterates a map there: any of them);
  - a hostname spread: a new claim is an empty domain, the minimum is 0, so the candidate must hold
    fewer than ``maxSkew`` matching pods (counting the pod if it matches);
  - anti-affinity keeps the zones (node) holding matching pods out (``nextDomainAntiAffinity``);
  - affinity keeps only the zones (node) holding matching pods, except a self-matching pod when no
    matching pod is placed anywhere, which may start anywhere (``nextDomainAffinity``'s bootstrap);

* the required anti-affinity of placed pods keeps the pods it matches out of their domains too
  (inverse groups, ``newForInverseAffinities``: required terms only);
* once placed, a pod is recorded in every group that counts it (``Topology.Record``): in the one
  zone of its candidate for spread and affinity (nothing when the candidate could still be in
  several), in every possible zone for anti-affinity;
* preferences are required until relaxed, per pod, in ``preferences.go``'s order (see
  :func:`relaxation_order`).

Only the zone and hostname keys are modelled; other keys are refused (``NotImplementedError``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ebb.core.nodes.catalogue import ZONE_LABEL
from ebb.core.nodes.inputs import PlanningInput
from ebb.core.nodes.requirements import with_preference
from ebb.core.nodes.topology import HOSTNAME_KEY, LabelSelector, WhenUnsatisfiable
from ebb.core.nodes.workload import PodGroup

Relaxation = tuple[str, int]
"""A preference: the pod group field it is in and its index there."""


@dataclass
class TopologyGroup:
    """One constraint of the pods of ``owner``."""

    owner: str
    kind: str
    """``spread``, ``affinity`` or ``anti``."""
    key: str
    counts: frozenset[str]
    """The pod groups whose pods the selector matches."""
    max_skew: int = 0
    min_domains: int | None = None
    preference: Relaxation | None = None
    """Set when the group comes from a preference (it then applies until relaxed)."""
    zones: Counter[str] = field(default_factory=Counter)
    """Recorded matching pods per zone."""
    anywhere: int = 0
    """Matching pods placed anywhere (for the affinity bootstrap)."""

    @property
    def self_match(self) -> bool:
        return self.owner in self.counts


def _matching(
    inp: PlanningInput, selector: LabelSelector | None, namespaces: Iterable[str]
) -> frozenset[str]:
    if selector is None:
        return frozenset()
    allowed = set(namespaces)
    return frozenset(g.name for g in inp.pod_groups if g.namespace in allowed and selector.matches(g.labels))


def _check_key(key: str) -> None:
    if key not in (ZONE_LABEL, HOSTNAME_KEY):
        raise NotImplementedError(
            f"the Karpenter reference models zone and hostname topology keys only, not {key!r}"
        )


def topology_groups(inp: PlanningInput) -> list[TopologyGroup]:
    """Every topology group of the input's pod groups, inverse anti-affinity included."""
    found: list[TopologyGroup] = []
    for group in inp.pod_groups:
        own = (group.namespace,)
        for index, spread in enumerate(group.topology_spread):
            _check_key(spread.topology_key)
            anyway = spread.when_unsatisfiable is WhenUnsatisfiable.SCHEDULE_ANYWAY
            found.append(
                TopologyGroup(
                    owner=group.name,
                    kind="spread",
                    key=spread.topology_key,
                    counts=_matching(inp, spread.selector_for(group.labels), own),
                    max_skew=spread.max_skew,
                    min_domains=spread.min_domains,
                    preference=("topology_spread", index) if anyway else None,
                )
            )
        for kind, required, preferred, name in (
            ("affinity", group.pod_affinity, group.preferred_pod_affinity, "preferred_pod_affinity"),
            (
                "anti",
                group.pod_anti_affinity,
                group.preferred_pod_anti_affinity,
                "preferred_pod_anti_affinity",
            ),
        ):
            for term in required:
                _check_key(term.topology_key)
                counts = _matching(inp, term.label_selector, term.namespaces or own)
                found.append(TopologyGroup(owner=group.name, kind=kind, key=term.topology_key, counts=counts))
                if kind == "anti":
                    found.extend(
                        TopologyGroup(
                            owner=other, kind="anti", key=term.topology_key, counts=frozenset({group.name})
                        )
                        for other in sorted(counts - {group.name})
                    )
            for index, weighted in enumerate(preferred):
                term = weighted.term
                _check_key(term.topology_key)
                found.append(
                    TopologyGroup(
                        owner=group.name,
                        kind=kind,
                        key=term.topology_key,
                        counts=_matching(inp, term.label_selector, term.namespaces or own),
                        preference=(name, index),
                    )
                )
    return found


def _heaviest_first(weights: Iterable[int]) -> list[int]:
    return [i for i, _ in sorted(enumerate(weights), key=lambda pair: -pair[1])]


def relaxation_order(group: PodGroup) -> list[Relaxation]:
    """``Preferences.Relax``: preferred pod affinity, pod anti-affinity, node affinity (each
    heaviest first, stable), then the ScheduleAnyway spreads as Go's swap-remove takes them."""
    order: list[Relaxation] = [
        ("preferred_pod_affinity", i) for i in _heaviest_first(t.weight for t in group.preferred_pod_affinity)
    ]
    order += [
        ("preferred_pod_anti_affinity", i)
        for i in _heaviest_first(t.weight for t in group.preferred_pod_anti_affinity)
    ]
    order += [
        ("preferred_node_affinity", i)
        for i in _heaviest_first(t.weight for t in group.preferred_node_affinity)
    ]
    remaining = list(range(len(group.topology_spread)))
    while True:
        at = next(
            (
                k
                for k, i in enumerate(remaining)
                if group.topology_spread[i].when_unsatisfiable is WhenUnsatisfiable.SCHEDULE_ANYWAY
            ),
            None,
        )
        if at is None:
            return order
        order.append(("topology_spread", remaining[at]))
        remaining[at] = remaining[-1]
        remaining.pop()


def with_node_preference(group: PodGroup, relaxed: set[Relaxation]) -> PodGroup:
    """The pod with its heaviest preferred node affinity term not relaxed required
    (``pkg/scheduling/requirements.go`` ``newPodRequirements``)."""
    for index in _heaviest_first(t.weight for t in group.preferred_node_affinity):
        if ("preferred_node_affinity", index) not in relaxed:
            preferred = group.preferred_node_affinity[index].preference
            return group.model_copy(update={"node_affinity": with_preference(group.node_affinity, preferred)})
    return group


class Topology:
    """The topology groups and their counts while the reference schedules."""

    def __init__(self, inp: PlanningInput, running: Mapping[str, Mapping[str, int]]) -> None:
        """``running``: per zone, pods per group already running there."""
        self.groups = topology_groups(inp)
        self.by_owner: dict[str, list[TopologyGroup]] = {}
        for tg in self.groups:
            self.by_owner.setdefault(tg.owner, []).append(tg)
            for zone, pods in running.items():
                matching = sum(count for name, count in pods.items() if name in tg.counts)
                tg.zones[zone] += matching
                tg.anywhere += matching
        self.counted = {name for tg in self.groups for name in tg.counts}

    def constrained(self, name: str) -> bool:
        return name in self.by_owner

    def allowed(
        self,
        name: str,
        relaxed: set[Relaxation],
        zones: set[str],
        here: Mapping[str, int],
        universe: set[str],
    ) -> tuple[set[str], TopologyGroup | None]:
        """The zones of a candidate left for one more pod of ``name``, and the group that emptied them.

        ``here``: pods per group on the candidate node (empty for a new claim); ``universe``: the
        zones the pod may use (``podDomains``).
        """
        left = set(zones)
        for tg in self.by_owner.get(name, ()):
            if tg.preference is not None and tg.preference in relaxed:
                continue
            on_node = sum(count for group, count in here.items() if group in tg.counts)
            if tg.key == HOSTNAME_KEY:
                ok = {
                    "spread": on_node + tg.self_match <= tg.max_skew,
                    "anti": on_node == 0,
                    "affinity": on_node > 0 or (tg.self_match and tg.anywhere == 0),
                }[tg.kind]
                if not ok:
                    left = set()
            elif tg.kind == "spread":
                lowest = (
                    0
                    if tg.min_domains is not None and len(universe) < tg.min_domains
                    else min((tg.zones[z] for z in universe), default=0)
                )
                fits = [z for z in sorted(left) if tg.zones[z] + tg.self_match - lowest <= tg.max_skew]
                left = {min(fits, key=lambda z: tg.zones[z])} if fits else set()
            elif tg.kind == "anti":
                left = {z for z in left if tg.zones[z] == 0}
            else:
                holding = {z for z in left if tg.zones[z] > 0}
                if not holding and tg.self_match and tg.anywhere == 0:
                    holding = {min(left)} if left else set()
                left = holding
            if not left:
                return left, tg
        return left, None

    def record(self, name: str, zones: set[str], count: int = 1) -> None:
        """``count`` pods of ``name`` placed on a candidate that may be in ``zones``."""
        if name not in self.counted:
            return
        for tg in self.groups:
            if name not in tg.counts:
                continue
            tg.anywhere += count
            if tg.key == HOSTNAME_KEY:
                continue
            if tg.kind == "anti":
                for zone in zones:
                    tg.zones[zone] += count
            elif len(zones) == 1:
                tg.zones[next(iter(zones))] += count
