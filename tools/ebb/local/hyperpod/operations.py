"""The SageMaker HyperPod operations of one account and region, as the stand-in serves them.

Each operation takes the request as botocore sends it, validated first against botocore's service
model as SageMaker does (maxima, enums and patterns that botocore's client-side validation leaves
to the service), and returns the response dict, or raises `ApiError`. Behaviour beyond the model
comes from the SageMaker API Reference and the HyperPod developer guide pages the operations cite.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from ebb.local.hyperpod import service_model
from ebb.local.hyperpod.cluster_events import EventLog
from ebb.local.hyperpod.cluster_operations import ClusterOperations
from ebb.local.hyperpod.errors import ApiError
from ebb.local.hyperpod.event_operations import EventOperations
from ebb.local.hyperpod.lifecycle import NodeLifecycle
from ebb.local.hyperpod.node_operations import NodeOperations
from ebb.local.hyperpod.state import RegionState
from ebb.local.hyperpod.subnets import SubnetDirectory
from ebb.local.hyperpod.world import StandInWorld

SERVED_OPERATIONS: Final = {
    "CreateCluster": "create_cluster",
    "DescribeCluster": "describe_cluster",
    "DeleteCluster": "delete_cluster",
    "ListClusters": "list_clusters",
    "UpdateCluster": "update_cluster",
    "ListClusterNodes": "list_cluster_nodes",
    "DescribeClusterNode": "describe_cluster_node",
    "BatchAddClusterNodes": "batch_add_cluster_nodes",
    "BatchDeleteClusterNodes": "batch_delete_cluster_nodes",
    "ListClusterEvents": "list_cluster_events",
    "DescribeClusterEvent": "describe_cluster_event",
}


class RegionApi(ClusterOperations, NodeOperations, EventOperations):
    """The HyperPod API of one account and region."""

    def __init__(
        self,
        world: StandInWorld,
        region: RegionState,
        lifecycle: NodeLifecycle,
        log: EventLog,
        subnets: SubnetDirectory,
    ) -> None:
        super().__init__(world, region, lifecycle, log, subnets)
        self.handlers: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
            operation: getattr(self, method) for operation, method in SERVED_OPERATIONS.items()
        }

    def handle(self, operation: str, request: Mapping[str, Any]) -> dict[str, Any]:
        """Validate `request` against the model, then serve it."""
        problems = service_model.request_problems(operation, request)
        if problems:
            raise ApiError(
                "ValidationException", f"{len(problems)} validation error(s) detected: {'; '.join(problems)}"
            )
        return self.handlers[operation](request)
