"""Karpenter's consolidation, re-implemented for the keda-karpenter policy of the simulator.

One call is one pass of Karpenter's disruption controller over the cluster; it returns at most
one command, from the first method that finds one, in upstream's order (kubernetes-sigs/karpenter
``pkg/controllers/disruption/controller.go``: emptiness, then multi-node, then single-node
consolidation):

* **candidates**: initialized nodes, not being deleted, without ``karpenter.sh/do-not-disrupt``,
  whose pool does not say ``consolidateAfter: Never``, and on which no pod was scheduled or
  removed for ``consolidateAfter`` (the Consolidatable condition, from the last pod event or the
  initialization); each pool's disruption budget caps how many of its nodes one command takes;
* **emptiness** (both policies): every empty candidate, deleted;
* with ``WhenEmptyOrUnderutilized`` only, candidates in ascending disruption cost (the number of
  pods to move: one per pod with no deletion cost, priority or expiry) and then:
* **multi-node** (``multinodeconsolidation.go`` at commit 16a047534beaf0d825f44e1ef46d584c7abddeb7,
  ``firstNConsolidationOption``): a binary search for the longest prefix of the first 100
  candidates (at least two) whose pods, with the pending ones, Karpenter's scheduler places on the
  other nodes plus at most one new node, that node cheaper than the candidates together, and, when
  a candidate's instance type is among its options, cheaper than the cheapest candidate of that
  type (``filterOutSameType``);
* **single-node**: the first candidate, in the same order, whose pods fit on the other nodes
  (delete) or on them plus one cheaper node (replace);
* ``consolidation.go`` (commit 1a0d5fa48c1295bde2db424160cc2e0e029b3782,
  ``computeConsolidation``): not all candidate pods placed, or more than one new node: no
  command; a replacement keeps only the types strictly cheaper than the candidates' total
  (``filterByPrice``) and launches the cheapest of them.

The scheduling simulation is :func:`ebb.sim.karpenter_reference.schedule` on the cluster without
the candidates (``SimulateScheduling``: pending pods, the candidates' pods and the pods of nodes
being deleted, onto the other active nodes); a pod it places on a node that is not initialized
counts as not scheduled there, so those nodes offer no room. Upstream lets a pending pod land there
(its error is ignored); pods of one group are not told apart here, so a pending pod that would
have gone onto a joining node is placed on a new node instead: the commands can differ from
upstream's only while pods are pending and a node is joining at once. Pending pods that cannot be placed
at all do not block a command (``AllNonPendingPodsScheduled``): the reference compares the pods
left unplaced with those left unplaced without consolidation.

Upstream executes a command only after checking it again ``CONSOLIDATION_VALIDATION_DELAY``
later (``consolidationTTL``, 15 s); that wait, and the replacement's launch before the deletion,
are the simulator's to play out. Not modelled, said rather than hidden: nodes running pods ebb
does not manage are not candidates (their pods are known only as a total request, so the
reference cannot place them), and spot-to-spot consolidation does not apply (HyperPod groups are
on-demand or reserved).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, Literal

import numpy as np

from ebb.core.nodes.budgets import DisruptionReason, allowed_disruptions
from ebb.core.nodes.inputs import PlanningInput
from ebb.core.nodes.workload import ExistingNode, NodeState
from ebb.sim.karpenter_offerings import Offering
from ebb.sim.karpenter_reference import ReferenceNode, ReferencePlan, schedule

ConsolidationPolicyName = Literal["WhenEmpty", "WhenEmptyOrUnderutilized"]
Method = Literal["emptiness", "multi-node", "single-node"]

MAX_MULTI_NODE_CANDIDATES: Final = 100
"""``multinodeconsolidation.go``: "Only consider a maximum batch of 100 NodeClaims"."""
CONSOLIDATION_VALIDATION_DELAY: Final = timedelta(seconds=15)
"""``consolidation.go`` ``consolidationTTL``: a command is checked again this long after it is computed."""


@dataclass(frozen=True)
class ConsolidationPlan:
    """One disruption pass: the nodes to delete, the replacement to launch first, and why."""

    method: Method | None
    delete: tuple[str, ...] = ()
    replacements: tuple[ReferenceNode, ...] = ()
    why: str = ""
    not_candidates: dict[str, str] = field(default_factory=dict)
    """Nodes that were not candidates, each with the reason."""
    savings_per_hour: float = 0.0


@dataclass(frozen=True)
class _Candidate:
    node: ExistingNode
    price: float
    pods: int


def _price(inp: PlanningInput, node: ExistingNode) -> float:
    # The node's offering price (its group's, else its type's), as upstream prices a candidate by
    # the offering of its zone and capacity type (consolidation.go, getCandidatePrices, at the
    # commit above), the price the replacement must beat.
    group = next(g for g in inp.instance_groups if g.name == node.instance_group)
    return group.node_price(next(t for t in inp.instance_types if t.name == node.instance_type))


def _candidates(
    inp: PlanningInput, now: datetime, idle_since: Mapping[str, datetime]
) -> tuple[list[_Candidate], dict[str, str]]:
    pools = {p.name: p for p in inp.node_pools}
    candidates: list[_Candidate] = []
    refused: dict[str, str] = {}
    for node in sorted(inp.nodes, key=lambda n: n.name):
        after = pools[node.node_pool].disruption.consolidate_after
        since = idle_since.get(node.name) or node.last_pod_event_at or node.initialized_at
        if node.deleting:
            refused[node.name] = "being deleted"
        elif node.state is not NodeState.READY:
            refused[node.name] = f"not initialized and ready ({node.state.value})"
        elif node.do_not_disrupt:
            refused[node.name] = "karpenter.sh/do-not-disrupt"
        elif node.has_unmanaged_pods:
            refused[node.name] = "runs pods the reference cannot move (known only as a total request)"
        elif after is None:
            refused[node.name] = "consolidateAfter: Never"
        elif since is None:
            refused[node.name] = "no initialization or pod event time known"
        elif now < since + after:
            refused[node.name] = f"consolidateAfter not elapsed (until {(since + after).isoformat()})"
        else:
            candidates.append(_Candidate(node, _price(inp, node), sum(p.count for p in node.pods)))
    return candidates, refused


def _budgets(inp: PlanningInput, now: datetime, reason: DisruptionReason) -> dict[str, int | None]:
    """How many nodes of each pool one command may still take (``None``: no budget limits it)."""
    allowed: dict[str, int | None] = {}
    for pool in inp.node_pools:
        members = [n for n in inp.nodes if n.node_pool == pool.name]
        initialized = [n for n in members if n.state in (NodeState.READY, NodeState.NOT_READY)]
        disrupting = sum(1 for n in initialized if n.deleting or n.state is NodeState.NOT_READY)
        allowed[pool.name] = allowed_disruptions(
            pool.disruption.budgets, now, len(initialized), disrupting, reason
        ).allowed
    return allowed


def _within_budgets(candidates: list[_Candidate], allowed: dict[str, int | None]) -> list[_Candidate]:
    taken: dict[str, int] = {}
    kept = []
    for candidate in candidates:
        pool = candidate.node.node_pool
        cap = allowed[pool]
        if cap is not None and taken.get(pool, 0) >= cap:
            continue
        taken[pool] = taken.get(pool, 0) + 1
        kept.append(candidate)
    return kept


def _unplaced(plan: ReferencePlan) -> dict[str, int]:
    return {group: count for group, count in plan.unplaced.items() if count}


@dataclass(frozen=True)
class _Outcome:
    delete: tuple[str, ...]
    replacement: ReferenceNode | None
    why: str


@dataclass(frozen=True)
class _Simulation:
    """What every attempt of one pass shares."""

    inp: PlanningInput
    baseline_unplaced: dict[str, int]
    unavailable: frozenset[Offering]
    tie_seed: int | None

    def attempt(self, chosen: list[_Candidate], *, same_type_filter: bool) -> _Outcome | str:
        """``computeConsolidation`` for ``chosen``: a command, or why there is none."""
        names = {c.node.name for c in chosen}
        without = self.inp.model_copy(
            update={"nodes": tuple(n for n in self.inp.nodes if n.name not in names)}
        )
        plan = schedule(without, unavailable=self.unavailable, tie_seed=self.tie_seed, initialized_only=True)
        if any(count > self.baseline_unplaced.get(group, 0) for group, count in _unplaced(plan).items()):
            return "not all pods would schedule"
        if not plan.new_nodes:
            return _Outcome(delete=tuple(sorted(names)), replacement=None, why="pods fit on other nodes")
        if len(plan.new_nodes) > 1:
            return f"can't remove without creating {len(plan.new_nodes)} nodes"
        new = plan.new_nodes[0]
        # filterByPrice: only options strictly cheaper than the candidates together.
        ceiling = sum(c.price for c in chosen)
        options = [option for option in new.options if option[2] < ceiling]
        if same_type_filter:
            # filterOutSameType: if a candidate's type is still an option, every option must be
            # cheaper than the cheapest candidate of that type (else deleting alone is better).
            kept_types = {type_name for _, type_name, _ in options}
            for candidate in chosen:
                if candidate.node.instance_type in kept_types:
                    ceiling = min(ceiling, candidate.price)
            options = [option for option in options if option[2] < ceiling]
        if not options:
            return "can't replace with a cheaper node"
        group_name, type_name, price = min(options, key=lambda option: option[2])
        group = next(g for g in without.instance_groups if g.name == group_name)
        replacement = ReferenceNode(
            node_pool=new.node_pool,
            instance_group=group_name,
            instance_type=type_name,
            price=price,
            pods=new.pods,
            zone=group.zone,
            capacity_type=group.capacity_type,
            options=tuple(options),
        )
        return _Outcome(
            delete=tuple(sorted(names)), replacement=replacement, why="replace with a cheaper node"
        )


def karpenter_consolidate(
    inp: PlanningInput,
    *,
    policy: ConsolidationPolicyName,
    now: datetime,
    node_idle_since: Mapping[str, datetime] | None = None,
    unavailable: frozenset[Offering] = frozenset(),
    tie_seed: int | None = None,
) -> ConsolidationPlan:
    """One pass of Karpenter's disruption controller over ``inp`` at ``now``.

    ``policy`` applies to every pool of ``inp`` (the simulator runs one consolidation policy per
    comparison); each pool's own ``consolidateAfter`` and budgets apply.

    ``node_idle_since``: when a pod was last scheduled to or removed from each node, where the
    simulator tracks it (else the node's ``last_pod_event_at``, else its ``initialized_at``).
    ``tie_seed`` orders candidates of equal disruption cost (Go's ``sort.Slice``) and the
    simulation's tied claims at random; ``None`` keeps them by name.
    """
    candidates, refused = _candidates(inp, now, node_idle_since or {})
    empty = _within_budgets(
        [c for c in candidates if c.pods == 0], _budgets(inp, now, DisruptionReason.EMPTY)
    )
    if empty:
        return ConsolidationPlan(
            method="emptiness",
            delete=tuple(c.node.name for c in empty),
            why="empty",
            not_candidates=refused,
            savings_per_hour=sum(c.price for c in empty),
        )
    if policy == "WhenEmpty" or not candidates:
        return ConsolidationPlan(method=None, why="no empty candidate", not_candidates=refused)

    rng = None if tie_seed is None else np.random.default_rng(tie_seed)
    if rng is None:
        ordered = sorted(candidates, key=lambda c: (c.pods, c.node.name))
    else:
        keys = rng.random(len(candidates))
        ordered = [
            c for _, c in sorted(zip(keys, candidates, strict=True), key=lambda pair: (pair[1].pods, pair[0]))
        ]
    ordered = _within_budgets(ordered, _budgets(inp, now, DisruptionReason.UNDERUTILIZED))
    simulation = _Simulation(
        inp=inp,
        baseline_unplaced=_unplaced(schedule(inp, unavailable=unavailable, tie_seed=tie_seed)),
        unavailable=unavailable,
        tie_seed=tie_seed,
    )

    # Multi-node: binary search over prefixes of at least two (firstNConsolidationOption).
    batch = ordered[:MAX_MULTI_NODE_CANDIDATES]
    if len(batch) >= 2:
        low, high = 1, len(batch) - 1
        best: tuple[_Outcome, list[_Candidate]] | None = None
        while low <= high:
            mid = (low + high) // 2
            prefix = batch[: mid + 1]
            outcome = simulation.attempt(prefix, same_type_filter=True)
            if isinstance(outcome, _Outcome):
                best = (outcome, prefix)
                low = mid + 1
            else:
                high = mid - 1
        if best is not None:
            return _command("multi-node", best[0], best[1], refused)

    why = "no candidate can be removed or replaced by a cheaper node"
    for candidate in ordered:
        outcome = simulation.attempt([candidate], same_type_filter=False)
        if isinstance(outcome, _Outcome):
            return _command("single-node", outcome, [candidate], refused)
    return ConsolidationPlan(method=None, why=why, not_candidates=refused)


def _command(
    method: Method, outcome: _Outcome, chosen: list[_Candidate], refused: dict[str, str]
) -> ConsolidationPlan:
    replacements = () if outcome.replacement is None else (outcome.replacement,)
    saved = sum(c.price for c in chosen) - sum(r.price for r in replacements)
    return ConsolidationPlan(
        method=method,
        delete=outcome.delete,
        replacements=replacements,
        why=outcome.why,
        not_candidates=refused,
        savings_per_hour=saved,
    )
