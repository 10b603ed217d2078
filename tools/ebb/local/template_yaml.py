"""Read a CloudFormation/SAM template: YAML with the short-form intrinsic tags, or JSON.

The short forms (`!Ref X`, `!Sub "..."`, `!GetAtt A.B`, `!If [...]`, ...) become their long forms
(`{"Ref": "X"}`, `{"Fn::Sub": "..."}`, `{"Fn::GetAtt": ["A", "B"]}`, ...), as CloudFormation
reads them ("Intrinsic function reference", AWS CloudFormation User Guide). Nothing is resolved here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from ebb.local.errors import TemplateError

_FUNCTION_TAGS = (
    "And",
    "Base64",
    "Cidr",
    "Equals",
    "FindInMap",
    "GetAZs",
    "If",
    "ImportValue",
    "Join",
    "Not",
    "Or",
    "Select",
    "Split",
    "Sub",
    "Transform",
    "ToJsonString",
    "Length",
)


class _TemplateLoader(yaml.SafeLoader):
    """A SafeLoader that knows the CloudFormation tags (and keeps dates as strings)."""


def _construct(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    raise TemplateError(f"unsupported YAML node for tag {node.tag}")


def _function_constructor(name: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        return {f"Fn::{name}": _construct(loader, node)}

    return construct


def _ref(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    return {"Ref": _construct(loader, node)}


def _condition(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    return {"Condition": _construct(loader, node)}


def _get_att(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    value = _construct(loader, node)
    if isinstance(value, str):
        logical_id, _, attribute = value.partition(".")
        if not attribute:
            raise TemplateError(
                f"!GetAtt {value!r} at line {node.start_mark.line + 1}: expected Resource.Attribute"
            )
        return {"Fn::GetAtt": [logical_id, attribute]}
    return {"Fn::GetAtt": value}


for _name in _FUNCTION_TAGS:
    _TemplateLoader.add_constructor(f"!{_name}", _function_constructor(_name))
_TemplateLoader.add_constructor("!Ref", _ref)
_TemplateLoader.add_constructor("!Condition", _condition)
_TemplateLoader.add_constructor("!GetAtt", _get_att)
# CloudFormation keeps timestamps as strings; YAML would turn 2024-01-01 into a date.
_TemplateLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_template_text(text: str, *, source: str) -> dict[str, Any]:
    """Parse template text (JSON or YAML) into a dict, with intrinsics in their long form."""
    stripped = text.lstrip()
    try:
        document = json.loads(text) if stripped.startswith("{") else yaml.load(text, Loader=_TemplateLoader)
    except (yaml.YAMLError, json.JSONDecodeError) as error:
        raise TemplateError(f"{source}: not a valid template: {error}") from error
    if not isinstance(document, dict) or not isinstance(document.get("Resources"), dict):
        raise TemplateError(f"{source}: a template needs a Resources mapping")
    return document


def load_template(path: Path) -> dict[str, Any]:
    """Read the template file at `path`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise TemplateError(f"cannot read template {path}: {error}") from error
    return load_template_text(text, source=str(path))
