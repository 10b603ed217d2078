"""What the adapter retries: API Priority and Fairness throttling (429 with Retry-After) and 5xx.

kube-apiserver sheds load with 429, a `Retry-After` header and a plain-text body (its
`tooManyRequests` filter; Kubernetes docs "API Priority and Fairness"); client-go waits the
advertised time before retrying. Other 4xx answers are final.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ebb.adapters.kubernetes import (
    EksKubernetesClient,
    KubernetesRejected,
    KubernetesThrottled,
    KubernetesUnavailable,
    RetryPolicy,
)
from ebb.local.kubernetes import KubernetesStandIn

pytestmark = pytest.mark.integration


def test_throttling_is_retried_after_the_advertised_delay(
    stand_in: KubernetesStandIn,
    client: EksKubernetesClient,
    sleeps: list[float],
    gpu_node: Callable[..., None],
) -> None:
    gpu_node("gpu-1")
    stand_in.fail_next(2, 429, retry_after=3)

    assert [node.name for node in client.list_nodes()] == ["gpu-1"]
    assert sleeps == [3.0, 3.0]
    assert len(stand_in.requests) == 3


def test_server_errors_are_retried_with_growing_jittered_backoff(
    stand_in: KubernetesStandIn,
    client: EksKubernetesClient,
    sleeps: list[float],
    gpu_node: Callable[..., None],
) -> None:
    gpu_node("gpu-1")
    stand_in.fail_next(3, 503)

    assert len(client.list_nodes()) == 1
    policy = RetryPolicy()
    assert len(sleeps) == 3
    for retry, delay in enumerate(sleeps, start=1):
        ceiling = min(policy.max_delay_seconds, policy.base_delay_seconds * 2 ** (retry - 1))
        assert ceiling / 2 <= delay <= ceiling


def test_a_server_error_with_retry_after_waits_that_long(
    stand_in: KubernetesStandIn, client: EksKubernetesClient, sleeps: list[float]
) -> None:
    stand_in.fail_next(1, 503, retry_after=7)

    client.list_nodes()

    assert sleeps == [7.0]


def test_retry_after_is_capped_by_the_policy(
    stand_in: KubernetesStandIn, make_client: Callable[..., EksKubernetesClient], sleeps: list[float]
) -> None:
    stand_in.fail_next(1, 429, retry_after=600)

    make_client(policy=RetryPolicy(max_retry_after_seconds=20)).list_nodes()

    assert sleeps == [20.0]


def test_persistent_server_errors_end_in_a_retryable_error(
    stand_in: KubernetesStandIn, client: EksKubernetesClient, sleeps: list[float]
) -> None:
    stand_in.fail_next(10, 500)

    with pytest.raises(KubernetesUnavailable) as raised:
        client.list_nodes()

    assert raised.value.status == 500
    assert raised.value.reason == "InternalError"
    assert len(stand_in.requests) == RetryPolicy().attempts
    assert len(sleeps) == RetryPolicy().attempts - 1


def test_persistent_throttling_ends_in_a_retryable_error(
    stand_in: KubernetesStandIn, client: EksKubernetesClient
) -> None:
    stand_in.fail_next(10, 429, retry_after=1)

    with pytest.raises(KubernetesThrottled):
        client.list_nodes()
    assert len(stand_in.requests) == RetryPolicy().attempts


def test_429_without_retry_after_is_not_retried(
    stand_in: KubernetesStandIn, client: EksKubernetesClient, sleeps: list[float]
) -> None:
    stand_in.fail_next(1, 429)

    with pytest.raises(KubernetesThrottled):
        client.list_nodes()
    assert sleeps == []


def test_client_errors_are_not_retried(
    stand_in: KubernetesStandIn, client: EksKubernetesClient, sleeps: list[float]
) -> None:
    with pytest.raises(KubernetesRejected) as raised:
        client.list_nodes("not a ( valid selector")

    assert raised.value.status == 400
    assert raised.value.reason == "BadRequest"
    assert sleeps == []
    assert len(stand_in.requests) == 1


def test_an_unreachable_api_server_is_retried_then_reported_unavailable(
    stand_in: KubernetesStandIn, client: EksKubernetesClient, sleeps: list[float]
) -> None:
    stand_in.stop()

    with pytest.raises(KubernetesUnavailable):
        client.list_nodes()
    assert len(sleeps) == RetryPolicy().attempts - 1
