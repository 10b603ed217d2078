"""Fixtures of the decide-path tests: one cluster CA for the run, the provisioning invariants
checked on every deployment, and the example stack the rollout and modes tests deploy."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from ebb.config import EbbConfig, load_config_files
from ebb.local.cluster import HyperPodOnEks
from ebb.local.kubernetes import ClusterCertificates, generate_cluster_certificates
from ebb.local.provisioning_invariants import check_provisioning_invariants, checking_deployments
from ebb.local.stack_deployment import (
    BATCH,
    audit,
    deployed_config,
    kubernetes,
    run_past_next_tick,
    write_config,
)
from ebb.service.idle_polling import IDLE_POLL_MINUTES


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


class ExampleStack:
    """The example configuration in a test's directory, deployed as the stack (template.yaml in the
    local world), and what the tests here read of it: the set-up of the rollout and modes tests."""

    def __init__(self, directory: Path, certificates: ClusterCertificates) -> None:
        self.directory = directory
        self.certificates = certificates

    @contextmanager
    def deployed(
        self,
        *,
        shadow_mode: bool = False,
        edit: Callable[[Path], None] | None = None,
        **binding: Any,
    ) -> Iterator[tuple[HyperPodOnEks, EbbConfig]]:
        """The example written (acting unless `shadow_mode`), changed by `edit` (given the
        directory) and by these ClusterBinding spec fields, loaded as `ebb validate` loads it,
        and deployed."""
        write_config(self.directory, shadow_mode=shadow_mode)
        if edit is not None:
            edit(self.directory)
        if binding:
            self.edit_binding(lambda spec: spec.update(binding))
        config = load_config_files(sorted(self.directory.glob("*.yaml")))
        with deployed_config(self.directory, config, self.certificates) as deployment:
            yield deployment

    def edit_binding(self, change: Callable[[dict[str, Any]], None]) -> None:
        """Change the ClusterBinding's spec in the directory's cluster-binding.yaml."""
        edit_binding(self.directory, change)

    @staticmethod
    def worker_replicas(cluster: HyperPodOnEks, config: EbbConfig) -> int:
        """The batch worker's replicas, as its scale subresource says."""
        client = kubernetes(cluster, config)
        try:
            return client.read_scale(BATCH).spec.replicas
        finally:
            client.close()

    def run_until_worker_replicas(
        self, cluster: HyperPodOnEks, config: EbbConfig, replicas: int, *, ticks: int = IDLE_POLL_MINUTES + 1
    ) -> datetime:
        """Run tick by tick until the batch worker has `replicas`: a pool at rest is woken by its
        queue's alarm or, at the latest, by the next tick that polls it (`IDLE_POLL_MINUTES`)."""
        for _ in range(ticks):
            after = run_past_next_tick(cluster)
            if self.worker_replicas(cluster, config) == replicas:
                return after
        raise AssertionError(f"the batch worker did not reach {replicas} replicas in {ticks} ticks")

    @staticmethod
    def set_worker_replicas(cluster: HyperPodOnEks, config: EbbConfig, replicas: int) -> None:
        """`kubectl scale --replicas` on the batch worker, by hand."""
        client = kubernetes(cluster, config)
        try:
            client.scale(BATCH, replicas)
        finally:
            client.close()

    @staticmethod
    def pool_decisions(cluster: HyperPodOnEks, since: datetime, pool: str = "gpu") -> list[dict[str, Any]]:
        """The pool's decision records from `since` (its audit entries that are not events)."""
        return [r for r in audit(cluster, f"POOL#{pool}", since) if "event" not in r]

    @staticmethod
    def pool_events(
        cluster: HyperPodOnEks, event: str, since: datetime, pool: str = "gpu"
    ) -> list[dict[str, Any]]:
        """The pool's audit events of one kind (`provisioning-ended`, `node-pool-retired`) from `since`."""
        return [r for r in audit(cluster, f"POOL#{pool}", since) if r.get("event") == event]


def edit_binding(directory: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Change the ClusterBinding's spec in `directory`'s cluster-binding.yaml."""
    path = directory / "cluster-binding.yaml"
    documents = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    for document in documents:
        if document.get("kind") == "ClusterBinding":
            change(document["spec"])
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False), encoding="utf-8")


@pytest.fixture
def example(tmp_path: Path, certificates: ClusterCertificates) -> ExampleStack:
    """The example configuration in this test's `config` directory, ready to deploy."""
    return ExampleStack(tmp_path / "config", certificates)
