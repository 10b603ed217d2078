"""Kubernetes quantities as the node planner reads them.

Expected values follow kubernetes/kubernetes
``staging/src/k8s.io/apimachinery/pkg/api/resource/quantity_test.go`` ``TestQuantityParse``
(commit 002cd1a0cd960ebe9d6f194d342384d6fe0fedcf): its valid table and its ``invalid`` list.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from ebb.core.nodes.quantities import (
    GIB,
    MIB,
    Resources,
    format_cpu,
    format_memory,
    how_many_fit,
    parse_quantity,
)
from ebb.core.quantity import QuantityError

INT64_MAX = Decimal(2**63 - 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", Decimal(0)),
        ("1", Decimal(1)),
        ("8Ki", Decimal(8 * 1024)),
        ("7Mi", Decimal(7 * 1024**2)),
        ("6Gi", Decimal(6 * 1024**3)),
        ("3Ei", Decimal(3 * 1024**6)),
        ("5n", Decimal("5e-9")),
        ("3m", Decimal("0.003")),
        ("50k", Decimal(50_000)),
        ("300T", Decimal("3e14")),
        ("1E", Decimal("1e18")),
        ("1E-3", Decimal("0.001")),
        ("1.3E+6", Decimal(1_300_000)),
        ("100.035k", Decimal(100_035)),
        ("0.5Mi", Decimal(512 * 1024)),
        ("1.", Decimal(1)),
        ("1.G", Decimal("1e9")),
        (".001", Decimal("0.001")),
    ],
)
def test_quantities_parse_like_kubernetes(text: str, expected: Decimal) -> None:
    """Entries of the upstream valid table: binary and decimal suffixes, exponents, odd spellings."""
    assert parse_quantity(text) == expected


@pytest.mark.parametrize(
    "text", ["1.1.M", "1+1.0M", "0.1mi", "0.1am", "aoeu", ".5i", "1i", "-3.01e-", " 1", "1 "]
)
def test_malformed_quantities_are_refused_with_the_allowed_suffixes(text: str) -> None:
    """Entries of the upstream ``invalid`` list, whitespace included."""
    with pytest.raises(QuantityError, match=r"quantity|suffix"):
        parse_quantity(text)


def test_cpu_rounds_up_to_millicores_and_memory_up_to_bytes() -> None:
    """``MilliValue`` and ``Value`` round up, so a request is never under-counted."""
    assert Resources.of(cpu="0.1", memory="1Gi").vector == (100, GIB, 0, 0)
    assert Resources.of(cpu="1.0001", memory="0.5").vector == (1001, 1, 0, 0)


def test_negative_requests_are_rejected() -> None:
    with pytest.raises(ValidationError, match="cpu_millis"):
        Resources.of(cpu="-1")


def test_how_many_fit_stops_at_the_first_full_dimension() -> None:
    room = (4000, 8 * GIB, 1, 10)
    assert how_many_fit((1000, GIB, 0, 1), room) == 4
    assert how_many_fit((100, GIB, 0, 1), room) == 8
    assert how_many_fit((100, MIB, 1, 1), room) == 1
    assert how_many_fit((1, 1, 0, 1), room) == 10


def test_resources_read_well() -> None:
    assert str(Resources.of(cpu="1500m", memory="1536Mi", gpus=2, pods=1)) == (
        "cpu=1500m, memory=1.5Gi, nvidia.com/gpu=2, pods=1"
    )
    assert format_cpu(2000) == "2"
    assert format_memory(512) == "512"


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (1023, "1023"),
        (1024, "1Ki"),
        (1536 * MIB, "1.5Gi"),
        (3 * MIB, "3Mi"),
        (2**40, "1Ti"),
        (5 * 2**40 + 2**39, "5.5Ti"),
        (123456789, "117.7Mi"),
    ],
)
def test_memory_reads_in_the_largest_binary_unit(size: int, text: str) -> None:
    assert format_memory(size) == text


def test_resources_add_component_wise() -> None:
    total = Resources(cpu_millis=1, memory_bytes=2, gpus=3, pods=4) + Resources(
        cpu_millis=10, memory_bytes=20, gpus=30, pods=40
    )
    assert total == Resources(cpu_millis=11, memory_bytes=22, gpus=33, pods=44)
    assert format_cpu(1500) == "1500m"
    assert format_cpu(0) == "0"


def test_quantities_compare_by_value_whatever_their_spelling() -> None:
    # apimachinery: a Quantity's Cmp and Equal compare amounts, not text ("1k" equals "1000").
    from ebb.core.quantity import parse_quantity as parse

    assert parse("1k") == parse("1000")
    assert hash(parse("1k")) == hash(parse("1000"))
    assert str(parse("1k")) == "1k"
    assert parse("999") < parse("1k") < parse("1Ki")
    assert parse("1Ki") > parse("1k")
    assert parse("1k") <= parse("1000") <= parse("1k")
    assert not parse("1k") < parse("1000")  # equal amounts: neither is less
    assert not parse("1000") > parse("1k")
    assert parse("1k") != "1k"  # only quantities compare: equality with another type is not defined
    with pytest.raises(TypeError):
        _ = parse("1k") < "2k"  # type: ignore[operator]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Below nanounits, Kubernetes rounds away from zero (quantity.go: "rounded up ... to the
        # nearest nanounit"; TestQuantityParse's "0.0000000001" -> 1n).
        ("0.0000000001", Decimal("1e-9")),
        ("-0.0000000001", Decimal("-1e-9")),
        ("1.0000000001", Decimal("1.000000001")),
        ("0.000000001", Decimal("1e-9")),  # exactly a nanounit is kept as it is
        ("1n", Decimal("1e-9")),
        ("0.5n", Decimal("1e-9")),
    ],
)
def test_amounts_below_a_nanounit_round_away_from_zero(text: str, expected: Decimal) -> None:
    from ebb.core.quantity import parse_quantity as parse

    assert parse(text).value == expected


def test_amounts_beyond_int64_saturate() -> None:
    # ebb keeps quantities within int64, as the HPA and kubelet read them (Quantity.Value()).
    from ebb.core.quantity import MAX_QUANTITY
    from ebb.core.quantity import parse_quantity as parse

    assert Decimal(2**63 - 1) == MAX_QUANTITY
    assert parse("9Ei").value == MAX_QUANTITY
    assert parse("-9Ei").value == -MAX_QUANTITY
    assert parse("9223372036854775807").value == MAX_QUANTITY
    assert parse("9223372036854775806").value == MAX_QUANTITY - 1


def test_a_bad_quantity_says_what_the_syntax_is() -> None:
    from ebb.core.quantity import parse_quantity as parse

    with pytest.raises(QuantityError) as raised:
        parse("12Kb")
    assert str(raised.value) == (
        "'12Kb' is not a Kubernetes quantity; write a number with an optional suffix (n, u, m, k, M, G, "
        "T, P, E, Ki, Mi, Gi, Ti, Pi, Ei or an exponent such as e3), for example 500m or 16Gi"
    )
    assert type(raised.value) is QuantityError
    for text in ("", ".", "-", "+", "e3", "1e", "1e+", "1.2.3", " 1", "1 "):
        with pytest.raises(QuantityError, match="is not a Kubernetes quantity"):
            parse(text)


@pytest.mark.parametrize("text", ["1\n", "5m\n", "1e3\n", "1Ki\n", "16Gi\n"])
def test_a_trailing_newline_is_not_part_of_a_quantity(text: str) -> None:
    """apimachinery's ``ParseQuantity`` reads the whole string: after the number only a suffix may
    follow, and its ``invalid`` list refuses trailing whitespace (``"1 "``); a newline is no different
    (a ``$`` in a Python pattern would let it through)."""
    with pytest.raises(QuantityError, match="is not a Kubernetes quantity"):
        parse_quantity(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # An exponent past what a Decimal context holds still saturates, either way.
        ("1e9999999", INT64_MAX),
        ("-1e9999999", -INT64_MAX),
        ("1e-9999999", Decimal("1e-9")),
        ("-1e-9999999", Decimal("-1e-9")),
        ("0e9999999", Decimal(0)),
        # More digits than Python's default 28: the amount below a nanounit still rounds up.
        ("1.0000000000000000000000000001", Decimal("1.000000001")),
        ("1.0000000000000000000000000001Ki", Decimal("1024.000000001")),
        ("123456789012345678901.0000000001", INT64_MAX),
        ("9223372036854775806.0000000000000000000001", Decimal("9223372036854775806.000000001")),
        ("0." + "0" * 60 + "1", Decimal("1e-9")),
    ],
)
def test_any_number_of_digits_or_exponent_rounds_and_saturates_like_kubernetes(
    text: str, expected: Decimal
) -> None:
    """quantity.go keeps amounts exactly (``inf.Dec``), rounds what lies below a nanounit up and
    saturates at int64 (TestQuantityParse's rows "0.0000000001" -> 1n and "9Ei" -> max); the
    arithmetic here must not depend on the precision or exponent range of a Decimal context."""
    from ebb.core.quantity import parse_quantity as parse

    assert parse(text).value == expected


def test_a_number_without_digits_is_refused_with_its_own_text() -> None:
    from ebb.core.quantity import parse_quantity as parse

    with pytest.raises(QuantityError) as raised:
        parse(".")
    assert str(raised.value).startswith("'.' is not a Kubernetes quantity; write a number")


def test_vector_arithmetic_is_component_wise_and_floored() -> None:
    from ebb.core.nodes.quantities import add, fits, floor_sub, scale

    a = Resources(cpu_millis=5, memory_bytes=6, gpus=7, pods=8)
    b = Resources(cpu_millis=1, memory_bytes=9, gpus=2, pods=8)
    assert a.minus(b) == Resources(cpu_millis=4, memory_bytes=0, gpus=5, pods=0)
    assert Resources.from_vector((1, 2, 3, 4)).vector == (1, 2, 3, 4)
    assert add((1, 2, 3, 4), (10, 20, 30, 40)) == (11, 22, 33, 44)
    assert floor_sub((1, 2, 3, 4), (0, 3, 3, 5)) == (1, 0, 0, 0)
    assert scale((1, 2, 3, 4), 3) == (3, 6, 9, 12)
    for dimension in range(4):
        room = [5, 5, 5, 5]
        assert fits((5, 5, 5, 5), (5, 5, 5, 5))
        room[dimension] = 4
        assert not fits((5, 5, 5, 5), (room[0], room[1], room[2], room[3]))
    assert b.fits_in(Resources(cpu_millis=1, memory_bytes=9, gpus=2, pods=8))
    assert not a.fits_in(b)
    assert Resources().is_zero()
    assert not Resources(pods=1).is_zero()


def test_how_many_fit_counts_each_resource_the_pod_asks_for() -> None:
    room = (10_000, 10 * GIB, 4, 30)
    assert how_many_fit((0, 0, 0, 1), room) == 30
    assert how_many_fit((0, 0, 0, 0), room) == 30  # nothing asked: the pod slots bound it
    assert how_many_fit((3000, 0, 0, 1), room) == 3
    assert how_many_fit((0, 3 * GIB, 0, 1), room) == 3
    assert how_many_fit((0, 0, 3, 1), room) == 1
    assert how_many_fit((0, 0, 0, 7), room) == 4
    assert how_many_fit((1000, GIB, 1, 1), (-1, GIB, 1, 1)) == 0  # overcommitted room: none, never negative


def test_amounts_read_in_kubernetes_units() -> None:
    assert format_cpu(1) == "1m"
    assert format_cpu(16_000) == "16"
    assert format_memory(1024**4 * 3) == "3Ti"
    assert format_memory(GIB) == "1Gi"
    assert format_memory(MIB) == "1Mi"
    assert format_memory(1024) == "1Ki"
    assert format_memory(1) == "1"
    assert str(Resources(cpu_millis=500)) == "cpu=500m, memory=0"
