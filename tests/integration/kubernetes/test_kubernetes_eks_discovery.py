"""The adapter finds the API server and its CA through EKS DescribeCluster, as in production.

DescribeCluster returns `cluster.endpoint` and `cluster.certificateAuthority.data` (base64 of the
PEM CA; Amazon EKS API reference, DescribeCluster / Certificate). moto's EKS answers with a random
endpoint and CA, so the test points its stored cluster at the stand-in (moto 5.2.5 internals:
`moto.eks.models.eks_backends[account][region].clusters[name]`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

import boto3
import pytest
from moto import mock_aws
from moto.eks.models import eks_backends

from ebb.adapters.kubernetes import (
    ClusterCertificateRejected,
    EksClusterNotFound,
    EksKubernetesClient,
)
from ebb.local.kubernetes import KubernetesStandIn, ManualClock, generate_cluster_certificates

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"


@pytest.fixture
def eks(session: boto3.Session) -> Iterator[Callable[[str, str, str], None]]:
    """Create EKS clusters in moto whose endpoint and CA are the given ones."""
    with mock_aws():

        def create(name: str, endpoint: str, ca_base64: str) -> None:
            session.client("eks").create_cluster(
                name=name,
                roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks-cluster",
                resourcesVpcConfig={"subnetIds": ["subnet-0123456789abcdef0"]},
            )
            cluster = eks_backends[ACCOUNT][session.region_name].clusters[name]
            cluster.endpoint = endpoint
            cluster.certificate_authority = {"data": ca_base64}

        yield create


def _client(session: boto3.Session, clock: ManualClock, name: str = "ebb-test") -> EksKubernetesClient:
    return EksKubernetesClient.for_eks_cluster(
        name, session=session, clock=clock.now, sleep=lambda _: None, rng=random.Random(0)
    )


def test_endpoint_and_ca_come_from_describe_cluster(
    eks: Callable[[str, str, str], None],
    stand_in: KubernetesStandIn,
    session: boto3.Session,
    clock: ManualClock,
    gpu_node: Callable[..., None],
) -> None:
    eks("ebb-test", stand_in.url, stand_in.certificates.ca_base64)
    gpu_node("gpu-1")
    client = _client(session, clock)
    assert stand_in.requests == []  # nothing is contacted before the first call

    assert [node.name for node in client.list_nodes()] == ["gpu-1"]
    client.close()


def test_a_ca_in_describe_cluster_that_did_not_sign_the_server_certificate_is_refused(
    eks: Callable[[str, str, str], None],
    stand_in: KubernetesStandIn,
    session: boto3.Session,
    clock: ManualClock,
) -> None:
    eks("ebb-test", stand_in.url, generate_cluster_certificates().ca_base64)

    with pytest.raises(ClusterCertificateRejected):
        _client(session, clock).list_nodes()


def test_an_unknown_cluster_is_a_configuration_error(
    eks: Callable[[str, str, str], None], session: boto3.Session, clock: ManualClock
) -> None:
    with pytest.raises(EksClusterNotFound, match="'missing' does not exist"):
        _client(session, clock, "missing").list_nodes()
