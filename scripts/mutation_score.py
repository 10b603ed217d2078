"""Kill rates of a mutmut run of ebb.core, per area, less the listed equivalent mutants.

Run by scripts/mutate.sh inside the staged copy (`.mutate/`), after `mutmut run`. An area's rate
is killed / (mutants - equivalent), where a mutant counts as killed when a test failed, raised or
timed out with it (mutmut's "killed" and "timeout"), and equivalent mutants, which change no
behaviour, are those listed with their reason in tests/unit/core/<area>/equivalent_mutants.toml:

    [[equivalent]]
    mutant = "ebb.core.replicas.hpa.x_reconcile__mutmut_12"
    line = "if current > spec.max_replicas or current <= spec.min_replicas:"
    why = "..."

`line` is a line the mutant adds (or, for a mutant that only deletes, a line it removes), as
`mutmut show` prints it: mutant numbers shift when the code changes, so an entry whose mutant no
longer changes that line is reported as stale and not set aside.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from mutmut.mutation.diff_apply import get_diff_for_mutant

# mutmut's exit codes (mutmut.stats.status_by_exit_code) grouped by what they say of the tests.
KILLED = {1, 3, 24, -24, 152, 255, 36}
SURVIVED = {0}
AREAS = {
    "replicas": ("ebb.core.replicas.*", "tests/unit/core/replicas/equivalent_mutants.toml"),
    "nodes": ("ebb.core.nodes.*", "tests/unit/core/nodes/equivalent_mutants.toml"),
    "top": ("ebb.core.*", "tests/unit/core/equivalent_mutants.toml"),
}


@dataclass(frozen=True)
class Equivalent:
    mutant: str
    line: str
    why: str


def results() -> dict[str, tuple[Path, int | None]]:
    """Every mutant's exit code, by name, with the mutated file it lives in."""
    found: dict[str, tuple[Path, int | None]] = {}
    for meta in Path("mutants/src").rglob("*.py.meta"):
        source = Path(str(meta)[: -len(".meta")]).relative_to("mutants")
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            found[name] = (source, code)
    return found


def in_area(area: str, name: str) -> bool:
    pattern, _ = AREAS[area]
    if area == "top":
        # Top-level modules only: ebb.core.<module>.<function>, no subpackage.
        return name.startswith("ebb.core.") and not name.startswith(("ebb.core.replicas.", "ebb.core.nodes."))
    return fnmatch.fnmatch(name, pattern)


def load_equivalents(root: Path, area: str) -> list[Equivalent]:
    path = root / AREAS[area][1]
    if not path.exists():
        return []
    entries = tomllib.loads(path.read_text())["equivalent"]
    return [Equivalent(entry["mutant"], entry["line"].strip(), entry["why"]) for entry in entries]


def changed_lines(name: str, source: Path) -> list[str]:
    """The lines the mutant adds and removes, stripped."""
    diff = get_diff_for_mutant(name, path=source)
    return [
        line[1:].strip()
        for line in diff.splitlines()
        if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True, help="the repository (for the equivalent lists)")
    parser.add_argument("--survivors", action="store_true", help="print each surviving mutant's diff")
    parser.add_argument(
        "--only", help="score only the mutants whose names match one of these globs (space-separated)"
    )
    parser.add_argument("areas", nargs="+", choices=sorted(AREAS))
    args = parser.parse_args()

    everything = results()
    globs = None if args.only is None else args.only.split()

    def selected(name: str) -> bool:
        return globs is None or any(fnmatch.fnmatch(name, glob) for glob in globs)

    failed = False
    for area in args.areas:
        mine = {name: found for name, found in everything.items() if in_area(area, name) and selected(name)}
        equivalent: dict[str, Equivalent] = {}
        for entry in load_equivalents(args.root, area):
            if not selected(entry.mutant):
                continue
            found = mine.get(entry.mutant)
            if found is None or entry.line not in changed_lines(entry.mutant, found[0]):
                print(f"  stale equivalent entry (not set aside): {entry.mutant}: {entry.line}")
                failed = True
                continue
            equivalent[entry.mutant] = entry
        counted = {name: found for name, found in mine.items() if name not in equivalent}
        codes = Counter(code for _, code in counted.values())
        killed = sum(count for code, count in codes.items() if code in KILLED)
        survivors = sorted(name for name, (_, code) in counted.items() if code in SURVIVED)
        other = len(counted) - killed - len(survivors)
        rate = 100 * killed / len(counted) if counted else 0.0
        print(
            f"{area}: {rate:.1f} % killed ({killed} of {len(counted)}; {len(equivalent)} equivalent "
            f"set aside of {len(mine)} mutants; {len(survivors)} survived, {other} with no test or unchecked)"
        )
        for name in survivors:
            print(f"  survived: {name}")
            if args.survivors:
                print("    " + get_diff_for_mutant(name, path=counted[name][0]).replace("\n", "\n    "))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
