"""`ebb explain` on a recorded history: the stack deployed in the local world, a few decisions
driven by its tick, a queue and an HPA, the CLI run against the stack's table (as against a
deployed stack: boto3 Query on `<stack>-StateTable`), its output asserted.

The HPA conflict is KEDA's own (kedacore/keda apis/keda/v1alpha1/scaledobject_webhook.go,
verifyHpas); shapes as in test_autoscaler_conflicts.py.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ebb.cli.explain import EXIT_INVALID, run_explain
from ebb.cli.exported_table import EXPLAIN_CONDITION, ExportedTable
from ebb.cli.main import build_parser
from ebb.local.cluster import HyperPodOnEks
from ebb.local.kubernetes import ClusterCertificates
from ebb.local.stack_deployment import STACK, deployed, run_past_next_tick, send_jobs
from ebb.service.decision_metrics import POOL_METRICS, metric_series

WORKER = "batch/batch-worker"
HPA = {
    "apiVersion": "autoscaling/v2",
    "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "batch-worker-cpu", "namespace": "batch"},
    "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "batch-worker"},
        "minReplicas": 1,
        "maxReplicas": 4,
    },
}

pytestmark = pytest.mark.integration


def _explain(cluster: HyperPodOnEks, region: str, *options: str) -> tuple[int, str]:
    args = build_parser().parse_args(
        ["explain", *options, "--table", f"{STACK}-StateTable", "--region", region]
    )
    out = io.StringIO()
    code = run_explain(args, out, clock=cluster.world.now)
    return code, out.getvalue()


def _explain_file(export: Path, *options: str) -> tuple[int, str]:
    out = io.StringIO()
    # The reader's clock is years later: only the file's own times may count.
    code = run_explain(
        build_parser().parse_args(["explain", *options, "--from", str(export)]),
        out,
        clock=lambda: datetime(2031, 1, 1, tzinfo=UTC),
    )
    return code, out.getvalue()


def _blocks(text: str) -> list[list[str]]:
    """The output's paragraphs (one per record), header first."""
    return [block.splitlines() for block in text.strip().split("\n\n")]


def test_explain_shows_what_was_applied_with_the_metric_against_its_target(
    tmp_path: Path, certificates: ClusterCertificates, capsys: pytest.CaptureFixture[str]
) -> None:
    with deployed(tmp_path / "config", certificates) as (cluster, config):
        region = config.binding.spec.region
        since = run_past_next_tick(cluster)
        send_jobs(cluster, 8)  # 8 messages, target AverageValue 2: 4 replicas
        capsys.readouterr()
        run_past_next_tick(cluster)

        # The decide function's EMF documents (printed to its log, as Powertools prints its own):
        # per pool and per cluster only, as no binding entry sets scalerMetrics.
        documents = [
            json.loads(line)
            for line in capsys.readouterr().out.splitlines()
            if '"NodePool"' in line and line.startswith('{"_aws"')
        ]
        assert documents
        cluster_name = config.binding.spec.hyper_pod_cluster.name
        assert metric_series(documents) == {
            ("ebb", name, dims)
            for name, _ in POOL_METRICS
            for dims in ((("Cluster", cluster_name),), (("Cluster", cluster_name), ("NodePool", "gpu")))
        }
        assert max(d["DesiredReplicas"] for d in documents) == 4

        code, text = _explain(cluster, region, WORKER, "--since", since.isoformat())
        assert code == 0
        assert all(len(line) <= 80 for line in text.splitlines())
        blocks = _blocks(text)
        decisions = [b for b in blocks[1:] if "  config " in b[0]]
        assert blocks[0] == [f"{WORKER}: {len(decisions)} decision(s) since {_short(since)}"]
        first = decisions[0]
        assert first[0].endswith("  pool gpu")
        assert first[1:] == [
            "  woken by: tick",
            "  replicas 0 -> 4, limited by rule activation",
            "  s0-aws-sqs-queue (aws-sqs-queue): 8 vs target AverageValue 2, active -> asks 4",
            "  step: KEDA activated 0 -> 1",
            "  step: HPA: metrics want 4",
            "  action: applied: scale Deployment batch/batch-worker: 0 -> 4",
        ]
        # The pool's decision at the same moment follows it: its node targets and what it did.
        pool = blocks[blocks.index(first) + 1]
        assert pool[0] == f"{first[0][:20]}  pool gpu: generation 1, node targets gpu-g5-use1a=1,"
        assert pool[1] == "    gpu-g6e-use1b=0"  # wrapped at 80 columns, indented
        assert "  done: started provisioning gpu-" in "\n".join(pool)
        # Later decisions (woken by the cluster's events as the node comes) change nothing.
        for later in decisions[1:]:
            assert later[-1] == "  action: none: no change"

        code, document = _explain(cluster, region, WORKER, "--since", since.isoformat(), "--json")
        parsed = json.loads(document)
        scaler_records = [r for r in parsed["records"] if r["subject"] == WORKER]
        assert len(scaler_records) == len(decisions)
        assert scaler_records[0]["metrics"] == [
            {
                "trigger": "s0-aws-sqs-queue",
                "kind": "aws-sqs-queue",
                "value": 8.0,
                "quantity": "8",
                "target": "AverageValue 2",
                "active": True,
                "proposal": 4,
                "fallback": False,
                "detail": "ApproximateNumberOfMessages=8 + ApproximateNumberOfMessagesNotVisible=0",
            }
        ]
        (version,) = {r["configVersion"] for r in scaler_records}
        assert (
            first[0]
            == f"{_short(datetime.fromisoformat(scaler_records[0]['at']))}  config {version[:12]}  pool gpu"
        )

        # --since selects by time: from now on there is nothing yet.
        code, text = _explain(cluster, region, WORKER, "--since", "0s")
        assert (code, text) == (0, f"{WORKER}: 0 decision(s) since {_short(cluster.world.now())}\n")

        # An export of the table (`aws dynamodb scan --output json`) explains the same history.
        dynamodb = cluster.world.clients.client("dynamodb")
        table = f"{STACK}-StateTable"
        items = dynamodb.scan(TableName=table)["Items"]
        export = tmp_path / "audit.json"
        export.write_text(json.dumps({"Items": items, "Count": len(items)}))
        live = _explain(cluster, region, WORKER, "--since", since.isoformat())
        assert _explain_file(export, WORKER, "--since", since.isoformat()) == live
        # Its Query answers as moto's does, for every partition and from every sort key.
        exported = ExportedTable.read(export)
        for pk in sorted({item["pk"]["S"] for item in items}):
            for sk in sorted({item["sk"]["S"] for item in items if item["pk"]["S"] == pk})[::3]:
                request = {
                    "TableName": table,
                    "KeyConditionExpression": EXPLAIN_CONDITION,
                    "ExpressionAttributeValues": {":pk": {"S": pk}, ":since": {"S": sk}},
                }
                assert exported.query(**request)["Items"] == dynamodb.query(**request)["Items"]
        # An age counts back from the file's newest record, not from the reader's clock.
        newest = exported.newest_audit_time()
        assert newest is not None
        code, text = _explain_file(export, WORKER, "--since", "1h")
        assert text.splitlines()[0].endswith(f"since {_short(newest - timedelta(hours=1))}")


