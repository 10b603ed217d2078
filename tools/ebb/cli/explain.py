"""`ebb explain`: a scaler's decisions from the audit trail, readable, or as JSON for scripts.

    ebb explain NAMESPACE/SCALER [--since 1h] [--json] [--stack NAME | --table NAME] [--region R]
    ebb explain NAMESPACE/SCALER --from FILE [--since 1h] [--json]

Reads the stack's state table (its `StateTableName` output, or `--table`): the scaler's audit
records (`AUDIT#<namespace>/<name>`) and those of the NodePool(s) its decisions name
(`AUDIT#POOL#<pool>`: the node plan, the provisioning executions and their ends), from `--since`
on (`90s`, `30m`, `1h`, `2d`, or an ISO 8601 time with a zone), oldest first. Against the local
world it reads the same table: the world's AWS clients answer in the process. `--from FILE` reads
an export of the table instead (`aws dynamodb scan --table-name T --output json > FILE`, or the
`audit.json` `ebb demo` writes), and an age in `--since` counts back from the newest record in it.

Each decision shows when it was made, the configuration version it used, the signals that woke
it, each trigger's value against its target, the rule that limited the count, and what was done or
why not (shadow mode, held by another autoscaler, paused, fenced off by a newer generation).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import textwrap
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from ebb.cli.exported_table import ExportedTable, ExportError
from ebb.cli.stack_target import STATE_TABLE, StackTargetError, open_session

EXIT_OK = 0
EXIT_AWS_ERROR = 1
EXIT_INVALID = 2
WIDTH = 80
"""Columns when the output is not a terminal (a pipe, a file)."""
_SINCE = re.compile(r"^([0-9]+)([smhd])$")
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_PAUSED_RULES = {"paused", "paused-replicas"}


class ExplainError(Exception):
    """The options cannot be read, or the stack names no table; the message says which and why."""


def add_parser(subparsers: Any) -> None:  # argparse's _SubParsersAction is private
    """Register the `explain` sub-command; `args.run(args)` returns the exit code."""
    parser = subparsers.add_parser(
        "explain",
        help="a scaler's decisions from the audit trail (why each count, what was done)",
        description="Print a scaler's decisions from the stack's audit trail: time, configuration "
        "version, the signals that woke it, metric values against targets, the rule that limited "
        "it, and the action taken or why none was.",
    )
    parser.add_argument("scaler", metavar="NAMESPACE/SCALER", help="the ScaledObject")
    parser.add_argument(
        "--since",
        default="1h",
        metavar="AGE|TIME",
        help="decisions from this long ago (90s, 30m, 1h, 2d) or this ISO 8601 time on (default: 1h)",
    )
    parser.add_argument("--json", action="store_true", help="the records as JSON, for scripts")
    parser.add_argument(
        "--from",
        dest="export",
        type=Path,
        metavar="FILE",
        help="read an export of the table (aws dynamodb scan --output json; ebb demo's audit.json) "
        "instead of a stack's table; ages in --since count back from its newest record",
    )
    STATE_TABLE.add_options(parser)
    parser.set_defaults(run=run_explain)


def parse_since(text: str, now: datetime) -> datetime:
    """`--since`: an age before `now` or an ISO 8601 time with a zone."""
    match = _SINCE.match(text)
    if match:
        return now - timedelta(**{_UNIT[match.group(2)]: int(match.group(1))})
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ExplainError(
            f"--since: {text!r} (allowed: an age such as 90s, 30m, 1h, 2d, or an ISO 8601 time "
            "with a zone, e.g. 2026-12-03T15:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        raise ExplainError(f"--since: {text!r} has no zone (allowed: e.g. 2026-12-03T15:00:00Z)")
    return moment


def run_explain(
    args: argparse.Namespace,
    out: TextIO | None = None,
    *,
    session_factory: Callable[..., Any] = boto3.Session,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    """Read and print the scaler's decisions; return the exit code."""
    out = out or sys.stdout
    try:
        namespace, sep, name = args.scaler.partition("/")
        if not sep or not namespace or not name or "/" in name:
            raise ExplainError(f"NAMESPACE/SCALER: {args.scaler!r} (allowed: e.g. batch/batch-worker)")
        export = getattr(args, "export", None)
        if export is not None:
            if getattr(args, STATE_TABLE.dest, None):
                raise ExplainError(f"--from: not with {STATE_TABLE.option} (the file is the table)")
            exported = ExportedTable.read(export)
            since = parse_since(args.since, exported.newest_audit_time() or clock())
            table = str(export)
            history = read_history(exported, table, args.scaler, since)
        else:
            since = parse_since(args.since, clock())
            session = open_session(args, session_factory)
            table = STATE_TABLE.resolve(args, session)
            history = read_history(session.client("dynamodb"), table, args.scaler, since)
    except (ExplainError, StackTargetError, ExportError) as error:
        out.write(f"ebb explain: {error}\n")
        return EXIT_INVALID
    except (ClientError, BotoCoreError) as error:
        out.write(f"ebb explain: AWS error: {error}\n")
        return EXIT_AWS_ERROR
    if args.json:
        document = {"scaler": args.scaler, "since": since.isoformat(), "table": table, "records": history}
        out.write(json.dumps(document, indent=2, sort_keys=True) + "\n")
        return EXIT_OK
    width = shutil.get_terminal_size((WIDTH, 24)).columns if out.isatty() else WIDTH
    out.write(render(args.scaler, since, history, width=width))
    return EXIT_OK


