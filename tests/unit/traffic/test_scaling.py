"""Scaling a trace to a peak of about N pods: counts multiplied with the remainder carried,
requests replicated with seeded jitter."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from ebb.traffic.scaling import replicate_requests, scale_counts, scale_factor, scale_trace
from ebb.traffic.service_model import peak
from ebb.traffic.traces import CountTrace, RequestTrace, read_trace

FIXTURES = Path(__file__).parent / "fixtures"


def counts(values: list[float]) -> CountTrace:
    return CountTrace(path="c", start=datetime(2024, 1, 1), interval_seconds=60, counts=np.array(values))


def requests(size: int, duration: float, seed: int = 3) -> RequestTrace:
    rng = np.random.default_rng(seed)
    arrivals = np.sort(rng.uniform(0, duration, size))
    arrivals -= arrivals[0]
    return RequestTrace(
        path="r",
        start=datetime(2024, 1, 1),
        arrivals=arrivals,
        context_tokens=np.arange(size, dtype=np.int64),  # unique, so each copy names its original
        generated_tokens=np.full(size, 20, dtype=np.int64),
    )


def test_count_trace_scaled_to_forty_pods_at_its_peak() -> None:
    """The NASA fixture's peak minute has 95 requests at 0.5 s: 95/60 x 0.5 busy slots."""
    trace = read_trace(FIXTURES / "nasa_segment_boundary.csv")
    assert isinstance(trace, CountTrace)
    factor = scale_factor(trace)
    assert factor == pytest.approx(40 * 8 / (95 / 60 * 0.5))
    scaled = scale_trace(trace)
    assert isinstance(scaled, CountTrace)
    assert peak(scaled).pods == 40
    assert scaled.counts[1] == 38_400


def test_count_rounding_carries_the_remainder() -> None:
    # f x running totals 1.5, 3.0, 4.5 round (half up) to 2, 3, 5.
    assert scale_counts(counts([1, 1, 1]), 1.5).counts.tolist() == [2.0, 1.0, 2.0]
    # An empty interval stays empty.
    assert scale_counts(counts([0, 3, 0, 1]), 0.5).counts.tolist() == [0.0, 2.0, 0.0, 0.0]
    scaled = scale_counts(counts([7, 0, 13, 2, 9]), 2.37)
    assert abs(scaled.counts.sum() - 31 * 2.37) <= 0.5
    assert (np.abs(scaled.counts - np.array([7, 0, 13, 2, 9]) * 2.37) < 1).all()


def test_load_multiplier_multiplies_the_factor() -> None:
    trace = counts([10, 40, 20])
    assert scale_factor(trace, load_multiplier=2.0) == pytest.approx(2 * scale_factor(trace))
    assert scale_factor(trace, target_pods=None, load_multiplier=3.0) == 3.0
    with pytest.raises(ValueError, match=r"load_multiplier must be > 0, got 0"):
        scale_factor(trace, load_multiplier=0)
    with pytest.raises(ValueError, match=r"c: the trace has no arrivals"):
        scale_factor(counts([0, 0]))


def test_replication_keeps_the_original_adds_jittered_copies_and_a_seeded_fraction() -> None:
    trace = requests(2000, 600.0)
    scaled = replicate_requests(trace, 2.25, seed=11, jitter_seconds=1.0)
    assert scaled.context_tokens is not None
    assert scaled.generated_tokens is not None
    copies = np.bincount(scaled.context_tokens, minlength=2000)
    # Copy 0 and copy 1 of every request, plus one more for about a quarter of them.
    assert set(copies.tolist()) <= {2, 3}
    assert (copies == 3).sum() == pytest.approx(500, abs=3 * np.sqrt(2000 * 0.25 * 0.75))
    assert scaled.request_count == copies.sum()
    assert (scaled.generated_tokens == 20).all()
    # Every arrival is within the jitter of its original, and the originals are all there unmoved.
    source = trace.arrivals[scaled.context_tokens]
    assert (np.abs(scaled.arrivals - source) <= 1.0 + 1e-9).all()
    exact = np.isclose(scaled.arrivals, source, atol=0, rtol=0)
    assert np.bincount(scaled.context_tokens[exact], minlength=2000).min() >= 1
    assert (np.diff(scaled.arrivals) >= 0).all()
    assert scaled.arrivals[0] == 0.0
    assert scaled.arrivals[-1] <= trace.duration_seconds


def test_replication_is_deterministic_for_a_seed() -> None:
    trace = requests(500, 120.0)
    first = replicate_requests(trace, 3.5, seed=5)
    again = replicate_requests(trace, 3.5, seed=5)
    other = replicate_requests(trace, 3.5, seed=6)
    np.testing.assert_array_equal(first.arrivals, again.arrivals)
    assert first.context_tokens is not None
    assert again.context_tokens is not None
    np.testing.assert_array_equal(first.context_tokens, again.context_tokens)
    assert first.request_count != other.request_count or not np.array_equal(first.arrivals, other.arrivals)


def test_a_factor_below_one_thins_without_moving() -> None:
    trace = requests(1000, 300.0)
    thinned = replicate_requests(trace, 0.4, seed=2)
    assert thinned.context_tokens is not None
    assert len(set(thinned.context_tokens.tolist())) == thinned.request_count
    assert thinned.request_count == pytest.approx(400, abs=3 * np.sqrt(1000 * 0.4 * 0.6))
    shift = (thinned.start - trace.start).total_seconds()
    np.testing.assert_allclose(thinned.arrivals + shift, trace.arrivals[thinned.context_tokens], atol=1e-6)


def test_request_trace_scaled_to_about_forty_pods_at_its_peak() -> None:
    trace = requests(3000, 1800.0)
    scaled = scale_trace(trace, seed=1)
    assert isinstance(scaled, RequestTrace)
    # Jitter moves a few arrivals across minute edges, so the peak lands near, not exactly on, 40.
    assert 39 <= peak(scaled).pods <= 41


def test_jitter_reflects_at_the_ends_instead_of_piling_arrivals_on_them() -> None:
    """200 requests at 0 s and 200 at 100 s, copied once with +-1 s jitter: half the offsets point
    outside [0, 100] and are reflected back in, so only the 400 originals sit exactly on the ends
    (clipping would put about 200 more there)."""
    arrivals = np.concatenate((np.zeros(200), np.full(200, 100.0)))
    trace = RequestTrace(
        path="ends", start=datetime(2024, 1, 1), arrivals=arrivals, context_tokens=None, generated_tokens=None
    )
    scaled = replicate_requests(trace, 2.0, seed=4, jitter_seconds=1.0)
    assert scaled.request_count == 800
    assert (scaled.arrivals == 0.0).sum() == 200
    assert (scaled.arrivals == 100.0).sum() == 200
    assert (scaled.arrivals[scaled.arrivals < 50] <= 1.0).all()
    assert (scaled.arrivals[scaled.arrivals > 50] >= 99.0).all()
    moved_low = scaled.arrivals[(scaled.arrivals > 0) & (scaled.arrivals < 50)]
    assert moved_low.size == 200
    assert moved_low.mean() == pytest.approx(0.5, abs=0.1)  # |U(-1, 1)| is uniform on [0, 1]
