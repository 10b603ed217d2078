"""Checks EKS bearer tokens as EKS does: the authenticator's format rules, then STS's signature.

An EKS cluster hands a `k8s-aws-v1.` token to aws-iam-authenticator, which checks its shape
(kubernetes-sigs/aws-iam-authenticator `pkg/token/token.go`, `Verify`): base64url of an https URL
to an STS host, path `/`, only the whitelisted query parameters, Action=GetCallerIdentity,
`x-k8s-aws-id` among the signed headers, X-Amz-Expires within 0..900, and X-Amz-Date at most
15 minutes old. It then calls STS with the header `x-k8s-aws-id` set to the cluster's name, and
STS checks the Signature Version 4 query signature ("Authenticating requests: using query
parameters", AWS Signature Version 4 documentation). This module plays STS's part by recomputing
the signature with the secret of a known access key, independently of botocore, so a token
for another cluster, with a wrong key, tampered with or expired, is refused.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final
from unittest import mock
from urllib.parse import quote, unquote, urlsplit

TOKEN_PREFIX: Final = "k8s-aws-v1."
CLUSTER_ID_HEADER: Final = "x-k8s-aws-id"
MAX_TOKEN_BYTES: Final = 4096
SIGNATURE_LIFETIME: Final = timedelta(minutes=15)
_ALLOWED_PARAMETERS: Final = frozenset(
    {
        "action",
        "version",
        "x-amz-algorithm",
        "x-amz-credential",
        "x-amz-date",
        "x-amz-expires",
        "x-amz-security-token",
        "x-amz-signature",
        "x-amz-signedheaders",
    }
)
_EMPTY_PAYLOAD_SHA256: Final = hashlib.sha256(b"").hexdigest()


class TokenRejected(Exception):
    """The token is not valid for this cluster now; the message says why (never sent to the client)."""


@dataclass(frozen=True)
class CallerIdentity:
    """Who signed an accepted token."""

    access_key_id: str
    region: str


class EksTokenVerifier:
    """Accepts tokens for `cluster_name` signed with one of `credentials` (access key id -> secret)."""

    def __init__(
        self, cluster_name: str, credentials: Mapping[str, str], now: Callable[[], datetime]
    ) -> None:
        self._cluster_name = cluster_name
        self._credentials = dict(credentials)
        self._now = now

    def verify(self, token: str) -> CallerIdentity:
        """The identity behind `token`; raises `TokenRejected` with the reason otherwise."""
        if len(token) > MAX_TOKEN_BYTES:
            raise TokenRejected("token is too large")
        if not token.startswith(TOKEN_PREFIX):
            raise TokenRejected(f"token is missing the {TOKEN_PREFIX!r} prefix")
        encoded = token[len(TOKEN_PREFIX) :]
        try:
            url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError) as error:
            raise TokenRejected(f"token is not base64url: {error}") from error
        parts = urlsplit(url)
        if parts.scheme != "https":
            raise TokenRejected(f"unexpected scheme {parts.scheme!r} in the presigned URL")
        host = parts.hostname or ""
        if host != "sts.amazonaws.com" and not (host.startswith("sts.") and host.endswith(".amazonaws.com")):
            raise TokenRejected(f"unexpected host {host!r} in the presigned URL")
        if parts.path != "/":
            raise TokenRejected("unexpected path in the presigned URL")
        pairs = [pair.partition("=") for pair in parts.query.split("&") if pair]
        params: dict[str, str] = {}
        for raw_key, _, raw_value in pairs:
            key = unquote(raw_key)
            if key.lower() not in _ALLOWED_PARAMETERS:
                raise TokenRejected(f"query parameter {key!r} is not allowed")
            if key.lower() in params:
                raise TokenRejected("repeated query parameter")
            params[key.lower()] = unquote(raw_value)
        if params.get("action") != "GetCallerIdentity":
            raise TokenRejected("the presigned request is not GetCallerIdentity")
        signed_headers = params.get("x-amz-signedheaders", "").split(";")
        if CLUSTER_ID_HEADER not in [header.lower() for header in signed_headers]:
            raise TokenRejected(f"the {CLUSTER_ID_HEADER} header is not signed")
        try:
            expires = int(params.get("x-amz-expires", ""))
        except ValueError as error:
            raise TokenRejected("X-Amz-Expires is not an integer") from error
        if not 0 <= expires <= 900:
            raise TokenRejected(f"X-Amz-Expires {expires} is outside 0..900")
        try:
            signed_at = datetime.strptime(params.get("x-amz-date", ""), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError as error:
            raise TokenRejected("X-Amz-Date is missing or malformed") from error
        now = self._now()
        if now > signed_at + SIGNATURE_LIFETIME:
            raise TokenRejected(f"X-Amz-Date {signed_at:%Y-%m-%dT%H:%M:%SZ} is more than 15 minutes old")
        if signed_at > now + SIGNATURE_LIFETIME:
            raise TokenRejected(
                "X-Amz-Date is more than 15 minutes in the future (signature not yet current)"
            )
        return self._check_signature(parts.netloc, pairs, params, signed_headers)

    def _check_signature(
        self,
        netloc: str,
        pairs: list[tuple[str, str, str]],
        params: Mapping[str, str],
        signed_headers: list[str],
    ) -> CallerIdentity:
        if params.get("x-amz-algorithm") != "AWS4-HMAC-SHA256":
            raise TokenRejected("unsupported signing algorithm")
        credential = params.get("x-amz-credential", "").split("/")
        if len(credential) != 5 or credential[3] != "sts" or credential[4] != "aws4_request":
            raise TokenRejected("malformed X-Amz-Credential")
        access_key, day, region = credential[0], credential[1], credential[2]
        secret = self._credentials.get(access_key)
        if secret is None:
            raise TokenRejected(f"unknown access key {access_key!r}")
        amz_date = params["x-amz-date"]
        if not amz_date.startswith(day):
            raise TokenRejected("credential scope date differs from X-Amz-Date")
        header_values = {"host": netloc.lower(), CLUSTER_ID_HEADER: self._cluster_name}
        canonical_headers = ""
        for name in signed_headers:
            if name not in header_values:
                raise TokenRejected(f"signed header {name!r} cannot be reproduced by the server")
            canonical_headers += f"{name}:{header_values[name]}\n"
        encoded = sorted(
            (_encode(unquote(key)), _encode(unquote(value)))
            for key, _, value in pairs
            if unquote(key).lower() != "x-amz-signature"
        )
        canonical_query = "&".join(f"{key}={value}" for key, value in encoded)
        canonical_request = "\n".join(
            ["GET", "/", canonical_query, canonical_headers, ";".join(signed_headers), _EMPTY_PAYLOAD_SHA256]
        )
        scope = f"{day}/{region}/sts/aws4_request"
        string_to_sign = "\n".join(
            ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
        )
        key = f"AWS4{secret}".encode()
        for part in (day, region, "sts", "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, params.get("x-amz-signature", "")):
            raise TokenRejected("signature mismatch (wrong secret, other cluster, or altered URL)")
        return CallerIdentity(access_key_id=access_key, region=region)


def _encode(value: str) -> str:
    return quote(value, safe="-_.~")


@contextlib.contextmanager
def botocore_signs_at(now: Callable[[], datetime]) -> Iterator[None]:
    """Make botocore's SigV4 signer read `now` (simulated time) instead of the wall clock.

    botocore takes the signing time from `botocore.auth.get_current_datetime` (botocore 1.44,
    pinned); patching it is how a token signed inside the simulation carries a simulated
    X-Amz-Date that the stand-in's verifier, on the same clock, can judge.
    """

    def simulated(remove_tzinfo: bool = True) -> datetime:
        current = now().astimezone(UTC)
        return current.replace(tzinfo=None) if remove_tzinfo else current

    with mock.patch("botocore.auth.get_current_datetime", simulated):
        yield
