"""Where a deployed stack is, for the commands that act on one (`pause`, `resume`, `backfill`, `explain`).

Each such command needs one resource of the stack (the state table, the provisioning state
machine): named directly by its own option (`--table NAME`, `--state-machine-arn ARN`), or looked
up as an output of the CloudFormation stack `--stack` (default `ebb`, as `sam deploy` names it in
samconfig.toml). Region and credentials are found as the AWS CLI finds them, or from `--region`
and `--profile`. Against the local world the same lookup runs: its clients answer in the process.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DEFAULT_STACK = "ebb"


class StackTargetError(Exception):
    """The stack does not name the resource; the message says which option to give instead."""


@dataclass(frozen=True)
class StackResource:
    """One resource a command acts on: its stack output and the option that names it directly."""

    output: str
    """The stack's output key, e.g. `StateTableName`."""
    option: str
    """The option naming the resource directly, e.g. `--table`."""
    metavar: str
    help: str

    @property
    def dest(self) -> str:
        """The option's attribute on the parsed arguments (`--state-machine-arn` -> `state_machine_arn`)."""
        return self.option.removeprefix("--").replace("-", "_")

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        """The resource's own option or `--stack` (one of them), and `--region`, `--profile`."""
        where = parser.add_mutually_exclusive_group()
        where.add_argument(self.option, metavar=self.metavar, help=self.help)
        where.add_argument(
            "--stack",
            default=DEFAULT_STACK,
            metavar="STACK",
            help=f"the stack whose {self.output} output names it (default: {DEFAULT_STACK})",
        )
        parser.add_argument("--region", help="AWS region (default: as the AWS CLI finds it)")
        parser.add_argument("--profile", help="AWS profile (default: as the AWS CLI finds it)")

    def resolve(self, args: argparse.Namespace, session: Any) -> str:
        """The resource's option if given, else the stack's output (one DescribeStacks)."""
        named = getattr(args, self.dest)
        if named:
            return str(named)
        stacks = session.client("cloudformation").describe_stacks(StackName=args.stack)["Stacks"]
        for output in stacks[0].get("Outputs", []):
            if output["OutputKey"] == self.output:
                return str(output["OutputValue"])
        raise StackTargetError(
            f"--stack: stack {args.stack!r} has no {self.output} output (give {self.option})"
        )


def open_session(args: argparse.Namespace, session_factory: Callable[..., Any]) -> Any:
    """A boto3 session for `--profile` and `--region` (each `None`: as the AWS CLI finds them)."""
    return session_factory(profile_name=args.profile, region_name=args.region)


STATE_TABLE = StackResource(
    output="StateTableName", option="--table", metavar="NAME", help="the stack's state table"
)
PROVISION_STATE_MACHINE = StackResource(
    output="ProvisionStateMachineArn",
    option="--state-machine-arn",
    metavar="ARN",
    help="the provisioning state machine",
)
