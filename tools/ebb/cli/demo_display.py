"""How `ebb demo` shows its story: live in a terminal (rich), or as a plain log elsewhere.

The plain log is for CI and pipes: one line per event, wrapped at 80 columns with its text
indented under the first line's, and a status line every five simulated minutes. The live view
redraws, on each look at the world, the demand, desired and Ready replicas per scaler, the nodes
per instance group (pending, usable, leaving), the last events and a progress bar of simulated
time.
"""

from __future__ import annotations

import textwrap
from collections import deque
from typing import IO

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table

from ebb.cli.demo_story import BATCH, LLM, Sample, StoryEvent, StoryResult, Summary

WIDTH = 80
_KIND_WIDTH = 9
_STATUS_EVERY_MINUTES = 5.0


def clock(minute: float) -> str:
    """`+mm:ss` of story time."""
    seconds = round(minute * 60)
    return f"+{seconds // 60:02d}:{seconds % 60:02d}"


def event_lines(event: StoryEvent, width: int = WIDTH) -> list[str]:
    """An event as plain lines of at most `width` columns."""
    head = f"{clock(event.minute)} {event.kind:<{_KIND_WIDTH}} "
    if event.kind == "chapter":
        return ["", *textwrap.wrap(event.text, width), ""]
    return textwrap.wrap(
        event.text,
        width,
        initial_indent=head,
        subsequent_indent=" " * len(head),
        break_on_hyphens=False,
    )


def status_line(sample: Sample, groups: tuple[str, ...]) -> str:
    """Demand, replicas and nodes in one line of at most 80 columns."""
    llm = f"llm {sample.llm_requests_per_minute}/min {sample.desired[LLM]}>{sample.ready[LLM]}"
    batch = f"batch q{sample.queue_jobs} {sample.desired[BATCH]}>{sample.ready[BATCH]}"
    nodes = " ".join(_group_nodes(sample, g) for g in groups)
    return f"{clock(sample.minute)} {'status':<{_KIND_WIDTH}} {llm} | {batch} | {nodes}"


def _group_nodes(sample: Sample, group: str) -> str:
    # <usable>+<pending>[-<leaving>], as the header's legend says: cordoned nodes still cost.
    leaving = sample.leaving_nodes.get(group, 0)
    text = f"{_short(group)} {sample.usable_nodes[group]}+{sample.pending_nodes[group]}"
    return text + (f"-{leaving}" if leaving else "")


def _short(group: str) -> str:
    # gpu-g5-use1a -> g5: the example's group names are <pool>-<family>-<zone>.
    parts = group.split("-")
    return parts[1] if len(parts) == 3 else group


def header_lines(result: StoryResult, differences: tuple[str, ...], *, seed: int) -> list[str]:
    """The first lines: shadow mode off, every other difference, the traffic, the legend."""
    lines = [
        "ebb demo: shadow mode OFF (the example ships shadowMode: true). Other ways this",
        "differs from `sam deploy` of examples/gpu-inference into an account:",
    ]
    for difference in differences[1:]:
        lines += textwrap.wrap(difference, WIDTH, initial_indent="  - ", subsequent_indent="    ")
    lines += textwrap.wrap(
        f"template.yaml deployed into the local world (seed {seed}), story from "
        f"{result.started_at:%Y-%m-%d %H:%M} UTC; traffic: {result.scenario.source}",
        WIDTH,
    )
    lines += textwrap.wrap(
        "status lines: llm <requests/min> <desired>><Ready> | batch q<jobs queued> "
        "<desired>><Ready> | per instance group <usable>+<pending>[-<leaving>] nodes",
        WIDTH,
    )
    return lines


class PlainLog:
    """A `StoryObserver` printing the plain log to `out`."""

    def __init__(self, out: IO[str], differences: tuple[str, ...], *, seed: int) -> None:
        self.out = out
        self.differences = differences
        self.seed = seed
        self.groups: tuple[str, ...] = ()
        self.next_status = 0.0

    def started(self, result: StoryResult) -> None:
        """Print the header."""
        self.groups = result.groups
        for line in header_lines(result, self.differences, seed=self.seed):
            print(line, file=self.out)

    def event(self, event: StoryEvent) -> None:
        """Print one event."""
        for line in event_lines(event):
            print(line, file=self.out)

    def sample(self, sample: Sample, summary: Summary) -> None:
        """Print a status line every five simulated minutes."""
        if sample.minute + 1e-9 >= self.next_status:
            print(status_line(sample, self.groups), file=self.out)
            self.next_status += _STATUS_EVERY_MINUTES
        self.out.flush()


