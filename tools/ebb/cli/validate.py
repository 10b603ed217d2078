"""`ebb validate FILE...`: check a configuration offline and summarise it.

Prints every error (file, document, field path, what is allowed) and exits 1 when there is one;
otherwise prints the scalers, triggers, node pools, instance groups and which pods fit which
groups, and exits 0. `--json` prints the same as JSON for scripts.
"""

from __future__ import annotations

import argparse
import json
import textwrap
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from ebb.config import ConfigCheck, ConfigIssue, ConfigSummary, check_config_files, summarize
from ebb.config.bundle import bundle_files, config_files

EXIT_VALID = 0
EXIT_INVALID = 1


def add_parser(subparsers: Any) -> None:  # argparse's _SubParsersAction is private
    """Register the `validate` sub-command; `args.run(args)` returns the exit code."""
    parser = subparsers.add_parser(
        "validate",
        help="check configuration files offline and summarise them",
        description="Validate ebb configuration files (KEDA ScaledObjects, Karpenter NodePools, "
        "HyperpodNodeClasses and one ebb ClusterBinding) and summarise them.",
    )
    parser.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="YAML files or directories (their *.yaml and *.yml); together they form one configuration",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="when valid, print one line instead of the summary (errors are printed in full)",
    )
    parser.add_argument(
        "--bundle",
        type=Path,
        metavar="PATH",
        help="when valid, also write the files' documents as JSON to PATH (what the functions read)",
    )
    parser.set_defaults(run=run_validate)


def run_validate(args: argparse.Namespace, console: Console | None = None) -> int:
    """Validate `args.files`; print the result; return the exit code."""
    console = console or Console()
    result = check_config_files(args.files)
    if args.json:
        # Plain output, never wrapped or highlighted: scripts parse it.
        console.out(json.dumps(_as_json(result), indent=2), highlight=False)
    elif result.config is None:
        _render_invalid(console, result)
    elif getattr(args, "quiet", False):
        _render_one_line(console, summarize(result.config), len(result.notes))
    else:
        _render_summary(console, summarize(result.config))
    if result.config is None:
        return EXIT_INVALID
    if getattr(args, "bundle", None) is not None:
        # The config layer's build: the validated files' documents, parsed once (ebb.config.bundle).
        files = [
            f
            for name in args.files
            for f in (config_files(Path(name)) if Path(name).is_dir() else [Path(name)])
        ]
        args.bundle.write_text(bundle_files(files), encoding="utf-8")
    return EXIT_VALID


def _as_json(result: ConfigCheck) -> dict[str, Any]:
    return {
        "valid": result.config is not None,
        "errors": [_issue_json(issue) for issue in result.errors],
        "notes": [_issue_json(issue) for issue in result.notes],
        "summary": None if result.config is None else summarize(result.config).model_dump(mode="json"),
    }


def _issue_json(issue: ConfigIssue) -> dict[str, Any]:
    return {**issue.model_dump(mode="json"), "text": str(issue)}


def _render_invalid(console: Console, result: ConfigCheck) -> None:
    errors = result.errors
    noun = "error" if len(errors) == 1 else "errors"
    console.print(Text(f"Invalid configuration: {len(errors)} {noun}", style="bold red"))
    for issue in errors:
        console.print(Text("  ✗ ", style="red") + Text(str(issue)), soft_wrap=True)
    _render_notes(console, result.notes)


def _render_notes(console: Console, notes: tuple[ConfigIssue, ...]) -> None:
    if not notes:
        return
    console.print(Text(f"Notes ({len(notes)})", style="bold yellow"))
    for note in notes:
        console.print(Text("  • ", style="yellow") + Text(str(note)), soft_wrap=True)


def _render_one_line(console: Console, summary: ConfigSummary, notes: int) -> None:
    # A build log's line: what was validated, and how to see the rest.
    scalers = len(summary.scalers)
    pools = len(summary.node_pools)
    line = f"configuration valid: ClusterBinding {summary.binding}, {scalers} scaler(s), {pools} NodePool(s)"
    if notes:
        line += f", {notes} note(s) (ebb validate without --quiet shows them)"
    console.out(line, highlight=False)


def _render_summary(console: Console, summary: ConfigSummary) -> None:
    mode = "shadow mode (decides and records, changes nothing)" if summary.shadow_mode else "active"
    console.print(Text("Configuration is valid", style="bold green"))
    console.print(
        f"ClusterBinding [bold]{summary.binding}[/]: HyperPod cluster [bold]{summary.hyperpod_cluster}[/], "
        f"EKS cluster [bold]{summary.eks_cluster}[/], region {summary.region}; {mode}; "
        f"{summary.prewarm_windows} pre-warm window(s)",
        highlight=False,
    )
    for table in (
        _scalers_table(summary),
        _triggers_table(summary),
        _node_pools_table(summary),
        _instance_groups_table(summary),
        _placements_table(summary),
    ):
        _print_table(console, table)
    _render_notes(console, summary.notes)


