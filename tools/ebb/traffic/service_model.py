"""The fixed service model every comparison uses (issue 15), and the queueing model for counts.

Service model: an inference pod holds one model replica on 1 GPU with 8 concurrent request slots;
a request holds a slot for ContextTokens/8000 + GeneratedTokens/40 seconds (0.5 s for a trace
without tokens); a request that would wait more than 10 s for a slot, or arrives while no replica
is Ready, is unserved; a new pod loads its model for 60 s before it is Ready.

Peak -> pods: a minute's demand needs ceil(arrivals/60 x mean hold / 8) pods, Little's law (the
slots busy on average are the arrival rate times the hold time) with every slot usable. The peak
is the minute with the most arrivals, the first such minute on a tie.

Queueing model (`ServiceQueue`, `serve`): a fluid FIFO queue, one interval at a time. Within an
interval of `interval` seconds the arrivals come uniformly (rate a/interval), the Ready pods
start requests at `pods x 8 / hold` per second, and the backlog left at the end of an interval is
carried into the next. A request arriving when the queue ahead of it holds Q requests waits
Q / capacity seconds; one that would wait more than 10 s is unserved at once (so the queue never
exceeds 10 s x capacity). When capacity falls at an interval's start, the part of the backlog
beyond the new 10 s limit is unserved (waited > 10 s); with no Ready pod the whole backlog is, and
every arrival of the interval is unserved for want of a Ready replica. The backlog is served at
the current interval's hold time. Per interval the model reports requests started (served),
unserved by reason, the backlog at its end, and the mean and maximum wait of the requests that
arrived in it and were admitted (0 when none was).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ebb.traffic.traces import SECONDS_PER_MINUTE, CountTrace, RequestTrace

GPUS_PER_POD = 1
SLOTS_PER_POD = 8
CONTEXT_TOKENS_PER_SECOND = 8000.0
GENERATED_TOKENS_PER_SECOND = 40.0
HOLD_SECONDS_WITHOUT_TOKENS = 0.5
MAX_WAIT_SECONDS = 10.0
MODEL_LOAD_SECONDS = 60.0
DEFAULT_PEAK_PODS = 40
# Float noise must not turn exactly 40 pods' worth of demand into 41.
_PODS_TOLERANCE = 1e-9


def hold_seconds(context_tokens: ArrayLike | None, generated_tokens: ArrayLike | None) -> NDArray[np.float64]:
    """Seconds each request holds a slot: ContextTokens/8000 + GeneratedTokens/40.

    A missing token column counts zero tokens; with neither column every request holds 0.5 s.
    Returns an array shaped like the token arrays (a 0-d array when both are None).
    """
    if context_tokens is None and generated_tokens is None:
        return np.asarray(HOLD_SECONDS_WITHOUT_TOKENS, dtype=np.float64)
    context = np.asarray(0.0 if context_tokens is None else context_tokens, dtype=np.float64)
    generated = np.asarray(0.0 if generated_tokens is None else generated_tokens, dtype=np.float64)
    return np.asarray(context / CONTEXT_TOKENS_PER_SECOND + generated / GENERATED_TOKENS_PER_SECOND)


def request_hold_seconds(trace: RequestTrace) -> NDArray[np.float64]:
    """Each request's hold time, one per arrival."""
    return np.broadcast_to(hold_seconds(trace.context_tokens, trace.generated_tokens), trace.arrivals.shape)


def pods_needed(arrivals_per_minute: float, mean_hold_seconds: float) -> int:
    """Pods a minute's demand needs: ceil(arrivals/60 x hold / 8), Little's law."""
    busy_slots = arrivals_per_minute / SECONDS_PER_MINUTE * mean_hold_seconds
    return max(0, math.ceil(busy_slots / SLOTS_PER_POD - _PODS_TOLERANCE))


@dataclass(frozen=True)
class Peak:
    """The busiest minute of a trace: its index, its arrivals and their mean hold time."""

    minute: int
    arrivals: float
    mean_hold_seconds: float

    @property
    def busy_slots(self) -> float:
        return self.arrivals / SECONDS_PER_MINUTE * self.mean_hold_seconds

    @property
    def pods(self) -> int:
        return pods_needed(self.arrivals, self.mean_hold_seconds)


