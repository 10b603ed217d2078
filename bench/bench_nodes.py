"""Benchmark of the node planner: speed, and cost against the optimum, the LP bound and Karpenter.

Run: ``.venv/bin/python bench/bench_nodes.py`` (``--quick`` for fewer seeds). Prints:

1. small problems (pinned ``small_instance``, up to 12 and up to 30 pods): the plan's cost over the
   ``scipy.optimize.milp`` optimum and over the Karpenter reference, worst case over the seeds,
   with the exact search on (default) and off (heuristics only);
2. small constrained instances (``small_constrained_instance``: 200 seeds of up to 24 pods,
   every type in three zones, deployments with zone spread, one replica per node, at most two per
   node, a preferred hostname anti-affinity or one replica per zone): the distribution of the
   plan's cost over the MILP optimum with the same constraints (``optimal_cost`` models them,
   preferences required while they can all be met), the plan against the Karpenter reference
   given the same constraints (its topology groups, ``ebb.sim.karpenter_topology``), the same
   without the re-share search (``reshare_trials`` 0, planned in the same run), ebb's CPU time
   with and without it, and the five worst instances;
3. fleets of 1k, 5k and 20k pods (pinned ``fleet_instance``: continuous shapes, 10 % of pods with
   1, 2, 4 or 8 GPUs, 400 instance types): pods per second (one core, pure Python), and the cost
   over the LP lower bound and over the Karpenter reference, worst and best over five seeds;
4. a HyperPod case (pinned ``hyperpod_instance``: 3 to 8 GPU instance groups, 2,000 GPU pods);
5. the same fleets and HyperPod case with placement constraints: the instance groups dealt over
   three zones, every deployment spread over zones (``maxSkew`` 1, DoNotSchedule) and every tenth
   one also one replica per node (required hostname anti-affinity). The LP bound there is the
   unconstrained relaxation, a lower bound of the constrained problem too, so the ratio overstates
   the distance to the constrained optimum; the Karpenter reference is not run on them (its
   topology groups place such pods one at a time: the small instances compare them).

The reference is ``ebb.sim.karpenter_reference.karpenter_plan``: Karpenter's scheduler, with the
in-flight NodeClaims re-sorted by pod count before every pod. Go's ``sort.Slice`` does not keep
ties in order past 12 claims, so for the fleets and the HyperPod case the reference runs with ties
kept in order and with four seeded random tie orders (``karpenter_tie_spread``), and the ratio is
printed against the median of those five costs, with the range against the cheapest and the
dearest of them. The small problems open at most a dozen claims, where Go's sort is an insertion
sort and ties keep their order: one run is exact there.

Costs are marginal dollars per hour of the new nodes. Ratios over Karpenter below 1 mean cheaper.

``--speed`` prints only the planner's speed, in CPU seconds (``time.process_time``: the machine is
shared, so wall time measures the other jobs too), each constrained case against the same
instance without its constraints, planned in the same run: 20k pods over 400 types, the HyperPod
case of 2,000 GPU pods, the same over several NodePools (``hyperpod_pools``: one per GPU count,
each type in three zones, at most nine groups a pool), and a small pool like the simulator's
(two 4-GPU instance groups, 40 pods of which 16 already run), planned many times over. It
prints the load average with the figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from ebb.core.nodes import PlanningInput, plan_nodes
from ebb.core.nodes.catalogue import ZONE_LABEL, InstanceGroup, InstanceType
from ebb.core.nodes.nodepool import NodePool
from ebb.core.nodes.quantities import MIB, Resources
from ebb.core.nodes.topology import (
    HOSTNAME_KEY,
    LabelSelector,
    PodAffinityTerm,
    TopologySpread,
    WeightedPodAffinityTerm,
)
from ebb.core.nodes.workload import ExistingNode, PodGroup, PodsOnNode
from ebb.sim.karpenter_reference import TieSpread, karpenter_plan, karpenter_tie_spread
from ebb.sim.milp_oracle import lp_lower_bound, optimal_cost
from ebb.sim.node_instances import (
    DAEMONSET_OVERHEAD,
    EPOCH,
    HYPERPOD_TYPES,
    eks_kube_reserved,
    eks_max_pods,
    fleet_instance,
    hyperpod_instance,
    small_instance,
)


@dataclass
class Row:
    seed: int
    seconds: float
    pods: int
    cost: float
    bound: float
    reference: TieSpread

    @property
    def over_bound(self) -> float:
        return self.cost / self.bound if self.bound else 1.0

    @property
    def over_reference(self) -> float:
        """Against the median tie order."""
        return self.cost / self.reference.median if self.reference.median else 1.0

    @property
    def over_luckiest(self) -> float:
        """Against Karpenter's cheapest tie order (the least favourable comparison for ebb)."""
        return self.cost / self.reference.minimum if self.reference.minimum else 1.0

    @property
    def over_unluckiest(self) -> float:
        return self.cost / self.reference.maximum if self.reference.maximum else 1.0


