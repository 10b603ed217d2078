"""`subMinutePolling` in the ClusterBinding (`ebb.config.polling`): the interval a pool is polled
at, what `ebb validate` notes about it, and what it refuses.

KEDA checks each trigger every `pollingInterval` seconds, default 30 (KEDA docs, "ScaledObject
specification": `pollingInterval: 30  # Optional. Default: 30 seconds`); ebb decides on the
one-minute tick unless a scaler opts in.
"""

from __future__ import annotations

from typing import Any

import pytest

from ebb.config import summarize
from ebb.config.polling import (
    CLOUDWATCH_TRIGGER_USD,
    SCALER_USD,
    SQS_TRIGGER_USD,
    PoolShape,
    extra_decisions_per_minute,
    monthly_cost,
    poll_interval,
    pool_interval,
    smallest_interval,
)


@pytest.mark.parametrize(
    ("polling_interval", "polled_every"),
    [
        (1, 10),
        (9, 10),
        (10, 10),
        (12, 10),
        (15, 15),
        (19, 15),
        (20, 20),
        (25, 20),
        (30, 30),
        (45, 30),
        (59, 30),
    ],
)
def test_a_polling_interval_under_a_minute_is_rounded_down_to_a_divisor_of_60(
    polling_interval: int, polled_every: int
) -> None:
    assert poll_interval(polling_interval) == polled_every
    assert 60 % polled_every == 0


@pytest.mark.parametrize("polling_interval", [60, 61, 120, 3600])
def test_a_minute_or_more_needs_no_poll(polling_interval: int) -> None:
    assert poll_interval(polling_interval) is None


def test_a_pool_is_polled_at_the_smallest_interval_its_opted_in_scalers_ask_for() -> None:
    assert smallest_interval([(True, 30), (True, 15), (False, 10)]) == 15
    assert smallest_interval([(False, 15), (True, 120)]) is None
    assert smallest_interval([]) is None


def test_the_cost_is_the_extra_decisions_of_the_whole_pool() -> None:
    shape = PoolShape(scalers=2, cloudwatch_triggers=2, sqs_triggers=1)
    assert [extra_decisions_per_minute(i) for i in (None, 10, 15, 20, 30)] == [0, 5, 3, 2, 1]
    assert monthly_cost(None, shape) == 0
    assert monthly_cost(15, shape) == pytest.approx(3 * shape.usd_per_extra_decision())
    # A GetMetricData metric per CloudWatch trigger per decision, $0.01 per 1,000, 43,800 decisions.
    assert pytest.approx(0.438) == CLOUDWATCH_TRIGGER_USD
    assert pytest.approx(0.01752) == SQS_TRIGGER_USD
    assert pytest.approx(0.1095) == SCALER_USD
    bigger = PoolShape(scalers=3, cloudwatch_triggers=4, sqs_triggers=1)
    assert bigger.usd_per_extra_decision() - shape.usd_per_extra_decision() == pytest.approx(
        SCALER_USD + 2 * CLOUDWATCH_TRIGGER_USD
    )


def _entry(docs: Any, name: str) -> dict[str, Any]:
    return next(e for e in docs.binding["spec"]["scalers"] if e["scaledObject"]["name"] == name)


def _polling_notes(docs: Any) -> list[str]:
    return [note for note in docs.notes() if "subMinutePolling" in note or "pollingInterval" in note]


def test_a_stated_interval_under_a_minute_not_opted_in_is_noted_with_its_cost(docs: Any) -> None:
    # The example states `subMinutePolling: false` (the tick's cadence chosen): no note.
    assert _polling_notes(docs) == []
    del _entry(docs, "batch-worker")["subMinutePolling"]
    (note,) = _polling_notes(docs)
    shape = PoolShape(scalers=2, cloudwatch_triggers=2, sqs_triggers=1)
    assert note == (
        "config.yaml: document 2 (ClusterBinding gpu-inference): spec.scalers[1]: ScaledObject "
        "batch/batch-worker has pollingInterval 15 s, but NodePool gpu is decided every 60 s (the "
        "tick), alarm edges and idle timers; subMinutePolling: true here polls it every 15 s: 3 more "
        f"decisions a minute while not at rest, about ${monthly_cost(15, shape):.2f} a month"
    )


