"""Sub-minute polls (`ebb.service.sub_minute_polls`, `SignalIntake`): when a tick's polls are
due and with what message timer, which pools get them, and what the signals function does with
each poll the queue delivers (forwarded, dropped as stale, at rest or no longer polled, kept as
rejected when malformed).

Sources: a message timer is 0 to 900 s (SQS API Reference, SendMessage `DelaySeconds`; botocore's
sqs model); a standard queue delivers at least once and out of order (SQS Developer Guide,
"Amazon SQS standard queues"); the FIFO decision queue drops a deduplication id it accepted in
the last five minutes (SQS Developer Guide, "Using the message deduplication ID"), so a poll's
id is its pool and due time; a partial batch response names the failed records
(`batchItemFailures`, Lambda Developer Guide, "Implementing partial batch responses").
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from ebb.adapters.alarms import AlarmChanges
from ebb.adapters.aws_errors import AwsThrottled
from ebb.adapters.decision_queue import PoolMessage
from ebb.adapters.poll_queue import DelayedMessage
from ebb.adapters.state_table import StoredPool
from ebb.config import EbbConfig, load_config_files
from ebb.errors import InvalidEvent
from ebb.service.signal_intake import SignalIntake
from ebb.service.sub_minute_polls import Poll, QueueBatch, due_times, parse_poll, polls_of_tick, queue_batch

ROOT = Path(__file__).resolve().parents[3]
T = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
"""A tick's scheduled time."""


