"""Reading the scalers' metrics: CloudWatch GetMetricData, batched, and SQS GetQueueAttributes.

GetMetricData takes one time window and at most 500 queries per call (CloudWatch API Reference,
GetMetricData), so queries are grouped by window and sent 500 at a time, following NextToken.
A query's window is the one the replica core judges its datapoints by
(`ebb.core.replicas.metrics.cloudwatch_query_window`), so what is read is what is judged.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Protocol

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from ebb.adapters.aws_errors import translate_aws_error
from ebb.adapters.call_counts import CallCounts
from ebb.config.keda_triggers import MetricDataQuery
from ebb.core.replicas import CloudWatchDatapoint, CloudWatchResult, MetricFailure, SqsQueueAttributes

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_sqs import SQSClient

MAX_QUERIES_PER_CALL: Final = 500


@dataclass(frozen=True, slots=True)
class MetricQuery:
    """One trigger's GetMetricData query, as KEDA builds it, with the window the core judges it by."""

    query: MetricDataQuery
    """Its `Id` is unique in a read (`[a-z][a-zA-Z0-9_]*`, as GetMetricData requires)."""
    start: datetime
    end: datetime

    @property
    def query_id(self) -> str:
        """The query's `Id`."""
        return self.query["Id"]


class MetricReader(Protocol):
    """What the decide service reads metrics through."""

    def read_cloudwatch(self, queries: Sequence[MetricQuery]) -> dict[str, CloudWatchResult | MetricFailure]:
        """Each query's datapoints by `query_id`, or why they could not be read."""

    def read_queue(
        self, queue_url: str, attribute_names: Sequence[str]
    ) -> SqsQueueAttributes | MetricFailure:
        """GetQueueAttributes of one queue."""


class AwsMetricReader:
    """`MetricReader` over boto3; clients are created on first use, per region."""

    def __init__(
        self,
        region_name: str,
        *,
        calls: CallCounts | None = None,
        client_factory: Callable[[str, str], Any] | None = None,
    ) -> None:
        self._region_name = region_name
        self._factory = client_factory or (lambda service, region: boto3.client(service, region_name=region))  # type: ignore[call-overload]
        self._clients: dict[tuple[str, str], Any] = {}
        self.calls = calls or CallCounts()

    def _client(self, service: str, region: str | None = None) -> Any:
        key = (service, region or self._region_name)
        if key not in self._clients:
            self._clients[key] = self._factory(*key)
        return self._clients[key]

    def read_cloudwatch(self, queries: Sequence[MetricQuery]) -> dict[str, CloudWatchResult | MetricFailure]:
        """GetMetricData per window, 500 queries a call; a failed call fails only its queries."""
        by_window: dict[tuple[datetime, datetime], list[MetricQuery]] = defaultdict(list)
        for query in queries:
            by_window[(query.start, query.end)].append(query)
        results: dict[str, CloudWatchResult | MetricFailure] = {}
        cloudwatch: CloudWatchClient = self._client("cloudwatch")
        for (start, end), window_queries in sorted(by_window.items()):
            for chunk in _chunks(window_queries, MAX_QUERIES_PER_CALL):
                try:
                    results.update(self._get_metric_data(cloudwatch, chunk, start, end))
                except (ClientError, BotoCoreError) as error:
                    failure = MetricFailure(reason=str(translate_aws_error(error, operation="GetMetricData")))
                    results.update({query.query_id: failure for query in chunk})
        return results

    def _get_metric_data(
        self, cloudwatch: CloudWatchClient, queries: list[MetricQuery], start: datetime, end: datetime
    ) -> dict[str, CloudWatchResult]:
        points: dict[str, list[CloudWatchDatapoint]] = {query.query_id: [] for query in queries}
        answered: set[str] = set()
        request: dict[str, Any] = {
            "MetricDataQueries": [query.query for query in queries],
            "StartTime": start,
            "EndTime": end,
            "ScanBy": "TimestampDescending",
        }
        while True:
            self.calls.count("cloudwatch:GetMetricData")
            response = cloudwatch.get_metric_data(**request)
            for result in response.get("MetricDataResults", []):
                query_id = result.get("Id", "")
                if query_id not in points:
                    continue
                answered.add(query_id)
                points[query_id].extend(
                    CloudWatchDatapoint(timestamp=moment, value=value)
                    for moment, value in zip(
                        result.get("Timestamps", []), result.get("Values", []), strict=True
                    )
                )
            token = response.get("NextToken")
            if not token:
                break
            request["NextToken"] = token
        # KEDA tells "no result for the query" (None) from "a result without values" (()).
        return {
            query_id: CloudWatchResult(datapoints=tuple(found) if query_id in answered else None)
            for query_id, found in points.items()
        }

    def read_queue(
        self, queue_url: str, attribute_names: Sequence[str]
    ) -> SqsQueueAttributes | MetricFailure:
        """GetQueueAttributes, in the queue's own region (from its URL)."""
        sqs: SQSClient = self._client("sqs", _queue_region(queue_url))
        self.calls.count("sqs:GetQueueAttributes")
        try:
            answer = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=list(attribute_names))  # type: ignore[arg-type]
        except (ClientError, BotoCoreError) as error:
            return MetricFailure(reason=str(translate_aws_error(error, operation="GetQueueAttributes")))
        return SqsQueueAttributes(attributes=dict(answer.get("Attributes", {})))


def _chunks(items: list[MetricQuery], size: int) -> Iterable[list[MetricQuery]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _queue_region(queue_url: str) -> str | None:
    # https://sqs.<region>.amazonaws.com/<account>/<name>
    host = queue_url.split("://", 1)[-1].split("/", 1)[0]
    parts = host.split(".")
    return parts[1] if len(parts) > 2 and parts[0] == "sqs" else None
