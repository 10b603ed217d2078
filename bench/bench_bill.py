"""ebb's own AWS bill, itemised by price dimension, from what the local world counted.

The example stack (`ebb.local.stack_deployment`: one NodePool, the LLM service with two
CloudWatch triggers and the batch worker with one SQS trigger) runs in the local world with its
latency model for `--minutes` simulated minutes idle at zero, then as long busy (four messages
on the worker's queue every minute: the worker scales up, its pool gets nodes and provisioning
runs; the LLM service gets no requests, so busy is the pool's, not every scaler's). What
the stack's own actors did in each window is counted (every AWS call they made, by operation;
each Lambda invocation with its memory and its billed time, init included; each Scheduler
invocation; each Step Functions state entered), priced, and extrapolated linearly to a month of
730 hours: a simulated hour stands for the month, stated as such in the output. Idle at zero,
the pool is at rest and the tick decides it every `IDLE_POLL_MINUTES` (5) minutes
(`ebb.service.idle_polling`); busy, every minute. Then a second stack runs the same two windows
with the batch worker opted in to sub-minute polling (`subMinutePolling: true`; its
`pollingInterval` is 15 s, so its pool is decided every 15 s while busy and not polled while at
rest): the differences are what polling costs, per extra decision a minute, beside the estimate
`ebb validate` prints from `ebb.config.polling`.

Per price dimension:
- GetMetricData: metrics requested = the CloudWatch queries the decisions made (one per
  `aws-cloudwatch` trigger reading in the audit; each query is one metric);
- alarms: alarm-months of the alarms that exist (the triggers' and the template's own);
- Lambda: requests and GB-seconds (memory x (init + duration), from the template's sizes);
- Scheduler: invocations (the tick, idle timers);
- Step Functions: state transitions (states entered, in the executions' histories);
- DynamoDB: read and write request units, from the calls and the sizes of the items written
  (a write unit per started KB, twice for a transaction; a read unit per started 4 KB);
- custom metrics: the distinct EMF series the functions printed (`ebb.service.decision_metrics`)
  plus the PutMetricData series;
- log ingestion: the bytes the functions printed (their log lines and EMF documents);
- SQS requests: SendMessage, ReceiveMessage, DeleteMessage and the other SQS calls the stack's
  actors made; long polling of an empty queue by the SQS event source mappings is not modelled by
  the local world and is stated apart.

Prices are US East (N. Virginia), as retrieved on 2026-12-03 (`ebb.sim.bill.PRICES`, shared with
`ebb simulate`, gives each one's page).
Free tiers are not subtracted: the figures are what ebb adds to an account already past them.

Run: .venv/bin/python bench/bench_bill.py [--minutes 60]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ebb.config.polling import (
    CLOUDWATCH_TRIGGER_USD,
    POOL_DECISION_USD,
    SCALER_USD,
    SQS_TRIGGER_USD,
    PoolShape,
    monthly_cost,
    pool_interval,
)
from ebb.local.cluster import HyperPodOnEks
from ebb.local.kubernetes import generate_cluster_certificates
from ebb.local.stack_deployment import STACK, audit, deployed, run_past_next_tick, send_jobs
from ebb.service.decision_metrics import metric_series
from ebb.sim.bill import ENDPOINT_HOUR, MONTH_HOURS, PRICES, PRICES_DATE, cost

INTERFACE_ENDPOINTS = (
    "sqs",
    "monitoring",
    "logs",
    "states",
    "scheduler",
    "sagemaker (api)",
    "eks",
    "sts",
    "lambda",
)
"""What a decide function in private subnets without a NAT reaches (DynamoDB uses a free gateway
endpoint). The template creates none: they are the user's, priced here as the option they are."""
POLL_MAPPING = "SignalsFunctionPolls"
"""template.yaml's event source mapping of the sub-minute poll queue."""
POLLED_SCALER = "batch/batch-worker"
"""The scaler the sub-minute polling windows opt in: its pollingInterval is 15 s."""
ESM_EMPTY_RECEIVES_PER_MONTH = 5 * 3 * 60 * MONTH_HOURS
"""Not counted by the local world, stated apart: an SQS event source mapping long-polls an empty
queue (an assumption of 5 pollers each making one 20 s ReceiveMessage, as third-party SQS pricing
guides describe; AWS publishes no figure)."""


