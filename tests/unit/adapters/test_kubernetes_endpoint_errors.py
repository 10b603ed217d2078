"""EKS DescribeCluster errors become ebb's: transient ones retryable, a missing cluster not.

botocore's EKS service model lists DescribeCluster's errors: ResourceNotFoundException,
ClientException, ServerException and ServiceUnavailableException ("The service is unavailable.
Back off and retry the operation.").
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from ebb.adapters.kubernetes.endpoint import EksClusterEndpoint
from ebb.adapters.kubernetes.errors import EksClusterNotFound, KubernetesError, KubernetesUnavailable
from ebb.errors import RetryableError


class _FailingEks:
    def __init__(self, code: str, status: int) -> None:
        self._error = ClientError(
            {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
            "DescribeCluster",
        )

    def describe_cluster(self, **_: Any) -> Any:
        raise self._error


def _endpoint_failing_with(code: str, status: int, monkeypatch: pytest.MonkeyPatch) -> EksClusterEndpoint:
    source = EksClusterEndpoint("inference", region="us-east-1")
    monkeypatch.setattr(source, "_eks", lambda: _FailingEks(code, status))
    return source


@pytest.mark.parametrize(
    ("code", "status"),
    [("ServiceUnavailableException", 503), ("ServerException", 500), ("ThrottlingException", 400)],
)
def test_transient_describe_cluster_errors_are_retryable(
    code: str, status: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(KubernetesUnavailable) as raised:
        _endpoint_failing_with(code, status, monkeypatch).endpoint()
    assert isinstance(raised.value, RetryableError)


def test_a_missing_cluster_or_a_client_error_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(EksClusterNotFound):
        _endpoint_failing_with("ResourceNotFoundException", 404, monkeypatch).endpoint()
    with pytest.raises(KubernetesError) as raised:
        _endpoint_failing_with("ClientException", 400, monkeypatch).endpoint()
    assert not isinstance(raised.value, RetryableError)
