"""Cold start of each ebb function against a bare handler, in the Lambda runtime's Python.

Each measurement is a fresh interpreter (`python -c`), pinned to one core (`taskset -c 0`, as a
Lambda with 1,769 MB has one vCPU), median of several runs:

- bare: a handler module that imports Powertools (Logger, Metrics, Tracer, Parser) and boto3 and
  creates the clients ebb's first decision creates (DynamoDB, SQS, CloudWatch, SageMaker, EKS,
  Scheduler, Step Functions);
- signals, decide, provision_tasks: that function's `functions/<name>/app.py` imported with its
  environment (settings, configuration parsed, adapters wired) plus the same clients;
- first decision, in the same interpreter right after the decide function's init (so whatever
  init leaves to first use is paid here): a decision request parsed as the handler parses it,
  a Kubernetes pod and node read through the adapter's models, and `decide_pool` on a snapshot of
  the shipped example with the configuration the function loaded (compute only, no I/O); then a
  later decision on the same inputs.

Bytecode as in Lambda, whatever `__pycache__` tests or earlier runs left: `PYTHONPYCACHEPREFIX`
points at a scratch tree and `PYTHONDONTWRITEBYTECODE` keeps it as prepared. It holds the
standard library's bytecode (the runtime ships it compiled) and, by default, what EbbLayer ships
(`layers/ebb/Makefile`): unchecked-hash bytecode of ebb's modules and of every module of the
layer's pinned distributions, so the bare handler (whose Powertools and boto3 are the same
layer's) and ebb's functions alike load compiled modules. `--from-source` leaves the layer's
modules out, as a layer built by SAM's `python3.13` build method is (it unpacks wheels without
compiling them, and `/opt` is read-only, so every cold start compiles them).

The configuration is the shipped example as the config layer ships it (`layers/config/Makefile`):
its YAML files and their documents bundled as JSON (`ebb validate --bundle`), which the functions
read instead of parsing the YAML; `--unbundled` leaves the bundle out (the YAML is parsed at init,
as in the local world, which points the functions at a directory of YAML files).

ebb's own overhead is, per round of fresh interpreters (bare, then each function, back to
back), the function's time minus the bare handler's; the figure is the median over the rounds,
so that a burst of load on a shared machine is taken out with its round. The load average
before and after is printed.

Wall time is what a Lambda init is billed and waits for; CPU time (`time.process_time`) is printed
beside it because on a shared machine the wall time also counts other processes' turns.

Run: .venvs/runtime/bin/python bench/bench_cold_start.py [--runs 7] [--from-source] [--unbundled]
"""

from __future__ import annotations

import argparse
import compileall
import importlib.metadata
import json
import os
import py_compile
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYER = ROOT / "layers" / "ebb"
CLIENTS = ("dynamodb", "sqs", "cloudwatch", "sagemaker", "eks", "scheduler", "stepfunctions")
FUNCTIONS = ("signals", "decide", "provision_tasks")

_START = """
import sys, time
start, start_cpu = time.perf_counter(), time.process_time()
"""

_CLIENTS = f"""
import boto3
session = boto3.Session(region_name="us-east-1")
clients = [session.client(name) for name in {CLIENTS!r}]
init, init_cpu = time.perf_counter() - start, time.process_time() - start_cpu
"""

BARE = (
    _START
    + """
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import SqsModel
logger, metrics, tracer = Logger(), Metrics(), Tracer()
"""
    + _CLIENTS
    + """
print(init, init_cpu)
"""
)

FUNCTION = (
    _START
    + """
import importlib.util
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
"""
    + _CLIENTS
    + """
print(init, init_cpu)
"""
)

