"""The provisioning workflow's fence: an execution acts only for its pool's current generation.

decide starts an execution and then records the generation (claim, act, record), so the fence
can run before the record: an older stored generation means "not recorded yet" (retried by the
state machine), never "superseded"; only a newer one supersedes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from ebb.adapters.state_table import AuditEntry, StoredPool
from ebb.service.decision import PoolState
from ebb.service.provisioning import GenerationNotRecorded, ProvisioningTasks
from ebb.service.provisioning_request import DecisionRequest


class _Table:
    def __init__(self, generation: int) -> None:
        self.state = PoolState(generation=generation)

    def load_pool(self, node_pool: str) -> StoredPool:
        return StoredPool(node_pool=node_pool, decisions=1, state_json=self.state.model_dump_json())

    def append_audit(self, audit: Sequence[AuditEntry]) -> None:
        raise AssertionError("not called")


def _request(generation: int) -> DecisionRequest:
    return DecisionRequest(
        node_pool="gpu",
        generation=generation,
        node_targets={"g": 1},
        decided_at=datetime(2026, 12, 3, tzinfo=UTC),
    )


def _tasks(generation: int) -> ProvisioningTasks:
    return ProvisioningTasks(table=_Table(generation))  # type: ignore[arg-type]


def test_the_current_generation_may_act() -> None:
    fence = _tasks(2).check_fence(_request(2))
    assert (fence.current, fence.generation, fence.pool_generation) == (True, 2, 2)


def test_a_newer_generation_supersedes() -> None:
    fence = _tasks(3).check_fence(_request(2))
    assert (fence.current, fence.pool_generation) == (False, 3)


def test_a_generation_not_recorded_yet_is_retried_not_superseded() -> None:
    with pytest.raises(
        GenerationNotRecorded,
        match=r"^node pool 'gpu': generation 2 is not recorded yet \(the pool is at 1\)$",
    ):
        _tasks(1).check_fence(_request(2))
