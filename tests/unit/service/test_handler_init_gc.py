"""A function's init runs no garbage collection and leaves what it built frozen, collection on.

Init builds about 170,000 long-lived objects (Powertools, boto3, ebb's models), and every 700 net
allocations CPython's collector scans the young ones again: 50-60 collections per cold start
before. The handlers pause collection for their imports and then call `gc.freeze()`, which the
CPython documentation ("gc — Garbage Collector interface", https://docs.python.org/3/library/gc.html)
describes as moving every tracked object "to a permanent generation and ignore all the future
collections ... to speed up collection" (added in 3.7 by bpo-31558, python/cpython PR #3705, from
Instagram's "Copy-on-write friendly Python garbage collection", which disables the collector in
the process that imports and freezes before serving). Each case is a fresh interpreter
running `functions/<name>/app.py` as Lambda's init does, with a `gc.callbacks` hook counting
the collections from its first line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

# The module's code is compiled first (Lambda compiles a handler shipped without bytecode before
# running it; collections during that compile happen before the handler's first line can act).
_INIT = """
import gc, json, sys, types
path = sys.argv[1]
with open(path, encoding="utf-8") as source:
    code = compile(source.read(), path, "exec")
module = types.ModuleType("app")
module.__file__ = path
sys.modules["app"] = module
collections = []
# Before the freeze, that is: the handler's own young collection after it is not init's work.
gc.callbacks.append(lambda phase, _: collections.append(gc.get_freeze_count()) if phase == "start" else None)
exec(code, module.__dict__)
during_init = sum(1 for frozen in collections if frozen == 0)
print(json.dumps({"collections": during_init, "frozen": gc.get_freeze_count(), "enabled": gc.isenabled()}))
"""


def _init(function: str) -> dict[str, int | bool]:
    arn = "arn:aws:{}:us-east-1:123456789012:{}"
    env = {
        **os.environ,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "POWERTOOLS_SERVICE_NAME": "ebb",
        "POWERTOOLS_METRICS_NAMESPACE": "ebb",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "EBB_STACK_NAME": "ebb",
        "EBB_STATE_TABLE": "ebb-state",
        "EBB_HYPERPOD_CLUSTER": "ml-inference",
        "EBB_EKS_CLUSTER": "ml-inference-eks",
        "EBB_CONFIG_DIR": str(ROOT / "examples" / "gpu-inference"),
        "EBB_AUDIT_RETENTION_DAYS": "30",
        "EBB_DECISION_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/ebb-decisions.fifo",
        "EBB_REJECTED_EVENTS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/ebb-rejected",
        "EBB_POLL_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/ebb-polls",
        "EBB_PROVISION_STATE_MACHINE_ARN": arn.format("states", "stateMachine:ebb-provision"),
        "EBB_SIGNALS_FUNCTION_ARN": arn.format("lambda", "function:ebb-signals"),
        "EBB_SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/ebb-scheduler",
        "EBB_SCHEDULE_GROUP": "ebb-idle",
        "PYTHONPATH": str(ROOT / "layers" / "ebb"),
    }
    app = ROOT / "functions" / function / "app.py"
    result = subprocess.run(
        [sys.executable, "-c", _INIT, str(app)],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    figures: dict[str, int | bool] = json.loads(result.stdout.splitlines()[-1])
    return figures


@pytest.mark.parametrize("function", ["signals", "decide", "provision_tasks", "scale_in", "backfill"])
def test_init_runs_no_collection_and_freezes_what_it_built(function: str) -> None:
    figures = _init(function)
    assert figures["collections"] == 0
    # Frozen: Powertools, boto3 and the configuration's models at least (170,000-odd for decide).
    assert figures["frozen"] > 50_000
    assert figures["enabled"] is True
