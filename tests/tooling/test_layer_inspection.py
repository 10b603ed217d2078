"""The layer check CI runs on `sam build`'s output: it must reject every way a layer can go wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from ebb.cli.layer_inspection import check_layer, inspect_layer, read_pins

PINS = {"pydantic": "2.14.4", "pydantic-core": "2.50.5"}
AARCH64 = 0xB7
X86_64 = 0x3E


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


@pytest.fixture
def good_layer(tmp_path: Path) -> Path:
    python = tmp_path / "python"
    _dist(python, "pydantic", "2.14.4", "py3-none-any")
    _dist(python, "pydantic_core", "2.50.5", "cp313-cp313-manylinux_2_17_aarch64")
    _elf(python / "pydantic_core" / "_pydantic_core.cpython-313-aarch64-linux-gnu.so", AARCH64)
    for part in ("config", "core", "adapters", "service"):
        (python / "ebb" / part).mkdir(parents=True)
        (python / "ebb" / part / "__init__.py").write_text('"""part"""\n')
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
