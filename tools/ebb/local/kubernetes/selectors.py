"""Label and field selectors, in the two forms the API uses.

Label selectors arrive as query strings (``app=web,tier in (a,b),!canary``; Kubernetes docs
"Labels and Selectors") or as meta/v1 LabelSelector objects (``matchLabels``/``matchExpressions``).
Field selectors support the fields each type lets clients filter on (Kubernetes docs "Field
Selectors": ``metadata.name``, ``metadata.namespace`` for all namespaced kinds; the pod fields
below; ``spec.unschedulable`` for nodes); any other is refused, as the API server refuses it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final

Labels = Mapping[str, str]
LabelPredicate = Callable[[Labels], bool]

_SET_REQUIREMENT: Final = re.compile(r"^\s*(\S+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQUALITY: Final = re.compile(r"^\s*([^=!\s]+)\s*(==|=|!=)\s*([^=!\s]*)\s*$")
_EXISTS: Final = re.compile(r"^\s*(!?)\s*([^=!\s(),]+)\s*$")

# The field labels each kind accepts (kubernetes/kubernetes pkg/apis/core/v1/conversion.go, the
# Pod and Node field label conversion funcs) and the values they select on (ToSelectableFields in
# pkg/registry/core/pod/strategy.go; NodeToSelectableFields in pkg/registry/core/node/strategy.go).
# `status.podIPs` is accepted but not selectable: it matches as the empty string. `spec.host` is
# the old name of `spec.nodeName`.
POD_FIELDS: Final = frozenset(
    {
        "metadata.name",
        "metadata.namespace",
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.podIPs",
        "status.nominatedNodeName",
    }
)
NODE_FIELDS: Final = frozenset({"metadata.name", "spec.unschedulable"})
DEFAULT_FIELDS: Final = frozenset({"metadata.name", "metadata.namespace"})
_RENAMED: Final = {"spec.host": "spec.nodeName"}
# Fields whose Go zero value is printed when the JSON omits them.
_ZERO_VALUES: Final = {"spec.unschedulable": "false", "spec.hostNetwork": "false"}


class SelectorError(ValueError):
    """A selector that cannot be parsed (the API server answers 400 BadRequest)."""


def _split(text: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    current = ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [part for part in parts if part.strip()]


def parse_label_selector(text: str) -> LabelPredicate:
    """A predicate for a label selector string; an empty string selects everything."""
    requirements: list[LabelPredicate] = []
    for part in _split(text):
        requirements.append(_requirement(part))
    return lambda labels: all(requirement(labels) for requirement in requirements)


def _requirement(part: str) -> LabelPredicate:
    if match := _SET_REQUIREMENT.match(part):
        key, operator, raw = match.groups()
        values = frozenset(value.strip() for value in raw.split(",") if value.strip())
        if operator == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: key not in labels or labels[key] not in values
    if match := _EQUALITY.match(part):
        key, operator, value = match.groups()
        if operator == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if match := _EXISTS.match(part):
        negated, key = match.groups()
        if negated:
            return lambda labels: key not in labels
        return lambda labels: key in labels
    raise SelectorError(f"unable to parse requirement: {part.strip()!r}")


def selector_matches(selector: Mapping[str, Any] | None, labels: Labels) -> bool:
    """Whether a meta/v1 LabelSelector object selects `labels` (a missing selector selects nothing)."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def selector_is_empty(selector: Mapping[str, Any] | None) -> bool:
    """Whether a LabelSelector object has no requirement at all."""
    return selector is None or (not selector.get("matchLabels") and not selector.get("matchExpressions"))


def selector_string(selector: Mapping[str, Any]) -> str:
    """The query-string form of a LabelSelector object, sorted by key (as apimachinery prints it)."""
    parts: list[tuple[str, str]] = [
        (key, f"{key}={value}") for key, value in (selector.get("matchLabels") or {}).items()
    ]
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression["key"], expression["operator"]
        values = ",".join(sorted(expression.get("values") or []))
        text = {
            "In": f"{key} in ({values})",
            "NotIn": f"{key} notin ({values})",
            "Exists": key,
            "DoesNotExist": f"!{key}",
        }[operator]
        parts.append((key, text))
    return ",".join(text for _, text in sorted(parts))


def parse_field_selector(text: str, supported: frozenset[str]) -> Callable[[Mapping[str, Any]], bool]:
    """A predicate over objects for a field selector string (``=``, ``==`` and ``!=`` only)."""
    checks: list[tuple[str, bool, str]] = []
    for part in _split(text):
        match = _EQUALITY.match(part)
        if match is None:
            raise SelectorError(f"invalid field selector: {part.strip()!r}")
        field, operator, value = match.groups()
        if field in _RENAMED and _RENAMED[field] in supported:
            field = _RENAMED[field]
        if field not in supported:
            raise SelectorError(f"field label not supported: {field}")
        checks.append((field, operator != "!=", value))

    def matches(obj: Mapping[str, Any]) -> bool:
        return all((_field_value(obj, field) == value) == equal for field, equal, value in checks)

    return matches


def _field_value(obj: Mapping[str, Any], field: str) -> str:
    if field == "status.podIPs":
        return ""  # accepted by the conversion, absent from the selectable fields
    if field == "status.podIP":
        # The selectable value is the first of podIPs (podIP mirrors it).
        ips = (obj.get("status") or {}).get("podIPs") or []
        if ips:
            return str(ips[0].get("ip", ""))
    current: Any = obj
    for part in field.split("."):
        current = current.get(part) if isinstance(current, Mapping) else None
    if isinstance(current, bool):
        return "true" if current else "false"
    return _ZERO_VALUES.get(field, "") if current is None else str(current)
