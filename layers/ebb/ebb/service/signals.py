"""Signals: every event that wakes ebb, parsed, and turned into one decision request per NodePool.

| signal                             | from                                  | wakes the pools of   |
|------------------------------------|---------------------------------------|----------------------|
| "CloudWatch Alarm State Change"    | EventBridge rule on `<stack>.` alarms | the alarm's scaler   |
| "SageMaker HyperPod Cluster Event" | EventBridge rule on ebb's cluster     | the group, or all    |
| the tick (`{"ebb": "tick"}`)       | EventBridge Scheduler, once a minute  | all pools            |
| an idle timer (`"idle-timer"`)     | a one-shot Scheduler schedule         | the timer's scaler   |

Anything else, or an event of the right kind that does not have its documented shape, is an
`InvalidEvent`: it decides nothing, and the handler keeps it in the rejected-events queue.
"""

import hashlib
from typing import Any, Final, Literal, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from ebb.adapters.decision_queue import PoolMessage
from ebb.adapters.hyperpod_events import terminating_instance
from ebb.config import EbbConfig
from ebb.config.keda_triggers import AwsCloudWatchTrigger, AwsSqsQueueTrigger
from ebb.config.node_planning import pod_group_name
from ebb.config.replica_policy import trigger_name
from ebb.errors import InvalidEvent

ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"
HYPERPOD_CLUSTER_EVENT = "SageMaker HyperPod Cluster Event"
_UUID: Final = r"^[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$"


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class AlarmState(_Event):
    value: Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
    timestamp: str


class AlarmDetail(_Event):
    alarm_name: str = Field(min_length=1, alias="alarmName")
    state: AlarmState
    previous_state: AlarmState | None = Field(None, alias="previousState")


class AlarmStateChange(_Event):
    """EventBridge's "CloudWatch Alarm State Change".

    CloudWatch User Guide, "Alarm events and EventBridge".
    """

    id: str = Field(min_length=1)
    source: Literal["aws.cloudwatch"]
    detail_type: Literal["CloudWatch Alarm State Change"] = Field(alias="detail-type")
    time: AwareDatetime
    detail: AlarmDetail


class HyperPodEventDetails(_Event):
    """`detail.EventDetails`, as the events reference's field table has it: EventId, ClusterArn,
    ClusterName, EventTime (epoch milliseconds), ResourceType and EventLevel required;
    InstanceGroupName present on InstanceGroup and Instance events, InstanceId on Instance events."""

    event_id: str = Field(pattern=_UUID, alias="EventId")
    cluster_arn: str = Field(min_length=1, alias="ClusterArn")
    cluster_name: str = Field(min_length=1, alias="ClusterName")
    event_time: int = Field(ge=0, alias="EventTime", strict=True)
    instance_group_name: str | None = Field(None, min_length=1, alias="InstanceGroupName")
    instance_id: str | None = Field(None, pattern=r"^i-[0-9a-f]{8,17}$", alias="InstanceId")
    resource_type: Literal["Cluster", "InstanceGroup", "Instance"] = Field(alias="ResourceType")
    event_level: Literal["Info", "Warn", "Error"] = Field(alias="EventLevel")
    description: str | None = Field(None, alias="Description")

    @model_validator(mode="after")
    def _scope_is_named(self) -> Self:
        if self.resource_type != "Cluster" and self.instance_group_name is None:
            raise ValueError(f"an {self.resource_type} event must name its InstanceGroupName")
        if self.resource_type == "Instance" and self.instance_id is None:
            raise ValueError("an Instance event must name its InstanceId")
        return self

    @property
    def terminating_instance(self) -> str | None:
        """The instance HyperPod reports terminating ("EC2 instance termination in progress")."""
        return terminating_instance(self.description)


class HyperPodDetail(_Event):
    event_details: HyperPodEventDetails = Field(alias="EventDetails")


class HyperPodClusterEvent(_Event):
    """ "SageMaker HyperPod Cluster Event" (SageMaker HyperPod cluster events reference)."""

    id: str = Field(min_length=1)
    source: Literal["aws.sagemaker"]
    detail_type: Literal["SageMaker HyperPod Cluster Event"] = Field(alias="detail-type")
    time: AwareDatetime
    detail: HyperPodDetail


class Tick(_Event):
    """The periodic tick: the Scheduler schedule's input, with its context attributes filled in."""

    ebb: Literal["tick"]
    execution_id: str = Field(min_length=1, alias="executionId")
    scheduled_time: AwareDatetime = Field(alias="scheduledTime")


class IdleTimerFired(_Event):
    """An idle timer's input (written by `SchedulerIdleTimers.arm`)."""

    ebb: Literal["idle-timer"]
    scaler: str = Field(min_length=3)
    node_pool: str = Field(min_length=1, alias="nodePool")
    execution_id: str | None = Field(None, alias="executionId")


Signal = AlarmStateChange | HyperPodClusterEvent | Tick | IdleTimerFired
_SIGNAL: TypeAdapter[Signal] = TypeAdapter(Signal)


