"""The `ebb` command: one sub-command per module, each exposing `add_parser(subparsers)`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ebb.cli import backfill, build_report, demo, explain, simulate, validate
from ebb.cli import pause as pause_commands


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `ebb` command with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="ebb",
        description="ebb: a serverless autoscaler for GPU inference on SageMaker HyperPod (EKS).",
    )
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in (demo, validate, build_report, backfill):
        command.add_parser(subcommands)
    simulate.add_parser(subcommands)
    explain.add_parser(subcommands)
    pause_commands.add_parser(subcommands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `ebb` command; returns the process exit code."""
    args = build_parser().parse_args(argv)
    exit_code: int = args.run(args)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
