"""The errors of the HyperPod adapter, and how SageMaker's errors become them.

The class names are what Step Functions matches: a Lambda task that raises one reports its class
name as `errorType`. Retry on the `RetryableError` subclasses (`HyperPodThrottled`,
`HyperPodUnavailable`, `InstanceGroupBusy`); catch the others:

| ebb error                    | from SageMaker                                             | retry? |
|------------------------------|------------------------------------------------------------|--------|
| HyperPodThrottled            | a throttling code (botocore's list: ThrottlingException...) | yes    |
| HyperPodUnavailable          | HTTP 5xx, RequestTimeout, connection errors                 | yes    |
| HyperPodQuotaExceeded        | ResourceLimitExceeded (an account quota; alarmed)           | no     |
| HyperPodClusterNotFound      | ResourceNotFound                                            | no     |
| ClientTokenConflict          | a ClientToken reused with other parameters                  | no     |
| HyperPodRequestRejected      | ValidationException and any other client error              | no     |
| NotContinuousProvisioning    | the cluster's NodeProvisioningMode is not Continuous        | no     |
| HyperPodAutoscalingConflict  | HyperPod's own autoscaling manages the same groups          | no     |
| InstanceGroupNotFound        | BatchAddClusterNodes Failed entry InstanceGroupNotFound     | no     |
| InstanceGroupBusy            | ... InvalidInstanceGroupStatus (group Creating/Updating)    | yes    |
| IncompatibleAvailabilityZones| ... IncompatibleAvailabilityZones                           | no     |
| IncompatibleInstanceTypes    | ... IncompatibleInstanceTypes                               | no     |
| UnexpectedHyperPodResponse   | a response that does not have the documented shape          | no     |
"""

from __future__ import annotations

import re
from typing import Final

from botocore.exceptions import BotoCoreError, ClientError
from botocore.retries.standard import RetryContext, ThrottledRetryableChecker, TransientRetryableChecker

from ebb.errors import ConfigError, EbbError, RetryableError


class HyperPodThrottled(RetryableError):
    """SageMaker throttled the call (after the SDK's own retries); retry with backoff and jitter."""


class HyperPodUnavailable(RetryableError):
    """SageMaker failed transiently (5xx, timeout, connection); retry with backoff."""


class HyperPodQuotaExceeded(EbbError):
    """An account quota (e.g. 'ml.p5.48xlarge for cluster usage') is reached.

    Not retryable: the offering stays out until the quota changes. `quota_name` is the quota the
    message names, when it names one.
    """

    def __init__(self, message: str, *, quota_name: str | None) -> None:
        super().__init__(message)
        self.quota_name = quota_name


class HyperPodClusterNotFound(EbbError):
    """The configured HyperPod cluster does not exist (or is not visible to ebb's role)."""


class ClientTokenConflict(EbbError):
    """A BatchAddClusterNodes ClientToken was reused with different parameters within its 8 hours.

    ebb derives a token per logical request, so this is a bug in ebb, never retried.
    """


class HyperPodRequestRejected(EbbError):
    """SageMaker rejected the request as invalid; the message says why."""


class NotContinuousProvisioning(ConfigError):
    """The cluster's NodeProvisioningMode is not Continuous, which the node operations require."""


class HyperPodAutoscalingConflict(ConfigError):
    """HyperPod's own (Karpenter) autoscaling manages instance groups ebb is configured to scale."""


class InstanceGroupNotFound(EbbError):
    """BatchAddClusterNodes: the instance group does not exist in the cluster."""


class InstanceGroupBusy(RetryableError):
    """BatchAddClusterNodes: the group's status does not allow it now (e.g. Creating, Updating)."""


class IncompatibleAvailabilityZones(EbbError):
    """BatchAddClusterNodes: the requested Availability Zones are not the group's."""


class IncompatibleInstanceTypes(EbbError):
    """BatchAddClusterNodes: the requested instance types are not the group's."""


class UnexpectedHyperPodResponse(EbbError):
    """A SageMaker response does not have the documented shape; the message says where."""


# botocore does not model ClientToken reuse for SageMaker; these are the codes AWS services use for
# it. Only BatchAddClusterNodes takes a ClientToken: elsewhere ConflictException is SageMaker's
# general "conflict while modifying an entity", which passes once the other change is done.
_TOKEN_CONFLICT_CODES: Final = frozenset(
    {"ConflictException", "IdempotentParameterMismatch", "IdempotentParameterMismatchException"}
)
_TOKEN_OPERATION: Final = "BatchAddClusterNodes"
_QUOTA_NAME = re.compile(r"limit '([^']+)'")


def translate_sdk_error(error: ClientError | BotoCoreError, *, operation: str) -> EbbError:
    """The ebb error for an SDK error raised by `operation` (after the SDK's own retries).

    Throttling and transient failures are recognised with botocore's own retry checkers, so ebb
    agrees with the SDK about what is worth retrying.
    """
    if isinstance(error, BotoCoreError):
        context = RetryContext(attempt_number=1, caught_exception=error)
        if TransientRetryableChecker().is_retryable(context):
            return HyperPodUnavailable(f"{operation}: {error}")
        return HyperPodRequestRejected(f"{operation}: {error}")

    response = error.response
    code = str(response.get("Error", {}).get("Code", ""))
    message = str(response.get("Error", {}).get("Message", ""))
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    described = f"{operation} failed with {code or 'an unknown error'}: {message}"
    context = RetryContext(attempt_number=1, parsed_response=dict(response))
    if ThrottledRetryableChecker().is_retryable(context) or status == 429:
        return HyperPodThrottled(described)
    if TransientRetryableChecker().is_retryable(context) or status >= 500:
        return HyperPodUnavailable(described)
    if code == "ResourceLimitExceeded":
        found = _QUOTA_NAME.search(message)
        return HyperPodQuotaExceeded(described, quota_name=found.group(1) if found else None)
    if code == "ResourceNotFound":
        return HyperPodClusterNotFound(described)
    if code in _TOKEN_CONFLICT_CODES and operation == _TOKEN_OPERATION:
        return ClientTokenConflict(described)
    if code == "ConflictException":
        return HyperPodUnavailable(described)
    return HyperPodRequestRejected(described)
