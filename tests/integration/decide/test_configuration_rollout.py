"""A configuration change rolled out to the deployed stack (template.yaml in the local world): the
functions are deployed again with the new configuration (new containers, as a new configuration
layer version makes), and the first tick under it reconciles ebb's alarms, the decisions record
the new version, an execution started under the old version stops acting, and a retired scaler
leaves its target as it is.

Sources: a ScaledObject deleted leaves its target at its current replicas (kedacore/keda
controllers/keda/scaledobject_finalizer.go at 121e3b4, finalizeScaledObject: it stops the scale
loop and scales the target back only when `advanced.restoreToOriginalReplicaCount` is set, which
KEDA docs, "ScaledObject specification", give as optional with default false);
CloudWatch PutMetricAlarm updates an alarm of the same name in place, DeleteAlarms removes
alarms (CloudWatch API Reference).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from ebb.adapters.state_table import DynamoStateTable
from ebb.config import load_config_files
from ebb.local.cluster import HyperPodOnEks
from ebb.local.stack_deployment import (
    STACK,
    audit,
    run_past_next_tick,
    send_jobs,
)
from ebb.service.configuration import load_bundled_config
from ebb.service.provisioning import POLL_SECONDS
from ebb.service.signals import alarm_name

from .conftest import ExampleStack, edit_binding

pytestmark = pytest.mark.integration

WORKER = "batch/batch-worker"
LLM = "serving/llm-inference"


def _without_the_worker(directory: Path) -> None:
    """The configuration changed: the batch worker removed, the LLM's wake-up trigger changed."""
    (directory / "batch-worker.yaml").unlink()

    def without(spec: dict[str, Any]) -> None:
        spec["scalers"] = [s for s in spec["scalers"] if s["scaledObject"]["name"] != "batch-worker"]

    edit_binding(directory, without)
    llm_path = directory / "llm-inference.yaml"
    text = llm_path.read_text(encoding="utf-8")
    assert "activationTargetMetricValue: '0'" in text
    llm_path.write_text(text.replace("activationTargetMetricValue: '0'", "activationTargetMetricValue: '5'"))
    load_config_files(sorted(directory.glob("*.yaml")))  # what `ebb validate` checks at sam build


def _alarms(cluster: HyperPodOnEks) -> dict[str, float]:
    cloudwatch = cluster.world.clients.client("cloudwatch")
    found = cloudwatch.describe_alarms(AlarmNamePrefix=f"{STACK}.")["MetricAlarms"]
    return {alarm["AlarmName"]: alarm["Threshold"] for alarm in found}


def _config_sequence(cluster: HyperPodOnEks) -> int:
    item = cluster.world.clients.client("dynamodb").get_item(
        TableName=f"{STACK}-StateTable", Key={"pk": {"S": "TABLE"}, "sk": {"S": "CONFIG"}}
    )["Item"]
    return int(item["sequence"]["N"])


