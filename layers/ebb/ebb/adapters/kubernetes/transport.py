"""HTTPS to the Kubernetes API: verified TLS, the IAM bearer token, retries, errors as ebb's own.

Retries follow what the API server asks for (Kubernetes API concepts; client-go's `checkWait`):
a 429 that carries `Retry-After` is API Priority and Fairness shedding load, and is retried after
that many seconds; 5xx answers, timeouts and refused connections are retried with exponential
backoff and jitter. A 429 whose `Status` names a `DisruptionBudget` cause is the Eviction API
refusing, not throttling: it raises `EvictionRefused` at once. A 401 is retried once with a
freshly made token (the cached one may have expired early). Nothing else is retried here.
"""

import json
import random
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol
from urllib.parse import urlencode

import urllib3
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ebb.adapters.kubernetes.endpoint import ClusterEndpoint, ClusterEndpointSource
from ebb.adapters.kubernetes.errors import (
    ClusterCertificateRejected,
    EvictionRefused,
    KubernetesConflict,
    KubernetesError,
    KubernetesForbidden,
    KubernetesNotFound,
    KubernetesRejected,
    KubernetesThrottled,
    KubernetesUnauthorized,
    KubernetesUnavailable,
)
from ebb.adapters.kubernetes.objects import Status

JSON: Final = "application/json"
MERGE_PATCH: Final = "application/merge-patch+json"
DISRUPTION_BUDGET_CAUSE: Final = "DisruptionBudget"
USER_AGENT: Final = "ebb/0.1"


class TokenSource(Protocol):
    """Gives the bearer token, and forgets it when the API server refuses it."""

    def token(self) -> str:
        """A valid token."""
        ...

    def invalidate(self) -> None:
        """Drop the cached token."""
        ...


