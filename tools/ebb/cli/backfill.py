"""`ebb backfill`: pre-provision a NodePool for a batch window, or end its backfill, from a workstation.

    ebb backfill --nodepool NAME --nodes N [--group-nodes G=N ...]
                 [--scaler NAMESPACE/NAME --replicas M ...] --until TIME [--name NAME]
    ebb backfill --cancel --nodepool NAME [--name NAME]

Starts the stack's provisioning state machine with the request (the versioned schema of
`ebb.service.provisioning_request`, validated here first with the same model: an error names the
field, the option that sets it and what is allowed, and nothing is sent). With the configuration
the stack runs (`--config DIR`, default `$EBB_CONFIG`) the request is also checked against it
before anything is sent, with the rules the workflow applies (`ebb.service.backfill`): the
NodePool and its groups exist, no floor is above a limit or a `maxReplicaCount`, the window has
not ended; without one only the schema is checked, and the command says so. The state machine comes
from `--state-machine-arn` or the stack's `ProvisionStateMachineArn` output (`--stack`); region
and credentials are found as the AWS CLI finds them (`--region`, `--profile`, or the environment
and config files).

Idempotent by name: the execution is named `backfill-<pool>-<name>` (`cancel-<pool>-<name>`),
where the name is `--name` or, without one, a digest of the request (a cancellation's digest
includes the minute it is asked in). Before starting, the execution of that name is looked up:
a running one is reported and not started again, a finished one is reported with its status and
not restarted (Step Functions keeps an execution's name for 90 days and refuses to reuse it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import TypeAdapter, ValidationError
from rich.console import Console

from ebb.cli.stack_target import PROVISION_STATE_MACHINE, StackTargetError, open_session
from ebb.config import EbbConfig
from ebb.config.issues import ConfigValidationError
from ebb.config.loader import load_config_files
from ebb.service.backfill import check_against_configuration
from ebb.service.provisioning import InvalidProvisioningRequest, validate_request
from ebb.service.provisioning_request import BackfillCancelRequest, BackfillName, BackfillRequest

EXIT_OK = 0
EXIT_AWS_ERROR = 1
EXIT_INVALID = 2
MAX_EXECUTION_NAME = 80
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")

_OPTIONS = {
    "nodePool": "--nodepool",
    "nodes": "--nodes",
    "groupNodes": "--group-nodes",
    "replicas": "--scaler/--replicas",
    "until": "--until",
    "name": "--name",
}
"""The request's fields and the options that set them, so an error names what to change."""


def add_parser(subparsers: Any) -> None:  # argparse's _SubParsersAction is private
    """Register the `backfill` sub-command; `args.run(args)` returns the exit code."""
    parser = subparsers.add_parser(
        "backfill",
        help="pre-provision a NodePool until a time (or --cancel its backfill)",
        description="Start the provisioning workflow with a backfill: a floor on a NodePool's nodes "
        "(in total and/or per instance group) and on some scalers' replicas until a time. "
        "Starting the same backfill again does not start a second one.",
    )
    parser.add_argument("--nodepool", required=True, metavar="NAME", help="the NodePool")
    parser.add_argument("--cancel", action="store_true", help="end the NodePool's backfill now")
    parser.add_argument(
        "--nodes", type=int, metavar="N", help="at least N nodes in the pool's groups together"
    )
    parser.add_argument(
        "--group-nodes",
        action="append",
        default=[],
        metavar="GROUP=N",
        help="at least N nodes in instance group GROUP (repeatable)",
    )
    parser.add_argument(
        "--scaler",
        action="append",
        default=[],
        metavar="NAMESPACE/NAME",
        help="a ScaledObject whose replicas get a floor (repeatable, each with its --replicas)",
    )
    parser.add_argument(
        "--replicas",
        action="append",
        default=[],
        type=int,
        metavar="M",
        help="a replica floor; the n-th --replicas goes with the n-th --scaler",
    )
    parser.add_argument(
        "--until",
        metavar="TIME",
        help="when the window ends: ISO 8601 with a zone, e.g. 2026-12-03T18:00:00Z",
    )
    parser.add_argument(
        "--name", metavar="NAME", help="the backfill's name (default: a digest of the request)"
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=os.environ.get("EBB_CONFIG") or None,
        metavar="DIR",
        help="the configuration the stack runs, to check the request against before sending "
        "(default: $EBB_CONFIG; without one only the request's schema is checked)",
    )
    PROVISION_STATE_MACHINE.add_options(parser)
    parser.add_argument("--dry-run", action="store_true", help="validate and print the input; start nothing")
    parser.set_defaults(run=run_backfill)