def _pending(inp: PlanningInput) -> int:
    return sum(g.replicas for g in inp.pod_groups)


def _timed_plan(inp: PlanningInput) -> tuple[float, float]:
    started = time.perf_counter()
    plans = plan_nodes(inp)
    elapsed = time.perf_counter() - started
    if plans.unplaced or any(plan.unplaced for plan in plans.plans):
        raise RuntimeError("a benchmark instance left pods unplaced")
    return elapsed, plans.added_cost_per_hour


def small(seeds: range, max_pods: int, time_limit: float) -> dict[str, tuple[float, float, int]]:
    """Per mode: worst cost/optimum, worst cost/Karpenter, instances dearer than Karpenter.

    The optimum and the reference are computed once per seed; an optimum the solver did not prove
    within ``time_limit`` is counted (and its best plan used as the comparison).
    """
    worst: dict[str, list[float]] = {"default": [0.0, 0.0, 0], "heuristics only": [0.0, 0.0, 0]}
    unproven = 0
    over_bound = 0.0
    for seed in seeds:
        inp = small_instance(seed, max_pods=max_pods)
        optimum = optimal_cost(inp, time_limit=time_limit)
        unproven += not optimum.proven
        reference = karpenter_plan(inp).cost_per_hour
        for mode, states in (("default", inp.exact_search_states), ("heuristics only", 0)):
            _, cost = _timed_plan(inp.model_copy(update={"exact_search_states": states}))
            if mode == "default" and not optimum.proven:
                over_bound = max(over_bound, cost / optimum.bound if optimum.bound else 1.0)
            figures = worst[mode]
            figures[0] = max(figures[0], cost / optimum.cost if optimum.cost else 1.0)
            figures[1] = max(figures[1], cost / reference if reference else 1.0)
            figures[2] += cost > reference + 1e-9
    if unproven:
        print(
            f"  ({unproven} of {len(seeds)} optima for up to {max_pods} pods not proven in "
            f"{time_limit:.0f} s: compared with the solver's best plan; against its proven lower "
            f"bound the default plans are at worst {over_bound:.4f})"
        )
    return {mode: (f[0], f[1], int(f[2])) for mode, f in worst.items()}


def large(make: Callable[[int], PlanningInput], seeds: range) -> list[Row]:
    rows = []
    for seed in seeds:
        inp = make(seed)
        seconds, cost = _timed_plan(inp)
        rows.append(
            Row(
                seed=seed,
                seconds=seconds,
                pods=_pending(inp),
                cost=cost,
                bound=lp_lower_bound(inp),
                reference=karpenter_tie_spread(inp),
            )
        )
    return rows


ZONES = ("bench-1a", "bench-1b", "bench-1c")


def constrained(inp: PlanningInput) -> PlanningInput:
    """``inp`` over three zones, every deployment zone-spread and every tenth one per node."""
    groups = tuple(
        g.model_copy(update={"zone": ZONES[index % len(ZONES)]})
        for index, g in enumerate(inp.instance_groups)
    )
    return spread_pods(inp.model_copy(update={"instance_groups": groups}))


def spread_pods(inp: PlanningInput) -> PlanningInput:
    """``inp`` with every deployment zone-spread (maxSkew 1) and every tenth one per node."""
    pods = []
    for index, group in enumerate(inp.pod_groups):
        own = LabelSelector(match_labels={"app": group.name})
        update: dict[str, object] = {
            "labels": {"app": group.name},
            "topology_spread": (TopologySpread(topology_key=ZONE_LABEL, max_skew=1, label_selector=own),),
        }
        if index % 10 == 0:
            update["pod_anti_affinity"] = (PodAffinityTerm(topology_key=HOSTNAME_KEY, label_selector=own),)
        pods.append(group.model_copy(update=update))
    return inp.model_copy(update={"pod_groups": tuple(pods)})


