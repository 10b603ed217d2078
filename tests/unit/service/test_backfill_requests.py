"""Backfill requests: the schema's own rules, the checks against the configuration, and what
`ebb backfill` builds and names from its options (all before anything is sent or changed)."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from rich.console import Console

from ebb.cli.backfill import RequestError, build_request, execution_name, load_configuration, run_backfill
from ebb.cli.main import build_parser
from ebb.cli.stack_target import PROVISION_STATE_MACHINE, StackTargetError
from ebb.config import EbbConfig, load_config_files
from ebb.service.backfill import backfill_floor, check_against_configuration
from ebb.service.provisioning import InvalidProvisioningRequest, validate_request
from ebb.service.provisioning_request import BackfillCancelRequest, BackfillRequest

ROOT = Path(__file__).resolve().parents[3]
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
UNTIL = "2026-12-03T18:00:00Z"


@pytest.fixture(scope="module")
def config() -> EbbConfig:
    return load_config_files(sorted((ROOT / "examples" / "gpu-inference").glob("*.yaml")))


def _backfill(**fields: object) -> BackfillRequest:
    request = validate_request({"kind": "backfill", "nodePool": "gpu", "until": UNTIL, **fields})
    assert isinstance(request, BackfillRequest)
    return request


def test_a_backfill_must_floor_something_once_per_scaler() -> None:
    with pytest.raises(
        InvalidProvisioningRequest,
        match=r"^provisioning request: backfill: Value error, give at least one floor: "
        r"nodes, groupNodes or replicas$",
    ):
        validate_request({"kind": "backfill", "nodePool": "gpu", "until": UNTIL})
    twice = [{"scaler": "batch/batch-worker", "replicas": 1}, {"scaler": "batch/batch-worker", "replicas": 2}]
    with pytest.raises(
        InvalidProvisioningRequest, match=r"replicas: scaler\(s\) batch/batch-worker given more than once"
    ):
        validate_request({"kind": "backfill", "nodePool": "gpu", "until": UNTIL, "replicas": twice})


def test_an_unknown_kind_is_blamed_on_kind_with_the_kinds_allowed() -> None:
    with pytest.raises(InvalidProvisioningRequest) as raised:
        validate_request({"kind": "refill", "nodePool": "gpu"})
    assert type(raised.value) is InvalidProvisioningRequest
    assert str(raised.value) == (
        "provisioning request: kind: Input tag 'refill' found using 'kind' does not match any of the "
        "expected tags: 'decision', 'backfill', 'backfill-cancel'"
    )


def test_a_cancellation_names_only_its_pool() -> None:
    cancel = validate_request(json.loads((ROOT / "events" / "backfill-cancel-request.json").read_text()))
    assert cancel == BackfillCancelRequest(node_pool="gpu")
    with pytest.raises(
        InvalidProvisioningRequest, match=r"backfill-cancel\.nodes: Extra inputs are not permitted"
    ):
        validate_request({"kind": "backfill-cancel", "nodePool": "gpu", "nodes": 2})


def test_the_configuration_checks_name_every_field_and_what_is_allowed(config: EbbConfig) -> None:
    request = _backfill(
        nodes=9,
        groupNodes={"gpu-p5": 1, "gpu-g5-use1a": 8},
        replicas=[
            {"scaler": "batch/unknown", "replicas": 1},
            {"scaler": "batch/batch-worker", "replicas": 9},
        ],
    )
    with pytest.raises(InvalidProvisioningRequest) as raised:
        check_against_configuration(request, config, NOW)
    assert str(raised.value).split("; ") == [
        "provisioning request: backfill.groupNodes.gpu-p5: not an instance group of node pool 'gpu' "
        "(allowed: gpu-g5-use1a, gpu-g6e-use1b)",
        "backfill.nodes: 9 is above node pool 'gpu''s limits.nodes (allowed: 0 to 8)",
        "backfill.groupNodes: 9 nodes in all is above node pool 'gpu''s limits.nodes "
        "(allowed: at most 8 together)",
        "backfill.replicas.0.scaler: 'batch/unknown' is not a scaler of node pool 'gpu' "
        "(allowed: batch/batch-worker, serving/llm-inference)",
        "backfill.replicas.1.replicas: 9 is above batch/batch-worker's maxReplicaCount (allowed: 0 to 8)",
    ]


def test_a_window_that_has_ended_and_an_unknown_pool_are_refused(config: EbbConfig) -> None:
    late = NOW + timedelta(hours=7)
    with pytest.raises(
        InvalidProvisioningRequest, match=r"backfill\.until: 2026-12-03T18:00:00\+00:00 has passed"
    ):
        check_against_configuration(_backfill(nodes=1), config, late)
    cancel = BackfillCancelRequest(node_pool="cpu")
    with pytest.raises(
        InvalidProvisioningRequest,
        match=r"backfill-cancel\.nodePool: 'cpu' is not a NodePool of the configuration \(allowed: gpu\)",
    ):
        check_against_configuration(cancel, config, NOW)
    check_against_configuration(
        _backfill(nodes=8, replicas=[{"scaler": "batch/batch-worker", "replicas": 8}]), config, NOW
    )


def test_a_floor_without_a_name_is_named_after_its_execution() -> None:
    floor = backfill_floor(
        _backfill(nodes=2), "arn:aws:states:us-east-1:1:execution:ebb-provision:backfill-gpu-x"
    )
    assert floor.name == "backfill-gpu-x"
    assert backfill_floor(_backfill(nodes=2, name="nightly"), "arn:...:y").name == "nightly"


def _args(*options: str) -> argparse.Namespace:
    return build_parser().parse_args(["backfill", *options])


def test_the_command_builds_the_schemas_request_and_names_it_by_its_content() -> None:
    args = _args(
        "--nodepool",
        "gpu",
        "--nodes",
        "3",
        "--group-nodes",
        "gpu-g6e-use1b=1",
        "--scaler",
        "batch/batch-worker",
        "--replicas",
        "6",
        "--until",
        UNTIL,
    )
    execution_input, name = build_request(args, NOW)
    assert execution_input == {
        "schemaVersion": 1,
        "kind": "backfill",
        "nodePool": "gpu",
        "nodes": 3,
        "groupNodes": {"gpu-g6e-use1b": 1},
        "replicas": [{"scaler": "batch/batch-worker", "replicas": 6}],
        "until": UNTIL,
    }
    # The same request gives the same name (later too), another one another name.
    assert build_request(args, NOW + timedelta(hours=1))[1] == name
    assert name.startswith("backfill-gpu-")
    assert len(name) == len("backfill-gpu-") + 12
    other = _args("--nodepool", "gpu", "--nodes", "4", "--until", UNTIL)
    assert build_request(other, NOW)[1] != name
    named = _args("--nodepool", "gpu", "--nodes", "4", "--until", UNTIL, "--name", "nightly")
    assert build_request(named, NOW) == (
        {
            "schemaVersion": 1,
            "kind": "backfill",
            "nodePool": "gpu",
            "name": "nightly",
            "nodes": 4,
            "groupNodes": {},
            "replicas": [],
            "until": UNTIL,
        },
        "backfill-gpu-nightly",
    )


def test_a_cancellation_without_a_name_is_named_per_minute() -> None:
    args = _args("--cancel", "--nodepool", "gpu")
    _, name = build_request(args, NOW)
    assert name.startswith("cancel-gpu-")
    assert build_request(args, NOW + timedelta(seconds=30))[1] == name
    assert build_request(args, NOW + timedelta(minutes=1))[1] != name


def test_execution_names_fit_80_characters() -> None:
    long_pool = "a" * 200
    name = execution_name({"kind": "backfill", "nodePool": long_pool}, "x" * 40, NOW)
    assert len(name) == 80
    assert name.startswith("backfill-aaa")
    assert name.endswith("-" + "x" * 40)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--nodepool", "gpu", "--nodes", "2"), "--until: required (allowed: an ISO 8601 time with a zone"),
        (
            ("--nodepool", "gpu", "--scaler", "batch/batch-worker", "--until", UNTIL),
            "--scaler/--replicas: 1 scaler(s) and 0 replica floor(s) "
            "(allowed: each --scaler followed by its --replicas)",
        ),
        (
            ("--nodepool", "gpu", "--group-nodes", "gpu-g5-use1a", "--until", UNTIL),
            "--group-nodes: 'gpu-g5-use1a' (allowed: GROUP=N, e.g. gpu-g5-use1a=2)",
        ),
        (
            ("--nodepool", "gpu", "--group-nodes", "g=two", "--until", UNTIL),
            "--group-nodes: 'g=two': N must be a whole number (allowed: GROUP=N)",
        ),
        (
            ("--cancel", "--nodepool", "gpu", "--nodes", "2"),
            "--nodes: not with --cancel (allowed: --nodepool, --name)",
        ),
        (
            ("--cancel", "--nodepool", "gpu", "--name", "x" * 41),
            "--name: String should have at most 40 characters",
        ),
        (
            ("--nodepool", "gpu", "--nodes", "1", "--until", "2026-12-03T18:00:00"),
            "backfill.until (--until): Input should have timezone info",
        ),
        (
            ("--nodepool", "gpu", "--nodes", "1", "--until", UNTIL, "--name", "Night Shift"),
            "backfill.name (--name): String should match pattern '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'",
        ),
    ],
)
def test_the_command_refuses_bad_options_naming_the_option_and_what_is_allowed(
    options: tuple[str, ...], message: str
) -> None:
    with pytest.raises(RequestError) as raised:
        build_request(_args(*options), NOW)
    assert message in str(raised.value)


def test_the_state_machine_comes_from_the_stacks_output() -> None:
    # The response shape is checked by botocore's Stubber against the CloudFormation service model.
    session = boto3.Session(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    client = session.client("cloudformation")
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:ebb-provision"
    stacks = [
        {
            "StackName": "ebb",
            "CreationTime": NOW,
            "StackStatus": "CREATE_COMPLETE",
            "Outputs": [{"OutputKey": "ProvisionStateMachineArn", "OutputValue": arn}],
        }
    ]
    bare = [{"StackName": "other", "CreationTime": NOW, "StackStatus": "CREATE_COMPLETE", "Outputs": []}]

    class OneClient:
        def client(self, service: str) -> object:
            assert service == "cloudformation"
            return client

    with Stubber(client) as stubber:
        stubber.add_response("describe_stacks", {"Stacks": stacks}, {"StackName": "ebb"})
        stubber.add_response("describe_stacks", {"Stacks": bare}, {"StackName": "other"})
        assert (
            PROVISION_STATE_MACHINE.resolve(_args("--nodepool", "gpu", "--stack", "ebb"), OneClient()) == arn
        )
        with pytest.raises(
            StackTargetError,
            match=r"--stack: stack 'other' has no ProvisionStateMachineArn output "
            r"\(give --state-machine-arn\)",
        ):
            PROVISION_STATE_MACHINE.resolve(_args("--nodepool", "gpu", "--stack", "other"), OneClient())


def test_with_the_configuration_the_command_refuses_what_the_workflow_would(tmp_path: Path) -> None:
    # The same checks as the workflow's (`check_against_configuration`), before anything is sent.
    examples = str(ROOT / "examples" / "gpu-inference")
    args = _args("--nodepool", "gpu", "--group-nodes", "gpu-p5=1", "--until", UNTIL, "--config", examples)
    with pytest.raises(RequestError) as raised:
        build_request(args, NOW, load_configuration(args.config))
    assert str(raised.value) == (
        "backfill.groupNodes.gpu-p5 (--group-nodes): not an instance group of node pool 'gpu' "
        "(allowed: gpu-g5-use1a, gpu-g6e-use1b)"
    )
    # Without the configuration the schema alone accepts it.
    assert build_request(_args("--nodepool", "gpu", "--group-nodes", "gpu-p5=1", "--until", UNTIL), NOW)
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: x}\n")
    with pytest.raises(RequestError, match=rf"^--config {broken}: invalid configuration \("):
        load_configuration(broken)


def test_a_dry_run_says_what_it_checked(capsys: pytest.CaptureFixture[str]) -> None:
    console = Console(highlight=False, width=80)
    options = ("--nodepool", "gpu", "--nodes", "2", "--until", UNTIL, "--dry-run")
    assert (
        run_backfill(
            _args(*options, "--config", str(ROOT / "examples" / "gpu-inference")), console, clock=lambda: NOW
        )
        == 0
    )
    assert "schema only" not in capsys.readouterr().out
    assert run_backfill(_args(*options), console, clock=lambda: NOW) == 0
    assert "checked against the request's schema only: give --config DIR" in capsys.readouterr().out
