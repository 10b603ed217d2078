"""SageMaker's service model, as botocore ships it, and checks of values against its shapes.

The model (`botocore/data/sagemaker/2017-07-24/service-2.json`) has every request and response
shape with its required members, enums, lengths, ranges and patterns. The stand-in validates
requests with it the way SageMaker does (a ValidationException listing what is wrong, which
botocore's client-side validation does not catch: maxima, enums, patterns), and tests check the
stand-in's responses with it, so neither the stand-in nor the adapter can define the API alone.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import botocore.session
from botocore.model import (
    ListShape,
    MapShape,
    OperationModel,
    ServiceModel,
    Shape,
    StringShape,
    StructureShape,
)


@functools.cache
def sagemaker_model() -> ServiceModel:
    """botocore's SageMaker service model (loaded once)."""
    return botocore.session.get_session().get_service_model("sagemaker")


def operation(name: str) -> OperationModel:
    """The model of operation `name` (e.g. "BatchAddClusterNodes")."""
    return sagemaker_model().operation_model(name)


def limit(shape_name: str, key: str) -> Any:
    """A constraint (`min`, `max`, `pattern`, `enum`) of a named shape of the model."""
    shape = sagemaker_model().shape_for(shape_name)
    if key == "enum":
        return list(shape.enum) if isinstance(shape, StringShape) else []
    return shape.metadata.get(key)


def request_problems(operation_name: str, request: Mapping[str, Any]) -> list[str]:
    """What is wrong with a request, in SageMaker's ValidationException wording."""
    shape = operation(operation_name).input_shape
    if shape is None:  # pragma: no cover - every operation the stand-in serves has input
        return []
    return _problems(shape, request, path="", strict_members=True, wording="request")


def response_problems(operation_name: str, response: Mapping[str, Any]) -> list[str]:
    """Where a response breaks the model: missing required members, unknown members, bad values.

    botocore's `ResponseMetadata` (not part of the model) is ignored.
    """
    shape = operation(operation_name).output_shape
    if shape is None:  # pragma: no cover
        return []
    body = {key: value for key, value in response.items() if key != "ResponseMetadata"}
    return _problems(shape, body, path="", strict_members=True, wording="response")


def _member_path(path: str, name: str, wording: str) -> str:
    # SageMaker names request members in lowerCamel in its messages ("at 'nodesToAdd'").
    shown = name[:1].lower() + name[1:] if wording == "request" else name
    return f"{path}.{shown}" if path else shown


def _constraint(value: Any, path: str, rule: str) -> str:
    return f"Value '{value}' at '{path}' failed to satisfy constraint: Member must {rule}"


def _problems(shape: Shape, value: Any, *, path: str, strict_members: bool, wording: str) -> list[str]:
    kind = shape.type_name
    if kind == "structure":
        return _structure_problems(shape, value, path=path, strict_members=strict_members, wording=wording)
    if kind == "list":
        return _list_problems(shape, value, path=path, wording=wording)
    if kind == "map":
        return _map_problems(shape, value, path=path, wording=wording)
    return _scalar_problems(shape, value, path=path)


def _structure_problems(
    shape: Shape, value: Any, *, path: str, strict_members: bool, wording: str
) -> list[str]:
    assert isinstance(shape, StructureShape)
    if not isinstance(value, Mapping):
        return [f"'{path or '(top)'}' must be a structure, not {type(value).__name__}"]
    problems = []
    for name in shape.required_members:
        if value.get(name) is None:
            problems.append(_constraint("null", _member_path(path, name, wording), "not be null"))
    for name, member_value in value.items():
        member_path = _member_path(path, name, wording)
        if name not in shape.members:
            if strict_members:
                problems.append(f"'{member_path}' is not a member of {shape.name}")
            continue
        if member_value is None:
            continue
        problems.extend(
            _problems(
                shape.members[name],
                member_value,
                path=member_path,
                strict_members=strict_members,
                wording=wording,
            )
        )
    return problems


def _list_problems(shape: Shape, value: Any, *, path: str, wording: str) -> list[str]:
    assert isinstance(shape, ListShape)
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        return [f"'{path}' must be a list, not {type(value).__name__}"]
    problems = _length_problems(shape, value, path)
    for index, item in enumerate(value, start=1):
        problems.extend(
            _problems(shape.member, item, path=f"{path}.{index}.member", strict_members=True, wording=wording)
        )
    return problems


def _map_problems(shape: Shape, value: Any, *, path: str, wording: str) -> list[str]:
    assert isinstance(shape, MapShape)
    if not isinstance(value, Mapping):
        return [f"'{path}' must be a map, not {type(value).__name__}"]
    problems = _length_problems(shape, value, path)
    for key, item in value.items():
        problems.extend(_problems(shape.key, key, path=f"{path}.key", strict_members=True, wording=wording))
        problems.extend(
            _problems(shape.value, item, path=f"{path}.{key}", strict_members=True, wording=wording)
        )
    return problems


def _length_problems(shape: Shape, value: Sequence[Any] | Mapping[Any, Any] | str, path: str) -> list[str]:
    problems = []
    minimum, maximum = shape.metadata.get("min"), shape.metadata.get("max")
    shown = value if isinstance(value, str) else len(value)
    if minimum is not None and len(value) < minimum:
        problems.append(_constraint(shown, path, f"have length greater than or equal to {minimum}"))
    if maximum is not None and len(value) > maximum:
        problems.append(_constraint(shown, path, f"have length less than or equal to {maximum}"))
    return problems


def _scalar_problems(shape: Shape, value: Any, *, path: str) -> list[str]:
    kind = shape.type_name
    if kind == "string":
        if not isinstance(value, str):
            return [f"'{path}' must be a string, not {type(value).__name__}"]
        problems = _length_problems(shape, value, path)
        if isinstance(shape, StringShape) and shape.enum and value not in shape.enum:
            problems.append(_constraint(value, path, f"satisfy enum value set: [{', '.join(shape.enum)}]"))
        pattern = shape.metadata.get("pattern")
        if pattern is not None and re.fullmatch(pattern, value) is None:
            problems.append(_constraint(value, path, f"satisfy regular expression pattern: {pattern}"))
        return problems
    if kind in {"integer", "long"}:
        if not isinstance(value, int) or isinstance(value, bool):
            return [f"'{path}' must be an integer, not {type(value).__name__}"]
        problems = []
        minimum, maximum = shape.metadata.get("min"), shape.metadata.get("max")
        if minimum is not None and value < minimum:
            problems.append(_constraint(value, path, f"have value greater than or equal to {minimum}"))
        if maximum is not None and value > maximum:
            problems.append(_constraint(value, path, f"have value less than or equal to {maximum}"))
        return problems
    if kind == "boolean" and not isinstance(value, bool):
        return [f"'{path}' must be a boolean, not {type(value).__name__}"]
    if kind == "timestamp" and not isinstance(value, datetime):
        return [f"'{path}' must be a timestamp, not {type(value).__name__}"]
    if kind in {"float", "double"} and not isinstance(value, int | float):
        return [f"'{path}' must be a number, not {type(value).__name__}"]
    return []
