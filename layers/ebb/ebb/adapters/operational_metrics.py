"""ebb's own operational metrics that its alarms watch, put with PutMetricData.

Why not Powertools' embedded metric format: EMF becomes a metric only once CloudWatch Logs has
ingested the log line, which the alarms then see a little later; and the local world has no log
ingestion, so an alarm on an EMF metric could not be tested there. PutMetricData is one call per
event worth alarming on, and those are rare (a quota error, a failed execution).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from ebb.adapters.aws_clients import LazyClient
from ebb.adapters.aws_errors import translate_aws_error
from ebb.adapters.call_counts import CallCounts

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient


class OperationalMetrics(Protocol):
    """Where the provisioning workflow counts what its alarms watch."""

    def count(self, name: str, at: datetime, dimensions: Mapping[str, str] | None = None) -> None:
        """Add 1 to metric `name` at `at`."""


class CloudWatchOperationalMetrics:
    """`OperationalMetrics` in one CloudWatch namespace (the template's alarms name it)."""

    def __init__(
        self,
        namespace: str,
        *,
        region_name: str | None = None,
        calls: CallCounts | None = None,
        client_factory: Callable[[], CloudWatchClient] | None = None,
    ) -> None:
        self.namespace = namespace
        self._client: LazyClient[CloudWatchClient] = LazyClient("cloudwatch", region_name, client_factory)
        self.calls = calls or CallCounts()

    def count(self, name: str, at: datetime, dimensions: Mapping[str, str] | None = None) -> None:
        self.calls.count("cloudwatch:PutMetricData")
        try:
            self._client().put_metric_data(
                Namespace=self.namespace,
                MetricData=[
                    {
                        "MetricName": name,
                        "Timestamp": at,
                        "Value": 1.0,
                        "Unit": "Count",
                        "Dimensions": [
                            {"Name": k, "Value": v} for k, v in sorted((dimensions or {}).items())
                        ],
                    }
                ],
            )
        except (ClientError, BotoCoreError) as error:
            raise translate_aws_error(error, operation="PutMetricData") from error