class RetryPolicy(BaseModel):
    """How hard the adapter tries before giving up with a retryable error."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    attempts: int = Field(default=5, ge=1, description="tries in all, the first included")
    base_delay_seconds: float = Field(default=0.2, gt=0)
    max_delay_seconds: float = Field(default=5.0, gt=0)
    max_retry_after_seconds: float = Field(
        default=30.0, gt=0, description="cap on a server's Retry-After (a Lambda has little time)"
    )
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    read_timeout_seconds: float = Field(default=20.0, gt=0)

    def backoff(self, retry: int, rng: random.Random) -> float:
        """Delay before retry number `retry` (1-based): exponential, capped, half of it jittered."""
        ceiling: float = min(self.max_delay_seconds, self.base_delay_seconds * 2.0 ** (retry - 1))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


class ApiResponse(BaseModel):
    """A successful answer: status code, headers (lower-case names) and the decoded JSON body."""

    model_config = ConfigDict(frozen=True)

    status: int
    headers: dict[str, str]
    body: Any


class ApiTransport:
    """Sends requests to one cluster's API server.

    Nothing is created until the first request: the endpoint (EKS DescribeCluster), the TLS
    context (trusting only the cluster CA) and the connection pool.
    """

    def __init__(
        self,
        endpoints: ClusterEndpointSource,
        tokens: TokenSource,
        *,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._endpoints = endpoints
        self._tokens = tokens
        self._policy = policy or RetryPolicy()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._pool: urllib3.HTTPSConnectionPool | None = None
        self._lock = threading.Lock()

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = JSON,
    ) -> ApiResponse:
        """Send one API request, retrying as the module docstring says; return the 2xx answer."""
        url = path + ("?" + urlencode(query) if query else "")
        payload = None if body is None else json.dumps(body).encode()
        refreshed_token = False
        attempt = 1
        while True:
            headers = {
                "Authorization": f"Bearer {self._tokens.token()}",
                "Accept": JSON,
                "User-Agent": USER_AGENT,
            }
            if payload is not None:
                headers["Content-Type"] = content_type
            try:
                response = self._connection().request(
                    method, url, body=payload, headers=headers, retries=False, redirect=False
                )
            except urllib3.exceptions.SSLError as error:
                if _is_certificate_failure(error):
                    raise ClusterCertificateRejected(
                        f"the API server's certificate does not verify against the cluster CA: {error}"
                    ) from error
                failure: KubernetesError = KubernetesUnavailable(f"TLS failure with the API server: {error}")
                delay = self._policy.backoff(attempt, self._rng)
            except urllib3.exceptions.HTTPError as error:
                failure = KubernetesUnavailable(f"{method} {path}: no answer from the API server: {error}")
                delay = self._policy.backoff(attempt, self._rng)
            else:
                status = response.status
                response_headers = {name.lower(): value for name, value in response.headers.items()}
                if 200 <= status < 300:
                    return ApiResponse(status=status, headers=response_headers, body=_decode(response, path))
                api_status = _status_of(response)
                if status == 401 and not refreshed_token:
                    self._tokens.invalidate()
                    refreshed_token = True
                    continue
                refusal = _eviction_refusal(status, api_status, path)
                if refusal is not None:
                    raise refusal
                retry_after = _retry_after(response_headers)
                if status == 429 and retry_after is not None:
                    failure = KubernetesThrottled(_describe(method, path, status, api_status), status=status)
                    delay = min(retry_after, self._policy.max_retry_after_seconds)
                elif status >= 500:
                    failure = KubernetesUnavailable(
                        _describe(method, path, status, api_status),
                        status=status,
                        reason=api_status.reason if api_status else None,
                    )
                    delay = (
                        min(retry_after, self._policy.max_retry_after_seconds)
                        if retry_after is not None
                        else self._policy.backoff(attempt, self._rng)
                    )
                else:
                    raise _client_error(method, path, status, api_status)
            if attempt >= self._policy.attempts:
                raise failure
            self._sleep(delay)
            attempt += 1

    def close(self) -> None:
        """Close pooled connections (a later request opens new ones)."""
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None

    def _connection(self) -> urllib3.HTTPSConnectionPool:
        with self._lock:
            if self._pool is None:
                self._pool = _pool_for(self._endpoints.endpoint(), self._policy)
            return self._pool


def _pool_for(endpoint: ClusterEndpoint, policy: RetryPolicy) -> urllib3.HTTPSConnectionPool:
    # Trust exactly the cluster CA, never the system store; hostname checking stays on.
    context = ssl.create_default_context(cadata=endpoint.ca_pem)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return urllib3.HTTPSConnectionPool(
        endpoint.host,
        endpoint.port,
        ssl_context=context,
        cert_reqs="CERT_REQUIRED",
        timeout=urllib3.Timeout(connect=policy.connect_timeout_seconds, read=policy.read_timeout_seconds),
        maxsize=4,
        retries=False,
    )


def _is_certificate_failure(error: urllib3.exceptions.SSLError) -> bool:
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return True
        cause = cause.__cause__ or cause.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(error) or "doesn't match" in str(error)


def _decode(response: urllib3.BaseHTTPResponse, path: str) -> Any:
    content_type = response.headers.get("Content-Type", "")
    if not content_type.startswith(JSON):
        raise KubernetesError(f"{path}: expected {JSON}, the API server answered {content_type!r}")
    try:
        return json.loads(response.data)
    except ValueError as error:
        raise KubernetesError(f"{path}: the API server's answer is not JSON: {error}") from error


def _status_of(response: urllib3.BaseHTTPResponse) -> Status | None:
    # Errors from the API machinery are Status objects; filters such as APF answer in plain text.
    if not response.headers.get("Content-Type", "").startswith(JSON):
        return None
    try:
        return Status.model_validate_json(response.data)
    except ValidationError:
        return None


# kube-apiserver's eviction handler answers 500 when several budgets select one pod: it will do so
# on every retry until the budgets change, so it is a refusal, not a transient error
# (pkg/registry/core/pod/storage/eviction.go; "API-initiated Eviction").
_OVERLAPPING_BUDGETS = "more than one PodDisruptionBudget"


def _eviction_refusal(status: int, api_status: Status | None, path: str) -> EvictionRefused | None:
    if api_status is None or not path.endswith("/eviction"):
        return None
    parts = path.strip("/").split("/")
    namespace, pod = (parts[3], parts[5]) if len(parts) >= 6 else ("", path)
    if status == 500 and _OVERLAPPING_BUDGETS in (api_status.message or ""):
        return EvictionRefused(
            f"{namespace}/{pod}: {api_status.message}",
            namespace=namespace,
            pod=pod,
            budget_messages=(api_status.message or "",),
            status=500,
            reason=api_status.reason or "InternalError",
        )
    if status != 429 or api_status.details is None:
        return None
    budgets = tuple(
        cause.message or "" for cause in api_status.details.causes if cause.reason == DISRUPTION_BUDGET_CAUSE
    )
    if not budgets:
        return None
    message = api_status.message or "eviction refused by a PodDisruptionBudget"
    return EvictionRefused(
        f"{namespace}/{pod}: {message} {' '.join(budgets)}".strip(),
        namespace=namespace,
        pod=pod,
        budget_messages=budgets,
    )


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP date: the API server never sends one
    return max(seconds, 0.0)


def _describe(method: str, path: str, status: int, api_status: Status | None) -> str:
    detail = api_status.message if api_status and api_status.message else "no Status body"
    return f"{method} {path}: {status} {detail}"


def _client_error(method: str, path: str, status: int, api_status: Status | None) -> KubernetesError:
    message = _describe(method, path, status, api_status)
    reason = api_status.reason if api_status else None
    if status == 401:
        return KubernetesUnauthorized(message, status=status, reason=reason)
    if status == 403:
        return KubernetesForbidden(message, status=status, reason=reason)
    if status == 404:
        return KubernetesNotFound(message, status=status, reason=reason)
    if status == 409:
        return KubernetesConflict(message, status=status, reason=reason)
    if status == 429:
        # No Retry-After and no DisruptionBudget cause: nothing says when to come back.
        return KubernetesThrottled(message, status=status, reason=reason)
    return KubernetesRejected(message, status=status, reason=reason)
