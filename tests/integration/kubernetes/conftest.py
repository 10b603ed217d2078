"""The Kubernetes stand-in on a manual clock, and ebb's adapter pointed at it over verified TLS.

botocore signs tokens at simulated time (`botocore_signs_at`), so the stand-in's verifier, on the
same clock, judges their age as EKS would.
"""

from __future__ import annotations

import json
import random
import ssl
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
import urllib3

from ebb.adapters.kubernetes import (
    ClusterEndpoint,
    EksKubernetesClient,
    EksTokenSource,
    FixedClusterEndpoint,
    RetryPolicy,
)
from ebb.local.kubernetes import (
    ClusterCertificates,
    KubernetesStandIn,
    ManualClock,
    StandInTimings,
    botocore_signs_at,
    generate_cluster_certificates,
)

CLUSTER = "ebb-test"
REGION = "us-west-2"
ACCESS_KEY = "AKIAEBBLOCALTEST0001"
SECRET_KEY = "local/secret+key-for-the-stand-in"
TIMINGS = StandInTimings(
    controller_delay_seconds=1,
    container_start_seconds=5,
    model_load_seconds=60,
    gpu_allocatable_delay_seconds=30,
    pod_termination_seconds=5,
)


@pytest.fixture(scope="session")
def certificates() -> ClusterCertificates:
    """One cluster CA for the whole run (generating one is cheap, but not free)."""
    return generate_cluster_certificates()


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    """Simulated time, which botocore also signs with."""
    manual = ManualClock(seed=20260101)
    with botocore_signs_at(manual.now):
        yield manual


@pytest.fixture(scope="session")
def session() -> boto3.Session:
    """AWS credentials the stand-in trusts (it plays STS for them); one session caches botocore's models."""
    return boto3.Session(aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=REGION)


@pytest.fixture
def start_stand_in(
    clock: ManualClock, certificates: ClusterCertificates
) -> Iterator[Callable[..., KubernetesStandIn]]:
    """Start stand-ins for cluster `ebb-test` (keywords override the defaults); stopped after the test."""
    started: list[KubernetesStandIn] = []

    def start(**overrides: Any) -> KubernetesStandIn:
        options: dict[str, Any] = {
            "credentials": {ACCESS_KEY: SECRET_KEY},
            "cluster_name": CLUSTER,
            "timings": TIMINGS,
            "certificates": certificates,
            **overrides,
        }
        server = KubernetesStandIn(clock, **options).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def stand_in(start_stand_in: Callable[..., KubernetesStandIn]) -> KubernetesStandIn:
    """A started stand-in for cluster `ebb-test`."""
    return start_stand_in()


@pytest.fixture
def sleeps() -> list[float]:
    """The delays the adapter slept between retries (it never really sleeps in these tests)."""
    return []


@pytest.fixture
def make_client(
    stand_in: KubernetesStandIn, session: boto3.Session, clock: ManualClock, sleeps: list[float]
) -> Iterator[Callable[..., EksKubernetesClient]]:
    """Build adapters for the stand-in (CA, cluster name and credentials can be overridden)."""
    made: list[EksKubernetesClient] = []

    def build(
        *,
        ca_pem: str | None = None,
        cluster_name: str = CLUSTER,
        boto_session: boto3.Session | None = None,
        policy: RetryPolicy | None = None,
        server: KubernetesStandIn | None = None,
    ) -> EksKubernetesClient:
        target = server or stand_in
        endpoint = ClusterEndpoint(url=target.url, ca_pem=ca_pem or target.certificates.ca_pem)
        client = EksKubernetesClient.for_eks_cluster(
            cluster_name,
            session=boto_session or session,
            endpoints=FixedClusterEndpoint(endpoint),
            policy=policy,
            clock=clock.now,
            sleep=sleeps.append,
            rng=random.Random(5),
        )
        made.append(client)
        return client

    yield build
    for client in made:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., EksKubernetesClient]) -> EksKubernetesClient:
    """ebb's adapter, talking to the stand-in."""
    return make_client()


