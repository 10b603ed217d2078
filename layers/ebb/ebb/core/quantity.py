"""Kubernetes resource quantities (`500m`, `16Gi`, `1e3`) as exact decimals.

Follows k8s.io/apimachinery/pkg/api/resource/quantity.go (`ParseQuantity`): a signed decimal
number, then at most one suffix: a binary SI suffix (Ki, Mi, Gi, Ti, Pi, Ei), a decimal SI
suffix (n, u, m, k, M, G, T, P, E) or a decimal exponent (e3, E-2). Values are kept as
`Decimal` so that `0.1 + 0.2` CPU is exactly 300m, as in Kubernetes. The configuration, the
node planner and the adapters all parse quantities here, so they cannot disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_UP, Decimal, localcontext
from functools import total_ordering

QUANTITY_PATTERN = r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
# Matched with fullmatch: a `$` would also match before a trailing newline and let "1\n" through.
_NUMBER_RE = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?(.*)")
_EXPONENT_RE = re.compile(r"[eE]([+-]?[0-9]+)")

NANO = Decimal("1e-9")
NANO_EXPONENT = -9
# Kubernetes keeps at most nanounit precision (rounding away from zero) and saturates at int64.
MAX_QUANTITY = Decimal(2**63 - 1)

_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


class QuantityError(ValueError):
    """The text is not a Kubernetes quantity."""


@total_ordering
@dataclass(frozen=True, eq=False)
class Quantity:
    """An exact resource amount, with the text it was written as."""

    value: Decimal
    text: str

    def __str__(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Quantity):
            return self.value == other.value
        return NotImplemented

    def __lt__(self, other: object) -> bool:
        if isinstance(other, Quantity):
            return self.value < other.value
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.value)


def parse_quantity(text: str) -> Quantity:
    """Parse a quantity string; raise `QuantityError` saying what the syntax is."""
    match = _NUMBER_RE.fullmatch(text)
    # No match: a line break in the text. No digits on either side of the point: "", ".", "-", "e3".
    if match is None or not (match.group(2) or match.group(3)):
        raise QuantityError(_syntax_message(text))
    sign, whole, fraction, suffix = match.groups()
    # Exact arithmetic whatever the caller's Decimal context: room for every digit of the text
    # times 2**60 and for nine more decimals. A decimal exponent beyond that many digits changes
    # nothing once saturated or rounded to a nanounit, so it is capped to keep within the
    # context's exponent range ("1e9999999" saturates rather than overflowing).
    digits = len(text) + 40
    with localcontext(prec=digits):
        number = Decimal(f"{sign}{whole or '0'}.{fraction or '0'}")
        if suffix in _BINARY_SUFFIXES:
            value = number * (2 ** _BINARY_SUFFIXES[suffix])
        elif suffix in _DECIMAL_SUFFIXES:
            value = number.scaleb(_DECIMAL_SUFFIXES[suffix])
        elif (exponent := _EXPONENT_RE.fullmatch(suffix)) is not None:
            value = number.scaleb(max(-digits, min(digits, int(exponent.group(1)))))
        else:
            raise QuantityError(_syntax_message(text))
        exponent_of_value = value.as_tuple().exponent
        if isinstance(exponent_of_value, int) and exponent_of_value < NANO_EXPONENT:
            value = value.quantize(NANO, rounding=ROUND_UP)
    value = max(-MAX_QUANTITY, min(MAX_QUANTITY, value))
    return Quantity(value, text)


def _syntax_message(text: str) -> str:
    return (
        f"{text!r} is not a Kubernetes quantity; write a number with an optional suffix (n, u, m, k, M, G, "
        "T, P, E, Ki, Mi, Gi, Ti, Pi, Ei or an exponent such as e3), for example 500m or 16Gi"
    )
