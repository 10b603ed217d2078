"""What can be rebuilt of a document that failed validation, so that its other rules still run.

pydantic refuses a whole model when one of its fields fails, so a missing `awsRegion` would hide
`minReplicaCount` above `maxReplicaCount` in the same ScaledObject until the user fixed the first
error: validation in rounds, although every check is independent. After the field errors are
reported, `salvage` rebuilds the document from the fields that are valid (each validated by its
own type; a nested model that fails is salvaged in turn) and leaves the invalid ones out
entirely, with no default in their place: a rule that reads a missing field cannot be judged and
is skipped (`model_base.independent_rules`), every other rule runs and reports. A salvaged model
is only ever used for its findings and the checks across documents, never as configuration: it
takes part in those checks with what it holds, and a check that reads one of its missing fields
is skipped (`cross_checks.check_documents`), so those errors too come in the same round.
"""

from __future__ import annotations

import types
import typing
from functools import cache
from typing import Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError

ModelT = TypeVar("ModelT", bound=BaseModel)


def salvage(model_type: type[ModelT], data: object) -> ModelT | None:
    """`model_type` built from the valid parts of `data`, invalid fields absent; None if nothing fits."""
    if not isinstance(data, dict):
        return None
    try:
        data = _run_before_validators(model_type, data)
        return model_type.model_validate(data)
    except (ValidationError, ValueError, PydanticCustomError):
        pass
    if not isinstance(data, dict):
        return None
    values: dict[str, Any] = {}
    invalid: list[str] = []
    for name, field in model_type.model_fields.items():
        alias = field.alias or name
        if alias not in data:
            if field.is_required():
                invalid.append(name)
            continue
        value = _valid_value(field.rebuild_annotation(), data[alias])
        if value is _INVALID:
            invalid.append(name)
        else:
            values[name] = value
    if model_type.model_config.get("extra") == "allow":
        known = {field.alias or name for name, field in model_type.model_fields.items()}
        values.update(
            {key: value for key, value in data.items() if key not in known and isinstance(value, str)}
        )
    model = model_type.model_construct(**values)
    for name in invalid:
        # model_construct filled in defaults; a rule must not mistake one for the user's value.
        model.__dict__.pop(name, None)
    return model


_INVALID = object()


@cache
def _adapter(annotation: Any) -> TypeAdapter[Any]:
    return TypeAdapter(annotation)


def _valid_value(annotation: Any, value: object) -> Any:
    try:
        adapter = _adapter(annotation)
    except TypeError:  # an annotation whose metadata is unhashable: build it uncached
        adapter = TypeAdapter(annotation)
    try:
        return adapter.validate_python(value)
    except (ValidationError, ValueError, PydanticCustomError):
        pass
    salvaged = _salvage_value(annotation, value)
    return _INVALID if salvaged is None else salvaged


def _salvage_value(annotation: Any, value: object) -> Any | None:
    members = _members(annotation)
    models = [member for member in members if isinstance(member, type) and issubclass(member, BaseModel)]
    if models:
        model = _by_tag(models, _discriminator(annotation), value) if len(models) > 1 else models[0]
        return None if model is None else salvage(model, value)
    for member in members:
        origin, args = get_origin(member), get_args(member)
        if origin in (tuple, list) and args and isinstance(value, list):
            items = [_valid_value(args[0], item) for item in value]
            if any(item is _INVALID for item in items):
                return None
            return tuple(items) if origin is tuple else items
    return None


def _members(annotation: Any) -> list[Any]:
    """Strip Annotated and Optional, split unions."""
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return _members(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return [m for arg in get_args(annotation) if arg is not type(None) for m in _members(arg)]
    return [annotation]


def _discriminator(annotation: Any) -> str | None:
    """The `Field(discriminator=...)` of an Annotated union, if it has one."""
    if get_origin(annotation) is not typing.Annotated:
        return None
    for extra in get_args(annotation)[1:]:
        discriminator = getattr(extra, "discriminator", None)
        if isinstance(discriminator, str):
            return discriminator
    return _discriminator(get_args(annotation)[0])


def _by_tag(
    models: list[type[BaseModel]], discriminator: str | None, value: object
) -> type[BaseModel] | None:
    # A discriminated union (KEDA triggers by `type`): the member whose tag the value names.
    if discriminator is None or not isinstance(value, dict):
        return None
    for model in models:
        field = model.model_fields.get(discriminator)
        if field is not None and value.get(field.alias or discriminator) in get_args(field.annotation):
            return model
    return None


def _run_before_validators(model_type: type[BaseModel], data: dict[str, Any]) -> Any:
    # The model's own `mode="before"` validators (metadata trimming, for one), applied as pydantic
    # applies them: the most derived first.
    decorators = model_type.__pydantic_decorators__.model_validators
    result: Any = data
    for decorator in reversed(list(decorators.values())):
        if decorator.info.mode == "before":
            result = getattr(model_type, decorator.cls_var_name)(result)
    return result