def test_explain_says_why_nothing_was_done_in_shadow_mode_and_when_held(
    tmp_path: Path, certificates: ClusterCertificates
) -> None:
    with deployed(tmp_path / "config", certificates, shadow_mode=True) as (cluster, config):
        region = config.binding.spec.region
        since = run_past_next_tick(cluster)
        send_jobs(cluster, 8)
        held_from = run_past_next_tick(cluster)
        cluster.kubernetes.create(HPA)
        run_past_next_tick(cluster)

        code, text = _explain(cluster, region, WORKER, "--since", "10m")
        assert code == 0
        assert all(len(line) <= 80 for line in text.splitlines())
        decisions = [b for b in _blocks(text)[1:] if "  config " in b[0]]
        shadowed = [d for d in decisions if _at(d) <= held_from]
        held = [d for d in decisions if _at(d) > held_from]
        assert shadowed
        assert held
        # Shadow mode decides 0 -> 4 at each tick and never scales, so the next tick wants it again.
        wanting = [d for d in shadowed if d[2] == "  replicas 0 -> 4, limited by rule activation"]
        assert wanting
        for decision in wanting:
            assert decision[-2:] == [
                "  action: none: shadow mode (would have: scale Deployment batch/batch-worker: 0",
                "      -> 4)",
            ]
        for decision in held:
            assert decision[-2:] == [
                "  action: none: held by HorizontalPodAutoscaler batch/batch-worker-cpu (ebb does",
                "      not scale a target another autoscaler scales)",
            ]
        pools = [b for b in _blocks(text)[1:] if b[0][20:].startswith("  pool gpu:")]
        assert pools
        assert all("(shadow mode: nothing acted)" in " ".join(p) for p in pools)
        assert all(not any(line.startswith("  done: ") for line in p) for p in pools)
        assert since < held_from

        code, text = _explain(cluster, region, "batch-worker")
        assert (code, text.strip()) == (
            EXIT_INVALID,
            "ebb explain: NAMESPACE/SCALER: 'batch-worker' (allowed: e.g. batch/batch-worker)",
        )
        code, text = _explain(cluster, region, WORKER, "--since", "yesterday")
        assert code == EXIT_INVALID
        assert text.startswith("ebb explain: --since: 'yesterday' (allowed: an age such as 90s")


def _short(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _at(block: list[str]) -> datetime:
    """The time a block's first line starts with (to the second)."""
    return datetime.strptime(block[0][:20], "%Y-%m-%d %H:%M:%SZ").replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "line 1 column 2: not JSON (Expecting property name enclosed in double quotes)"),
        ('{"Table": {}}', "has no list 'Items'"),
        ('{"Items": [{"pk": {"S": "AUDIT#a/b"}}]}', "Items[0] has no string attribute 'sk'"),
    ],
)
def test_a_file_that_is_not_a_table_export_is_refused_with_what_was_expected(
    tmp_path: Path, content: str, message: str
) -> None:
    export = tmp_path / "audit.json"
    export.write_text(content)
    code, text = _explain_file(export, WORKER)
    assert code == EXIT_INVALID
    assert text.startswith(f"ebb explain: {export}: {message}")
    assert "expected the output of `aws dynamodb scan --table-name TABLE --output json`" in text
    missing = tmp_path / "missing.json"
    assert _explain_file(missing, WORKER) == (
        EXIT_INVALID,
        f"ebb explain: {missing}: cannot be read: No such file or directory\n",
    )
