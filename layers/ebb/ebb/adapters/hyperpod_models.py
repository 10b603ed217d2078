"""What ebb sees of a HyperPod cluster: its description, its nodes and each node's condition.

Parsed from DescribeCluster and ListClusterNodes responses (field names as in the SageMaker API
Reference; `validation_alias` maps them). A node's *condition* is ebb's own small vocabulary
(`NodeCondition`), derived from HyperPod's instance status, its message, the Kubernetes health
labels HyperPod puts on the node, and the cluster's node recovery mode.
"""

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Final, Literal

from pydantic import AliasPath, BaseModel, ConfigDict, Field, field_validator

from ebb.adapters.hyperpod_errors import HyperPodAutoscalingConflict, NotContinuousProvisioning
from ebb.adapters.hyperpod_requests import InstanceGroupName, InstanceId, NodeLogicalId

NODE_HEALTH_LABEL: Final = "sagemaker.amazonaws.com/node-health-status"
DEEP_HEALTH_CHECK_LABEL: Final = "sagemaker.amazonaws.com/deep-health-check-status"

# HyperPod reports a launch that found no capacity as a node failure whose message says so, e.g.
# "We currently do not have sufficient capacity to launch new ml.p5.48xlarge instances. Please try
# again." (SageMaker HyperPod cluster events reference); EC2's own code is InsufficientInstanceCapacity.
_INSUFFICIENT_CAPACITY: Final = re.compile(
    r"sufficient\s+capacity|InsufficientInstanceCapacity", re.IGNORECASE
)


class InstanceStatus(StrEnum):
    """ClusterInstanceStatus, as the SageMaker API reports a node."""

    RUNNING = "Running"
    FAILURE = "Failure"
    PENDING = "Pending"
    SHUTTING_DOWN = "ShuttingDown"
    SYSTEM_UPDATING = "SystemUpdating"
    DEEP_HEALTH_CHECK_IN_PROGRESS = "DeepHealthCheckInProgress"
    NOT_FOUND = "NotFound"
    DETACH_IN_PROGRESS = "DetachInProgress"
    ATTACH_IN_PROGRESS = "AttachInProgress"
    UNKNOWN = "Unknown"
    """A status this version of ebb does not know yet (AWS adds values): present, never usable."""

    @classmethod
    def _missing_(cls, value: object) -> "InstanceStatus":
        # One node in a new state must not make ListClusterNodes fail for the whole cluster.
        return cls.UNKNOWN


class NodeHealth(StrEnum):
    """Values of the `sagemaker.amazonaws.com/node-health-status` Kubernetes label."""

    SCHEDULABLE = "Schedulable"
    UNSCHEDULABLE = "Unschedulable"
    UNSCHEDULABLE_PENDING_REPLACEMENT = "UnschedulablePendingReplacement"
    UNSCHEDULABLE_PENDING_REBOOT = "UnschedulablePendingReboot"


class NodeCondition(StrEnum):
    """ebb's view of a node."""

    PENDING = "pending"
    """Requested or booting: capacity in flight."""
    RUNNING = "running"
    """The instance runs but may not take pods yet (deep health checks, patching, labelled unschedulable)."""
    USABLE = "usable"
    """Running, past its health checks, schedulable."""
    FAILED_CAPACITY = "failed_capacity"
    """The launch failed for lack of capacity; in Continuous mode HyperPod keeps retrying it."""
    FAILED = "failed"
    """Failed for another reason (or faulty with automatic recovery off)."""
    RECOVERING = "recovering"
    """Automatic node recovery is rebooting or replacing it: in flight, not failed."""
    SHUTTING_DOWN = "shutting_down"
    """Being terminated or already gone."""

    @property
    def in_flight(self) -> bool:
        """Capacity on its way: it should not be requested again."""
        return self in {NodeCondition.PENDING, NodeCondition.RUNNING, NodeCondition.RECOVERING}


