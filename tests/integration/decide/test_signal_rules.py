"""template.yaml's EventBridge rules match the signals they must, and nothing else.

The patterns are matched by moto's EventBridge pattern engine (`EventPattern.matches_event`),
against the fixtures in events/ (real shapes: CloudWatch User Guide, "Alarm events and
EventBridge"; SageMaker HyperPod cluster events reference).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from moto.events.models import EventPattern

from ebb.local.stack_model import read_stack

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
EVENTS = ROOT / "events"


def _rules(stack_name: str = "ebb") -> dict[str, Any]:
    stack = read_stack(
        ROOT / "template.yaml",
        stack_name=stack_name,
        region="us-east-1",
        account_id="123456789012",
        parameters={
            "HyperPodClusterName": "ml-inference",
            "HyperPodClusterArn": "arn:aws:sagemaker:us-east-1:123456789012:cluster/abcdef012345",
            "EksClusterName": "ml-inference-eks",
        },
    )
    return {name: json.loads(rule.event_pattern) for name, rule in stack.rules.items() if rule.event_pattern}


def _event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return loaded


def _matching(event: dict[str, Any], rules: dict[str, Any]) -> list[str]:
    return sorted(
        name for name, pattern in rules.items() if EventPattern.load(json.dumps(pattern)).matches_event(event)
    )


def test_each_signal_fixture_matches_exactly_its_rule() -> None:
    rules = _rules()
    assert _matching(_event("alarm-state-change.json"), rules) == ["SignalsFunctionAlarmStateChanges"]
    assert _matching(_event("hyperpod-cluster-event-capacity.json"), rules) == [
        "SignalsFunctionHyperPodClusterEvents"
    ]
    assert _matching(_event("hyperpod-cluster-event-spot-termination.json"), rules) == [
        "SignalsFunctionHyperPodClusterEvents"
    ]


def test_no_other_spot_or_hyperpod_event_matches_a_rule() -> None:
    # What a Spot interruption looks like elsewhere: EC2's warning (Amazon EC2 User Guide, "Spot
    # Instance interruption notices"; it goes to the instance owner's account, not the cluster
    # owner's) and HyperPod's two other detail types (the events reference's "EventBridge
    # integration"): none of them wakes ebb; only "SageMaker HyperPod Cluster Event" does.
    rules = _rules()
    termination = _event("hyperpod-cluster-event-spot-termination.json")
    warning = {
        **termination,
        "source": "aws.ec2",
        "detail-type": "EC2 Spot Instance Interruption Warning",
        "resources": ["arn:aws:ec2:us-east-1a:instance/i-0f1e2d3c4b5a69788"],
        "detail": {"instance-id": "i-0f1e2d3c4b5a69788", "instance-action": "terminate"},
    }
    assert _matching(warning, rules) == []
    for detail_type in (
        "SageMaker HyperPod Cluster State Change",
        "SageMaker HyperPod Cluster Node Health Event",
    ):
        assert _matching({**termination, "detail-type": detail_type}, rules) == []


def test_alarms_of_other_stacks_and_events_of_other_clusters_match_no_rule() -> None:
    rules = _rules()
    alarm = copy.deepcopy(_event("alarm-state-change.json"))
    alarm["detail"]["alarmName"] = "ServerCpuTooHigh"  # an alarm ebb does not own
    assert _matching(alarm, rules) == []
    other_stack = copy.deepcopy(_event("alarm-state-change.json"))
    assert _matching(other_stack, _rules(stack_name="ebb-staging")) == []
    hyperpod = copy.deepcopy(_event("hyperpod-cluster-event-capacity.json"))
    hyperpod["detail"]["EventDetails"]["ClusterName"] = "training"
    assert _matching(hyperpod, rules) == []
    ec2 = {
        **_event("alarm-state-change.json"),
        "source": "aws.ec2",
        "detail-type": "EC2 Instance State-change",
    }
    assert _matching(ec2, rules) == []
