"""The stand-in works inside moto's Step Functions interpreter, which calls the service through its
own boto3 client on its own thread (an aws-sdk task, as `provision` may use one).

This module runs moto with real state machine execution (testing-aws-offline notes: executions run
on a background thread; poll describe_execution).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from hyperpod_testkit import REGION, create_cluster
from moto import mock_aws

from ebb.local.hyperpod import LocalHyperPod

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def aws() -> Iterator[None]:
    """moto with Step Functions executing state machines (overrides the package's plain mock)."""
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}):
        yield


def _run(stepfunctions: Any, machine_arn: str, name: str) -> dict[str, Any]:
    execution = stepfunctions.start_execution(stateMachineArn=machine_arn, name=name)
    deadline = time.monotonic() + 30
    while True:
        described: dict[str, Any] = stepfunctions.describe_execution(executionArn=execution["executionArn"])
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            return described
        time.sleep(0.02)


def test_an_aws_sdk_task_reaches_the_stand_in(client: SageMakerClient, hyperpod: LocalHyperPod) -> None:
    definition = {
        "StartAt": "Add",
        "States": {
            "Add": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:sagemaker:batchAddClusterNodes",
                "Parameters": {
                    "ClusterName": "inference",
                    "ClientToken.$": "$$.Execution.Name",
                    "NodesToAdd": [{"InstanceGroupName": "gpu", "IncrementTargetCountBy": 2}],
                },
                "ResultSelector": {"added.$": "$.Successful[*].NodeLogicalId"},
                "End": True,
            }
        },
    }
    create_cluster(client)
    stepfunctions = boto3.client("stepfunctions", region_name=REGION)
    machine = stepfunctions.create_state_machine(
        name="provision", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/sfn"
    )

    succeeded = _run(stepfunctions, machine["stateMachineArn"], "exec-ok")
    hyperpod.set_quota("ml.g6e.12xlarge", 2)
    refused = _run(stepfunctions, machine["stateMachineArn"], "exec-over-quota")

    assert succeeded["status"] == "SUCCEEDED"
    assert sorted(json.loads(succeeded["output"])["added"]) == sorted(hyperpod.cluster("inference").nodes)
    assert refused["status"] == "FAILED"
    assert refused["error"] == "sagemaker.ResourceLimitExceededException"
    assert "'ml.g6e.12xlarge for cluster usage' is 2 Instances" in refused["cause"]
