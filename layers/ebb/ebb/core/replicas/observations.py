"""What the adapters observed for one decision: metric results per trigger and the replica counts."""

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from ebb.core.replicas.frozen_model import FrozenModel
from ebb.errors import InvalidEvent


class SqsQueueAttributes(FrozenModel):
    """A GetQueueAttributes answer, attribute values as SQS returns them (decimal strings)."""

    kind: Literal["sqs"] = "sqs"
    attributes: dict[str, str]


class CloudWatchDatapoint(FrozenModel):
    """One datapoint of a GetMetricData result."""

    timestamp: AwareDatetime
    value: float


class CloudWatchResult(FrozenModel):
    """The GetMetricData result for a trigger's query.

    `datapoints` may cover more than KEDA's query window (the adapter batches queries per window);
    the core keeps the ones inside it. `None` means the answer held no result for the query at
    all, which KEDA treats differently from a result without values.
    """

    kind: Literal["cloudwatch"] = "cloudwatch"
    datapoints: tuple[CloudWatchDatapoint, ...] | None


class MetricFailure(FrozenModel):
    """The metric could not be read (API error, throttling, timeout): what went wrong."""

    kind: Literal["failure"] = "failure"
    reason: str = Field(min_length=1)


Observation = Annotated[SqsQueueAttributes | CloudWatchResult | MetricFailure, Field(discriminator="kind")]


class ReplicaCounts(FrozenModel):
    """The scale target's replicas as the HPA reads them.

    `spec` is `/scale` `spec.replicas` (the HPA's current count), `status` is `status.replicas`
    (the pods that exist; the HPA divides `AverageValue` metrics by it) and `ready` counts the
    Running and Ready pods (the HPA multiplies `Value` ratios by it).
    """

    spec: int = Field(ge=0)
    status: int = Field(ge=0)
    ready: int = Field(ge=0)


class ObservationMismatch(InvalidEvent):
    """An observation does not fit its trigger (an SQS answer for a CloudWatch trigger, say)."""
