"""`scripts/check_state_machines.py` refuses what the local world cannot execute, with the reason.

The local world runs definitions with moto's interpreter: JSONata, Activities and Distributed Map
would pass both validators yet not run there as in AWS, so the check names each. JSONPath
workflow variables run in the local world (tests/integration/local/test_local_stepfunctions.py)
and pass.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CALLBACKS = ROOT / "tests/integration/local/statemachines/callbacks.asl.json"


@cache
def _check_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "check_state_machines", ROOT / "scripts/check_state_machines.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _problems(definition: dict[str, Any]) -> list[str]:
    return list(_check_module().local_world_problems(definition))


def _pass(name: str, **fields: Any) -> dict[str, Any]:
    return {"StartAt": name, "States": {name: {"Type": "Pass", "End": True, **fields}}}


def test_jsonata_is_refused_with_the_jsonpath_alternative() -> None:
    whole = {"QueryLanguage": "JSONata", **_pass("A", Output="{% $states.input %}")}
    one_state = _pass("B", QueryLanguage="JSONata", Output="{% $states.input.x %}")

    (refused,) = _problems(whole)
    assert refused.startswith("the state machine uses QueryLanguage JSONata, which the local world cannot")
    assert "write it in JSONPath" in refused
    assert "Assign with $name references" in refused
    assert _problems(one_state) == [refused.replace("the state machine", "state 'B'")]


def test_activities_and_distributed_maps_are_refused_inside_branches_too() -> None:
    activity = "arn:aws:states:us-east-1:123456789012:activity:provision"
    definition = {
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Parallel",
                "End": True,
                "Branches": [
                    {
                        "StartAt": "Work",
                        "States": {"Work": {"Type": "Task", "Resource": activity, "End": True}},
                    },
                    {
                        "StartAt": "Each",
                        "States": {
                            "Each": {
                                "Type": "Map",
                                "End": True,
                                "ItemProcessor": {
                                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                                    **_pass("Item"),
                                },
                            }
                        },
                    },
                ],
            }
        },
    }

    assert _problems(definition) == [
        "state 'Work' runs an Activity, which the local world does not model; use a Lambda or an aws-sdk "
        "task, or a .waitForTaskToken task for work done elsewhere",
        "state 'Each' is a Distributed Map, which the local world does not model; use an INLINE Map",
    ]


def test_jsonpath_variables_pass() -> None:
    assert _problems(json.loads(CALLBACKS.read_text())) == []
    assert _problems(_pass("A", Assign={"x.$": "$.value"}, Parameters={"x.$": "$x"})) == []


@pytest.mark.parametrize(
    ("definition", "verdict"),
    [
        ({"QueryLanguage": "JSONata", **_pass("A", Output="{% $states.input %}")}, "INVALID"),
        (_pass("A", Assign={"x": 1}, Parameters={"x.$": "$x"}), "valid"),
    ],
    ids=["jsonata", "jsonpath-variables"],
)
def test_the_script_fails_on_what_the_local_world_cannot_run(
    tmp_path: Path, definition: dict[str, Any], verdict: str
) -> None:
    if not (ROOT / "node_modules/.bin/asl-validator").exists():
        pytest.fail(
            "node_modules/.bin/asl-validator is missing: run `scripts/venv.sh node` (make test does it)"
        )
    path = tmp_path / "machine.asl.json"
    path.write_text(json.dumps(definition))
    run = subprocess.run(
        [sys.executable, "scripts/check_state_machines.py", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.stdout.splitlines()[-1] == f"{path}: {verdict}", run.stdout + run.stderr
    assert run.returncode == (1 if verdict == "INVALID" else 0)
    if verdict == "INVALID":
        assert (
            f"{path}: the local world cannot run it: the state machine uses QueryLanguage JSONata"
            in run.stdout
        )
