"""Validate every state machine definition with both validators, since each catches what the other misses,
and refuse what the local world cannot execute.

asl-validator (npm) finds dangling `Next` targets and unreachable states; moto's ASL parser
(`moto.stepfunctions.parser`) finds bad retry fields such as `BackoffRate < 1`. A definition that
is valid ASL but that the local world (moto's interpreter, `ebb.local`) would not run as AWS does
is refused with the reason (`local_world_problems`): JSONata, Activities, Distributed Map. JSONPath
workflow variables (`Assign`, `$name` references) do run there. Definitions use
`${Name}` placeholders filled by the template's DefinitionSubstitutions, so each placeholder is
first replaced by a well-formed ARN of the kind its name says (`...FunctionArn` -> a Lambda ARN).

usage: python scripts/check_state_machines.py statemachines/*.asl.json
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
_ACCOUNT_REGION = "us-east-1:123456789012"


def _stand_in(name: str) -> str:
    if name.endswith("FunctionArn"):
        return f"arn:aws:lambda:{_ACCOUNT_REGION}:function:{name.removesuffix('Arn')}"
    if name.endswith("StateMachineArn"):
        return f"arn:aws:states:{_ACCOUNT_REGION}:stateMachine:{name.removesuffix('Arn')}"
    if name.endswith("QueueUrl"):
        return f"https://sqs.us-east-1.amazonaws.com/123456789012/{name}"
    if name.endswith("Arn"):
        return f"arn:aws:sns:{_ACCOUNT_REGION}:{name.removesuffix('Arn')}"
    return name


def substituted(text: str) -> str:
    """The definition with every `${Name}` placeholder replaced by a stand-in of its kind."""
    return _PLACEHOLDER.sub(lambda match: _stand_in(match.group(1)), text)


_ACTIVITY = re.compile(r"^arn:aws[a-z-]*:states:[^:]*:[^:]*:activity:")


def local_world_problems(definition: dict[str, Any]) -> list[str]:
    """Why the local world cannot execute the definition as AWS would (empty if it can)."""
    problems: list[str] = []
    if definition.get("QueryLanguage") == "JSONata":
        problems.append(_JSONATA.format(where="the state machine"))
    _check_states(definition.get("States", {}), problems)
    return problems


_JSONATA = (
    "{where} uses QueryLanguage JSONata, which the local world cannot evaluate (moto's interpreter has "
    "no JSONata evaluator); write it in JSONPath: Parameters, ResultSelector and ResultPath shape data, "
    "and Assign with $name references keeps values across states"
)


def _check_states(states: dict[str, Any], problems: list[str]) -> None:
    for name, state in states.items():
        where = f"state {name!r}"
        if state.get("QueryLanguage") == "JSONata":
            problems.append(_JSONATA.format(where=where))
        if state.get("Type") == "Task" and _ACTIVITY.match(str(state.get("Resource", ""))):
            problems.append(
                f"{where} runs an Activity, which the local world does not model; "
                "use a Lambda or an aws-sdk task, or a .waitForTaskToken task for work done elsewhere"
            )
        processor = state.get("ItemProcessor") or state.get("Iterator") or {}
        if processor.get("ProcessorConfig", {}).get("Mode") == "DISTRIBUTED":
            problems.append(
                f"{where} is a Distributed Map, which the local world does not model; use an INLINE Map"
            )
        for branch in [*state.get("Branches", []), processor]:
            _check_states(branch.get("States", {}), problems)


def main(paths: list[str]) -> int:
    failures = 0
    for path in map(Path, paths):
        definition = substituted(path.read_text())
        parsed = json.loads(definition)
        with tempfile.NamedTemporaryFile("w", suffix=".asl.json") as handle:
            handle.write(definition)
            handle.flush()
            validator = subprocess.run(
                ["node_modules/.bin/asl-validator", "--json-path", handle.name],
                check=False,
                capture_output=True,
                text=True,
            )
        problems = (
            [] if validator.returncode == 0 else [f"asl-validator rejected it: {validator.stderr.strip()}"]
        )
        try:
            AmazonStateLanguageParser.parse(definition)
        except Exception as error:  # the parser raises assorted types; any of them is a rejection
            problems.append(f"moto's ASL parser rejected it: {error}")
        problems += [f"the local world cannot run it: {problem}" for problem in local_world_problems(parsed)]
        for problem in problems:
            print(f"{path}: {problem}")
        print(f"{path}: {'INVALID' if problems else 'valid'}")
        failures += bool(problems)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
