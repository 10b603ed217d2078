"""Milli-unit quantities, the integers the HPA actually compares.

KEDA hands every metric and target to the HPA as a Kubernetes quantity and the HPA reads it with
`MilliValue()`, so ratios are computed from integers of thousandths, not from the floats KEDA
read. Current KEDA (`pkg/scalers/scaler.go`, `quantityFromFloat64`) formats a float with three
decimals (round half to even on the exact binary value) and maps NaN and infinities to zero;
older releases truncated `value * 1000` instead, which differs only below a thousandth.

A negative value is parsed the same way (`-1.2345` is `-1.234`, `-1235m` for `-1.2346`), and one
that rounds to zero is zero (`-0.0004` reads "-0.000" and is reported as "0", never "-0").

The HPA reads a quantity with `MilliValue()`, an int64: beyond +-9223372036854775.807 the result
is undefined in Go (`big.Int.Int64`). ebb saturates such values at the int64 bounds instead, so a
wild metric asks for the most replicas rather than a wrapped, possibly negative, count; a target
that large is refused by the configuration (`MAX_TARGET_MILLI`).
"""

from __future__ import annotations

import math

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_TARGET_MILLI = INT64_MAX
"""The largest target, in milli-units, whose `MilliValue()` the HPA can read."""

# Kubernetes' DecimalSI suffixes by power of ten (apimachinery pkg/api/resource/suffix.go).
_DECIMAL_SI_SUFFIXES = {-9: "n", -6: "u", -3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E"}


def exact_milli_from_float(value: float) -> int:
    """The milli-units of KEDA's quantity for `value`, unbounded: rounded to three decimals, NaN and inf 0."""
    if math.isnan(value) or math.isinf(value):
        return 0
    # Python's fixed-point formatting rounds the exact binary value, as Go's %.3f does.
    return int(format(value, ".3f").replace(".", ""))


def milli_from_float(value: float) -> int:
    """The milli-units the HPA reads for `value`, saturated at the int64 bounds (see the module doc)."""
    return max(INT64_MIN, min(INT64_MAX, exact_milli_from_float(value)))


def format_milli_quantity(milli: int) -> str:
    """A milli-quantity as Kubernetes prints it (`Quantity.String()`, DecimalSI canonical form).

    The mantissa is an integer and the exponent a multiple of three with its SI suffix: 1500
    milli-units are `1500m`, 2000 are `2`, 300000 are `300`, 5000000 are `5k`; a negative quantity
    is the same with a leading `-`; zero is `0`. Only int64 milli-values are quantities the HPA
    reads, and those never need an exponent past `P`.
    """
    if not INT64_MIN <= milli <= INT64_MAX:
        raise ValueError(f"{milli} milli-units are outside int64: saturate with milli_from_float first")
    if milli == 0:
        return "0"
    sign = "-" if milli < 0 else ""
    mantissa, exponent = abs(milli), -3
    while mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
    while exponent % 3:
        mantissa *= 10
        exponent -= 1
    return f"{sign}{mantissa}{_DECIMAL_SI_SUFFIXES[exponent]}"


def milli_from_int(value: int) -> int:
    """The milli-units of an integer quantity (KEDA's `resource.NewQuantity`)."""
    return value * 1000
