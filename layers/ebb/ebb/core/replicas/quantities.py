"""Milli-unit quantities, the integers the HPA actually compares.

KEDA hands every metric and target to the HPA as a Kubernetes quantity and the HPA reads it with
`MilliValue()`, so ratios are computed from integers of thousandths, not from the floats KEDA
read. Current KEDA (`pkg/scalers/scaler.go`, `quantityFromFloat64`) formats a float with three
decimals (round half to even on the exact binary value) and maps NaN and infinities to zero;
older releases truncated `value * 1000` instead, which differs only below a thousandth.
"""

from __future__ import annotations

import math

INT64_MAX = 2**63 - 1


def milli_from_float(value: float) -> int:
    """The milli-units KEDA publishes for `value`: rounded to three decimals, NaN and inf as 0."""
    if math.isnan(value) or math.isinf(value):
        return 0
    # Python's fixed-point formatting rounds the exact binary value, as Go's %.3f does.
    return int(format(value, ".3f").replace(".", ""))


def milli_from_int(value: int) -> int:
    """The milli-units of an integer quantity (KEDA's `resource.NewQuantity`)."""
    return value * 1000
