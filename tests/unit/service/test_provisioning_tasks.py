"""The provisioning tasks' fence and wait-token rules, over an in-memory state table.

The rounds themselves run against the HyperPod stand-in (tests/integration/provision); these are
the rules that need no cluster: which executions may act, and when one may wait for an event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from ebb.adapters.state_table import StoredPool, WaitSuperseded
from ebb.core.provisioning import FenceVerdict
from ebb.service.decision import PoolState
from ebb.service.provisioning import GenerationNotRecorded, ProvisioningTasks
from ebb.service.provisioning_request import DecisionRequest

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@dataclass
class Table:
    generation: int = 3
    config: int = 2
    decisions: int = 7
    stored_tokens: list[tuple[int, str, int]] = field(default_factory=list)

    def load_pool(self, node_pool: str) -> StoredPool:
        state = PoolState(generation=self.generation)
        return StoredPool(node_pool=node_pool, decisions=self.decisions, state_json=state.model_dump_json())

    def current_config_sequence(self) -> int:
        return self.config

    def store_wait_token(self, node_pool: str, generation: int, token: str, *, decisions: int) -> None:
        self.stored_tokens.append((generation, token, decisions))


def _request(generation: int = 3, config: int = 2) -> DecisionRequest:
    return DecisionRequest(
        node_pool="gpu",
        generation=generation,
        config_version=config,
        node_targets={"gpu-a": 1},
        decided_at=NOW,
    )


@pytest.mark.parametrize(
    ("generation", "config", "verdict"),
    [
        (3, 2, FenceVerdict.CURRENT),
        (2, 2, FenceVerdict.NEWER_GENERATION),
        (3, 1, FenceVerdict.NEWER_CONFIGURATION),
    ],
)
def test_the_fence_compares_generation_and_the_ordered_configuration_version(
    generation: int, config: int, verdict: FenceVerdict
) -> None:
    result = ProvisioningTasks(table=Table()).check_fence(_request(generation, config))  # type: ignore[arg-type]
    assert result.verdict is verdict
    assert result.current is (verdict is FenceVerdict.CURRENT)
    assert (result.pool_generation, result.current_config_version) == (3, 2)


def test_the_first_fence_waits_for_decide_to_record_the_generation() -> None:
    tasks = ProvisioningTasks(table=Table(generation=3))  # type: ignore[arg-type]
    with pytest.raises(GenerationNotRecorded, match=r"generation 4 is not recorded yet \(the pool's is 3\)"):
        tasks.first_fence(_request(generation=4))
    assert tasks.first_fence(_request(generation=3)).current


def test_a_token_is_stored_with_the_decision_counter_it_was_checked_against() -> None:
    table = Table()
    ProvisioningTasks(table=table).store_wait_token(_request(), "token-1")  # type: ignore[arg-type]
    assert table.stored_tokens == [(3, "token-1", 7)]


def test_a_superseded_execution_may_not_wait() -> None:
    table = Table(generation=4)
    with pytest.raises(WaitSuperseded, match="generation 4 supersedes 3") as raised:
        ProvisioningTasks(table=table).store_wait_token(_request(generation=3), "token-1")  # type: ignore[arg-type]
    assert type(raised.value) is WaitSuperseded
    assert table.stored_tokens == []
