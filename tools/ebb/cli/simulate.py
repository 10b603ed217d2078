"""`ebb simulate`: replay a trace against ebb, KEDA + Karpenter, static provisioning and the oracle."""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ebb.errors import EbbError

POLICIES = ("ebb", "keda-karpenter", "static", "oracle")
"""As `ebb.sim.simulator.run.POLICIES` (imported when the command runs, not when `ebb` starts)."""

DEFAULT_CONFIG = Path(__file__).resolve().parents[3] / "examples" / "simulate-comparison"
"""The comparison's configuration, shipped as a named example."""
LONG_RUN_MINUTES = 600
"""Traces longer than this get a progress bar."""


def add_parser(subparsers: Any) -> None:  # argparse's _SubParsersAction is private
    """Register the `simulate` sub-command; `args.run(args)` returns the exit code."""
    parser = subparsers.add_parser(
        "simulate",
        help="replay a request trace against ebb and the baselines on a simulated cluster",
        description="Replay a trace through ebb's own decision step and provisioning policy, KEDA + "
        "Karpenter, static provisioning and a clairvoyant oracle, each on its own simulated cluster "
        "(simulated clock, no AWS, no HTTP), and compare what they served and what they cost.",
    )
    parser.add_argument(
        "--trace", required=True, type=Path, metavar="FILE", help="a request or count trace (CSV)"
    )
    parser.add_argument(
        "--config", type=Path, default=DEFAULT_CONFIG, metavar="DIR", help="configuration directory"
    )
    parser.add_argument(
        "--policy", default=",".join(POLICIES), help=f"comma-separated, from {', '.join(POLICIES)}"
    )
    parser.add_argument(
        "--boot-delay", type=float, default=180.0, metavar="SECONDS", help="mean node boot time (default 180)"
    )
    parser.add_argument(
        "--load-multiplier",
        type=float,
        default=1.0,
        metavar="X",
        help="multiply the scaled trace's load by X",
    )
    parser.add_argument("--peak-pods", type=int, default=40, metavar="N", help="pods the scaled peak needs")
    parser.add_argument("--seed", type=int, default=0, help="seed of boot times and trace jitter (default 0)")
    parser.add_argument(
        "--timestamp-column", default=None, help="the trace's timestamp column (default: detected)"
    )
    parser.add_argument(
        "--count-column", default=None, help="a count trace's count column (default: detected)"
    )
    parser.add_argument(
        "--interval-seconds", type=float, default=None, help="a count trace's interval (default: detected)"
    )
    parser.add_argument(
        "--shortage",
        action="append",
        default=[],
        metavar="TYPE:ZONE:FROM-TO",
        help="no capacity for TYPE in ZONE from minute FROM to minute TO after the first request "
        "(repeatable), e.g. ml.g5.12xlarge:us-east-1a:0-30",
    )
    parser.add_argument("--json", type=Path, default=None, metavar="FILE", help="write the report as JSON")
    parser.add_argument("--chart", type=Path, default=None, metavar="FILE", help="write a PNG chart")
    parser.set_defaults(run=run_simulate)


def run_simulate(args: argparse.Namespace, console: Console | None = None) -> int:
    """Run the comparison `args` describe; print the table; return the exit code."""
    # The simulator (numpy, the decision step, matplotlib) loads only for this command.
    from ebb.sim.simulator.cluster import ShortageWindow  # noqa: PLC0415
    from ebb.sim.simulator.comparison import compare, scaled_demand  # noqa: PLC0415 - lazy, see above
    from ebb.sim.simulator.report import table, write_chart, write_json  # noqa: PLC0415
    from ebb.sim.simulator.run import lead_seconds  # noqa: PLC0415
    from ebb.sim.simulator.world import RunSettings  # noqa: PLC0415
    from ebb.traffic.traces import read_trace  # noqa: PLC0415

    console = console or Console()
    policies = [p.strip() for p in args.policy.split(",") if p.strip()]
    unknown = sorted(set(policies) - set(POLICIES))
    if unknown or not policies:
        console.print(
            f"[red]unknown policy {', '.join(unknown) or '(none)'}; choose from {', '.join(POLICIES)}"
        )
        return 2
    try:
        trace = read_trace(
            args.trace,
            timestamp_column=args.timestamp_column,
            count_column=args.count_column,
            interval_seconds=args.interval_seconds,
        )
        demand = scaled_demand(
            trace,
            args.trace.name,
            load_multiplier=args.load_multiplier,
            seed=args.seed,
            target_pods=args.peak_pods,
        )
        settings = RunSettings(boot_delay=args.boot_delay, seed=args.seed)
        lead = math.ceil(lead_seconds(settings) / 60) * 60.0
        windows = []
        for text in args.shortage:
            try:
                kind, zone, span = text.split(":")
                start, end = (float(v) for v in span.split("-"))
            except ValueError:
                console.print(
                    f"[red]--shortage {text!r}: expected TYPE:ZONE:FROM-TO (minutes), "
                    "e.g. ml.g5.12xlarge:us-east-1a:0-30"
                )
                return 2
            windows.append(ShortageWindow(kind, zone, lead + start * 60, lead + end * 60))
        settings = RunSettings(boot_delay=args.boot_delay, seed=args.seed, shortages=tuple(windows))
        started = time.perf_counter()
        if demand.minutes > LONG_RUN_MINUTES:
            with Progress(
                TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console
            ) as bar:
                tasks = {name: bar.add_task(name, total=1.0) for name in policies}
                comparison = compare(
                    demand,
                    args.config,
                    settings,
                    policies,
                    progress=lambda name, share: bar.update(tasks[name], completed=share),
                )
        else:
            comparison = compare(demand, args.config, settings, policies)
        elapsed = time.perf_counter() - started
    except EbbError as error:
        console.print(f"[red]{error}")
        return 1
    console.print(table(comparison))
    for report in comparison.reports:
        if report.decisions:
            console.print(
                f"{report.policy}: {report.decisions:,} simulated decisions, "
                f"{report.seconds_per_decision * 1000:.2f} ms each"
            )
    console.print(
        f"request-count target: {comparison.target_per_minute:g} per pod per minute; {elapsed:.1f} s in all"
    )
    if args.json is not None:
        write_json(comparison, args.json)
    if args.chart is not None:
        write_chart(comparison, args.chart)
    return 0