def _deployment(
    name: str,
    *,
    replicas: int = 1,
    gpus: int = 1,
    cpu: str = "4",
    memory: str = "16Gi",
    namespace: str = "default",
    node_selector: dict[str, str] | None = None,
    tolerations: list[dict[str, str]] | None = None,
    affinity: dict[str, Any] | None = None,
    kind: str = "Deployment",
    pod_management_policy: str | None = None,
) -> dict[str, Any]:
    requests: dict[str, str] = {"cpu": cpu, "memory": memory}
    limits: dict[str, str] = {}
    if gpus:
        requests["nvidia.com/gpu"] = str(gpus)
        limits["nvidia.com/gpu"] = str(gpus)
    spec: dict[str, Any] = {
        "containers": [
            {
                "name": "server",
                "image": "vllm/vllm-openai:v0.9.0",
                "resources": {"requests": requests, **({"limits": limits} if limits else {})},
            }
        ]
    }
    if node_selector:
        spec["nodeSelector"] = node_selector
    if tolerations:
        spec["tolerations"] = tolerations
    if affinity:
        spec["affinity"] = affinity
    manifest: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": spec},
        },
    }
    if pod_management_policy:
        manifest["spec"]["podManagementPolicy"] = pod_management_policy
    return manifest


@pytest.fixture
def deployment() -> Callable[..., dict[str, Any]]:
    """A factory of inference Deployment (or StatefulSet) manifests requesting GPUs."""
    return _deployment


@pytest.fixture
def gpu_node(stand_in: KubernetesStandIn) -> Callable[..., None]:
    """Join a HyperPod-style GPU node (ml.g5.12xlarge-like: 48 vCPU, 192 GiB, 4 GPUs by default)."""

    def join(
        name: str,
        *,
        gpus: int = 4,
        cpu: str = "48",
        memory: str = "192Gi",
        labels: dict[str, str] | None = None,
        taints: list[dict[str, str]] | None = None,
        deep_health_checks: bool = False,
    ) -> None:
        stand_in.node_joined(
            name,
            labels={
                "node.kubernetes.io/instance-type": "ml.g5.12xlarge",
                "sagemaker.amazonaws.com/instance-group-name": "inference",
                **(labels or {}),
            },
            capacity={"cpu": cpu, "memory": memory},
            gpus=gpus,
            taints=taints or [],
            deep_health_checks=deep_health_checks,
        )

    return join


class RawResponse:
    """A response read without the adapter: status, headers (lower-case) and body."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


@pytest.fixture
def raw(
    stand_in: KubernetesStandIn, session: boto3.Session, clock: ManualClock
) -> Iterator[Callable[..., RawResponse]]:
    """Send a hand-made request to the stand-in (verified TLS, a valid token unless told otherwise)."""
    tokens = EksTokenSource(CLUSTER, session=session, clock=clock.now)
    context = ssl.create_default_context(cadata=stand_in.certificates.ca_pem)
    port = int(stand_in.url.rsplit(":", 1)[1])
    pool = urllib3.HTTPSConnectionPool("127.0.0.1", port, ssl_context=context, retries=False)

    def send(
        method: str,
        path: str,
        *,
        body: Any = None,
        content_type: str = "application/json",
        token: str | None = "valid",
        headers: dict[str, str] | None = None,
    ) -> RawResponse:
        all_headers = dict(headers or {})
        if token == "valid":
            all_headers["Authorization"] = f"Bearer {tokens.token()}"
        elif token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        payload = None
        if body is not None:
            payload = body if isinstance(body, bytes) else json.dumps(body).encode()
            all_headers["Content-Type"] = content_type
        response = pool.request(method, path, body=payload, headers=all_headers)
        return RawResponse(
            response.status, {k.lower(): v for k, v in response.headers.items()}, response.data
        )

    yield send
    pool.close()