def hyperpod_pools(seed: int, pods: int = 2_000) -> PlanningInput:
    """The HyperPod case over several NodePools: one per GPU count, each type in three zones.

    Every instance type of ``hyperpod_instance(seed)`` becomes a group in each of the three zones,
    and the groups are shared into NodePools (HyperpodNodeClasses) by the types' GPU count, at most
    nine groups each: 1-GPU types weighted first, then 4-GPU, then 8-GPU, so a pod falls through
    to the next pool when a pool has no type for it.
    """
    base = hyperpod_instance(seed, pods)
    overhead = base.node_pools[0].daemonset_overhead
    groups = [
        InstanceGroup(name=f"ig-{t.name}-{zone}", zone=zone, instance_types=(t.name,))
        for t in base.instance_types
        for zone in ZONES
    ]
    types = {t.name: t for t in base.instance_types}
    by_gpus: dict[int, list[str]] = {}
    for group in groups:
        by_gpus.setdefault(types[group.instance_types[0]].gpus, []).append(group.name)
    node_pools = tuple(
        NodePool(
            name=f"gpu-{gpus}",
            instance_groups=tuple(names),
            weight=90 - 10 * rank,
            daemonset_overhead=overhead,
        )
        for rank, (gpus, names) in enumerate(sorted(by_gpus.items()))
    )
    return base.model_copy(update={"instance_groups": tuple(groups), "node_pools": node_pools})


def large_constrained(make: Callable[[int], PlanningInput], seeds: range) -> list[Row]:
    rows = []
    for seed in seeds:
        inp = constrained(make(seed))
        seconds, cost = _timed_plan(inp)
        rows.append(
            Row(
                seed=seed,
                seconds=seconds,
                pods=_pending(inp),
                cost=cost,
                bound=lp_lower_bound(inp),
                # The reference models no placement constraints: nothing to compare against.
                reference=TieSpread(costs=(0.0,)),
            )
        )
    return rows


def report_constrained(title: str, rows: list[Row]) -> None:
    slowest = max(rows, key=lambda r: r.seconds)
    print(
        f"{title:>24}: {min(r.pods / r.seconds for r in rows):10,.0f} pods/s "
        f"(slowest {slowest.seconds:.2f} s), cost/unconstrained LP bound worst "
        f"{max(r.over_bound for r in rows):.4f}, seeds {[r.seed for r in rows]}"
    )


def report(title: str, rows: list[Row]) -> None:
    slowest = max(rows, key=lambda r: r.seconds)
    print(
        f"{title:>24}: {min(r.pods / r.seconds for r in rows):10,.0f} pods/s "
        f"(slowest {slowest.seconds:.2f} s), "
        f"cost/LP bound worst {max(r.over_bound for r in rows):.4f}, "
        f"cost/Karpenter (median tie order) worst {max(r.over_reference for r in rows):.4f} "
        f"best {min(r.over_reference for r in rows):.4f}; over the tie orders "
        f"{min(r.over_unluckiest for r in rows):.4f}-{max(r.over_luckiest for r in rows):.4f}, "
        f"seeds {[r.seed for r in rows]}"
    )


# --- small constrained instances: quality against the MILP optimum and the Karpenter reference ---


def small_constrained_instance(seed: int, max_pods: int = 24) -> PlanningInput:
    """``small_instance(seed)`` with every type offered in three zones and placement constraints.

    Each deployment gets, at random (seeded): a zone spread (maxSkew 1 or 2, DoNotSchedule, on its
    own pods), one replica per node (required hostname anti-affinity), at most two per node
    (hostname spread maxSkew 2), a preferred hostname anti-affinity (weight 1-100), or one replica
    per zone (required zone anti-affinity, only for up to three replicas); about a third have none.
    Every zone offers the same types at the same prices, so every zone is a domain for every pod.
    """
    base = small_instance(seed, max_pods=max_pods)
    rng = np.random.default_rng([9107, seed, max_pods])
    groups = tuple(
        g.model_copy(update={"name": f"{g.name}-{zone}", "zone": zone})
        for g in base.instance_groups
        for zone in ZONES
    )
    pool = base.node_pools[0].model_copy(update={"instance_groups": tuple(g.name for g in groups)})
    pods = []
    for group in base.pod_groups:
        own = LabelSelector(match_labels={"app": group.name})
        update: dict[str, object] = {"labels": {"app": group.name}}
        draw = float(rng.random())
        if draw < 0.25:
            update["topology_spread"] = (
                TopologySpread(topology_key=ZONE_LABEL, max_skew=int(rng.integers(1, 3)), label_selector=own),
            )
        elif draw < 0.4:
            update["pod_anti_affinity"] = (PodAffinityTerm(topology_key=HOSTNAME_KEY, label_selector=own),)
        elif draw < 0.5:
            update["topology_spread"] = (
                TopologySpread(topology_key=HOSTNAME_KEY, max_skew=2, label_selector=own),
            )
        elif draw < 0.6:
            update["preferred_pod_anti_affinity"] = (
                WeightedPodAffinityTerm(
                    weight=int(rng.integers(1, 101)),
                    term=PodAffinityTerm(topology_key=HOSTNAME_KEY, label_selector=own),
                ),
            )
        elif draw < 0.68 and group.replicas <= len(ZONES):
            update["pod_anti_affinity"] = (PodAffinityTerm(topology_key=ZONE_LABEL, label_selector=own),)
        pods.append(group.model_copy(update=update))
    return base.model_copy(
        update={"instance_groups": groups, "node_pools": (pool,), "pod_groups": tuple(pods)}
    )


