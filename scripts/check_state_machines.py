"""Validate every state machine definition with both validators, since each catches what the other misses.

asl-validator (npm) finds dangling `Next` targets and unreachable states; moto's ASL parser
(`moto.stepfunctions.parser`) finds bad retry fields such as `BackoffRate < 1`. Definitions use
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


def main(paths: list[str]) -> int:
    failures = 0
    for path in map(Path, paths):
        definition = substituted(path.read_text())
        json.loads(definition)
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
        for problem in problems:
            print(f"{path}: {problem}")
        print(f"{path}: {'INVALID' if problems else 'valid'}")
        failures += bool(problems)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
