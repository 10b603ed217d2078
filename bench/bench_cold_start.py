"""Cold start of the decide function against a bare handler, in the Lambda runtime's Python.

Each measurement is a fresh interpreter (`python -c`), pinned to one core (`taskset -c 0`, as a
Lambda with 1,769 MB has one vCPU), median of several runs:

- bare: a handler module that imports Powertools (Logger, Metrics, Tracer, Parser) and boto3 and
  creates the clients ebb's first decision creates (DynamoDB, SQS, CloudWatch, SageMaker, EKS,
  Scheduler, Step Functions);
- ebb: functions/decide/app.py imported with its environment (settings, configuration parsed,
  adapters wired) plus the same clients;
- first decision: `decide_pool` on a snapshot of the shipped example (compute only, no I/O),
  the first call in the process and a later one.

Run: .venvs/runtime/bin/python bench/bench_cold_start.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = ("dynamodb", "sqs", "cloudwatch", "sagemaker", "eks", "scheduler", "stepfunctions")

_CLIENTS = f"""
import boto3
session = boto3.Session(region_name="us-east-1")
clients = [session.client(name) for name in {CLIENTS!r}]
"""

BARE = (
    """
import time
start = time.perf_counter()
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import SqsModel
logger, metrics, tracer = Logger(), Metrics(), Tracer()
"""
    + _CLIENTS
    + """
print(time.perf_counter() - start)
"""
)

EBB = (
    """
import time, importlib.util, sys
start = time.perf_counter()
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
"""
    + _CLIENTS
    + """
print(time.perf_counter() - start)
"""
)

FIRST_DECISION = """
import sys, time
from datetime import UTC, datetime
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from ebb.config import load_config_files
from ebb.core.replicas import ReplicaCounts, SqsQueueAttributes, CloudWatchResult
from ebb.config.node_planning import GroupCounts
from ebb.service.decision import PoolSnapshot, PoolState, ScalerSnapshot, decide_pool
config = load_config_files(sorted(Path(sys.argv[1]).glob("*.yaml")))
now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
snapshot = PoolSnapshot(
    node_pool="gpu",
    scalers={
        "batch/batch-worker": ScalerSnapshot(
            observations={
                "s0-aws-sqs-queue": SqsQueueAttributes(attributes={"ApproximateNumberOfMessages": "40"})
            },
            replicas=ReplicaCounts(spec=0, status=0, ready=0),
        ),
        "serving/llm-inference": ScalerSnapshot(
            observations={"requests-per-target": CloudWatchResult(datapoints=()),
                          "wake-on-503": CloudWatchResult(datapoints=())},
            replicas=ReplicaCounts(spec=0, status=0, ready=0),
        ),
    },
    groups={
        "gpu-g5-use1a": GroupCounts(current=0, target=0),
        "gpu-g6e-use1b": GroupCounts(current=0, target=0),
    },
)
start = time.perf_counter()
decide_pool(snapshot, PoolState(), config, now)
first = time.perf_counter() - start
start = time.perf_counter()
decide_pool(snapshot, PoolState(), config, now)
print(first, time.perf_counter() - start)
"""


def _environment(config_dir: Path) -> dict[str, str]:
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:ebb-provision"
    return {
        **os.environ,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "POWERTOOLS_SERVICE_NAME": "ebb",
        "POWERTOOLS_METRICS_NAMESPACE": "ebb",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "EBB_STACK_NAME": "ebb",
        "EBB_STATE_TABLE": "ebb-state",
        "EBB_HYPERPOD_CLUSTER": "ml-inference",
        "EBB_EKS_CLUSTER": "ml-inference-eks",
        "EBB_CONFIG_DIR": str(config_dir),
        "EBB_AUDIT_RETENTION_DAYS": "30",
        "EBB_DECISION_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/ebb-decisions.fifo",
        "EBB_REJECTED_EVENTS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/ebb-rejected",
        "EBB_PROVISION_STATE_MACHINE_ARN": arn,
        "EBB_SIGNALS_FUNCTION_ARN": "arn:aws:lambda:us-east-1:123456789012:function:ebb-signals",
        "EBB_SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/ebb-scheduler",
        "EBB_SCHEDULE_GROUP": "ebb-idle",
        "PYTHONPATH": str(ROOT / "layers" / "ebb"),
    }


def _run(code: str, *args: str, env: dict[str, str]) -> list[float]:
    command = [sys.executable, "-c", code, *args]
    if shutil.which("taskset"):
        command = ["taskset", "-c", "0", *command]
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    return [float(value) for value in output.split()]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per measurement (median)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        config_dir = Path(scratch) / "config"
        shutil.copytree(ROOT / "examples" / "gpu-inference", config_dir)
        env = _environment(config_dir)
        app = str(ROOT / "functions" / "decide" / "app.py")
        bare = statistics.median(_run(BARE, env=env)[0] for _ in range(args.runs))
        ebb = statistics.median(_run(EBB, app, env=env)[0] for _ in range(args.runs))
        decisions = [
            _run(FIRST_DECISION, str(config_dir), str(ROOT / "layers" / "ebb"), env=env)
            for _ in range(args.runs)
        ]
    first = statistics.median(d[0] for d in decisions)
    later = statistics.median(d[1] for d in decisions)
    print(f"Python {sys.version.split()[0]}, one core, median of {args.runs} fresh interpreters")
    print(f"bare handler init (Powertools + boto3 + {len(CLIENTS)} clients): {bare:6.3f} s")
    print(f"decide function init (same, plus ebb):              {ebb:6.3f} s")
    print(f"ebb's own init overhead:                            {ebb - bare:6.3f} s   (goal <= 0.300 s)")
    print(f"first pool decision, compute only:                  {first:6.3f} s   (goal <= 0.300 s)")
    print(f"a later pool decision:                              {later:6.3f} s")
    print(
        json.dumps(
            {"bare_s": bare, "ebb_s": ebb, "overhead_s": ebb - bare, "first_s": first, "later_s": later}
        )
    )


if __name__ == "__main__":
    main()
