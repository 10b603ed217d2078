"""The exact answer and a lower bound for new-node packing, with ``scipy.optimize.milp``/``linprog``.

Both read a single-pool :class:`PlanningInput` with no existing nodes, limits or group maxima
(what the quality benchmarks generate) and model it independently of the planner's code:

* :func:`optimal_cost` solves the assignment model: bins ``b`` (at most one per pod), binaries
  ``y[b, o]`` choosing the bin's instance group, integers ``x[g, b]`` counting pods of group ``g``
  in bin ``b``; each group fully placed, each bin within its group's allocatable in every
  dimension and holding only pods allowed there; bins used in order to cut symmetry; minimise the
  price of the chosen groups. A time limit bounds the solve; the result says if it was proven.
* placement constraints (zone and hostname spread, pod anti-affinity and affinity, and the
  preferences where meaningful) add rows over per-zone pod counts
  (:mod:`ebb.sim.milp_constraints`);
* :func:`lp_lower_bound` relaxes packing to fractions: pods of a group may be spread over fitting,
  compatible groups and nodes may be fractional; no integer plan can cost less.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse import coo_array

from ebb.core.nodes.catalogue import NODEPOOL_LABEL, node_labels
from ebb.core.nodes.inputs import PlanningInput
from ebb.core.nodes.taints import blocking
from ebb.sim.milp_constraints import PlacementConstraints, _Model, placement_constraints


@dataclass(frozen=True)
class NumericProblem:
    """Groups and instance groups as arrays."""

    counts: np.ndarray
    """(G,) pods per group."""
    requests: np.ndarray
    """(G, 4) one pod's cpu, memory, gpus, pod slot."""
    capacity: np.ndarray
    """(O, 4) allocatable of a new node per instance group, daemonset overhead removed."""
    prices: np.ndarray
    """(O,) price per node."""
    allowed: np.ndarray
    """(G, O) whether group g's pods may run on instance group o (and fit an empty node)."""
    labels: tuple[dict[str, str], ...] = ()
    """(O,) a new node's labels per instance group."""


def numeric_problem(inp: PlanningInput) -> NumericProblem:
    """Extract the arrays; refuses inputs outside the model."""
    if len(inp.node_pools) != 1 or inp.nodes:
        raise NotImplementedError("the oracle models one node pool and no existing nodes")
    pool = inp.node_pools[0]
    if any(v is not None for v in pool.limits.as_vector()):
        raise NotImplementedError("the oracle does not model NodePool limits")
    types = {t.name: t for t in inp.instance_types}
    groups = {g.name: g for g in inp.instance_groups}
    labels_of_pool = {**pool.template_labels(), NODEPOOL_LABEL: pool.name}
    if any(len(g.vector) > 4 for g in inp.pod_groups):
        raise NotImplementedError("the oracle models cpu, memory, nvidia.com/gpu and pods only")
    overhead = np.array(pool.daemonset_overhead.vector[:4], dtype=np.int64)
    capacity, prices, labels = [], [], []
    for name in pool.instance_groups:
        group = groups[name]
        if len(group.instance_types) != 1 or group.max_count is not None:
            raise NotImplementedError("the oracle models single-type groups without maxima only")
        instance_type = types[group.instance_types[0]]
        node = node_labels(group, instance_type, labels_of_pool)
        if not pool.admits(node):
            continue
        allocatable = np.array(instance_type.allocatable.vector[:4], dtype=np.int64)
        capacity.append(np.maximum(allocatable - overhead, 0))
        prices.append(group.node_price(instance_type))
        labels.append(node)
    capacity_array = np.array(capacity, dtype=np.int64).reshape(-1, 4)
    counts = np.array([g.replicas for g in inp.pod_groups], dtype=np.int64)
    requests = np.array([g.vector for g in inp.pod_groups], dtype=np.int64).reshape(-1, 4)
    taints = blocking(pool.taints)
    allowed = np.array(
        [
            [
                not g.untolerated(taints) and g.selects(node) and bool(np.all(req <= cap))
                for node, cap in zip(labels, capacity_array, strict=True)
            ]
            for g, req in zip(inp.pod_groups, requests, strict=True)
        ],
        dtype=bool,
    ).reshape(len(inp.pod_groups), len(labels))
    return NumericProblem(
        counts, requests, capacity_array, np.array(prices, dtype=float), allowed, tuple(labels)
    )


@dataclass(frozen=True)
class OracleResult:
    """The solver's answer."""

    cost: float
    """Price of the best plan found."""
    bound: float
    """A proven lower bound on the optimum (equals ``cost`` when proven optimal)."""
    proven: bool
    preferences_kept: bool = False
    """Whether the modelled preferences were kept as requirements (they could all be met)."""