def _print_table(console: Console, table: Table) -> None:
    """The table as it is where it fits; else one block per row, `header: value` per line, since a
    table folded into a narrow width (a pipe at 80 columns) splits its words into unreadable cells."""
    natural = Measurement.get(console, console.options.update(width=10_000), table).maximum
    if natural <= console.width:
        console.print(table)
        return
    console.print(Text(str(table.title), style="bold"))
    columns = [(str(column.header), [str(cell) for cell in column.cells]) for column in table.columns]
    for row in range(table.row_count):
        (_, first), *rest = columns
        console.print(Text(f"  {first[row]}"), soft_wrap=False)
        for header, cells in rest:
            # Wrapped here, with a hanging indent, so continuations stay under their value rather
            # than at column 0; a value's own line breaks (one requirement per line) are kept.
            lines = str(cells[row]).splitlines() or [""]
            wrapped = [
                textwrap.fill(
                    line,
                    width=max(console.width, 40),
                    initial_indent=f"    {header}: " if index == 0 else " " * 8,
                    subsequent_indent=" " * 8,
                    break_on_hyphens=False,
                )
                for index, line in enumerate(lines)
            ]
            console.print(Text("\n".join(wrapped)), soft_wrap=True)


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold", expand=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _scalers_table(summary: ConfigSummary) -> Table:
    table = _table(
        "Scalers", "ScaledObject", "target", "replicas", "polling / cooldown", "NodePool", "pod requests"
    )
    for scaler in summary.scalers:
        bounds = f"{scaler.min_replicas}..{scaler.max_replicas}"
        if scaler.idle_replicas is not None:
            bounds += f" (idle {scaler.idle_replicas})"
        if scaler.scales_to_zero:
            bounds += ", scales to zero"
        if scaler.paused:
            bounds += ", paused"
        table.add_row(
            scaler.name,
            scaler.target,
            bounds,
            f"{scaler.polling_interval_seconds}s / {scaler.cooldown_seconds}s",
            scaler.node_pool,
            scaler.pod_requests or "not stated",
        )
    return table


def _triggers_table(summary: ConfigSummary) -> Table:
    table = _table("Triggers", "ScaledObject", "#", "type", "metric type", "what it reads")
    for scaler in summary.scalers:
        for trigger in scaler.triggers:
            label = f"{trigger.index}" + (f" {trigger.name}" if trigger.name else "")
            table.add_row(scaler.name, label, trigger.type, trigger.metric_type, trigger.description)
    return table


def _node_pools_table(summary: ConfigSummary) -> Table:
    table = _table(
        "Node pools",
        "NodePool",
        "node class / groups",
        "requirements",
        "limits",
        "disruption",
        "taints",
        "decided",
    )
    for pool in summary.node_pools:
        table.add_row(
            pool.name,
            f"{pool.node_class}: {', '.join(pool.instance_groups)}",
            "\n".join(pool.requirements) or "none",
            pool.limits,
            pool.disruption,
            "\n".join(pool.taints) or "none",
            _decided(pool.decided_every_seconds, pool.polling_usd_per_month),
        )
    return table


def _decided(every: int, usd: float) -> str:
    # At rest (ebb.service.idle_polling) a pool is decided every five minutes and on its alarms.
    if every >= 60:
        return "every 60 s (the tick) while not at rest"
    return f"every {every} s while not at rest (subMinutePolling: about ${usd:.2f} a month more)"


def _instance_groups_table(summary: ConfigSummary) -> Table:
    table = _table(
        f"Instance groups (prices: {summary.price_basis})",
        "group", "instance type", "zone", "capacity", "min", "vCPU", "memory", "GPUs", "$/h", "NodePool",
    )  # fmt: skip
    for group in summary.instance_groups:
        gpus = (
            "-"
            if group.gpus is None
            else f"{group.gpus}" + (f" {group.gpu_model}" if group.gpu_model else "")
        )
        table.add_row(
            group.name,
            group.instance_type,
            group.zone,
            group.capacity_type,
            str(group.min_instance_count),
            "-" if group.vcpu is None else str(group.vcpu),
            "-" if group.memory_gib is None else f"{group.memory_gib:g} GiB",
            gpus,
            "-" if group.usd_per_hour is None else f"{group.usd_per_hour:.3f}",
            group.node_pool or "-",
        )
    return table


def _placements_table(summary: ConfigSummary) -> Table:
    table = _table("Which pods fit which groups", "ScaledObject", "group", "instance type", "lands", "detail")
    for placement in summary.placements:
        lands = Text("yes", style="green") if placement.lands else Text("no", style="red")
        table.add_row(
            placement.scaler, placement.instance_group, placement.instance_type, lands, placement.detail
        )
    return table