class RequestError(Exception):
    """The options do not make a valid request; the message names the option and what is allowed."""


def build_request(
    args: argparse.Namespace, now: datetime, config: EbbConfig | None = None
) -> tuple[dict[str, Any], str]:
    """The execution input and its execution name, validated with the workflow's own model and,
    given the configuration, with the workflow's own checks against it."""
    if args.cancel:
        given = [o for o, v in (("--nodes", args.nodes), ("--until", args.until)) if v is not None]
        given += [o for o, v in (("--group-nodes", args.group_nodes), ("--scaler", args.scaler)) if v]
        if given:
            raise RequestError(f"{', '.join(given)}: not with --cancel (allowed: --nodepool, --name)")
        if args.name is not None:
            try:
                TypeAdapter(BackfillName).validate_python(args.name)
            except ValidationError as error:
                # The cancellation's input has no name; its execution's name carries it.
                raise RequestError(f"--name: {error.errors()[0]['msg']}") from None
        request: dict[str, Any] = {"schemaVersion": 1, "kind": "backfill-cancel", "nodePool": args.nodepool}
    else:
        if args.until is None:
            raise RequestError(
                "--until: required (allowed: an ISO 8601 time with a zone, e.g. 2026-12-03T18:00:00Z)"
            )
        if len(args.scaler) != len(args.replicas):
            raise RequestError(
                f"--scaler/--replicas: {len(args.scaler)} scaler(s) and {len(args.replicas)} "
                "replica floor(s) (allowed: each --scaler followed by its --replicas)"
            )
        request = {"schemaVersion": 1, "kind": "backfill", "nodePool": args.nodepool, "until": args.until}
        if args.name is not None:
            request["name"] = args.name
        if args.nodes is not None:
            request["nodes"] = args.nodes
        if args.group_nodes:
            request["groupNodes"] = _group_nodes(args.group_nodes)
        if args.scaler:
            request["replicas"] = [
                {"scaler": scaler, "replicas": replicas}
                for scaler, replicas in zip(args.scaler, args.replicas, strict=True)
            ]
    try:
        validated = validate_request(request)
    except InvalidProvisioningRequest as error:
        raise RequestError(_with_options(str(error))) from None
    if config is not None and isinstance(validated, BackfillRequest | BackfillCancelRequest):
        try:
            check_against_configuration(validated, config, now)
        except InvalidProvisioningRequest as error:
            raise RequestError(_with_options(str(error))) from None
    execution_input = validated.model_dump(mode="json", by_alias=True, exclude_none=True)
    return execution_input, execution_name(execution_input, args.name, now)


def load_configuration(path: Path | None) -> EbbConfig | None:
    """The configuration at `path` (a directory or file), or `None` without one."""
    if path is None:
        return None
    try:
        return load_config_files([path])
    except ConfigValidationError as error:
        raise RequestError(f"--config {path}: {error}") from None


def _group_nodes(values: list[str]) -> dict[str, Any]:
    nodes: dict[str, Any] = {}
    for value in values:
        group, sep, count = value.partition("=")
        if not sep or not group:
            raise RequestError(f"--group-nodes: {value!r} (allowed: GROUP=N, e.g. gpu-g5-use1a=2)")
        if group in nodes:
            raise RequestError(f"--group-nodes: group {group!r} given twice (allowed: once per group)")
        try:
            nodes[group] = int(count)
        except ValueError:
            raise RequestError(
                f"--group-nodes: {value!r}: N must be a whole number (allowed: GROUP=N)"
            ) from None
    return nodes


def _with_options(message: str) -> str:
    # "provisioning request: backfill.nodes: ..." -> "backfill.nodes (--nodes): ..."
    body = message.removeprefix("provisioning request: ")
    problems = []
    for problem in body.split("; "):
        field, sep, rest = problem.partition(": ")
        parts = field.split(".")
        option = _OPTIONS.get(parts[1]) if len(parts) > 1 else None
        problems.append(f"{field} ({option}){sep}{rest}" if option else problem)
    return "; ".join(problems)


