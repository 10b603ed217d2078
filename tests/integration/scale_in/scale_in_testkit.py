"""The deployed stack with the example configuration, its NodePool edited per test, and what the
scale-in tests read back: the stand-ins' own records (the cluster timeline, the Kubernetes API's
request log, HyperPod's nodes) and the pool's audit trail.

The scale-out part of the provisioning workflow is not on this branch: where a test needs nodes,
it adds them itself with BatchAddClusterNodes, as that part will (and says so).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from ebb.config import EbbConfig, load_config_files
from ebb.local.cluster import HyperPodOnEks
from ebb.local.kubernetes import ClusterCertificates
from ebb.local.stack_deployment import (
    BOOT_SECONDS,
    EXAMPLE,
    audit,
    deployed_config,
)

POOL = "gpu"
G5, G6E = "gpu-g5-use1a", "gpu-g6e-use1b"


@contextmanager
def deployed_pool(
    directory: Path, certificates: ClusterCertificates, edit_pool: Callable[[dict[str, Any]], None]
) -> Iterator[tuple[HyperPodOnEks, EbbConfig]]:
    """The stack deployed from template.yaml (shadow mode off), the example's NodePool changed by
    `edit_pool` (it gets the NodePool's `spec`)."""
    directory.mkdir(parents=True, exist_ok=True)
    for path in sorted(EXAMPLE.glob("*.yaml")):
        documents = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
        for document in documents:
            if document.get("kind") == "ClusterBinding":
                document["spec"]["shadowMode"] = False
            if document.get("kind") == "NodePool":
                edit_pool(document["spec"])
        (directory / path.name).write_text(yaml.safe_dump_all(documents, sort_keys=False), encoding="utf-8")
    config = load_config_files(sorted(directory.glob("*.yaml")))
    with deployed_config(directory, config, certificates) as deployment:
        yield deployment


def add_nodes(cluster: HyperPodOnEks, group: str, count: int, token: str) -> None:
    """What the scale-out part of the workflow does: BatchAddClusterNodes, then wait the boot."""
    sagemaker = cluster.world.clients.client("sagemaker")
    sagemaker.batch_add_cluster_nodes(
        ClusterName="ml-inference",
        ClientToken=token,
        NodesToAdd=[{"InstanceGroupName": group, "IncrementTargetCountBy": count}],
    )
    cluster.world.run_for(BOOT_SECONDS + 60)


def hyperpod_nodes(cluster: HyperPodOnEks) -> list[dict[str, Any]]:
    """ListClusterNodes (every node, provisioning ones too)."""
    sagemaker = cluster.world.clients.client("sagemaker")
    return list(
        sagemaker.list_cluster_nodes(ClusterName="ml-inference", IncludeNodeLogicalIds=True)[
            "ClusterNodeSummaries"
        ]
    )


def group_target(cluster: HyperPodOnEks, group: str) -> int:
    """DescribeCluster's TargetCount of `group`."""
    sagemaker = cluster.world.clients.client("sagemaker")
    groups = sagemaker.describe_cluster(ClusterName="ml-inference")["InstanceGroups"]
    (found,) = [g for g in groups if g["InstanceGroupName"] == group]
    return int(found.get("TargetCount", found["CurrentCount"]))


def node_names(cluster: HyperPodOnEks) -> list[str]:
    """The Kubernetes nodes, by name."""
    return sorted(n["metadata"]["name"] for n in cluster.kubernetes.objects("Node", None))


def run_until(cluster: HyperPodOnEks, done: Callable[[], bool], *, seconds: float, step: float = 30) -> None:
    """Run the world until `done()` (checked every `step` simulated seconds), at most `seconds`."""
    waited = 0.0
    while not done():
        if waited >= seconds:
            raise AssertionError(f"not done within {seconds} simulated seconds")
        cluster.world.run_for(step)
        waited += step


def timeline(cluster: HyperPodOnEks) -> list[tuple[datetime, str, Any]]:
    """The cluster timeline: (time, kind, what), `what` decoded."""
    return [
        (datetime.fromisoformat(moment), kind, json.loads(what))
        for moment, kind, what in cluster.cluster_timeline()
    ]


def first(entries: list[tuple[datetime, str, Any]], match: Callable[[str, Any], bool]) -> datetime:
    """When the first entry matching `match(kind, what)` happened."""
    for moment, kind, what in entries:
        if match(kind, what):
            return moment
    raise AssertionError("no such timeline entry")


def scale_in_records(cluster: HyperPodOnEks, since: datetime | None = None) -> list[dict[str, Any]]:
    """The pool's scale-in audit entries, oldest first."""
    records = [
        r for r in audit(cluster, f"POOL#{POOL}", since) if str(r.get("event", "")).startswith("scale-in")
    ]
    return list(reversed(records))


def kubernetes_writes(cluster: HyperPodOnEks) -> list[tuple[str, str]]:
    """The Kubernetes API's record of writes (method, path), in the order it received them."""
    return [
        (r.method, r.path)
        for r in cluster.kubernetes.requests
        if r.method in ("PATCH", "POST", "PUT", "DELETE")
    ]