class LiveView:
    """A `StoryObserver` drawing the story live in a terminal with rich."""

    def __init__(self, console: Console, differences: tuple[str, ...], *, seed: int) -> None:
        self.console = console
        self.differences = differences
        self.seed = seed
        self.events: deque[StoryEvent] = deque(maxlen=14)
        self.result: StoryResult | None = None
        self.progress = Progress(
            TextColumn("simulated time"),
            BarColumn(bar_width=20),
            TextColumn("{task.fields[clock]} (at most {task.total:.0f} min), chapter {task.fields[chapter]}"),
            console=console,
        )
        self.task = self.progress.add_task("story", total=1.0, clock="+00:00", chapter=1)
        self.live: Live | None = None
        self.last: Sample | None = None
        self.summary: Summary | None = None

    def started(self, result: StoryResult) -> None:
        """Print the header and start drawing."""
        self.result = result
        for line in header_lines(result, self.differences, seed=self.seed):
            self.console.print(line, highlight=False, markup=False)
        self.progress.update(self.task, total=float(result.scenario.max_minutes))
        # No redirection of stdout/stderr: the story sends the deployed functions' output (their
        # logs and metrics) to functions.log, and rich's default would print it above the view.
        # Redrawn on each update only: with rich's refresh thread as well, a chapter heading printed
        # above the view could interleave with a redraw and leave a stale frame on screen.
        self.live = Live(
            self._render(),
            console=self.console,
            auto_refresh=False,
            transient=False,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self.live.start()

    def event(self, event: StoryEvent) -> None:
        """Add an event to the list (a chapter is also printed above the live view)."""
        self.events.append(event)
        if event.kind == "chapter" and self.live is not None:
            self.live.console.print(f"[bold]{event.text}[/bold]")
        self._refresh()

    def sample(self, sample: Sample, summary: Summary) -> None:
        """Redraw with the new figures."""
        self.last, self.summary = sample, summary
        assert self.result is not None
        chapter = self.events[-1].chapter if self.events else 1
        self.progress.update(self.task, completed=sample.minute, clock=clock(sample.minute), chapter=chapter)
        self._refresh()

    def stop(self) -> None:
        """Stop drawing (the last frame stays)."""
        if self.live is not None:
            self.live.update(self._render())
            self.live.stop()
            self.live = None

    def _refresh(self) -> None:
        if self.live is not None:
            self.live.update(self._render(), refresh=True)

    def _render(self) -> Group:
        scalers = Table(title="scalers", title_justify="left", expand=False)
        for column in ("scaler", "demand", "desired", "Ready"):
            scalers.add_column(column, justify="left" if column == "scaler" else "right")
        nodes = Table(title="nodes per instance group", title_justify="left", expand=False)
        for column in ("group", "pending", "usable", "leaving"):
            nodes.add_column(column, justify="left" if column == "group" else "right")
        sample = self.last
        if sample is not None and self.result is not None:
            scalers.add_row(
                LLM.split("/")[-1],
                f"{sample.llm_requests_per_minute} req/min",
                str(sample.desired[LLM]),
                str(sample.ready[LLM]),
            )
            scalers.add_row(
                BATCH.split("/")[-1],
                f"{sample.queue_jobs} jobs",
                str(sample.desired[BATCH]),
                str(sample.ready[BATCH]),
            )
            for group in self.result.groups:
                nodes.add_row(
                    group,
                    str(sample.pending_nodes[group]),
                    str(sample.usable_nodes[group]),
                    str(sample.leaving_nodes[group]),
                )
        served = ""
        if self.summary is not None:
            served = f"requests served {self.summary.served}, unserved {self.summary.unserved} (503)"
        events = Table(title="what happened", title_justify="left", show_header=False, box=None)
        events.add_column("when", no_wrap=True, min_width=6)
        events.add_column("kind", no_wrap=True, style="cyan", min_width=9)
        events.add_column("what", no_wrap=True, overflow="ellipsis")  # one row each: the log has it all
        # The frame must fit the screen: a frame taller than the terminal is cropped (the progress
        # bar first) and leaves stale lines behind when rich moves the cursor back up. Tables side
        # by side need about 100 columns, one above the other 14 rows; the events get what is left.
        side_by_side = self.console.size.width >= 100
        fixed_rows = (7 if side_by_side else 14) + 4  # tables, served line, events title, progress
        room = max(1, self.console.size.height - fixed_rows - 1)
        shown = [event for event in self.events if event.kind != "chapter"][-room:]
        for event in shown:
            events.add_row(clock(event.minute), event.kind, event.text)
        grid = Table.grid(padding=(0, 4))
        if side_by_side:
            grid.add_row(scalers, nodes)
        else:
            grid.add_row(scalers)
            grid.add_row(nodes)
        return Group(grid, served, events, self.progress)
