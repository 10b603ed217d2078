"""ebb's own AWS bill: the price table and the arithmetic, shared by `bench/bench_bill.py` and
`ebb simulate`.

`PRICES` are US East (N. Virginia), as retrieved on `PRICES_DATE` (each names its page); free
tiers are not subtracted: the figures are what ebb adds to an account already past them.
`cost` prices units per dimension. `simulated_run_units` counts, for a run of `ebb simulate`,
what ebb's stack would have been billed for, from the simulator's own counters (`RunCounts`);
what the simulator cannot count is estimated from the local world's measurement by
`bench/bench_bill.py` (each estimate says so where it is defined).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MONTH_HOURS = 730
PRICES_DATE = "2026-12-03"


@dataclass(frozen=True)
class Price:
    """One price dimension: USD per `per` units, and where the figure was read."""

    usd: float
    per: float
    unit: str
    source: str


PRICES: dict[str, Price] = {
    "GetMetricData metrics": Price(
        0.01,
        1_000,
        "metrics requested",
        "aws.amazon.com/cloudwatch/pricing (figure as quoted by third-party guides: site24x7 "
        "'CloudWatch metrics cost calculation'; the official page's table was not retrievable here)",
    ),
    "alarm-months": Price(
        0.10,
        1,
        "standard-resolution alarm metric-months",
        "aws.amazon.com/cloudwatch/pricing (figure as quoted by cloudburn.io "
        "'Amazon CloudWatch pricing', Feb 2026)",
    ),
    "custom metrics": Price(
        0.30,
        1,
        "metric-months (first 10,000)",
        "aws.amazon.com/cloudwatch/pricing (figure as quoted by signoz.io 'CloudWatch Pricing', Feb 2026)",
    ),
    "log ingestion": Price(
        0.50,
        1,
        "GB ingested",
        "aws.amazon.com/cloudwatch/pricing (figure as quoted by factualminds.com "
        "'Amazon CloudWatch Pricing', Jun 2026)",
    ),
    "Lambda requests": Price(
        0.20, 1_000_000, "requests", "aws.amazon.com/lambda/pricing (x86; as quoted by cloudchipr.com)"
    ),
    "Lambda GB-seconds": Price(
        0.0000166667,
        1,
        "GB-s",
        "aws.amazon.com/lambda/pricing (x86, first 6 billion GB-s; as quoted by cloudchipr.com); "
        "init is billed as duration (official page: 'Duration charges apply to ... initialization code')",
    ),
    "Scheduler invocations": Price(
        1.00,
        1_000_000,
        "invocations",
        "aws.amazon.com/eventbridge/pricing (as quoted by cloudburn.io "
        "'Amazon EventBridge Pricing', Mar 2026)",
    ),
    "Step Functions transitions": Price(
        0.025, 1_000, "state transitions", "aws.amazon.com/step-functions/pricing (official page, Standard)"
    ),
    "DynamoDB writes": Price(
        0.625,
        1_000_000,
        "write request units",
        "aws.amazon.com/dynamodb/pricing/on-demand (as quoted by airbyte.com, after the Nov 2024 reduction)",
    ),
    "DynamoDB reads": Price(
        0.125,
        1_000_000,
        "read request units",
        "aws.amazon.com/dynamodb/pricing/on-demand (as quoted by airbyte.com, after the Nov 2024 reduction)",
    ),
    "SQS requests": Price(
        0.50,
        1_000_000,
        "FIFO requests (standard: $0.40)",
        "aws.amazon.com/sqs/pricing (as quoted by cloudburn.io 'Amazon SQS Pricing', Mar 2026)",
    ),
}
ENDPOINT_HOUR = Price(
    0.01,
    1,
    "interface endpoint-hours per AZ",
    "aws.amazon.com/privatelink/pricing (billing per endpoint per AZ per hour: official page; "
    "the $0.01 figure as quoted by awsnegotiations.com 'AWS PrivateLink Cost Analysis')",
)


def cost(units: dict[str, float]) -> dict[str, float]:
    """USD per price dimension for `units` of each (keys of `PRICES`)."""
    return {name: units[name] * PRICES[name].usd / PRICES[name].per for name in units}


# --- a simulated run ------------------------------------------------------------------------------

TEMPLATE_ALARMS = 3
"""The template's own alarms (dead letters and failures), besides one per trigger."""
STACK_METRIC_SERIES = 18
"""EMF series the stack prints for one pool: 8 of the pool, 8 of the cluster, 2 of Powertools
(counted by bench/bench_bill.py in the local world)."""
DECISION_GB_SECONDS = 0.995
"""Estimated: Lambda GB-s of one decision, the signals function (1024 MB) and the decide function
(1769 MB) together, init included: bench/bench_bill.py's idle hour in the local world with its
latency model (43,560 GB-s for 43,800 tick decisions a month)."""
TASK_GB_SECONDS = 0.363
"""Estimated: Lambda GB-s of one invocation of a provisioning workflow task (512 MB): the busy
hour's GB-s over the idle hour's divided by its extra invocations, in bench/bench_bill.py."""
LOG_BYTES_PER_DECISION = 1_830
"""Estimated: bytes a decision prints (log lines and EMF documents), bench/bench_bill.py's idle
hour (0.08 GB for 43,800 decisions a month)."""
AUDIT_KB_PER_SCALER = 2
"""Estimated: a scaler's audit item in the decision's transaction (bench/bench_bill.py: ~2 KB)."""


