"""CI's guards catch what they are there for: each deliberate violation below must fail its check.

- the pure core importing boto3 breaks an import-linter contract;
- a test module with no tests fails the pytest run (tests/conftest.py);
- a template error fails `cfn-lint` and `sam validate --lint`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _tool(venv: str, name: str) -> Path:
    path = ROOT / venv / "bin" / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run `scripts/venv.sh sam` (make test does it first)")
    return path


def test_the_core_importing_boto3_breaks_the_import_contracts(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "layers", tmp_path / "layers", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "tools", tmp_path / "tools", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    (tmp_path / "layers/ebb/ebb/core/sneaky.py").write_text("import boto3\n")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path / 'layers/ebb'}:{tmp_path / 'tools'}"}

    result = subprocess.run(
        [BIN / "lint-imports", "--no-cache"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 1
    assert "ebb.core.sneaky -> boto3" in result.stdout


def test_a_test_module_without_tests_fails_the_run(tmp_path: Path) -> None:
    shutil.copy(ROOT / "tests/conftest.py", tmp_path)
    (tmp_path / "test_real.py").write_text("def test_real():\n    assert 1 + 1 == 2\n")
    (tmp_path / "test_forgotten.py").write_text("VALUE = 1\n")

    result = subprocess.run(
        [BIN / "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode != 0
    assert "test_forgotten.py: defines no tests" in result.stdout


def test_pytest_treats_an_empty_suite_as_a_failure(tmp_path: Path) -> None:
    # pytest exits 5 when it collects nothing; the check script passes that code on as a failure.
    result = subprocess.run(
        [BIN / "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)], capture_output=True, check=False
    )
    assert result.returncode == 5


def test_a_template_error_fails_both_template_linters(tmp_path: Path) -> None:
    broken = (ROOT / "template.yaml").read_text().replace("BillingMode: PAY_PER_REQUEST", "BillingMode: FREE")
    assert "BillingMode: FREE" in broken
    template = tmp_path / "template.yaml"
    template.write_text(broken)

    cfn_lint = subprocess.run(
        [_tool(".venvs/sam", "cfn-lint"), str(template)], capture_output=True, text=True, check=False
    )
    sam = subprocess.run(
        [_tool(".venvs/sam", "sam"), "validate", "--lint", "--template-file", str(template)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )

    assert cfn_lint.returncode != 0
    assert "'FREE' is not one of ['PAY_PER_REQUEST', 'PROVISIONED']" in cfn_lint.stdout
    assert sam.returncode != 0


def test_the_shipped_template_passes_cfn_lint() -> None:
    result = subprocess.run(
        [_tool(".venvs/sam", "cfn-lint"), str(ROOT / "template.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout
