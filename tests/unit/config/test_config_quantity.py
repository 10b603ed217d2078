"""Kubernetes resource quantities, checked against apimachinery's own expectations.

Source: kubernetes/kubernetes staging/src/k8s.io/apimachinery/pkg/api/resource/quantity_test.go
(db8b216c), TestQuantityParse: the valid table (values below are its expected amounts), the
"things that saturate/round" rows, and its `invalid` list.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from ebb.config.quantity import NonNegativeQuantity, QuantityError, QuantityValue, parse_quantity

KI = 1024


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", "0"),
        ("0n", "0"),
        ("0Ki", "0"),
        ("1", "1"),
        ("1Ki", str(KI)),
        ("8Ki", str(8 * KI)),
        ("7Mi", str(7 * KI**2)),
        ("6Gi", str(6 * KI**3)),
        ("5Ti", str(5 * KI**4)),
        ("4Pi", str(4 * KI**5)),
        ("3Ei", str(3 * KI**6)),
        ("5n", "5e-9"),
        ("4u", "4e-6"),
        ("3m", "0.003"),
        ("8k", "8000"),
        ("50k", "50000"),
        ("7M", "7e6"),
        ("6G", "6e9"),
        ("5T", "5e12"),
        ("2P", "2e15"),
        ("1E", "1e18"),
        ("1E-3", "0.001"),
        ("1e3", "1000"),
        ("1E6", "1e6"),
        ("100.035k", "100035"),
        ("0.5e-1", "0.05"),
        ("1.3E+6", "1.3e6"),
        ("10.035M", "10035000"),
        ("2.5P", "2.5e15"),
        ("1.01E", "1.01e18"),
        ("100.035Ki", "102435.84"),
        ("0.5Mi", str(KI**2 // 2)),
        (".001", "0.001"),
        (".0001k", "0.1"),
        ("1.", "1"),
        ("1.G", "1e9"),
        # Things that saturate/round: nanounit precision, rounded away from zero; int64 ceiling.
        ("3.001n", "4e-9"),
        ("1.1E-9", "2e-9"),
        ("0.0000000001", "1e-9"),
        ("0.00000012345", "1.24e-7"),
        ("0.000000000001Ki", "2e-9"),
        ("9Ei", str(2**63 - 1)),
        ("9223372036854775807Ki", str(2**63 - 1)),
    ],
)
def test_valid_quantities_have_kubernetes_values(text: str, expected: str) -> None:
    assert parse_quantity(text).value == Decimal(expected)
    # The negative and explicitly positive spellings parse too (TestQuantityParse does the same).
    assert parse_quantity("-" + text).value == -Decimal(expected)
    assert parse_quantity("+" + text).value == Decimal(expected)


@pytest.mark.parametrize(
    "text",
    ["1.1.M", "1+1.0M", "0.1mi", "0.1am", "aoeu", ".5i", "1i", "-3.01i", "-3.01e-", " 1", "1 ", "", "1K"],
)
def test_invalid_quantities_are_refused_with_the_syntax(text: str) -> None:
    with pytest.raises(QuantityError) as raised:
        parse_quantity(text)
    assert str(raised.value) == (
        f"{text!r} is not a Kubernetes quantity; write a number with an optional suffix (n, u, m, k, M, G, "
        "T, P, E, Ki, Mi, Gi, Ti, Pi, Ei or an exponent such as e3), for example 500m or 16Gi"
    )


def test_quantities_compare_by_value_not_by_spelling() -> None:
    # TestQuantityCmp: 100m > 50m, 10000T > 100Gi; and 1Gi is 1024Mi.
    assert parse_quantity("100m") > parse_quantity("50m")
    assert parse_quantity("10000T") > parse_quantity("100Gi")
    assert parse_quantity("1Gi") == parse_quantity("1024Mi")
    assert str(parse_quantity("1024Mi")) == "1024Mi"


SUFFIXES: dict[str, int | Decimal] = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "Ki": KI,
    "Mi": KI**2,
    "Gi": KI**3,
    "m": Decimal("0.001"),
}


@settings(max_examples=200, deadline=None)
@given(amount=st.integers(min_value=0, max_value=10**6), suffix=st.sampled_from(sorted(SUFFIXES)))
def test_a_whole_amount_with_a_suffix_is_amount_times_the_multiplier(amount: int, suffix: str) -> None:
    assert parse_quantity(f"{amount}{suffix}").value == amount * SUFFIXES[suffix]


class _Resources(BaseModel):
    any_sign: QuantityValue
    request: NonNegativeQuantity


def test_yaml_numbers_are_quantities_as_kubernetes_int_or_string() -> None:
    parsed = _Resources.model_validate({"any_sign": -2, "request": 0.5})
    assert parsed.any_sign.value == -2
    assert parsed.request.value == Decimal("0.5")
    assert parsed.model_dump() == {"any_sign": "-2", "request": "0.5"}


def test_a_negative_request_is_refused() -> None:
    with pytest.raises(ValidationError) as raised:
        _Resources.model_validate({"any_sign": "1", "request": "-500m"})
    assert raised.value.errors()[0]["msg"] == "'-500m' must not be negative"


def test_a_boolean_is_not_a_quantity() -> None:
    with pytest.raises(ValidationError) as raised:
        _Resources.model_validate({"any_sign": True, "request": "1"})
    assert raised.value.errors()[0]["msg"] == "must be a quantity such as 500m or 16Gi, got boolean true"
