"""What a BatchAddClusterNodes or BatchDeleteClusterNodes call did, node by node and group by group.

Both calls succeed partly: some groups or nodes can fail while others go through, so their results
are values. `NodeAdditionOutcome.raise_for_failures` turns per-group failures into ebb's errors
for callers (a Step Functions task) that want them as exceptions.
"""

from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from ebb.adapters.hyperpod_errors import (
    HyperPodRequestRejected,
    IncompatibleAvailabilityZones,
    IncompatibleInstanceTypes,
    InstanceGroupBusy,
    InstanceGroupNotFound,
)
from ebb.adapters.hyperpod_models import InstanceStatus
from ebb.errors import EbbError


class AdditionErrorCode(StrEnum):
    """BatchAddClusterNodesErrorCode."""

    INSTANCE_GROUP_NOT_FOUND = "InstanceGroupNotFound"
    INVALID_INSTANCE_GROUP_STATUS = "InvalidInstanceGroupStatus"
    INCOMPATIBLE_AVAILABILITY_ZONES = "IncompatibleAvailabilityZones"
    INCOMPATIBLE_INSTANCE_TYPES = "IncompatibleInstanceTypes"
    UNKNOWN = "Unknown"
    """A code this version of ebb does not know yet: the group's nodes were refused, reason unknown."""

    @classmethod
    def _missing_(cls, value: object) -> "AdditionErrorCode":
        # A new code must not hide the nodes that were added in the same call.
        return cls.UNKNOWN


class DeletionErrorCode(StrEnum):
    """BatchDeleteClusterNodesErrorCode."""

    NODE_ID_NOT_FOUND = "NodeIdNotFound"
    INVALID_NODE_STATUS = "InvalidNodeStatus"
    NODE_ID_IN_USE = "NodeIdInUse"
    UNKNOWN = "Unknown"
    """A code this version of ebb does not know yet: the node was not deleted, reason unknown."""

    @classmethod
    def _missing_(cls, value: object) -> "DeletionErrorCode":
        return cls.UNKNOWN


_ADDITION_ERRORS: Final[dict[AdditionErrorCode, type[EbbError]]] = {
    AdditionErrorCode.INSTANCE_GROUP_NOT_FOUND: InstanceGroupNotFound,
    AdditionErrorCode.INCOMPATIBLE_AVAILABILITY_ZONES: IncompatibleAvailabilityZones,
    AdditionErrorCode.INCOMPATIBLE_INSTANCE_TYPES: IncompatibleInstanceTypes,
    AdditionErrorCode.INVALID_INSTANCE_GROUP_STATUS: InstanceGroupBusy,
}


class AddedNode(BaseModel):
    """A node BatchAddClusterNodes accepted (NodeAdditionResult)."""

    model_config = ConfigDict(frozen=True, extra="ignore", validate_by_name=True, validate_by_alias=True)

    logical_id: str = Field(min_length=1, validation_alias="NodeLogicalId")
    instance_group: str = Field(min_length=1, validation_alias="InstanceGroupName")
    status: InstanceStatus = Field(validation_alias="Status")


class GroupAdditionFailure(BaseModel):
    """Nodes of one group BatchAddClusterNodes did not add (BatchAddClusterNodesError)."""

    model_config = ConfigDict(frozen=True, extra="ignore", validate_by_name=True, validate_by_alias=True)

    instance_group: str = Field(min_length=1, validation_alias="InstanceGroupName")
    code: AdditionErrorCode = Field(validation_alias="ErrorCode")
    failed_count: int = Field(ge=1, validation_alias="FailedCount")
    message: str | None = Field(default=None, validation_alias="Message")

    def as_error(self) -> EbbError:
        """The ebb error this failure is."""
        detail = f": {self.message}" if self.message else ""
        return _ADDITION_ERRORS.get(self.code, HyperPodRequestRejected)(
            f"instance group {self.instance_group!r}: "
            f"{self.failed_count} node(s) not added ({self.code}){detail}"
        )


class NodeAdditionOutcome(BaseModel):
    """The result of one BatchAddClusterNodes call."""

    model_config = ConfigDict(frozen=True, extra="ignore", validate_by_name=True, validate_by_alias=True)

    added: tuple[AddedNode, ...] = Field(default=(), validation_alias="Successful")
    failed: tuple[GroupAdditionFailure, ...] = Field(default=(), validation_alias="Failed")

    def raise_for_failures(self) -> None:
        """Raise the error of a failed group, a non-retryable one first; do nothing if none failed."""
        errors = [failure.as_error() for failure in self.failed]
        errors.sort(key=lambda error: isinstance(error, InstanceGroupBusy))
        if errors:
            raise errors[0]


class NodeDeletionFailure(BaseModel):
    """A node BatchDeleteClusterNodes did not delete, by instance id or by NodeLogicalId."""

    model_config = ConfigDict(frozen=True, extra="ignore", validate_by_name=True, validate_by_alias=True)

    node: str = Field(min_length=1)
    by_logical_id: bool
    code: DeletionErrorCode
    message: str


class NodeDeletionOutcome(BaseModel):
    """The result of one BatchDeleteClusterNodes call."""

    model_config = ConfigDict(frozen=True, extra="ignore", validate_by_name=True, validate_by_alias=True)

    deleted_ids: tuple[str, ...] = ()
    deleted_logical_ids: tuple[str, ...] = ()
    failed: tuple[NodeDeletionFailure, ...] = ()

    @property
    def already_gone(self) -> tuple[str, ...]:
        """Nodes HyperPod does not know (any more): a retried deletion finds them so."""
        return tuple(
            failure.node for failure in self.failed if failure.code is DeletionErrorCode.NODE_ID_NOT_FOUND
        )

    @property
    def retry_later(self) -> tuple[str, ...]:
        """Nodes another operation holds (NodeIdInUse) or whose status forbids deletion now."""
        return tuple(
            failure.node for failure in self.failed if failure.code is not DeletionErrorCode.NODE_ID_NOT_FOUND
        )