class CallLedger:
    """Every AWS call the world's actors make (not the bench driving it), by `service:Operation`."""

    def __init__(self, cluster: HyperPodOnEks) -> None:
        self.calls: Counter[str] = Counter()
        latency = cluster.world.latency
        original = latency.charge_aws_call
        clock = cluster.world.clock

        def counting(service: str, operation: str, call: Any) -> Any:
            if clock.current_actor() is not None:
                self.calls[f"{service}:{operation}"] += 1
            return original(service, operation, call)

        latency.charge_aws_call = counting  # type: ignore[method-assign]

    def take(self) -> Counter[str]:
        taken, self.calls = self.calls, Counter()
        return taken


@dataclass
class Window:
    """What one measured window counted."""

    minutes: float
    calls: Counter[str]
    lambda_requests: int
    gb_seconds: float
    scheduler: int
    transitions: int
    metric_queries: int
    write_units: float
    read_units: float
    alarms: int
    trigger_alarms: int
    """Of `alarms`, those ebb owns on its triggers (`<stack>.` names); the rest are the template's."""
    series: int
    log_bytes: int
    decisions: int
    polls: int
    """Sub-minute polls the poll queue delivered (`ebb.service.sub_minute_polls`)."""


def _transitions(cluster: HyperPodOnEks, since: datetime) -> int:
    stepfunctions = cluster.world.clients.client("stepfunctions")
    total = 0
    for machine in stepfunctions.list_state_machines()["stateMachines"]:
        for execution in stepfunctions.list_executions(stateMachineArn=machine["stateMachineArn"])[
            "executions"
        ]:
            for event in cluster.world.execution_history(execution["executionArn"]):
                if event["type"].endswith("StateEntered") and event["timestamp"] >= since:
                    total += 1
    return total


def _audit_units(cluster: HyperPodOnEks, since: datetime) -> tuple[int, float, int]:
    """Decisions since `since`, the write units their transactions took, and their CloudWatch queries."""
    decisions = [d for d in audit(cluster, "POOL#gpu", since) if d.get("event") is None]
    scalers = audit(cluster, "serving/llm-inference", since) + audit(cluster, "batch/batch-worker", since)
    table = cluster.world.clients.client("dynamodb")
    state = table.get_item(
        TableName=f"{STACK}-StateTable", Key={"pk": {"S": "POOL#gpu"}, "sk": {"S": "STATE"}}
    )
    state_kb = math.ceil(len(json.dumps(state.get("Item", {}))) / 1024)
    # Each decision's transaction: the state item and its audit items, two units per started KB.
    units = 2.0 * state_kb * len(decisions)
    for record in [*decisions, *scalers]:
        units += 2.0 * math.ceil(len(json.dumps(record)) / 1024)
    queries = sum(1 for record in scalers for m in record.get("metrics", []) if m["kind"] == "aws-cloudwatch")
    return len(decisions), units, queries


