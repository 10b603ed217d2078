"""template.yaml's IAM: what the README claims of it holds.

Sources: Service Authorization Reference, "Actions, resources, and condition keys for Amazon
SageMaker" (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemaker.html:
the `cluster` resource type, arn:${Partition}:sagemaker:${Region}:${Account}:cluster/${ClusterId}),
"... for Amazon CloudWatch" (GetMetricData, DescribeAlarms and PutMetricData list no resource
type), "... for AWS Step Functions" (SendTaskSuccess lists none), and the Step Functions Developer
Guide, "IAM policies for logging to CloudWatch Logs" (the log-delivery actions take "*"). A
HyperPod cluster's ARN pattern is botocore's SageMaker service model's `ClusterArn` shape.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session

from ebb.local.template_yaml import load_template

ROOT = Path(__file__).resolve().parents[2]
WITHOUT_RESOURCE_TYPES = {
    "cloudwatch:GetMetricData",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:PutMetricData",
    "states:SendTaskSuccess",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}
"""Actions whose Service Authorization Reference entry lists no resource type: "*" is the only
resource they take."""
CLUSTER_ARN = {"Ref": "HyperPodClusterArn"}


def _statements() -> Iterator[tuple[str, dict[str, Any]]]:
    """Every inline statement of every function's and state machine's Policies."""
    for logical_id, resource in load_template(ROOT / "template.yaml")["Resources"].items():
        for policy in resource.get("Properties", {}).get("Policies", []) or []:
            if isinstance(policy, dict) and "Statement" in policy:
                for statement in policy["Statement"]:
                    yield logical_id, statement


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def test_only_actions_that_take_no_resource_type_are_allowed_on_every_resource() -> None:
    starred = {
        (logical_id, action)
        for logical_id, statement in _statements()
        if statement["Resource"] == "*"
        for action in _actions(statement)
    }
    assert starred
    assert {action for _, action in starred} <= WITHOUT_RESOURCE_TYPES, sorted(starred)


def test_putmetricdata_on_every_resource_is_held_to_ebbs_namespace() -> None:
    for logical_id, statement in _statements():
        if "cloudwatch:PutMetricData" in _actions(statement):
            assert statement["Condition"] == {"StringEquals": {"cloudwatch:namespace": "ebb"}}, logical_id


def test_nodes_are_added_and_deleted_in_the_stacks_cluster_only() -> None:
    scoped = {
        (logical_id, action)
        for logical_id, statement in _statements()
        for action in _actions(statement)
        if action in {"sagemaker:BatchAddClusterNodes", "sagemaker:BatchDeleteClusterNodes"}
        and statement["Resource"] == CLUSTER_ARN
    }
    unscoped = {
        (logical_id, action)
        for logical_id, statement in _statements()
        for action in _actions(statement)
        if action.startswith("sagemaker:Batch") and statement["Resource"] != CLUSTER_ARN
    }
    assert not unscoped
    assert scoped == {
        ("ProvisionRoundFunction", "sagemaker:BatchAddClusterNodes"),
        ("ProvisionRoundFunction", "sagemaker:BatchDeleteClusterNodes"),
        ("ScaleInStepFunction", "sagemaker:BatchDeleteClusterNodes"),
    }


def test_the_cluster_arn_parameter_takes_a_hyperpod_cluster_arn_and_nothing_else() -> None:
    parameter = load_template(ROOT / "template.yaml")["Parameters"]["HyperPodClusterArn"]
    assert "Default" not in parameter  # every deployment names its own cluster
    botocore_pattern = (
        botocore.session.get_session()
        .get_service_model("sagemaker")
        .shape_for("ClusterArn")
        .metadata["pattern"]
    )
    assert parameter["AllowedPattern"] == f"^{botocore_pattern}$"
    pattern = re.compile(parameter["AllowedPattern"])
    assert pattern.fullmatch("arn:aws:sagemaker:us-east-1:123456789012:cluster/a1b2c3d4e5f6")
    # A cluster's name where its id belongs, or a wildcard, is refused.
    assert not pattern.fullmatch("arn:aws:sagemaker:us-east-1:123456789012:cluster/ml-inference")
    assert not pattern.fullmatch("arn:aws:sagemaker:us-east-1:123456789012:cluster/*")
