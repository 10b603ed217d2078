"""template.yaml's own alarms: the failure paths that would otherwise be silent have one, and
every one notifies the operator's SNS topic when the stack is given one.

Sources: Amazon SQS Developer Guide, "Available CloudWatch metrics for Amazon SQS"
(ApproximateNumberOfMessagesVisible, namespace AWS/SQS, dimension QueueName); AWS CloudFormation
User Guide, "AWS::CloudWatch::Alarm" (AlarmActions: a list of ARNs, an SNS topic among them) and
"Condition functions" (Fn::If with AWS::NoValue drops the property).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ebb.local.template_yaml import load_template

ROOT = Path(__file__).resolve().parents[2]


def _template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


def _alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }


@pytest.mark.parametrize(
    "queue",
    ["DecisionDeadLetterQueue", "SignalsDeadLetterQueue", "PollDeadLetterQueue", "RejectedEventsQueue"],
)
def test_a_message_in_a_failure_queue_sets_off_an_alarm(queue: str) -> None:
    watching = [
        properties
        for properties in _alarms(_template()).values()
        if properties.get("Namespace") == "AWS/SQS"
        and properties.get("Dimensions")
        == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]
    ]
    assert len(watching) == 1, f"{queue} has {len(watching)} alarms"
    alarm = watching[0]
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    # One visible message is enough: > 0 in any one minute.
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    assert (alarm["Statistic"], alarm["Period"], alarm["EvaluationPeriods"]) == ("Maximum", 60, 1)
    # An empty (or, after six idle hours, unpublished) queue's metric is no alarm.
    assert alarm["TreatMissingData"] == "notBreaching"


def test_every_template_alarm_notifies_the_alarm_topic_when_one_is_given() -> None:
    template = _template()
    assert template["Parameters"]["AlarmTopicArn"]["Default"] == ""
    assert template["Conditions"]["HasAlarmTopic"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]
    }
    alarms = _alarms(template)
    assert len(alarms) == 9
    for logical_id, properties in alarms.items():
        assert properties.get("AlarmActions") == {
            "Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]
        }, logical_id
