"""`ebb demo`'s command line and traffic, without running the world: the built-in scenario
follows its seed, a trace file (read with `ebb.traffic`) becomes the LLM's request rates scaled
to a peak of `--peak-pods` pods, a bad trace is refused with the reader's message, and every
option of `ebb` and `ebb demo` explains itself in a line."""

from __future__ import annotations

import argparse
import io
import sys
from contextlib import redirect_stderr
from pathlib import Path

import pytest
from rich.console import Console

from ebb.cli import demo
from ebb.cli.demo_traffic import LOAD_MINUTES, REQUESTS_PER_POD_MINUTE, built_in_scenario, trace_scenario
from ebb.cli.main import build_parser
from ebb.traffic.service_model import HOLD_SECONDS_WITHOUT_TOKENS
from ebb.traffic.traces import read_trace


def test_the_built_in_scenario_follows_its_seed() -> None:
    first, second, other = built_in_scenario(7), built_in_scenario(7), built_in_scenario(8)

    assert first == second
    assert first.llm_requests_per_minute != other.llm_requests_per_minute
    assert len(first.llm_requests_per_minute) == LOAD_MINUTES
    # Each minute within 6 % of its chapter's base rate (600 requests a minute at first).
    assert all(564 <= rate <= 636 for rate in first.llm_requests_per_minute[:12])
    assert [c.number for c in first.chapters] == [1, 2, 3, 4]


def test_a_count_trace_becomes_the_llms_rates_scaled_to_its_peak_pods(tmp_path: Path) -> None:
    trace = tmp_path / "counts.csv"
    rows = [f"2025-01-06 00:{minute:02d},{minute},{10 * (minute + 1)}" for minute in range(5)]
    trace.write_text("timestamp_local_edt,minute_index,requests\n" + "\n".join(rows) + "\n")

    scenario = trace_scenario(read_trace(trace).per_minute_counts().tolist(), peak_pods=6, source=str(trace))

    # The peak (50 a minute) becomes 6 pods x 300: a factor of 36; the rest of the load phase is quiet.
    assert scenario.llm_requests_per_minute[:5] == (360, 720, 1080, 1440, 1800)
    assert set(scenario.llm_requests_per_minute[5:]) == {0}
    assert max(scenario.llm_requests_per_minute) == 6 * REQUESTS_PER_POD_MINUTE
    assert scenario.hold_seconds == HOLD_SECONDS_WITHOUT_TOKENS
    assert "scaled x36 to a peak of 6 pods" in scenario.source


def test_a_trace_without_requests_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^t\.csv: no requests in its first 40 minutes$"):
        trace_scenario([0.0, 0.0], peak_pods=4, source="t.csv")


def test_ebb_demo_refuses_a_bad_trace_with_the_readers_message(tmp_path: Path) -> None:
    trace = tmp_path / "empty.csv"
    trace.write_text("")
    args = build_parser().parse_args(["demo", "--skip-build", "--trace", str(trace)])
    errors = io.StringIO()
    with redirect_stderr(errors):
        assert demo.run(args) == 2
    assert errors.getvalue().startswith(f"ebb demo: {trace}")


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [
        a for a in parser._actions if not isinstance(a, argparse._HelpAction | argparse._SubParsersAction)
    ]


def test_every_option_of_ebb_and_its_commands_has_a_one_line_help() -> None:
    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for name, command in commands.choices.items():
        for action in _options(command):
            assert action.help, f"ebb {name} {action.option_strings or action.dest}: no help"
            assert "\n" not in action.help
    assert {c.dest: c.help for c in commands._choices_actions}.keys() == commands.choices.keys()
    assert all(c.help for c in commands._choices_actions)


def test_the_build_output_is_folded_to_the_consoles_width_and_its_exit_code_kept() -> None:
    # `sam build` prints paths and long lines of its own; the demo folds them as it prints.
    console = Console(record=True, width=80, color_system=None)
    long_line = "Building codeuri: /" + "x" * 150 + " functions: DecideFunction"
    script = f"import sys; print({long_line!r}); print('\\tLearn More'); sys.exit(3)"
    code = demo._stream([sys.executable, "-c", script], {}, console)
    lines = console.export_text().splitlines()
    assert code == 3
    assert all(len(line) <= 80 for line in lines)
    assert "".join(lines[:-1]) == long_line
    assert lines[-1] == "    Learn More"
