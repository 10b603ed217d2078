"""Metrics and targets as KEDA reports them to the HPA: Kubernetes milli-quantities, negatives included.

Sources:
- kedacore/keda pkg/scalers/scaler.go (`GenerateMetricInMili`, `GetMetricTargetMili` and
  `quantityFromFloat64`: `resource.MustParse(fmt.Sprintf("%.3f", value))`, NaN and Inf as 0).
- kubernetes/apimachinery pkg/api/resource/quantity_test.go (cb59c81e): `TestMilliNewSet`
  (1 -> "1m", 1000 -> "1", 1234000 -> "1234"), `TestQuantityNeg` (-9.01 -> "-9010m"),
  `TestQuantityString` (canonical DecimalSI forms; a negative is "-" + the positive form and zero
  never prints as "-0").
"""

from __future__ import annotations

import pytest

from ebb.core.replicas import CloudWatchTrigger, ScalerPolicy, decide_replicas
from ebb.core.replicas.quantities import INT64_MAX, format_milli_quantity, milli_from_float

from .replicas_testkit import NOW, cloudwatch, counts


@pytest.mark.parametrize(
    ("milli", "text"),
    [
        (1, "1m"),  # TestMilliNewSet
        (1000, "1"),
        (1234000, "1234"),
        (80, "80m"),  # TestQuantityString, decQuantity(80, -3)
        (1080, "1080m"),
        (3000000, "3k"),
        (10**18, "1P"),
        (0, "0"),
        (-9010, "-9010m"),  # TestQuantityNeg
        (-1080, "-1080m"),  # TestQuantityString, negated table
        (-3000000, "-3k"),
    ],
)
def test_milli_quantities_print_as_kubernetes_prints_them(milli: int, text: str) -> None:
    assert format_milli_quantity(milli) == text


@pytest.mark.parametrize(
    ("value", "milli"),
    [
        (-1.5, -1500),
        (-1.2346, -1235),  # "%.3f" rounds; it does not truncate towards zero
        (-0.0004, 0),  # "-0.000" parses as zero
        (float("nan"), 0),
        (float("-inf"), 0),
    ],
)
def test_negative_metrics_become_the_quantity_keda_parses(value: float, milli: int) -> None:
    assert milli_from_float(value) == milli


def test_a_metric_past_int64_milli_units_saturates() -> None:
    # Go's MilliValue() of such a quantity is undefined (big.Int.Int64); ebb keeps the largest.
    assert milli_from_float(1e300) == INT64_MAX
    assert milli_from_float(-1e300) == -INT64_MAX - 1


def test_a_quantity_outside_int64_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^9223372036854775808 milli-units are outside int64"):
        format_milli_quantity(INT64_MAX + 1)


def _decide_on(value: float, target: float) -> str:
    trigger = CloudWatchTrigger(
        name="latency", target_metric_value=target, min_metric_value=0, metric_stat_period=60
    )
    policy = ScalerPolicy(name="api", min_replica_count=1, triggers=(trigger,))
    window = trigger.query_window(NOW)
    decision = decide_replicas(policy, {"latency": cloudwatch((window.start, value))}, counts(2), None, NOW)
    return str(decision.explanation)


def test_the_explanation_shows_a_negative_metric_as_keda_reports_it() -> None:
    text = _decide_on(-1.5, 0.25)

    # The plain value first: `-1500m` alone reads as minus 1,500 million to most people.
    assert "latency=-1.5 [-1500m] (AverageValue 250m" in text


def test_the_explanation_shows_a_metric_that_rounds_to_zero_as_zero() -> None:
    assert "latency=0 (AverageValue 2" in _decide_on(-0.0004, 2)
