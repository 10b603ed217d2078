"""HyperPod cluster events: the records ListClusterEvents and DescribeClusterEvent return, and the
"SageMaker HyperPod Cluster Event" EventBridge events that carry them.

Descriptions follow the templates of "SageMaker HyperPod cluster events reference" (common
events: cluster lifecycle, instance creation, deletion, reboot, replacement, instance group
lifecycle); the capacity failure follows its complete sample record. The fields follow its field
table: InstanceGroupName on InstanceGroup and Instance events, InstanceId on Instance events,
EventLevel always. Events exist only for clusters in Continuous mode.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

from ebb.local.hyperpod.state import SimCluster, wire_time
from ebb.local.hyperpod.world import StandInWorld

DETAIL_TYPE: Final = "SageMaker HyperPod Cluster Event"
SOURCE: Final = "aws.sagemaker"


def cluster_operation_started(cluster: str, operation: str) -> str:
    """'Cluster operation started'."""
    return f"Cluster {cluster} {operation} started successfully"


def cluster_operation_completed(cluster: str, operation: str) -> str:
    """'Cluster operation completed'."""
    return f"Cluster {cluster} {operation} completed successfully"


def instance_provisioned(cluster: str, group: str, instance_id: str) -> str:
    """'EC2 instance provisioned'."""
    return f"EC2 Instance {instance_id} successfully provisioned in Cluster {cluster} and IG {group}"


def instance_creation_failed(cluster: str, group: str) -> str:
    """The sample record's description of a launch that failed (e.g. for capacity)."""
    return f"Instance creation in Cluster {cluster} and InstanceGroup {group} failed"


def instance_operation_started(cluster: str, group: str, operation: str) -> str:
    """'Instance operation started' (HyperPod retrying a launch)."""
    return f"Instance {operation} started successfully in Cluster {cluster} and IG {group}"


def instance_operation_completed(cluster: str, group: str, operation: str, instance_id: str) -> str:
    """'Instance operation completed'."""
    return f"Instance {operation} {instance_id} in Cluster {cluster} and IG {group} completed successfully"


def termination_in_progress(cluster: str, group: str, instance_id: str) -> str:
    """'EC2 instance termination in progress'."""
    return (
        f"Termination of EC2 Instance {instance_id} is currently in progress "
        f"in Cluster {cluster} and IG {group}"
    )


def reboot_in_progress(cluster: str, group: str, instance_id: str) -> str:
    """'EC2 instance reboot in progress'."""
    return (
        f"Reboot of EC2 Instance {instance_id} is currently in progress on Cluster {cluster} and IG {group}"
    )


def replacement_started(cluster: str, group: str, instance_id: str) -> str:
    """'Instance replacement started'."""
    return (
        f"Instance {instance_id} is starting as part of instance replacement "
        f"in Cluster {cluster} and IG {group}"
    )


def replacement_completed(cluster: str, group: str, instance_id: str) -> str:
    """'Instance replacement completed'."""
    return (
        f"Instance {instance_id} Replace completed successfully as part of instance replacement "
        f"in Cluster {cluster} and IG {group}"
    )


def group_operation_started(cluster: str, group: str, operation: str) -> str:
    """'Instance group operation started'."""
    return f"InstanceGroup {group} {operation} started successfully in Cluster {cluster}"


def group_operation_completed(cluster: str, group: str, operation: str) -> str:
    """'Instance group operation completed'."""
    return f"Instance Group {group} {operation} in Cluster {cluster} completed successfully"


class EventLog:
    """Records cluster events and publishes them on the world's bus."""

    def __init__(self, world: StandInWorld, *, account: str, region: str) -> None:
        self._world = world
        self._account = account
        self._region = region

    def record(
        self,
        cluster: SimCluster,
        *,
        resource_type: str,
        level: str,
        description: str,
        group: str | None = None,
        instance_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Add an event to `cluster` and publish it (Continuous clusters only, as HyperPod does)."""
        if not cluster.continuous:
            return
        now = wire_time(self._world.now())
        record: dict[str, Any] = {
            "EventId": str(uuid.UUID(int=self._world.random.getrandbits(128), version=4)),
            "ClusterArn": cluster.arn,
            "ClusterName": cluster.name,
            "ResourceType": resource_type,
            "EventTime": now,
            "EventLevel": level,
            "Description": description,
        }
        if group is not None:
            record["InstanceGroupName"] = group
        if instance_id is not None:
            record["InstanceId"] = instance_id
        if metadata:
            record["EventDetails"] = {"EventMetadata": metadata}
        cluster.events.append(record)
        detail = dict(record, EventTime=int(now.timestamp() * 1000))
        self._world.put_event(
            {
                "version": "0",
                "id": str(uuid.UUID(int=self._world.random.getrandbits(128), version=4)),
                "detail-type": DETAIL_TYPE,
                "source": SOURCE,
                "account": self._account,
                "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "region": self._region,
                "resources": [cluster.arn],
                "detail": {"EventDetails": detail},
            }
        )
