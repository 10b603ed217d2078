"""What `ebb demo`'s log says, line by line, without running the world: the status line follows
its own legend, a provisioning generation's end says what it launched and what is usable (not
"granted +N" for nodes it only kept), an idle timer's moment is on the log's clock, and options
that would make no story are refused with a message that says why."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from datetime import UTC, datetime

import pytest
from rich.console import Console

from ebb.cli.demo_display import LiveView, header_lines, status_line
from ebb.cli.demo_story import (
    BATCH,
    DIFFERENCES,
    LLM,
    Sample,
    StoryEvent,
    StoryResult,
    Summary,
    _ended_line,
    _quiet_from,
    _timer_line,
)
from ebb.cli.demo_traffic import LOAD_MINUTES, built_in_scenario
from ebb.cli.main import build_parser

G5, G6E = "gpu-g5-use1a", "gpu-g6e-use1b"


def _sample(*, usable: int, pending: int, leaving: int) -> Sample:
    return Sample(
        minute=54.0,
        llm_requests_per_minute=0,
        queue_jobs=0,
        desired={LLM: 7, BATCH: 0},
        ready={LLM: 7, BATCH: 0},
        pending_nodes={G5: pending, G6E: 0},
        usable_nodes={G5: usable, G6E: 0},
        leaving_nodes={G5: leaving, G6E: 0},
    )


def test_the_status_line_shows_leaving_nodes_as_its_legend_says() -> None:
    result = StoryResult(
        scenario=built_in_scenario(7),
        started_at=datetime(2025, 1, 6, 0, 3, tzinfo=UTC),
        groups=(G5, G6E),
        scalers=(BATCH, LLM),
    )
    legend = " ".join(header_lines(result, DIFFERENCES, seed=7))
    assert "per instance group <usable>+<pending>[-<leaving>] nodes" in legend

    line = status_line(_sample(usable=3, pending=1, leaving=1), (G5, G6E))

    assert line.endswith("| g5 3+1-1 g6e 0+0")
    assert status_line(_sample(usable=3, pending=0, leaving=0), (G5, G6E)).endswith("| g5 3+0 g6e 0+0")


def test_a_generations_end_says_what_it_launched_and_what_is_usable_not_granted_plus() -> None:
    # A scale-in generation (targets g5 4, g6e 1) that ends with 5 g5 nodes still usable (one of
    # them draining) launched nothing: "granted" in the audit is the usable count at the end.
    record = {
        "event": "provisioning-ended",
        "generation": 9,
        "outcome": "satisfied",
        "requested": {},
        "granted": {"us-east-1a": {G5: 5}, "us-east-1b": {G6E: 1}},
        "shortages": [],
        "cancelled": 0,
    }

    assert _ended_line(record) == f"generation 9 satisfied: usable {G5} 5, {G6E} 1"

    record |= {
        "generation": 3,
        "outcome": "superseded",
        "requested": {G5: 1},
        "granted": {"us-east-1a": {G5: 1}, "us-east-1b": {G6E: 0}},
        "shortages": [f"{G5}/ml.g5.12xlarge/us-east-1a"],
        "cancelled": 1,
    }
    assert _ended_line(record) == (
        f"generation 3 superseded: launched {G5} +1; usable {G5} 1, {G6E} 0; "
        f"out of capacity: {G5}/ml.g5.12xlarge/us-east-1a; 1 pending node(s) cancelled"
    )


def test_an_idle_timers_moment_is_on_the_logs_story_clock() -> None:
    started = datetime(2025, 1, 6, 0, 3, tzinfo=UTC)

    line = _timer_line("idle timer batch/batch-worker at 2025-01-06T00:45:29+00:00", started)

    assert line == "idle timer of batch-worker armed for +42:29 (00:45:29 UTC, its cooldown's end)"
    assert _timer_line("idle timer batch/batch-worker deleted", started) == (
        "idle timer of batch-worker deleted (decided without it)"
    )
    assert _timer_line("idle timer batch/batch-worker deleted", started, fired=True) == (
        "idle timer of batch-worker deleted (it fired and woke this decision)"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--peak-pods", "0"], "argument --peak-pods: 0: must be at least 1"),
        (["--peak-pods", "-3"], "argument --peak-pods: -3: must be at least 1"),
        (["--peak-pods", "x"], "argument --peak-pods: 'x': not a whole number"),
        (["--speed", "x"], "argument --speed: 'x': not a number"),
        (["--speed", "nan"], "argument --speed: nan: must be above 0"),
    ],
)
def test_options_that_make_no_story_are_refused_with_why(argv: list[str], message: str) -> None:
    errors = io.StringIO()
    with redirect_stderr(errors), pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["demo", "--skip-build", *argv])
    assert exited.value.code == 2
    assert errors.getvalue().splitlines()[-1] == f"ebb demo: error: {message}"


def test_traffic_stops_after_the_last_busy_minute_not_at_the_end_of_a_padded_trace() -> None:
    # A trace of two busy minutes is padded with quiet ones to the 40-minute load phase: the log's
    # "traffic stops" belongs at minute 2, not 40. The built-in scenario is busy to its end.
    assert _quiet_from((600, 1200, *([0] * 38))) == 2
    assert _quiet_from(built_in_scenario(7).llm_requests_per_minute) == LOAD_MINUTES
    assert _quiet_from((0, 0)) is None


def test_the_live_view_leaves_what_the_functions_print_to_the_functions_log() -> None:
    # The story redirects stdout to functions.log (Powertools prints its metrics there); the
    # live view, started inside that, must not take stdout over and draw those lines on screen.
    screen = io.StringIO()
    view = LiveView(Console(file=screen, force_terminal=True, width=100), DIFFERENCES, seed=7)
    result = StoryResult(
        scenario=built_in_scenario(7),
        started_at=datetime(2025, 1, 6, 0, 3, tzinfo=UTC),
        groups=(G5, G6E),
        scalers=(BATCH, LLM),
    )
    functions_log = io.StringIO()
    with redirect_stdout(functions_log):
        view.started(result)
        try:
            print('{"_aws": {"CloudWatchMetrics": []}, "Decisions": [1.0]}')
        finally:
            view.stop()

    assert "CloudWatchMetrics" in functions_log.getvalue()
    assert "CloudWatchMetrics" not in screen.getvalue()


@pytest.mark.parametrize(("width", "height"), [(80, 24), (100, 40), (160, 50)])
def test_the_live_frame_fits_the_terminal_with_the_progress_bar_on_its_last_line(
    width: int, height: int
) -> None:
    """A frame taller than the screen is cropped by rich (the progress bar went first) and left stale
    lines behind at chapter headings; at 80 columns the tables side by side were truncated."""
    view = LiveView(Console(file=io.StringIO(), width=width, height=height), DIFFERENCES, seed=7)
    view.result = StoryResult(
        scenario=built_in_scenario(7),
        started_at=datetime(2025, 1, 6, 0, 3, tzinfo=UTC),
        groups=(G5, G6E),
        scalers=(BATCH, LLM),
    )
    for minute in range(30):
        view.events.append(
            StoryEvent(minute, 1, "decision", f"llm-inference {minute} -> {minute + 1}: " + "x" * 90)
        )
    nodes = {G5: 1, G6E: 0}
    view.last = Sample(5.0, 1200, 3, {LLM: 4, BATCH: 1}, {LLM: 4, BATCH: 1}, nodes, nodes, nodes)
    view.summary = Summary(served=100, unserved=3)
    screen = Console(file=io.StringIO(), width=width, height=height)

    lines = screen.render_lines(view._render(), screen.options, pad=False)
    text = ["".join(segment.text for segment in line).rstrip() for line in lines]

    assert len(text) < height, text
    assert "chapter" in text[-1]
    assert all(len(line) <= width for line in text)
    # The newest event is shown, its time and kind readable (they were squeezed to "d…").
    assert any(line.lstrip().startswith("+29:00  decision") for line in text)
    assert any("llm-inference" in line and "req/min" in line for line in text)  # not truncated
