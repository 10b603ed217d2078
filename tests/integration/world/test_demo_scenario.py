"""`ebb demo`'s local-world step: the shipped example scales out, runs and returns to zero.

What a user watching the demo relies on: work arriving (SQS messages, requests at the LLM's local
ALB, answered with 503 by the load balancer itself at zero replicas) wakes both scalers; the node
plan asks HyperPod for nodes of the NodePool's instance groups; the pods become Ready on those
nodes; once the work stops both scalers return to zero after their cooldowns; and the same seed
prints the same story. The ALB's metrics are published by the world, each minute's readable a
minute after it ends (`ebb.local.metric_publishing`), so the LLM wakes when the first minute's
HTTPCode_ELB_503_Count becomes readable, two minutes in.
"""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from rich.console import Console

from ebb.cli.demo_scenario import ScenarioOutcome, run_scenario

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "gpu-inference"
LLM = "serving/llm-inference"
BATCH = "batch/batch-worker"


def _run(seed: int) -> tuple[ScenarioOutcome, str]:
    buffer = io.StringIO()
    console = Console(file=buffer, width=160, color_system=None, force_terminal=False)
    outcome = run_scenario(EXAMPLES, console, seed=seed)
    return outcome, buffer.getvalue()


@pytest.fixture(scope="module")
def seeded_runs() -> tuple[tuple[ScenarioOutcome, str], tuple[ScenarioOutcome, str]]:
    """The scenario twice with one seed (one world at a time in a process)."""
    return _run(7), _run(7)


def test_work_brings_pods_ready_on_nodes_of_the_pools_groups(
    seeded_runs: tuple[tuple[ScenarioOutcome, str], ...],
) -> None:
    outcome, text = seeded_runs[0]
    first = outcome.rounds[0]
    # Ten messages at two per replica wake the batch worker at once (GetQueueAttributes is live).
    assert first.desired[BATCH] > 0
    assert first.nodes_added >= 1
    assert "BatchAddClusterNodes: +" in text
    # Minute 0's 503s (stamped 00:00) are readable at 00:02: the LLM wakes in that round, not before.
    assert [r.desired[LLM] for r in outcome.rounds[:2]] == [0, 0]
    assert outcome.rounds[2].at == timedelta(minutes=2)
    assert outcome.rounds[2].desired[LLM] >= 1
    assert "ALB: 0 served, 900 x 503" in text
    peak = max(outcome.rounds, key=lambda r: sum(r.ready.values()))
    # 10 messages / queueLength 2; 900 requests per minute / 300 per target.
    assert peak.ready == {BATCH: 5, LLM: 3}
    assert sum(peak.ready_pods_by_group.values()) == 8
    assert set(peak.ready_pods_by_group) <= set(outcome.pool_groups)
    assert "node joined hyperpod-i-" in text


def test_scalers_return_to_zero_after_the_work_stops(
    seeded_runs: tuple[tuple[ScenarioOutcome, str], ...],
) -> None:
    outcome, text = seeded_runs[0]
    last = outcome.rounds[-1]
    assert last.desired == {BATCH: 0, LLM: 0}
    assert last.ready == {BATCH: 0, LLM: 0}
    assert "(scale-to-zero)" in text
    # The batch worker's cooldown (300 s) ends before the LLM's (600 s).
    batch_zero = next(r.at for r in outcome.rounds[1:] if r.desired[BATCH] == 0)
    llm_woke = next(r.at for r in outcome.rounds if r.desired[LLM] > 0)
    llm_zero = next(r.at for r in outcome.rounds if r.at > llm_woke and r.desired[LLM] == 0)
    assert batch_zero < llm_zero


def test_the_same_seed_prints_the_same_story(
    seeded_runs: tuple[tuple[ScenarioOutcome, str], ...],
) -> None:
    (first, first_text), (second, second_text) = seeded_runs
    assert first_text == second_text
    assert first.rounds == second.rounds
