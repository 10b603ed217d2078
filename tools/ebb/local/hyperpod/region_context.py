"""What every HyperPod operation of the stand-in works with: one account and region's state, its
node lifecycle and event log, cluster lookup and quotas; and how list responses are put together."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

from ebb.local.hyperpod.cluster_events import EventLog
from ebb.local.hyperpod.errors import ApiError
from ebb.local.hyperpod.lifecycle import NodeLifecycle
from ebb.local.hyperpod.state import CONTINUOUS, RegionState, SimCluster, SubnetFacts
from ebb.local.hyperpod.subnets import SubnetDirectory
from ebb.local.hyperpod.world import StandInWorld

DEFAULT_PAGE_SIZE: Final = 100


def quota_message(instance_type: str, limit: int, used: int, delta: int) -> str:
    """The message of ResourceLimitExceeded: SageMaker's wording for its account-level limits
    (seen for training jobs; assumed for HyperPod's '<type> for cluster usage' quotas)."""
    return (
        f"The account-level service limit '{instance_type} for cluster usage' is {limit} Instances, with "
        f"current utilization of {used} Instances and a request delta of {delta} Instances. Please use "
        "AWS Service Quotas to request an increase for this quota."
    )


class RegionContext:
    """One account and region of the stand-in, as its operations see it."""

    def __init__(
        self,
        world: StandInWorld,
        region: RegionState,
        lifecycle: NodeLifecycle,
        log: EventLog,
        subnets: SubnetDirectory,
    ) -> None:
        self._world = world
        self._region = region
        self._lifecycle = lifecycle
        self._log = log
        self._subnets = subnets

    def _subnet(self, subnet_id: str) -> SubnetFacts:
        found = self._subnets.lookup(self._region.account, self._region.region, subnet_id)
        if found is None:
            raise ApiError(
                "ValidationException",
                f"Subnet {subnet_id} does not exist in {self._region.account}/{self._region.region}.",
            )
        return found

    def _cluster(self, name_or_arn: str) -> SimCluster:
        for cluster in self._region.clusters.values():
            if name_or_arn in {cluster.name, cluster.arn}:
                return cluster
        raise ApiError("ResourceNotFound", f"Cluster {name_or_arn} not found.")

    def _continuous_cluster(self, name_or_arn: str, operation: str) -> SimCluster:
        cluster = self._cluster(name_or_arn)
        if not cluster.continuous:
            raise ApiError(
                "ValidationException",
                f"{operation} is only supported for clusters with NodeProvisioningMode set to {CONTINUOUS}.",
            )
        return cluster

    def _check_quotas(self, delta: Mapping[str, int]) -> None:
        for instance_type, change in delta.items():
            limit = self._region.quotas.get(instance_type)
            if limit is None or change <= 0:
                continue
            used = self._region.targeted(instance_type)
            if used + change > limit:
                raise ApiError("ResourceLimitExceeded", quota_message(instance_type, limit, used, change))


def created_within(
    items: list[Any], request: Mapping[str, Any], *, key: Callable[[Any], datetime]
) -> list[Any]:
    """The items created strictly between the request's CreationTimeAfter and CreationTimeBefore."""
    if (start := request.get("CreationTimeAfter")) is not None:
        items = [item for item in items if key(item) > start]
    if (end := request.get("CreationTimeBefore")) is not None:
        items = [item for item in items if key(item) < end]
    return items


def with_token(response: dict[str, Any], token: str | None) -> dict[str, Any]:
    """`response` with its NextToken, when there is a next page."""
    if token is not None:
        response["NextToken"] = token
    return response


def without_empty(**members: Any) -> dict[str, Any]:
    """The members that have a value: list members of these responses have a minimum length of 1,
    so an empty one is left out rather than sent empty."""
    return {key: value for key, value in members.items() if value}
