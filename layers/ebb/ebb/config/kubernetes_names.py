"""Kubernetes name and label syntax, as apimachinery's `util/validation` defines it.

The rules (lengths and patterns) follow k8s.io/apimachinery/pkg/util/validation/validation.go:
`IsDNS1123Subdomain`, `IsDNS1123Label`, `IsQualifiedName` and `IsValidLabelValue`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator, StrictStr

from ebb.config.model_errors import custom_error

_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL_RE = re.compile(rf"^{_DNS1123_LABEL}$")
_DNS1123_SUBDOMAIN_RE = re.compile(rf"^{_DNS1123_LABEL}(\.{_DNS1123_LABEL})*$")
_QUALIFIED_NAME_PART_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

DNS1123_SUBDOMAIN_MAX = 253
DNS1123_LABEL_MAX = 63
QUALIFIED_NAME_MAX = 63
LABEL_VALUE_MAX = 63


def dns1123_subdomain_problem(value: str) -> str | None:
    """Why `value` is not a DNS-1123 subdomain (object names), or None."""
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        return f"must be no more than {DNS1123_SUBDOMAIN_MAX} characters"
    if not _DNS1123_SUBDOMAIN_RE.match(value):
        return (
            "must be a lowercase RFC 1123 subdomain: lowercase letters, digits, '-' and '.', starting and "
            "ending with a letter or digit"
        )
    return None


def dns1123_label_problem(value: str) -> str | None:
    """Why `value` is not a DNS-1123 label (namespaces), or None."""
    if len(value) > DNS1123_LABEL_MAX:
        return f"must be no more than {DNS1123_LABEL_MAX} characters"
    if not _DNS1123_LABEL_RE.match(value):
        return (
            "must be a lowercase RFC 1123 label: lowercase letters, digits and '-', starting and ending "
            "with a letter or digit"
        )
    return None


def qualified_name_problem(value: str) -> str | None:
    """Why `value` is not a qualified name (label and taint keys), or None."""
    prefix, slash, name = value.rpartition("/")
    if slash and not prefix:
        return "prefix part must be non-empty"
    if value.count("/") > 1:
        return "a qualified name must be 'name' or 'prefix/name', with at most one '/'"
    if prefix:
        problem = dns1123_subdomain_problem(prefix)
        if problem is not None:
            return f"prefix part {problem}"
    if not name:
        return "name part must be non-empty"
    if len(name) > QUALIFIED_NAME_MAX:
        return f"name part must be no more than {QUALIFIED_NAME_MAX} characters"
    if not _QUALIFIED_NAME_PART_RE.match(name):
        return (
            "name part must consist of letters, digits, '-', '_' or '.', and must start and end with a "
            "letter or digit"
        )
    return None


def label_value_problem(value: str) -> str | None:
    """Why `value` is not a valid label value, or None (the empty string is valid)."""
    if len(value) > LABEL_VALUE_MAX:
        return f"must be no more than {LABEL_VALUE_MAX} characters"
    if not _LABEL_VALUE_RE.match(value):
        return (
            "must be empty or consist of letters, digits, '-', '_' or '.', starting and ending with a "
            "letter or digit"
        )
    return None


def _check(kind: str, problem_of: Callable[[str], str | None]) -> AfterValidator:
    def validate(value: str) -> str:
        problem = problem_of(value)
        if problem is not None:
            raise custom_error(kind, f"{value!r}: {problem}")
        return value

    return AfterValidator(validate)


ObjectName = Annotated[StrictStr, _check("object_name", dns1123_subdomain_problem)]
NamespaceName = Annotated[StrictStr, _check("namespace_name", dns1123_label_problem)]
QualifiedName = Annotated[StrictStr, _check("qualified_name", qualified_name_problem)]
LabelValue = Annotated[StrictStr, _check("label_value", label_value_problem)]
