"""Scale a trace so its peak needs about N pods (default 40) under the service model.

The factor: f = N x 8 / busy slots at the peak x load multiplier, where the peak is the minute
with the most arrivals and its busy slots are arrivals/60 x the mean hold time of its requests
(`service_model.peak`). With `target_pods=None` the factor is the load multiplier alone.

- A count trace's counts are multiplied by f and rounded by carrying the remainder: the scaled
  count of interval i is round(C_i) - round(C_{i-1}) with C_i = f x (counts up to i) and round
  meaning floor(x + 0.5). Each count is within 1 of f x count, the total within 0.5 of f x the
  total, an interval with no request stays empty, and the result is the same on every run.
- A request trace is replicated: with f = k + p (k whole, 0 <= p < 1), the result is the original
  arrivals (copy 0), k - 1 further copies of every arrival and one more copy of each arrival
  chosen with probability p, all drawn from numpy's default generator seeded with `seed`, in that
  order. Every arrival of copies 1.. is moved by its own offset drawn uniformly from
  [-jitter, +jitter] s and reflected back into [0, duration] at the ends; a request's tokens go
  with it. With k = 0 the p-selection is a thinning of the original, not moved.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import numpy as np
from numpy.typing import NDArray

from ebb.traffic.service_model import DEFAULT_PEAK_PODS, SLOTS_PER_POD, peak
from ebb.traffic.traces import CountTrace, RequestTrace

DEFAULT_JITTER_SECONDS = 1.0
DEFAULT_SEED = 0


def scale_factor(
    trace: RequestTrace | CountTrace,
    *,
    target_pods: int | None = DEFAULT_PEAK_PODS,
    load_multiplier: float = 1.0,
) -> float:
    """The multiplier that makes the trace's peak need `target_pods` pods, times `load_multiplier`."""
    if not load_multiplier > 0:
        raise ValueError(f"load_multiplier must be > 0, got {load_multiplier}")
    if target_pods is None:
        return load_multiplier
    if target_pods < 1:
        raise ValueError(f"target_pods must be >= 1, got {target_pods}")
    busiest = peak(trace)
    if busiest.busy_slots <= 0:
        raise ValueError(f"{trace.path}: the trace has no arrivals, so no factor reaches {target_pods} pods")
    return target_pods * SLOTS_PER_POD / busiest.busy_slots * load_multiplier


def scale_counts(trace: CountTrace, factor: float) -> CountTrace:
    """Multiply a count trace by `factor`, rounding by carrying the remainder (module docstring)."""
    if not factor > 0:
        raise ValueError(f"factor must be > 0, got {factor}")
    rounded = np.floor(np.cumsum(trace.counts * factor) + 0.5)
    return replace(trace, counts=np.diff(rounded, prepend=0.0))


def _reflected(times: NDArray[np.float64], duration: float) -> NDArray[np.float64]:
    # Reflection keeps the density flat at the ends, where clipping would pile arrivals up.
    times = np.abs(times)
    times = np.where(times > duration, 2 * duration - times, times)
    return np.clip(times, 0.0, duration)


def replicate_requests(
    trace: RequestTrace,
    factor: float,
    *,
    seed: int = DEFAULT_SEED,
    jitter_seconds: float = DEFAULT_JITTER_SECONDS,
) -> RequestTrace:
    """Replicate a request trace `factor` times with seeded jitter (module docstring)."""
    if not factor > 0:
        raise ValueError(f"factor must be > 0, got {factor}")
    if jitter_seconds < 0:
        raise ValueError(f"jitter_seconds must be >= 0, got {jitter_seconds}")
    rng = np.random.default_rng(seed)
    whole = int(np.floor(factor))
    fraction = factor - whole
    size = trace.request_count
    duration = trace.duration_seconds
    selections: list[NDArray[np.int64]] = []
    times: list[NDArray[np.float64]] = []
    everyone = np.arange(size, dtype=np.int64)
    if whole >= 1:
        selections.append(everyone)
        times.append(trace.arrivals)
    for _ in range(1, whole):
        selections.append(everyone)
        times.append(
            _reflected(trace.arrivals + rng.uniform(-jitter_seconds, jitter_seconds, size), duration)
        )
    if fraction > 0:
        chosen = np.flatnonzero(rng.random(size) < fraction)
        offsets = rng.uniform(-jitter_seconds, jitter_seconds, size)[chosen]
        selections.append(chosen)
        moved = trace.arrivals[chosen] + offsets if whole >= 1 else trace.arrivals[chosen]
        times.append(_reflected(moved, duration))
    source = np.concatenate(selections)
    arrivals = np.concatenate(times)
    if arrivals.size == 0:
        raise ValueError(f"{trace.path}: factor {factor} selected no request (seed {seed})")
    order = np.argsort(arrivals, kind="stable")
    arrivals = arrivals[order]
    source = source[order]
    shift = float(arrivals[0])  # nonzero only when thinning dropped the first arrival

    def tokens(values: NDArray[np.int64] | None) -> NDArray[np.int64] | None:
        return None if values is None else values[source]

    return RequestTrace(
        path=trace.path,
        start=trace.start + timedelta(seconds=shift),
        arrivals=arrivals - shift,
        context_tokens=tokens(trace.context_tokens),
        generated_tokens=tokens(trace.generated_tokens),
    )


def scale_trace(
    trace: RequestTrace | CountTrace,
    *,
    target_pods: int | None = DEFAULT_PEAK_PODS,
    load_multiplier: float = 1.0,
    seed: int = DEFAULT_SEED,
    jitter_seconds: float = DEFAULT_JITTER_SECONDS,
) -> RequestTrace | CountTrace:
    """Scale either kind of trace to `target_pods` at its peak, times `load_multiplier`."""
    factor = scale_factor(trace, target_pods=target_pods, load_multiplier=load_multiplier)
    if isinstance(trace, CountTrace):
        return scale_counts(trace, factor)
    return replicate_requests(trace, factor, seed=seed, jitter_seconds=jitter_seconds)
