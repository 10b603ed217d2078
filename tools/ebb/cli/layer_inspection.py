"""What a built Lambda layer contains, and whether it is the layer ebb means to ship.

`sam build` turns `layers/ebb/` into `.aws-sam/build/EbbLayer/python/`. This module reads that
tree (distributions and their wheel tags, native libraries and their ELF machine, ebb's own
packages, sizes) and checks it against the rules the layer must keep:

- only the runtime's pinned distributions, at their pinned versions (no moto, rich, matplotlib,
  pytest ... and nothing else that slipped in);
- every wheel built for the Lambda architecture (arm64: `aarch64` or pure-Python `any`) and every
  native library an aarch64 ELF object;
- ebb's runtime parts only: `config`, `core`, `adapters`, `service` and top-level modules, never
  the tools (`local`, `sim`, `cli`);
- an unzipped size within the budget;
- the bytecode of every module, for the runtime's Python, unchecked-hash and compiled from the
  very source beside it (`layers/ebb/Makefile`). Lambda mounts the layer read-only, so a module
  without it is compiled at every cold start; an unchecked-hash pyc is used without looking at
  the source, so one compiled from another version of it would run that other version.
"""

from __future__ import annotations

import _imp
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.parser import HeaderParser
from pathlib import Path

RUNTIME_PARTS = frozenset({"config", "core", "adapters", "service"})
TOOL_PARTS = frozenset({"local", "sim", "cli"})
# Lambda allows 250 MB unzipped for a function and all its layers; ebb's layer keeps well under
# a quarter of it so functions stay free to add their own code.
DEFAULT_BUDGET_BYTES = 64 * 1024 * 1024

_ELF_MAGIC = b"\x7fELF"
_ELF_MACHINES = {0x03: "x86", 0x3E: "x86_64", 0x28: "arm", 0xB7: "aarch64"}
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)")
# The pyc magic number of each CPython the layer may be built for: the MAGIC_NUMBER of CPython's
# Lib/importlib/_bootstrap_external.py ("Python 3.11a7 3495", "Python 3.13b1 3571"), fixed from a
# version's first release candidate on. Read from a table because the check runs on any Python.
_PYC_MAGIC = {"cp311": 3495, "cp313": 3571}
# PEP 552 header flags: bit 0 hash-based, bit 1 check the source. 0b01 is unchecked-hash.
_UNCHECKED_HASH = 0b01
_EXAMPLES = 3


def canonical_name(name: str) -> str:
    """A distribution name normalised as PEP 503 does (`PyYAML` -> `pyyaml`)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Distribution:
    """One installed distribution in the layer."""

    name: str
    version: str
    wheel_tags: tuple[str, ...]


@dataclass(frozen=True)
class NativeLibrary:
    """A shared object in the layer and the machine it was compiled for."""

    path: str
    machine: str


@dataclass(frozen=True)
class Bytecode:
    """The header of one `__pycache__/*.pyc` (PEP 552): what it was compiled by and from."""

    path: str
    magic: int
    flags: int
    key: bytes
    """The source's hash (hash-based pycs) or its mtime and size (timestamp ones)."""


@dataclass(frozen=True)
class LayerReport:
    """Everything the checks and the summary need to know about one built layer."""

    root: Path
    distributions: tuple[Distribution, ...]
    native_libraries: tuple[NativeLibrary, ...]
    ebb_parts: tuple[str, ...]
    size_bytes: int
    size_by_top_level: Mapping[str, int] = field(default_factory=dict)
    sources: Mapping[str, bytes] = field(default_factory=dict)
    """Every `.py` in the layer (path relative to `python/`) and its content."""
    bytecode: tuple[Bytecode, ...] = ()


def read_pins(requirements: Path) -> dict[str, str]:
    """`name -> version` of every `name==version` line of a requirements file."""
    pins: dict[str, str] = {}
    for line in requirements.read_text().splitlines():
        match = _PIN.match(line.strip())
        if match:
            pins[canonical_name(match.group(1))] = match.group(2)
    return pins


