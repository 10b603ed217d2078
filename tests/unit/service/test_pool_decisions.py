"""A batch of decision requests: one decision per pool, and a failed pool's messages back soon."""

from __future__ import annotations

import json
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import pytest

from ebb.errors import EbbError
from ebb.service import pool_decisions
from ebb.service.pool_decisions import PoolDecisions, QueuedRequest, retry_delay


class RecordingQueue:
    def __init__(self) -> None:
        self.retries: list[tuple[list[str], int]] = []

    def send(self, messages: Sequence[Any]) -> None:
        raise AssertionError("decide never sends")

    def retry_in(self, receipt_handles: Sequence[str], seconds: int) -> None:
        self.retries.append((list(receipt_handles), seconds))


def _request(pool: str, n: int, receive_count: int = 1) -> QueuedRequest:
    body = json.dumps({"nodePool": pool, "eventId": f"event-{n}", "reason": "tick"})
    return QueuedRequest(message_id=f"m{n}", body=body, receipt_handle=f"h{n}", receive_count=receive_count)


def test_the_delay_doubles_from_5_s_to_at_most_60_s() -> None:
    assert [retry_delay(count) for count in range(1, 8)] == [5, 10, 20, 40, 60, 60, 60]


def test_a_failed_pool_s_messages_come_back_after_the_delay_of_their_most_received(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decided: list[str] = []

    def decide_now(pool: str, context: object, *, reasons: tuple[str, ...] = ()) -> object:
        if pool == "flaky":
            raise EbbError("the state table is unavailable")
        decided.append(pool)
        return SimpleNamespace(node_pool=pool)

    monkeypatch.setattr(pool_decisions, "decide_now", decide_now)
    config = SimpleNamespace(node_pools=[SimpleNamespace(name="flaky"), SimpleNamespace(name="steady")])
    queue = RecordingQueue()
    failures: list[str] = []
    batch = PoolDecisions(
        context=SimpleNamespace(config=config),  # type: ignore[arg-type]
        queue=queue,
        on_failure=lambda pool, error: failures.append(pool),
    )

    result = batch.decide(
        [_request("flaky", 1), _request("steady", 2), _request("flaky", 3, receive_count=3)]
    )

    assert decided == ["steady"]
    assert failures == ["flaky"]
    assert [item["itemIdentifier"] for item in result.batch_item_failures] == ["m1", "m3"]
    # Without this the pool's message group would wait the queue's whole visibility timeout.
    assert queue.retries == [(["h1", "h3"], 20)]


def test_a_batch_that_succeeds_changes_no_visibility(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        pool_decisions, "decide_now", lambda pool, context, *, reasons=(): SimpleNamespace(node_pool=pool)
    )
    queue = RecordingQueue()
    config = SimpleNamespace(node_pools=[SimpleNamespace(name="steady")])
    batch = PoolDecisions(context=SimpleNamespace(config=config), queue=queue)  # type: ignore[arg-type]

    assert batch.decide([_request("steady", 1)]).batch_item_failures == []
    assert queue.retries == []
