"""Workflow variables in JSONPath states, run by moto's interpreter (moto 5.2.5).

moto stores what `Assign` assigns (and records it in `assignedVariables`), but reads a variable
reference (`"x.$": "$name"`, `$name.field[0]`, a Choice rule's `"Variable": "$name"` or
`...Path`, an intrinsic function's argument) by evaluating it as JSONata, whose evaluator is a
stub in moto (localstack runs it on a JVM): every read fails with States.Runtime. In a JSONPath
state a reference is `$` + the variable's name, optionally followed by a JSONPath into its value
(Step Functions Developer Guide, "Passing data between states with variables"); that is what is
evaluated here, against the variable store moto keeps (inner scopes see outer variables). JSONata
states stay unsupported; `scripts/check_state_machines.py` refuses them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from moto.stepfunctions.parser.asl.component.common.query_language import QueryLanguageMode
from moto.stepfunctions.parser.asl.component.common.string.string_expression import StringVariableSample
from moto.stepfunctions.parser.asl.utils.json_path import extract_json

from ebb.local.patches import PatchSet, PinnedAttribute

_REFERENCE = re.compile(r"\$(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<path>.*)", re.DOTALL)


def pins() -> list[PinnedAttribute]:
    """Every moto internal this module replaces, with the signature it was written against."""
    return [
        PinnedAttribute(
            StringVariableSample,
            "_eval_body",
            "(self, env: moto.stepfunctions.parser.asl.eval.environment.Environment) -> None",
        )
    ]


def install(patches: PatchSet) -> None:
    """Evaluate JSONPath variable references (the module docstring)."""
    (pin,) = pins()
    patches.wrap_method(pin, _read_variables)


def variable_value(reference: str, read: Callable[[str], Any]) -> Any:
    """The value `$name<path>` refers to, with `read(name)` giving a variable's value."""
    match = _REFERENCE.fullmatch(reference)
    if match is None:
        raise ValueError(f"{reference!r} is not a variable reference ($name, optionally followed by a path)")
    value = read(match["name"])
    return extract_json(f"${match['path']}", value) if match["path"] else value


def _read_variables(original: Callable[..., None]) -> Callable[..., None]:
    def _eval_body(self: Any, env: Any) -> None:
        if self.query_language_mode != QueryLanguageMode.JSONPath:
            original(self, env)
            return
        env.stack.append(variable_value(self.expression, env.variable_store.get))

    return _eval_body