@dataclass
class ConstrainedRow:
    seed: int
    pods: int
    cost: float
    optimum: float
    proven: bool
    bound: float
    """The solver's proven lower bound (the optimum when proven)."""
    reference: float | None
    """``None`` when the reference left pods pending (no cost to compare)."""
    constraints: str
    seconds: float
    """CPU seconds of ebb's plan."""
    unshared_cost: float
    """The plan's cost without the re-share search (``reshare_trials`` 0), in the same run."""
    unshared_seconds: float

    @property
    def over_optimum(self) -> float:
        return self.cost / self.optimum if self.optimum else 1.0

    @property
    def unshared_over_optimum(self) -> float:
        return self.unshared_cost / self.optimum if self.optimum else 1.0

    @property
    def over_reference(self) -> float | None:
        if self.reference is None:
            return None
        return self.cost / self.reference if self.reference else 1.0


def _constraints_of(inp: PlanningInput) -> str:
    kinds = []
    for g in inp.pod_groups:
        for s in g.topology_spread:
            kinds.append(f"{g.name}x{g.replicas}:spread({s.topology_key.rsplit('/', 1)[-1]},{s.max_skew})")
        for t in g.pod_anti_affinity:
            kinds.append(f"{g.name}x{g.replicas}:anti({t.topology_key.rsplit('/', 1)[-1]})")
        for w in g.preferred_pod_anti_affinity:
            kinds.append(f"{g.name}x{g.replicas}:preferred-anti({w.term.topology_key.rsplit('/', 1)[-1]})")
    return " ".join(kinds) or "none"


def small_constrained(count: int, max_pods: int, time_limit: float) -> list[ConstrainedRow]:
    """Plan ``count`` seeds' constrained instances with ebb, the MILP and the Karpenter reference.

    Seeds for which ``small_instance`` draws no pod shape that fits (it says so) are passed over.
    """
    rows: list[ConstrainedRow] = []
    seed = -1
    while len(rows) < count:
        seed += 1
        try:
            inp = small_constrained_instance(seed, max_pods)
        except RuntimeError as error:
            if "no shape fits" not in str(error):
                raise
            continue
        started = time.process_time()
        _, cost = _timed_plan(inp)
        seconds = time.process_time() - started
        started = time.process_time()
        _, unshared_cost = _timed_plan(inp.model_copy(update={"reshare_trials": 0}))
        unshared_seconds = time.process_time() - started
        optimum = optimal_cost(inp, time_limit=time_limit)
        reference = karpenter_plan(inp)
        rows.append(
            ConstrainedRow(
                seed=seed,
                pods=_pending(inp),
                cost=cost,
                optimum=optimum.cost,
                proven=optimum.proven,
                bound=optimum.bound,
                reference=None if reference.unplaced else reference.cost_per_hour,
                constraints=_constraints_of(inp),
                seconds=seconds,
                unshared_cost=unshared_cost,
                unshared_seconds=unshared_seconds,
            )
        )
    return rows


def _milliseconds(seconds: list[float]) -> str:
    times = np.array(seconds) * 1000
    return f"median {np.median(times):.1f} p90 {np.quantile(times, 0.9):.1f} worst {times.max():.0f}"