def measure(cluster: HyperPodOnEks, ledger: CallLedger, minutes: int, out: io.StringIO, busy: bool) -> Window:
    world = cluster.world
    since = world.now()
    ledger.take()
    lambda_before = len(world.lambda_runtime.invocations)
    scheduler_before = len(world.scheduler.invocations)
    printed_before = out.tell()
    for _ in range(minutes):
        if busy:
            send_jobs(cluster, 4)
        world.run_for(60)
    calls = ledger.take()
    invocations = world.lambda_runtime.invocations[lambda_before:]
    gb_seconds = 0.0
    for invocation in invocations:
        spec = world.lambda_runtime.spec(invocation.function_name)
        memory_gb = (spec.memory_mb if spec else 128) / 1024
        seconds = (invocation.ended_at - invocation.started_at).total_seconds() + invocation.init_seconds
        gb_seconds += memory_gb * seconds
    decisions, write_units, queries = _audit_units(cluster, since)
    # Reads and writes outside the decisions' transactions: one unit per started KB / 4 KB,
    # the items being small (a pool's counter, claim, wait token, configuration rows).
    write_units += sum(
        n for k, n in calls.items() if k in {"dynamodb:UpdateItem", "dynamodb:PutItem", "dynamodb:DeleteItem"}
    )
    read_units = float(sum(n for k, n in calls.items() if k in {"dynamodb:GetItem", "dynamodb:Query"}))
    out.seek(printed_before)
    printed = out.read()
    documents = [json.loads(line) for line in printed.splitlines() if line.startswith('{"_aws"')]
    found = world.clients.client("cloudwatch").describe_alarms()["MetricAlarms"]
    polls = sum(
        len(o.bodies)
        for o in world.sqs_event_sources.outcomes
        if o.mapping == POLL_MAPPING and o.started_at >= since
    )
    alarms = len(found)
    trigger_alarms = sum(1 for alarm in found if alarm["AlarmName"].startswith(f"{STACK}."))
    return Window(
        minutes=minutes,
        calls=calls,
        lambda_requests=len(invocations),
        gb_seconds=gb_seconds,
        scheduler=len(world.scheduler.invocations) - scheduler_before,
        transitions=_transitions(cluster, since),
        metric_queries=queries,
        write_units=write_units,
        read_units=read_units,
        alarms=alarms,
        trigger_alarms=trigger_alarms,
        series=len(metric_series(documents)),
        log_bytes=len(printed.encode()),
        decisions=decisions,
        polls=polls,
    )


def bill(window: Window) -> dict[str, float]:
    """Units per month by price dimension (the window extrapolated to 730 hours)."""
    scale = MONTH_HOURS * 60 / window.minutes
    sqs = sum(n for k, n in window.calls.items() if k.startswith("sqs:"))
    return {
        "GetMetricData metrics": window.metric_queries * scale,
        "alarm-months": float(window.alarms),
        "custom metrics": float(window.series),
        "log ingestion": window.log_bytes * scale / 1e9,
        "Lambda requests": window.lambda_requests * scale,
        "Lambda GB-seconds": window.gb_seconds * scale,
        "Scheduler invocations": window.scheduler * scale,
        "Step Functions transitions": window.transitions * scale,
        "DynamoDB writes": window.write_units * scale,
        "DynamoDB reads": window.read_units * scale,
        "SQS requests": sqs * scale,
    }


def report(title: str, window: Window) -> dict[str, float]:
    units = bill(window)
    dollars = cost(units)
    factor = MONTH_HOURS * 60 / window.minutes
    print(
        f"\n{title}: {window.minutes:.0f} simulated minutes, {window.decisions} pool decisions, "
        f"x{factor:.0f} to a month"
    )
    for name in units:
        print(f"  {name:28s} {units[name]:14,.1f} {PRICES[name].unit:42s} ${dollars[name]:8.3f}")
    print(f"  {'total':28s} {'':14s} {'':42s} ${sum(dollars.values()):8.3f}")
    return dollars


