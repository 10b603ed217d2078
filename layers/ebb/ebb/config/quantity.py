"""Kubernetes resource quantities in manifests: int-or-string fields parsed by `ebb.core.quantity`."""

from __future__ import annotations

from typing import Annotated

from pydantic import PlainSerializer, PlainValidator

from ebb.config.model_errors import custom_error, describe_yaml_value
from ebb.core.quantity import QUANTITY_PATTERN, Quantity, QuantityError, parse_quantity

__all__ = [
    "QUANTITY_PATTERN",
    "NonNegativeQuantity",
    "Quantity",
    "QuantityError",
    "QuantityValue",
    "parse_quantity",
]


def _quantity_input(value: object) -> Quantity:
    # Kubernetes quantities are int-or-string: YAML `cpu: 4` and `cpu: "4"` mean the same.
    if isinstance(value, Quantity):
        return value
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise custom_error(
            "quantity_type", f"must be a quantity such as 500m or 16Gi, got {describe_yaml_value(value)}"
        )
    try:
        return parse_quantity(value if isinstance(value, str) else repr(value))
    except QuantityError as error:
        raise custom_error("quantity_syntax", str(error)) from None


def _non_negative_quantity_input(value: object) -> Quantity:
    quantity = _quantity_input(value)
    if quantity.value < 0:
        raise custom_error("quantity_negative", f"{quantity.text!r} must not be negative")
    return quantity


QuantityValue = Annotated[Quantity, PlainValidator(_quantity_input), PlainSerializer(str, return_type=str)]
NonNegativeQuantity = Annotated[
    Quantity, PlainValidator(_non_negative_quantity_input), PlainSerializer(str, return_type=str)
]
