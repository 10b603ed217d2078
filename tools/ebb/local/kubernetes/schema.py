"""Validation of objects and request bodies against the official Kubernetes 1.33 schemas.

The schemas are kubernetes/kubernetes' OpenAPI definitions turned into JSON Schema, as the
maintained `kubernetes-validate` package ships them (its `v1.33.0-local-strict` set: every object
closed with `additionalProperties: false`, which is what `fieldValidation=Strict` enforces); only
the KEDA ScaledObject, a custom resource, comes from `keda_scaled_object.yaml`. So the stand-in and
ebb's adapter are both held to a schema neither of them wrote.

What the API server does with a violation depends on its kind (Kubernetes API concepts, "Field
validation"; the `fieldValidation` query parameter in the OpenAPI spec): an unknown field is
dropped with a `Warning` header, or refused with 400 BadRequest under `fieldValidation=Strict`;
a value of the wrong JSON type cannot be decoded (400 BadRequest); a missing required field or a
value outside its enum fails validation (422 Invalid).
"""

from __future__ import annotations

import copy
import functools
import json
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal

import jsonschema
import yaml

from ebb.core.nodes.quantities import parse_quantity
from ebb.core.quantity import QuantityError

KUBERNETES_VERSION: Final = "1.33.0"
_SCHEMA_SET: Final = f"v{KUBERNETES_VERSION}-local-strict"
_CUSTOM_FILE: Final = Path(__file__).with_name("keda_scaled_object.yaml")
_PREFIX: Final = "#/$defs/"
_QUANTITY: Final = "io.k8s.apimachinery.pkg.api.resource.Quantity"

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


def official_definitions() -> dict[str, Any]:
    """The official Kubernetes definitions by name (``io.k8s.api.apps.v1.Deployment``, ...), unchanged."""
    return copy.deepcopy(_official())


@functools.cache
def _official() -> dict[str, Any]:
    root = resources.files("kubernetes_validate").joinpath("kubernetes-json-schema", _SCHEMA_SET)
    document = json.loads(root.joinpath("_definitions.json").read_text())
    definitions: dict[str, Any] = document["$defs"]
    return definitions


@functools.cache
def _definitions() -> dict[str, Any]:
    definitions = copy.deepcopy(_official())
    # The one addition: the API server decodes a Quantity with resource.ParseQuantity, which the
    # JSON Schema (string or number) cannot express; the `quantity` format checks it.
    definitions[_QUANTITY] = {**definitions[_QUANTITY], "format": "quantity"}
    custom: dict[str, Any] = yaml.safe_load(_CUSTOM_FILE.read_text())["$defs"]
    return {**definitions, **custom}


@functools.cache
def _validator(definition: str) -> Any:
    definitions = _definitions()
    if definition not in definitions:
        raise KeyError(f"no schema named {definition!r} among the Kubernetes {KUBERNETES_VERSION} schemas")
    schema = {"$ref": _PREFIX + definition, "$defs": definitions}
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
    if error.validator in ("type", "anyOf", "oneOf"):
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
