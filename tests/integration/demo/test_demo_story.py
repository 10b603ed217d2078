"""`ebb demo`'s story at full speed: template.yaml deployed with the example (shadow mode off)
into the local world, driven only by traffic, time and `ebb backfill`; each chapter is checked
through what the deployed pieces recorded (the state table's audit, ebb's alarms, Scheduler's
invocations, the HyperPod stand-in's record of calls, the Step Functions executions), and two
runs with one seed are compared event for event.

Sources: Elastic Load Balancing User Guide, "CloudWatch metrics for your Application Load
Balancer" (HTTPCode_ELB_503_Count counts responses the load balancer itself generates, as with no
healthy target); KEDA docs, "ScaledObject specification" (https://keda.sh/docs/latest/reference/
scaledobject-spec/, `cooldownPeriod`: the period to wait after the last trigger reported active
before scaling the resource back to 0); Karpenter docs, "Disruption"
(https://karpenter.sh/docs/concepts/disruption/, `consolidateAfter` and budgets: an empty node is
removed once `consolidateAfter` has passed, within the NodePool's disruption budget); SageMaker
Developer Guide, "Continuous provisioning for enhanced cluster operations on Amazon EKS" (a
launch that finds no capacity fails and is reported in the cluster's events).
"""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from ebb.cli.demo_display import WIDTH, PlainLog
from ebb.cli.demo_story import BATCH, DIFFERENCES, LLM, StoryResult, run_story
from ebb.cli.demo_traffic import built_in_scenario
from ebb.cli.explain import run_explain
from ebb.cli.main import build_parser
from ebb.local.kubernetes import ClusterCertificates
from ebb.local.stack_deployment import STACK

# One worker runs the whole module (CI's `--dist loadgroup`), so the story runs once.
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.xdist_group("demo-story")]

SEED = 7
G5, G6E = "gpu-g5-use1a", "gpu-g6e-use1b"
G5_OFFERING = f"{G5}/ml.g5.12xlarge/us-east-1a"
SHORT_MINUTES = 12


def _run(
    directory: Path, certificates: ClusterCertificates, minutes: float | None
) -> tuple[StoryResult, str]:
    out = io.StringIO()
    result = run_story(
        directory,
        built_in_scenario(SEED),
        seed=SEED,
        observer=PlainLog(out, DIFFERENCES, seed=SEED),
        certificates=certificates,
        functions_log=directory.parent / "functions.log",
        stop_after_minutes=minutes,
    )
    return result, out.getvalue()


@pytest.fixture(scope="module")
def story(
    tmp_path_factory: pytest.TempPathFactory, certificates: ClusterCertificates
) -> tuple[StoryResult, str]:
    """The whole story once, at full speed (shared by the module's tests: CI time matters)."""
    return _run(tmp_path_factory.mktemp("demo") / "config", certificates, None)


def _at(record: dict[str, object]) -> datetime:
    return datetime.fromisoformat(str(record["at"]))


def _pool(result: StoryResult, event: str | None) -> list[dict[str, object]]:
    return [r for r in result.audit["POOL#gpu"] if r.get("event") == event]


def _chapter_start(result: StoryResult, number: int) -> datetime:
    (chapter,) = [c for c in result.scenario.chapters if c.number == number]
    return result.started_at + timedelta(minutes=chapter.start_minute)


def test_chapter_1_traffic_at_zero_wakes_the_llm_through_its_503_alarm_and_a_node_is_added(
    story: tuple[StoryResult, str],
) -> None:
    result, _ = story
    wake = f"{STACK}."
    raised = [
        (at, name)
        for at, name, before, after in result.alarm_changes
        if name.startswith(wake) and name.endswith(".wake-on-503") and (before, after) == ("OK", "ALARM")
    ]
    assert raised, "the 503 alarm never went to ALARM"
    alarm_at = raised[0][0]
    # The decision that alarm woke: the LLM from 0, applied, with the alarm as its reason.
    woken = [
        r for r in result.audit[LLM] if "alarm" in r["reasons"] and r["current"] == 0 and r["desired"] >= 1
    ]
    assert woken
    assert woken[0]["applied"] is True
    assert timedelta(0) <= _at(woken[0]) - alarm_at < timedelta(seconds=30)
    assert not [r for r in result.audit[LLM] if _at(r) < _at(woken[0]) and r["desired"] > 0]
    # Its node: the provisioning workflow added one through BatchAddClusterNodes.
    adds = [
        (at, request)
        for at, operation, request in result.hyperpod_calls
        if operation == "BatchAddClusterNodes"
    ]
    assert adds
    assert adds[0][0] >= _at(woken[0])
    # The requests that hit the cold start got 503 from the load balancer, and are counted.
    summary = result.summary
    # Every request the scenario sent, and none more, was served or answered 503: each minute's
    # rate holds from that minute's first instant (not one traffic slice late at each change).
    assert summary.served + summary.unserved == sum(result.scenario.llm_requests_per_minute)
    assert summary.unserved > 0
    assert summary.served > 0
    assert summary.first_ready_minute is not None
    assert summary.first_request_minute == 0
    # At least the alarm's delay (a minute's 503 count, published a minute later) plus a node's boot.
    assert summary.first_ready_minute > 2 + 4


