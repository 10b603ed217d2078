"""The configuration bundled as JSON at build time equals the YAML it was made from.

The functions read the bundle (`ebb validate --bundle`, run by the config layer's build) instead
of importing PyYAML and parsing YAML at their cold start; the YAML files stay the source of truth,
so each case compares against PyYAML's own `safe_load_all` of the same files or against the
configuration loaded from the YAML.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from ebb.cli.validate import EXIT_INVALID, EXIT_VALID, add_parser
from ebb.config.bundle import BUNDLE_NAME, bundle_files
from ebb.errors import ConfigError
from ebb.service.configuration import load_bundled_config

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "gpu-inference"


def _validate(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ebb")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.run(args, Console(record=True, width=200, color_system=None))
    return code


def _bundled_example(tmp_path: Path) -> Path:
    directory = tmp_path / "ebb-config"
    shutil.copytree(EXAMPLE, directory)
    files = [str(path) for path in sorted(directory.glob("*.yaml"))]
    assert _validate(["validate", "--bundle", str(directory / BUNDLE_NAME), *files]) == EXIT_VALID
    return directory


def test_the_bundle_holds_every_document_as_pyyaml_parses_it_in_load_order(tmp_path: Path) -> None:
    directory = _bundled_example(tmp_path)
    bundle = json.loads((directory / BUNDLE_NAME).read_text(encoding="utf-8"))
    expected = [
        {"file": path.name, "index": index, "body": body}
        for path in sorted(EXAMPLE.glob("*.yaml"))
        for index, body in enumerate(yaml.safe_load_all(path.read_text(encoding="utf-8")), start=1)
        if body is not None
    ]
    assert bundle["documents"] == expected
    assert len(expected) >= 4  # the binding, the node pool, two scaled objects at least


def test_a_function_loads_the_same_configuration_and_version_from_the_bundle(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    shutil.copytree(EXAMPLE, plain)
    from_yaml = load_bundled_config(plain)
    bundled = _bundled_example(tmp_path)
    # Same directory name for both loads: the files' paths appear in the configuration's notes.
    shutil.rmtree(plain)
    bundled.rename(plain)
    from_bundle = load_bundled_config(plain)
    assert (plain / BUNDLE_NAME).exists()
    assert from_bundle.config == from_yaml.config
    assert from_bundle.version == from_yaml.version


def test_a_bundle_left_from_other_files_is_refused(tmp_path: Path) -> None:
    directory = _bundled_example(tmp_path)
    binding = directory / "cluster-binding.yaml"
    binding.write_text(binding.read_text(encoding="utf-8") + "\n# edited after the build\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"config\.json: built from other files than the 4 YAML file\(s\)"):
        load_bundled_config(directory)


def test_a_bundle_of_another_format_is_refused(tmp_path: Path) -> None:
    directory = _bundled_example(tmp_path)
    (directory / BUNDLE_NAME).write_text(json.dumps({"format": 0, "documents": []}), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"config\.json: built from other files"):
        load_bundled_config(directory)
    (directory / BUNDLE_NAME).write_text("[]", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"config\.json: not a configuration bundle of format 1"):
        load_bundled_config(directory)


def test_a_value_json_cannot_carry_unchanged_is_refused_when_bundling(tmp_path: Path) -> None:
    # YAML 1.1 reads an unquoted date as a date and `1: x` with an integer key; JSON has neither.
    dated = tmp_path / "dated.yaml"
    dated.write_text("kind: Note\nmetadata: {name: n, annotations: {built: 2026-12-03}}\n", encoding="utf-8")
    dated_error = r"a configuration value of type date \(datetime\.date\(2026, 12, 3\)\)"
    with pytest.raises(ConfigError, match=dated_error):
        bundle_files([dated])
    keyed = tmp_path / "keyed.yaml"
    keyed.write_text("kind: Note\nports: {1: x}\n", encoding="utf-8")
    keyed_error = r"keyed\.yaml: document 1 holds a value JSON cannot carry unchanged"
    with pytest.raises(ConfigError, match=keyed_error):
        bundle_files([keyed])


def test_an_invalid_configuration_writes_no_bundle(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: ebb.dev/v1alpha1\nkind: ClusterBinding\n", encoding="utf-8")
    target = tmp_path / BUNDLE_NAME
    assert _validate(["validate", "--bundle", str(target), str(broken)]) == EXIT_INVALID
    assert not target.exists()
