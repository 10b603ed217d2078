"""The GetMetricData window of an `aws-cloudwatch` trigger: the one place it is defined.

KEDA (`pkg/scalers/aws_cloudwatch_scaler.go`, `computeQueryWindow`) ends the query at
`now - metricEndTimeOffset` truncated to `metricStatPeriod` (Go's `Time.Truncate`, which counts
from year 1, not from 1970) and starts it `metricCollectionTime` earlier; GetMetricData returns
the datapoints in [start, end). The metric reader asks CloudWatch for exactly this window and the
core keeps exactly the datapoints inside it, so the two cannot disagree about which datapoint is
the newest or whether there is one at all.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import NamedTuple

_GO_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)


class CloudWatchQueryWindow(NamedTuple):
    """[start, end) of one GetMetricData query (`StartTime`, `EndTime`), both in UTC."""

    start: datetime
    end: datetime

    def contains(self, moment: datetime) -> bool:
        """Whether a datapoint at `moment` is one GetMetricData returns for this window."""
        return self.start <= moment < self.end


def cloudwatch_query_window(
    now: datetime, period_seconds: int, end_offset_seconds: int, collection_seconds: int
) -> CloudWatchQueryWindow:
    """KEDA's GetMetricData window at `now`: [start, end), end truncated to the period as Go truncates."""
    shifted = now.astimezone(UTC) - timedelta(seconds=end_offset_seconds)
    since_zero = shifted - _GO_ZERO_TIME
    end = shifted - since_zero % timedelta(seconds=period_seconds)
    return CloudWatchQueryWindow(end - timedelta(seconds=collection_seconds), end)
