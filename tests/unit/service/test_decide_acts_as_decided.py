"""The decide service carries out exactly what the pool decision step decided, nothing else.

The adapters here record what they are asked to do; the snapshot comes from them too, so the
service's decision is recomputed with `decide_pool` from the same snapshot and compared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ebb.adapters.state_table import StoredPool
from ebb.config import EbbConfig, load_config_files
from ebb.config.node_planning import GroupCounts
from ebb.core.replicas import CloudWatchResult, ReplicaCounts, SqsQueueAttributes
from ebb.service.decide import DecideContext, Takeover, decide_now
from ebb.service.decision import PoolSnapshot, PoolState, ScalerSnapshot, decide_pool
from ebb.service.observe import ClusterAccess

ROOT = Path(__file__).resolve().parents[3]
# Before the example's weekday pre-warm window (08:00 UTC for 10 h), which would hold the LLM
# at one replica: these tests are about other rules.
NOW = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def config() -> EbbConfig:
    loaded = load_config_files(sorted((ROOT / "examples" / "gpu-inference").glob("*.yaml")))
    binding = loaded.binding.model_copy(
        update={"spec": loaded.binding.spec.model_copy(update={"shadow_mode": False})}
    )
    return loaded.model_copy(update={"binding": binding})


SNAPSHOT = PoolSnapshot(
    node_pool="gpu",
    scalers={
        "batch/batch-worker": ScalerSnapshot(
            observations={
                "s0-aws-sqs-queue": SqsQueueAttributes(
                    attributes={
                        "ApproximateNumberOfMessages": "8",
                        "ApproximateNumberOfMessagesNotVisible": "0",
                    }
                )
            },
            replicas=ReplicaCounts(spec=0, status=0, ready=0),
        ),
        "serving/llm-inference": ScalerSnapshot(
            observations={
                "requests-per-target": CloudWatchResult(datapoints=()),
                "wake-on-503": CloudWatchResult(datapoints=()),
            },
            replicas=ReplicaCounts(spec=0, status=0, ready=0),
        ),
    },
    groups={
        "gpu-g5-use1a": GroupCounts(current=0, target=0),
        "gpu-g6e-use1b": GroupCounts(current=0, target=0),
    },
)


@dataclass
class Recorder:
    """Every adapter but the state table in one: records what it is asked, answers from SNAPSHOT."""

    calls: list[tuple[str, Any]] = field(default_factory=list)

    def wake(self, task_token: str, output: dict[str, Any]) -> bool:
        self.calls.append(("wake", task_token))
        return True

    # cluster (scale) and workflows and timers
    def scale(self, target: Any, replicas: int) -> None:
        self.calls.append(("scale", (target.namespace, target.name, replicas)))

    def pods_on_node(self, node: str) -> list[Any]:
        return []

    def start(self, name: str, execution_input: dict[str, Any]) -> str:
        self.calls.append(("start", (name, execution_input["nodeTargets"], execution_input["generation"])))
        return f"arn:aws:states:us-east-1:123456789012:execution:ebb-provision:{name}"

    def stop(self, execution_arn: str, *, cause: str) -> None:
        self.calls.append(("stop", execution_arn))

    def arm(self, scaler: str, node_pool: str, at: datetime) -> None:
        self.calls.append(("arm", (scaler, at)))

    def disarm(self, scaler: str) -> None:
        self.calls.append(("disarm", scaler))


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def table(memory_state_table: Any, recorder: Recorder) -> Any:
    """The shared in-memory state table, writing its calls into the recorder's list."""
    return memory_state_table(calls=recorder.calls)