def _elf_machine(path: Path) -> str | None:
    with path.open("rb") as handle:
        header = handle.read(20)
    if not header.startswith(_ELF_MAGIC) or len(header) < 20:
        return None
    little_endian = header[5] == 1
    machine = int.from_bytes(header[18:20], "little" if little_endian else "big")
    return _ELF_MACHINES.get(machine, f"unknown(0x{machine:x})")


def _distributions(python_dir: Path) -> Iterable[Distribution]:
    for dist_info in sorted(python_dir.glob("*.dist-info")):
        headers = HeaderParser().parsestr((dist_info / "METADATA").read_text(errors="replace"))
        wheel = dist_info / "WHEEL"
        tags = HeaderParser().parsestr(wheel.read_text()).get_all("Tag", []) if wheel.exists() else []
        yield Distribution(name=headers["Name"], version=headers["Version"], wheel_tags=tuple(tags))


def inspect_layer(python_dir: Path) -> LayerReport:
    """Read a built layer's `python/` directory."""
    if not python_dir.is_dir():
        raise FileNotFoundError(f"{python_dir}: no built layer here (run `sam build` first)")
    native: list[NativeLibrary] = []
    sources: dict[str, bytes] = {}
    bytecode: list[Bytecode] = []
    size_by_top_level: dict[str, int] = {}
    total = 0
    for path in sorted(python_dir.rglob("*")):
        if not path.is_file():
            continue
        size = path.stat().st_size
        total += size
        relative = path.relative_to(python_dir)
        size_by_top_level[relative.parts[0]] = size_by_top_level.get(relative.parts[0], 0) + size
        if path.suffix == ".so" or ".so." in path.name:
            native.append(NativeLibrary(str(relative), _elf_machine(path) or "not an ELF object"))
        elif path.suffix == ".py":
            sources[str(relative)] = path.read_bytes()
        elif path.suffix == ".pyc":
            bytecode.append(_pyc_header(path, str(relative)))
    ebb_dir = python_dir / "ebb"
    parts = sorted(
        child.name for child in (ebb_dir.iterdir() if ebb_dir.is_dir() else ()) if child.name != "__pycache__"
    )
    return LayerReport(
        root=python_dir,
        distributions=tuple(_distributions(python_dir)),
        native_libraries=tuple(native),
        ebb_parts=tuple(parts),
        size_bytes=total,
        size_by_top_level=size_by_top_level,
        sources=sources,
        bytecode=tuple(bytecode),
    )


def _pyc_header(path: Path, relative: str) -> Bytecode:
    with path.open("rb") as handle:
        header = handle.read(16)
    return Bytecode(
        path=relative,
        magic=int.from_bytes(header[:2], "little") if header[2:4] == b"\r\n" else -1,
        flags=int.from_bytes(header[4:8], "little"),
        key=header[8:16],
    )


def _source_hash(source: bytes, magic: int) -> bytes:
    # What `importlib.util.source_hash` computes on that Python: SipHash keyed with its magic
    # number. `_imp.source_hash` takes the key, so a 3.11 process can compute 3.13's.
    key = int.from_bytes(magic.to_bytes(2, "little") + b"\r\n", "little")
    hashed: bytes = _imp.source_hash(key, source)
    return hashed


def _listed(paths: list[str]) -> str:
    shown = ", ".join(paths[:_EXAMPLES])
    return f"{shown} and {len(paths) - _EXAMPLES} more" if len(paths) > _EXAMPLES else shown


