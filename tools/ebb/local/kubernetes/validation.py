"""kube-apiserver's validation rules for the objects ebb writes, beyond what a schema can say.

A schema checks shapes; the API server also runs its Go validation before it stores anything, and
answers 422 Invalid when it fails. Transcribed from kubernetes/kubernetes (1.33):

- `staging/src/k8s.io/apimachinery/pkg/util/validation/validation.go`: IsQualifiedName (label and
  annotation keys), IsValidLabelValue, IsDNS1123Subdomain, IsDNS1123Label, and their messages.
- `staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/validation/validation.go`: ValidateLabels,
  ValidateLabelName, ValidateLabelSelector (and its requirements).
- `pkg/apis/core/validation/validation.go`: ValidateObjectMeta / ValidateObjectMetaUpdate
  (names, immutable metadata, annotations and their 256 KiB limit), ValidateNonnegativeField.
- `pkg/apis/apps/validation/validation.go`: ValidateDeploymentSpec, ValidateReplicaSetSpec,
  ValidateStatefulSetSpec and ValidateStatefulSetUpdate (only some spec fields may change);
  `pkg/registry/apps/deployment/strategy.go` and `pkg/registry/apps/replicaset/strategy.go`
  (ValidateUpdate: in apps/v1 `spec.selector` is immutable, "field is immutable").
- `pkg/apis/autoscaling/validation/validation.go`: ValidateScale.
- `staging/src/k8s.io/apimachinery/pkg/util/validation/field/errors.go` (how an error prints its
  value: Go's `%v`, `%q` or `%#v`) and `staging/src/k8s.io/apimachinery/pkg/api/errors/errors.go`
  (NewInvalid: the Status message, `details.causes`).

Pod specs inside templates are checked by the schema only: ValidatePodTemplateSpec's deeper rules
(container names, ports, volumes, ...) concern fields ebb never writes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

ErrorType = Literal["Invalid", "Required", "NotSupported", "Forbidden", "TooLong"]

# field.ErrorType: its String() (printed in messages) and the cause type (`details.causes[].reason`).
_TYPE_TEXT: Final = {
    "Invalid": "Invalid value",
    "Required": "Required value",
    "NotSupported": "Unsupported value",
    "Forbidden": "Forbidden",
    "TooLong": "Too long",
}
_CAUSE: Final = {
    "Invalid": "FieldValueInvalid",
    "Required": "FieldValueRequired",
    "NotSupported": "FieldValueNotSupported",
    "Forbidden": "FieldValueForbidden",
    "TooLong": "FieldValueTooLong",
}

_QNAME_FMT: Final = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QNAME_MSG: Final = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character"
)
_LABEL_VALUE_FMT: Final = f"({_QNAME_FMT})?"
_LABEL_VALUE_MSG: Final = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_DNS1123_LABEL_FMT: Final = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL_MSG: Final = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
    "start and end with an alphanumeric character"
)
_DNS1123_SUBDOMAIN_FMT: Final = _DNS1123_LABEL_FMT + r"(\." + _DNS1123_LABEL_FMT + ")*"
_DNS1123_SUBDOMAIN_MSG: Final = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character"
)
_QNAME: Final = re.compile(f"^{_QNAME_FMT}$")
_LABEL_VALUE: Final = re.compile(f"^{_LABEL_VALUE_FMT}$")
_DNS1123_LABEL: Final = re.compile(f"^{_DNS1123_LABEL_FMT}$")
_DNS1123_SUBDOMAIN: Final = re.compile(f"^{_DNS1123_SUBDOMAIN_FMT}$")
_ANNOTATIONS_LIMIT: Final = 256 * (1 << 10)
NONNEGATIVE: Final = "must be greater than or equal to 0"
IMMUTABLE: Final = "field is immutable"


class GoValue:
    """A value as Go's `%#v` prints it, for values that are Go structs or maps in the API server."""

    def __init__(self, text: str) -> None:
        self.text = text


@dataclass(frozen=True)
class FieldError:
    """One `field.Error`: its type, the field path, the bad value and a detail."""

    type: ErrorType
    field: str
    value: Any = None
    detail: str = ""
    # A schema violation's own text, which stands for the whole body.
    text: str | None = None

    def body(self) -> str:
        """`ErrorBody()`: the type, the value (except for Required, Forbidden, TooLong), the detail."""
        if self.text is not None:
            return self.text
        if self.type in ("Required", "Forbidden", "TooLong"):
            text = _TYPE_TEXT[self.type]
        else:
            text = f"{_TYPE_TEXT[self.type]}: {_go_value(self.value)}"
        return f"{text}: {self.detail}" if self.detail else text

    def error(self) -> str:
        """`Error()`: the field path and the body."""
        return f"{self.field}: {self.body()}"

    def cause(self) -> dict[str, str]:
        """The `StatusCause` NewInvalid makes of it."""
        return {"reason": _CAUSE[self.type], "message": self.body(), "field": self.field}


