"""HyperPod cluster events: from ListClusterEvents and from EventBridge.

Shapes from the SageMaker API Reference (ClusterEventSummary, ClusterEventDetail) and "SageMaker
HyperPod cluster events reference" (the EventBridge record: detail-type "SageMaker HyperPod Cluster
Event", source aws.sagemaker, `detail.EventDetails` with EventTime in epoch milliseconds and the
failure message under `EventDetails.EventMetadata.Instance.FailureMessage`).
"""

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Final, Literal

from pydantic import AliasPath, BaseModel, ConfigDict, Field, field_validator

from ebb.adapters.hyperpod_models import is_insufficient_capacity

CLUSTER_EVENT_DETAIL_TYPE: Final = "SageMaker HyperPod Cluster Event"

EventResourceType = Literal["Cluster", "InstanceGroup", "Instance"]
EventLevel = Literal["Info", "Warn", "Error"]

# The "EC2 instance termination in progress" row of the events reference (Instance deletion):
# what HyperPod reports of an instance going away, whether deleted or a reclaimed Spot instance.
_TERMINATION_IN_PROGRESS: Final = re.compile(
    r"^Termination of EC2 Instance (i-[0-9a-f]+) is currently in progress in Cluster \S+ and IG \S+$"
)
# Description templates of the "Instance replacement" rows of the events reference.
_REPLACEMENT_STARTED: Final = re.compile(
    r"^Instance (i-[0-9a-f]+) is starting as part of instance replacement"
)
_REPLACEMENT_ENDED: Final = re.compile(
    r"^Instance (i-[0-9a-f]+) (?:.+ (?:completed successfully|failed)|failed to start)"
    r" as part of instance replacement"
)


class ClusterEvent(BaseModel):
    """One cluster event (ClusterEventSummary; the EventBridge record adds its metadata)."""

    model_config = ConfigDict(frozen=True, extra="ignore", validate_by_name=True, validate_by_alias=True)

    event_id: str = Field(
        pattern=r"^[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$", validation_alias="EventId"
    )
    cluster_arn: str = Field(min_length=1, validation_alias="ClusterArn")
    cluster_name: str = Field(min_length=1, validation_alias="ClusterName")
    instance_group: str | None = Field(default=None, validation_alias="InstanceGroupName")
    instance_id: str | None = Field(default=None, validation_alias="InstanceId")
    resource_type: EventResourceType = Field(validation_alias="ResourceType")
    time: datetime = Field(validation_alias="EventTime")
    level: EventLevel | None = Field(default=None, validation_alias="EventLevel")
    description: str | None = Field(default=None, validation_alias="Description")
    failure_message: str | None = Field(
        default=None,
        validation_alias=AliasPath("EventDetails", "EventMetadata", "Instance", "FailureMessage"),
    )
    logical_id: str | None = Field(
        default=None, validation_alias=AliasPath("EventDetails", "EventMetadata", "Instance", "NodeLogicalId")
    )

    @field_validator("time", mode="before")
    @classmethod
    def _epoch_milliseconds(cls, value: object) -> object:
        # EventBridge carries EventTime as epoch milliseconds; the API's JSON as epoch seconds,
        # which boto3 already turns into a datetime.
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value / 1000, UTC)
        return value

    @property
    def terminating_instance(self) -> str | None:
        """The instance the event reports terminating ("EC2 instance termination in progress")."""
        return terminating_instance(self.description)

    @property
    def reports_insufficient_capacity(self) -> bool:
        """Whether the event is a launch that failed for lack of capacity."""
        return self.level == "Error" and is_insufficient_capacity(self.failure_message)


class ClusterEventNotification(BaseModel):
    """The EventBridge event HyperPod publishes for each cluster event (Continuous mode only)."""

    model_config = ConfigDict(frozen=True, extra="ignore", validate_by_name=True, validate_by_alias=True)

    detail_type: Literal["SageMaker HyperPod Cluster Event"] = Field(validation_alias="detail-type")
    source: Literal["aws.sagemaker"]
    account: str = Field(pattern=r"^\d{12}$")
    region: str = Field(min_length=1)
    time: datetime
    resources: tuple[str, ...]
    event: ClusterEvent = Field(validation_alias=AliasPath("detail", "EventDetails"))


def terminating_instance(description: str | None) -> str | None:
    """The instance id of an "EC2 instance termination in progress" description, else None."""
    found = _TERMINATION_IN_PROGRESS.match(description or "")
    return found.group(1) if found else None


def replacements_in_progress(
    events: Iterable[ClusterEvent], *, ongoing: Iterable[str] = ()
) -> frozenset[str]:
    """Instance ids that automatic node recovery started as replacements and has not finished.

    Read from the "Instance replacement" event descriptions, oldest first; `ongoing` are those
    an earlier read of older events left in progress (a reader that reads only new events).
    """
    started: set[str] = set(ongoing)
    for event in sorted(events, key=lambda event: event.time):
        description = event.description or ""
        if found := _REPLACEMENT_STARTED.match(description):
            started.add(found.group(1))
        elif found := _REPLACEMENT_ENDED.match(description):
            started.discard(found.group(1))
    return frozenset(started)
