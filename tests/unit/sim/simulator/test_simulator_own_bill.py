"""ebb's own AWS bill for a simulated run, at the bill bench's prices (`ebb.sim.bill`).

Hand computations: an idle run whose only decisions are the ticks, and a pure count with a
provisioning execution in it, priced line by line. The prices are the bill bench's (US East,
retrieved 2026-12-03; each names its page in `ebb.sim.bill.PRICES`).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ebb.config import EbbConfig
from ebb.sim.bill import PRICES, RunCounts, cost, simulated_run_units
from ebb.sim.simulator.run import run_policy
from ebb.sim.simulator.world import Demand, RunSettings

DemandOf = Callable[[list[float]], Demand]


def test_an_idle_runs_bill_is_its_ticks_priced_by_hand(config: EbbConfig, demand: DemandOf) -> None:
    report = run_policy("ebb", config, demand([0, 0, 0, 0, 0]), RunSettings(boot_delay=60.0, seed=1))
    # Window: lead ceil((60 x 1.2 + 60) / 60) = 3 min, 5 trace minutes, tail 300 s + 5m = 10 min:
    # 1,080 s, ticked once a minute from a second within the first minute: 18 ticks, 18 decisions
    # (no request, so no alarm edge, no node, no execution, no idle timer).
    assert report.decisions == 18
    months = 1080 / 3600 / 730
    by_hand = {
        "GetMetricData metrics": 18 * 2 * 0.01 / 1000,  # 2 CloudWatch triggers
        "alarm-months": (2 + 3) * months * 0.10,  # one per trigger, the template's 3
        "custom metrics": 18 * months * 0.30,  # the stack's 18 series
        "log ingestion": 18 * 1830 / 1e9 * 0.50,
        "Lambda requests": 18 * 2 * 0.20 / 1e6,  # signals + decide
        "Lambda GB-seconds": 18 * 0.995 * 0.0000166667,
        "Scheduler invocations": 18 * 1.00 / 1e6,
        "Step Functions transitions": 0.0,
        # Claim (1) + audit item (2 x 2 KB) + the state item (2 x 1 KB, an idle pool's is < 1 KB).
        "DynamoDB writes": 18 * (1 + 4 + 2) * 0.625 / 1e6,
        "DynamoDB reads": 18 * 0.125 / 1e6,
        "SQS requests": 18 * 3 * 0.50 / 1e6,  # send, receive, delete
    }
    assert report.own_bill == pytest.approx(by_hand)
    assert report.own_bill_usd == pytest.approx(sum(by_hand.values()))
    document = report.as_json()["ownAwsBill"]
    assert isinstance(document, dict)
    assert document["totalUsd"] == pytest.approx(sum(by_hand.values()), abs=1e-6)
    assert run_policy("static", config, demand([0, 1]), RunSettings(seed=1)).own_bill is None


def test_a_provisioning_execution_is_priced_by_its_states_by_hand() -> None:
    counts = RunCounts(
        seconds=3600.0,
        ticks=60,
        timer_decisions=1,
        decisions=64,
        cloudwatch_triggers=1,
        sqs_triggers=1,
        scalers=1,
        state_kb=70,
        executions=1,
        rounds=3,
        waits=2,
        removal_executions=1,
    )
    units = simulated_run_units(counts)
    # Tasks: validate, fence, record start, 3 rounds, 2 waits, 1 scale-in step, outcome = 10.
    assert units["Lambda requests"] == 2 * 64 + 10
    assert units["Lambda GB-seconds"] == pytest.approx(64 * 0.995 + 10 * 0.363)
    # States: 5 to start, 2 per round, 1 per wait, 4 for the scale-in, 2 to end = 19.
    assert units["Step Functions transitions"] == 19
    # Claims 64, audit items 64 x 4, the state items 2 x 70, start and outcome 2, wait tokens 2.
    assert units["DynamoDB writes"] == 64 + 256 + 140 + 2 + 2
    assert units["SQS requests"] == 64 * 4  # with one GetQueueAttributes each
    assert units["Scheduler invocations"] == 61
    assert units["alarm-months"] == pytest.approx(5 / 730)
    dollars = cost(units)
    assert dollars["Step Functions transitions"] == pytest.approx(19 * 0.025 / 1000)
    assert set(dollars) == set(PRICES)
