"""The layer check CI runs on `sam build`'s output: it must reject every way a layer can go wrong."""

from __future__ import annotations

import _imp
import marshal
import subprocess
from pathlib import Path

import pytest

from ebb.cli.build_report import layer_targets, load_template
from ebb.cli.layer_inspection import check_bytecode, check_layer, inspect_layer, read_pins

ROOT = Path(__file__).resolve().parents[2]
PINS = {"pydantic": "2.14.4", "pydantic-core": "2.50.5"}
AARCH64 = 0xB7
X86_64 = 0x3E
# CPython 3.13's pyc magic number (Lib/importlib/_bootstrap_external.py: "Python 3.13b1 3571"),
# 3.11's ("Python 3.11a7 3495"); PEP 552 flags: 0b01 unchecked-hash, 0b11 checked-hash.
MAGIC_313, MAGIC_311 = 3571, 3495
UNCHECKED, CHECKED = 0b01, 0b11


def _dist(python: Path, name: str, version: str, tag: str) -> None:
    info = python / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "WHEEL").write_text(f"Wheel-Version: 1.0\nTag: {tag}\n")


def _elf(path: Path, machine: int) -> None:
    # An ELF header: magic, 64-bit, little-endian, ..., e_machine at byte 18.
    header = bytearray(64)
    header[0:4] = b"\x7fELF"
    header[4], header[5] = 2, 1
    header[18:20] = machine.to_bytes(2, "little")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(header))


def _pyc(source: Path, *, magic: int = MAGIC_313, flags: int = UNCHECKED, tag: str = "cpython-313") -> Path:
    """Write `source`'s pyc as PEP 552 lays it out: magic, flags, source hash (or mtime+size), code."""
    raw_magic = magic.to_bytes(2, "little") + b"\r\n"
    data = source.read_bytes()
    if flags & 0b01:
        key = _imp.source_hash(int.from_bytes(raw_magic, "little"), data)
    else:
        key = int(source.stat().st_mtime).to_bytes(4, "little") + len(data).to_bytes(4, "little")
    pyc = source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc"
    pyc.parent.mkdir(exist_ok=True)
    code = marshal.dumps(compile(data, source, "exec"))
    pyc.write_bytes(raw_magic + flags.to_bytes(4, "little") + key + code)
    return pyc


def _compile_all(python: Path) -> None:
    for source in python.rglob("*.py"):
        _pyc(source)


@pytest.fixture
def good_layer(tmp_path: Path) -> Path:
    python = tmp_path / "python"
    _dist(python, "pydantic", "2.14.4", "py3-none-any")
    _dist(python, "pydantic_core", "2.50.5", "cp313-cp313-manylinux_2_17_aarch64")
    _elf(python / "pydantic_core" / "_pydantic_core.cpython-313-aarch64-linux-gnu.so", AARCH64)
    for part in ("config", "core", "adapters", "service"):
        (python / "ebb" / part).mkdir(parents=True)
        (python / "ebb" / part / "__init__.py").write_text('"""part"""\n')
    (python / "six.py").write_text('"""a top-level module"""\n')
    _compile_all(python)
    return python


def test_a_layer_of_pinned_arm64_runtime_parts_passes(good_layer: Path) -> None:
    assert check_layer(inspect_layer(good_layer), PINS) == []


def test_a_tool_dependency_in_the_layer_is_refused(good_layer: Path) -> None:
    _dist(good_layer, "moto", "5.2.5", "py3-none-any")
    assert check_layer(inspect_layer(good_layer), PINS) == [
        "moto 5.2.5 is in the layer but not pinned in the runtime requirements"
    ]


def test_ebb_tools_in_the_layer_are_refused(good_layer: Path) -> None:
    (good_layer / "ebb" / "local").mkdir()
    (good_layer / "ebb" / "cli").mkdir()
    assert check_layer(inspect_layer(good_layer), PINS) == [
        "the layer carries ebb's tools (cli, local); only the runtime parts belong there"
    ]


