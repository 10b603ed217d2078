"""Validation of objects and request bodies against the vendored Kubernetes OpenAPI subset.

What the API server does with a violation depends on its kind (Kubernetes API concepts, "Field
validation"; the `fieldValidation` query parameter in the OpenAPI spec): an unknown field is
dropped with a `Warning` header, or refused with 400 BadRequest under `fieldValidation=Strict`;
a value of the wrong JSON type cannot be decoded (400 BadRequest); a missing required field or a
value outside its enum fails validation (422 Invalid).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal

import jsonschema
import yaml

from ebb.core.nodes.quantities import parse_quantity
from ebb.core.quantity import QuantityError

_SCHEMA_FILE: Final = Path(__file__).with_name("openapi_subset.yaml")
_PREFIX: Final = "#/components/schemas/"

ViolationKind = Literal["unknown_field", "type", "invalid"]

_FORMAT_ERRORS: Final = {
    "int32": "value out of range for int32",
    "int64": "value out of range for int64",
    # The message of apimachinery's resource.ErrFormatWrong.
    "quantity": "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
    "date-time": "not an RFC 3339 date-time",
}


@dataclass(frozen=True)
class Violation:
    """One way an object breaks its schema: where (``spec.replicas``), what kind, and a message."""

    field: str
    kind: ViolationKind
    message: str


def _format_checker() -> Any:
    checker = jsonschema.FormatChecker(formats=())

    def _int32(value: object) -> bool:
        return not isinstance(value, int) or -(2**31) <= value < 2**31

    def _int64(value: object) -> bool:
        return not isinstance(value, int) or -(2**63) <= value < 2**63

    def _quantity(value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            return True  # the type check reports it
        try:
            parse_quantity(str(value) if isinstance(value, float) else value)
        except QuantityError:
            return False
        return True

    def _date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return False
        return True

    for name, check in (
        ("int32", _int32),
        ("int64", _int64),
        ("quantity", _quantity),
        ("date-time", _date_time),
    ):
        checker.checks(name)(check)
    return checker


@functools.cache
def _document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(_SCHEMA_FILE.read_text())
    return loaded


@functools.cache
def _validator(definition: str) -> Any:
    components = _document()["components"]
    if definition not in components["schemas"]:
        raise KeyError(f"no schema named {definition!r} in the vendored subset")
    schema = {"$ref": _PREFIX + definition, "components": components}
    return jsonschema.Draft202012Validator(schema, format_checker=_format_checker())


def violations(definition: str, instance: Any) -> list[Violation]:
    """Every violation of `definition` by `instance`, in a stable order."""
    found: list[Violation] = []
    for error in _validator(definition).iter_errors(instance):
        found.extend(_violations_of(error))
    return sorted(found, key=lambda violation: (violation.field, violation.kind, violation.message))


def prune_unknown_fields(definition: str, instance: Any) -> list[str]:
    """Drop the fields the schema does not know (what the API server does without Strict); return them."""
    dropped: list[str] = []
    for error in _validator(definition).iter_errors(instance):
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            known = set(error.schema.get("properties", {}))
            for name in sorted(set(error.instance) - known):
                del error.instance[name]
                dropped.append(_join(error.absolute_path, name))
    return dropped


def _violations_of(error: Any) -> list[Violation]:
    path = _join(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties", {}))
        fields = [_join(error.absolute_path, name) for name in sorted(set(error.instance) - known)]
        return [Violation(field, "unknown_field", f'unknown field "{field}"') for field in fields]
    if error.validator in ("type", "anyOf"):
        return [Violation(path, "type", f"{path}: {error.message}")]
    if error.validator == "format":
        # Go's JSON decoding fails on these before validation runs: a 400, like a type error.
        return [Violation(path, "type", f"{path}: {_FORMAT_ERRORS[error.validator_value]}")]
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        field = _join(error.absolute_path, missing)
        return [Violation(field, "invalid", f"{field}: Required value")]
    if error.validator == "enum":
        allowed = ", ".join(f'"{value}"' for value in error.validator_value)
        message = f'{path}: Unsupported value: "{error.instance}": supported values: {allowed}'
        return [Violation(path, "invalid", message)]
    return [Violation(path, "invalid", f"{path}: Invalid value: {error.instance!r}: {error.message}")]


def _join(path: Any, last: str | None = None) -> str:
    parts = [*path, *([last] if last is not None else [])]
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "<root>"
