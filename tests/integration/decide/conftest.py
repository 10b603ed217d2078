"""Fixtures of the decide-path tests: one cluster CA for the run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ebb.local.kubernetes import ClusterCertificates, generate_cluster_certificates
from ebb.local.provisioning_invariants import check_provisioning_invariants, checking_deployments


@pytest.fixture(scope="session")
def certificates() -> ClusterCertificates:
    """One cluster CA for the run."""
    return generate_cluster_certificates()


@pytest.fixture(autouse=True)
def provisioning_invariants(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every deployment of the stack in a test here is checked, before its world closes, for the
    provisioning invariants (never more nodes than the targets, never two executions acting on
    a pool at once); a test that breaks them on purpose checks them itself."""
    if request.node.get_closest_marker("breaks_provisioning_invariants"):
        yield
        return
    with checking_deployments(check_provisioning_invariants):
        yield
