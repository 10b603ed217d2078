"""`ebb simulate`'s output fits 80 columns, in a pipe and in a terminal, without a cell wrapped.

The table is transposed (metrics as rows, one column per policy): fifteen metrics side by side
needed about 200 columns, and rich folded every cell to a few characters at 80.
"""

from __future__ import annotations

import dataclasses
import fcntl
import io
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from ebb.config import EbbConfig
from ebb.sim.simulator.comparison import Comparison
from ebb.sim.simulator.report import METRICS, table
from ebb.sim.simulator.run import POLICIES, run_policy
from ebb.sim.simulator.world import Demand, RunSettings

WIDTH = 80
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-B]|\x1b[=>]")
COMMAND = [sys.executable, "-c", "import sys; from ebb.cli.main import main; sys.exit(main())", "simulate"]


def _trace(path: Path, minutes: int) -> Path:
    # Counts per minute (the NASA file's columns): quiet, a plateau, quiet again.
    start = datetime(1995, 7, 1)
    rows = ["timestamp_local_edt,minute_index,requests"]
    for minute in range(minutes):
        count = 120 if minutes // 8 <= minute < minutes // 2 else 0
        rows.append(f"{(start + timedelta(minutes=minute)).isoformat()},{minute},{count}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR")}
    env.update(extra)
    return env


def _whole_cells(lines: list[str]) -> None:
    """Every metric's label and the policies' names are on one line each, not folded."""
    for name in (*METRICS, *POLICIES):
        assert any(name in line for line in lines), f"{name!r} is not whole on any line"
    for metric in METRICS:
        (row,) = (line for line in lines if line.lstrip().startswith(metric))
        assert len(row[row.index(metric) + len(metric) :].split()) >= len(POLICIES), row


def test_in_a_pipe_with_columns_80(tmp_path: Path) -> None:
    done = subprocess.run(
        [*COMMAND, "--trace", str(_trace(tmp_path / "counts.csv", 40)), "--peak-pods", "8"],
        capture_output=True,
        text=True,
        env=_environment(COLUMNS=str(WIDTH)),
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line for line in lines if len(line) > WIDTH] == []
    _whole_cells(lines)


def test_in_a_terminal_80_columns_wide_with_the_progress_bar(tmp_path: Path) -> None:
    # 700 minutes: longer than LONG_RUN_MINUTES, so the progress bar is drawn too.
    trace = _trace(tmp_path / "counts.csv", 700)
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, WIDTH, 0, 0))
    process = subprocess.Popen(
        [*COMMAND, "--trace", str(trace), "--peak-pods", "8"],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=_environment(TERM="xterm-256color"),
        close_fds=True,
    )
    os.close(terminal)
    output = bytearray()
    try:
        while True:
            ready, _, _ = select.select([controller], [], [], 120)
            if not ready:
                pytest.fail("ebb simulate wrote nothing for 120 s")
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            output.extend(chunk)
    finally:
        os.close(controller)
        code = process.wait(timeout=60)
    assert code == 0, output.decode(errors="replace")
    text = ANSI.sub("", output.decode("utf-8", errors="replace"))
    lines = [piece for line in text.split("\n") for piece in line.split("\r")]
    assert [line for line in lines if len(line.rstrip()) > WIDTH] == []
    assert any("━" in line for line in lines), "no progress bar was drawn"
    _whole_cells(lines)


def test_two_months_of_figures_still_fit(config: EbbConfig) -> None:
    """The figures of the NASA whole trace (62 days, millions of requests, $100k) at 80 columns."""
    demand = Demand(
        arrivals=np.full(3, 100.0), hold_seconds=np.full(3, 0.5), name="nasa_http_requests_per_minute.csv"
    )
    reports = [run_policy(name, config, demand, RunSettings(boot_delay=60.0)) for name in POLICIES]
    big = [
        dataclasses.replace(
            report,
            requests=987_654_321.0,
            unserved=123_456_789.0,
            under_provisioned_minutes=89_280,
            gpu_hours=123_456.7,
            node_hours=23_456.7,
            cost=1_234_567.89,
            idle_gpu_hours=99_999.9,
            node_launches=12_345,
            scaling_actions=123_456,
            rise_to_capacity_seconds=(86_400.0, 186_400.0),
            cold_starts=1_234,
            decisions=1_234_567 if report.decisions else 0,
            wall_seconds=12_345.6,
            cpu_seconds=12_345.6,
        )
        for report in reports
    ]
    comparison = Comparison(
        demand=demand, settings=RunSettings(), target_per_minute=768.0, reports=tuple(big)
    )
    out = io.StringIO()
    Console(file=out, width=WIDTH, color_system=None).print(table(comparison))
    lines = out.getvalue().splitlines()
    assert [line for line in lines if len(line.rstrip()) > WIDTH] == []
    _whole_cells(lines)
    for figure in ("123,456,789", "12.50%", "1,234,567.89", "136,400", "186,400", "1,234,567"):
        assert any(figure in line for line in lines), figure
    assert any("136,400" in line for line in lines)
    assert any("186,400" in line for line in lines)