def report_small_constrained(rows: list[ConstrainedRow], max_pods: int) -> None:
    ratios = np.array([r.over_optimum for r in rows])
    compared = [r for r in rows if r.over_reference is not None]
    versus = np.array([r.over_reference for r in compared], dtype=float)
    unproven = sum(not r.proven for r in rows)
    passed_over = rows[-1].seed + 1 - len(rows)
    print(
        f"  {len(rows)} seeds (0-{rows[-1].seed}; {passed_over} with no fitting pod shape passed over), "
        f"up to {max_pods} pods, three zones: cost/MILP optimum "
        f"p50 {np.quantile(ratios, 0.5):.4f} p90 {np.quantile(ratios, 0.9):.4f} "
        f"p99 {np.quantile(ratios, 0.99):.4f} worst {ratios.max():.4f}; "
        f"optimal on {int(np.sum(ratios <= 1 + 1e-9))}/{len(rows)}"
    )
    unshared = np.array([r.unshared_over_optimum for r in rows])
    print(
        f"  without the re-share search (reshare_trials 0): p99 {np.quantile(unshared, 0.99):.4f} "
        f"worst {unshared.max():.4f}, optimal on {int(np.sum(unshared <= 1 + 1e-9))}/{len(rows)}; "
        f"the search made {int(np.sum(ratios < unshared - 1e-9))} plans cheaper"
    )
    with_search = _milliseconds([r.seconds for r in rows])
    without = _milliseconds([r.unshared_seconds for r in rows])
    print(f"  ebb's plan, CPU ms: {with_search}; without the re-share {without}")
    if unproven:
        over_bound = max(r.cost / r.bound if r.bound else 1.0 for r in rows if not r.proven)
        print(
            f"  ({unproven} optima not proven in the time limit: compared with the solver's best plan; "
            f"against its proven lower bound ebb is at worst {over_bound:.4f} on those)"
        )
    if len(versus):
        print(
            f"  cost/Karpenter reference: best {versus.min():.4f} median {np.median(versus):.4f} "
            f"worst {versus.max():.4f}; dearer than the reference on {int(np.sum(versus > 1 + 1e-9))}/"
            f"{len(compared)} (the reference left pods pending on {len(rows) - len(compared)} more)"
        )
    print("  worst against the optimum:")
    for row in sorted(rows, key=lambda r: -r.over_optimum)[:5]:
        reference = "pods left pending" if row.reference is None else f"${row.reference:.4f}"
        print(
            f"    seed {row.seed}: {row.pods} pods, ebb ${row.cost:.4f}, optimum ${row.optimum:.4f} "
            f"({row.over_optimum:.4f}), Karpenter {reference}; {row.constraints}"
        )


def _fleet(seed: int, pods: int) -> PlanningInput:
    return fleet_instance(seed, pods)


def _hyperpod(seed: int, pods: int) -> PlanningInput:
    return hyperpod_instance(seed, pods)


def _cpu_seconds(inp: PlanningInput, repeat: int = 1) -> float:
    """CPU seconds of one plan (the mean over ``repeat`` plans); unplaced pods are an error."""
    started = time.process_time()
    for _ in range(repeat):
        plans = plan_nodes(inp)
    elapsed = (time.process_time() - started) / repeat
    if plans.unplaced or any(plan.unplaced for plan in plans.plans):
        raise RuntimeError("a benchmark instance left pods unplaced")
    return elapsed


def small_pool(seed: int) -> PlanningInput:
    """A pool like the simulator's: two 4-GPU instance groups, 40 pods of two models, 16 running.

    Four ml.g5.12xlarge nodes run 16 pods of the first model; 24 more of it and 8 of a second,
    smaller one are pending (``seed`` shifts the second model's requests).
    """
    rows = {row[0]: row for row in HYPERPOD_TYPES}
    types = []
    for name in ("ml.g5.12xlarge", "ml.g6.12xlarge"):
        _, vcpus, memory_gib, gpus, price = rows[name]
        pods = eks_max_pods(vcpus)
        types.append(
            InstanceType(
                name=name,
                vcpus=vcpus,
                memory_mib=memory_gib * 1024,
                gpus=gpus,
                max_pods=pods,
                price_per_hour=price,
                kube_reserved=eks_kube_reserved(vcpus, pods),
            )
        )
    groups = tuple(
        InstanceGroup(name=f"ig-{t.name}", zone=ZONES[i], instance_types=(t.name,), max_count=20)
        for i, t in enumerate(types)
    )
    pool = NodePool(
        name="gpu", instance_groups=tuple(g.name for g in groups), daemonset_overhead=DAEMONSET_OVERHEAD
    )
    llm = PodGroup(
        name="llm", replicas=40, requests=Resources(cpu_millis=10_000, memory_bytes=40_960 * MIB, gpus=1)
    )
    batch = PodGroup(
        name="batch",
        replicas=8,
        requests=Resources(cpu_millis=4_000 + 500 * (seed % 4), memory_bytes=16_384 * MIB, gpus=1),
    )
    nodes = tuple(
        ExistingNode(
            name=f"node-{i}",
            node_pool=pool.name,
            instance_group=groups[0].name,
            instance_type=types[0].name,
            pods=(PodsOnNode(group="llm", count=4),),
            launched_at=EPOCH,
            initialized_at=EPOCH,
        )
        for i in range(4)
    )
    return PlanningInput(
        now=EPOCH,
        pod_groups=(llm, batch),
        node_pools=(pool,),
        instance_groups=groups,
        instance_types=tuple(types),
        nodes=nodes,
    )