NodeRecovery = Literal["Automatic", "None"]
ClusterStatus = Literal[
    "Creating", "Deleting", "Failed", "InService", "RollingBack", "SystemUpdating", "Updating"
]
InstanceGroupStatus = Literal[
    "InService", "Creating", "Updating", "Failed", "Degraded", "SystemUpdating", "Deleting"
]


class ClusterNode(BaseModel):
    """One node of ListClusterNodes (a ClusterNodeSummary)."""

    model_config = ConfigDict(frozen=True, extra="ignore", validate_by_name=True, validate_by_alias=True)

    instance_group: InstanceGroupName = Field(validation_alias="InstanceGroupName")
    instance_id: InstanceId | None = Field(default=None, validation_alias="InstanceId")
    """None while the node is still being provisioned (no EC2 instance yet)."""
    logical_id: NodeLogicalId | None = Field(default=None, validation_alias="NodeLogicalId")
    instance_type: str = Field(min_length=1, validation_alias="InstanceType")
    status: InstanceStatus = Field(validation_alias=AliasPath("InstanceStatus", "Status"))
    message: str | None = Field(default=None, validation_alias=AliasPath("InstanceStatus", "Message"))
    launch_time: datetime | None = Field(default=None, validation_alias="LaunchTime")

    @field_validator("instance_id", "logical_id", "message", mode="before")
    @classmethod
    def _empty_is_absent(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def key(self) -> str:
        """The node's stable identity: its NodeLogicalId, else its instance id."""
        identity = self.logical_id or self.instance_id
        if identity is None:  # pragma: no cover - the validator of ClusterNodes rejects such nodes
            raise ValueError("a node without NodeLogicalId or InstanceId")
        return identity


class InstanceGroupState(BaseModel):
    """One instance group of DescribeCluster (ClusterInstanceGroupDetails)."""

    model_config = ConfigDict(frozen=True, extra="ignore", validate_by_name=True, validate_by_alias=True)

    name: InstanceGroupName = Field(validation_alias="InstanceGroupName")
    instance_type: str | None = Field(default=None, validation_alias="InstanceType")
    flexible_instance_types: tuple[str, ...] = Field(
        default=(), validation_alias=AliasPath("InstanceRequirements", "CurrentInstanceTypes")
    )
    current_count: int = Field(default=0, ge=0, validation_alias="CurrentCount")
    target_count: int = Field(default=0, ge=0, validation_alias="TargetCount")
    min_count: int = Field(default=0, ge=0, validation_alias="MinCount")
    status: InstanceGroupStatus | None = Field(default=None, validation_alias="Status")

    @property
    def instance_types(self) -> tuple[str, ...]:
        """The group's instance type, or the types of a flexible group."""
        return self.flexible_instance_types or ((self.instance_type,) if self.instance_type else ())


class ClusterDescription(BaseModel):
    """DescribeCluster, as far as ebb needs it."""

    model_config = ConfigDict(frozen=True, extra="ignore", validate_by_name=True, validate_by_alias=True)

    name: str = Field(min_length=1, validation_alias="ClusterName")
    arn: str = Field(min_length=1, validation_alias="ClusterArn")
    status: ClusterStatus = Field(validation_alias="ClusterStatus")
    node_provisioning_mode: Literal["Continuous"] | None = Field(
        default=None, validation_alias="NodeProvisioningMode"
    )
    node_recovery: NodeRecovery | None = Field(default=None, validation_alias="NodeRecovery")
    autoscaling_mode: Literal["Enable", "Disable"] | None = Field(
        default=None, validation_alias=AliasPath("AutoScaling", "Mode")
    )
    instance_groups: tuple[InstanceGroupState, ...] = Field(validation_alias="InstanceGroups")

    @property
    def continuous_provisioning(self) -> bool:
        """Whether the node operations (BatchAddClusterNodes, cluster events) are available."""
        return self.node_provisioning_mode == "Continuous"

    @property
    def hyperpod_autoscaling(self) -> bool:
        """Whether HyperPod's own Karpenter-based autoscaling is enabled on the cluster."""
        return self.autoscaling_mode == "Enable"

    def group(self, name: str) -> InstanceGroupState | None:
        """The instance group called `name`, if the cluster has one."""
        return next((group for group in self.instance_groups if group.name == name), None)


def ensure_ebb_may_scale(
    cluster: ClusterDescription, groups: Iterable[str], *, hyperpod_autoscaled_groups: frozenset[str] | None
) -> None:
    """Refuse to scale `groups` when HyperPod would not let ebb, or would fight it.

    BatchAddClusterNodes needs NodeProvisioningMode Continuous (API Reference). With HyperPod's own
    autoscaling on, its Karpenter scales the instance groups its HyperpodNodeClasses name; ebb may
    only scale groups outside that set, so without the set (`None`) it refuses them all.
    """
    wanted = sorted(set(groups))
    if not cluster.continuous_provisioning:
        raise NotContinuousProvisioning(
            f"cluster {cluster.name!r}: NodeProvisioningMode is "
            f"{cluster.node_provisioning_mode or 'not set'}; "
            "ebb adds nodes with BatchAddClusterNodes, which needs Continuous "
            "(aws sagemaker update-cluster --node-provisioning-mode Continuous)"
        )
    if not cluster.hyperpod_autoscaling:
        return
    contested = (
        wanted if hyperpod_autoscaled_groups is None else sorted(set(wanted) & hyperpod_autoscaled_groups)
    )
    if contested:
        raise HyperPodAutoscalingConflict(
            f"cluster {cluster.name!r}: HyperPod autoscaling is enabled and manages instance group(s) "
            f"{', '.join(contested)}; ebb will not scale groups another autoscaler manages"
        )


def is_insufficient_capacity(message: str | None) -> bool:
    """Whether a failure message says the launch found no capacity."""
    return bool(message and _INSUFFICIENT_CAPACITY.search(message))


def classify_node(
    node: ClusterNode,
    *,
    node_recovery: NodeRecovery | None,
    kubernetes_labels: Mapping[str, str] | None = None,
    replacement_in_progress: bool = False,
) -> NodeCondition:
    """ebb's condition of `node`.

    `kubernetes_labels` are the labels of the node's Kubernetes Node, when ebb has read them;
    `replacement_in_progress` says whether cluster events show its instance being started as a
    replacement (see `replacements_in_progress`). Documentation: ClusterInstanceStatusDetails and
    "Continuous provisioning for enhanced cluster operations on Amazon EKS" (status meanings),
    "Resilience-related Kubernetes labels by SageMaker HyperPod", "Automatic node recovery".
    """
    status = node.status
    if status in {InstanceStatus.SHUTTING_DOWN, InstanceStatus.NOT_FOUND, InstanceStatus.DETACH_IN_PROGRESS}:
        return NodeCondition.SHUTTING_DOWN
    if status is InstanceStatus.FAILURE:
        return (
            NodeCondition.FAILED_CAPACITY if is_insufficient_capacity(node.message) else NodeCondition.FAILED
        )
    if status is InstanceStatus.UNKNOWN:
        return NodeCondition.RUNNING
    health = (kubernetes_labels or {}).get(NODE_HEALTH_LABEL)
    if health in {NodeHealth.UNSCHEDULABLE_PENDING_REPLACEMENT, NodeHealth.UNSCHEDULABLE_PENDING_REBOOT}:
        # With recovery off, the health agent only labels the node and nothing repairs it.
        return NodeCondition.RECOVERING if node_recovery == "Automatic" else NodeCondition.FAILED
    if replacement_in_progress:
        return NodeCondition.RECOVERING
    if status in {InstanceStatus.PENDING, InstanceStatus.ATTACH_IN_PROGRESS}:
        return NodeCondition.PENDING
    if status in {InstanceStatus.DEEP_HEALTH_CHECK_IN_PROGRESS, InstanceStatus.SYSTEM_UPDATING}:
        return NodeCondition.RUNNING
    deep_check = (kubernetes_labels or {}).get(DEEP_HEALTH_CHECK_LABEL)
    if health == NodeHealth.UNSCHEDULABLE or deep_check == "InProgress":
        return NodeCondition.RUNNING
    return NodeCondition.USABLE
