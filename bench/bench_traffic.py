"""Reading, scaling and serving the shared traces: CPU seconds per step, median of 5 runs.

Run: `.venv/bin/python bench/bench_traffic.py [TRACES_DIR]` (default ../shared/traces, beside the
checkout; benchmarks may read it, tests may not). The baseline is a plain
`csv.reader` pass over the same file, so the ratio shows what parsing and checking cost on top of
splitting the lines. CPU time, not wall time, because this machine is shared.
"""

from __future__ import annotations

import csv
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from ebb.traffic.scaling import scale_trace
from ebb.traffic.service_model import interval_demand, peak, serve
from ebb.traffic.traces import read_trace

RUNS = 5


def cpu_seconds(step: Callable[[], object]) -> float:
    """The median CPU time of `RUNS` calls of `step`."""
    times = []
    for _ in range(RUNS):
        began = time.process_time()
        step()
        times.append(time.process_time() - began)
    return statistics.median(times)


def split_only(path: Path) -> None:
    with path.open(newline="", encoding="utf-8") as handle:
        for _ in csv.reader(handle):
            pass


def main() -> None:
    checkout = Path(__file__).resolve().parents[1]
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else checkout.parent / "shared" / "traces"
    paths = sorted(root.glob("*/*.csv"))
    if not paths:
        raise SystemExit(f"no traces under {root}")
    print(f"{'trace':<36} {'rows':>7} {'peak/min':>8} {'read s':>7} {'x csv':>6}", end="")
    print(f" {'scale s':>7} {'serve s':>7}")
    for path in paths:
        trace = read_trace(path)
        rows = sum(1 for _ in path.open(encoding="utf-8")) - 1
        read = cpu_seconds(partial(read_trace, path))
        baseline = cpu_seconds(partial(split_only, path))
        scale = cpu_seconds(partial(scale_trace, trace))
        scaled = scale_trace(trace)
        arrivals, hold = interval_demand(scaled, 60.0)
        pods = np.full(arrivals.shape, float(max(1, peak(scaled).pods)))
        served = cpu_seconds(partial(serve, arrivals, hold, pods, 60.0))
        print(
            f"{path.name:<36} {rows:>7,} {trace.peak_per_minute():>8,.0f} {read:>7.3f} "
            f"{read / baseline:>6.1f} {scale:>7.3f} {served:>7.3f}"
        )


if __name__ == "__main__":
    main()
