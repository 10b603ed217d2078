"""Turn pydantic's validation errors into the messages ebb's users see.

Pydantic reports an error location as a tuple that includes the tags of discriminated unions
(`triggers, 0, 'aws-sqs-queue', metadata`). Users wrote YAML, so the location is rewritten as the
YAML path (`spec.triggers[0].metadata`) and each message says what is allowed, including, for an
unknown field, the fields that are allowed at that place.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

from ebb.config.issues import FieldPath, PathPart


def custom_error(kind: str, message: str) -> PydanticCustomError:
    """A validation error whose text is exactly `message`."""
    return PydanticCustomError(kind, "{message}", {"message": message})


def describe_yaml_value(value: object) -> str:
    """`integer 5`, `string 'x'`: how a YAML value reads in an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value}"
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def validation_problems(model: type[BaseModel], error: ValidationError) -> Iterator[tuple[FieldPath, str]]:
    """Each pydantic error of `model` as (YAML path, user-facing message)."""
    for detail in error.errors(include_url=False):
        path, parent_models = _resolve_location(model, detail["loc"])
        yield path, _message(detail, parent_models)


def _message(detail: ErrorDetails, parent_models: Sequence[type[BaseModel]]) -> str:
    kind = detail["type"]
    value = detail.get("input")
    ctx: dict[str, Any] = dict(detail.get("ctx") or {})
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return _unknown_field_message(str(detail["loc"][-1]), parent_models)
    if kind == "string_type":
        hint = (
            f'; quote it: "{value}"' if isinstance(value, int | float) and not isinstance(value, bool) else ""
        )
        return f"must be a string, got {describe_yaml_value(value)}{hint}"
    if kind in {"int_type", "int_parsing", "int_from_float"}:
        return f"must be an integer, got {describe_yaml_value(value)}"
    if kind in {"float_type", "float_parsing"}:
        return f"must be a number, got {describe_yaml_value(value)}"
    if kind in {"bool_type", "bool_parsing"}:
        return f"must be true or false, got {describe_yaml_value(value)}"
    if kind == "literal_error":
        return f"{describe_yaml_value(value)} is not allowed; allowed: {ctx.get('expected')}"
    if kind in {"greater_than_equal", "greater_than", "less_than_equal", "less_than"}:
        symbol = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}
        bound = next(iter(ctx.values()))
        return f"must be {symbol[kind]} {bound}, got {describe_yaml_value(value)}"
    if kind == "string_too_short":
        minimum = ctx.get("min_length", 1)
        return "must not be empty" if minimum == 1 else f"must be at least {minimum} characters"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters, got {len(str(value))}"
    if kind == "string_pattern_mismatch":
        return f"{describe_yaml_value(value)} does not match the pattern {ctx.get('pattern')}"
    if kind == "too_short":
        return f"must have at least {ctx.get('min_length')} item(s), got {ctx.get('actual_length')}"
    if kind == "too_long":
        return f"must have at most {ctx.get('max_length')} items, got {ctx.get('actual_length')}"
    if kind in {"tuple_type", "list_type"}:
        return f"must be a list, got {describe_yaml_value(value)}"
    if kind in {"dict_type", "model_type", "model_attributes_type", "mapping_type"}:
        return f"must be a mapping of fields, got {describe_yaml_value(value)}"
    if kind == "union_tag_invalid":
        return (
            f"{ctx.get('discriminator', '').strip(chr(39))} {ctx.get('tag')!r} is not supported; allowed: "
            f"{ctx.get('expected_tags')}"
        )
    if kind == "union_tag_not_found":
        return f"{ctx.get('discriminator', '').strip(chr(39))} is required"
    message = detail["msg"]
    return message.removeprefix("Value error, ")


def _unknown_field_message(field: str, parent_models: Sequence[type[BaseModel]]) -> str:
    allowed = sorted(
        {_alias(name, info) for model in parent_models for name, info in model.model_fields.items()}
    )
    if not allowed:
        return "unknown field"
    close = difflib.get_close_matches(field, allowed, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown field{hint}; allowed here: {', '.join(allowed)}"


def closest_field(field: str, model: type[BaseModel]) -> str | None:
    """The field of `model` (by its YAML name) that `field` most likely misspells, if one is close."""
    allowed = sorted({_alias(name, info) for name, info in model.model_fields.items()})
    close = difflib.get_close_matches(field, allowed, n=1)
    return close[0] if close else None


def _alias(name: str, info: Any) -> str:
    alias = getattr(info, "alias", None)
    return alias if isinstance(alias, str) else name


def _resolve_location(
    root: type[BaseModel], loc: tuple[int | str, ...]
) -> tuple[FieldPath, tuple[type[BaseModel], ...]]:
    """Map pydantic's `loc` to the YAML path, and find the models that hold the last part."""
    candidates: list[Any] = [root]
    path: list[PathPart] = []
    parents: tuple[type[BaseModel], ...] = (root,)
    for part in loc:
        models = tuple(t for t in candidates if _is_model(t))
        parents = models
        if isinstance(part, str) and models:
            field = _field_of(models, part)
            if field is not None:
                path.append(part)
                candidates = _expand(field)
                continue
            tagged = [m for m in models if _has_tag(m, part)]
            if tagged and len(models) > 1:
                candidates = tagged  # a discriminated-union tag: not part of the YAML path
                continue
            path.append(part)
            candidates = []
            continue
        path.append(part)
        candidates = _element_types(candidates, part)
    return tuple(path), parents


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _field_of(models: Sequence[type[BaseModel]], alias: str) -> Any | None:
    for model in models:
        for name, info in model.model_fields.items():
            if _alias(name, info) == alias:
                return info.annotation
    return None


def _has_tag(model: type[BaseModel], tag: str) -> bool:
    for info in model.model_fields.values():
        if get_origin(info.annotation) is Literal and tag in get_args(info.annotation):
            return True
    return False


def _expand(tp: Any) -> list[Any]:
    """Strip Annotated and Optional; split unions into their members."""
    origin = get_origin(tp)
    if origin is typing.Annotated:
        return _expand(get_args(tp)[0])
    if origin is Union or origin is types.UnionType:
        expanded: list[Any] = []
        for member in get_args(tp):
            if member is not type(None):
                expanded.extend(_expand(member))
        return expanded
    return [tp]


def _element_types(candidates: Sequence[Any], part: int | str) -> list[Any]:
    """The types inside a list (for an index) or a mapping (for a key)."""
    found: list[Any] = []
    for tp in candidates:
        origin = get_origin(tp)
        args = get_args(tp)
        if not isinstance(origin, type) or not args:
            continue
        if isinstance(part, int) and issubclass(origin, tuple | list):
            found.extend(_expand(args[0]))
        elif isinstance(part, str) and issubclass(origin, Mapping) and len(args) == 2:
            found.extend(_expand(args[1]))
    return found