def check_bytecode(report: LayerReport, python_tag: str) -> list[str]:
    """Every module must have its unchecked-hash bytecode for `python_tag`, compiled from its source."""
    magic = _PYC_MAGIC.get(python_tag)
    if magic is None:
        return [f"no known pyc magic number for {python_tag}: cannot check the layer's bytecode"]
    cache_tag = "cpython-" + python_tag.removeprefix("cp")
    headers = {pyc.path: pyc for pyc in report.bytecode}
    missing, foreign, checked, stale = [], [], [], []
    for source_path, source in sorted(report.sources.items()):
        directory, _, name = source_path.rpartition("/")
        pyc_path = "/".join(filter(None, (directory, "__pycache__", f"{name[:-3]}.{cache_tag}.pyc")))
        pyc = headers.get(pyc_path)
        if pyc is None:
            missing.append(source_path)
        elif pyc.magic != magic:
            foreign.append(pyc_path)
        elif pyc.flags != _UNCHECKED_HASH:
            checked.append(pyc_path)
        elif pyc.key != _source_hash(source, magic):
            stale.append(pyc_path)
    problems = []
    if missing:
        problems.append(
            f"{len(missing)} modules have no {cache_tag} bytecode (compiled at every cold start): "
            + _listed(missing)
        )
    if foreign:
        problems.append(f"{len(foreign)} pycs are not {cache_tag} bytecode: {_listed(foreign)}")
    if checked:
        problems.append(f"{len(checked)} pycs are not unchecked-hash (PEP 552): {_listed(checked)}")
    if stale:
        problems.append(
            f"{len(stale)} pycs were compiled from another version of their source: {_listed(stale)}"
        )
    return problems


def _wheel_fits(tag: str, architecture: str, python_tag: str) -> bool:
    interpreter, abi, platform = tag.split("-", 2)
    platform_ok = platform == "any" or architecture in platform
    # A compiled wheel must match the runtime's CPython (or the stable ABI); pure ones are `py3`.
    interpreter_ok = interpreter == python_tag or abi == "abi3" or interpreter.startswith("py")
    return platform_ok and interpreter_ok


def check_layer(
    report: LayerReport,
    pins: Mapping[str, str],
    *,
    architecture: str = "aarch64",
    python_tag: str = "cp313",
    budget_bytes: int = DEFAULT_BUDGET_BYTES,
) -> list[str]:
    """Every way the layer breaks the rules, as readable sentences; empty when it is right."""
    problems: list[str] = []
    found = {canonical_name(d.name): d for d in report.distributions}
    for name, dist in sorted(found.items()):
        if name not in pins:
            problems.append(
                f"{dist.name} {dist.version} is in the layer but not pinned in the runtime requirements"
            )
        elif pins[name] != dist.version:
            problems.append(f"{dist.name} is {dist.version} in the layer, pinned at {pins[name]}")
        if dist.wheel_tags and not any(_wheel_fits(t, architecture, python_tag) for t in dist.wheel_tags):
            problems.append(
                f"{dist.name} {dist.version} is built for {', '.join(dist.wheel_tags)}, "
                f"not {architecture} / {python_tag}"
            )
    problems.extend(
        f"{name}=={version} is pinned but missing from the layer"
        for name, version in sorted(pins.items())
        if name not in found
    )
    problems.extend(
        f"{lib.path} is compiled for {lib.machine}, not {architecture}"
        for lib in report.native_libraries
        if lib.machine != architecture
    )
    tools = sorted(TOOL_PARTS.intersection(report.ebb_parts))
    if tools:
        problems.append(
            f"the layer carries ebb's tools ({', '.join(tools)}); only the runtime parts belong there"
        )
    missing = sorted(RUNTIME_PARTS.difference(report.ebb_parts))
    if missing:
        problems.append(f"ebb's runtime parts missing from the layer: {', '.join(missing)}")
    if report.size_bytes > budget_bytes:
        problems.append(
            f"the layer is {report.size_bytes / 2**20:.1f} MiB unzipped, over its "
            f"{budget_bytes / 2**20:.0f} MiB budget"
        )
    problems.extend(check_bytecode(report, python_tag))
    return problems
