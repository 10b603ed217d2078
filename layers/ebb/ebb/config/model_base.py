"""The base every configuration model shares: frozen, strict about unknown fields, self-checking.

Scalars are strict (a YAML `"5"` is not an integer, as in Kubernetes' own JSON decoding) while
lists and maps are accepted as YAML gives them and frozen into tuples and read-only mappings.
Checks that span several fields return `Finding`s instead of raising, so that every problem of a
document is reported, not only the first one.
"""

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    Strict,
    WrapSerializer,
)

from ebb.config.issues import FieldPath, Severity
from ebb.config.model_errors import custom_error

K = TypeVar("K")
V = TypeVar("V")


def _freeze_mapping(value: Mapping[Any, Any]) -> Mapping[Any, Any]:
    return MappingProxyType(dict(value))


def _dump_mapping(value: Mapping[Any, Any], handler: SerializerFunctionWrapHandler) -> Any:
    return handler(dict(value))


# A read-only mapping: validated as a dict, stored behind a MappingProxyType, dumped as a dict
# (values dumped by their own serializers).
FrozenMap = Annotated[Mapping[K, V], AfterValidator(_freeze_mapping), WrapSerializer(_dump_mapping)]

Int32 = Annotated[int, Strict(), Field(ge=-(2**31), le=2**31 - 1)]
NonNegativeInt32 = Annotated[int, Strict(), Field(ge=0, le=2**31 - 1)]
StrictFloat = Annotated[float, Strict()]


def _non_empty(value: tuple[Any, ...]) -> tuple[Any, ...]:
    # An after-validator, so that a list whose items fail is not also reported as empty.
    if not value:
        raise custom_error("empty_list", "must have at least one item")
    return value


NonEmpty = AfterValidator(_non_empty)


def empty_map() -> Mapping[Any, Any]:
    """Default for a `FrozenMap` field."""
    return MappingProxyType({})


@dataclass(frozen=True)
class Finding:
    """A problem or note found by a model's own cross-field check, relative to that model."""

    severity: Severity
    path: FieldPath
    message: str


def error_at(path: FieldPath, message: str) -> Finding:
    """An error at `path` (relative to the model that reports it)."""
    return Finding(Severity.ERROR, path, message)


def note_at(path: FieldPath, message: str) -> Finding:
    """A note at `path` (relative to the model that reports it)."""
    return Finding(Severity.NOTE, path, message)


class ManifestModel(BaseModel):
    """Base of the configuration models: immutable, unknown fields refused.

    `unused_fields` maps a field's YAML name to why ebb ignores it; a document that sets such a
    field loads, with a note. `findings()` returns the model's own cross-field problems.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=False)

    unused_fields: ClassVar[Mapping[str, str]] = {}

    def findings(self) -> Iterator[Finding]:
        """Cross-field problems of this model alone (nested models report their own)."""
        return iter(())


_SALVAGED: ContextVar[bool] = ContextVar("_SALVAGED", default=False)


@contextmanager
def judging_salvaged_models() -> Iterator[None]:
    """While active, findings come from salvaged models (`ebb.config.partial_models`): a rule that
    reads a field left out of one cannot be judged and is skipped."""
    token = _SALVAGED.set(True)
    try:
        yield
    finally:
        _SALVAGED.reset(token)


def independent_rules(*rules: Callable[[], Iterable[Finding]]) -> Iterator[Finding]:
    """Run each rule on its own, so that one that cannot be judged does not hide the others.

    Only a salvaged model lacks fields; outside `judging_salvaged_models` an AttributeError is a
    bug and propagates.
    """
    for rule in rules:
        try:
            found = list(rule())
        except AttributeError:
            if not _SALVAGED.get():
                raise
            continue
        yield from found


def collect_findings(model: BaseModel, prefix: FieldPath = ()) -> Iterator[Finding]:
    """Walk a model tree: unused-field notes and every model's own findings, with full paths.

    A salvaged model has no attribute for a field that failed validation: that field is skipped.
    """
    present = [
        (name, field.alias or name)
        for name, field in type(model).model_fields.items()
        if name in model.__dict__
    ]
    if isinstance(model, ManifestModel):
        for finding in independent_rules(model.findings):
            yield Finding(finding.severity, prefix + finding.path, finding.message)
        unused = type(model).unused_fields
        for name, alias in present:
            if alias in unused and name in model.model_fields_set:
                yield note_at((*prefix, alias), unused[alias])
    for name, alias in present:
        yield from _collect_value(getattr(model, name), (*prefix, alias))


def _collect_value(value: object, path: FieldPath) -> Iterator[Finding]:
    if isinstance(value, BaseModel):
        yield from collect_findings(value, path)
    elif isinstance(value, tuple):
        for index, item in enumerate(value):
            yield from _collect_value(item, (*path, index))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str):
                yield from _collect_value(item, (*path, key))