def _config(tmp_path: Path, opted_in: dict[str, bool]) -> EbbConfig:
    """The example, with `subMinutePolling` per scaler (by `namespace/name`)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    for path in sorted((ROOT / "examples" / "gpu-inference").glob("*.yaml")):
        documents = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
        for document in documents:
            if document["kind"] == "ClusterBinding":
                for entry in document["spec"]["scalers"]:
                    ref = entry["scaledObject"]
                    entry["subMinutePolling"] = opted_in.get(f"{ref['namespace']}/{ref['name']}", False)
        (tmp_path / path.name).write_text(yaml.safe_dump_all(documents), encoding="utf-8")
    return load_config_files(sorted(tmp_path.glob("*.yaml")))


def test_a_tick_leaves_the_polls_of_the_next_minute_each_due_at_its_offset() -> None:
    assert due_times(T, 15) == [T + timedelta(seconds=s) for s in (75, 90, 105)]
    assert due_times(T, 10) == [T + timedelta(seconds=s) for s in (70, 80, 90, 100, 110)]
    assert due_times(T, 20) == [T + timedelta(seconds=s) for s in (80, 100)]
    assert due_times(T, 30) == [T + timedelta(seconds=90)]
    # The offsets are from the scheduled minute, whatever moment of it the tick fired.
    assert due_times(T + timedelta(seconds=42.5), 15) == due_times(T, 15)


@pytest.mark.parametrize(
    ("fired_after", "delays"),
    [
        pytest.param(0.0, [75, 90, 105], id="on-the-minute"),
        pytest.param(0.4, [75, 90, 105], id="rounded-up-never-early"),
        pytest.param(59.0, [16, 31, 46], id="late-in-its-minute"),
        pytest.param(80.0, [10, 25], id="a-minute-late-the-past-poll-is-not-sent"),
    ],
)
def test_each_poll_gets_the_timer_that_makes_it_due_at_its_time(
    fired_after: float, delays: list[int]
) -> None:
    now = T + timedelta(seconds=fired_after)
    polls = polls_of_tick("gpu", 15, tick="t-1", scheduled_time=T, now=now)
    assert [p.delay_seconds for p in polls] == delays
    for poll in polls:
        parsed = parse_poll(poll.body)
        assert now + timedelta(seconds=poll.delay_seconds) >= parsed.due_at
        assert (parsed.node_pool, parsed.interval_seconds, parsed.tick) == ("gpu", 15, "t-1")


def test_a_polls_decision_request_is_deduplicated_on_its_pool_and_due_time() -> None:
    poll = parse_poll(polls_of_tick("gpu", 15, tick="t-1", scheduled_time=T, now=T)[0].body)
    again = parse_poll(
        polls_of_tick("gpu", 15, tick="t-2", scheduled_time=T, now=T + timedelta(seconds=3))[0].body
    )
    request = poll.decision_request()
    assert (request.node_pool, request.reason, request.event_id) == (
        "gpu",
        "poll",
        "poll:2026-12-04T10:01:15+00:00",
    )
    # The same poll sent twice (a retried tick) is one request; another pool's is not.
    assert again.decision_request().deduplication_id == request.deduplication_id
    other = poll.model_copy(update={"node_pool": "cpu"}).decision_request()
    assert other.deduplication_id != request.deduplication_id


def test_a_poll_is_stale_once_more_than_its_interval_past_due() -> None:
    poll = parse_poll(polls_of_tick("gpu", 15, tick="t", scheduled_time=T, now=T)[0].body)
    assert not poll.stale(poll.due_at + timedelta(seconds=15))
    assert poll.stale(poll.due_at + timedelta(seconds=15.001))


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        pytest.param("not json", "(message): Invalid JSON", id="not-json"),
        pytest.param(
            json.dumps({"ebb": "poll", "nodePool": "gpu"}), "dueAt: Field required", id="no-due-time"
        ),
        pytest.param(
            json.dumps(
                {
                    "ebb": "poll",
                    "nodePool": "gpu",
                    "dueAt": "2026-12-04T10:01:15",
                    "intervalSeconds": 15,
                    "tick": "t",
                }
            ),
            "dueAt: Input should have timezone info",
            id="naive-time",
        ),
        pytest.param(
            json.dumps(
                {
                    "ebb": "poll",
                    "nodePool": "gpu",
                    "dueAt": "2026-12-04T10:01:15Z",
                    "intervalSeconds": 25,
                    "tick": "t",
                }
            ),
            "intervalSeconds: Input should be 10, 15, 20 or 30",
            id="interval-not-a-divisor",
        ),
    ],
)
def test_a_malformed_poll_names_what_is_wrong(body: str, problem: str) -> None:
    with pytest.raises(InvalidEvent, match="poll message does not have the expected shape") as raised:
        parse_poll(body)
    assert problem in str(raised.value)


def test_the_poll_queue_fixture_is_a_batch_of_one_poll() -> None:
    # events/sub-minute-polls.json: what the poll queue's event source mapping hands the signals
    # function (`sam local invoke SignalsFunction -e events/sub-minute-polls.json`).
    batch = queue_batch(json.loads((ROOT / "events" / "sub-minute-polls.json").read_text()))
    assert batch is not None
    (record,) = batch.records
    poll = parse_poll(record.body)
    assert (poll.node_pool, poll.due_at, poll.interval_seconds) == ("gpu", T + timedelta(seconds=75), 15)
    assert record.body == poll.body()  # the shape the tick writes, key for key


def test_only_sqs_batches_are_read_as_polls() -> None:
    record = {"messageId": "m-1", "body": "{}", "eventSource": "aws:sqs", "receiptHandle": "r"}
    batch = queue_batch({"Records": [record]})
    assert batch is not None
    assert [r.message_id for r in batch.records] == ["m-1"]
    # Anything else is a signal (and, if it is none, refused as one).
    assert queue_batch({"ebb": "tick"}) is None
    assert queue_batch({"Records": []}) is None
    assert queue_batch({"Records": [{**record, "eventSource": "aws:kinesis"}]}) is None


# -- the signals function's side ---------------------------------------------------------------------


@dataclass
class Sent:
    """The queues the intake writes to, in memory."""

    decisions: list[PoolMessage] = field(default_factory=list)
    polls: list[DelayedMessage] = field(default_factory=list)
    rejected: list[tuple[Any, str]] = field(default_factory=list)
    refuse_decisions: bool = False

    def send(self, messages: Sequence[Any]) -> None:
        if messages and isinstance(messages[0], DelayedMessage):
            self.polls.extend(messages)
            return
        if self.refuse_decisions and messages:
            raise AwsThrottled("SendMessageBatch: throttled")
        self.decisions.extend(messages)

    def retry_in(self, receipt_handles: Sequence[str], seconds: int) -> None:
        raise AssertionError("the signals function never retries decision requests")

    def keep(self, event: Any, reason: str, *, function: str) -> None:
        self.rejected.append((event, reason))


class _Alarms:
    def reconcile(self, prefix: str, wanted: Sequence[Any]) -> AlarmChanges:
        return AlarmChanges(created_or_updated=(), deleted=())


class _Polls:
    def __init__(self, sent: Sent) -> None:
        self.sent = sent

    def send(self, messages: Sequence[DelayedMessage]) -> None:
        self.sent.polls.extend(messages)


def _intake(config: EbbConfig, table: Any, sent: Sent, now: datetime) -> SignalIntake:
    return SignalIntake(
        config=config,
        config_version="v1",
        queue=sent,
        alarms=_Alarms(),
        table=table,
        rejected=sent,
        alarm_prefix="ebb",
        cluster_arn=None,
        polls=_Polls(sent),
        clock=lambda: now,
    )


def _state(at_rest: bool) -> str:
    return json.dumps({"at_rest": at_rest})


def _tick(scheduled: datetime) -> dict[str, Any]:
    return {"ebb": "tick", "executionId": "tick-1", "scheduledTime": scheduled.isoformat()}


def test_a_tick_sends_polls_for_an_opted_in_pool_that_is_not_at_rest(
    tmp_path: Path, memory_state_table: Any
) -> None:
    config = _config(tmp_path, {"batch/batch-worker": True})
    table = memory_state_table(alarms="v1")
    table.hold(StoredPool(node_pool="gpu", decisions=3, state_json=_state(False)))
    sent = Sent()
    result = _intake(config, table, sent, T + timedelta(seconds=2)).take(_tick(T))
    assert result.polled == ("gpu",)
    assert [p.delay_seconds for p in sent.polls] == [73, 88, 103]
    assert [m.reason for m in sent.decisions] == ["tick"]


def test_a_tick_sends_no_polls_for_a_pool_at_rest_or_not_opted_in(
    tmp_path: Path, memory_state_table: Any
) -> None:
    table = memory_state_table(alarms="v1")
    table.hold(StoredPool(node_pool="gpu", decisions=3, state_json=_state(True)))
    sent = Sent()
    at_rest = _intake(_config(tmp_path / "a", {"batch/batch-worker": True}), table, sent, T).take(_tick(T))
    assert (at_rest.polled, sent.polls) == ((), [])
    table.hold(StoredPool(node_pool="gpu", decisions=3, state_json=_state(False)))
    not_opted_in = _intake(_config(tmp_path / "b", {}), table, sent, T).take(_tick(T))
    assert (not_opted_in.polled, sent.polls) == ((), [])


def _batch(*bodies: str) -> QueueBatch:
    return QueueBatch.model_validate(
        {
            "Records": [
                {"messageId": f"m-{i}", "body": body, "eventSource": "aws:sqs"}
                for i, body in enumerate(bodies)
            ]
        }
    )


def _poll_body(due: datetime, pool: str = "gpu", interval: int = 15) -> str:
    return Poll.model_validate(
        {"ebb": "poll", "nodePool": pool, "dueAt": due, "intervalSeconds": interval, "tick": "t"}
    ).body()


def test_a_due_poll_becomes_the_pools_decision_request(tmp_path: Path, memory_state_table: Any) -> None:
    config = _config(tmp_path, {"batch/batch-worker": True})
    table = memory_state_table()
    table.hold(StoredPool(node_pool="gpu", decisions=3, state_json=_state(False)))
    sent = Sent()
    due = T + timedelta(seconds=75)
    result = _intake(config, table, sent, due + timedelta(seconds=1)).forward_polls(_batch(_poll_body(due)))
    assert (result.forwarded, result.dropped, result.batch_item_failures) == (("gpu",), (), [])
    (request,) = sent.decisions
    assert (request.node_pool, request.event_id, request.reason) == ("gpu", f"poll:{due.isoformat()}", "poll")


def test_stale_polls_and_polls_of_pools_at_rest_or_no_longer_polled_are_dropped(
    tmp_path: Path, memory_state_table: Any
) -> None:
    config = _config(tmp_path, {"batch/batch-worker": True})
    table = memory_state_table()
    table.hold(StoredPool(node_pool="gpu", decisions=3, state_json=_state(False)))
    sent = Sent()
    due = T + timedelta(seconds=75)
    late = _intake(config, table, sent, due + timedelta(seconds=40)).forward_polls(
        _batch(_poll_body(due), _poll_body(due, pool="retired"))
    )
    assert late.forwarded == ()
    assert late.dropped == (
        "gpu: stale, due 40 s ago (interval 15 s)",
        "retired: not polled sub-minute by this configuration",
    )
    table.hold(StoredPool(node_pool="gpu", decisions=4, state_json=_state(True)))
    resting = _intake(config, table, sent, due).forward_polls(_batch(_poll_body(due)))
    assert resting.dropped == ("gpu: at rest",)
    assert sent.decisions == []
    assert late.batch_item_failures == resting.batch_item_failures == []


def test_a_malformed_poll_is_kept_as_rejected_and_not_retried(
    tmp_path: Path, memory_state_table: Any
) -> None:
    config = _config(tmp_path, {"batch/batch-worker": True})
    sent = Sent()
    result = _intake(config, memory_state_table(), sent, T).forward_polls(
        _batch("not json", json.dumps({"ebb": "poll"}))
    )
    assert [event for event, _ in sent.rejected] == ["not json", {"ebb": "poll"}]
    assert all(
        reason.startswith("poll message does not have the expected shape") for _, reason in sent.rejected
    )
    assert len(result.rejected) == 2
    assert result.batch_item_failures == []


def test_polls_that_could_not_be_forwarded_are_reported_as_batch_item_failures(
    tmp_path: Path, memory_state_table: Any
) -> None:
    config = _config(tmp_path, {"batch/batch-worker": True})
    table = memory_state_table()
    table.hold(StoredPool(node_pool="gpu", decisions=3, state_json=_state(False)))
    sent = Sent(refuse_decisions=True)
    due = T + timedelta(seconds=75)
    result = _intake(config, table, sent, due).forward_polls(_batch(_poll_body(due), "bad"))
    # The due poll comes back after the visibility timeout (then stale); the bad one was kept.
    assert result.batch_item_failures == [{"itemIdentifier": "m-0"}]
    assert result.forwarded == ()
    assert len(sent.rejected) == 1
