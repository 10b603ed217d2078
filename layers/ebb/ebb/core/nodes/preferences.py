"""Scheduling preferences, planned as Karpenter plans them: required first, relaxed one at a time.

Karpenter does not score nodes: it treats a pod's preferences as requirements and, when the pod
cannot be scheduled with them, relaxes one and tries again (kubernetes-sigs/karpenter
``pkg/controllers/provisioning/scheduling/preferences.go``, ``Preferences.Relax``; the preferred
node affinity term in force is the heaviest, ``pkg/scheduling/requirements.go``
``newPodRequirements``: "Select heaviest preference and treat as a requirement"). Relax removes,
in this order, the first of:

1. a preferred pod affinity term, heaviest first (``removePreferredPodAffinityTerm``: a stable
   sort by weight, descending, then the first term goes);
2. a preferred pod anti-affinity term, heaviest first (``removePreferredPodAntiAffinityTerm``);
3. the preferred node affinity term in force, heaviest first (``removePreferredNodeAffinityTerm``;
   the next heaviest is then required);
4. a ``whenUnsatisfiable: ScheduleAnyway`` spread (``removeTopologySpreadScheduleAnyway``: the
   first one in the list, which Go removes by moving the last constraint into its place).

Karpenter's first step, ``removeRequiredNodeAffinityTerm`` (it tries the ORed terms of a
*required* node affinity one at a time), has no counterpart: ebb plans all ORed terms at once,
which is what the terms mean. The relaxation is per pod group (the group's pods still pending
when the plan is made), where Karpenter relaxes per pod; every relaxation is reported in the plan.

A preferred anti-affinity of pods already placed does not keep other pods away (Karpenter's
inverse anti-affinity counts required terms only: ``topology_test.go`` "should violate preferred
pod anti-affinity on zone (inverse)").
"""

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from ebb.core.nodes.requirements import with_preference
from ebb.core.nodes.topology import WhenUnsatisfiable
from ebb.core.nodes.workload import PodGroup


class PreferenceKind(StrEnum):
    """Which of a pod group's preference fields a preference is in (Karpenter's relaxation order)."""

    POD_AFFINITY = "preferred_pod_affinity"
    POD_ANTI_AFFINITY = "preferred_pod_anti_affinity"
    NODE_AFFINITY = "preferred_node_affinity"
    SPREAD = "topology_spread"


@dataclass(frozen=True, order=True, slots=True)
class Preference:
    """One preference of one pod group: the field it is in and its index there."""

    group: str
    kind: PreferenceKind
    index: int


def _heaviest_first(weights: Iterable[int]) -> list[int]:
    """Indices by weight, descending, ties in their order (Go's ``slices.SortStableFunc``)."""
    return [index for index, _ in sorted(enumerate(weights), key=lambda pair: -pair[1])]


def _schedule_anyway_order(group: PodGroup) -> list[int]:
    """The order ``removeTopologySpreadScheduleAnyway`` removes the ScheduleAnyway spreads in.

    It removes the first one in the list by moving the last constraint into its place, so the
    list's order changes as constraints go: replayed here on the indices.
    """
    remaining = list(range(len(group.topology_spread)))
    order: list[int] = []
    while True:
        position = next(
            (
                at
                for at, index in enumerate(remaining)
                if group.topology_spread[index].when_unsatisfiable is WhenUnsatisfiable.SCHEDULE_ANYWAY
            ),
            None,
        )
        if position is None:
            return order
        order.append(remaining[position])
        remaining[position] = remaining[-1]
        remaining.pop()


def relaxation_order(group: PodGroup) -> tuple[Preference, ...]:
    """Every preference of the group, in the order Karpenter relaxes them."""
    name = group.name
    return (
        *(
            Preference(name, PreferenceKind.POD_AFFINITY, i)
            for i in _heaviest_first(t.weight for t in group.preferred_pod_affinity)
        ),
        *(
            Preference(name, PreferenceKind.POD_ANTI_AFFINITY, i)
            for i in _heaviest_first(t.weight for t in group.preferred_pod_anti_affinity)
        ),
        *(
            Preference(name, PreferenceKind.NODE_AFFINITY, i)
            for i in _heaviest_first(t.weight for t in group.preferred_node_affinity)
        ),
        *(Preference(name, PreferenceKind.SPREAD, i) for i in _schedule_anyway_order(group)),
    )


def next_relaxation(group: PodGroup, relaxed: frozenset[Preference]) -> Preference | None:
    """The preference to give up next for the group, or ``None`` when none is left."""
    return next((p for p in relaxation_order(group) if p not in relaxed), None)


def node_preference_in_force(group: PodGroup, relaxed: frozenset[Preference]) -> int | None:
    """The index of the preferred node affinity term required now: the heaviest not relaxed."""
    for index in _heaviest_first(t.weight for t in group.preferred_node_affinity):
        if Preference(group.name, PreferenceKind.NODE_AFFINITY, index) not in relaxed:
            return index
    return None


def in_force(group: PodGroup, relaxed: frozenset[Preference]) -> PodGroup:
    """The group with its preferred node affinity term in force ANDed into its required affinity.

    Pod (anti-)affinity preferences and ScheduleAnyway spreads are turned into rules by
    :func:`ebb.core.nodes.domains.group_rules`, which skips the relaxed ones.
    """
    index = node_preference_in_force(group, relaxed)
    if index is None:
        return group
    preferred = group.preferred_node_affinity[index].preference
    return group.model_copy(update={"node_affinity": with_preference(group.node_affinity, preferred)})


def describe(group: PodGroup, preference: Preference) -> str:
    """How the plan names a relaxed preference."""
    index = preference.index
    match preference.kind:
        case PreferenceKind.SPREAD:
            spread = group.topology_spread[index]
            return (
                f"topologySpreadConstraints[{index}] on {spread.topology_key} "
                f"(ScheduleAnyway, maxSkew {spread.max_skew})"
            )
        case PreferenceKind.POD_AFFINITY | PreferenceKind.POD_ANTI_AFFINITY:
            field = "podAffinity" if preference.kind is PreferenceKind.POD_AFFINITY else "podAntiAffinity"
            weighted = getattr(group, preference.kind.value)[index]
            return (
                f"{field}.preferredDuringSchedulingIgnoredDuringExecution[{index}] on "
                f"{weighted.term.topology_key} (weight {weighted.weight})"
            )
        case PreferenceKind.NODE_AFFINITY:
            term = group.preferred_node_affinity[index]
            expressions = ", ".join(str(r) for r in term.preference.match_expressions)
            return (
                f"nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[{index}] "
                f"({expressions}; weight {term.weight})"
            )