def sub_minute(
    interval: int | None,
    shape: PoolShape,
    idle: tuple[Window, dict[str, float], Window, dict[str, float]],
    busy: tuple[Window, dict[str, float], Window, dict[str, float]],
) -> None:
    """What polling the example's pool every `interval` s adds, idle and busy, measured as the
    difference between the windows with and without the opt-in; and the estimate `ebb validate`
    prints for the same pool (`ebb.config.polling`)."""
    print(
        f"\nsub-minute polling ({POLLED_SCALER} opted in, pollingInterval 15 s: its pool every {interval} s):"
    )
    for label, (plain, plain_cost, polled, polled_cost) in (("idle", idle), ("busy", busy)):
        extra = sum(polled_cost.values()) - sum(plain_cost.values())
        per_minute = (polled.decisions - plain.decisions) / polled.minutes
        print(
            f"  {label}: {polled.polls} polls delivered, {polled.decisions} pool decisions against "
            f"{plain.decisions}; ${sum(polled_cost.values()):.2f} against ${sum(plain_cost.values()):.2f} "
            f"a month: {'+' if extra >= 0 else '-'}${abs(extra):.2f}"
        )
        if label != "busy" or per_minute <= 0:
            continue
        scale = MONTH_HOURS * 60 / polled.minutes
        sqs_calls = sum(n for k, n in polled.calls.items() if k.startswith("sqs:")) - sum(
            n for k, n in plain.calls.items() if k.startswith("sqs:")
        )
        parts = {name: (polled_cost[name] - plain_cost[name]) / per_minute for name in polled_cost}
        per_decision = sum(parts.values())
        print(
            f"    {per_minute:.2f} more decisions a minute; each more decision a minute costs "
            f"${per_decision:.2f} a month: "
            + ", ".join(f"{name} ${usd:.2f}" for name, usd in parts.items() if abs(usd) >= 0.005)
        )
        print(
            f"    of which SQS: {sqs_calls * scale / per_minute:,.0f} more requests a month "
            "(the poll queue's send, receive and delete, the forward into the FIFO queue and its "
            "receive and delete), priced at the FIFO rate"
        )
        fixed = (
            shape.scalers * SCALER_USD
            + shape.cloudwatch_triggers * CLOUDWATCH_TRIGGER_USD
            + shape.sqs_triggers * SQS_TRIGGER_USD
        )
        print(
            f"    ebb validate's estimate (ebb.config.polling) for this pool every {interval} s: "
            f"${monthly_cost(interval, shape):.2f} a month (POOL_DECISION_USD ${POOL_DECISION_USD:.2f}; "
            f"the measurement implies ${per_decision - fixed:.2f})"
        )
    esm = ESM_EMPTY_RECEIVES_PER_MONTH * 0.40 / 1e6
    print(
        f"  not modelled: the poll queue mapping's long polls of its queue, about ${esm:.2f}/month "
        "(standard queue, assumption as below), whether or not a pool is polled"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=int, default=60, help="simulated minutes per window (default 60)")
    args = parser.parse_args()
    certificates = generate_cluster_certificates()
    printed = io.StringIO()
    with (
        contextlib.redirect_stdout(printed),
        tempfile.TemporaryDirectory() as scratch,
        deployed(Path(scratch) / "config", certificates) as (cluster, _config),
    ):
        ledger = CallLedger(cluster)
        run_past_next_tick(cluster, margin=30.0)  # alarms made, the pool decided once
        idle = measure(cluster, ledger, args.minutes, printed, busy=False)
        busy = measure(cluster, ledger, args.minutes, printed, busy=True)
    # The same two windows with the batch worker opted in to sub-minute polling (its
    # pollingInterval is 15 s): idle, its pool is at rest and not polled; busy, every 15 s.
    with (
        contextlib.redirect_stdout(printed),
        tempfile.TemporaryDirectory() as scratch,
        deployed(Path(scratch) / "config", certificates, sub_minute_polling=(POLLED_SCALER,)) as (
            cluster,
            polled_config,
        ),
    ):
        ledger = CallLedger(cluster)
        run_past_next_tick(cluster, margin=30.0)
        polled_idle = measure(cluster, ledger, args.minutes, printed, busy=False)
        polled_busy = measure(cluster, ledger, args.minutes, printed, busy=True)
    print(f"prices: US East (N. Virginia), retrieved {PRICES_DATE}; free tiers not subtracted")
    idle_cost = report("idle at zero (the stack: 1 pool, 2 scalers, 3 triggers)", idle)
    busy_cost = report("busy (the worker active, nodes provisioned)", busy)
    interval = pool_interval(polled_config, "gpu")
    polled_idle_cost = report(
        f"idle at zero, {POLLED_SCALER} polled every {interval} s (at rest: no poll)", polled_idle
    )
    polled_busy_cost = report(f"busy, {POLLED_SCALER} polled every {interval} s", polled_busy)
    print("\nmarginal scaler with two triggers (the LLM service's two CloudWatch triggers):")
    for label, window, dollars in (("idle", idle, idle_cost), ("busy", busy, busy_cost)):
        per_decision_queries = window.metric_queries / max(window.decisions, 1)
        # In an existing pool: its 2 alarms, its 2 GetMetricData metrics per decision, its audit
        # item in each decision's transaction (2 units per started KB, ~2 KB) and its log share.
        scale = MONTH_HOURS * 60 / window.minutes
        in_pool = (
            2 * PRICES["alarm-months"].usd
            + per_decision_queries * window.decisions * scale * PRICES["GetMetricData metrics"].usd / 1000
            + 4 * window.decisions * scale * PRICES["DynamoDB writes"].usd / 1e6
        )
        # In a pool of its own: the whole pool's bill (its decisions, calls, 8 pool series).
        own_pool = dollars["GetMetricData metrics"] + 2 * PRICES["alarm-months"].usd
        own_pool += sum(
            v
            for k, v in dollars.items()
            if k not in {"GetMetricData metrics", "alarm-months", "custom metrics", "Scheduler invocations"}
        )
        own_pool += 8 * PRICES["custom metrics"].usd
        goal = 0.50 if label == "idle" else 2.00
        print(
            f"  {label}: in an existing pool ${in_pool:.2f}/month; "
            f"in a pool of its own ${own_pool:.2f}/month "
            f"(goal <= ${goal:.2f}: {'met' if in_pool <= goal else 'NOT met'} in a pool, "
            f"{'met' if own_pool <= goal else 'NOT met'} alone)"
        )
    template_alarms = idle.alarms - idle.trigger_alarms
    fixed = (
        template_alarms * PRICES["alarm-months"].usd
        + idle_cost["Scheduler invocations"]
        + 8 * PRICES["custom metrics"].usd
    )
    print(
        f"\nfixed cost of a stack (tick, the template's {template_alarms} alarms, the cluster's 8 metric "
        "series; "
        f"no dashboard in the template): ${fixed:.2f}/month (goal <= $8.00), "
        "plus each pool's decisions as above"
    )
    esm = ESM_EMPTY_RECEIVES_PER_MONTH * PRICES["SQS requests"].usd / 1e6
    print(
        f"  not modelled: SQS event source mapping long polls, about ${esm:.2f}/month "
        "per mapped queue (assumption)"
    )
    endpoints = len(INTERFACE_ENDPOINTS) * 2 * MONTH_HOURS * ENDPOINT_HOUR.usd
    print(
        f"option, VPC interface endpoints ({', '.join(INTERFACE_ENDPOINTS)}) in 2 AZs: "
        f"${endpoints:.2f}/month plus $0.01/GB processed"
    )
    sub_minute(
        interval,
        PoolShape.of(polled_config, "gpu"),
        (idle, idle_cost, polled_idle, polled_idle_cost),
        (busy, busy_cost, polled_busy, polled_busy_cost),
    )
    print("\nsources:")
    for name, price in [*PRICES.items(), ("VPC interface endpoints", ENDPOINT_HOUR)]:
        print(f"  {name}: ${price.usd} per {price.per:,.0f} {price.unit}: {price.source}")


if __name__ == "__main__":
    main()
