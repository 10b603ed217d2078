"""`ebb backfill` against the deployed stack in the local world: boto3 as the command makes it
(the local world's moto answers the Step Functions API), the state machine from
`--state-machine-arn`.

Idempotency by name follows Step Functions' own rules (API Reference, "StartExecution", `name`:
a name is unique per account and region for 90 days; a closed execution's name is refused
whatever the input): the command looks the name up first, reports a running or finished
execution of that name, and starts nothing then. A backfill's execution provisions its floor's
nodes and ends once they are usable (see test_backfill_workflow.py).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from ebb.cli.main import build_parser
from ebb.local.cluster import HyperPodOnEks
from ebb.local.kubernetes import ClusterCertificates
from ebb.local.provisioning_runs import G5, G6E, running
from ebb.local.stack_deployment import BATCH, BOOT_SECONDS, STACK, deployed, kubernetes, run_past_next_tick

pytestmark = pytest.mark.integration

WORKER = "batch/batch-worker"


def _executions(cluster: HyperPodOnEks) -> dict[str, str]:
    sfn = cluster.world.clients.client("stepfunctions")
    machine = cluster.world.state_machine_arn("ProvisionStateMachine")
    listed = sfn.list_executions(stateMachineArn=machine)["executions"]
    return {e["name"]: e["status"] for e in listed}


def _run(cluster: HyperPodOnEks, *options: str) -> tuple[int, str]:
    """`ebb backfill OPTIONS` as the `ebb` command parses it; its output (the functions' logs,
    which the local world's handlers print to stdout, are not in it)."""
    machine = cluster.world.state_machine_arn("ProvisionStateMachine")
    args = build_parser().parse_args(
        ["backfill", *options, "--state-machine-arn", machine, "--region", "us-east-1"]
    )
    output = io.StringIO()
    code = args.run(args, Console(file=output, width=500, highlight=False))
    return code, " ".join(output.getvalue().split())


def _replicas(cluster: HyperPodOnEks, config: Any) -> int:
    client = kubernetes(cluster, config)
    try:
        return client.read_scale(BATCH).spec.replicas
    finally:
        client.close()


def test_ebb_backfill_validates_starts_once_by_name_and_cancels(
    tmp_path: Path, certificates: ClusterCertificates
) -> None:
    with deployed(tmp_path / "config", certificates) as (cluster, config):
        run_past_next_tick(cluster)
        until = cluster.world.now().replace(microsecond=0).isoformat().replace("+00:00", "Z")
        until = until[:11] + f"{int(until[11:13]) + 2:02d}" + until[13:]  # two hours on

        # Refused locally, with the field, its option and what is allowed; nothing is started.
        code, out = _run(cluster, "--nodepool", "gpu", "--nodes", "-1", "--until", until)
        assert code == 2
        assert out == (
            "invalid backfill request: backfill.nodes (--nodes): Input should be greater than or equal to 0"
        )
        assert not any(name.startswith("backfill-") for name in _executions(cluster))

        options = ("--nodepool", "gpu", "--nodes", "2", "--scaler", WORKER, "--replicas", "3")
        options += ("--until", until, "--name", "nightly")
        code, out = _run(cluster, *options)
        assert code == 0
        arn = f"arn:aws:states:us-east-1:123456789012:execution:{STACK}-provision:backfill-gpu-nightly"
        assert out == f"started backfill-gpu-nightly: {arn}"

        # Again while it runs: reported, not started a second time.
        code, out = _run(cluster, *options)
        assert code == 0
        assert out.startswith("backfill-gpu-nightly is running already (started ")
        assert out.endswith("): not started again")

        # It ends once the floor's two nodes it added are usable (booted, joined, Ready).
        cluster.world.run_for(BOOT_SECONDS + 120)
        assert _executions(cluster)["backfill-gpu-nightly"] == "SUCCEEDED"
        assert _replicas(cluster, config) == 3
        assert (running(cluster, G5), running(cluster, G6E)) == (2, 0)

        # Again once it has finished: reported with its status, not restarted.
        code, out = _run(cluster, *options)
        assert code == 0
        assert "backfill-gpu-nightly ran already and ended SUCCEEDED at " in out
        assert out.endswith("not restarted (give another --name to start a new backfill)")
        assert [n for n in _executions(cluster) if n.startswith("backfill-")] == ["backfill-gpu-nightly"]

        code, out = _run(cluster, "--cancel", "--nodepool", "gpu", "--name", "now")
        assert (code, out.split(":")[0]) == (0, "started cancel-gpu-now")
        cluster.world.run_for(20)
        assert _executions(cluster)["cancel-gpu-now"] == "SUCCEEDED"
        assert _replicas(cluster, config) == 0