def test_chapter_2_a_zone_out_of_capacity_falls_back_to_the_other_group_and_returns_after_the_mark(
    story: tuple[StoryResult, str],
) -> None:
    result, _ = story
    out, back = result.zone_events["out"], result.zone_events["back"]
    ended = _pool(result, "provisioning-ended")
    short = [e for e in ended if G5_OFFERING in e["shortages"]]  # type: ignore[operator]
    assert short, "no launch ran out of capacity"
    assert all(out <= _at(e) < back for e in short)
    # The starved group's pending node is cancelled: by the execution that found the shortage,
    # or, when a new decision superseded it first, by the next generation's (which one depends
    # on the seeded timeline).
    assert [e for e in ended if _at(short[0]) <= _at(e) < back and e["cancelled"] >= 1]  # type: ignore[operator]
    cancels = [
        at
        for at, operation, request in result.hyperpod_calls
        if operation == "BatchDeleteClusterNodes" and "NodeLogicalIds" in request and out <= at < back
    ]
    assert cancels
    # The fallback: after the shortage, the other zone's group is asked for a node while the zone
    # is still out, and that generation is granted it.
    g6e_adds = [
        at
        for at, operation, request in result.hyperpod_calls
        if operation == "BatchAddClusterNodes"
        and any(n["InstanceGroupName"] == G6E for n in request["NodesToAdd"])  # type: ignore[index]
    ]
    assert [at for at in g6e_adds if out <= at < back]
    assert [
        e
        for e in ended
        if _at(e) > _at(short[0])
        and e["outcome"] == "satisfied"
        and e["granted"]["us-east-1b"].get(G6E, 0) >= 1  # type: ignore[index]
    ]
    # The return: once capacity is back and the mark has expired, new launches go to g5 again.
    g5_adds = [
        at
        for at, operation, request in result.hyperpod_calls
        if operation == "BatchAddClusterNodes"
        and any(n["InstanceGroupName"] == G5 for n in request["NodesToAdd"])  # type: ignore[index]
    ]
    returned = [at for at in g5_adds if at > back]
    assert returned
    assert returned[0] < _chapter_start(result, 3)
    assert not [at for at in g5_adds if _at(short[0]) < at <= back]


def test_chapter_3_the_backfill_pre_provisions_the_pool_before_the_batch_lands(
    story: tuple[StoryResult, str],
) -> None:
    result, log = story
    assert result.executions["backfill-gpu-nightly"] == "SUCCEEDED"
    assert "$ ebb backfill --nodepool gpu --nodes 5 --scaler batch/batch-worker --replicas 4" in " ".join(
        log.split()
    )
    floored = [r for r in result.audit[BATCH] if r["reasons"] == ["backfill"]]
    assert floored
    assert (floored[0]["current"], floored[0]["desired"]) == (0, 4)
    backfilled = [r for r in _pool(result, None) if r.get("backfill")]
    assert backfilled
    assert sum(backfilled[0]["nodeTargets"].values()) >= 5  # type: ignore[attr-defined]
    # The batch found its floor's pods: by the time its jobs landed, four workers were Ready.
    landed = min(result.scenario.batch_jobs)
    (sample,) = [s for s in result.samples if s.minute == landed]
    assert sample.ready[BATCH] == 4
    assert result.summary.jobs_done == result.summary.jobs_sent == 24