def alarm_name(prefix: str, scaler: str, trigger: str) -> str:
    """The name of the alarm ebb owns on one trigger's metric: `<stack>.<hash>.<trigger>`.

    Every alarm of the stack starts with `<stack>.`; a stack name cannot hold a dot, so no other
    stack's alarms share the prefix (stack `ebb` and stack `ebb-staging` both own theirs), and
    IAM, the EventBridge rule and the clean-up of unneeded alarms can all be scoped to it. The
    hash keeps names within CloudWatch's 255 characters whatever the scaler's name.
    """
    digest = hashlib.sha256(scaler.encode()).hexdigest()[:12]
    return f"{prefix}.{digest}.{trigger}"[:255]


def has_alarm(trigger: object) -> bool:
    """Whether ebb watches `trigger` with an alarm of its own (its edges wake the pool at once).

    SQS and single-metric CloudWatch triggers do. A CloudWatch trigger given as an `expression`
    (metric math or a Metrics Insights query) does not: CloudWatch can alarm on such a query, but
    the local world cannot evaluate one, so no test could show the alarm wakes anything. Such a
    trigger is read at the tick, once a minute, like every trigger (`ebb validate` says so).
    """
    if isinstance(trigger, AwsSqsQueueTrigger):
        return True
    return isinstance(trigger, AwsCloudWatchTrigger) and trigger.metadata.expression is None


def scaler_alarms(config: EbbConfig, prefix: str) -> dict[str, str]:
    """Every alarm name the configuration implies, with the scaler it belongs to."""
    names = {}
    for scaled_object in config.scaled_objects:
        scaler = pod_group_name(scaled_object)
        for index, trigger in enumerate(scaled_object.spec.triggers):
            if has_alarm(trigger):
                names[alarm_name(prefix, scaler, trigger_name(index, trigger))] = scaler
    return names


def parse_signal(event: Any) -> Signal:
    """The event as one of ebb's signals, or `InvalidEvent` saying what is wrong and where."""
    if not isinstance(event, dict):
        raise InvalidEvent(f"an event must be a JSON object, got {type(event).__name__}")
    try:
        return _SIGNAL.validate_python(event)
    except ValidationError as error:
        kind = event.get("detail-type") or event.get("ebb") or "unknown kind"
        problems = "; ".join(
            f"{'.'.join(str(p) for p in issue['loc'][1:]) or '(event)'}: {issue['msg']}"
            for issue in error.errors()
            if _relevant(issue, kind)
        )
        raise InvalidEvent(f"event of {kind!r} does not have the expected shape: {problems}") from None


def _relevant(issue: Any, kind: str) -> bool:
    # The union reports every member's mismatch; keep the member the event claims to be.
    member = str(issue["loc"][0]) if issue["loc"] else ""
    claimed = {
        ALARM_STATE_CHANGE: "AlarmStateChange",
        HYPERPOD_CLUSTER_EVENT: "HyperPodClusterEvent",
        "tick": "Tick",
        "idle-timer": "IdleTimerFired",
    }.get(kind)
    return claimed is None or member == claimed


def route(
    signal: Signal, config: EbbConfig, *, alarm_prefix: str, cluster_arn: str | None
) -> list[PoolMessage]:
    """The pools a signal wakes, one message each."""
    pools = sorted(pool.name for pool in config.node_pools)
    if isinstance(signal, Tick):
        return [PoolMessage(p, f"tick:{signal.execution_id}", "tick", {}) for p in pools]
    if isinstance(signal, IdleTimerFired):
        scaled = [so for so in config.scaled_objects if pod_group_name(so) == signal.scaler]
        if not scaled:
            raise InvalidEvent(f"idle timer of scaler {signal.scaler!r}, which is not in the configuration")
        pool = config.scaler_binding(scaled[0]).node_pool
        event_id = signal.execution_id or f"idle:{signal.scaler}"
        return [PoolMessage(pool, f"idle:{event_id}", "idle-timer", {"scaler": signal.scaler})]
    if isinstance(signal, AlarmStateChange):
        owner = scaler_alarms(config, alarm_prefix).get(signal.detail.alarm_name)
        if owner is None:
            raise InvalidEvent(
                f"alarm {signal.detail.alarm_name!r} is not one the configuration implies "
                f"(ebb's alarms are named {alarm_prefix}.<scaler hash>.<trigger>)"
            )
        owning = next(so for so in config.scaled_objects if pod_group_name(so) == owner)
        pool = config.scaler_binding(owning).node_pool
        return [
            PoolMessage(
                pool,
                signal.id,
                "alarm",
                {"alarm": signal.detail.alarm_name, "state": signal.detail.state.value},
            )
        ]
    details = signal.detail.event_details
    if cluster_arn is not None and details.cluster_arn != cluster_arn:
        raise InvalidEvent(
            f"HyperPod event of cluster {details.cluster_arn}, not of ebb's cluster {cluster_arn}"
        )
    group = details.instance_group_name
    if group:
        owners = [
            pool.name
            for pool in config.node_pools
            if any(g.name == group for g in config.instance_groups_of(pool))
        ]
        pools = sorted(owners)
    body: dict[str, Any] = {"resourceType": details.resource_type, "instanceGroup": group}
    if details.terminating_instance:
        # A reclaimed Spot instance shows as this (the decision tells it from ebb's own removals).
        body["terminating"] = details.terminating_instance
    return [PoolMessage(p, signal.id, "hyperpod-event", body) for p in pools]
