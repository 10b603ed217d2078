"""Resolve CloudFormation intrinsic functions, parameters, pseudo parameters and conditions.

Follows the AWS CloudFormation User Guide, "Intrinsic function reference" and "Pseudo parameters
reference". Functions that need a deployed account (Fn::ImportValue, Fn::GetAZs beyond the
region's usual zones, Fn::Cidr, Fn::Transform macros) are refused with a clear error.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ebb.local.errors import TemplateError

NO_VALUE = object()
"""What `{"Ref": "AWS::NoValue"}` resolves to; removed from the mapping or list holding it."""

_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


@dataclass(frozen=True)
class PseudoParameters:
    """The values CloudFormation provides without a declaration."""

    region: str
    account_id: str
    stack_name: str
    partition: str = "aws"

    def value(self, name: str) -> Any:
        """The value of `AWS::<name>`, or KeyError."""
        values: dict[str, Any] = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": f"arn:{self.partition}:cloudformation:{self.region}:{self.account_id}:stack/"
            f"{self.stack_name}/00000000-0000-0000-0000-000000000000",
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }
        return values[name]


class IntrinsicResolver:
    """Evaluates intrinsic functions in template values.

    `ref` and `get_att` answer for resources (by logical id); parameters are already validated
    values; conditions are evaluated on first use.
    """

    def __init__(
        self,
        *,
        pseudo: PseudoParameters,
        parameters: dict[str, Any],
        conditions: dict[str, Any],
        mappings: dict[str, Any],
        ref: Callable[[str], Any],
        get_att: Callable[[str, str], Any],
    ) -> None:
        self._pseudo = pseudo
        self._parameters = parameters
        self._condition_definitions = conditions
        self._condition_values: dict[str, bool] = {}
        self._evaluating: set[str] = set()
        self._mappings = mappings
        self._ref = ref
        self._get_att = get_att

    def resolve(self, value: Any, where: str) -> Any:
        """Resolve every intrinsic in `value`; `where` names its place for error messages."""
        resolved = self._resolve(value, where)
        if resolved is NO_VALUE:
            return None
        return resolved

    def condition(self, name: str, where: str) -> bool:
        """The value of the named condition."""
        if name in self._condition_values:
            return self._condition_values[name]
        if name not in self._condition_definitions:
            raise TemplateError(f"{where}: condition {name!r} is not defined in Conditions")
        if name in self._evaluating:
            raise TemplateError(f"{where}: condition {name!r} depends on itself")
        self._evaluating.add(name)
        try:
            value = self._resolve(self._condition_definitions[name], f"Conditions.{name}")
        finally:
            self._evaluating.discard(name)
        if not isinstance(value, bool):
            raise TemplateError(
                f"Conditions.{name}: a condition must evaluate to true or false, got {value!r}"
            )
        self._condition_values[name] = value
        return value

    def _resolve(self, value: Any, where: str) -> Any:
        if isinstance(value, list):
            items = [self._resolve(item, f"{where}[{index}]") for index, item in enumerate(value)]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self._resolve_ref(argument, where)
            if key == "Condition" and isinstance(argument, str):
                return self.condition(argument, where)
            if key.startswith("Fn::"):
                return self._resolve_function(key, argument, where)
        resolved = {key: self._resolve(item, f"{where}.{key}") for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def _resolve_ref(self, name: Any, where: str) -> Any:
        name = self._resolve(name, where)
        if not isinstance(name, str):
            raise TemplateError(f"{where}: Ref takes a name, got {name!r}")
        if name.startswith("AWS::"):
            try:
                return self._pseudo.value(name)
            except KeyError:
                raise TemplateError(f"{where}: unknown pseudo parameter {name}") from None
        if name in self._parameters:
            return self._parameters[name]
        return self._ref(name)

    def _resolve_function(self, key: str, argument: Any, where: str) -> Any:
        here = f"{where}.{key}"
        if key == "Fn::If":
            return self._fn_if(argument, here)
        args = self._resolve(argument, here)
        if key == "Fn::GetAtt":
            return self._fn_get_att(args, here)
        if key == "Fn::Sub":
            return self._fn_sub(args, here)
        if key == "Fn::Join":
            delimiter, items = _expect_pair(args, here)
            if not isinstance(items, list):
                raise TemplateError(f"{here}: the second argument must be a list")
            return str(delimiter).join(_scalar_text(item, here) for item in items)
        if key == "Fn::Select":
            index, items = _expect_pair(args, here)
            if not isinstance(items, list):
                raise TemplateError(f"{here}: the second argument must be a list")
            try:
                return items[int(index)]
            except (IndexError, ValueError):
                raise TemplateError(f"{here}: index {index!r} is outside a list of {len(items)}") from None
        if key == "Fn::Split":
            delimiter, text = _expect_pair(args, here)
            return str(text).split(str(delimiter))
        if key == "Fn::Equals":
            left, right = _expect_pair(args, here)
            return _scalar_text(left, here) == _scalar_text(right, here)
        if key in ("Fn::And", "Fn::Or"):
            if not isinstance(args, list) or not all(isinstance(item, bool) for item in args):
                raise TemplateError(f"{here}: takes a list of conditions")
            return all(args) if key == "Fn::And" else any(args)
        if key == "Fn::Not":
            if not isinstance(args, list) or len(args) != 1 or not isinstance(args[0], bool):
                raise TemplateError(f"{here}: takes a list of exactly one condition")
            return not args[0]
        if key == "Fn::FindInMap":
            return self._fn_find_in_map(args, here)
        if key == "Fn::Base64":
            return base64.b64encode(str(args).encode()).decode()
        if key == "Fn::GetAZs":
            region = args or self._pseudo.region
            return [f"{region}{zone}" for zone in "abc"]
        if key == "Fn::ToJsonString":
            return json.dumps(args, separators=(",", ":"))
        if key == "Fn::Length":
            if not isinstance(args, list):
                raise TemplateError(f"{here}: takes a list")
            return len(args)
        raise TemplateError(
            f"{here}: {key} is not supported by the local world (it needs a deployed account)"
        )

    def _fn_if(self, argument: Any, where: str) -> Any:
        if not isinstance(argument, list) or len(argument) != 3 or not isinstance(argument[0], str):
            raise TemplateError(f"{where}: takes [condition name, value if true, value if false]")
        chosen = argument[1] if self.condition(argument[0], where) else argument[2]
        return self._resolve(chosen, where)

    def _fn_get_att(self, args: Any, where: str) -> Any:
        if isinstance(args, str):
            args = args.split(".", 1)
        if not isinstance(args, list) or len(args) != 2 or not all(isinstance(part, str) for part in args):
            raise TemplateError(f"{where}: takes [LogicalId, Attribute]")
        return self._get_att(args[0], args[1])

    def _fn_find_in_map(self, args: Any, where: str) -> Any:
        if not isinstance(args, list) or len(args) not in (3, 4):
            raise TemplateError(f"{where}: takes [MapName, TopLevelKey, SecondLevelKey]")
        map_name, top, second = (str(part) for part in args[:3])
        try:
            return self._mappings[map_name][top][second]
        except (KeyError, TypeError):
            if len(args) == 4 and isinstance(args[3], dict) and "DefaultValue" in args[3]:
                return args[3]["DefaultValue"]
            raise TemplateError(f"{where}: Mappings has no {map_name}.{top}.{second}") from None

    def _fn_sub(self, args: Any, where: str) -> str:
        if isinstance(args, str):
            text, variables = args, {}
        elif (
            isinstance(args, list)
            and len(args) == 2
            and isinstance(args[0], str)
            and isinstance(args[1], dict)
        ):
            text, variables = args
        else:
            raise TemplateError(f"{where}: takes a string or [string, {{variables}}]")

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return _scalar_text(variables[name], where)
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return _scalar_text(self._get_att(logical_id, attribute), where)
            return _scalar_text(self._resolve_ref(name, where), where)

        return _SUB_VARIABLE.sub(substitute, text)


def _expect_pair(args: Any, where: str) -> tuple[Any, Any]:
    if not isinstance(args, list) or len(args) != 2:
        raise TemplateError(f"{where}: takes a list of two arguments")
    return args[0], args[1]


def _scalar_text(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise TemplateError(f"{where}: expected a string, got {value!r}")
