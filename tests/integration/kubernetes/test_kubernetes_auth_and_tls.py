"""Authentication with the EKS IAM token, and TLS verified against the cluster CA.

Token rules: kubernetes-sigs/aws-iam-authenticator `pkg/token/token.go` (`Verify`: 15 minutes after
X-Amz-Date, `x-k8s-aws-id` signed; STS then checks the signature with the cluster's name as that
header). A missing or refused token gets 401 with an `Unauthorized` Status (Kubernetes docs
"Authenticating"; kube-apiserver's `Unauthorized` responder).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from ebb.adapters.kubernetes import (
    ClusterCertificateRejected,
    EksKubernetesClient,
    EksTokenSource,
    KubernetesUnauthorized,
)
from ebb.local.kubernetes import KubernetesStandIn, ManualClock, generate_cluster_certificates

pytestmark = pytest.mark.integration

UNAUTHORIZED = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": "Unauthorized",
    "reason": "Unauthorized",
    "code": 401,
}


def test_a_request_without_a_token_gets_401_unauthorized(raw: Callable[..., Any]) -> None:
    answer = raw("GET", "/api/v1/nodes", token=None)

    assert answer.status == 401
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == UNAUTHORIZED


def test_a_token_older_than_fifteen_minutes_is_refused(
    raw: Callable[..., Any], session: boto3.Session, clock: ManualClock
) -> None:
    token = EksTokenSource("ebb-test", session=session, clock=clock.now).token()
    assert raw("GET", "/api/v1/nodes", token=token).status == 200

    clock.advance(15 * 60 + 1)

    assert raw("GET", "/api/v1/nodes", token=token).status == 401


def test_a_tampered_token_is_refused(
    raw: Callable[..., Any], session: boto3.Session, clock: ManualClock
) -> None:
    token = EksTokenSource("ebb-test", session=session, clock=clock.now).token()
    url = base64.urlsafe_b64decode(token[len("k8s-aws-v1.") :] + "===").decode()
    altered = url.replace("X-Amz-Expires=60", "X-Amz-Expires=61").encode()
    forged = "k8s-aws-v1." + base64.urlsafe_b64encode(altered).decode().rstrip("=")
    assert raw("GET", "/api/v1/nodes", token=forged).status == 401
    assert raw("GET", "/api/v1/nodes", token="not-a-token").status == 401


def test_the_adapter_renews_its_cached_token_before_it_expires(
    stand_in: KubernetesStandIn,
    client: EksKubernetesClient,
    clock: ManualClock,
    gpu_node: Callable[..., None],
) -> None:
    gpu_node("gpu-1")
    client.list_nodes()
    first = stand_in.requests[-1].headers["authorization"]
    clock.advance(13 * 60)
    client.list_nodes()
    assert stand_in.requests[-1].headers["authorization"] == first  # still cached

    clock.advance(2 * 60)  # 15 minutes after signing: the first token is no longer valid
    assert [node.name for node in client.list_nodes()] == ["gpu-1"]
    assert stand_in.requests[-1].headers["authorization"] != first


def test_a_token_for_another_cluster_is_refused_even_when_made_anew(
    stand_in: KubernetesStandIn, make_client: Callable[..., EksKubernetesClient]
) -> None:
    client = make_client(cluster_name="some-other-cluster")

    with pytest.raises(KubernetesUnauthorized) as raised:
        client.list_nodes()

    assert raised.value.status == 401
    # Refused, retried once with a token made anew (identical here: signed at the same simulated
    # instant), refused again; no further retries.
    assert len(stand_in.requests) == 2


def test_credentials_the_cluster_does_not_know_are_refused(
    make_client: Callable[..., EksKubernetesClient],
) -> None:
    stranger = boto3.Session(
        aws_access_key_id="AKIAEBBLOCALSTRANGER", aws_secret_access_key="unknown", region_name="us-west-2"
    )
    with pytest.raises(KubernetesUnauthorized):
        make_client(boto_session=stranger).list_nodes()


def test_a_server_certificate_from_another_ca_is_rejected_before_any_request(
    stand_in: KubernetesStandIn, make_client: Callable[..., EksKubernetesClient], sleeps: list[float]
) -> None:
    other_ca = generate_cluster_certificates().ca_pem
    client = make_client(ca_pem=other_ca)

    with pytest.raises(ClusterCertificateRejected) as raised:
        client.list_nodes()

    assert "CERTIFICATE_VERIFY_FAILED" in str(raised.value)
    assert sleeps == []  # never retried
    assert stand_in.requests == []  # nothing reached the API server


def test_a_certificate_from_the_cluster_ca_for_another_hostname_is_rejected(
    start_stand_in: Callable[..., KubernetesStandIn],
    make_client: Callable[..., EksKubernetesClient],
    sleeps: list[float],
) -> None:
    # The CA is right, the name is not: a certificate the CA issued to some other server (another
    # API server of the same CA, a man in the middle holding one) must not pass for this endpoint.
    # Python's ssl checks the name when check_hostname is on (docs "ssl - SSLContext.check_hostname";
    # RFC 6125); urllib3's `assert_hostname=False` would turn that off.
    elsewhere = generate_cluster_certificates(hosts=("api.other-cluster.example",))
    server = start_stand_in(certificates=elsewhere)
    client = make_client(server=server, ca_pem=elsewhere.ca_pem)

    with pytest.raises(ClusterCertificateRejected, match="mismatch") as raised:
        client.list_nodes()

    assert "CERTIFICATE_VERIFY_FAILED" in str(raised.value)
    assert sleeps == []
    assert server.requests == []


def test_the_same_ca_and_the_right_hostname_is_accepted(
    start_stand_in: Callable[..., KubernetesStandIn], make_client: Callable[..., EksKubernetesClient]
) -> None:
    # The control for the test above: only the hostname differs between the two.
    here = generate_cluster_certificates(hosts=("127.0.0.1",))
    server = start_stand_in(certificates=here)

    assert make_client(server=server, ca_pem=here.ca_pem).list_nodes() == []


def test_a_401_drops_the_cached_token_and_the_retry_carries_a_new_one(
    stand_in: KubernetesStandIn,
    client: EksKubernetesClient,
    clock: ManualClock,
    gpu_node: Callable[..., None],
) -> None:
    gpu_node("gpu-1")
    client.list_nodes()
    cached = stand_in.requests[-1].headers["authorization"]
    clock.advance(60)  # inside the cache's 14 minutes: without a 401 the cached token is sent again
    client.list_nodes()
    assert stand_in.requests[-1].headers["authorization"] == cached

    # The API server refuses the token before it is due (revoked, or its clock runs ahead of ours).
    # client-go does the same with credentials from a plugin such as `aws eks get-token`: on a 401
    # it drops them, and the next request gets new ones (kubernetes/client-go
    # plugin/pkg/client/auth/exec/exec.go, roundTripper.RoundTrip -> maybeRefreshCreds).
    stand_in.fail_next(1, 401)
    assert [node.name for node in client.list_nodes()] == ["gpu-1"]

    refused, retried = stand_in.requests[-2:]
    assert refused.headers["authorization"] == cached
    assert retried.headers["authorization"] != cached  # signed anew, a minute later
    client.list_nodes()
    assert stand_in.requests[-1].headers["authorization"] == retried.headers["authorization"]