# Runs after the decide function's init in the same interpreter. The imports here are of modules
# the function already imported (asserted), so their cost is in the init figure, not hidden.
FIRST_DECISION = """
import json
from datetime import UTC, datetime
already = set(sys.modules)
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import SqsModel
from ebb.adapters.kubernetes.objects import Node, Pod
from ebb.config.node_planning import GroupCounts
from ebb.core.replicas import CloudWatchResult, ReplicaCounts, SqsQueueAttributes
from ebb.service.decision import PoolSnapshot, PoolState, ScalerSnapshot, decide_pool
from ebb.service.pool_decisions import queued_requests
new = sorted(name for name in set(sys.modules) - already if name.startswith("ebb"))
assert not new, f"the decide function's init did not import {new}"
config = module.DECISIONS.context.config
now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
body = json.dumps({"nodePool": "gpu", "eventId": "tick-1", "reason": "tick"})
event = {"Records": [{
    "messageId": "m-1", "receiptHandle": "r-1", "body": body, "md5OfBody": "0" * 32,
    "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1764763200000",
                   "SenderId": "AIDAEXAMPLE", "ApproximateFirstReceiveTimestamp": "1764763200000",
                   "MessageGroupId": "gpu", "MessageDeduplicationId": "tick-1-gpu",
                   "SequenceNumber": "1"},
    "messageAttributes": {}, "eventSource": "aws:sqs", "awsRegion": "us-east-1",
    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ebb-decisions.fifo",
}]}
pod = {
    "metadata": {"name": "llm-inference-0", "namespace": "serving", "uid": "u-1",
                 "labels": {"app": "llm-inference"}},
    "spec": {"containers": [{"name": "server", "image": "llm:1",
                             "resources": {"requests": {"cpu": "4", "memory": "16Gi",
                                                        "nvidia.com/gpu": "1"}}}],
             "nodeSelector": {"karpenter.sh/nodepool": "gpu"}},
    "status": {"phase": "Pending",
               "conditions": [{"type": "PodScheduled", "status": "False",
                               "reason": "Unschedulable"}]},
}
node = {
    "metadata": {"name": "hyperpod-i-0123", "uid": "u-2",
                 "labels": {"sagemaker.amazonaws.com/instance-group-name": "gpu-g5-use1a"}},
    "spec": {},
    "status": {"allocatable": {"cpu": "47", "memory": "180Gi", "nvidia.com/gpu": "4", "pods": "110"},
               "conditions": [{"type": "Ready", "status": "True"}]},
}

def decision():
    requests = queued_requests(parse(event=event, model=SqsModel))
    Pod.model_validate(pod)
    Node.model_validate(node)
    snapshot = PoolSnapshot(
        node_pool=json.loads(requests[0].body)["nodePool"],
        scalers={
            "batch/batch-worker": ScalerSnapshot(
                observations={
                    "s0-aws-sqs-queue": SqsQueueAttributes(
                        attributes={"ApproximateNumberOfMessages": "40"}
                    )
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
    return decide_pool(snapshot, PoolState(), config, now)

start, start_cpu = time.perf_counter(), time.process_time()
decision()
first, first_cpu = time.perf_counter() - start, time.process_time() - start_cpu
start, start_cpu = time.perf_counter(), time.process_time()
decision()
print(first, first_cpu, time.perf_counter() - start, time.process_time() - start_cpu)
"""


def _environment(config_dir: Path, pycache: Path) -> dict[str, str]:
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
        "PYTHONPATH": str(LAYER),
        "PYTHONPYCACHEPREFIX": str(pycache),
        "PYTHONDONTWRITEBYTECODE": "1",
    }


_BUNDLE = """
import sys
from pathlib import Path
from ebb.config.bundle import BUNDLE_NAME, bundle_files
directory = Path(sys.argv[1])
(directory / BUNDLE_NAME).write_text(bundle_files(sorted(directory.glob("*.yaml"))), encoding="utf-8")
"""


def _run(code: str, *args: str, env: dict[str, str]) -> list[float]:
    command = [sys.executable, "-c", code, *args]
    if shutil.which("taskset"):
        command = ["taskset", "-c", "0", *command]
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    return [float(value) for value in output.split()]


def _standard_library_bytecode(pycache: Path, config_dir: Path, env: dict[str, str]) -> None:
    """Fill `pycache` with the bytecode of the standard-library modules the functions import.

    One run of every function with writing allowed compiles what they import into the scratch
    tree; everything outside the standard library's directory is then removed again.
    """
    writing = {key: value for key, value in env.items() if key != "PYTHONDONTWRITEBYTECODE"}
    _run(BARE, env=writing)
    for name in FUNCTIONS:
        _run(FUNCTION, str(ROOT / "functions" / name / "app.py"), env=writing)
    stdlib = Path(sysconfig.get_paths()["stdlib"]).resolve()
    kept = pycache / stdlib.relative_to(stdlib.anchor)
    for path in sorted(pycache.rglob("*.pyc")):
        inside = kept in path.parents and (kept / "site-packages") not in path.parents
        if not inside:
            path.unlink()
    assert any(kept.rglob("*.pyc")), f"no standard-library bytecode under {kept}"


def _layer_bytecode(pycache: Path) -> int:
    """Compile what EbbLayer ships compiled into `pycache`, as its makefile build does.

    ebb's runtime modules and every module of the layer's pinned distributions (as installed in
    this environment, at the same pins), unchecked-hash. Returns how many modules.
    """
    pins = [
        line.split("==")[0] for line in (LAYER / "requirements.txt").read_text().splitlines() if "==" in line
    ]
    sources = sorted((LAYER / "ebb").rglob("*.py"))
    for name in pins:
        distribution = importlib.metadata.distribution(name.strip())
        sources += [
            Path(str(distribution.locate_file(f))) for f in distribution.files or () if f.suffix == ".py"
        ]
    # compileall and py_compile write under sys.pycache_prefix: the scratch tree, for this call only.
    sys.pycache_prefix = str(pycache)
    try:
        for source in sources:
            compileall.compile_file(
                source, quiet=2, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH
            )
    finally:
        sys.pycache_prefix = None
    return len(sources)


