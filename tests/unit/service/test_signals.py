"""Signals: each real event shape parsed and routed to its pools; anything else refused clearly."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from ebb.config import EbbConfig, load_config_files
from ebb.errors import InvalidEvent
from ebb.local.spot_example import write_spot_example
from ebb.service.signals import (
    AlarmStateChange,
    HyperPodClusterEvent,
    IdleTimerFired,
    Tick,
    alarm_name,
    parse_signal,
    route,
)

ROOT = Path(__file__).resolve().parents[3]
EVENTS = ROOT / "events"


@pytest.fixture(scope="module")
def config() -> EbbConfig:
    return load_config_files(sorted((ROOT / "examples" / "gpu-inference").glob("*.yaml")))


def _event(name: str) -> Any:
    return json.loads((EVENTS / name).read_text())


@pytest.mark.parametrize(
    ("fixture", "kind"),
    [
        ("alarm-state-change.json", AlarmStateChange),
        ("hyperpod-cluster-event-capacity.json", HyperPodClusterEvent),
        ("hyperpod-cluster-event-spot-termination.json", HyperPodClusterEvent),
        ("tick.json", Tick),
        ("idle-timer.json", IdleTimerFired),
    ],
)
def test_every_signal_fixture_parses_as_its_kind(fixture: str, kind: type) -> None:
    assert type(parse_signal(_event(fixture))) is kind


def test_the_alarm_wakes_its_scalers_pool_and_the_tick_every_pool(config: EbbConfig) -> None:
    alarm = route(
        parse_signal(_event("alarm-state-change.json")), config, alarm_prefix="ebb", cluster_arn=None
    )
    assert [(m.node_pool, m.reason, m.body["state"]) for m in alarm] == [("gpu", "alarm", "ALARM")]
    tick = route(parse_signal(_event("tick.json")), config, alarm_prefix="ebb", cluster_arn=None)
    assert [(m.node_pool, m.event_id) for m in tick] == [("gpu", "tick:4f2d0c8e9b7a6f5e")]


def test_one_event_gives_each_pool_its_own_deduplication_id(config: EbbConfig) -> None:
    # SQS FIFO deduplicates queue-wide by default: an id of the event alone would drop the other
    # pools' messages (SQS Developer Guide, "Exactly-once processing in Amazon SQS").
    (gpu,) = route(parse_signal(_event("tick.json")), config, alarm_prefix="ebb", cluster_arn=None)
    other = type(gpu)("cpu", gpu.event_id, gpu.reason, gpu.body)
    assert gpu.deduplication_id != other.deduplication_id
    assert gpu.deduplication_id == type(gpu)("gpu", gpu.event_id, "tick", {}).deduplication_id


def test_a_hyperpod_event_wakes_the_pool_of_its_group(config: EbbConfig) -> None:
    event = _event("hyperpod-cluster-event-capacity.json")
    arn = event["detail"]["EventDetails"]["ClusterArn"]
    (message,) = route(parse_signal(event), config, alarm_prefix="ebb", cluster_arn=arn)
    assert (message.node_pool, message.body["instanceGroup"]) == ("gpu", "gpu-g5-use1a")
    with pytest.raises(
        InvalidEvent, match=r"not of ebb's cluster arn:aws:sagemaker:us-east-1:123456789012:cluster/x"
    ):
        route(
            parse_signal(event),
            config,
            alarm_prefix="ebb",
            cluster_arn="arn:aws:sagemaker:us-east-1:123456789012:cluster/x",
        )


def test_a_malformed_alarm_names_the_field() -> None:
    with pytest.raises(
        InvalidEvent, match=r"'CloudWatch Alarm State Change'.*detail\.state\.value"
    ) as raised:
        parse_signal(_event("malformed-alarm-state-change.json"))
    assert type(raised.value) is InvalidEvent


def test_anything_else_is_refused(config: EbbConfig) -> None:
    with pytest.raises(InvalidEvent, match="does not have the expected shape"):
        parse_signal({"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification"})
    with pytest.raises(InvalidEvent, match="must be a JSON object, got list"):
        parse_signal([1, 2])
    alarm = copy.deepcopy(_event("alarm-state-change.json"))
    alarm["detail"]["alarmName"] = alarm_name("ebb", "serving/gone", "requests")
    with pytest.raises(
        InvalidEvent, match=r"alarm 'ebb\.[0-9a-f]{12}\.requests' is not one the configuration implies"
    ):
        route(parse_signal(alarm), config, alarm_prefix="ebb", cluster_arn=None)
    timer = {**_event("idle-timer.json"), "scaler": "batch/retired"}
    with pytest.raises(InvalidEvent, match="scaler 'batch/retired', which is not in the configuration"):
        route(parse_signal(timer), config, alarm_prefix="ebb", cluster_arn=None)


def test_a_spot_nodes_termination_wakes_the_pool_of_its_group_naming_the_instance(tmp_path: Path) -> None:
    config = write_spot_example(tmp_path / "spot")
    (message,) = route(
        parse_signal(_event("hyperpod-cluster-event-spot-termination.json")),
        config,
        alarm_prefix="ebb",
        cluster_arn=None,
    )
    assert (message.node_pool, message.reason) == ("gpu", "hyperpod-event")
    assert message.body == {
        "resourceType": "Instance",
        "instanceGroup": "gpu-g5-use1a-spot",
        "terminating": "i-0f1e2d3c4b5a69788",
    }


@pytest.mark.parametrize(
    ("change", "where"),
    [
        # The events reference's field table: required fields, InstanceId on Instance events.
        (lambda d: d.pop("EventLevel"), r"detail\.EventDetails\.EventLevel: Field required"),
        (lambda d: d.pop("InstanceId"), r"an Instance event must name its InstanceId"),
        (lambda d: d.pop("InstanceGroupName"), r"an Instance event must name its InstanceGroupName"),
        (lambda d: d.update(EventTime="2026-12-03T09:41:07Z"), r"detail\.EventDetails\.EventTime"),
        (lambda d: d.update(EventId="not-a-uuid"), r"detail\.EventDetails\.EventId"),
        (lambda d: d.update(ResourceType="Node"), r"detail\.EventDetails\.ResourceType"),
    ],
)
def test_a_malformed_hyperpod_event_names_what_is_wrong(change: Any, where: str) -> None:
    event = copy.deepcopy(_event("hyperpod-cluster-event-spot-termination.json"))
    change(event["detail"]["EventDetails"])
    with pytest.raises(
        InvalidEvent, match=r"'SageMaker HyperPod Cluster Event' does not have the expected shape"
    ):
        parse_signal(event)
    with pytest.raises(InvalidEvent, match=where):
        parse_signal(event)
