"""The fixed service model of issue 15 and the fluid queue for counted traffic, on cases small
enough to compute by hand (interval 60 s, hold 0.5 s: one pod starts 8 / 0.5 = 16 requests a
second, and a newcomer behind 10 s x 16 = 160 queued requests would wait the 10 s limit)."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from ebb.traffic.service_model import (
    DEFAULT_PEAK_PODS,
    GPUS_PER_POD,
    HOLD_SECONDS_WITHOUT_TOKENS,
    MAX_WAIT_SECONDS,
    MODEL_LOAD_SECONDS,
    SLOTS_PER_POD,
    IntervalOutcome,
    ServiceQueue,
    hold_seconds,
    interval_demand,
    peak,
    pods_needed,
    serve,
)
from ebb.traffic.traces import CountTrace, RequestTrace


def request_trace(
    arrivals: list[float], context: list[int] | None, generated: list[int] | None
) -> RequestTrace:
    def tokens(values: list[int] | None) -> np.ndarray | None:
        return None if values is None else np.array(values, dtype=np.int64)

    return RequestTrace(
        path="synthetic",
        start=datetime(2024, 1, 1),
        arrivals=np.array(arrivals, dtype=np.float64),
        context_tokens=tokens(context),
        generated_tokens=tokens(generated),
    )


def test_the_fixed_numbers_of_issue_15() -> None:
    assert (GPUS_PER_POD, SLOTS_PER_POD, MAX_WAIT_SECONDS, MODEL_LOAD_SECONDS) == (1, 8, 10.0, 60.0)
    assert HOLD_SECONDS_WITHOUT_TOKENS == 0.5
    assert DEFAULT_PEAK_PODS == 40


def test_hold_time_from_tokens() -> None:
    # The first Azure code-trace request: 4808 context tokens, 10 generated.
    assert float(hold_seconds(4808, 10)) == pytest.approx(4808 / 8000 + 10 / 40)
    assert hold_seconds([8000, 0], [0, 40]).tolist() == [1.0, 1.0]
    assert hold_seconds([8000], None).tolist() == [1.0]
    assert float(hold_seconds(None, None)) == 0.5


def test_pods_needed_is_littles_law_over_eight_slots() -> None:
    assert pods_needed(409, 0.5) == 1  # NASA's peak minute unscaled: 3.4 busy slots
    assert pods_needed(38_400, 0.5) == 40  # exactly 320 busy slots, not 41 by float noise
    assert pods_needed(38_401, 0.5) == 41
    assert pods_needed(0, 0.5) == 0


def test_peak_is_the_busiest_minute_with_its_requests_mean_hold() -> None:
    trace = request_trace([0, 1, 61, 62, 63], [8000, 0, 8000, 8000, 0], [0, 0, 40, 0, 0])
    busiest = peak(trace)
    assert busiest.minute == 1
    assert busiest.arrivals == 3
    assert busiest.mean_hold_seconds == pytest.approx((2.0 + 1.0 + 0.0) / 3)
    counted = CountTrace(
        path="c", start=datetime(2024, 1, 1), interval_seconds=60, counts=np.array([5.0, 9, 9])
    )
    assert (peak(counted).minute, peak(counted).arrivals, peak(counted).mean_hold_seconds) == (1, 9.0, 0.5)


def test_interval_demand_bins_requests_and_rebins_counts() -> None:
    trace = request_trace([0, 10, 130], [8000, 0, 0], [0, 40, 80])
    arrivals, holds = interval_demand(trace, 60)
    assert arrivals.tolist() == [2.0, 0.0, 1.0]
    # The empty minute takes the overall mean hold, (1 + 1 + 2) / 3.
    assert holds.tolist() == pytest.approx([1.0, 4 / 3, 2.0])
    counted = CountTrace(
        path="c", start=datetime(2024, 1, 1), interval_seconds=120, counts=np.array([60.0, 0.0])
    )
    arrivals, holds = interval_demand(counted, 30)
    assert arrivals.tolist() == [15.0] * 4 + [0.0] * 4
    assert holds.tolist() == [0.5] * 8


def test_steady_under_capacity_serves_all_without_waiting() -> None:
    outcome = ServiceQueue(60).step(arrivals=600, ready_pods=1)
    assert outcome == IntervalOutcome(
        served=600,
        unserved_no_ready=0,
        unserved_waited=0,
        backlog=0,
        admitted=600,
        mean_wait_seconds=0,
        max_wait_seconds=0,
    )


def test_twice_the_capacity_fills_the_ten_second_queue_then_turns_requests_away() -> None:
    """32 arrivals/s against 16/s: the queue grows 16/s and reaches 160 at t = 10 s. The 320
    arrivals before wait t s each (mean 5 s); after it 16/s are admitted, each waiting 10 s
    (800 of them), and 16/s are unserved (800)."""
    outcome = ServiceQueue(60).step(arrivals=1920, ready_pods=1)
    assert outcome.served == 960
    assert outcome.unserved_no_ready == 0
    assert outcome.unserved_waited == pytest.approx(800)
    assert outcome.backlog == pytest.approx(160)
    assert outcome.admitted == pytest.approx(1120)
    assert outcome.mean_wait_seconds == pytest.approx((320 * 5 + 800 * 10) / 1120)
    assert outcome.max_wait_seconds == 10


def test_no_ready_replica_leaves_every_arrival_and_the_backlog_unserved() -> None:
    queue = ServiceQueue(60)
    queue.step(arrivals=1920, ready_pods=1)  # leaves 160 queued
    outcome = queue.step(arrivals=500, ready_pods=0)
    assert outcome.unserved_no_ready == 500
    assert outcome.unserved_waited == pytest.approx(160)
    assert (outcome.served, outcome.backlog, outcome.admitted) == (0, 0, 0)
    assert queue.backlog == 0


def test_backlog_drains_across_intervals() -> None:
    """After the 2x overload 160 wait; two pods start 32/s against 16/s arriving, so the queue
    empties at 16/s in 10 s: newcomers wait 160/32 = 5 s at first, 0.4167 s on average over the minute."""
    queue = ServiceQueue(60)
    queue.step(arrivals=1920, ready_pods=1)
    outcome = queue.step(arrivals=960, ready_pods=2)
    assert outcome.served == pytest.approx(160 + 960)
    assert outcome.backlog == 0
    assert outcome.unserved_waited == 0
    assert outcome.mean_wait_seconds == pytest.approx((160 * 10 / 2) / (32 * 60))
    assert outcome.max_wait_seconds == pytest.approx(5)


def test_mild_overload_carries_a_short_queue_that_the_next_minute_clears() -> None:
    queue = ServiceQueue(60)
    first = queue.step(arrivals=1000, ready_pods=1)  # 16.67/s against 16/s: +40 over the minute
    assert first.served == pytest.approx(960)
    assert first.backlog == pytest.approx(40)
    assert first.mean_wait_seconds == pytest.approx(1.25)  # Q rises 0 -> 40, wait Q/16, mean 20/16
    assert first.max_wait_seconds == pytest.approx(2.5)
    second = queue.step(arrivals=600, ready_pods=1)  # 10/s: drains 6/s, empty after 40/6 s
    assert second.served == pytest.approx(640)
    assert second.mean_wait_seconds == pytest.approx((40 * (40 / 6) / 2) / (16 * 60))
    assert second.max_wait_seconds == pytest.approx(2.5)


def test_capacity_falling_under_the_backlog_drops_what_would_wait_over_ten_seconds() -> None:
    queue = ServiceQueue(60)
    queue.step(arrivals=1920, ready_pods=1)  # 160 queued at 0.5 s each
    outcome = queue.step(arrivals=0, ready_pods=1, hold=1.0)  # now 8/s: 80 fit in 10 s
    assert outcome.unserved_waited == pytest.approx(80)
    assert outcome.served == pytest.approx(80)
    assert outcome.backlog == 0


def test_bulk_serve_matches_the_stateful_queue_and_conserves_requests() -> None:
    rng = np.random.default_rng(7)
    arrivals = rng.integers(0, 3000, 500).astype(np.float64)
    holds = rng.uniform(0.2, 2.0, 500)
    pods = rng.integers(0, 4, 500).astype(np.float64)
    bulk = serve(arrivals, holds, pods, 60)
    queue = ServiceQueue(60)
    stepped = [
        queue.step(float(a), float(p), float(h)) for a, h, p in zip(arrivals, holds, pods, strict=True)
    ]
    for field in (
        "served",
        "unserved_no_ready",
        "unserved_waited",
        "backlog",
        "admitted",
        "mean_wait_seconds",
    ):
        np.testing.assert_allclose(
            getattr(bulk, field), [getattr(o, field) for o in stepped], rtol=1e-12, err_msg=field
        )
    total = bulk.served.sum() + bulk.unserved.sum() + bulk.backlog[-1]
    assert total == pytest.approx(arrivals.sum())
    assert (bulk.max_wait_seconds <= MAX_WAIT_SECONDS + 1e-9).all()
    assert (bulk.unserved_no_ready[pods == 0] == arrivals[pods == 0]).all()


def test_bad_queue_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match=r"interval_seconds must be > 0, got 0"):
        ServiceQueue(0)
    with pytest.raises(ValueError, match=r"need arrivals >= 0, ready_pods >= 0, hold > 0; got -1"):
        ServiceQueue(60).step(arrivals=-1, ready_pods=1)
    with pytest.raises(ValueError, match=r"hold seconds > 0 in every interval"):
        serve([1.0, 2.0], [0.5, 0.0], 1, 60)


def test_two_months_per_minute_all_overloaded_serve_the_capacity_each_minute() -> None:
    """89,280 minutes (62 days), every one overloaded, so no interval takes the idle shortcut
    (its speed is bench/bench_traffic.py's, not a timed test's)."""
    arrivals = np.full(89_280, 2000.0)
    result = serve(arrivals, 0.5, 1, 60)
    assert result.served.sum() == pytest.approx(960 * 89_280)
