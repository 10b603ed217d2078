"""`ebb demo`: ebb's main job on the local default, as far as it exists at this commit.

Today that is validating and summarising the shipped example configuration, then building the
deployable application (`sam build`, arm64, offline but for the package index) and saying what it
contains, then running the example in the local cluster world with ebb's pieces driven directly
(`demo_scenario`); the decide service and the provision workflow take over that driving as they land.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from ebb.cli import build_report, demo_scenario, validate


def run(args: argparse.Namespace) -> int:
    """Validate the shipped examples, build with SAM, report the build, run the example locally."""
    console = Console()
    examples = sorted(args.examples.glob("*.yaml"))
    console.rule(f"[bold]1. ebb validate {args.examples}/*.yaml[/bold]")
    exit_code = validate.run_validate(argparse.Namespace(files=examples, json=False), console)
    if exit_code != 0:
        return exit_code
    if not args.skip_build:
        console.rule("[bold]2. sam build[/bold]")
        # The config layer's build validates and bundles this configuration (layers/config/Makefile).
        environment = {
            **os.environ,
            "EBB_CONFIG": str(args.examples.resolve()),
            "EBB": shutil.which("ebb") or str(Path(sys.argv[0]).resolve()),
        }
        completed = subprocess.run(
            [args.sam, "build", "--template-file", str(args.template), "--build-dir", str(args.build_dir)],
            check=False,
            env=environment,
        )
        if completed.returncode != 0:
            console.print(f"[red]sam build failed (exit {completed.returncode})[/red]")
            return completed.returncode
        console.rule("[bold]3. what the build contains[/bold]")
        report_args = argparse.Namespace(
            template=args.template, build_dir=args.build_dir, check=True, budget_mib=args.budget_mib
        )
        exit_code = build_report.run(report_args)
        if exit_code != 0:
            return exit_code
    console.rule("[bold]4. the pieces at work in the local world[/bold]")
    demo_scenario.run_scenario(args.examples, console, seed=args.seed)
    return 0


def add_parser(subcommands: Any) -> None:
    """Register `ebb demo`."""
    parser = subcommands.add_parser("demo", help="run ebb's main job locally", description=__doc__)
    parser.add_argument("--examples", type=Path, default=Path("examples/gpu-inference"))
    parser.add_argument("--template", type=Path, default=Path("template.yaml"))
    parser.add_argument("--build-dir", type=Path, default=Path(".aws-sam/build"))
    parser.add_argument(
        "--sam", default=os.environ.get("EBB_SAM", "sam"), help="the SAM CLI executable (env EBB_SAM)"
    )
    parser.add_argument("--budget-mib", type=float, default=64.0)
    parser.add_argument(
        "--seed", type=int, default=demo_scenario.DEFAULT_SEED, help="the local world's seed (step 4)"
    )
    parser.add_argument(
        "--skip-build", action="store_true", help="skip steps 2 and 3 (sam build and the build report)"
    )
    parser.set_defaults(run=run)