def speed(seeds: range) -> None:
    """CPU seconds per plan, constrained against unconstrained in the same run (see the module doc)."""
    load = os.getloadavg()
    print(f"planner speed, CPU seconds (load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}):")
    cases: tuple[
        tuple[str, Callable[[int], PlanningInput], Callable[[PlanningInput], PlanningInput], float], ...
    ] = (
        ("20,000 pods", partial(_fleet, pods=20_000), constrained, 3.0),
        ("2,000 GPU pods", partial(_hyperpod, pods=2_000), constrained, 0.5),
        ("2,000 GPU pods, 2-3 pools", partial(hyperpod_pools, pods=2_000), spread_pods, 0.5),
    )
    for title, make, constrain, goal in cases:
        free, held = [], []
        for seed in seeds:
            inp = make(seed)
            free.append(_cpu_seconds(inp))
            held.append(_cpu_seconds(constrain(inp)))
        ratios = [h / f for h, f in zip(held, free, strict=True)]
        print(
            f"{title:>24}: constrained worst {max(held):.2f} s, median {statistics.median(held):.2f} s "
            f"(goal {goal:g} s); unconstrained worst {max(free):.2f} s; constrained/unconstrained "
            f"{min(ratios):.2f}-{max(ratios):.2f}x, seeds {list(seeds)}"
        )
    small_times = [_cpu_seconds(small_pool(seed), repeat=200) for seed in seeds]
    print(
        f"{'small pool (40+8 pods)':>24}: {statistics.median(small_times) * 1000:.2f} ms per plan "
        f"(median of {len(small_times)} seeds, worst {max(small_times) * 1000:.2f} ms), 200 plans each"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer seeds (for a smoke run)")
    parser.add_argument("--speed", action="store_true", help="only the planner's speed, in CPU seconds")
    args = parser.parse_args()
    seeds = range(2 if args.quick else 5)
    if args.speed:
        speed(seeds)
        return

    print("small problems, cost over the MILP optimum (worst instance) and over Karpenter's approach:")
    for max_pods, count, time_limit in ((12, 100, 30.0), (30, 40, 30.0)):
        small_seeds = range(count // 5 if args.quick else count)
        for mode, (worst, reference, dearer) in small(small_seeds, max_pods, time_limit).items():
            print(
                f"  up to {max_pods:2d} pods, {mode:>15}: cost/optimum worst {worst:.4f}, "
                f"cost/Karpenter worst {reference:.4f}, dearer than Karpenter {dearer}/{len(small_seeds)}"
            )

    print("small constrained instances against the MILP optimum and Karpenter given the same constraints:")
    report_small_constrained(small_constrained(40 if args.quick else 200, 24, 20.0), 24)

    print(f"fleets (400 instance types, 10 % GPU pods), worst of {len(seeds)} seeds:")
    for pods in (1_000, 5_000, 20_000):
        report(f"{pods:,} pods", large(partial(_fleet, pods=pods), seeds))
    print("HyperPod GPU instance groups:")
    report("2,000 GPU pods", large(partial(_hyperpod, pods=2_000), seeds))
    print("with zone spread (maxSkew 1) on every deployment and hostname anti-affinity on a tenth:")
    for pods in (1_000, 5_000, 20_000):
        report_constrained(f"{pods:,} pods", large_constrained(partial(_fleet, pods=pods), seeds))
    report_constrained("2,000 GPU pods", large_constrained(partial(_hyperpod, pods=2_000), seeds))


if __name__ == "__main__":
    main()
