"""A comparison's report: a terminal table, a JSON document and PNG charts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table

from ebb.sim.simulator.comparison import Comparison

SHADOW_NOTE = (
    "ebb's row shows what ebb would do: shadow mode does not apply in the simulator "
    "(its decisions are carried out). Its own AWS bill is counted from the run "
    "(ticks, decisions, executions) at the bill bench's prices, some units estimated (ebb.sim.bill)."
)


def table(comparison: Comparison) -> Table:
    """One row per policy, with its cost against the oracle's floor."""
    floor = next((r.cost for r in comparison.reports if r.policy == "oracle"), None)
    demand = comparison.demand
    title = (
        f"{demand.name}: {demand.minutes} min, {float(demand.arrivals.sum()):,.0f} requests, "
        f"boot {comparison.settings.boot_delay:g} s, seed {comparison.settings.seed}"
    )
    grid = Table(title=title, caption=SHADOW_NOTE)
    for column in (
        "policy",
        "unserved",
        "under-prov. min",
        "GPU node-h",
        "cost $",
        "x oracle",
        "idle GPU-h",
        "launches",
        "actions",
        "rise->capacity s (mean/max)",
        "cold starts",
        "decision ms",
        "wall s",
        "CPU s",
        "own AWS bill $",
    ):
        grid.add_column(column, justify="left" if column == "policy" else "right")
    for report in comparison.reports:
        rises = report.rise_to_capacity_seconds
        grid.add_row(
            report.policy,
            f"{report.unserved:,.0f} ({report.unserved_share:.2%})",
            str(report.under_provisioned_minutes),
            f"{report.gpu_hours:,.1f}",
            f"{report.cost:,.2f}",
            f"{report.cost / floor:.2f}" if floor else "-",
            f"{report.idle_gpu_hours:,.1f}",
            str(report.node_launches),
            str(report.scaling_actions),
            f"{np.mean(rises):.0f}/{np.max(rises):.0f}" if rises else "-",
            str(report.cold_starts),
            f"{report.seconds_per_decision * 1000:.2f}" if report.decisions else "-",
            f"{report.wall_seconds:.1f}",
            f"{report.cpu_seconds:.1f}",
            "-" if report.own_bill_usd is None else f"{report.own_bill_usd:,.2f}",
        )
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
