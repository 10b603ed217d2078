"""The packages that export their names lazily (PEP 562): each name is its module's object.

`ebb.config`, `ebb.core.nodes`, `ebb.core.replicas`, `ebb.service.decision` and
`ebb.service.powertools` import a name's module on first use, so that a function's cold start
builds only what it uses (`test_handler_imports.py`). Here: every exported name still resolves,
to the very object its module defines, and an unknown one fails as a missing attribute does.

`ebb.service.powertools` is checked in a fresh interpreter: importing it makes the functions'
Logger and Metrics from the environment of that moment, and the local world's handlers, run
later in this process, must get theirs from their own environment.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from types import ModuleType

import pytest

LAZY_PACKAGES = ("ebb.config", "ebb.core.nodes", "ebb.core.replicas", "ebb.service.decision")
EXPORTS = [(package, name) for package in LAZY_PACKAGES for name in importlib.import_module(package).__all__]


def _lazy_names(package: ModuleType) -> dict[str, str]:
    names: dict[str, str] = package._MODULES
    return names


@pytest.mark.parametrize(("package", "name"), EXPORTS)
def test_every_exported_name_resolves_to_its_modules_object(package: str, name: str) -> None:
    module = importlib.import_module(package)
    value = getattr(module, name)
    defining = _lazy_names(module).get(name)
    if defining is not None:
        assert value is getattr(importlib.import_module(defining), name)


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_only_exported_names_are_lazy(package: str) -> None:
    module = importlib.import_module(package)
    assert set(_lazy_names(module)) <= set(module.__all__)


@pytest.mark.parametrize(
    "package", ["ebb.config", "ebb.core.nodes", "ebb.core.replicas", "ebb.service.decision"]
)
def test_dir_lists_the_exported_names(package: str) -> None:
    module = importlib.import_module(package)
    assert dir(module) == sorted(module.__all__)


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_an_unknown_name_is_an_attribute_error_naming_it(package: str) -> None:
    module = importlib.import_module(package)
    with pytest.raises(AttributeError, match=rf"^module '{package}' has no attribute 'NoSuchName'$"):
        getattr(module, "NoSuchName")  # noqa: B009


def test_from_import_of_lazy_names_works() -> None:
    from ebb.config import EbbConfig, summarize
    from ebb.core.nodes import plan_nodes
    from ebb.core.replicas import decide_replicas
    from ebb.service.decision import decide_pool

    names = [f.__name__ for f in (EbbConfig, summarize, plan_nodes, decide_replicas, decide_pool)]
    assert names == ["EbbConfig", "summarize", "plan_nodes", "decide_replicas", "decide_pool"]


_POWERTOOLS = """
import pytest
import ebb.service.powertools as powertools
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import SqsModel
assert set(powertools._MODULES) <= set(powertools.__all__)
assert [getattr(powertools, name) for name in ("parse", "SqsModel")] == [parse, SqsModel]
with pytest.raises(AttributeError, match=r"^module 'ebb.service.powertools' has no attribute 'Parser'$"):
    powertools.Parser
print("ok")
"""


def test_the_powertools_parser_names_are_powertools_own() -> None:
    env = {**os.environ, "POWERTOOLS_SERVICE_NAME": "ebb", "POWERTOOLS_METRICS_NAMESPACE": "ebb"}
    result = subprocess.run(
        [sys.executable, "-c", _POWERTOOLS], check=False, capture_output=True, text=True, env=env, timeout=120
    )
    assert (result.returncode, result.stdout.strip()) == (0, "ok"), result.stderr
