"""The combined world the tests share: the test template with HyperPod and its EKS cluster."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ebb.local.cluster import ClusterWorldConfig, HyperPodOnEks, start_cluster_world
from ebb.local.kubernetes import ClusterCertificates, generate_cluster_certificates
from ebb.local.world import LocalWorldConfig

from .world_testkit import SEED, TEMPLATE, TIMINGS


@pytest.fixture(scope="session")
def certificates() -> ClusterCertificates:
    """One cluster CA for the run."""
    return generate_cluster_certificates()


@pytest.fixture
def cluster(certificates: ClusterCertificates) -> Iterator[HyperPodOnEks]:
    """The world, seeded, with HyperPod and the EKS cluster its nodes join."""
    with start_cluster_world(
        TEMPLATE,
        LocalWorldConfig(seed=SEED),
        ClusterWorldConfig(kubernetes_timings=TIMINGS),
        certificates=certificates,
    ) as running:
        yield running
