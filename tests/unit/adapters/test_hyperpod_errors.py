"""SageMaker's errors become ebb's, with the class names Step Functions matches.

Error codes: the SageMaker API Reference lists ResourceLimitExceeded and ResourceNotFound for
BatchAddClusterNodes (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_BatchAddClusterNodes.html)
and the common errors (ThrottlingException, ServiceUnavailable, InternalFailure, ValidationError) in
"Common Error Types". What is retryable is botocore's own judgement
(botocore/retries/standard.py, ThrottledRetryableChecker and TransientRetryableChecker).
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ParamValidationError

from ebb.adapters import hyperpod_errors
from ebb.adapters.hyperpod_errors import (
    ClientTokenConflict,
    HyperPodClusterNotFound,
    HyperPodQuotaExceeded,
    HyperPodRequestRejected,
    HyperPodThrottled,
    HyperPodUnavailable,
    translate_sdk_error,
)
from ebb.adapters.hyperpod_outcomes import AdditionErrorCode, GroupAdditionFailure, NodeAdditionOutcome
from ebb.errors import ConfigError, EbbError, RetryableError


def _client_error(code: str, message: str = "m", status: int = 400) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "BatchAddClusterNodes")


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("ThrottlingException", 400, HyperPodThrottled),
        ("Throttling", 400, HyperPodThrottled),
        ("TooManyRequestsException", 429, HyperPodThrottled),
        ("ServiceUnavailable", 503, HyperPodUnavailable),
        ("InternalFailure", 500, HyperPodUnavailable),
        ("RequestTimeout", 400, HyperPodUnavailable),
        ("ResourceNotFound", 400, HyperPodClusterNotFound),
        ("ConflictException", 400, ClientTokenConflict),
        ("ValidationException", 400, HyperPodRequestRejected),
        ("AccessDeniedException", 400, HyperPodRequestRejected),
    ],
)
def test_client_errors_become_ebbs(code: str, status: int, expected: type[EbbError]) -> None:
    error = translate_sdk_error(_client_error(code, status=status), operation="BatchAddClusterNodes")

    assert type(error) is expected
    assert code in str(error)
    assert "BatchAddClusterNodes" in str(error)


def test_a_conflict_is_a_token_conflict_only_where_a_client_token_is_sent() -> None:
    # ConflictException is SageMaker's general "conflict when you attempted to modify a SageMaker
    # entity" (botocore sagemaker service-2.json); only BatchAddClusterNodes carries a ClientToken.
    on_add = translate_sdk_error(_client_error("ConflictException"), operation="BatchAddClusterNodes")
    on_delete = translate_sdk_error(_client_error("ConflictException"), operation="BatchDeleteClusterNodes")

    assert isinstance(on_add, ClientTokenConflict)
    assert isinstance(on_delete, HyperPodUnavailable)
    assert isinstance(on_delete, RetryableError)


def test_quota_errors_name_the_quota_and_are_not_retryable() -> None:
    message = (
        "The account-level service limit 'ml.p5.48xlarge for cluster usage' is 2 Instances, with current "
        "utilization of 2 Instances and a request delta of 1 Instances."
    )
    error = translate_sdk_error(
        _client_error("ResourceLimitExceeded", message), operation="BatchAddClusterNodes"
    )

    assert isinstance(error, HyperPodQuotaExceeded)
    assert not isinstance(error, RetryableError)
    assert error.quota_name == "ml.p5.48xlarge for cluster usage"


def test_connection_errors_are_transient_and_client_side_validation_is_not() -> None:
    unreachable = translate_sdk_error(
        EndpointConnectionError(endpoint_url="https://api.sagemaker"), operation="ListClusterNodes"
    )
    invalid = translate_sdk_error(ParamValidationError(report="bad"), operation="ListClusterNodes")

    assert isinstance(unreachable, HyperPodUnavailable)
    assert isinstance(invalid, HyperPodRequestRejected)


def test_retryable_errors_are_exactly_the_transient_ones() -> None:
    retryable = {
        name
        for name, value in vars(hyperpod_errors).items()
        if isinstance(value, type) and issubclass(value, RetryableError) and value is not RetryableError
    }

    assert retryable == {"HyperPodThrottled", "HyperPodUnavailable", "InstanceGroupBusy"}
    assert issubclass(hyperpod_errors.NotContinuousProvisioning, ConfigError)
    assert issubclass(hyperpod_errors.HyperPodAutoscalingConflict, ConfigError)


def test_per_group_failures_raise_a_non_retryable_error_first() -> None:
    outcome = NodeAdditionOutcome(
        failed=(
            GroupAdditionFailure(
                instance_group="busy", code=AdditionErrorCode.INVALID_INSTANCE_GROUP_STATUS, failed_count=2
            ),
            GroupAdditionFailure(
                instance_group="gone",
                code=AdditionErrorCode.INSTANCE_GROUP_NOT_FOUND,
                failed_count=1,
                message="x",
            ),
        )
    )

    with pytest.raises(hyperpod_errors.InstanceGroupNotFound, match="'gone': 1 node"):
        outcome.raise_for_failures()
    busy_only = NodeAdditionOutcome(failed=outcome.failed[:1])
    with pytest.raises(hyperpod_errors.InstanceGroupBusy):
        busy_only.raise_for_failures()
    NodeAdditionOutcome().raise_for_failures()


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (AdditionErrorCode.INCOMPATIBLE_AVAILABILITY_ZONES, hyperpod_errors.IncompatibleAvailabilityZones),
        (AdditionErrorCode.INCOMPATIBLE_INSTANCE_TYPES, hyperpod_errors.IncompatibleInstanceTypes),
    ],
)
def test_incompatibility_failures_have_their_own_errors(
    code: AdditionErrorCode, error: type[EbbError]
) -> None:
    failure = GroupAdditionFailure(instance_group="g", code=code, failed_count=1)

    assert type(failure.as_error()) is error


def test_a_group_failure_with_a_code_ebb_does_not_know_is_a_plain_rejection() -> None:
    # BatchAddClusterNodesErrorCode may grow; the failure still reads and maps to a non-retryable error.
    from ebb.adapters.hyperpod_outcomes import AdditionErrorCode, GroupAdditionFailure

    failure = GroupAdditionFailure.model_validate(
        {"InstanceGroupName": "gpu", "ErrorCode": "SomethingNew", "FailedCount": 2, "Message": "m"}
    )

    assert failure.code is AdditionErrorCode.UNKNOWN
    error = failure.as_error()
    assert type(error) is HyperPodRequestRejected
    assert not isinstance(error, RetryableError)