def test_an_x86_wheel_and_library_are_refused(tmp_path: Path) -> None:
    python = tmp_path / "python"
    _dist(python, "pydantic", "2.14.4", "py3-none-any")
    _dist(python, "pydantic_core", "2.50.5", "cp313-cp313-manylinux_2_17_x86_64")
    _elf(python / "pydantic_core" / "_pydantic_core.so", X86_64)
    for part in ("config", "core", "adapters", "service"):
        (python / "ebb" / part).mkdir(parents=True)
    problems = check_layer(inspect_layer(python), PINS)
    assert problems == [
        "pydantic_core 2.50.5 is built for cp313-cp313-manylinux_2_17_x86_64, not aarch64 / cp313",
        "pydantic_core/_pydantic_core.so is compiled for x86_64, not aarch64",
    ]


def test_a_wheel_for_another_python_is_refused(tmp_path: Path) -> None:
    python = tmp_path / "python"
    _dist(python, "pydantic", "2.14.4", "py3-none-any")
    _dist(python, "pydantic_core", "2.50.5", "cp311-cp311-manylinux_2_17_aarch64")
    for part in ("config", "core", "adapters", "service"):
        (python / "ebb" / part).mkdir(parents=True)
    assert check_layer(inspect_layer(python), PINS) == [
        "pydantic_core 2.50.5 is built for cp311-cp311-manylinux_2_17_aarch64, not aarch64 / cp313"
    ]


def test_version_drift_missing_pins_and_missing_parts_are_reported(tmp_path: Path) -> None:
    python = tmp_path / "python"
    _dist(python, "pydantic", "2.13.0", "py3-none-any")
    (python / "ebb" / "core").mkdir(parents=True)
    assert check_layer(inspect_layer(python), PINS) == [
        "pydantic is 2.13.0 in the layer, pinned at 2.14.4",
        "pydantic-core==2.50.5 is pinned but missing from the layer",
        "ebb's runtime parts missing from the layer: adapters, config, service",
    ]


def test_the_size_budget_is_enforced(good_layer: Path) -> None:
    (good_layer / "ebb" / "core" / "blob.bin").write_bytes(b"\0" * 3000)
    problems = check_layer(inspect_layer(good_layer), PINS, budget_bytes=2048)
    assert len(problems) == 1
    assert problems[0].endswith("MiB unzipped, over its 0 MiB budget")


def test_pins_are_read_from_the_layer_requirements(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        "PyYAML==6.0.4             # via -r in\n"
        "# comment\n"
        "pydantic_core==2.50.5\n"
        "wrapt==2.5.2 ; python_version >= '3.9'\n"
    )
    assert read_pins(requirements) == {"pyyaml": "6.0.4", "pydantic-core": "2.50.5", "wrapt": "2.5.2"}


def test_the_shipped_layer_requirements_pin_every_runtime_dependency() -> None:
    pins = read_pins(Path(__file__).parents[2] / "layers" / "ebb" / "requirements.txt")
    for direct in ("pydantic", "aws-lambda-powertools", "boto3", "pyyaml"):
        assert direct in pins, f"{direct} must be pinned for the layer"
    assert not {"moto", "rich", "matplotlib", "pytest"} & pins.keys()


def test_a_module_without_bytecode_is_refused(good_layer: Path) -> None:
    # /opt is read-only in Lambda: such a module is compiled from source at every cold start.
    (good_layer / "ebb" / "core" / "__pycache__" / "__init__.cpython-313.pyc").unlink()
    (good_layer / "ebb" / "core" / "late.py").write_text("X = 1\n")
    assert check_layer(inspect_layer(good_layer), PINS) == [
        "2 modules have no cpython-313 bytecode (compiled at every cold start): "
        "ebb/core/__init__.py, ebb/core/late.py"
    ]