def test_the_default_interval_is_not_noted(docs: Any) -> None:
    # KEDA's default (30 s) left unstated is no request; noting every ScaledObject without a
    # pollingInterval would bury the other notes.
    for name in ("batch-worker", "llm-inference"):
        del _entry(docs, name)["subMinutePolling"]
    del docs.batch["spec"]["pollingInterval"]
    del docs.llm["spec"]["pollingInterval"]
    assert _polling_notes(docs) == []


def test_a_scaler_already_polled_as_often_by_another_opt_in_is_not_noted(docs: Any) -> None:
    _entry(docs, "batch-worker")["subMinutePolling"] = True  # 15 s
    del _entry(docs, "llm-inference")["subMinutePolling"]  # asks 30 s: the pool is polled every 15 s
    assert _polling_notes(docs) == []
    docs.llm["spec"]["pollingInterval"] = 10
    (note,) = _polling_notes(docs)
    assert "NodePool gpu is decided every 15 s" in note
    assert "polls it every 10 s: 2 more decisions a minute" in note


@pytest.mark.parametrize(
    ("polling_interval", "message"),
    [
        pytest.param(
            120,
            "ScaledObject batch/batch-worker has pollingInterval 120 s: the one-minute tick decides "
            "NodePool gpu that often already; subMinutePolling changes nothing",
            id="a-minute-or-more",
        ),
        pytest.param(
            25,
            "pollingInterval 25 s of ScaledObject batch/batch-worker is polled every 20 s: polls run at "
            "divisors of a minute (10 s, 15 s, 20 s, 30 s), rounded down",
            id="not-a-divisor",
        ),
        pytest.param(
            5,
            "pollingInterval 5 s of ScaledObject batch/batch-worker is polled every 10 s: polls run at "
            "divisors of a minute (10 s, 15 s, 20 s, 30 s), rounded down; 10 s is the shortest, as each "
            "poll is a whole pool decision",
            id="under-ten-seconds",
        ),
    ],
)
def test_an_opt_in_that_cannot_poll_as_asked_is_noted(docs: Any, polling_interval: int, message: str) -> None:
    _entry(docs, "batch-worker")["subMinutePolling"] = True
    docs.batch["spec"]["pollingInterval"] = polling_interval
    assert _polling_notes(docs) == [
        f"config.yaml: document 2 (ClusterBinding gpu-inference): spec.scalers[1].subMinutePolling: {message}"
    ]


def test_sub_minute_polling_is_a_boolean(docs: Any) -> None:
    _entry(docs, "batch-worker")["subMinutePolling"] = 15
    assert docs.errors() == [
        "config.yaml: document 2 (ClusterBinding gpu-inference): spec.scalers[1].subMinutePolling: "
        "must be true or false, got integer 15"
    ]


def test_the_summary_says_how_often_each_pool_is_decided_and_what_polling_costs(docs: Any) -> None:
    config = docs.check().config
    assert config is not None
    (pool,) = summarize(config).node_pools
    assert (pool.decided_every_seconds, pool.polling_usd_per_month) == (60, 0.0)
    _entry(docs, "batch-worker")["subMinutePolling"] = True
    config = docs.check().config
    assert config is not None
    assert pool_interval(config, "gpu") == 15
    (pool,) = summarize(config).node_pools
    shape = PoolShape.of(config, "gpu")
    assert shape == PoolShape(scalers=2, cloudwatch_triggers=2, sqs_triggers=1)
    assert (pool.decided_every_seconds, pool.polling_usd_per_month) == (15, round(monthly_cost(15, shape), 2))
