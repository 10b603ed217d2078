"""Whole runs on small synthetic demands: scale to zero and back, determinism for a seed."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ebb.cli.simulate import POLICIES as OFFERED
from ebb.config import EbbConfig
from ebb.sim.simulator.run import POLICIES, run_policy
from ebb.sim.simulator.world import Demand, RunSettings

DemandOf = Callable[[list[float]], Demand]

BURST = [4.0] * 10
QUIET = [0.0] * 40


def test_ebb_goes_to_zero_in_a_quiet_spell_and_comes_back(config: EbbConfig, demand: DemandOf) -> None:
    settings = RunSettings(boot_delay=60.0, seed=2)
    report = run_policy("ebb", config, demand(BURST + QUIET + BURST), settings)
    lead = 3  # ceil((60 x 1.2 + 60) / 60) minutes before the first request
    quiet = report.ready_pods[lead + 10 : lead + 50]
    # Cooldown 300 s after the last active datapoint, then nothing Ready until traffic returns.
    assert quiet[:4].min() > 0
    assert (quiet[-20:] == 0).all()
    # Two cold starts from zero: the first request, and the burst after the quiet spell.
    assert report.cold_starts == 2
    second = report.ready_pods[lead + 50 :]
    assert second.max() >= 4
    # The nodes go too (consolidateAfter 5m, then one per decision within the 10 % budget), and
    # come back with the second burst.
    paid = report.paid_gpus[lead + 10 : lead + 50]
    assert paid[0] > 0
    assert (paid[-10:] == 0).all()
    assert report.paid_gpus[lead + 50 :].max() > 0


def test_a_run_is_the_same_for_a_seed_and_differs_for_another(config: EbbConfig, demand: DemandOf) -> None:
    pods = [0, 2, 6, 12, 12, 8, 3, 0, 0, 5, 9, 4]

    def run(seed: int) -> dict[str, object]:
        report = run_policy("ebb", config, demand(pods), RunSettings(boot_delay=90.0, seed=seed))
        figures = report.as_json()
        figures.pop("wallSeconds")
        figures.pop("secondsPerDecision")
        figures.pop("cpuSeconds")
        return {**figures, "ready": report.ready_pods.tolist()}

    first, again, other = run(4), run(4), run(5)
    assert first == again
    assert first["ready"] != other["ready"]  # boot times are drawn from the seed
    assert np.isclose(float(first["requests"]), float(other["requests"]))  # type: ignore[arg-type]


def test_the_command_offers_every_policy_the_simulator_runs() -> None:
    assert OFFERED == POLICIES