def read_history(dynamodb: Any, table: str, scaler: str, since: datetime) -> list[dict[str, Any]]:
    """The scaler's audit records from `since` on and those of the pools they name, oldest first;
    each with `subject` (the scaler, or `POOL#<pool>`)."""
    records = [{"subject": scaler, **r} for r in _query(dynamodb, table, f"AUDIT#{scaler}", since)]
    pools = sorted({r["nodePool"] for r in records if r.get("nodePool")})
    for pool in pools:
        subject = f"POOL#{pool}"
        records.extend({"subject": subject, **r} for r in _query(dynamodb, table, f"AUDIT#{subject}", since))
    # A scaler's decision and its pool's share a time: the scaler's line comes first.
    return sorted(records, key=lambda r: (r["at"], r["subject"].startswith("POOL#")))


def _query(dynamodb: Any, table: str, pk: str, since: datetime) -> Iterable[dict[str, Any]]:
    # Sort keys are `<ISO time>#<counter>` written in UTC, so a key range selects by time.
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk AND sk >= :since",
        "ExpressionAttributeValues": {
            ":pk": {"S": pk},
            ":since": {"S": since.astimezone(UTC).isoformat()},
        },
    }
    while True:
        page = dynamodb.query(**request)
        for item in page.get("Items", []):
            yield json.loads(item["record"]["S"])
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def render(scaler: str, since: datetime, history: list[dict[str, Any]], *, width: int = WIDTH) -> str:
    """The history as text, each line at most `width` columns (long values wrap, indented)."""
    decisions = sum(1 for r in history if r["subject"] == scaler)
    lines = [f"{scaler}: {decisions} decision(s) since {_time(since.isoformat())}"]
    for record in history:
        lines.append("")
        if record["subject"] == scaler:
            lines.extend(_scaler_lines(record))
        elif record.get("event") is None:
            lines.extend(_pool_lines(record))
        else:
            lines.extend(_workflow_lines(record))
    wrapped: list[str] = []
    for line in lines:
        indent = len(line) - len(line.lstrip(" "))
        wrapped.extend(
            textwrap.wrap(
                line,
                width=width,
                subsequent_indent=" " * (indent + 4),
                break_long_words=True,
                break_on_hyphens=False,
            )
            or [""]
        )
    return "\n".join(wrapped) + "\n"


def _scaler_lines(record: dict[str, Any]) -> list[str]:
    version = str(record.get("configVersion", "?"))[:12]
    woken = ", ".join(
        f"{reason} x{count}" if count > 1 else reason
        for reason, count in sorted(record.get("requestsByReason", {}).items())
    )
    lines = [
        f"{_time(record['at'])}  config {version}  pool {record.get('nodePool', '?')}",
        f"  woken by: {woken or 'nothing recorded'}",
        f"  replicas {record.get('current')} -> {record.get('desired')}, limited by rule "
        f"{record.get('rule')}",
    ]
    for metric in record.get("metrics", []):
        lines.append("  " + _metric_text(metric))
    if not record.get("metrics"):
        lines.extend(f"  trigger {t}" for t in record.get("triggers", []))
    lines.extend(f"  step: {step}" for step in record.get("steps", []))
    lines.append(f"  action: {_action_text(record)}")
    return lines


def _metric_text(metric: dict[str, Any]) -> str:
    name = f"{metric.get('trigger')} ({metric.get('kind')})"
    if metric.get("value") is None:
        how = "fallback" if metric.get("fallback") else "failed"
        return f"{name}: {how}: {metric.get('detail')}"
    active = ", active" if metric.get("active") else ", inactive"
    proposal = metric.get("proposal")
    asks = f" -> asks {proposal}" if proposal is not None else ""
    return f"{name}: {metric.get('quantity')} vs target {metric.get('target')}{active}{asks}"


def _action_text(record: dict[str, Any]) -> str:
    """What was done, or why nothing was: held, paused, shadow mode, no change."""
    action = record.get("action")
    held = record.get("heldBy") or []
    if held:
        return f"none: held by {', '.join(held)} (ebb does not scale a target another autoscaler scales)"
    if record.get("rule") in _PAUSED_RULES or record.get("paused"):
        # Which pause: `ebb pause` (who, since when, why) or the target's own annotation.
        why = record.get("paused") or record.get("rule")
        if record.get("applied"):  # paused-replicas: held at its count, set once
            return f"applied: {action} (paused: {why})"
        return f"none: paused ({why})"
    if record.get("shadowMode"):
        return f"none: shadow mode (would have: {action})" if action else "none: shadow mode, no change"
    if record.get("applied"):
        return f"applied: {action}"
    if action:
        return f"not applied: {action}"
    return "none: no change"


def _pool_lines(record: dict[str, Any]) -> list[str]:
    targets = ", ".join(f"{g}={n}" for g, n in sorted((record.get("nodeTargets") or {}).items()))
    mode = " (shadow mode: nothing acted)" if record.get("shadowMode") else ""
    lines = [
        f"{_time(record['at'])}  pool {record.get('nodePool')}: generation "
        f"{record.get('generation')}, node targets {targets or 'none'}{mode}"
    ]
    lines.extend(f"  unplaceable: {u}" for u in record.get("unplaceable", []))
    lines.extend(f"  backfill: {note}" for note in record.get("backfillNotes", []))
    lines.extend(f"  done: {action}" for action in record.get("actions", []))
    return lines


def _workflow_lines(record: dict[str, Any]) -> list[str]:
    event = record["event"]
    head = f"{_time(record['at'])}  provisioning generation {record.get('generation')}: {event}"
    if event == "provisioning-ended":
        outcome = record.get("outcome")
        head += f", {outcome}"
        if outcome == "superseded":
            head += f" (fenced off: {record.get('fence')})"
    elif event == "provisioning-failed":
        head += f": {record.get('error', '')}"
    return [head]


def _time(iso: str) -> str:
    """`2026-12-03 15:20:04Z`: seconds are enough to read, and UTC is said once."""
    moment = datetime.fromisoformat(iso).astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%SZ")
