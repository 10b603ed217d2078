"""Where the cluster's API server is and which CA signs its certificate: EKS DescribeCluster."""

from __future__ import annotations

import base64
import binascii
import threading
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ebb.adapters.kubernetes.errors import (
    EksClusterNotFound,
    KubernetesError,
    KubernetesUnavailable,
)

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_eks import EKSClient

# EKS's modelled transient errors (botocore eks service-2.json: ServerException, and
# ServiceUnavailableException: "Back off and retry the operation") and throttling.
_THROTTLING_CODES = frozenset(
    {"ThrottlingException", "TooManyRequestsException", "ServerException", "ServiceUnavailableException"}
)


class ClusterEndpoint(BaseModel):
    """The API server's HTTPS address and the PEM certificate(s) its serving certificate must chain to."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = Field(description="https://host[:port], no path")
    ca_pem: str = Field(min_length=1)

    @field_validator("url")
    @classmethod
    def _https_host_only(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.hostname or parts.path not in ("", "/"):
            raise ValueError(f"{value!r} is not an https://host[:port] API server address")
        return value.rstrip("/")

    @field_validator("ca_pem")
    @classmethod
    def _pem_certificate(cls, value: str) -> str:
        if "-----BEGIN CERTIFICATE-----" not in value:
            raise ValueError("the cluster CA is not a PEM certificate")
        return value

    @property
    def host(self) -> str:
        """Host name or IP address of the API server."""
        host = urlsplit(self.url).hostname
        assert host is not None  # guaranteed by the validator
        return host

    @property
    def port(self) -> int:
        """TCP port of the API server (443 unless the URL says otherwise)."""
        return urlsplit(self.url).port or 443


class ClusterEndpointSource(Protocol):
    """Gives the API server address and CA of the cluster ebb manages."""

    def endpoint(self) -> ClusterEndpoint:
        """The cluster's endpoint; may be cached."""
        ...


class FixedClusterEndpoint:
    """An endpoint known in advance (a local cluster, or one configured by hand)."""

    def __init__(self, endpoint: ClusterEndpoint) -> None:
        self._endpoint = endpoint

    def endpoint(self) -> ClusterEndpoint:
        """The endpoint given at construction."""
        return self._endpoint


class EksClusterEndpoint:
    """Reads the endpoint and CA once from EKS DescribeCluster and keeps them."""

    def __init__(self, cluster_name: str, *, session: boto3.Session | None = None, region: str | None = None):
        self._cluster_name = cluster_name
        self._session = session
        self._region = region
        self._cached: ClusterEndpoint | None = None
        self._lock = threading.Lock()

    def endpoint(self) -> ClusterEndpoint:
        """The cluster's endpoint, asking EKS on the first call only."""
        with self._lock:
            if self._cached is None:
                self._cached = self._describe()
            return self._cached

    def _describe(self) -> ClusterEndpoint:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - lazy, with boto3

        try:
            cluster = self._eks().describe_cluster(name=self._cluster_name)["cluster"]
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code == "ResourceNotFoundException":
                raise EksClusterNotFound(
                    f"EKS cluster {self._cluster_name!r} does not exist in this account and region"
                ) from error
            http_status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            if code in _THROTTLING_CODES or http_status >= 500:
                raise KubernetesUnavailable(f"EKS DescribeCluster failed: {code}") from error
            raise KubernetesError(f"EKS DescribeCluster failed: {error}") from error
        except BotoCoreError as error:
            raise KubernetesUnavailable(f"EKS DescribeCluster failed: {error}") from error
        endpoint = cluster.get("endpoint")
        ca_data = cluster.get("certificateAuthority", {}).get("data")
        if not endpoint or not ca_data:
            status = cluster.get("status", "unknown")
            raise KubernetesUnavailable(
                f"EKS cluster {self._cluster_name!r} has no endpoint or CA yet (status {status})"
            )
        try:
            ca_pem = base64.b64decode(ca_data, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as error:
            raise KubernetesError(
                f"EKS cluster {self._cluster_name!r}: certificateAuthority.data is not base64 PEM"
            ) from error
        try:
            return ClusterEndpoint(url=endpoint, ca_pem=ca_pem)
        except ValidationError as error:
            raise KubernetesError(
                f"EKS cluster {self._cluster_name!r}: unusable endpoint or CA: {error}"
            ) from error

    def _eks(self) -> EKSClient:
        import boto3  # noqa: PLC0415 - created lazily: boto3 costs import time on cold start

        session = self._session or boto3.Session()
        return session.client("eks", region_name=self._region or session.region_name)
