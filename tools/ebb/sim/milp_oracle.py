"""The exact answer and a lower bound for new-node packing, with ``scipy.optimize.milp``/``linprog``.

Both read a single-pool :class:`PlanningInput` with no existing nodes, limits or group maxima
(what the quality benchmarks generate) and model it independently of the planner's code:

* :func:`optimal_cost` solves the assignment model: bins ``b`` (at most one per pod), binaries
  ``y[b, o]`` choosing the bin's instance group, integers ``x[g, b]`` counting pods of group ``g``
  in bin ``b``; each group fully placed, each bin within its group's allocatable in every
  dimension and holding only pods allowed there; bins used in order to cut symmetry; minimise the
  price of the chosen groups. A time limit bounds the solve; the result says if it was proven.
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
    return NumericProblem(counts, requests, capacity_array, np.array(prices, dtype=float), allowed)


@dataclass(frozen=True)
class OracleResult:
    """The solver's answer."""

    cost: float
    """Price of the best plan found."""
    bound: float
    """A proven lower bound on the optimum (equals ``cost`` when proven optimal)."""
    proven: bool


def optimal_cost(inp: PlanningInput, time_limit: float = 20.0) -> OracleResult:
    """The cheapest new-node plan's price, by mixed-integer programming."""
    p = numeric_problem(inp)
    groups, options = p.allowed.shape
    bins = int(p.counts.sum())
    if bins == 0:
        return OracleResult(0.0, 0.0, True)
    n_y = bins * options
    n_x = groups * bins

    def y(b: int, o: int) -> int:
        return int(b * options + o)

    def x(g: int, b: int) -> int:
        return int(n_y + g * bins + b)

    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    lower: list[float] = []
    upper: list[float] = []

    def row(entries: list[tuple[int, float]], lo: float, hi: float) -> None:
        index = len(lower)
        for col, val in entries:
            rows.append(index)
            cols.append(col)
            vals.append(val)
        lower.append(lo)
        upper.append(hi)

    for b in range(bins):
        row([(y(b, o), 1.0) for o in range(options)], -np.inf, 1.0)
    for g in range(groups):
        row([(x(g, b), 1.0) for b in range(bins)], float(p.counts[g]), float(p.counts[g]))
    unit = np.maximum(p.capacity.max(axis=0), 1).astype(float)  # per-dimension scaling, for conditioning
    for b in range(bins):
        for d in range(4):
            entries = [(x(g, b), p.requests[g, d] / unit[d]) for g in range(groups) if p.requests[g, d]]
            entries += [(y(b, o), -p.capacity[o, d] / unit[d]) for o in range(options)]
            row(entries, -np.inf, 0.0)
    for g in range(groups):
        for b in range(bins):
            entries = [(x(g, b), 1.0)]
            entries += [(y(b, o), -float(p.counts[g])) for o in range(options) if p.allowed[g, o]]
            row(entries, -np.inf, 0.0)
    for b in range(1, bins):
        entries = [(y(b, o), 1.0) for o in range(options)] + [(y(b - 1, o), -1.0) for o in range(options)]
        row(entries, -np.inf, 0.0)

    matrix = coo_array((vals, (rows, cols)), shape=(len(lower), n_y + n_x)).tocsr()
    objective = np.concatenate([np.tile(p.prices, bins), np.zeros(n_x)])
    upper_bounds = np.concatenate([np.ones(n_y), np.repeat(p.counts.astype(float), bins)])
    result = milp(
        objective,
        constraints=LinearConstraint(matrix, np.array(lower), np.array(upper)),
        integrality=np.ones(n_y + n_x),
        bounds=Bounds(np.zeros(n_y + n_x), upper_bounds),
        options={"time_limit": time_limit, "disp": False},
    )
    if result.x is None:
        raise RuntimeError(f"the MILP found no plan: {result.message}")
    proven = result.status == 0
    bound = float(getattr(result, "mip_dual_bound", result.fun)) if not proven else float(result.fun)
    return OracleResult(cost=float(result.fun), bound=bound, proven=proven)


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
