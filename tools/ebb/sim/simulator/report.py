"""A comparison's report: a terminal table, a JSON document and PNG charts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from rich import box
from rich.table import Table

from ebb.sim.simulator.comparison import Comparison
from ebb.sim.simulator.run import PolicyReport

SHADOW_NOTE = (
    "ebb's column shows what ebb would do: shadow mode does not apply in the simulator "
    "(its decisions are carried out). Its own AWS bill is counted from the run "
    "(ticks, decisions, executions) at the bill bench's prices, some units estimated (ebb.sim.bill)."
)


def _rows(report: PolicyReport, floor: float | None) -> list[str]:
    """One policy's column, in the order of `METRICS`."""
    rises = report.rise_to_capacity_seconds
    return [
        f"{report.unserved:,.0f}",
        f"{report.unserved_share:.2%}",
        f"{report.under_provisioned_minutes:,}",
        f"{report.gpu_hours:,.1f}",
        f"{report.node_hours:,.1f}",
        f"{report.cost:,.2f}",
        f"{report.cost / floor:.2f}x" if floor else "-",
        f"{report.idle_gpu_hours:,.1f}",
        f"{report.node_launches:,}",
        f"{report.scaling_actions:,}",
        f"{np.mean(rises):,.0f}" if rises else "-",
        f"{np.max(rises):,.0f}" if rises else "-",
        f"{report.cold_starts:,}",
        f"{report.decisions:,}" if report.decisions else "-",
        f"{report.seconds_per_decision * 1000:.2f}" if report.decisions else "-",
        f"{report.wall_seconds:,.1f}",
        f"{report.cpu_seconds:,.1f}",
        "-" if report.own_bill_usd is None else f"{report.own_bill_usd:,.2f}",
    ]


METRICS = (
    "unserved requests",
    "unserved share",
    "under-prov. minutes",
    "GPU-hours paid",
    "node-hours paid",
    "cost $",
    "cost / oracle's",
    "idle GPU-hours",
    "node launches",
    "scaling actions",
    "s to capacity, mean",
    "s to capacity, max",
    "cold starts at zero",
    "decisions",
    "ms/decision (wall)",
    "wall s",
    "CPU s",
    "ebb's own AWS bill $",
)
"""The table's rows: one metric each, one column per policy (so that four policies fit 80 columns)."""


def table(comparison: Comparison) -> Table:
    """Metrics as rows, one column per policy, cost against the oracle's floor: 80 columns wide
    for the four policies and two-month traces' figures, so a terminal or a pipe shows it whole."""
    floor = next((r.cost for r in comparison.reports if r.policy == "oracle"), None)
    demand = comparison.demand
    title = (
        f"{demand.name}: {demand.minutes:,} min, {float(demand.arrivals.sum()):,.0f} requests, "
        f"boot {comparison.settings.boot_delay:g} s, seed {comparison.settings.seed}"
    )
    # One space of padding and a one-space divider between columns; no edges: 20 + 12 x 3 + 14
    # (keda-karpenter) + 8 = 78 columns with four policies and seven-digit dollar figures.
    grid = Table(
        title=title,
        caption=SHADOW_NOTE,
        box=box.SIMPLE_HEAD,
        show_edge=False,
        padding=(0, 0, 0, 1),
        pad_edge=False,
    )
    grid.add_column("", justify="left", no_wrap=True)
    for report in comparison.reports:
        grid.add_column(report.policy, justify="right", no_wrap=True)
    columns = [_rows(report, floor) for report in comparison.reports]
    for index, metric in enumerate(METRICS):
        grid.add_row(metric, *(column[index] for column in columns))
    return grid


def as_json(comparison: Comparison) -> dict[str, Any]:
    """The comparison as one JSON-able document."""
    settings = comparison.settings
    return {
        "trace": comparison.demand.name,
        "minutes": comparison.demand.minutes,
        "requests": float(comparison.demand.arrivals.sum()),
        "bootDelaySeconds": settings.boot_delay,
        "modelLoadSeconds": settings.model_load_seconds,
        "seed": settings.seed,
        "requestCountPerTargetTarget": comparison.target_per_minute,
        "note": SHADOW_NOTE,
        "policies": [report.as_json() for report in comparison.reports],
    }


def write_json(comparison: Comparison, path: Path) -> None:
    path.write_text(json.dumps(as_json(comparison), indent=2) + "\n", encoding="utf-8")


def write_chart(comparison: Comparison, path: Path) -> None:
    """Demand (pods needed) against Ready pods per policy over time, one panel per policy."""
    import matplotlib  # noqa: PLC0415 - lazy: only a chart needs it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    reports = comparison.reports
    figure, axes = plt.subplots(len(reports), 1, figsize=(12, 2.4 * len(reports)), sharex=True, squeeze=False)
    for axis, report in zip(axes[:, 0], reports, strict=True):
        hours = np.arange(report.needed_pods.size) / 60.0
        axis.fill_between(hours, report.needed_pods, step="post", alpha=0.3, label="pods needed")
        axis.step(hours, report.ready_pods, where="post", linewidth=0.8, label="pods Ready")
        axis.set_ylabel(report.policy)
        axis.legend(loc="upper right", fontsize="small")
    axes[-1, 0].set_xlabel("hours since the simulation's start")
    figure.suptitle(
        f"{comparison.demand.name}: demand against capacity (boot {comparison.settings.boot_delay:g} s)"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