def test_timestamp_and_checked_hash_bytecode_are_refused(good_layer: Path) -> None:
    # A timestamp pyc is ignored when the deployed source's mtime differs from the one it
    # recorded (and cannot be rewritten under /opt); a checked-hash one hashes the source at
    # every import. Only unchecked-hash is used as shipped.
    _pyc(good_layer / "ebb" / "config" / "__init__.py", flags=0)
    _pyc(good_layer / "ebb" / "core" / "__init__.py", flags=CHECKED)
    assert check_bytecode(inspect_layer(good_layer), "cp313") == [
        "2 pycs are not unchecked-hash (PEP 552): ebb/config/__pycache__/__init__.cpython-313.pyc, "
        "ebb/core/__pycache__/__init__.cpython-313.pyc"
    ]


def test_bytecode_of_another_python_is_refused(good_layer: Path) -> None:
    _pyc(good_layer / "six.py", magic=MAGIC_311)
    assert check_bytecode(inspect_layer(good_layer), "cp313") == [
        "1 pycs are not cpython-313 bytecode: __pycache__/six.cpython-313.pyc"
    ]


def test_bytecode_compiled_from_another_version_of_the_source_is_refused(good_layer: Path) -> None:
    # An unchecked-hash pyc is run without looking at the source: a stale one runs old code.
    (good_layer / "ebb" / "service" / "__init__.py").write_text('"""changed after compiling"""\n')
    assert check_bytecode(inspect_layer(good_layer), "cp313") == [
        "1 pycs were compiled from another version of their source: "
        "ebb/service/__pycache__/__init__.cpython-313.pyc"
    ]


def test_a_runtime_without_a_known_magic_number_is_reported(good_layer: Path) -> None:
    assert check_bytecode(inspect_layer(good_layer), "cp399") == [
        "no known pyc magic number for cp399: cannot check the layer's bytecode"
    ]


def test_the_layer_makefile_compiles_what_the_check_accepts(tmp_path: Path) -> None:
    # The very target `sam build` runs (layers/ebb/Makefile, `bytecode`), with the Lambda
    # runtime's Python, on a layer tree with a package, a top-level module and a subpackage.
    runtime = ROOT / ".venvs" / "runtime" / "bin" / "python"
    if not runtime.exists():
        pytest.fail(f"{runtime} is missing: run `scripts/venv.sh runtime` (make test does it first)")
    python = tmp_path / "python"
    (python / "ebb" / "core").mkdir(parents=True)
    (python / "ebb" / "__init__.py").write_text("")
    (python / "ebb" / "core" / "quantity.py").write_text("def half(x: int) -> float:\n    return x / 2\n")
    (python / "six.py").write_text("PY3 = True\n")
    result = subprocess.run(
        ["make", "-s", "-f", str(ROOT / "layers" / "ebb" / "Makefile"), "bytecode",
         f"ARTIFACTS_DIR={tmp_path}", f"PYTHON={runtime}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = inspect_layer(python)
    assert sorted(report.sources) == ["ebb/__init__.py", "ebb/core/quantity.py", "six.py"]
    assert check_bytecode(report, "cp313") == []


def test_the_makefile_refuses_a_python_other_than_the_runtimes(tmp_path: Path) -> None:
    # Bytecode of another minor version has another magic number: Lambda would ignore it all.
    other = ROOT / ".venv" / "bin" / "python"
    version = subprocess.run(
        [str(other), "-c", "import sys; print(sys.version_info[:2] == (3, 13))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    if version == "True":
        pytest.fail(f"{other} is Python 3.13: this test needs the dev environment's other Python")
    result = subprocess.run(
        ["make", "-s", "-f", str(ROOT / "layers" / "ebb" / "Makefile"), "bytecode",
         f"ARTIFACTS_DIR={tmp_path}", f"PYTHON={other}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "its bytecode would not load in python3.13" in result.stderr


def test_the_template_layer_is_found_as_a_python_layer_of_the_runtime() -> None:
    # EbbLayer is a makefile build (for its bytecode); the configuration layer, also a makefile
    # build, carries no Python packages and is not checked as one.
    template = load_template(ROOT / "template.yaml")
    assert layer_targets(template, ROOT) == {"EbbLayer": ("aarch64", "cp313")}
