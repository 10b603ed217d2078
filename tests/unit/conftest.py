"""Fixtures shared by the unit tests: one in-memory state table.

`MemoryStateTable` is the one fake of `ebb.adapters.state_table.StateTable` the service tests
decide through. Its methods have the Protocol's signatures exactly (checked by
tests/unit/service/test_memory_state_table.py), and its conditions are `DynamoStateTable`'s,
written out in Python: the counter and claim lease, the acting lease a round or a lowering
decision holds (`now < acting_until`), the deferral note, the wait token. So a change of the
Protocol is made once, here, and a fake that lets through what DynamoDB would refuse fails
that test rather than passing the tests that use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from ebb.adapters.state_table import (
    AuditEntry,
    ClaimLost,
    PoolBusy,
    ShortagesChanged,
    StoredPool,
    WaitSuperseded,
    decider,
)


@dataclass
class _PoolItem:
    """The attributes of one pool's item that a `StoredPool` does not carry."""

    stored: StoredPool
    claim_token: str | None = None
    claim_until: datetime | None = None
    deferred: str | None = None


@dataclass
class MemoryStateTable:
    """`StateTable` in memory, with DynamoStateTable's conditions.

    `calls` gets `(method, argument)` for the writes and the configuration reads the decide
    tests follow (it may be a list shared with other fakes, so their order is seen); `rivals`
    claims are lost to a rival decision that claims first (the counter moves, as if another
    invocation had claimed).
    """

    calls: list[tuple[str, Any]] = field(default_factory=list)
    sequence: int = 1
    """The sequence number `config_sequence` answers (a configuration's number)."""
    rivals: int = 0
    items: dict[str, _PoolItem] = field(default_factory=dict)
    audit: list[AuditEntry] = field(default_factory=list)
    alarms: str | None = None
    pools: tuple[str, ...] = ()

    # -- setting up ------------------------------------------------------------------------------

    def hold(self, stored: StoredPool) -> None:
        """Make the pool's item what `stored` says (a recorded decision's input, a lease...)."""
        self.items[stored.node_pool] = _PoolItem(stored=stored)

    def stored(self, node_pool: str) -> StoredPool:
        """The pool's item as `load_pool` reads it, without counting a call."""
        item = self.items.get(node_pool)
        return item.stored if item else StoredPool(node_pool=node_pool, decisions=0, state_json=None)

    def deferred(self, node_pool: str) -> str | None:
        """The deferral note the last record left (`record`'s `deferred`)."""
        item = self.items.get(node_pool)
        return item.deferred if item else None

    def _item(self, node_pool: str) -> _PoolItem:
        if node_pool not in self.items:
            self.items[node_pool] = _PoolItem(stored=self.stored(node_pool))
        return self.items[node_pool]

    def _set(self, node_pool: str, **changes: Any) -> None:
        item = self._item(node_pool)
        item.stored = replace(item.stored, **changes)

    # -- the Protocol ------------------------------------------------------------------------------

    def load_pool(self, node_pool: str) -> StoredPool:
        return self.stored(node_pool)

    def claim(
        self,
        node_pool: str,
        seen: int,
        token: str,
        *,
        now: datetime,
        lease: timedelta,
        lowering: bool = False,
    ) -> int:
        item = self._item(node_pool)
        if self.rivals:
            self.rivals -= 1
            self._set(node_pool, decisions=item.stored.decisions + 1)
            raise ClaimLost(f"node pool {node_pool!r}: decision {seen} was claimed already")
        claim_free = item.claim_until is None or item.claim_until <= now
        acting_free = item.stored.acting_until is None or item.stored.acting_until <= now
        if item.stored.decisions != seen or not claim_free or (lowering and not acting_free):
            raise ClaimLost(
                f"node pool {node_pool!r}: decision {seen} was claimed already, or another claim's "
                "lease runs" + (", or a provisioning round holds the acting lease" if lowering else "")
            )
        self.calls.append(("claim", seen))
        item.claim_token, item.claim_until = token, now + lease
        self._set(node_pool, decisions=seen + 1)
        if lowering:
            self._set(node_pool, acting_by=decider(token), acting_until=now + lease)
        return seen + 1

    def record(
        self,
        node_pool: str,
        *,
        claim: int,
        token: str,
        state_json: str,
        execution_arn: str | None,
        audit: Sequence[AuditEntry],
        config_sequence: int | None = None,
        lowering: bool = False,
        deferred: str | None = None,
    ) -> None:
        item = self._item(node_pool)
        if (
            item.stored.decisions != claim
            or item.claim_token != token
            or (lowering and item.stored.acting_by != decider(token))
        ):
            raise ClaimLost(f"node pool {node_pool!r}: claim {claim} was taken over before recording")
        self.calls.append(("record", claim))
        changes: dict[str, Any] = {"state_json": state_json}
        if execution_arn is not None:
            changes["execution_arn"] = execution_arn
        if config_sequence is not None:
            changes["config_sequence"] = config_sequence
        if lowering:
            changes.update(acting_by=None, acting_until=None)
        self._set(node_pool, **changes)
        item.claim_until = None
        item.deferred = deferred
        self.audit.extend(audit)

    def epoch(self) -> str:
        return "0a1b2c3d"

    def append_audit(self, audit: Sequence[AuditEntry]) -> None:
        self.audit.extend(audit)

    def alarms_version(self) -> str | None:
        return self.alarms

    def set_alarms_version(self, version: str) -> None:
        self.alarms = version

    def config_sequence(self, digest: str) -> int:
        self.calls.append(("config_sequence", digest))
        return self.sequence

    def current_config_sequence(self) -> int:
        return self.sequence

    def roll_out_pools(self, pools: Sequence[str]) -> tuple[str, ...]:
        before, self.pools = self.pools, tuple(sorted(pools))
        return tuple(sorted(set(before) - set(pools)))

    def store_wait_token(self, node_pool: str, generation: int, token: str, *, decisions: int) -> None:
        stored = self.stored(node_pool)
        if stored.wait_generation > generation or stored.decisions != decisions:
            raise WaitSuperseded(f"node pool {node_pool!r}: a decision came in, or a newer generation waits")
        self._set(node_pool, wait_token=token, wait_generation=generation)

    def take_wait_token(self, node_pool: str) -> tuple[int, str] | None:
        stored = self.stored(node_pool)
        if stored.wait_token is None:
            return None
        self._set(node_pool, wait_token=None)
        return stored.wait_generation, stored.wait_token

    def close_generation(self, node_pool: str, generation: int) -> None:
        if self.stored(node_pool).closed_generation < generation:
            self._set(node_pool, closed_generation=generation)

    def acquire_acting(self, node_pool: str, holder: str, *, now: datetime, lease: timedelta) -> None:
        stored = self.stored(node_pool)
        if stored.acting_until is not None and stored.acting_until > now and stored.acting_by != holder:
            raise PoolBusy(f"node pool {node_pool!r}: another provisioning execution is acting on it")
        self.calls.append(("acquire_acting", holder))
        self._set(node_pool, acting_by=holder, acting_until=now + lease)

    def release_acting(self, node_pool: str, holder: str) -> bool:
        if self.stored(node_pool).acting_by != holder:
            return False
        self.calls.append(("release_acting", holder))
        self._set(node_pool, acting_by=None, acting_until=None)
        return self.deferred(node_pool) is not None

    def store_shortages(self, node_pool: str, before: str | None, after: str) -> None:
        if self.stored(node_pool).shortages_json != before:
            raise ShortagesChanged(f"node pool {node_pool!r}: the shortage record changed")
        self._set(node_pool, shortages_json=after)


@pytest.fixture
def memory_state_table() -> type[MemoryStateTable]:
    """The in-memory `StateTable` class (instantiate it with the calls list and knobs a test needs)."""
    return MemoryStateTable
