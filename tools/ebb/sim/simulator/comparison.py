"""The comparison `ebb simulate` runs: a trace, scaled; the configuration, calibrated; every policy.

- The trace is read with `ebb.traffic.traces.read_trace` and scaled with
  `ebb.traffic.scaling.scale_trace` so that its peak needs about 40 pods (times
  `--load-multiplier`), then binned per minute (`ebb.traffic.service_model.interval_demand`).
- The configuration's `RequestCountPerTarget` triggers get `targetMetricValue` = 80 % of what
  one pod serves in a minute at the trace's mean hold time (8 slots / hold x 60 s x 0.8: 768 for
  0.5 s requests), the same for every policy that reads it: a request count means nothing
  without the work per request, and the HPA then runs about 1.25 pods per pod of demand.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from ebb.config import EbbConfig, load_config_files
from ebb.sim.simulator.run import POLICIES, PolicyReport, run_policy
from ebb.sim.simulator.signals import PER_TARGET
from ebb.sim.simulator.world import Demand, RunSettings
from ebb.traffic.scaling import scale_trace
from ebb.traffic.service_model import SLOTS_PER_POD, interval_demand
from ebb.traffic.traces import CountTrace, RequestTrace

TARGET_SHARE = 0.8
"""The share of one pod's per-minute capacity the request-count target is set to."""


def target_per_minute(mean_hold_seconds: float) -> float:
    """The `RequestCountPerTarget` target for requests holding a slot `mean_hold_seconds`."""
    return round(float(SLOTS_PER_POD) / mean_hold_seconds * 60.0 * TARGET_SHARE, 3)


def load_calibrated(config_dir: Path, target: float) -> EbbConfig:
    """The configuration in `config_dir` with its request-count triggers' target set to `target`."""
    files = sorted(config_dir.glob("*.yaml")) + sorted(config_dir.glob("*.yml"))
    with tempfile.TemporaryDirectory(prefix="ebb-simulate-") as scratch:
        for path in files:
            documents = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
            for document in documents:
                if document.get("kind") != "ScaledObject":
                    continue
                for trigger in document.get("spec", {}).get("triggers", []):
                    metadata = trigger.get("metadata", {})
                    if metadata.get("metricName") == PER_TARGET:
                        metadata["targetMetricValue"] = f"{target:g}"
            (Path(scratch) / path.name).write_text(
                yaml.safe_dump_all(documents, sort_keys=False), encoding="utf-8"
            )
        return load_config_files(sorted(Path(scratch).glob("*")))


def demand_of(trace: RequestTrace | CountTrace, name: str) -> Demand:
    """The trace per minute: arrivals and their mean hold time."""
    arrivals, hold = interval_demand(trace, 60.0)
    return Demand(arrivals=np.asarray(arrivals), hold_seconds=np.asarray(hold), name=name)


def scaled_demand(
    trace: RequestTrace | CountTrace, name: str, *, load_multiplier: float, seed: int, target_pods: int = 40
) -> Demand:
    """The trace scaled to `target_pods` at its peak (times `load_multiplier`), per minute."""
    scaled = scale_trace(trace, target_pods=target_pods, load_multiplier=load_multiplier, seed=seed)
    return demand_of(scaled, name)


@dataclass(frozen=True)
class Comparison:
    """Every policy's report on one demand."""

    demand: Demand
    settings: RunSettings
    target_per_minute: float
    reports: tuple[PolicyReport, ...]


def compare(
    demand: Demand,
    config_dir: Path,
    settings: RunSettings,
    policies: Sequence[str] = POLICIES,
    *,
    progress: Callable[[str, float], None] | None = None,
) -> Comparison:
    """Run each policy on its own simulated cluster and report them."""
    busy = demand.arrivals > 0
    hold = float(np.average(demand.hold_seconds[busy], weights=demand.arrivals[busy])) if busy.any() else 0.5
    target = target_per_minute(hold)
    config = load_calibrated(config_dir, target)
    reports = []
    for name in policies:
        step = None if progress is None else (lambda share, name=name: progress(name, share))
        reports.append(run_policy(name, config, demand, settings, progress=step))
    return Comparison(demand=demand, settings=settings, target_per_minute=target, reports=tuple(reports))
