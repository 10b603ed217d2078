"""Fixtures of the simulator's local-world checks: one cluster CA for the run."""

from __future__ import annotations

import pytest

from ebb.local.kubernetes import ClusterCertificates, generate_cluster_certificates


@pytest.fixture(scope="session")
def certificates() -> ClusterCertificates:
    """One cluster CA for the run."""
    return generate_cluster_certificates()
