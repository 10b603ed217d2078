"""What drives `ebb demo`'s story: the traffic (requests a minute at the LLM's load balancer, jobs
on the batch worker's queue), the chapters, and what the user does at which minute.

The built-in scenario is generated from the seed: each minute's request rate is its chapter's
base rate times a seeded factor in [0.94, 1.06], rounded to a whole number. A trace (`--trace`, read with
`ebb.traffic.traces.read_trace`) replaces the LLM's request rates: its per-minute counts from its
first minute on, one trace minute per story minute for the story's load phase, multiplied by one
factor so that its peak minute needs `peak_pods` pods at the example's target of 300 requests
per pod and minute (each minute rounded half up); a request trace's tokens give the service
model's hold time (their mean).

Everything else (the chapters, the zone that runs out of capacity and when it comes back, the
backfill, the batch jobs) is the same with a trace: the story is one afternoon of a platform
team, the trace only says how busy the LLM is.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from ebb.traffic.service_model import HOLD_SECONDS_WITHOUT_TOKENS

LOAD_MINUTES = 40
"""Minutes with LLM traffic; chapter 4 (traffic stops) starts then."""
STORY_MINUTES = 75
"""The story ends at the latest this many minutes after it starts (chapter 4 usually ends sooner:
once both scalers and both instance groups are at zero)."""
REQUESTS_PER_POD_MINUTE = 300
"""The example's `requests-per-target` target (examples/gpu-inference/llm-inference.yaml)."""


@dataclass(frozen=True)
class Chapter:
    """One chapter of the story, from `start_minute` on."""

    number: int
    start_minute: int
    title: str
    what: str
    short: str
    """The title in a few words, for the chart."""


@dataclass(frozen=True)
class Scenario:
    """The story's traffic and its timed user actions (minutes from the story's start)."""

    llm_requests_per_minute: tuple[int, ...]
    """Requests at the LLM's load balancer in each minute of the load phase."""
    batch_jobs: dict[int, int]
    """Jobs put on the batch worker's queue at the start of a minute."""
    chapters: tuple[Chapter, ...]
    zone_out_minute: int
    zone_back_minute: int
    backfill_minute: int
    backfill_until_minute: int
    backfill_nodes: int
    backfill_batch_replicas: int
    source: str
    """Where the LLM's traffic comes from, for the first lines of the output."""
    hold_seconds: float = HOLD_SECONDS_WITHOUT_TOKENS
    """How long a request holds a pod's slot (the service model's, from the trace's tokens)."""
    max_minutes: int = STORY_MINUTES


CHAPTERS = (
    Chapter(
        1,
        0,
        "traffic at zero",
        "requests reach the LLM's load balancer while nothing runs: 503s, the 503 alarm, pods and a node",
        "cold start",
    ),
    Chapter(
        2,
        11,
        "one zone out of capacity",
        "ml.g5.12xlarge in us-east-1a has no capacity: the launch fails, ebb falls back to "
        "us-east-1b, and after the mark expires new launches go to us-east-1a again",
        "zone out, fallback, return",
    ),
    Chapter(
        3,
        27,
        "a backfill for the batch window",
        "`ebb backfill` pre-provisions the NodePool before the nightly batch lands on the queue",
        "backfill, batch",
    ),
    Chapter(
        4,
        LOAD_MINUTES,
        "traffic stops",
        "no requests, no jobs: at each cooldown's end the idle timer or the tick, whichever comes "
        "first, takes the pods to zero, then the empty nodes go",
        "idle: to zero",
    ),
)

# Base request rates of the load phase: (first minute, requests a minute).
_BASE_RATES = ((0, 600), (12, 1500), (18, 2700), (34, 1800))


def built_in_scenario(seed: int) -> Scenario:
    """The story's traffic, generated from `seed` (see the module docstring)."""
    generator = random.Random(seed)
    rates = []
    for minute in range(LOAD_MINUTES):
        base = [rate for start, rate in _BASE_RATES if start <= minute][-1]
        rates.append(round(base * generator.uniform(0.94, 1.06)))
    return _scenario(tuple(rates), source=f"built-in scenario, seed {seed}")


def trace_scenario(
    per_minute_counts: Sequence[float],
    *,
    peak_pods: int,
    source: str,
    hold_seconds: float = HOLD_SECONDS_WITHOUT_TOKENS,
) -> Scenario:
    """The story with the LLM's traffic from a trace's per-minute counts (its first minutes),
    scaled so that the busiest of them needs `peak_pods` pods at the example's target (the pods
    the example's scaler asks for, not the service model's: its 300 requests per pod and minute
    keep a pod well under the model's capacity of 8 slots / 0.5 s = 960 a minute)."""
    counts = [float(c) for c in per_minute_counts[:LOAD_MINUTES]]
    if not counts or max(counts) <= 0:
        raise ValueError(f"{source}: no requests in its first {LOAD_MINUTES} minutes")
    if len(counts) < LOAD_MINUTES:
        counts += [0.0] * (LOAD_MINUTES - len(counts))
    factor = peak_pods * REQUESTS_PER_POD_MINUTE / max(counts)
    rates = tuple(math.floor(c * factor + 0.5) for c in counts)
    return _scenario(
        rates,
        source=f"{source}, first {LOAD_MINUTES} minutes, scaled x{factor:.4g} to a peak of {peak_pods} pods",
        hold_seconds=hold_seconds,
    )


def _scenario(
    rates: tuple[int, ...], *, source: str, hold_seconds: float = HOLD_SECONDS_WITHOUT_TOKENS
) -> Scenario:
    return Scenario(
        llm_requests_per_minute=rates,
        batch_jobs={33: 24},
        chapters=CHAPTERS,
        zone_out_minute=11,
        zone_back_minute=17,
        backfill_minute=27,
        backfill_until_minute=40,
        backfill_nodes=5,
        backfill_batch_replicas=4,
        source=source,
        hold_seconds=hold_seconds,
    )


def chapter_at(scenario: Scenario, minute: float) -> Chapter:
    """The chapter a moment of the story belongs to."""
    return [c for c in scenario.chapters if c.start_minute <= minute][-1]
