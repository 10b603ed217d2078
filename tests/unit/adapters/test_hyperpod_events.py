"""HyperPod cluster events, as ListClusterEvents and EventBridge deliver them.

The record below is built after the complete sample of "SageMaker HyperPod cluster events
reference" (https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-hyperpod-cluster-events-reference.html,
"Cluster event record"): the EventBridge envelope, EventTime in epoch milliseconds, and the
insufficient-capacity failure under EventDetails.EventMetadata.Instance. Replacement descriptions
follow its "Instance replacement" table.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from ebb.adapters.hyperpod_events import (
    CLUSTER_EVENT_DETAIL_TYPE,
    ClusterEvent,
    ClusterEventNotification,
    replacements_in_progress,
)

ARN = "arn:aws:sagemaker:us-west-2:111122223333:cluster/abcdef123456"


def _capacity_failure_event() -> dict[str, Any]:
    return {
        "version": "0",
        "id": "0bd4a141-0a02-9d8a-f977-3924c3fb259c",
        "detail-type": "SageMaker HyperPod Cluster Event",
        "source": "aws.sagemaker",
        "account": "111122223333",
        "time": "2026-06-01T17:20:25Z",
        "region": "us-west-2",
        "resources": [ARN],
        "detail": {
            "EventDetails": {
                "EventId": "83ea0bb5-be77-45e8-a458-0a87f778a205",
                "ClusterArn": ARN,
                "ClusterName": "sample-cluster",
                "InstanceGroupName": "p5Inst",
                "InstanceId": "i-0391f86fa0fe0d465",
                "ResourceType": "Instance",
                "EventTime": 1748794825350,
                "EventLevel": "Error",
                "Description": "Instance creation in Cluster sample-cluster and InstanceGroup p5Inst failed",
                "EventDetails": {
                    "EventMetadata": {
                        "Instance": {
                            "FailureMessage": "We currently do not have sufficient capacity to launch new "
                            "ml.p5.48xlarge instances. Please try again.",
                            "NodeLogicalId": "df268d19-f035-4f28-9b80-b956b92ae21e",
                        }
                    }
                },
            }
        },
    }


def test_the_eventbridge_record_of_a_capacity_failure_is_read() -> None:
    notification = ClusterEventNotification.model_validate(_capacity_failure_event())

    event = notification.event
    assert notification.detail_type == CLUSTER_EVENT_DETAIL_TYPE
    assert event.time == datetime(2025, 6, 1, 16, 20, 25, 350000, tzinfo=UTC)
    assert (event.instance_group, event.instance_id, event.level) == (
        "p5Inst",
        "i-0391f86fa0fe0d465",
        "Error",
    )
    assert event.logical_id == "df268d19-f035-4f28-9b80-b956b92ae21e"
    assert event.reports_insufficient_capacity


def test_an_event_of_another_detail_type_is_refused() -> None:
    record = _capacity_failure_event()
    record["detail-type"] = "SageMaker HyperPod Cluster State Change"

    with pytest.raises(ValidationError, match="detail-type"):
        ClusterEventNotification.model_validate(record)


def test_eventbridge_event_time_may_be_a_string_of_milliseconds() -> None:
    record = _capacity_failure_event()["detail"]["EventDetails"]
    record["EventTime"] = "1748794825350"

    assert ClusterEvent.model_validate(record).time == datetime(2025, 6, 1, 16, 20, 25, 350000, tzinfo=UTC)


def _summary(description: str, minutes: int, instance_id: str | None = None) -> ClusterEvent:
    return ClusterEvent.model_validate(
        {
            "EventId": f"83ea0bb5-be77-45e8-a458-{minutes:012x}",
            "ClusterArn": ARN,
            "ClusterName": "c",
            "InstanceGroupName": "g",
            "InstanceId": instance_id,
            "ResourceType": "Instance",
            "EventTime": datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes),
            "EventLevel": "Info",
            "Description": description,
        }
    )


def test_replacements_in_progress_follow_the_replacement_events() -> None:
    started_a = (
        "Instance i-0aaaaaaaaaaaaaaaa is starting as part of instance replacement in Cluster c and IG g"
    )
    started_b = (
        "Instance i-0bbbbbbbbbbbbbbbb is starting as part of instance replacement in Cluster c and IG g"
    )
    done_a = (
        "Instance i-0aaaaaaaaaaaaaaaa Replace completed successfully as part of instance replacement "
        "in Cluster c and IG g"
    )
    failed_b = (
        "Instance i-0bbbbbbbbbbbbbbbb failed to start as part of instance replacement in Cluster c and IG g"
    )
    other = "EC2 Instance i-0ccccccccccccccccc successfully provisioned in Cluster c and IG g"

    events = [_summary(started_a, 1), _summary(started_b, 2), _summary(other, 3)]
    assert replacements_in_progress(events) == {"i-0aaaaaaaaaaaaaaaa", "i-0bbbbbbbbbbbbbbbb"}
    # Order is by event time, not by list position.
    assert replacements_in_progress([_summary(done_a, 5), *events]) == {"i-0bbbbbbbbbbbbbbbb"}
    assert replacements_in_progress([*events, _summary(done_a, 5), _summary(failed_b, 6)]) == frozenset()


@pytest.mark.parametrize(
    ("description", "instance"),
    [
        # The "EC2 instance termination in progress" row (Instance deletion).
        (
            "Termination of EC2 Instance i-0391f86fa0fe0d465 is currently in progress in Cluster "
            "sample-cluster and IG p5Inst",
            "i-0391f86fa0fe0d465",
        ),
        # "EC2 instance termination failed", "Customer ENI deleted": other rows, not a termination.
        (
            "Failed to terminate EC2 Instance i-0391f86fa0fe0d465 in Cluster sample-cluster and IG p5Inst",
            None,
        ),
        (
            "Customer ENI successfully deleted for EC2 Instance i-0391f86fa0fe0d465 in Cluster "
            "sample-cluster and IG p5Inst",
            None,
        ),
        (None, None),
    ],
)
def test_a_termination_in_progress_names_its_instance(description: str | None, instance: str | None) -> None:
    record = _capacity_failure_event()["detail"]["EventDetails"]
    event = ClusterEvent.model_validate({**record, "EventLevel": "Info", "Description": description})
    assert event.terminating_instance == instance
