"""`ebb simulate` end to end on a small count trace: the table, the JSON report, the chart."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console

from ebb.cli.main import build_parser
from ebb.cli.simulate import run_simulate


def _trace(path: Path) -> Path:
    # 40 minutes of counts: quiet, a plateau, quiet again (the NASA file's columns).
    rows = ["timestamp_local_edt,minute_index,requests"]
    for minute in range(40):
        count = 120 if 5 <= minute < 25 else 0
        rows.append(f"1995-07-01T00:{minute:02d}:00,{minute},{count}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_the_command_prints_the_table_and_writes_json_and_a_chart(tmp_path: Path) -> None:
    out = io.StringIO()
    args = build_parser().parse_args(
        [
            "simulate",
            "--trace",
            str(_trace(tmp_path / "counts.csv")),
            "--peak-pods",
            "8",
            "--boot-delay",
            "60",
            "--shortage",
            "ml.g5.12xlarge:us-east-1a:0-10",
            "--json",
            str(tmp_path / "report.json"),
            "--chart",
            str(tmp_path / "chart.png"),
        ]
    )
    assert run_simulate(args, Console(file=out, width=220)) == 0
    text = out.getvalue()
    for policy in ("ebb", "keda-karpenter", "static", "oracle"):
        assert policy in text
    assert "simulated decisions" in text
    assert "ms each" in text
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert [p["policy"] for p in report["policies"]] == ["ebb", "keda-karpenter", "static", "oracle"]
    assert report["bootDelaySeconds"] == 60.0
    assert report["requests"] > 0
    assert (tmp_path / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_bad_trace_or_policy_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,requests\n2026-01-01T00:00:00,-3\n", encoding="utf-8")
    out = io.StringIO()
    args = build_parser().parse_args(["simulate", "--trace", str(bad)])
    assert run_simulate(args, Console(file=out, width=200)) == 1
    assert "line 2" in out.getvalue()
    out = io.StringIO()
    args = build_parser().parse_args(["simulate", "--trace", str(bad), "--policy", "ebb,hpa"])
    assert run_simulate(args, Console(file=out, width=200)) == 2
    assert "unknown policy hpa" in out.getvalue()