def _median(samples: list[list[float]], index: int) -> float:
    return statistics.median(sample[index] for sample in samples)


def _paired(samples: list[list[float]], bare: list[list[float]], index: int) -> tuple[float, float]:
    """Median and smallest of the per-round differences to the bare handler."""
    differences = [sample[index] - reference[index] for sample, reference in zip(samples, bare, strict=True)]
    return statistics.median(differences), min(differences)


def _row(label: str, wall: float, cpu: float) -> None:
    print(f"{label + ':':<52}{wall:6.3f} s  {cpu:6.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per measurement (median)")
    parser.add_argument(
        "--unbundled",
        action="store_true",
        help="no JSON bundle of the configuration (the YAML is parsed at init)",
    )
    parser.add_argument(
        "--from-source",
        action="store_true",
        help="no bytecode for the layer's modules (a layer built by the python3.13 build method)",
    )
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as scratch:
        config_dir = Path(scratch) / "config"
        shutil.copytree(ROOT / "examples" / "gpu-inference", config_dir)
        pycache = Path(scratch) / "pycache"
        env = _environment(config_dir, pycache)
        if not args.unbundled:
            # As the config layer's build does (`ebb validate --bundle`), with the layer's ebb.
            subprocess.run([sys.executable, "-c", _BUNDLE, str(config_dir)], check=True, env=env)
        _standard_library_bytecode(pycache, config_dir, env)
        compiled = "the layer's modules compiled from source"
        if not args.from_source:
            compiled = f"the layer's bytecode ({_layer_bytecode(pycache)} modules, unchecked-hash)"
        samples: dict[str, list[list[float]]] = {"bare": [], **{name: [] for name in FUNCTIONS}}
        decisions: list[list[float]] = []
        # Interleaved, so that a burst of load on the shared machine hits every figure alike.
        for _ in range(args.runs):
            samples["bare"].append(_run(BARE, env=env))
            for name in FUNCTIONS:
                app = str(ROOT / "functions" / name / "app.py")
                if name == "decide":
                    sample = _run(FUNCTION + FIRST_DECISION, app, env=env)
                    samples[name].append(sample[:2])
                    decisions.append(sample[2:])
                else:
                    samples[name].append(_run(FUNCTION, app, env=env))
    load_after = os.getloadavg()
    bare, bare_cpu = _median(samples["bare"], 0), _median(samples["bare"], 1)
    figures: dict[str, float] = {"bare_s": bare, "bare_cpu_s": bare_cpu}
    bundled = (
        "the YAML configuration parsed at init" if args.unbundled else "the configuration bundled as JSON"
    )
    print(
        f"Python {sys.version.split()[0]}, one core, median of {args.runs} fresh interpreters, {compiled}, "
        f"{bundled}"
    )
    print(
        f"load average (1, 5, 15 min) before {', '.join(f'{x:.2f}' for x in load_before)}, "
        f"after {', '.join(f'{x:.2f}' for x in load_after)}, on {os.cpu_count()} cores"
    )
    print(f"{'':<52}{'wall':>8}{'cpu':>10}")
    _row(f"bare handler init (Powertools + boto3 + {len(CLIENTS)} clients)", bare, bare_cpu)
    for name in FUNCTIONS:
        wall, cpu = _median(samples[name], 0), _median(samples[name], 1)
        overhead, least = _paired(samples[name], samples["bare"], 0)
        overhead_cpu, least_cpu = _paired(samples[name], samples["bare"], 1)
        figures |= {f"{name}_s": wall, f"{name}_cpu_s": cpu}
        figures |= {f"{name}_overhead_s": overhead, f"{name}_overhead_cpu_s": overhead_cpu}
        figures |= {f"{name}_overhead_min_s": least, f"{name}_overhead_min_cpu_s": least_cpu}
        _row(f"{name} function init (same, plus ebb)", wall, cpu)
        _row("  ebb's own init overhead (goal <= 0.300 s)", overhead, overhead_cpu)
        _row("  (smallest of the rounds)", least, least_cpu)
    first, first_cpu = _median(decisions, 0), _median(decisions, 1)
    later, later_cpu = _median(decisions, 2), _median(decisions, 3)
    figures |= {"first_s": first, "first_cpu_s": first_cpu, "later_s": later, "later_cpu_s": later_cpu}
    figures |= {"load_before": load_before[0], "load_after": load_after[0]}
    _row("first pool decision after init (goal <= 0.300 s)", first, first_cpu)
    _row("a later pool decision", later, later_cpu)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