def optimal_cost(inp: PlanningInput, time_limit: float = 20.0, *, preferences: bool = True) -> OracleResult:
    """The cheapest new-node plan's price, by mixed-integer programming.

    Placement constraints are modelled (see :mod:`ebb.sim.milp_constraints`); with
    ``preferences`` the supported preferences are required as well, and when they cannot all be
    kept together the optimum without them is returned (``OracleResult.preferences_kept`` says which).
    """
    p = numeric_problem(inp)
    constraints = placement_constraints(inp, p, preferences=preferences)
    if constraints.preferences_used:
        try:
            return _solve(p, constraints, time_limit, preferences_kept=True)
        except InfeasibleError:
            constraints = placement_constraints(inp, p, preferences=False)
    return _solve(p, constraints, time_limit, preferences_kept=False)


class InfeasibleError(RuntimeError):
    """No plan places every pod under the constraints."""


def _solve(
    p: NumericProblem, constraints: PlacementConstraints, time_limit: float, *, preferences_kept: bool
) -> OracleResult:
    allowed = p.allowed & constraints.allowed
    groups, options = allowed.shape
    bins = int(p.counts.sum())
    if bins == 0:
        return OracleResult(0.0, 0.0, True, preferences_kept)
    model = _Model()
    y = model.block(bins * options, 1.0).reshape(bins, options)
    x = model.block(groups * bins, p.counts.repeat(bins).astype(float)).reshape(groups, bins)

    for b in range(bins):
        model.row([(int(y[b, o]), 1.0) for o in range(options)], -np.inf, 1.0)
    for g in range(groups):
        model.row([(int(x[g, b]), 1.0) for b in range(bins)], float(p.counts[g]), float(p.counts[g]))
    unit = np.maximum(p.capacity.max(axis=0), 1).astype(float)  # per-dimension scaling, for conditioning
    for b in range(bins):
        for d in range(4):
            entries = [(int(x[g, b]), p.requests[g, d] / unit[d]) for g in range(groups) if p.requests[g, d]]
            entries += [(int(y[b, o]), -p.capacity[o, d] / unit[d]) for o in range(options)]
            model.row(entries, -np.inf, 0.0)
    for g in range(groups):
        for b in range(bins):
            entries = [(int(x[g, b]), 1.0)]
            entries += [(int(y[b, o]), -float(p.counts[g])) for o in range(options) if allowed[g, o]]
            model.row(entries, -np.inf, 0.0)
    for b in range(1, bins):
        entries = [(int(y[b, o]), 1.0) for o in range(options)] + [
            (int(y[b - 1, o]), -1.0) for o in range(options)
        ]
        model.row(entries, -np.inf, 0.0)
    constraints.add_to(model, p, x, y)

    objective = np.zeros(model.size)
    objective[y.ravel()] = np.tile(p.prices, bins)
    result = milp(
        objective,
        constraints=LinearConstraint(model.matrix(), np.array(model.lower), np.array(model.upper)),
        integrality=np.ones(model.size),
        bounds=Bounds(np.zeros(model.size), np.array(model.bounds)),
        options={"time_limit": time_limit, "disp": False},
    )
    if result.status == 2:
        raise InfeasibleError(f"no plan places every pod under the constraints: {result.message}")
    if result.x is None:
        raise RuntimeError(f"the MILP found no plan: {result.message}")
    proven = result.status == 0
    bound = float(getattr(result, "mip_dual_bound", result.fun)) if not proven else float(result.fun)
    return OracleResult(cost=float(result.fun), bound=bound, proven=proven, preferences_kept=preferences_kept)


def lp_lower_bound(inp: PlanningInput) -> float:
    """A lower bound on any plan's price: the fractional relaxation of packing."""
    p = numeric_problem(inp)
    groups, options = p.allowed.shape
    pairs = np.argwhere(p.allowed)
    n_pairs = len(pairs)
    n_vars = n_pairs + options
    # Each group fully assigned.
    eq = coo_array((np.ones(n_pairs), (pairs[:, 0], np.arange(n_pairs))), shape=(groups, n_vars))
    # Per option and dimension: assigned demand within the fractional nodes' capacity.
    # Rows are scaled per dimension (bytes and millicores differ by 10^7) to keep HiGHS well conditioned.
    unit = np.maximum(p.capacity.max(axis=0), 1).astype(float)
    rows, cols, vals = [], [], []
    for d in range(4):
        demand = p.requests[pairs[:, 0], d].astype(float) / unit[d]
        keep = demand > 0
        rows.append(pairs[keep, 1] * 4 + d)
        cols.append(np.arange(n_pairs)[keep])
        vals.append(demand[keep])
        rows.append(np.arange(options) * 4 + d)
        cols.append(n_pairs + np.arange(options))
        vals.append(-p.capacity[:, d].astype(float) / unit[d])
    ub = coo_array(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(options * 4, n_vars)
    )
    cost = np.concatenate([np.zeros(n_pairs), p.prices])
    result = linprog(
        cost,
        A_ub=ub.tocsr(),
        b_ub=np.zeros(options * 4),
        A_eq=eq.tocsr(),
        b_eq=p.counts.astype(float),
        bounds=(0, None),
        method="highs",
    )
    if result.status != 0:
        raise RuntimeError(f"the LP failed: {result.message}")
    return float(result.fun)
