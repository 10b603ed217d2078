"""`ebb simulate`'s full table for every trace in ../shared/traces at boot delays of 60, 180 and 300 s.

Each policy runs on its own simulated cluster (same seed, same configuration: the comparison's
example) and is reported against the oracle's cost floor. Prints, per trace and boot delay, the
table `ebb simulate` prints, then one summary line per (trace, boot delay) with ebb's cost and
unserved share against each other policy's, and the wall and CPU time per policy; at the end,
the summary table the README quotes (Markdown: per trace and boot delay, each policy's cost, its
ratio to the oracle's floor and its unserved share, and ebb's own AWS bill). `--summary-from`
prints that table from the JSON files of earlier runs instead of running. Benchmarks may read
../shared (tests may not).

    .venv/bin/python bench/bench_simulate.py [--traces DIR] [--boot-delays 60 180 300]
        [--policies ebb,keda-karpenter,static,oracle] [--only SUBSTRING] [--first-minutes N] [--json FILE]
    .venv/bin/python bench/bench_simulate.py --summary-from FILE.json [FILE.json ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from ebb.cli.simulate import DEFAULT_CONFIG
from ebb.sim.simulator.comparison import compare, scaled_demand
from ebb.sim.simulator.report import as_json, table
from ebb.sim.simulator.run import POLICIES
from ebb.sim.simulator.world import Demand, RunSettings
from ebb.traffic.traces import read_trace

ROOT = Path(__file__).resolve().parents[1]
# ../shared/traces beside the checkout (a worktree one level deeper finds it a level up).
TRACES = next(
    (d / "shared" / "traces" for d in ROOT.parents if (d / "shared" / "traces").is_dir()),
    ROOT.parent / "shared" / "traces",
)


def trace_files(directory: Path) -> list[Path]:
    return sorted(path for path in directory.rglob("*.csv"))


def summary_table(results: list[dict[str, Any]]) -> str:
    """The README's table: one row per (trace, boot delay), one column per policy, from `as_json`."""
    names = [p["policy"] for p in results[0]["policies"]] if results else []
    lines = [
        "| trace, boot | " + " | ".join(names) + " | ebb's AWS bill |",
        "|---|" + "---|" * (len(names) + 1),
    ]
    for result in results:
        policies = {p["policy"]: p for p in result["policies"]}
        floor = policies["oracle"]["costUsd"] if "oracle" in policies else None
        cells = []
        for name in names:
            report = policies[name]
            ratio = f" ({report['costUsd'] / floor:.2f}x)" if floor and name != "oracle" else ""
            cells.append(f"${report['costUsd']:,.2f}{ratio}, {report['unservedShare']:.2%}")
        bill = policies.get("ebb", {}).get("ownAwsBill")
        cells.append("-" if not bill else f"${bill['totalUsd']:,.2f}")
        span = "" if "(first" in result["trace"] else f" ({result['minutes']:,} min)"
        label = f"{result['trace']}{span}, {result['bootDelaySeconds']:g} s"
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--traces", type=Path, default=TRACES)
    parser.add_argument("--boot-delays", type=float, nargs="+", default=[60.0, 180.0, 300.0])
    parser.add_argument("--policies", default=",".join(POLICIES))
    parser.add_argument("--only", default=None, help="only traces whose file name contains this")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--first-minutes", type=int, default=None, help="replay only the first N minutes of each scaled trace"
    )
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--summary-from", type=Path, nargs="+", default=None, help="print the summary of earlier --json files"
    )
    args = parser.parse_args(argv)
    if args.summary_from is not None:
        print(
            summary_table(
                [doc for path in args.summary_from for doc in json.loads(path.read_text(encoding="utf-8"))]
            )
        )
        return 0
    console = Console(width=200)
    policies = [p for p in args.policies.split(",") if p]
    results = []
    for path in trace_files(args.traces):
        if args.only and args.only not in path.name:
            continue
        trace = read_trace(path)
        demand = scaled_demand(trace, path.name, load_multiplier=1.0, seed=args.seed)
        if args.first_minutes is not None and demand.minutes > args.first_minutes:
            demand = Demand(
                arrivals=demand.arrivals[: args.first_minutes],
                hold_seconds=demand.hold_seconds[: args.first_minutes],
                name=f"{path.name} (first {args.first_minutes} min)",
            )
        for boot in args.boot_delays:
            started = time.perf_counter()
            comparison = compare(
                demand, DEFAULT_CONFIG, RunSettings(boot_delay=boot, seed=args.seed), policies
            )
            elapsed = time.perf_counter() - started
            console.print(table(comparison))
            reports = {r.policy: r for r in comparison.reports}
            if "ebb" in reports:
                ebb = reports["ebb"]
                for other in (r for r in comparison.reports if r.policy != "ebb"):
                    ratio = ebb.cost / other.cost if other.cost else float("nan")
                    console.print(
                        f"  {path.name} boot {boot:g} s: ebb costs {ratio:.2f}x {other.policy} "
                        f"(unserved {ebb.unserved_share:.2%} vs {other.unserved_share:.2%})"
                    )
            console.print(
                "  wall s (CPU s) per policy: "
                + ", ".join(
                    f"{r.policy} {r.wall_seconds:.1f} ({r.cpu_seconds:.1f})" for r in comparison.reports
                )
                + f" (all {elapsed:.1f}); ebb's decision "
                + (f"{reports['ebb'].seconds_per_decision * 1000:.2f} ms" if "ebb" in reports else "-")
            )
            results.append(as_json(comparison))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    console.print(summary_table(results), markup=False, highlight=False, soft_wrap=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