def test_a_configuration_change_reconciles_alarms_retires_a_scaler_and_fences_old_executions(
    example: ExampleStack,
) -> None:
    directory = example.directory
    with example.deployed() as (cluster, config):
        world = cluster.world
        old_version = load_bundled_config(directory).version
        since = run_past_next_tick(cluster)
        send_jobs(cluster, 8)
        run_past_next_tick(cluster)  # four workers; generation 1 adds a node under version 1
        assert example.worker_replicas(cluster, config) == 4
        sqs = world.clients.client("sqs")
        sqs.purge_queue(QueueUrl=sqs.get_queue_url(QueueName="batch-jobs")["QueueUrl"])
        run_past_next_tick(cluster)  # inactive: its cooldown runs, its idle timer is armed
        scheduler = world.clients.client("scheduler")
        assert len(scheduler.list_schedules(GroupName=f"{STACK}-idle")["Schedules"]) == 1
        worker_alarm = alarm_name(STACK, WORKER, "s0-aws-sqs-queue")
        wake_alarm = alarm_name(STACK, LLM, "wake-on-503")
        before = _alarms(cluster)
        assert worker_alarm in before
        assert before[wake_alarm] == 0.0
        assert _config_sequence(cluster) == 1

        _without_the_worker(directory)
        new_version = load_bundled_config(directory).version
        world.lambda_runtime.redeploy()
        rolled_out = world.now()
        run_past_next_tick(cluster)

        # Alarms: the retired scaler's deleted, the changed trigger's updated, the others kept.
        after = _alarms(cluster)
        assert worker_alarm not in after
        assert after[wake_alarm] == 5.0
        assert set(after) == set(before) - {worker_alarm}
        assert _config_sequence(cluster) == 2
        # A container of the previous deployment asking for its version gets the old number: an
        # older configuration never becomes the newest again (its decisions then do not act).
        table = DynamoStateTable(
            f"{STACK}-StateTable",
            audit_retention=timedelta(days=1),
            client_factory=lambda: world.clients.client("dynamodb"),
        )
        assert table.config_sequence(old_version) == 1
        assert table.config_sequence(new_version) == 2
        assert _config_sequence(cluster) == 2
        # The decisions say which version they used, and record it on the pool.
        pool_item = world.clients.client("dynamodb").get_item(
            TableName=f"{STACK}-StateTable", Key={"pk": {"S": "POOL#gpu"}, "sk": {"S": "STATE"}}
        )["Item"]
        assert pool_item["config_sequence"] == {"N": "2"}
        decisions = example.pool_decisions(cluster, rolled_out)
        assert decisions
        assert {d["configVersion"] for d in decisions} == {new_version}
        earlier = [r for r in example.pool_decisions(cluster, since) if r["at"] < rolled_out.isoformat()]
        assert {d["configVersion"] for d in earlier} == {old_version}
        # The retired scaler: its idle timer gone, its target left at its replicas, and reported.
        assert scheduler.list_schedules(GroupName=f"{STACK}-idle")["Schedules"] == []
        assert example.worker_replicas(cluster, config) == 4
        (retired,) = [r for r in audit(cluster, WORKER, rolled_out) if r.get("event") == "scaler-retired"]
        assert (retired["replicasLeft"], retired["configVersion"]) == (4, new_version)
        assert [d["retired"] for d in decisions] == [[WORKER]]
        # Its state is dropped: later decisions know nothing of it.
        later = world.now()
        run_past_next_tick(cluster)
        assert all(d["retired"] == [] for d in example.pool_decisions(cluster, later))
        assert audit(cluster, WORKER, later) == []

        # The execution started under version 1 acts no more once version 2 is recorded.
        world.run_for(POLL_SECONDS)
        ended = {r["generation"]: r for r in example.pool_events(cluster, "provisioning-ended", since)}
        # The retired worker's pods (now pods ebb does not manage) keep the node: same targets, no
        # new generation, so only the configuration version fences generation 1 off.
        assert {d["generation"] for d in decisions} == {1}
        assert {(e["outcome"], e["fence"]) for e in ended.values()} == {("superseded", "newer-configuration")}


