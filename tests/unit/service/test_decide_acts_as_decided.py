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

from ebb.adapters.state_table import AuditEntry, ClaimLost, StoredPool
from ebb.config import EbbConfig, load_config_files
from ebb.config.node_planning import GroupCounts
from ebb.core.replicas import CloudWatchResult, ReplicaCounts, SqsQueueAttributes
from ebb.service.decide import DecideContext, decide_now
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
    """Every adapter in one: records what it is asked, answers from SNAPSHOT."""

    calls: list[tuple[str, Any]] = field(default_factory=list)
    decisions: int = 0
    state_json: str | None = None
    claim_fails: int = 0
    recorded_sequence: int = 0
    sequence: int = 1
    audit: list[AuditEntry] = field(default_factory=list)

    # table
    def load_pool(self, node_pool: str) -> StoredPool:
        return StoredPool(
            node_pool=node_pool,
            decisions=self.decisions,
            state_json=self.state_json,
            config_sequence=self.recorded_sequence,
        )

    def claim(self, node_pool: str, seen: int, token: str, *, now: datetime, lease: timedelta) -> int:
        if self.claim_fails:
            self.claim_fails -= 1
            self.decisions += 1  # someone else claimed in between
            raise ClaimLost("taken")
        self.calls.append(("claim", seen))
        self.decisions = seen + 1
        return self.decisions

    def record(
        self,
        node_pool: str,
        *,
        claim: int,
        token: str,
        state_json: str,
        execution_arn: str | None,
        audit: list[AuditEntry],
        config_sequence: int | None = None,
    ) -> None:
        self.calls.append(("record", claim))
        self.state_json = state_json
        self.audit = list(audit)
        if config_sequence is not None:
            self.recorded_sequence = config_sequence

    def epoch(self) -> str:
        return "0a1b2c3d"

    def config_sequence(self, digest: str) -> int:
        self.calls.append(("config_sequence", digest))
        return self.sequence

    def take_wait_token(self, node_pool: str) -> tuple[int, str] | None:
        return None

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


def _context(config: EbbConfig, recorder: Recorder, monkeypatch: pytest.MonkeyPatch) -> DecideContext:
    # Observing is the adapters' business (tested in the local world); here it answers SNAPSHOT.
    monkeypatch.setattr("ebb.service.decide.observe_pool", lambda *args: SNAPSHOT)
    return DecideContext(
        config=config,
        config_version="v1",
        access=ClusterAccess(metrics=recorder, hyperpod=recorder, kubernetes=recorder),  # type: ignore[arg-type]
        table=recorder,  # type: ignore[arg-type]
        timers=recorder,
        workflows=recorder,
        state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:ebb-provision",
        clock=lambda: NOW,
    )


def test_the_actions_are_exactly_the_decisions(config: EbbConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Recorder()
    outcome = decide_now("gpu", _context(config, recorder, monkeypatch))
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
    assert PoolState.model_validate_json(recorder.state_json or "{}").generation == 1


def test_a_lost_claim_decides_again_on_fresh_state_and_acts_once(
    config: EbbConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = Recorder(claim_fails=1)
    outcome = decide_now("gpu", _context(config, recorder, monkeypatch))
    assert outcome.claim_attempts == 2
    assert [kind for kind, _ in recorder.calls].count("scale") == 1


def test_shadow_mode_records_and_does_nothing(config: EbbConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    shadow = config.model_copy(
        update={
            "binding": config.binding.model_copy(
                update={"spec": config.binding.spec.model_copy(update={"shadow_mode": True})}
            )
        }
    )
    recorder = Recorder()
    outcome = decide_now("gpu", _context(shadow, recorder, monkeypatch))
    # Its configuration's version is read (once per container), then claim and record only.
    assert [kind for kind, _ in recorder.calls] == ["config_sequence", "claim", "record"]
    assert not outcome.acted
    assert outcome.decision.scale  # decided all the same


def test_a_decision_under_an_older_configuration_than_the_pools_recorded_one_does_not_act(
    config: EbbConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A container of the previous deployment, still running after version 2 was rolled out and
    # recorded on the pool by a newer container's decision.
    recorder = Recorder(recorded_sequence=2, sequence=1)
    outcome = decide_now("gpu", _context(config, recorder, monkeypatch))

    assert [kind for kind, _ in recorder.calls] == ["config_sequence", "claim", "record"]
    assert not outcome.acted
    assert outcome.decision.scale  # decided all the same
    assert recorder.recorded_sequence == 2, "an older decision never lowers the pool's version"
    notes = {entry.record["olderConfiguration"] for entry in recorder.audit}
    assert notes == {
        "configuration version 1 is older than version 2, which the pool recorded: decided and "
        "recorded, nothing acts"
    }

    # The container's version is read once; the current one acts and records its version.
    current = Recorder(recorded_sequence=2, sequence=2)
    context = _context(config, current, monkeypatch)
    assert decide_now("gpu", context).acted
    decide_now("gpu", context)
    assert [kind for kind, _ in current.calls].count("config_sequence") == 1
    assert current.recorded_sequence == 2
