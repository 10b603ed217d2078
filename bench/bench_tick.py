"""One tick of the deployed decide path over a fleet of NodePools, in the local world with its
latency model: does every pool get decided, what does the tick read, and how long does it take.

The fleet (`ebb.local.fleet_deployment`): 50 NodePools, each with one HyperPod instance group;
one scaler each, and five scalers in every tenth pool (SQS triggers, plus a CloudWatch trigger
each where a pool has several scalers). The first tick makes the alarms; the bench measures the
next one:
- every pool decided (one audit entry per pool for that tick);
- calls by kind, in total and per pool, and the per-pool Kubernetes reads for a pool of one
  scaler beside a pool of five;
- the simulated time from the tick's invocation to the last pool's decision recorded.

Run: .venv/bin/python bench/bench_tick.py [--pools 50] [--every 10]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from ebb.local.cluster import HyperPodOnEks
from ebb.local.fleet_deployment import deployed_fleet, pool_name
from ebb.local.kubernetes import generate_cluster_certificates
from ebb.local.stack_deployment import audit, run_past_next_tick

TICK = "SignalsFunctionTick"


def tick_decisions(cluster: HyperPodOnEks, pools: int, since: datetime) -> dict[str, dict[str, Any]]:
    """Each pool's decision of the tick after `since` (the oldest decision from then on that a
    tick asked for), by pool."""
    found = {}
    for index in range(pools):
        pool = pool_name(index)
        decisions = [
            d
            for d in audit(cluster, f"POOL#{pool}", since)
            if d.get("event") is None and "tick" in d["reasons"]
        ]
        if decisions:
            found[pool] = decisions[-1]
    return found


def run_tick(cluster: HyperPodOnEks, pools: int) -> tuple[datetime, dict[str, dict[str, Any]]]:
    """Run past the next tick until every pool has decided (or 120 s); returns when it fired."""
    world = cluster.world
    before = world.now()
    ticks = [i for i in world.scheduler.invocations if i.schedule_arn.endswith(TICK)]
    run_past_next_tick(cluster, margin=1.0)
    (fired,) = [i for i in world.scheduler.invocations if i.schedule_arn.endswith(TICK)][len(ticks) :]
    decided = tick_decisions(cluster, pools, before)
    for _ in range(120):
        if len(decided) == pools:
            break
        world.run_for(1)
        decided = tick_decisions(cluster, pools, before)
    return fired.invoked_at, decided


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pools", type=int, default=50)
    parser.add_argument("--every", type=int, default=10, help="every N-th pool has five scalers")
    args = parser.parse_args()
    scalers = [5 if index % args.every == 0 else 1 for index in range(args.pools)]
    certificates = generate_cluster_certificates()
    wall = time.perf_counter()
    # The functions' logs and metrics (Powertools writes them to stdout) are not the bench's output.
    with (
        contextlib.redirect_stdout(io.StringIO()),
        tempfile.TemporaryDirectory() as scratch,
        deployed_fleet(Path(scratch) / "config", certificates, scalers) as (cluster, _config),
    ):
        run_past_next_tick(cluster, margin=30.0)  # the first tick: alarms made, pools decided once
        setup = time.perf_counter() - wall
        wall = time.perf_counter()
        fired, decided = run_tick(cluster, args.pools)
        measured = time.perf_counter() - wall

    print(
        f"{args.pools} pools ({sum(scalers)} scalers; {scalers.count(5)} pools of 5): "
        f"{len(decided)} decided by one tick"
    )
    last = max(datetime.fromisoformat(d["recordedAt"]) for d in decided.values())
    span = (last - fired).total_seconds()
    print(f"tick at {fired.isoformat()}, last pool recorded {span:.1f} simulated s later")
    total: Counter[str] = Counter()
    for decision in decided.values():
        total.update(decision["calls"])
    print("calls per tick, by kind (total / per pool, min-max):")
    for kind in sorted(total):
        per_pool = [d["calls"].get(kind, 0) for d in decided.values()]
        print(f"  {kind:40s} {total[kind]:5d}  {min(per_pool)}-{max(per_pool)}")
    for index in (1, 0):
        pool = pool_name(index)
        if pool in decided:
            kubernetes = {k: n for k, n in decided[pool]["calls"].items() if k.startswith("kubernetes:")}
            reads = sum(kubernetes.values())
            print(f"  {pool} ({scalers[index]} scaler(s)): Kubernetes reads {reads} {kubernetes}")
    print(f"wall time here: {setup:.1f} s to deploy and run the first tick, {measured:.1f} s for the tick")


if __name__ == "__main__":
    main()
