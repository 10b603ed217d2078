"""What each function's cold start imports: only what that function uses.

Every module a handler imports is loaded and run at each cold start (from the bytecode the
layer ships, `layers/ebb/Makefile`), and its pydantic models built, so a module a function never
uses is cold-start time for nothing. Each case is a fresh interpreter importing
`functions/<name>/app.py` with the environment `template.yaml` gives it, as Lambda's init does;
`bench/bench_cold_start.py` measures the time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ebb.config.bundle import BUNDLE_NAME, bundle_files

ROOT = Path(__file__).resolve().parents[3]

_IMPORTED = """
import __future__, importlib.util, json, sys
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
from pydantic import BaseModel
def subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from subclasses(sub)
defining = {cls.__module__ for cls in subclasses(BaseModel) if cls.__module__.startswith("ebb.")}
stringly = sorted(
    name for name in defining if vars(sys.modules[name]).get("annotations") is __future__.annotations
)
print(json.dumps(stringly))
print(json.dumps(sorted(sys.modules)))
"""

# Used by no function at run time: the CLI's summary and the tools.
NO_FUNCTION_NEEDS = ("ebb.config.summary", "ebb.local", "ebb.cli", "ebb.sim", "moto")
PARSER = "aws_lambda_powertools.utilities.parser"


def _imported(function: str, config_dir: Path) -> set[str]:
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
        "EBB_CONFIG_DIR": str(config_dir),
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
        [sys.executable, "-c", _IMPORTED, str(app)],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    *_, stringly, modules = result.stdout.splitlines()
    return set(json.loads(modules)), set(json.loads(stringly))


@pytest.fixture(scope="module")
def imports() -> dict[str, tuple[set[str], set[str]]]:
    config_dir = ROOT / "examples" / "gpu-inference"
    return {name: _imported(name, config_dir) for name in ("signals", "decide", "provision_tasks")}


@pytest.fixture(scope="module")
def imported(imports: dict[str, tuple[set[str], set[str]]]) -> dict[str, set[str]]:
    return {name: modules for name, (modules, _) in imports.items()}


def _under(modules: set[str], package: str) -> list[str]:
    return sorted(m for m in modules if m == package or m.startswith(package + "."))


@pytest.mark.parametrize("function", ["signals", "decide", "provision_tasks"])
def test_no_function_imports_the_cli_summary_or_the_tools(
    imported: dict[str, set[str]], function: str
) -> None:
    assert [m for package in NO_FUNCTION_NEEDS for m in _under(imported[function], package)] == []


@pytest.mark.parametrize("function", ["signals", "provision_tasks"])
def test_only_the_decide_function_imports_the_kubernetes_adapter_and_the_event_parser(
    imported: dict[str, set[str]], function: str
) -> None:
    assert _under(imported[function], "ebb.adapters.kubernetes") == []
    assert _under(imported[function], PARSER) == []


def test_the_decide_function_imports_what_its_first_decision_uses(imported: dict[str, set[str]]) -> None:
    # So that the cold-start bench, which times the first decision after init, counts these in
    # the init: nothing the decision path needs is left to be imported on its first event.
    needed = {"ebb.adapters.kubernetes.objects", "ebb.config.loader", "ebb.service.decision", PARSER}
    assert needed <= imported["decide"]


@pytest.fixture(scope="module")
def imported_from_the_bundle(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """Each function's imports with the configuration as the config layer ships it: YAML and its bundle."""
    config_dir = tmp_path_factory.mktemp("bundled") / "ebb-config"
    shutil.copytree(ROOT / "examples" / "gpu-inference", config_dir)
    files = sorted(config_dir.glob("*.yaml"))
    (config_dir / BUNDLE_NAME).write_text(bundle_files(files), encoding="utf-8")
    return {name: _imported(name, config_dir)[0] for name in ("signals", "decide", "provision_tasks")}


@pytest.mark.parametrize("function", ["signals", "decide", "provision_tasks"])
def test_no_function_imports_pyyaml_when_the_configuration_is_bundled(
    imported_from_the_bundle: dict[str, set[str]], function: str
) -> None:
    # The bundle is the YAML's documents as JSON (ebb.config.bundle): read with the standard
    # library, so PyYAML's import and the YAML parse leave the cold start.
    assert _under(imported_from_the_bundle[function], "yaml") == []
    assert _under(imported_from_the_bundle[function], "ebb.config.yaml_documents") == []
    assert "ebb.config.bundle" in imported_from_the_bundle[function]


def test_the_decide_function_does_not_import_the_signal_event_models(imported: dict[str, set[str]]) -> None:
    # It reads pool messages, not signals: the event models (ebb.service.signals) are the
    # signals function's; the retire reason it checks lives beside the message (decision_queue).
    assert _under(imported["decide"], "ebb.service.signals") == []


def test_the_provisioning_tasks_import_neither_the_planners_nor_the_replica_core(
    imported: dict[str, set[str]],
) -> None:
    # They read the configuration (each group's type and zone, for the offerings a shortage
    # marks) and carry a decision out; they never plan nodes or decide replicas.
    assert _under(imported["provision_tasks"], "ebb.core.nodes.planner") == []
    assert _under(imported["provision_tasks"], "ebb.core.replicas.decision") == []


def test_the_signals_function_does_not_import_the_node_planner(imported: dict[str, set[str]]) -> None:
    # It reads the configuration (alarms, routes) but plans nothing: that is the decide function's.
    assert _under(imported["signals"], "ebb.core.nodes.planner") == []
    assert _under(imported["signals"], "ebb.service.decision") == []


# Modules of pydantic models that keep `from __future__ import annotations`: those of the
# provisioning workflow and the decision service, edited on other branches when the others were
# converted (the same one-line change would take a few more ms off the decide and provisioning
# tasks' init), and the Kubernetes endpoint's (one small model; its signatures name boto3 types
# imported for the type checker only).
STRING_ANNOTATED = {
    "signals": {"ebb.service.signal_intake"},
    "decide": {"ebb.core.provisioning.fence", "ebb.core.provisioning.policy", "ebb.service.pool_decisions",
               "ebb.service.provisioning_request", "ebb.adapters.kubernetes.endpoint"},
    "provision_tasks": {"ebb.core.provisioning.fence", "ebb.core.provisioning.policy",
                        "ebb.service.provisioning", "ebb.service.provisioning_request"},
}  # fmt: skip


@pytest.mark.parametrize("function", ["signals", "decide", "provision_tasks"])
def test_the_models_a_function_builds_at_init_have_evaluated_annotations(
    imports: dict[str, tuple[set[str], set[str]]], function: str
) -> None:
    # Under `from __future__ import annotations` every field's annotation is a string, which
    # pydantic evaluates (typing's ForwardRef compiles each one) when it builds the class: about
    # 40% of building ebb.adapters.kubernetes.objects' 48 models, ~0.07 s of the decide function's
    # cold start in all. Evaluated annotations cost Python nothing extra at class creation.
    _, stringly = imports[function]
    assert stringly == STRING_ANNOTATED[function]