def _go_value(value: Any) -> str:
    if isinstance(value, GoValue):
        return value.text
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return _go_quote(value)
    if isinstance(value, Mapping):
        return go_string_map(value)
    return _go_quote(json.dumps(value))


def _go_quote(text: str) -> str:
    # Go's %q: double quotes, backslash escapes; JSON's escaping agrees for printable text.
    return json.dumps(text, ensure_ascii=False)


def go_string_map(values: Mapping[str, Any]) -> str:
    """A ``map[string]string`` as `%#v` prints it (keys sorted, as fmt does)."""
    inner = ", ".join(f"{_go_quote(k)}:{_go_quote(str(v))}" for k, v in sorted(values.items()))
    return "map[string]string{" + inner + "}"


def go_label_selector(selector: Mapping[str, Any] | None) -> GoValue:
    """A meta/v1 LabelSelector as `%#v` prints it (the value of a "field is immutable" error)."""
    if selector is None:
        return GoValue("null")
    labels = selector.get("matchLabels")
    match_labels = "map[string]string(nil)" if labels is None else go_string_map(labels)
    expressions = selector.get("matchExpressions")
    if expressions is None:
        match_expressions = "[]v1.LabelSelectorRequirement(nil)"
    else:
        requirements = []
        for requirement in expressions:
            values = requirement.get("values")
            value_text = (
                "[]string(nil)"
                if values is None
                else "[]string{" + ", ".join(_go_quote(v) for v in values) + "}"
            )
            requirements.append(
                f"v1.LabelSelectorRequirement{{Key:{_go_quote(requirement.get('key', ''))}, "
                f"Operator:{_go_quote(requirement.get('operator', ''))}, Values:{value_text}}}"
            )
        match_expressions = "[]v1.LabelSelectorRequirement{" + ", ".join(requirements) + "}"
    return GoValue(f"v1.LabelSelector{{MatchLabels:{match_labels}, MatchExpressions:{match_expressions}}}")


def invalid_message(qualified_kind: str, name: str, errors: Sequence[FieldError]) -> str:
    """NewInvalid's message: ``Deployment.apps "web" is invalid: <the aggregate of the errors>``."""
    seen: list[str] = []
    for error in errors:
        if error.error() not in seen:
            seen.append(error.error())
    aggregate = seen[0] if len(seen) == 1 else "[" + ", ".join(seen) + "]"
    return f'{qualified_kind} "{name}" is invalid: {aggregate}'


# apimachinery util/validation


def _regex_error(message: str, pattern: str, *examples: str) -> str:
    if not examples:
        return f"{message} (regex used for validation is '{pattern}')"
    quoted = " or ".join(f"'{example}', " for example in examples)
    return f"{message} (e.g. {quoted}regex used for validation is '{pattern}')"


