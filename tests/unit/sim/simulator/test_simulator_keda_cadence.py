"""KEDA + HPA react to a step at their documented cadences; ebb at its alarm edge.

A step from nothing to 8 pods' worth of requests: while no pod is Ready the load balancer
answers 503, and the minute's `HTTPCode_ELB_503_Count` is readable a minute after it ends. KEDA
polls every `pollingInterval` (30 s, KEDA docs "Scaling Deployments, StatefulSets & Custom
Resources", `pollingInterval`), so it activates the target at the first poll at or after that
moment, to one replica (`max(minReplicaCount, 1)`, KEDA `pkg/scaling/executor/scale_scaledobjects.go`
scaleFromZeroOrIdle); every later change is the HPA's, at its 15 s sync period
(kubernetes.io "Horizontal Pod Autoscaling": `--horizontal-pod-autoscaler-sync-period`, 15s).
ebb decides on the 503 alarm's OK -> ALARM edge, one second (the signal path) after the same
datapoint is readable.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ebb.config import EbbConfig
from ebb.sim.simulator.ebb_policy import SIGNAL_SECONDS, EbbPolicy
from ebb.sim.simulator.keda_karpenter import HPA_SYNC_SECONDS, KedaKarpenterPolicy
from ebb.sim.simulator.run import lead_seconds
from ebb.sim.simulator.world import Demand, RunSettings, World

DemandOf = Callable[[list[float]], Demand]
STEP = [0.0] * 5 + [8.0] * 25


def _world(config: EbbConfig, demand: DemandOf) -> World:
    settings = RunSettings(boot_delay=120.0, seed=8)
    return World(config, demand(STEP), settings, lead_seconds=lead_seconds(settings))


def _first_503_readable(world: World) -> float:
    step_minute = world.lead_minutes + 5
    return (step_minute + 1) * 60.0 + world.signals.publishing_delay


@pytest.mark.parametrize("phase", [0.0, 7.5, 14.0])
def test_keda_activates_at_its_first_poll_after_the_503s_are_readable_then_the_hpa_syncs(
    config: EbbConfig, demand: DemandOf, phase: float
) -> None:
    world = _world(config, demand)
    policy = KedaKarpenterPolicy(world, phase=phase)
    policy.start()
    world.events.run_until(world.horizon)
    log = world.cluster.replica_log
    readable = _first_503_readable(world)
    polls = [phase + 30.0 * k for k in range(int(world.horizon // 30) + 1)]
    first_poll = min(p for p in polls if p >= readable)
    assert log[0] == (first_poll, 1)
    assert len(log) > 2
    for t, _ in log:  # every change lands on an HPA sync (polls are syncs too)
        assert (t - phase) % HPA_SYNC_SECONDS == pytest.approx(0.0)
    assert max(replicas for _, replicas in log) >= 8


def test_ebb_activates_on_the_alarm_edge(config: EbbConfig, demand: DemandOf) -> None:
    world = _world(config, demand)
    policy = EbbPolicy(world, tick_offset=59.0)  # the tick comes just too late to be first
    policy.start()
    world.events.run_until(world.horizon)
    t, replicas = world.cluster.replica_log[0]
    assert t == _first_503_readable(world) + SIGNAL_SECONDS
    assert replicas >= 1


def test_skipping_consolidation_passes_with_unchanged_inputs_changes_nothing(
    config: EbbConfig, demand: DemandOf
) -> None:
    # A pass is skipped only when everything it reads equals what a pass that found no command
    # read: the runs with and without skipping must be the same, event for event.
    pods = [0.0, 6.0, 6.0, 14.0, 14.0, 9.0, 3.0, 3.0, 0.0, 0.0, 0.0, 8.0, 8.0, 2.0] + [0.0] * 10

    def run(skip: bool) -> tuple[object, ...]:
        world = _world(config, lambda _: demand(pods))  # type: ignore[arg-type]
        policy = KedaKarpenterPolicy(world, phase=4.0)
        policy.skip_unchanged = skip
        policy.start()
        world.events.run_until(world.horizon)
        world.finish()
        return (
            world.cluster.replica_log,
            world.cluster.usage,
            world.timeline.ready_seconds.tolist(),
            world.paid_gpus.tolist(),
            policy.node_target_changes,
        )

    assert run(skip=True) == run(skip=False)