@dataclass(frozen=True)
class RunCounts:
    """What ebb's stack did in one simulated run, as the simulator counted it."""

    seconds: float
    """The run's simulated length."""
    ticks: int
    """Scheduler's once-a-minute invocations of the signals function."""
    timer_decisions: int
    """Idle timers that fired (one-shot schedules)."""
    decisions: int
    """Every decision (ticks, timers, alarm edges, cluster events, hand-backs)."""
    cloudwatch_triggers: int
    """The pool's aws-cloudwatch triggers: one GetMetricData metric each per decision."""
    sqs_triggers: int
    """The pool's aws-sqs-queue triggers: one GetQueueAttributes each per decision."""
    scalers: int
    state_kb: int
    """Started KB of the pool's state item, summed over the decisions (its size at each)."""
    executions: int
    rounds: int
    waits: int
    """Waits for a change between rounds (the wait task stores a token)."""
    removal_executions: int
    """Executions that carried out removals (one scale-in step each)."""


def simulated_run_units(counts: RunCounts) -> dict[str, float]:
    """Units per price dimension for one simulated run (keys of `PRICES`).

    Per decision: a message through the FIFO decision queue (SendMessageBatch by the signals
    function, ReceiveMessage and DeleteMessage by the event source mapping), the signals and the
    decide invocations, one GetItem (the pool's counter) and one UpdateItem (the claim), the
    TransactWriteItems of the state item and one audit item per scaler (two write units per
    started KB), one GetMetricData metric per CloudWatch trigger and one GetQueueAttributes per
    SQS trigger. Per provisioning execution, the states of statemachines/provision.asl.json it
    enters: ValidateRequest, RequestKind, CheckGeneration, StillCurrent, RecordStart (5, three
    of them tasks), ScaleOut and Standing per round (one task), WaitForChange per wait (a task,
    and a PutItem of its token), ScaleIn, ScaleInBegin, ScaleInStep, ScaleInProgress for a
    removal (one task), RecordOutcome and Ended (one task); RecordStart and RecordOutcome each
    write one item. Alarms and metric series are billed per month: prorated to the run.
    """
    months = counts.seconds / 3600.0 / MONTH_HOURS
    tasks = 4 * counts.executions + counts.rounds + counts.waits + counts.removal_executions
    transitions = 7 * counts.executions + 2 * counts.rounds + counts.waits + 4 * counts.removal_executions
    writes = (
        counts.decisions * (1 + 2 * AUDIT_KB_PER_SCALER * counts.scalers)
        + 2 * counts.state_kb
        + 2 * counts.executions
        + counts.waits
    )
    return {
        "GetMetricData metrics": float(counts.decisions * counts.cloudwatch_triggers),
        "alarm-months": (counts.cloudwatch_triggers + counts.sqs_triggers + TEMPLATE_ALARMS) * months,
        "custom metrics": STACK_METRIC_SERIES * months,
        "log ingestion": counts.decisions * LOG_BYTES_PER_DECISION / 1e9,
        "Lambda requests": float(2 * counts.decisions + tasks),
        "Lambda GB-seconds": counts.decisions * DECISION_GB_SECONDS + tasks * TASK_GB_SECONDS,
        "Scheduler invocations": float(counts.ticks + counts.timer_decisions),
        "Step Functions transitions": float(transitions),
        "DynamoDB writes": float(writes),
        "DynamoDB reads": float(counts.decisions),
        "SQS requests": float(counts.decisions * (3 + counts.sqs_triggers)),
    }


def kb(size_bytes: int) -> int:
    """Started kilobytes (DynamoDB's write unit: one per started KB)."""
    return max(math.ceil(size_bytes / 1024), 1)
