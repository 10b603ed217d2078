"""The IAM bearer token EKS accepts: a presigned STS GetCallerIdentity URL naming the cluster.

Built the way `aws eks get-token` and aws-iam-authenticator build it (aws/aws-cli
`awscli/customizations/eks/get_token.py`, kubernetes-sigs/aws-iam-authenticator `pkg/token/token.go`):
the request carries the cluster name in the signed header `x-k8s-aws-id`, is presigned with
`X-Amz-Expires=60` (a value the authenticator checks but STS ignores), and the token is
``k8s-aws-v1.`` followed by the unpadded base64url encoding of the URL. STS honours the signature
for 15 minutes after its `X-Amz-Date`; like both tools, the token is reused for 14 of them.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_sts import STSClient

TOKEN_PREFIX: Final = "k8s-aws-v1."
CLUSTER_ID_HEADER: Final = "x-k8s-aws-id"
PRESIGN_EXPIRES_SECONDS: Final = 60
# STS accepts the signature for 15 minutes after X-Amz-Date; a minute of cushion, as get-token keeps.
TOKEN_LIFETIME: Final = timedelta(minutes=14)


def utc_now() -> datetime:
    """The wall clock, in UTC: the default clock of the adapter's caches."""
    return datetime.now(UTC)


class EksTokenSource:
    """Makes and caches the bearer token for one EKS cluster.

    The STS client is created on first use; `clock` decides when the cached token is due for
    renewal (it must be the clock botocore signs with: the wall clock in production).
    """

    def __init__(
        self,
        cluster_name: str,
        *,
        session: boto3.Session | None = None,
        region: str | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._cluster_name = cluster_name
        self._session = session
        self._region = region
        self._clock = clock
        self._client: STSClient | None = None
        self._token: str | None = None
        self._renew_at = datetime.min.replace(tzinfo=UTC)
        self._lock = threading.Lock()

    def token(self) -> str:
        """A token valid for at least another minute, made anew only when the cached one is due."""
        with self._lock:
            now = self._clock()
            if self._token is None or now >= self._renew_at:
                self._token = self._make_token()
                self._renew_at = now + TOKEN_LIFETIME
            return self._token

    def invalidate(self) -> None:
        """Forget the cached token (the API server refused it), so the next call makes a new one."""
        with self._lock:
            self._token = None

    def _make_token(self) -> str:
        url = self._sts().generate_presigned_url(
            "get_caller_identity",
            Params={CLUSTER_ID_HEADER: self._cluster_name},
            ExpiresIn=PRESIGN_EXPIRES_SECONDS,
            HttpMethod="GET",
        )
        encoded = base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")
        return TOKEN_PREFIX + encoded

    def _sts(self) -> STSClient:
        if self._client is None:
            import boto3  # noqa: PLC0415 - created lazily: boto3 costs import time on cold start

            session = self._session or boto3.Session()
            client = session.client("sts", region_name=self._region or session.region_name)
            # The cluster name travels as a signed header, not as a GetCallerIdentity parameter.
            client.meta.events.register("provide-client-params.sts.GetCallerIdentity", _take_cluster_id)
            client.meta.events.register("before-sign.sts.GetCallerIdentity", _sign_cluster_id)
            self._client = client
        return self._client


def _take_cluster_id(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    if CLUSTER_ID_HEADER in params:
        context[CLUSTER_ID_HEADER] = params.pop(CLUSTER_ID_HEADER)


def _sign_cluster_id(request: Any, **_: Any) -> None:
    if CLUSTER_ID_HEADER in request.context:
        request.headers[CLUSTER_ID_HEADER] = request.context[CLUSTER_ID_HEADER]
