"""The stand-in's event operations: ListClusterEvents and DescribeClusterEvent (Continuous mode only,
as the API Reference says of both)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ebb.local.hyperpod.errors import ApiError
from ebb.local.hyperpod.paging import scan_page
from ebb.local.hyperpod.region_context import DEFAULT_PAGE_SIZE, RegionContext, with_token


class EventOperations(RegionContext):
    """Cluster event operations."""

    def list_cluster_events(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """ListClusterEvents (Continuous mode only): filters, EventTime order (Descending by
        default), pages of at most 100."""
        cluster = self._continuous_cluster(request["ClusterName"], "ListClusterEvents")
        wanted = {
            key: request[source]
            for key, source in (
                ("InstanceGroupName", "InstanceGroupName"),
                ("ResourceType", "ResourceType"),
                ("OperationId", "OperationId"),
                ("InstanceId", "NodeId"),
            )
            if request.get(source) is not None
        }
        after, before = request.get("EventTimeAfter"), request.get("EventTimeBefore")

        def matches(event: dict[str, Any]) -> bool:
            return (
                all(event.get(key) == value for key, value in wanted.items())
                and (after is None or event["EventTime"] > after)
                and (before is None or event["EventTime"] < before)
            )

        # The log is in time order (the clock never goes back), so no sort is needed.
        shown, token = scan_page(
            cluster.events,
            matches=matches,
            descending=request.get("SortOrder", "Descending") == "Descending",
            max_results=request.get("MaxResults"),
            next_token=request.get("NextToken"),
            default_size=DEFAULT_PAGE_SIZE,
        )
        summaries = [{key: value for key, value in event.items() if key != "EventDetails"} for event in shown]
        return with_token({"Events": summaries}, token)

    def describe_cluster_event(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """DescribeClusterEvent (Continuous mode only)."""
        cluster = self._continuous_cluster(request["ClusterName"], "DescribeClusterEvent")
        for event in cluster.events:
            if event["EventId"] == request["EventId"]:
                return {"EventDetails": event}
        raise ApiError("ResourceNotFound", f"Event {request['EventId']} not found in cluster {cluster.name}.")