def _context(
    config: EbbConfig, recorder: Recorder, table: Any, monkeypatch: pytest.MonkeyPatch
) -> DecideContext:
    # Observing is the adapters' business (tested in the local world); here it answers SNAPSHOT.
    monkeypatch.setattr("ebb.service.decide.observe_pool", lambda *args: SNAPSHOT)
    return DecideContext(
        config=config,
        config_version="v1",
        access=ClusterAccess(metrics=recorder, hyperpod=recorder, kubernetes=recorder),  # type: ignore[arg-type]
        table=table,
        timers=recorder,
        workflows=recorder,
        state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:ebb-provision",
        clock=lambda: NOW,
    )


def test_the_actions_are_exactly_the_decisions(
    config: EbbConfig, recorder: Recorder, table: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcome = decide_now("gpu", _context(config, recorder, table, monkeypatch))
    expected = decide_pool(SNAPSHOT, PoolState(), config, NOW)

    scaled = [what for kind, what in recorder.calls if kind == "scale"]
    assert scaled == [(a.namespace, a.name, a.replicas) for a in expected.scale]
    (started,) = [what for kind, what in recorder.calls if kind == "start"]
    assert expected.provisioning is not None
    assert started == ("gpu-0a1b2c3d-g1-c0", expected.provisioning.node_targets, 1)
    armed = [what for kind, what in recorder.calls if kind == "arm"]
    assert armed == [(s, t) for s, t in sorted(expected.idle_timers.items()) if t is not None]
    # Claim first (after reading the configuration's version, once), then act, then record.
    kinds = [kind for kind, _ in recorder.calls]
    assert kinds[:2] == ["config_sequence", "claim"]
    assert kinds[-1] == "record"
    assert outcome.decision.scale == expected.scale
    assert PoolState.model_validate_json(table.stored("gpu").state_json or "{}").generation == 1


def test_a_lost_claim_decides_again_on_fresh_state_and_acts_once(
    config: EbbConfig, recorder: Recorder, memory_state_table: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = memory_state_table(calls=recorder.calls, rivals=1)
    outcome = decide_now("gpu", _context(config, recorder, table, monkeypatch))
    assert outcome.claim_attempts == 2
    assert [kind for kind, _ in recorder.calls].count("scale") == 1


def test_shadow_mode_records_and_does_nothing(
    config: EbbConfig, recorder: Recorder, table: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    shadow = config.model_copy(
        update={
            "binding": config.binding.model_copy(
                update={"spec": config.binding.spec.model_copy(update={"shadow_mode": True})}
            )
        }
    )
    outcome = decide_now("gpu", _context(shadow, recorder, table, monkeypatch))
    # Its configuration's version is read (once per container), then claim and record only.
    assert [kind for kind, _ in recorder.calls] == ["config_sequence", "claim", "record"]
    assert not outcome.acted
    assert outcome.decision.scale  # decided all the same


def test_a_decision_under_an_older_configuration_than_the_pools_recorded_one_does_not_act(
    config: EbbConfig, memory_state_table: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A container of the previous deployment, still running after version 2 was rolled out and
    # recorded on the pool by a newer container's decision.
    recorder = Recorder()
    table = memory_state_table(calls=recorder.calls, sequence=1)
    table.hold(StoredPool(node_pool="gpu", decisions=0, state_json=None, config_sequence=2))
    outcome = decide_now("gpu", _context(config, recorder, table, monkeypatch))

    assert [kind for kind, _ in recorder.calls] == ["config_sequence", "claim", "record"]
    assert not outcome.acted
    assert outcome.decision.scale  # decided all the same
    assert table.stored("gpu").config_sequence == 2, "an older decision never lowers the pool's version"
    notes = {entry.record["olderConfiguration"] for entry in table.audit}
    assert notes == {
        "configuration version 1 is older than version 2, which the pool recorded: decided and "
        "recorded, nothing acts"
    }

    # The container's version is read once; the current one acts and records its version.
    current = Recorder()
    current_table = memory_state_table(calls=current.calls, sequence=2)
    current_table.hold(StoredPool(node_pool="gpu", decisions=0, state_json=None, config_sequence=2))
    context = _context(config, current, current_table, monkeypatch)
    assert decide_now("gpu", context).acted
    decide_now("gpu", context)
    assert [kind for kind, _ in current.calls].count("config_sequence") == 1
    assert current_table.stored("gpu").config_sequence == 2


# -- lower targets wait for the pool's acting lease ------------------------------------------------

G5, G6E = "gpu-g5-use1a", "gpu-g6e-use1b"
ROUND = "arn:aws:states:us-east-1:123456789012:execution:ebb-provision:gpu-0a1b2c3d-g1-c0"


def _generation_one(table: Any, targets: dict[str, int], *, acting_until: datetime | None) -> None:
    """The pool at generation 1 with `targets`, its execution's round holding the acting lease
    until `acting_until` (None: no lease)."""
    state = PoolState(generation=1, node_targets=targets, provisioning_open=True)
    table.hold(
        StoredPool(
            node_pool="gpu",
            decisions=4,
            state_json=state.model_dump_json(),
            config_sequence=1,
            acting_by=ROUND if acting_until else None,
            acting_until=acting_until,
        )
    )


def _recorded(table: Any) -> PoolState:
    return PoolState.model_validate_json(table.stored("gpu").state_json or "{}")


def _pool_entry(table: Any) -> dict[str, Any]:
    return next(e.record for e in reversed(table.audit) if e.subject == "POOL#gpu")


def test_a_decision_while_a_round_holds_the_acting_lease_keeps_lower_targets_back_and_says_why(
    config: EbbConfig, recorder: Recorder, table: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Generation 1 asks 3 g5 nodes; the work now needs 1. A round of generation 1 holds the
    # lease: it may be past its last fence, about to add toward 3 (BatchAddClusterNodes has no
    # condition), so publishing 1 now would leave the pool above its current generation's target.
    _generation_one(table, {G5: 3, G6E: 0}, acting_until=NOW + timedelta(seconds=60))
    context = _context(config, recorder, table, monkeypatch)
    outcome = decide_now("gpu", context)

    assert outcome.decision.provisioning is None
    assert not [what for kind, what in recorder.calls if kind == "start"]
    assert (_recorded(table).generation, _recorded(table).node_targets) == (1, {G5: 3, G6E: 0})
    note = (
        f"lower target deferred: {G5} keeps 3 (the plan asks 1) while {ROUND} holds the pool's "
        "acting lease; published once it is released"
    )
    assert outcome.decision.deferred == (note,)
    assert _pool_entry(table)["deferred"] == [note]
    assert note in outcome.decision.explain()
    assert table.deferred("gpu") == note
    # The replicas are decided and set all the same: only the lower node target waits.
    assert [what for kind, what in recorder.calls if kind == "scale"] == [
        (a.namespace, a.name, a.replicas) for a in outcome.decision.scale
    ]
    assert outcome.decision.scale

    # The round ends and releases the lease: it finds the deferral, and the decision it asks
    # for publishes the lower target as generation 2 (holding the lease while it does).
    assert table.release_acting("gpu", ROUND) is True
    claims = len([c for c in recorder.calls if c[0] == "claim"])
    published = decide_now("gpu", context)
    assert published.decision.provisioning is not None
    assert published.decision.provisioning.node_targets == {G5: 1, G6E: 0}
    assert (_recorded(table).generation, _recorded(table).node_targets) == (2, {G5: 1, G6E: 0})
    assert published.decision.deferred == ()
    assert table.deferred("gpu") is None
    assert len([c for c in recorder.calls if c[0] == "claim"]) == claims + 1
    assert table.stored("gpu").acting_holder(NOW) is None, "recording ended decide's hold on the lease"


def test_an_expired_acting_lease_does_not_keep_lower_targets_back(
    config: EbbConfig, recorder: Recorder, table: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A round that crashed holding the lease (its Lambda stopped at 60 s, the lease is 90 s):
    # once the lease has run out it holds nothing back (a lease runs while now < acting_until).
    _generation_one(table, {G5: 3, G6E: 0}, acting_until=NOW)
    outcome = decide_now("gpu", _context(config, recorder, table, monkeypatch))

    assert outcome.decision.deferred == ()
    assert outcome.decision.provisioning is not None
    assert outcome.decision.provisioning.node_targets == {G5: 1, G6E: 0}
    (started,) = [what for kind, what in recorder.calls if kind == "start"]
    assert started == ("gpu-0a1b2c3d-g2-c0", {G5: 1, G6E: 0}, 2)
    assert _recorded(table).generation == 2


def test_raised_targets_go_ahead_while_a_round_holds_the_acting_lease(
    config: EbbConfig, recorder: Recorder, table: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What the round adds toward generation 1's targets stays within generation 2's.
    _generation_one(table, {G5: 0, G6E: 0}, acting_until=NOW + timedelta(seconds=60))
    outcome = decide_now("gpu", _context(config, recorder, table, monkeypatch))

    assert outcome.decision.deferred == ()
    (started,) = [what for kind, what in recorder.calls if kind == "start"]
    assert started == ("gpu-0a1b2c3d-g2-c0", {G5: 1, G6E: 0}, 2)
    assert table.stored("gpu").acting_holder(NOW) == ROUND, "a raising decision leaves the round's lease"


def test_a_deferring_decision_that_finds_the_lease_released_once_it_recorded_decides_again_at_once(
    config: EbbConfig, recorder: Recorder, table: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The round releases between this decision's read and its record: its release finds no
    # deferral yet (so it asks for nothing), and the deferring decision, reading the lease again
    # once it has recorded, publishes the lower target itself.
    _generation_one(table, {G5: 3, G6E: 0}, acting_until=NOW + timedelta(seconds=60))
    recording = table.record
    released: list[bool] = []

    def round_releases_first(*args: Any, **kwargs: Any) -> None:
        if not released:
            released.append(table.release_acting("gpu", ROUND))
        recording(*args, **kwargs)

    monkeypatch.setattr(table, "record", round_releases_first)
    outcome = decide_now("gpu", _context(config, recorder, table, monkeypatch))

    assert released == [False]
    assert outcome.decision.deferred == ()
    assert outcome.decision.provisioning is not None
    assert outcome.decision.provisioning.node_targets == {G5: 1, G6E: 0}
    assert _recorded(table).generation == 2
    assert _pool_entry(table)["reasons"] == ["acting-lease-released"]
    assert table.deferred("gpu") is None


def test_a_backfills_take_over_during_a_lease_takes_its_generation_with_lower_targets_kept_back(
    config: EbbConfig, recorder: Recorder, table: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The backfill's own execution carries out the generation it takes; even when the round
    # releases the lease before the take-over has recorded, decide does not decide again here
    # (that decision would start a second execution): the round's release or the tick does.
    _generation_one(table, {G5: 3, G6E: 0}, acting_until=NOW + timedelta(seconds=60))
    recording = table.record

    def round_releases_first(*args: Any, **kwargs: Any) -> None:
        table.release_acting("gpu", ROUND)
        recording(*args, **kwargs)

    monkeypatch.setattr(table, "record", round_releases_first)
    backfill = "arn:aws:states:us-east-1:123456789012:execution:ebb-provision:backfill-cancel-1"
    outcome = decide_now(
        "gpu",
        _context(config, recorder, table, monkeypatch),
        takeover=Takeover(execution_arn=backfill, backfill=None, reason="backfill cancelled"),
    )

    assert outcome.request is not None
    assert (outcome.request.generation, outcome.request.node_targets) == (2, {G5: 3, G6E: 0})
    assert outcome.decision.deferred
    assert not [what for kind, what in recorder.calls if kind == "start"]
    assert [kind for kind, _ in recorder.calls].count("record") == 1
    assert table.stored("gpu").execution_arn == backfill