def test_chapter_4_idle_timers_take_the_pods_to_zero_then_the_empty_nodes_go(
    story: tuple[StoryResult, str],
) -> None:
    result, _ = story
    stop = _chapter_start(result, 4)
    # Each scaler's idle timer was armed for its cooldown's end (one schedule per scaler), and it
    # went to zero no earlier than that and before the end of the minute after it: the timer's at()
    # is rounded up to the next whole minute and Scheduler fires some moment of that minute
    # (EventBridge Scheduler User Guide, "Schedule types": one-time schedules are precise to the
    # minute), unless a tick or HyperPod event after the cooldown's end woke the decision first.
    woken_by_timer = []
    for scaler in (LLM, BATCH):
        to_zero = [
            r
            for r in result.audit[scaler]
            if r["desired"] == 0 and r["current"] > 0 and _at(r) >= stop - timedelta(minutes=5)
        ]
        assert to_zero, f"{scaler} never went to zero"
        armed = [r["wakeAt"] for r in result.audit[scaler] if r["wakeAt"] and _at(r) < _at(to_zero[0])]
        assert armed
        wake_at = datetime.fromisoformat(str(armed[-1]))
        timer_minute = wake_at.replace(second=0, microsecond=0) + timedelta(minutes=1)
        assert wake_at <= _at(to_zero[0]) < timer_minute + timedelta(minutes=1)
        # Either the timer woke it, or a tick or event came first and the timer was deleted
        # unfired (one is never left behind): a timer that fires later finds nothing to do.
        if "idle-timer" not in to_zero[0]["reasons"]:
            late = [at for at, fired in result.timers_fired if fired == scaler and at > _at(to_zero[0])]
            assert not late, f"{scaler}'s idle timer fired after a tick had taken it to zero"
        woken_by_timer.append(scaler)
    assert sorted(woken_by_timer) == sorted((LLM, BATCH))
    final = result.samples[-1]
    assert final.desired == {LLM: 0, BATCH: 0}
    assert final.ready == {LLM: 0, BATCH: 0}
    assert sum(final.usable_nodes.values()) + sum(final.pending_nodes.values()) == 0
    finished = _pool(result, "scale-in-finished")
    assert finished
    assert all(_at(r) > stop for r in finished)
    deletes = [at for at, operation, _ in result.hyperpod_calls if operation == "BatchDeleteClusterNodes"]
    assert deletes


def test_the_plain_log_reads_at_80_columns_and_begins_with_shadow_mode_off(
    story: tuple[StoryResult, str],
) -> None:
    _, log = story
    lines = log.splitlines()
    assert lines[0].startswith("ebb demo: shadow mode OFF (the example ships shadowMode: true)")
    assert max(len(line) for line in lines) <= WIDTH
    for number in (1, 2, 3, 4):
        assert any(line.startswith(f"Chapter {number}, ") for line in lines)


def test_one_seed_gives_the_same_run_event_for_event(
    story: tuple[StoryResult, str], tmp_path: Path, certificates: ClusterCertificates
) -> None:
    # A second, shorter run with the same seed: everything up to its end happens exactly as in
    # the full run (the story's events, and the world's own timeline of invocations, deliveries,
    # alarms, schedules, retries and the cluster's changes).
    full, _ = story
    short, _ = _run(tmp_path / "config", certificates, SHORT_MINUTES)
    cut = SHORT_MINUTES - 0.5
    assert short.started_at == full.started_at
    assert [e for e in short.events if e.minute < cut] == [e for e in full.events if e.minute < cut]
    end = (short.started_at + timedelta(minutes=cut)).isoformat()
    first = [entry for entry in full.world_timeline if entry[0] < end]
    second = [entry for entry in short.world_timeline if entry[0] < end]
    assert len(first) > 100
    assert first == second


def test_the_state_table_left_at_the_end_explains_the_storys_decisions(
    story: tuple[StoryResult, str], tmp_path: Path
) -> None:
    # `ebb demo` writes it as `aws dynamodb scan` would (audit.json) for `ebb explain --from`.
    result, _ = story
    export = tmp_path / "audit.json"
    export.write_text(json.dumps({"Items": result.state_table_items}))
    out = io.StringIO()
    args = build_parser().parse_args(["explain", LLM, "--from", str(export), "--since", "2h"])
    assert run_explain(args, out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"{LLM}: {len(result.audit[LLM])} decision(s) since ")
    assert max(len(line) for line in lines) <= WIDTH
