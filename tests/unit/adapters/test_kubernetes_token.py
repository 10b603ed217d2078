"""The EKS bearer token, as `aws eks get-token` and aws-iam-authenticator make it.

Facts from aws/aws-cli `awscli/customizations/eks/get_token.py` (TokenGenerator: prefix
`k8s-aws-v1.`, base64url without padding, presign expiry 60 s, cluster name in the signed header
`x-k8s-aws-id`, token reused for 14 minutes) and kubernetes-sigs/aws-iam-authenticator
`pkg/token/token.go` (`Verify`: Action=GetCallerIdentity, whitelisted parameters, https, path `/`).
Presigning needs no network.
"""

from __future__ import annotations

import base64
import functools
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import boto3

from ebb.adapters.kubernetes.token import EksTokenSource
from ebb.local.kubernetes import botocore_signs_at


class _Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@functools.cache
def _session() -> boto3.Session:
    # One session for the module: botocore loads the STS model once.
    return boto3.Session(
        aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="secret", region_name="eu-west-1"
    )


def _url(token: str) -> str:
    encoded = token.removeprefix("k8s-aws-v1.")
    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()


def test_token_is_a_presigned_get_caller_identity_url_naming_the_cluster() -> None:
    clock = _Clock()
    with botocore_signs_at(clock):
        token = EksTokenSource("prod-inference", session=_session(), clock=clock).token()

    assert token.startswith("k8s-aws-v1.")
    assert "=" not in token
    url = urlsplit(_url(token))
    params = {key: values[0] for key, values in parse_qs(url.query).items()}
    assert (url.scheme, url.hostname, url.path) == ("https", "sts.eu-west-1.amazonaws.com", "/")
    assert params["Action"] == "GetCallerIdentity"
    assert params["Version"] == "2011-06-15"
    assert params["X-Amz-Expires"] == "60"
    assert params["X-Amz-Date"] == "20260101T120000Z"
    assert params["X-Amz-SignedHeaders"].split(";") == ["host", "x-k8s-aws-id"]
    assert params["X-Amz-Credential"].startswith("AKIAEXAMPLE/20260101/eu-west-1/sts/aws4_request")
    assert "x-k8s-aws-id" not in params  # a signed header, not a parameter


def test_the_cluster_name_changes_the_signature() -> None:
    clock = _Clock()
    with botocore_signs_at(clock):
        one = EksTokenSource("one", session=_session(), clock=clock).token()
        two = EksTokenSource("two", session=_session(), clock=clock).token()

    assert (
        parse_qs(urlsplit(_url(one)).query)["X-Amz-Signature"]
        != parse_qs(urlsplit(_url(two)).query)["X-Amz-Signature"]
    )


def test_the_token_is_reused_for_fourteen_minutes_then_made_anew() -> None:
    clock = _Clock()
    with botocore_signs_at(clock):
        source = EksTokenSource("prod", session=_session(), clock=clock)
        first = source.token()
        clock.now += timedelta(minutes=13, seconds=59)
        assert source.token() == first
        clock.now += timedelta(seconds=1)
        renewed = source.token()

    assert renewed != first
    assert parse_qs(urlsplit(_url(renewed)).query)["X-Amz-Date"] == ["20260101T121400Z"]


def test_invalidate_forces_a_new_token() -> None:
    clock = _Clock()
    with botocore_signs_at(clock):
        source = EksTokenSource("prod", session=_session(), clock=clock)
        first = source.token()
        clock.now += timedelta(seconds=30)
        assert source.token() == first
        source.invalidate()
        assert source.token() != first


def test_nothing_is_created_until_a_token_is_asked_for() -> None:
    source = EksTokenSource("prod", session=_session())

    assert source._client is None
