"""`ebb demo`'s chart: demand, replicas and nodes over the story's time, chapters and events
marked, as a PNG (matplotlib's Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from ebb.cli.demo_story import BATCH, LLM, StoryResult

_MARKS = {
    "alarm": ("^", "tab:red", "alarm state change"),
    "you": ("D", "black", "what the user did"),
}


def _mark(kind: str, text: str) -> tuple[str, str, str] | None:
    """(marker, colour, legend label) of an event, or None for events the chart leaves out."""
    if kind == "timer":
        if "armed" in text:
            return ("v", "tab:purple", "idle timer armed")
        if "fired" in text:
            return ("v", "tab:pink", "idle timer fired")
        return None
    if kind == "provision" and "out of capacity" in text:
        return ("X", "tab:red", "launch out of capacity")
    return _MARKS.get(kind)


def write_chart(result: StoryResult, path: Path) -> Path:
    """Draw the story into `path` (PNG); returns the path."""
    samples = result.samples
    minutes = [s.minute for s in samples]
    figure, (demand, replicas, nodes) = plt.subplots(3, 1, figsize=(11, 8.5), sharex=True)
    demand.step(minutes, [s.llm_requests_per_minute for s in samples], where="post", label="LLM requests/min")
    demand.set_ylabel("requests/min")
    queue = demand.twinx()
    queue.step(
        minutes, [s.queue_jobs for s in samples], where="post", color="tab:orange", label="batch jobs queued"
    )
    queue.set_ylabel("jobs queued")
    lines = demand.get_legend_handles_labels()
    more = queue.get_legend_handles_labels()
    demand.legend(lines[0] + more[0], lines[1] + more[1], loc="upper right", fontsize=8)

    for scaler, color in ((LLM, "tab:blue"), (BATCH, "tab:orange")):
        name = scaler.split("/")[-1]
        replicas.step(
            minutes,
            [s.desired[scaler] for s in samples],
            where="post",
            color=color,
            linestyle="--",
            label=f"{name} desired",
        )
        replicas.step(
            minutes, [s.ready[scaler] for s in samples], where="post", color=color, label=f"{name} Ready"
        )
    replicas.set_ylabel("replicas")
    replicas.legend(loc="upper right", fontsize=8)

    colors = ("tab:green", "tab:brown", "tab:gray", "tab:olive")
    for group, color in zip(result.groups, colors, strict=False):
        nodes.step(
            minutes,
            [s.usable_nodes[group] for s in samples],
            where="post",
            color=color,
            label=f"{group} usable",
        )
        nodes.step(
            minutes,
            [s.pending_nodes[group] for s in samples],
            where="post",
            color=color,
            linestyle=":",
            label=f"{group} pending",
        )
    nodes.set_ylabel("nodes")
    nodes.set_xlabel(f"simulated minutes from {result.started_at:%H:%M} UTC")
    nodes.legend(loc="upper right", fontsize=8)

    end = minutes[-1] if minutes else float(result.scenario.max_minutes)
    for index, chapter in enumerate(result.scenario.chapters):
        following = [
            c.start_minute for c in result.scenario.chapters if c.start_minute > chapter.start_minute
        ]
        stop = min(following) if following else end
        for axis in (demand, replicas, nodes):
            if index % 2:
                axis.axvspan(chapter.start_minute, stop, color="0.93", zorder=0)
        demand.text(
            chapter.start_minute + 0.3,
            1.02,
            f"{chapter.number}. {chapter.short}",
            transform=demand.get_xaxis_transform(),
            fontsize=8,
            va="bottom",
        )
    labelled: set[str] = set()
    for event in result.events:
        mark = _mark(event.kind, event.text)
        if mark is None:
            continue
        marker, color, label = mark
        axis = nodes if event.kind in ("provision", "you") else replicas
        axis.plot(
            [event.minute],
            [axis.get_ylim()[1] * 0.95],
            marker=marker,
            color=color,
            linestyle="none",
            label=None if label in labelled else label,
        )
        labelled.add(label)
    nodes.legend(loc="upper right", fontsize=8)
    replicas.legend(loc="upper right", fontsize=8)
    figure.suptitle(
        f"ebb demo: the example deployed into the local world ({result.scenario.source})", fontsize=10
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