def is_qualified_name(value: str) -> list[str]:
    """IsQualifiedName: an optional DNS subdomain prefix and '/', then a name of at most 63 characters."""
    errors: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errors.append("prefix part must be non-empty")
        else:
            errors.extend("prefix part " + message for message in is_dns1123_subdomain(prefix))
    else:
        return [
            "a qualified name "
            + _regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errors.append("name part must be non-empty")
    elif len(name) > 63:
        errors.append("name part must be no more than 63 characters")
    if not _QNAME.match(name):
        errors.append("name part " + _regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc"))
    return errors


def is_valid_label_value(value: str) -> list[str]:
    """IsValidLabelValue: empty, or a qualified name's name part (at most 63 characters)."""
    errors = []
    if len(value) > 63:
        errors.append("must be no more than 63 characters")
    if not _LABEL_VALUE.match(value):
        errors.append(_regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errors


def is_dns1123_subdomain(value: str) -> list[str]:
    """IsDNS1123Subdomain (object names of most kinds, label key prefixes)."""
    errors = []
    if len(value) > 253:
        errors.append("must be no more than 253 characters")
    if not _DNS1123_SUBDOMAIN.match(value):
        errors.append(_regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errors


def is_dns1123_label(value: str) -> list[str]:
    """IsDNS1123Label (namespaces, StatefulSet names)."""
    errors = []
    if len(value) > 63:
        errors.append("must be no more than 63 characters")
    if not _DNS1123_LABEL.match(value):
        errors.append(_regex_error(_DNS1123_LABEL_MSG, _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errors


# meta/v1 validation


def validate_labels(labels: Mapping[str, Any] | None, path: str) -> list[FieldError]:
    """ValidateLabels: every key a qualified name, every value a label value (errors name the map)."""
    errors: list[FieldError] = []
    for key, value in sorted((labels or {}).items()):
        errors.extend(FieldError("Invalid", path, key, message) for message in is_qualified_name(key))
        errors.extend(
            FieldError("Invalid", path, value, message) for message in is_valid_label_value(str(value))
        )
    return errors


def validate_label_selector(selector: Mapping[str, Any], path: str) -> list[FieldError]:
    """ValidateLabelSelector, with invalid label values refused (as workloads' selectors are)."""
    errors: list[FieldError] = []
    for index, requirement in enumerate(selector.get("matchExpressions") or []):
        at = f"{path}.matchExpressions[{index}]"
        operator = requirement.get("operator")
        values = requirement.get("values") or []
        if operator in ("In", "NotIn"):
            if not values:
                errors.append(
                    FieldError(
                        "Required",
                        f"{at}.values",
                        None,
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    )
                )
        elif operator in ("Exists", "DoesNotExist"):
            if values:
                errors.append(
                    FieldError(
                        "Forbidden",
                        f"{at}.values",
                        None,
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    )
                )
        else:
            errors.append(FieldError("Invalid", f"{at}.operator", operator, "not a valid selector operator"))
        key = requirement.get("key", "")
        errors.extend(FieldError("Invalid", f"{at}.key", key, message) for message in is_qualified_name(key))
        for value_index, value in enumerate(values):
            errors.extend(
                FieldError("Invalid", f"{at}.values[{value_index}]", value, message)
                for message in is_valid_label_value(value)
            )
    errors.extend(validate_labels(selector.get("matchLabels"), f"{path}.matchLabels"))
    return errors


def _selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for requirement in selector.get("matchExpressions") or []:
        key, operator, values = (
            requirement.get("key"),
            requirement.get("operator"),
            requirement.get("values") or [],
        )
        present = key in labels
        if (
            (operator == "In" and (not present or labels[key] not in values))
            or (operator == "NotIn" and present and labels[key] in values)
            or (operator == "Exists" and not present)
            or (operator == "DoesNotExist" and present)
        ):
            return False
    return True


# core validation: object metadata


def validate_annotations(annotations: Mapping[str, Any] | None, path: str) -> list[FieldError]:
    """ValidateAnnotations: keys qualified names (lower-cased first), 256 KiB in all."""
    errors: list[FieldError] = []
    total = 0
    for key, value in sorted((annotations or {}).items()):
        errors.extend(FieldError("Invalid", path, key, message) for message in is_qualified_name(key.lower()))
        total += len(key) + len(str(value))
    if total > _ANNOTATIONS_LIMIT:
        errors.append(FieldError("TooLong", path, None, f"must have at most {_ANNOTATIONS_LIMIT} bytes"))
    return errors


def validate_object_meta(
    metadata: Mapping[str, Any], *, namespaced: bool, dns_label_name: bool = False
) -> list[FieldError]:
    """ValidateObjectMeta on create: a valid name (and namespace), valid labels and annotations."""
    errors: list[FieldError] = []
    name = metadata.get("name") or ""
    if not name:
        errors.append(FieldError("Required", "metadata.name", None, "name or generateName is required"))
    else:
        check = is_dns1123_label if dns_label_name else is_dns1123_subdomain
        errors.extend(FieldError("Invalid", "metadata.name", name, message) for message in check(name))
    if namespaced:
        namespace = metadata.get("namespace") or ""
        if not namespace:
            errors.append(FieldError("Required", "metadata.namespace", None, ""))
        else:
            errors.extend(
                FieldError("Invalid", "metadata.namespace", namespace, message)
                for message in is_dns1123_label(namespace)
            )
    errors.extend(validate_labels(metadata.get("labels"), "metadata.labels"))
    errors.extend(validate_annotations(metadata.get("annotations"), "metadata.annotations"))
    return errors


def validate_object_meta_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[FieldError]:
    """ValidateObjectMetaUpdate: name, namespace, uid and creationTimestamp are immutable."""
    errors: list[FieldError] = []
    for immutable in ("name", "namespace", "uid", "creationTimestamp"):
        if new.get(immutable) != old.get(immutable):
            errors.append(FieldError("Invalid", f"metadata.{immutable}", new.get(immutable), IMMUTABLE))
    errors.extend(validate_labels(new.get("labels"), "metadata.labels"))
    errors.extend(validate_annotations(new.get("annotations"), "metadata.annotations"))
    return errors


def _nonnegative(value: Any, path: str) -> list[FieldError]:
    if isinstance(value, int) and value < 0:
        return [FieldError("Invalid", path, value, NONNEGATIVE)]
    return []


# apps validation


def validate_workload_spec(kind: str, spec: Mapping[str, Any]) -> list[FieldError]:
    """ValidateDeploymentSpec / ValidateReplicaSetSpec / ValidateStatefulSetSpec (the fields ebb touches)."""
    errors = _nonnegative(spec.get("replicas", 1), "spec.replicas")
    errors.extend(_nonnegative(spec.get("minReadySeconds", 0), "spec.minReadySeconds"))
    selector = spec.get("selector")
    if selector is None:
        errors.append(FieldError("Required", "spec.selector", None, ""))
        return errors
    errors.extend(validate_label_selector(selector, "spec.selector"))
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        errors.append(
            FieldError(
                "Invalid",
                "spec.selector",
                go_label_selector(selector),
                f"empty selector is invalid for {kind.lower()}",
            )
        )
    template = spec.get("template") or {}
    template_labels = (template.get("metadata") or {}).get("labels") or {}
    if (selector.get("matchLabels") or selector.get("matchExpressions")) and not _selector_matches(
        selector, template_labels
    ):
        errors.append(
            FieldError(
                "Invalid",
                "spec.template.metadata.labels",
                template_labels,
                "`selector` does not match template `labels`",
            )
        )
    errors.extend(validate_labels(template_labels, "spec.template.metadata.labels"))
    errors.extend(
        validate_annotations(
            (template.get("metadata") or {}).get("annotations"), "spec.template.metadata.annotations"
        )
    )
    restart_policy = (template.get("spec") or {}).get("restartPolicy", "Always")
    if restart_policy != "Always":
        errors.append(
            FieldError(
                "NotSupported",
                "spec.template.spec.restartPolicy",
                restart_policy,
                'supported values: "Always"',
            )
        )
    return errors


_STATEFUL_SET_MUTABLE: Final = (
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
)


def validate_workload_update(kind: str, new: Mapping[str, Any], old: Mapping[str, Any]) -> list[FieldError]:
    """The update validation of Deployments, ReplicaSets and StatefulSets (apps/v1)."""
    errors = validate_object_meta_update(new["metadata"], old["metadata"])
    errors.extend(validate_workload_spec(kind, new["spec"]))
    if kind == "StatefulSet":
        fixed_new = {k: v for k, v in new["spec"].items() if k not in _STATEFUL_SET_MUTABLE}
        fixed_old = {k: v for k, v in old["spec"].items() if k not in _STATEFUL_SET_MUTABLE}
        if fixed_new != fixed_old:
            errors.append(
                FieldError(
                    "Forbidden",
                    "spec",
                    None,
                    "updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                    "'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
                    "'minReadySeconds' are forbidden",
                )
            )
    elif new["spec"].get("selector") != old["spec"].get("selector"):
        errors.append(
            FieldError("Invalid", "spec.selector", go_label_selector(new["spec"].get("selector")), IMMUTABLE)
        )
    return errors


def validate_workload(kind: str, obj: Mapping[str, Any]) -> list[FieldError]:
    """ValidateDeployment / ValidateStatefulSet on create (StatefulSet names are DNS labels)."""
    errors = validate_object_meta(obj["metadata"], namespaced=True, dns_label_name=kind == "StatefulSet")
    errors.extend(validate_workload_spec(kind, obj["spec"]))
    return errors


# autoscaling validation


def validate_scale(scale: Mapping[str, Any]) -> list[FieldError]:
    """ValidateScale: valid metadata, non-negative `spec.replicas`."""
    errors = validate_object_meta(scale.get("metadata") or {}, namespaced=True)
    replicas = (scale.get("spec") or {}).get("replicas", 0)
    if isinstance(replicas, int) and replicas < 0:
        errors.append(FieldError("Invalid", "spec.replicas", replicas, NONNEGATIVE))
    return errors
