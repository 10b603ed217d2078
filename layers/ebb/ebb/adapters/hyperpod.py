"""The HyperPod adapter: the SageMaker node operations ebb calls on one cluster.

`HyperPodCluster` is the Protocol the service depends on; `SageMakerHyperPod` implements it with
boto3. Calls and their documentation (SageMaker API Reference):
- DescribeCluster: groups, counts, NodeProvisioningMode, NodeRecovery, AutoScaling.
- ListClusterNodes, every page, with IncludeNodeLogicalIds so that nodes still being provisioned
  (no instance yet) are seen and never requested twice.
- BatchAddClusterNodes, one `NodeAdditionRequest` (at most 50 nodes, 5 groups, its ClientToken).
- BatchDeleteClusterNodes, one `NodeDeletionRequest` (by NodeId and/or NodeLogicalId).
- ListClusterEvents, every page, oldest first.

SDK errors become ebb's own (`hyperpod_errors`); responses are validated, and one that does not
have the documented shape raises `UnexpectedHyperPodResponse` naming the field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ValidationError

from ebb.adapters.hyperpod_errors import (
    HyperPodRequestRejected,
    NotContinuousProvisioning,
    UnexpectedHyperPodResponse,
    translate_sdk_error,
)
from ebb.adapters.hyperpod_events import ClusterEvent
from ebb.adapters.hyperpod_models import ClusterDescription, ClusterNode
from ebb.adapters.hyperpod_outcomes import (
    DeletionErrorCode,
    NodeAdditionOutcome,
    NodeDeletionFailure,
    NodeDeletionOutcome,
)
from ebb.adapters.hyperpod_requests import NodeAdditionRequest, NodeDeletionRequest
from ebb.errors import EbbError

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

DEFAULT_PAGE_SIZE: Final = 100  # the largest MaxResults ListClusterNodes and ListClusterEvents accept
DEFAULT_SDK_ATTEMPTS: Final = 3

_Model = TypeVar("_Model", bound=BaseModel)


class HyperPodCluster(Protocol):
    """The HyperPod operations ebb's service uses, on one cluster."""

    def describe_cluster(self) -> ClusterDescription:
        """The cluster's groups, counts and modes."""
        ...

    def list_nodes(self) -> tuple[ClusterNode, ...]:
        """Every node, including those still being provisioned."""
        ...

    def add_nodes(self, request: NodeAdditionRequest) -> NodeAdditionOutcome:
        """Add nodes to groups; safe to retry with the same request."""
        ...

    def delete_nodes(self, request: NodeDeletionRequest) -> NodeDeletionOutcome:
        """Delete nodes by instance id or NodeLogicalId."""
        ...

    def list_events(self, *, after: datetime | None = None) -> tuple[ClusterEvent, ...]:
        """Cluster events (oldest first), all or those after `after`."""
        ...


