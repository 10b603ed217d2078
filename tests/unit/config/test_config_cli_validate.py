"""`ebb validate FILE...`: what a user sees, and the exit code CI relies on."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from ebb.cli.validate import EXIT_INVALID, EXIT_VALID, add_parser

EXAMPLE_FILES = [
    str(p)
    for p in sorted((Path(__file__).resolve().parents[3] / "examples" / "gpu-inference").glob("*.yaml"))
]


def _run(argv: list[str], width: int = 200) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="ebb")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    console = Console(record=True, width=width, color_system=None)
    code = args.run(args, console)
    return code, console.export_text()


def test_the_example_validates_and_is_summarised() -> None:
    code, output = _run(["validate", *EXAMPLE_FILES])
    assert code == EXIT_VALID
    assert output.startswith("Configuration is valid\n")
    for expected in (
        "HyperPod cluster ml-inference, EKS cluster ml-inference-eks, region us-east-1; shadow mode",
        "Scalers",
        "serving/llm-inference",
        "Deployment/batch-worker",
        "Triggers",
        "RequestCountPerTarget",
        "Node pools",
        "gpu-groups: gpu-g5-use1a, gpu-g6e-use1b",
        "Instance groups (prices: USD per hour, us-east-1, 2026-11-29)",
        "Which pods fit which groups",
        "4 per node",
    ):
        assert expected in output


def test_at_80_columns_a_table_that_does_not_fit_is_printed_as_one_block_per_row() -> None:
    # A pipe at 80 columns (`make demo | cat`): folded into that width, the tables' words were
    # split across cells ("ScaledObjec / t"); each row is printed as `header: value` lines
    # instead (a table that fits stays a table).
    code, output = _run(["validate", *EXAMPLE_FILES], width=80)
    assert code == EXIT_VALID
    assert "┃ ScaledObjec ┃" not in output  # the scalers' table, folded, began so
    assert "  serving/llm-inference\n    target: Deployment/llm-inference\n" in output
    assert "    replicas: 0..16, scales to zero\n" in output
    assert all(len(line) <= 80 for line in output.splitlines())
    # A long value wraps under itself, not at column 0 (it did: "ml.g6e.12xlarge" alone on a line).
    triggers = output[output.index("\nTriggers\n") : output.index("\nNode pools")]
    assert all(line.startswith("  ") for line in triggers.splitlines()[2:]), triggers
    assert "    what it reads: CloudWatch AWS/ApplicationELB RequestCountPerTarget\n        [" in triggers


def test_errors_are_listed_and_the_exit_code_is_non_zero(tmp_path: Path, docs: Any) -> None:
    docs.sqs_metadata["queueLength"] = "a"
    config = tmp_path / "config.yaml"
    config.write_text(docs.text())
    code, output = _run(["validate", str(config)])
    assert code == EXIT_INVALID
    assert output.splitlines() == [
        "Invalid configuration: 1 error",
        f"  ✗ {config}: document 1 (ScaledObject batch/batch-worker): "
        "spec.triggers[0].metadata.queueLength: 'a' is "
        'not an integer; allowed: a whole number such as "5"',
    ]


def test_notes_are_shown_after_the_summary(tmp_path: Path, docs: Any) -> None:
    docs.batch["spec"]["triggers"][0]["authenticationRef"] = {"name": "keda-aws"}
    config = tmp_path / "config.yaml"
    config.write_text(docs.text())
    code, output = _run(["validate", str(config)])
    assert code == EXIT_VALID
    assert output.splitlines()[-2:] == [
        "Notes (1)",
        f"  • {config}: document 1 (ScaledObject batch/batch-worker): spec.triggers[0].authenticationRef: "
        "ebb reads metrics with its own IAM role; KEDA's credential settings are not used",
    ]


def test_json_output_for_scripts(tmp_path: Path) -> None:
    code, output = _run(["validate", "--json", *EXAMPLE_FILES])
    assert code == EXIT_VALID
    payload = json.loads(output)
    assert (payload["valid"], payload["errors"], payload["notes"]) == (True, [], [])
    assert [s["name"] for s in payload["summary"]["scalers"]] == [
        "batch/batch-worker",
        "serving/llm-inference",
    ]
    missing = tmp_path / "missing.yaml"
    code, output = _run(["validate", "--json", str(missing)])
    assert code == EXIT_INVALID
    payload = json.loads(output)
    assert payload["valid"] is False
    assert payload["errors"][0]["text"] == f"{missing}: cannot be read: No such file or directory"


def test_at_least_one_file_is_required() -> None:
    with pytest.raises(SystemExit) as raised:
        _run(["validate"])
    assert raised.value.code == 2


def test_a_directory_stands_for_its_yaml_and_yml_files(tmp_path: Path) -> None:
    """`--config DIR` and EBB_CONFIG take a directory; so does validate (it used to say `Is a directory`)."""
    for index, source in enumerate(sorted(EXAMPLE_FILES)):
        suffix = ".yml" if index == 0 else ".yaml"
        (tmp_path / (Path(source).stem + suffix)).write_text(Path(source).read_text())
    (tmp_path / "README.md").write_text("not configuration")
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "broken.yaml").write_text("kind: [")

    code, output = _run(["validate", "--json", str(tmp_path)])

    assert code == EXIT_VALID, output
    assert json.loads(output)["valid"] is True
    empty = tmp_path / "nested" / "empty"
    empty.mkdir()
    code, output = _run(["validate", "--json", str(empty)])
    assert code == EXIT_INVALID
    assert json.loads(output)["errors"][0]["text"] == (
        f"{empty}: is a directory without configuration files (*.yaml, *.yml)"
    )


def test_quiet_prints_one_line_when_valid_and_every_error_when_not(tmp_path: Path, docs: Any) -> None:
    # The config layer's build runs `ebb validate --quiet` (layers/config/Makefile): one line in the
    # build log, at 80 columns, and the full list of errors when the build must fail.
    code, output = _run(["validate", "--quiet", *EXAMPLE_FILES], width=80)
    assert code == EXIT_VALID
    assert output == "configuration valid: ClusterBinding gpu-inference, 2 scaler(s), 1 NodePool(s)\n"
    docs.batch["spec"]["triggers"][0]["authenticationRef"] = {"name": "keda-aws"}
    noted = tmp_path / "noted.yaml"
    noted.write_text(docs.text())
    assert _run(["validate", "--quiet", str(noted)])[1] == (
        "configuration valid: ClusterBinding gpu-inference, 2 scaler(s), 1 NodePool(s), 1 note(s) "
        "(ebb validate without --quiet shows them)\n"
    )
    docs.sqs_metadata["queueLength"] = "a"
    broken = tmp_path / "broken.yaml"
    broken.write_text(docs.text())
    code, output = _run(["validate", "--quiet", str(broken)])
    assert code == EXIT_INVALID
    assert output.splitlines()[:2] == [
        "Invalid configuration: 1 error",
        f"  ✗ {broken}: document 1 (ScaledObject batch/batch-worker): "
        "spec.triggers[0].metadata.queueLength: 'a' is "
        'not an integer; allowed: a whole number such as "5"',
    ]