def execution_name(execution_input: dict[str, Any], name: str | None, now: datetime) -> str:
    """`backfill-<pool>-<name>` or `cancel-<pool>-<name>`, at most 80 characters."""
    kind = "cancel" if execution_input["kind"] == "backfill-cancel" else "backfill"
    if name is None:
        hashed = dict(execution_input)
        if kind == "cancel":
            hashed["asked"] = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
        name = hashlib.sha256(json.dumps(hashed, sort_keys=True).encode()).hexdigest()[:12]
    pool = _UNSAFE.sub("_", execution_input["nodePool"])
    suffix = f"-{_UNSAFE.sub('_', name)}"
    room = MAX_EXECUTION_NAME - len(kind) - 1 - len(suffix)
    if len(pool) > room:
        digest = hashlib.sha256(execution_input["nodePool"].encode()).hexdigest()[:8]
        pool = f"{pool[: room - 9]}-{digest}"
    return f"{kind}-{pool}{suffix}"


def run_backfill(
    args: argparse.Namespace,
    console: Console | None = None,
    *,
    session_factory: Callable[..., Any] = boto3.Session,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    """Validate, then start the backfill's execution unless one of its name exists; return the exit code."""
    # Plain output (`Console.out`): messages quote patterns such as `[a-z0-9]`, which markup would eat.
    console = console or Console(highlight=False)
    try:
        config = load_configuration(getattr(args, "config", None))
        execution_input, name = build_request(args, clock(), config)
    except RequestError as error:
        console.out(f"invalid backfill request: {error}")
        return EXIT_INVALID
    if args.dry_run:
        console.out(json.dumps(execution_input, indent=2, sort_keys=True), highlight=False)
        console.out(f"execution name: {name}")
        if config is None:
            console.out(
                "checked against the request's schema only: give --config DIR (or set "
                "EBB_CONFIG) to check it against the configuration too"
            )
        return EXIT_OK
    session = open_session(args, session_factory)
    try:
        machine = PROVISION_STATE_MACHINE.resolve(args, session)
        stepfunctions = session.client("stepfunctions")
        arn = _execution_arn(machine, name)
        existing = _describe(stepfunctions, arn)
        if existing is None:
            try:
                arn = stepfunctions.start_execution(
                    stateMachineArn=machine, name=name, input=json.dumps(execution_input, sort_keys=True)
                )["executionArn"]
                console.out(f"started {name}: {arn}")
                return EXIT_OK
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
                    raise
                existing = _describe(stepfunctions, arn)  # started in between by someone else
        _report_existing(console, name, existing)
        return EXIT_OK
    except StackTargetError as error:
        console.out(f"invalid backfill request: {error}")
        return EXIT_INVALID
    except (ClientError, BotoCoreError) as error:
        console.out(f"AWS error: {error}")
        return EXIT_AWS_ERROR


def _execution_arn(machine: str, name: str) -> str:
    # arn:aws:states:<region>:<account>:stateMachine:<machine> -> ...:execution:<machine>:<name>
    prefix, machine_name = machine.rsplit(":stateMachine:", 1)
    return f"{prefix}:execution:{machine_name}:{name}"


def _describe(stepfunctions: Any, arn: str) -> dict[str, Any] | None:
    try:
        described: dict[str, Any] = stepfunctions.describe_execution(executionArn=arn)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ExecutionDoesNotExist":
            return None
        raise
    return described


def _report_existing(console: Console, name: str, existing: dict[str, Any] | None) -> None:
    if existing is None:
        console.out(f"{name}: exists, but cannot be read back")
        return
    status = existing["status"]
    if status == "RUNNING":
        console.out(f"{name} is running already (started {existing['startDate']}): not started again")
        return
    detail = f", {existing.get('error')}: {existing.get('cause')}" if existing.get("error") else ""
    console.out(
        f"{name} ran already and ended {status} at {existing.get('stopDate')}{detail}: not restarted "
        "(give another --name to start a new backfill)"
    )