class SageMakerHyperPod:
    """`HyperPodCluster` over boto3's SageMaker client.

    The client is created on first use (a client created before moto's `mock_aws` starts would not
    be mocked, and creating one costs ~200 ms that a code path without HyperPod calls should not
    pay). `sdk_attempts` is botocore's standard-mode attempt budget, retries included.
    """

    def __init__(
        self,
        cluster_name: str,
        *,
        region_name: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        sdk_attempts: int = DEFAULT_SDK_ATTEMPTS,
        client_factory: Callable[[], SageMakerClient] | None = None,
    ) -> None:
        if not cluster_name:
            raise ValueError("cluster_name: must not be empty")
        if not 1 <= page_size <= DEFAULT_PAGE_SIZE:
            raise ValueError(f"page_size: {page_size} is outside 1..{DEFAULT_PAGE_SIZE}")
        self.cluster_name = cluster_name
        self._region_name = region_name
        self._page_size = page_size
        self._sdk_attempts = sdk_attempts
        self._client_factory = client_factory
        self._client: SageMakerClient | None = None

    def _sagemaker(self) -> SageMakerClient:
        if self._client is None:
            if self._client_factory is not None:
                self._client = self._client_factory()
            else:
                config = Config(retries={"mode": "standard", "total_max_attempts": self._sdk_attempts})
                self._client = boto3.client("sagemaker", region_name=self._region_name, config=config)
        return self._client

    def describe_cluster(self) -> ClusterDescription:
        """DescribeCluster."""
        try:
            response = self._sagemaker().describe_cluster(ClusterName=self.cluster_name)
        except (ClientError, BotoCoreError) as error:
            raise translate_sdk_error(error, operation="DescribeCluster") from error
        return _parse(ClusterDescription, response, where="DescribeCluster response")

    def list_nodes(self) -> tuple[ClusterNode, ...]:
        """ListClusterNodes with IncludeNodeLogicalIds, every page; a node seen twice counts once."""
        paginator = self._sagemaker().get_paginator("list_cluster_nodes")
        nodes: dict[str, ClusterNode] = {}
        try:
            for page in paginator.paginate(
                ClusterName=self.cluster_name,
                IncludeNodeLogicalIds=True,
                PaginationConfig={"PageSize": self._page_size},
            ):
                for index, summary in enumerate(page.get("ClusterNodeSummaries", [])):
                    where = f"ListClusterNodes response, ClusterNodeSummaries[{index}]"
                    node = _parse(ClusterNode, summary, where=where)
                    if node.logical_id is None and node.instance_id is None:
                        raise UnexpectedHyperPodResponse(f"{where}: neither NodeLogicalId nor InstanceId")
                    nodes[node.key] = node
        except (ClientError, BotoCoreError) as error:
            raise translate_sdk_error(error, operation="ListClusterNodes") from error
        return tuple(nodes.values())

    def add_nodes(self, request: NodeAdditionRequest) -> NodeAdditionOutcome:
        """BatchAddClusterNodes with the request's ClientToken."""
        specifications: list[Any] = request.nodes_to_add()
        try:
            response = self._sagemaker().batch_add_cluster_nodes(
                ClusterName=self.cluster_name, ClientToken=request.client_token, NodesToAdd=specifications
            )
        except (ClientError, BotoCoreError) as error:
            raise self._translate(error, operation="BatchAddClusterNodes") from error
        return _parse(NodeAdditionOutcome, response, where="BatchAddClusterNodes response")

    def delete_nodes(self, request: NodeDeletionRequest) -> NodeDeletionOutcome:
        """BatchDeleteClusterNodes."""
        arguments: dict[str, Any] = {"ClusterName": self.cluster_name}
        if request.node_ids:
            arguments["NodeIds"] = list(request.node_ids)
        if request.logical_ids:
            arguments["NodeLogicalIds"] = list(request.logical_ids)
        try:
            response = self._sagemaker().batch_delete_cluster_nodes(**arguments)
        except (ClientError, BotoCoreError) as error:
            raise translate_sdk_error(error, operation="BatchDeleteClusterNodes") from error
        where = "BatchDeleteClusterNodes response"
        failures = [
            *_deletion_failures(response.get("Failed", []), key="NodeId", where=f"{where}, Failed"),
            *_deletion_failures(
                response.get("FailedNodeLogicalIds", []),
                key="NodeLogicalId",
                where=f"{where}, FailedNodeLogicalIds",
            ),
        ]
        return NodeDeletionOutcome(
            deleted_ids=tuple(response.get("Successful", [])),
            deleted_logical_ids=tuple(response.get("SuccessfulNodeLogicalIds", [])),
            failed=tuple(failures),
        )

    def list_events(self, *, after: datetime | None = None) -> tuple[ClusterEvent, ...]:
        """ListClusterEvents, every page, oldest first."""
        paginator = self._sagemaker().get_paginator("list_cluster_events")
        arguments: dict[str, Any] = {
            "ClusterName": self.cluster_name,
            "SortBy": "EventTime",
            "SortOrder": "Ascending",
            "PaginationConfig": {"PageSize": self._page_size},
        }
        if after is not None:
            arguments["EventTimeAfter"] = after
        events: list[ClusterEvent] = []
        try:
            for page in paginator.paginate(**arguments):
                for index, summary in enumerate(page.get("Events", [])):
                    events.append(
                        _parse(ClusterEvent, summary, where=f"ListClusterEvents response, Events[{index}]")
                    )
        except (ClientError, BotoCoreError) as error:
            raise self._translate(error, operation="ListClusterEvents") from error
        return tuple(events)

    def _translate(self, error: ClientError | BotoCoreError, *, operation: str) -> EbbError:
        """`translate_sdk_error`, and for an operation that needs Continuous mode, whether that is
        why it was rejected: the API Reference documents the requirement, not the error, so the
        cluster's mode is read rather than the message guessed at."""
        translated = translate_sdk_error(error, operation=operation)
        if not isinstance(translated, HyperPodRequestRejected):
            return translated
        try:
            cluster = self.describe_cluster()
        except EbbError:
            return translated
        if not cluster.continuous_provisioning:
            return NotContinuousProvisioning(
                f"{operation} on cluster {cluster.name!r} needs NodeProvisioningMode Continuous, and it is "
                f"{cluster.node_provisioning_mode or 'not set'} ({translated})"
            )
        return translated


def _deletion_failures(
    entries: Iterable[Mapping[str, Any]], *, key: str, where: str
) -> list[NodeDeletionFailure]:
    failures = []
    for index, entry in enumerate(entries):
        try:
            failures.append(
                NodeDeletionFailure(
                    node=entry[key],
                    by_logical_id=key == "NodeLogicalId",
                    code=DeletionErrorCode(entry["Code"]),
                    message=entry.get("Message", ""),
                )
            )
        except (KeyError, ValueError) as error:
            raise UnexpectedHyperPodResponse(f"{where}[{index}]: {error!r} in {dict(entry)}") from error
    return failures


def _parse(model: type[_Model], data: object, *, where: str) -> _Model:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or '(top)'}: {problem['msg']}"
            for problem in error.errors()
        )
        raise UnexpectedHyperPodResponse(f"{where}: {problems}") from error
