"""`ebb demo`: ebb's main job on the local default. The shipped example is validated, built with
SAM (arm64, offline but for the package index) and checked; then the project's own template.yaml
is deployed with it into the local world (shadow mode off) and a story is told, driven only by
traffic, time and what a user types: (1) traffic arrives at zero, (2) one zone runs out of
capacity, (3) a backfill pre-provisions the NodePool for a batch window, (4) traffic stops and
idle timers (or the tick, when it comes first) take everything back to zero. It ends with a
summary and a PNG chart.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from ebb.cli import build_report, validate
from ebb.cli.demo_chart import write_chart
from ebb.cli.demo_display import LiveView, PlainLog
from ebb.cli.demo_story import DIFFERENCES, LLM, StoryObserver, run_story, summary_lines
from ebb.cli.demo_traffic import Scenario, built_in_scenario, trace_scenario
from ebb.traffic.service_model import HOLD_SECONDS_WITHOUT_TOKENS, request_hold_seconds
from ebb.traffic.traces import RequestTrace, TraceError, read_trace

DEFAULT_SEED = 7
OUTPUT = Path(".ebb/demo")


def _scenario(args: argparse.Namespace) -> Scenario:
    if args.trace is None:
        return built_in_scenario(args.seed)
    trace = read_trace(args.trace)
    hold = HOLD_SECONDS_WITHOUT_TOKENS
    if isinstance(trace, RequestTrace):
        hold = float(request_hold_seconds(trace).mean())
    return trace_scenario(
        trace.per_minute_counts().tolist(),
        peak_pods=args.peak_pods,
        source=str(args.trace),
        hold_seconds=hold,
    )


def run(args: argparse.Namespace) -> int:
    """Validate the shipped example, build with SAM, report the build, then tell the story."""
    console = Console()
    if not args.skip_build:
        exit_code = _validate_and_build(args, console)
        if exit_code != 0:
            return exit_code
    try:
        scenario = _scenario(args)
    except (TraceError, ValueError) as error:
        print(f"ebb demo: {error}", file=sys.stderr)
        return 2
    out = sys.stdout
    live = out.isatty() and not args.plain
    observer: StoryObserver
    if live:
        view = LiveView(Console(file=out), DIFFERENCES, seed=args.seed)
        observer = view
    else:
        observer = PlainLog(out, DIFFERENCES, seed=args.seed)
    functions_log = args.output / "functions.log"
    try:
        result = run_story(
            args.output / "config",
            scenario,
            seed=args.seed,
            observer=observer,
            speed=args.speed,
            functions_log=functions_log,
        )
    finally:
        if live:
            view.stop()
    chart = write_chart(result, args.chart or args.output / "demo.png")
    print("", file=out)
    print("summary", file=out)
    for line in summary_lines(result):
        print(f"  {line}", file=out)
    audit = args.output / "audit.json"
    # The shape of `aws dynamodb scan --output json`, so `ebb explain --from` reads both alike.
    items = result.state_table_items
    audit.write_text(json.dumps({"Items": items, "Count": len(items), "ScannedCount": len(items)}))
    print(f"chart: {chart}", file=out)
    print(f"the deployed functions' logs: {functions_log}", file=out)
    print(f"the state table (audit trail included): {audit}", file=out)
    print(f"  its decisions: ebb explain {LLM} --from {audit} --since 2h", file=out)
    return 0


def _validate_and_build(args: argparse.Namespace, console: Console) -> int:
    examples = sorted(args.examples.glob("*.yaml"))
    console.rule(f"[bold]ebb validate {args.examples}/*.yaml[/bold]")
    exit_code = validate.run_validate(argparse.Namespace(files=examples, json=False), console)
    if exit_code != 0:
        return exit_code
    console.rule("[bold]sam build[/bold]")
    # The config layer's build validates and bundles this configuration (layers/config/Makefile).
    environment = {
        **os.environ,
        "EBB_CONFIG": str(args.examples.resolve()),
        "EBB": shutil.which("ebb") or str(Path(sys.argv[0]).resolve()),
        # The layers' makefile builds run under sam's make: no "Entering directory" lines.
        "MAKEFLAGS": "--no-print-directory",
    }
    # A local build sends nothing anywhere: without this, SAM CLI prints its telemetry notice on a
    # machine that has not run it before (and would report the build), in every fresh clone.
    environment.setdefault("SAM_CLI_TELEMETRY", "0")
    returncode = _stream(
        [args.sam, "build", "--template-file", str(args.template), "--build-dir", str(args.build_dir)],
        environment,
        console,
    )
    if returncode != 0:
        console.print(f"[red]sam build failed (exit {returncode})[/red]")
        return returncode
    console.rule("[bold]what the build contains[/bold]")
    report_args = argparse.Namespace(
        template=args.template, build_dir=args.build_dir, check=True, budget_mib=args.budget_mib
    )
    exit_code = build_report.run(report_args)
    console.rule("[bold]the deployed system at work in the local world[/bold]")
    return exit_code


def _stream(command: list[str], environment: dict[str, str], console: Console) -> int:
    """Run `command`, printing its output line by line wrapped to the console's width.

    SAM CLI prints paths and its own build lines unwrapped; in a pipe or an 80-column terminal they
    would run off the edge, so each line is folded as the rest of the demo's output is.
    """
    with subprocess.Popen(
        command,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
    ) as process:
        assert process.stdout is not None  # stdout=PIPE
        for line in process.stdout:
            console.print(Text(line.rstrip("\n").expandtabs(4), overflow="fold"), highlight=False)
        return process.wait()


def _positive(text: str) -> float:
    # argparse would name the function in its message ("invalid _positive value"): say what is wanted.
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text}: must be above 0")
    return value


def _pods(text: str) -> int:
    # 0 pods would scale the trace to no traffic at all, and fewer to negative request rates.
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: must be at least 1")
    return value


def add_parser(subcommands: Any) -> None:
    """Register `ebb demo`."""
    parser = subcommands.add_parser(
        "demo", help="deploy ebb into the local world and watch it scale a story", description=__doc__
    )
    parser.add_argument(
        "--examples",
        type=Path,
        default=Path("examples/gpu-inference"),
        help="the configuration validated and built (the story runs the shipped example)",
    )
    parser.add_argument(
        "--template", type=Path, default=Path("template.yaml"), help="the SAM template to build"
    )
    parser.add_argument(
        "--build-dir", type=Path, default=Path(".aws-sam/build"), help="where `sam build` writes"
    )
    parser.add_argument(
        "--sam", default=os.environ.get("EBB_SAM", "sam"), help="the SAM CLI executable (env EBB_SAM)"
    )
    parser.add_argument(
        "--budget-mib", type=float, default=64.0, help="the layer's unzipped size budget in MiB"
    )
    parser.add_argument(
        "--skip-build", action="store_true", help="skip validation, sam build and the build report"
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="the seed of the world and the built-in traffic"
    )
    parser.add_argument(
        "--trace",
        type=Path,
        metavar="FILE",
        help="the LLM's traffic from a trace file (per-request or per-interval counts)",
    )
    parser.add_argument(
        "--peak-pods",
        type=_pods,
        default=12,
        metavar="N",
        help="scale --trace so its busiest minute needs N LLM pods (default 12)",
    )
    parser.add_argument(
        "--speed",
        type=_positive,
        metavar="X",
        help="at most X simulated seconds per wall second (default: as fast as it runs)",
    )
    parser.add_argument("--plain", action="store_true", help="print the plain log even in a terminal")
    parser.add_argument(
        "--output", type=Path, default=OUTPUT, help="where the run's files go (default .ebb/demo)"
    )
    parser.add_argument(
        "--chart", type=Path, metavar="PATH", help="where the PNG chart goes (default OUTPUT/demo.png)"
    )
    parser.set_defaults(run=run)
