"""The simulator's ebb policy decides exactly what the decide service decides on the same inputs.

Every decision of a short simulated run is replayed through `ebb.service.decide.decide_now`, the
function the decide Lambda runs: its adapters answer with what the simulator saw (the pool's
stored item, and the snapshot as `observe_pool` would have read it), and what it does is
recorded. The scale calls, the provisioning execution's targets, the idle timers and the state it
records must be the simulator's, decision for decision.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest

from ebb.config import EbbConfig
from ebb.service.decide import DecideContext, decide_now
from ebb.service.decision import PoolSnapshot, PoolState
from ebb.service.observe import ClusterAccess
from ebb.sim.simulator.ebb_policy import DecisionRecord, EbbPolicy
from ebb.sim.simulator.run import lead_seconds
from ebb.sim.simulator.world import Demand, RunSettings, World

DemandOf = Callable[[list[float]], Demand]


@dataclass
class ReplayAdapters:
    """Every adapter the decide service uses but the state table, answering with one recorded
    decision's inputs."""

    calls: list[tuple[str, Any]] = field(default_factory=list)

    def wake(self, task_token: str, output: dict[str, Any]) -> bool:
        return True

    def scale(self, target: Any, replicas: int) -> None:
        self.calls.append(("scale", replicas))

    def pods_on_node(self, node: str) -> list[Any]:
        return []

    def set_deletion_cost(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append(("deletion-cost", args))

    def start(self, name: str, execution_input: dict[str, Any]) -> str:
        self.calls.append(("start", (execution_input["nodeTargets"], execution_input["generation"])))
        return f"arn:aws:states:us-east-1:123456789012:execution:ebb-provision:{name}"

    def stop(self, execution_arn: str, *, cause: str) -> None:
        self.calls.append(("stop", execution_arn))

    def arm(self, scaler: str, node_pool: str, at: datetime) -> None:
        self.calls.append(("arm", (scaler, at)))

    def disarm(self, scaler: str) -> None:
        self.calls.append(("disarm", scaler))


def _replay(
    config: EbbConfig,
    record: DecisionRecord,
    now: datetime,
    table: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> ReplayAdapters:
    adapters = ReplayAdapters()
    table.hold(record.stored)
    snapshot: PoolSnapshot = record.snapshot
    monkeypatch.setattr("ebb.service.decide.observe_pool", lambda *args: snapshot)
    context = DecideContext(
        config=config,
        config_version="v1",
        access=ClusterAccess(metrics=adapters, hyperpod=adapters, kubernetes=adapters),  # type: ignore[arg-type]
        table=table,
        timers=adapters,
        workflows=adapters,
        state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:ebb-provision",
        clock=lambda: now,
    )
    decide_now(record.decision.node_pool, context)
    return adapters


def test_every_simulated_decision_is_the_decide_services(
    config: EbbConfig, demand: DemandOf, memory_state_table: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    acting = config.model_copy(
        update={
            "binding": config.binding.model_copy(
                update={"spec": config.binding.spec.model_copy(update={"shadow_mode": False})}
            )
        }
    )
    settings = RunSettings(boot_delay=120.0, seed=5)
    world = World(
        acting,
        demand([0, 3, 9, 9, 14, 6, 2, 2, 0, 0, 0, 0, 5, 5]),
        settings,
        lead_seconds=lead_seconds(settings),
    )
    policy = EbbPolicy(world, tick_offset=20.0)
    policy.history = []
    policy.start()
    world.events.run_until(world.horizon)
    history = policy.history
    assert len(history) > 30
    assert sum(1 for r in history if r.decision.scale) >= 4
    assert sum(1 for r in history if r.decision.provisioning) >= 3

    for record in history:
        now = world.at(record.t)
        table = memory_state_table()
        adapters = _replay(acting, record, now, table, monkeypatch)
        decision = record.decision
        assert [c for k, c in adapters.calls if k == "scale"] == [a.replicas for a in decision.scale]
        started = [c for k, c in adapters.calls if k == "start"]
        if decision.provisioning is None:
            assert started == []
        else:
            assert started == [(decision.provisioning.node_targets, decision.provisioning.generation)]
        armed = [c for k, c in adapters.calls if k == "arm"]
        before = PoolState.model_validate_json(record.stored.state_json or "{}").idle_timers
        assert armed == [
            (s, w) for s, w in sorted(decision.idle_timers.items()) if w is not None and before.get(s) != w
        ]
        recorded = table.stored(record.decision.node_pool).state_json
        assert recorded is not None
        assert PoolState.model_validate_json(recorded) == record.state_after