def peak(trace: RequestTrace | CountTrace) -> Peak:
    """The minute with the most arrivals (the first on a tie) and the hold time of its requests."""
    per_minute = trace.per_minute_counts()
    minute = int(np.argmax(per_minute))
    arrivals = float(per_minute[minute])
    if isinstance(trace, CountTrace) or (trace.context_tokens is None and trace.generated_tokens is None):
        return Peak(minute, arrivals, HOLD_SECONDS_WITHOUT_TOKENS)
    in_minute = np.floor(trace.arrivals / SECONDS_PER_MINUTE) == minute
    return Peak(minute, arrivals, float(request_hold_seconds(trace)[in_minute].mean()))


def interval_demand(
    trace: RequestTrace | CountTrace, interval_seconds: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Arrivals per interval and their mean hold time, the inputs of `serve`.

    A request trace is binned by arrival ([i x interval, (i + 1) x interval) from the first
    arrival); an interval with no arrival gets the trace's overall mean hold. A count trace is
    re-binned with its requests spread uniformly over each of its own intervals, at 0.5 s hold.
    """
    if interval_seconds <= 0:
        raise ValueError(f"interval_seconds must be > 0, got {interval_seconds}")
    if isinstance(trace, CountTrace):
        edges = np.arange(trace.counts.size + 1, dtype=np.float64) * trace.interval_seconds
        cumulative = np.concatenate(([0.0], np.cumsum(trace.counts)))
        intervals = int(np.ceil(trace.duration_seconds / interval_seconds - 1e-9))
        new_edges = np.arange(intervals + 1, dtype=np.float64) * interval_seconds
        arrivals = np.diff(np.interp(new_edges, edges, cumulative))
        return arrivals, np.full(arrivals.shape, HOLD_SECONDS_WITHOUT_TOKENS)
    index = np.floor(trace.arrivals / interval_seconds).astype(np.int64)
    length = int(trace.duration_seconds // interval_seconds) + 1
    counts = np.bincount(index, minlength=length).astype(np.float64)
    holds = request_hold_seconds(trace)
    work = np.bincount(index, weights=holds, minlength=length)
    overall = float(holds.mean()) if holds.size else HOLD_SECONDS_WITHOUT_TOKENS
    mean_hold = np.divide(work, counts, out=np.full(length, overall), where=counts > 0)
    return counts, mean_hold


@dataclass(frozen=True)
class IntervalOutcome:
    """What happened to the requests in one interval (fluid: counts may be fractional)."""

    served: float  # requests that started in a slot during the interval
    unserved_no_ready: float  # arrived while no replica was Ready
    unserved_waited: float  # would have waited (or did wait) more than 10 s
    backlog: float  # admitted requests still waiting at the interval's end
    admitted: float  # arrivals of the interval admitted to the queue (served now or later)
    mean_wait_seconds: float  # over the admitted arrivals of the interval; 0 when none
    max_wait_seconds: float


def _step(
    backlog: float, arrivals: float, hold: float, ready_pods: float, interval: float
) -> tuple[float, float, float, float, float, float, float]:
    """One interval of the fluid queue, on plain floats (the bulk loop runs this 10^5 times)."""
    if ready_pods <= 0:
        return 0.0, arrivals, backlog, 0.0, 0.0, 0.0, 0.0
    capacity = ready_pods * SLOTS_PER_POD / hold  # requests started per second
    limit = MAX_WAIT_SECONDS * capacity  # the queue length a newcomer would wait 10 s behind
    dropped = backlog - limit if backlog > limit else 0.0
    queue = backlog - dropped
    rate = arrivals / interval
    growth = rate - capacity
    if growth > 0:
        fill_time = (limit - queue) / growth
        if fill_time >= interval:
            end = queue + growth * interval
            area = (queue + end) / 2 * interval
            admitted = arrivals
            mean_wait = area / (capacity * interval)
            return capacity * interval, 0.0, dropped, end, admitted, mean_wait, end / capacity
        # Until the queue reaches the limit every arrival is admitted; after it, arrivals beyond
        # the capacity are unserved and the admitted ones each wait exactly 10 s.
        area = (queue + limit) / 2 * fill_time
        before = rate * fill_time
        after = capacity * (interval - fill_time)
        balked = growth * (interval - fill_time)
        admitted = before + after
        total_wait = rate * area / capacity + after * MAX_WAIT_SECONDS
        return (
            capacity * interval,
            0.0,
            dropped + balked,
            limit,
            admitted,
            total_wait / admitted,
            MAX_WAIT_SECONDS,
        )
    if queue == 0.0:
        return arrivals, 0.0, dropped, 0.0, arrivals, 0.0, 0.0
    drain_time = queue / -growth if growth < 0 else math.inf
    if drain_time >= interval:
        end = queue + growth * interval
        area = (queue + end) / 2 * interval
        served = capacity * interval
    else:
        end = 0.0
        area = queue / 2 * drain_time
        served = queue + arrivals
    if arrivals == 0:
        return served, 0.0, dropped, end, 0.0, 0.0, 0.0
    return served, 0.0, dropped, end, arrivals, area / (capacity * interval), queue / capacity


class ServiceQueue:
    """The fluid queue fed one interval at a time (the demo feeds it minute by minute)."""

    def __init__(self, interval_seconds: float) -> None:
        if not interval_seconds > 0:
            raise ValueError(f"interval_seconds must be > 0, got {interval_seconds}")
        self.interval_seconds = float(interval_seconds)
        self.backlog = 0.0

    def step(
        self, arrivals: float, ready_pods: float, hold: float = HOLD_SECONDS_WITHOUT_TOKENS
    ) -> IntervalOutcome:
        """Serve one interval's arrivals with `ready_pods` Ready pods, `hold` seconds per request."""
        if arrivals < 0 or ready_pods < 0 or not hold > 0:
            raise ValueError(
                f"need arrivals >= 0, ready_pods >= 0, hold > 0; got {arrivals}, {ready_pods}, {hold}"
            )
        result = _step(self.backlog, float(arrivals), float(hold), float(ready_pods), self.interval_seconds)
        self.backlog = result[3]
        return IntervalOutcome(*result)


@dataclass(frozen=True, eq=False)
class ServiceResult:
    """`serve`'s per-interval outcomes, one array per field of `IntervalOutcome`."""

    served: NDArray[np.float64]
    unserved_no_ready: NDArray[np.float64]
    unserved_waited: NDArray[np.float64]
    backlog: NDArray[np.float64]
    admitted: NDArray[np.float64]
    mean_wait_seconds: NDArray[np.float64]
    max_wait_seconds: NDArray[np.float64]

    @property
    def unserved(self) -> NDArray[np.float64]:
        return self.unserved_no_ready + self.unserved_waited


def serve(
    arrivals: ArrayLike,
    work: ArrayLike,
    ready_pods_per_interval: ArrayLike,
    interval: float,
    *,
    initial_backlog: float = 0.0,
) -> ServiceResult:
    """Run the fluid queue over whole arrays: arrivals, hold seconds (`work`, scalar or one per
    interval) and Ready pods per interval, all of one length; same results as `ServiceQueue`."""
    counts = np.asarray(arrivals, dtype=np.float64)
    holds = np.broadcast_to(np.asarray(work, dtype=np.float64), counts.shape)
    pods = np.broadcast_to(np.asarray(ready_pods_per_interval, dtype=np.float64), counts.shape)
    if counts.ndim != 1:
        raise ValueError(f"arrivals must be one-dimensional, got shape {counts.shape}")
    if (counts < 0).any() or (pods < 0).any() or not (holds > 0).all():
        raise ValueError("need arrivals >= 0, ready pods >= 0 and hold seconds > 0 in every interval")
    if not interval > 0:
        raise ValueError(f"interval must be > 0, got {interval}")
    out = np.empty((7, counts.size), dtype=np.float64)
    rows: list[tuple[float, float, float, float, float, float, float]] = []
    append = rows.append
    backlog = float(initial_backlog)
    step = _step
    span = float(interval)
    for count, hold, ready in zip(counts.tolist(), holds.tolist(), pods.tolist(), strict=True):
        if backlog == 0.0 and ready > 0 and count * hold <= ready * SLOTS_PER_POD * span:
            # Under capacity with nothing queued: everything starts at once (the common case).
            append((count, 0.0, 0.0, 0.0, count, 0.0, 0.0))
            continue
        result = step(backlog, count, hold, ready, span)
        backlog = result[3]
        append(result)
    if rows:
        out[:] = np.array(rows, dtype=np.float64).T
    return ServiceResult(*out)
