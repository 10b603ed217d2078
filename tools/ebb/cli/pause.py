"""`ebb pause` / `ebb resume`: hold a NodePool or one scaler at run time, without a redeploy.

    ebb pause --nodepool NAME [--reason TEXT]            # replicas and nodes held, nothing acts
    ebb pause --scaler NAMESPACE/NAME [--reason TEXT]    # that scaler's replicas held
    ebb resume --nodepool NAME | --scaler NAMESPACE/NAME

The pause is written to the stack's state table, on the pool's item (`pauses`), where the next
decision reads it with the pool's counter; every decision while it lasts says so in its audit
entries (`paused`) and explanation. A paused scaler keeps its replicas as KEDA's
`autoscaling.keda.sh/paused: "true"` annotation keeps them; a paused NodePool is decided and
recorded and nothing acts on it: no replicas, no idle timers, no provisioning, and every task of
a running provisioning execution finds the pause at its fence and acts no more.

A scaler's NodePool is read from its newest audit entry (`--nodepool` names it for a scaler
never decided). The table comes from `--table` or the stack's `StateTableName` output (`--stack`);
region and credentials as the AWS CLI finds them (`--region`, `--profile`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console

from ebb.adapters.state_table import DynamoStateTable
from ebb.cli.stack_target import STATE_TABLE, StackTargetError, open_session
from ebb.errors import EbbError
from ebb.service.decision.pool_state import POOL_PAUSE, Pause

EXIT_OK = 0
EXIT_AWS_ERROR = 1
EXIT_INVALID = 2


def add_parser(subparsers: Any) -> None:  # argparse's _SubParsersAction is private
    """Register `pause` and `resume`; `args.run(args)` returns the exit code."""
    for command, run, text in (
        ("pause", run_pause, "hold a NodePool (nothing acts on it) or a scaler (its replicas) at run time"),
        ("resume", run_resume, "end a pause set with `ebb pause`"),
    ):
        parser = subparsers.add_parser(command, help=text, description=text)
        parser.add_argument("--scaler", metavar="NAMESPACE/NAME", help="a ScaledObject")
        parser.add_argument(
            "--nodepool",
            metavar="NAME",
            help="the NodePool (alone: the whole pool; with --scaler: the scaler's pool, when it "
            "has no decision recorded yet)",
        )
        if command == "pause":
            parser.add_argument("--reason", default="", metavar="TEXT", help="shown in every decision")
        STATE_TABLE.add_options(parser)
        parser.set_defaults(run=run)


class PauseRequestError(Exception):
    """The options do not say what to pause; the message says which option is missing."""


def run_pause(
    args: argparse.Namespace,
    console: Console | None = None,
    *,
    session_factory: Callable[..., Any] = boto3.Session,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    """Write the pause; return the exit code."""
    return _run(args, console, session_factory, clock, pause=True)


def run_resume(
    args: argparse.Namespace,
    console: Console | None = None,
    *,
    session_factory: Callable[..., Any] = boto3.Session,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    """Remove the pause; return the exit code."""
    return _run(args, console, session_factory, clock, pause=False)


def _run(
    args: argparse.Namespace,
    console: Console | None,
    session_factory: Callable[..., Any],
    clock: Callable[[], datetime],
    *,
    pause: bool,
) -> int:
    console = console or Console(highlight=False)
    if args.scaler is None and args.nodepool is None:
        console.out("give --nodepool NAME (the whole pool) or --scaler NAMESPACE/NAME")
        return EXIT_INVALID
    session = open_session(args, session_factory)
    try:
        table = DynamoStateTable(
            STATE_TABLE.resolve(args, session),
            audit_retention=timedelta(days=1),  # writes no audit
            client_factory=lambda: session.client("dynamodb"),
        )
        pool, key = _subject(args, table)
        what = f"scaler {key}" if key != POOL_PAUSE else f"node pool {pool}"
        if pause:
            caller = session.client("sts").get_caller_identity()["Arn"]
            record = Pause(at=clock(), by=str(caller), reason=args.reason)
            table.set_pause(pool, key, record.model_dump_json())
            console.out(f"{what} {record}; the next decision of node pool {pool} holds it")
        elif table.clear_pause(pool, key):
            console.out(f"{what} resumed; the next decision of node pool {pool} scales it again")
        else:
            console.out(f"{what} was not paused")
        return EXIT_OK
    except (PauseRequestError, StackTargetError) as error:
        console.out(str(error))
        return EXIT_INVALID
    except (ClientError, BotoCoreError, EbbError) as error:
        console.out(f"AWS error: {error}")
        return EXIT_AWS_ERROR


def _subject(args: argparse.Namespace, table: DynamoStateTable) -> tuple[str, str]:
    """(node pool, pause key): `*` for a whole pool, else the scaler."""
    if args.scaler is None:
        return str(args.nodepool), POOL_PAUSE
    scaler = str(args.scaler)
    if scaler.count("/") != 1:
        raise PauseRequestError(f"--scaler: {scaler!r} is not NAMESPACE/NAME")
    if args.nodepool:
        return str(args.nodepool), scaler
    newest = table.audit(scaler, limit=1)
    if not newest:
        raise PauseRequestError(
            f"--scaler: {scaler} has no decision recorded, so its NodePool is not known; give --nodepool"
        )
    return str(newest[0]["nodePool"]), scaler