def _two_pools(directory: Path) -> None:
    """The example with the batch worker on a NodePool of its own (`batch`, the g6e group)."""
    pool_path = directory / "gpu-node-pool.yaml"
    node_class, node_pool = [d for d in yaml.safe_load_all(pool_path.read_text(encoding="utf-8")) if d]
    node_class["spec"]["instanceGroups"] = ["gpu-g5-use1a"]
    batch_class = {
        **node_class,
        "metadata": {"name": "batch-groups"},
        "spec": {"instanceGroups": ["gpu-g6e-use1b"]},
    }
    batch_pool = yaml.safe_load(yaml.safe_dump(node_pool))
    batch_pool["metadata"]["name"] = "batch"
    batch_pool["spec"]["template"]["spec"]["nodeClassRef"]["name"] = "batch-groups"
    documents = [node_class, node_pool, batch_class, batch_pool]
    pool_path.write_text(yaml.safe_dump_all(documents, sort_keys=False), encoding="utf-8")

    def own_pools(spec: dict[str, Any]) -> None:
        for entry in spec["scalers"]:
            batch = entry["scaledObject"]["name"] == "batch-worker"
            if batch:
                entry["nodePool"] = "batch"
            # Each scaler's pods select its own pool's group only.
            affinity = entry["podSpec"]["affinity"]["nodeAffinity"]
            terms = affinity["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
            for term in terms:
                for expression in term["matchExpressions"]:
                    if expression["key"] == "sagemaker.amazonaws.com/instance-group-name":
                        expression["values"] = ["gpu-g6e-use1b" if batch else "gpu-g5-use1a"]

    edit_binding(directory, own_pools)


def _without_the_batch_pool(directory: Path) -> None:
    """The configuration changed: the `batch` NodePool, its node class and its scaler removed."""
    pool_path = directory / "gpu-node-pool.yaml"
    documents = [d for d in yaml.safe_load_all(pool_path.read_text(encoding="utf-8")) if d]
    kept = [d for d in documents if d["metadata"]["name"] not in {"batch", "batch-groups"}]
    pool_path.write_text(yaml.safe_dump_all(kept, sort_keys=False), encoding="utf-8")
    _without_the_worker(directory)


def test_a_node_pool_retired_has_its_execution_stopped_and_its_nodes_left_and_reported(
    example: ExampleStack,
) -> None:
    directory = example.directory
    with example.deployed(edit=_two_pools) as (cluster, config):
        assert sorted(p.name for p in config.node_pools) == ["batch", "gpu"]
        world = cluster.world
        run_past_next_tick(cluster)
        send_jobs(cluster, 8)
        run_past_next_tick(cluster)  # four workers on `batch`; its generation 1 adds a g6e node
        assert example.worker_replicas(cluster, config) == 4
        sfn = world.clients.client("stepfunctions")
        machine = world.state_machine_arn("ProvisionStateMachine")
        (execution,) = sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING")["executions"]
        assert execution["name"].startswith("batch-")
        sagemaker = world.clients.client("sagemaker")
        hyperpod = config.binding.spec.hyper_pod_cluster.name
        nodes = sagemaker.list_cluster_nodes(ClusterName=hyperpod, IncludeNodeLogicalIds=True)[
            "ClusterNodeSummaries"
        ]
        assert [n["InstanceGroupName"] for n in nodes] == ["gpu-g6e-use1b"]

        _without_the_batch_pool(directory)
        new_version = load_bundled_config(directory).version
        world.lambda_runtime.redeploy()
        rolled_out = world.now()
        run_past_next_tick(cluster)

        (retired,) = example.pool_events(cluster, "node-pool-retired", rolled_out, pool="batch")
        assert retired["executionStopped"] == execution["executionArn"]
        assert retired["configVersion"] == new_version
        assert retired["scalers"] == [WORKER]
        assert retired["generation"] == 1
        node = nodes[0]
        assert retired["nodesLeft"] == {"gpu-g6e-use1b": [node.get("InstanceId") or node["NodeLogicalId"]]}
        assert sfn.describe_execution(executionArn=execution["executionArn"])["status"] == "ABORTED"
        # Its nodes are left as they are; its scaler's target keeps its replicas and is reported.
        groups = sagemaker.describe_cluster(ClusterName=hyperpod)["InstanceGroups"]
        assert {g["InstanceGroupName"]: g["TargetCount"] for g in groups}["gpu-g6e-use1b"] == 1
        assert example.worker_replicas(cluster, config) == 4
        (scaler,) = [r for r in audit(cluster, WORKER, rolled_out) if r.get("event") == "scaler-retired"]
        assert scaler["replicasLeft"] == 4
        assert alarm_name(STACK, WORKER, "s0-aws-sqs-queue") not in _alarms(cluster)
        # The remaining pool goes on under the new version; the retired one is decided no more.
        assert {r["configVersion"] for r in example.pool_decisions(cluster, rolled_out)} == {new_version}
        later = world.now()
        run_past_next_tick(cluster)
        assert audit(cluster, "POOL#batch", later) == []
