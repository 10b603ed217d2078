"""The decide path as deployed, in the local world with its latency model: what one decision
reads, how fast an alarm becomes replicas and a provisioning execution, and a storm.

- calls per decision, by kind (from the pool's audit entry);
- alarm to action: from the alarm's OK -> ALARM (CloudWatch's evaluation, on the metric the world
  publishes for the queue) to the decision that applied replicas and started provisioning
  (goal: at most 10 s);
- a storm of N alarm signals for one pool within one second (default 1,000): how many decisions,
  whether two ever overlapped, and how long until the queue is drained.

Run: .venv/bin/python bench/bench_decide.py [--storm 1000]
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from ebb.local.kubernetes import generate_cluster_certificates
from ebb.local.stack_deployment import (
    ROOT,
    STACK,
    audit,
    deployed,
    run_past_next_tick,
    send_jobs,
    stop_ticking,
)
from ebb.service.signals import scaler_alarms

WORKER = "batch/batch-worker"


def _alarm_event(name: str, event_id: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((ROOT / "events" / "alarm-state-change.json").read_text())
    event["id"] = event_id
    event["detail"]["alarmName"] = name
    return event


def alarm_to_action(certificates: Any) -> None:
    with (
        tempfile.TemporaryDirectory() as scratch,
        deployed(Path(scratch) / "config", certificates) as (cluster, config),
    ):
        world = cluster.world
        since = run_past_next_tick(cluster, margin=1.0)
        # The tick off, so that the decision that acts is the alarm's (the tick would otherwise
        # often come first: the queue's metric reaches the alarm a minute after its period).
        stop_ticking(cluster)
        send_jobs(cluster, 8)
        (alarm,) = [n for n, owner in scaler_alarms(config, STACK).items() if owner == WORKER]
        cloudwatch = world.clients.client("cloudwatch")
        changed_at = None
        for _ in range(240):
            world.run_for(1)
            (state,) = cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"]
            if state["StateValue"] == "ALARM":
                changed_at = state["StateUpdatedTimestamp"]
                break
        world.run_for(30)
        decisions = [d for d in audit(cluster, "POOL#gpu", since) if d.get("event") is None]
        acted = [d for d in reversed(decisions) if "alarm" in d["reasons"] and d["actions"]]
        if changed_at is None or not acted:
            print("alarm to action: the alarm did not lead to an action in 4 minutes")
            return
        done = datetime.fromisoformat(acted[0]["recordedAt"])
        print(f"calls of that decision: {json.dumps(acted[0]['calls'])}")
        print(f"alarm OK -> ALARM at {changed_at.isoformat()}, acted by {done.isoformat()}")
        print(
            f"alarm to replicas applied and provisioning started: {(done - changed_at).total_seconds():.2f} s"
            " (goal <= 10 s)"
        )
        print(f"  actions: {acted[0]['actions']}")


def storm(certificates: Any, signals: int) -> None:
    with (
        tempfile.TemporaryDirectory() as scratch,
        deployed(Path(scratch) / "config", certificates) as (cluster, config),
    ):
        world = cluster.world
        since = run_past_next_tick(cluster, margin=1.0)
        (alarm,) = [n for n, owner in scaler_alarms(config, STACK).items() if owner == WORKER]
        start = world.now()
        for index in range(signals):
            world.call_later(
                index / signals,
                functools.partial(world.put_event, _alarm_event(alarm, f"storm-{index:05d}")),
                name="storm",
            )
        wall = time.perf_counter()
        sqs = world.clients.client("sqs")
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]

        def waiting() -> int:
            # Counted, not received: a receive here would hide the messages from decide.
            attributes = sqs.get_queue_attributes(
                QueueUrl=world.queue_url("DecisionQueue"), AttributeNames=names
            )
            return sum(int(attributes["Attributes"][name]) for name in names)

        world.run_for(5)
        while waiting():
            world.run_for(5)
        decisions = [d for d in audit(cluster, "POOL#gpu", since) if d.get("event") is None]
        spans = sorted(
            (datetime.fromisoformat(d["at"]), datetime.fromisoformat(d["recordedAt"])) for d in decisions
        )
        overlaps = sum(1 for (_, end), (begin, _) in itertools.pairwise(spans) if begin < end)
        drained = max(end for _, end in spans)
        requests = sum(d["requests"] for d in decisions)
        print(
            f"storm: {signals} alarm signals for one pool within 1 s -> {len(decisions)} decisions "
            f"answering {requests} requests, {overlaps} overlapping, claims lost: "
            f"{sum(d['claimAttempts'] - 1 for d in decisions)}"
        )
        print(
            f"  drained {(drained - start).total_seconds():.1f} simulated s after the first signal "
            f"({time.perf_counter() - wall:.1f} s of wall time here)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--storm", type=int, default=1000, help="signals in the storm (0: skip it)")
    args = parser.parse_args()
    certificates = generate_cluster_certificates()
    alarm_to_action(certificates)
    if args.storm:
        storm(certificates, args.storm)


if __name__ == "__main__":
    main()
