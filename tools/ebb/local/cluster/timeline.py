"""A record of what happened to HyperPod's nodes and to the cluster's Kubernetes nodes and pods.

HyperPod transitions are recorded as the stand-in reports them. Kubernetes nodes and pods are
recorded by comparing what users see of them (a node's readiness, health labels, cordon, taints
and allocatable GPUs; a pod's node, phase, readiness and whether it is terminating) before and
after each step of the cluster: each Kubernetes controller pass or timed event, and each change
the HyperPod side makes. A change made over the API is recorded at the next such step (at most
the controllers' delay later). The store's resourceVersion tells when nothing changed, so quiet
steps cost nothing; a step that changed something costs a summary of every node and pod.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ebb.local.hyperpod import NodeTransition
from ebb.local.kubernetes import KubernetesStandIn

HEALTH_LABEL = "sagemaker.amazonaws.com/node-health-status"
DEEP_HEALTH_CHECK_LABEL = "sagemaker.amazonaws.com/deep-health-check-status"
NVIDIA_GPU = "nvidia.com/gpu"

Summary = dict[str, Any]


def node_summary(node: dict[str, Any]) -> Summary:
    """What users rely on about a node."""
    labels = node["metadata"].get("labels", {})
    conditions = node.get("status", {}).get("conditions", [])
    return {
        "ready": any(c["type"] == "Ready" and c["status"] == "True" for c in conditions),
        "health": labels.get(HEALTH_LABEL),
        "deepHealthCheck": labels.get(DEEP_HEALTH_CHECK_LABEL),
        "cordoned": bool(node["spec"].get("unschedulable")),
        "taints": sorted(f"{t['key']}:{t['effect']}" for t in node["spec"].get("taints", [])),
        "gpus": node.get("status", {}).get("allocatable", {}).get(NVIDIA_GPU, "0"),
    }


def pod_summary(pod: dict[str, Any]) -> Summary:
    """What users rely on about a pod."""
    status = pod.get("status", {})
    conditions = status.get("conditions", [])
    return {
        "node": pod["spec"].get("nodeName"),
        "phase": status.get("phase"),
        "ready": any(c["type"] == "Ready" and c["status"] == "True" for c in conditions),
        "terminating": pod["metadata"].get("deletionTimestamp") is not None,
    }


class ClusterTimeline:
    """Entries `(time, kind, what)`, in simulated-time order; kinds `hyperpod`, `node`, `pod`."""

    def __init__(self, kubernetes: KubernetesStandIn, now: Callable[[], datetime]) -> None:
        self._kubernetes = kubernetes
        self._now = now
        self._seen_version: str | None = None
        self._nodes: dict[str, Summary] = {}
        self._pods: dict[str, Summary] = {}
        self.entries: list[tuple[datetime, str, str]] = []

    def record_transition(self, transition: NodeTransition) -> None:
        """Record a HyperPod node transition."""
        what = [
            transition.change.value,
            transition.cluster,
            transition.group,
            transition.logical_id,
            transition.instance_id,
            transition.status,
        ]
        self.entries.append((transition.at, "hyperpod", json.dumps(what)))

    def observe(self) -> None:
        """Record every node and pod that appeared, changed or went since the last observation."""
        version = self._kubernetes.resource_version
        if version == self._seen_version:
            return
        self._seen_version = version
        now = self._now()
        nodes = dict(
            self._kubernetes.read_all("Node", lambda node: (node["metadata"]["name"], node_summary(node)))
        )
        pods = dict(
            self._kubernetes.read_all(
                "Pod",
                lambda pod: (f"{pod['metadata']['namespace']}/{pod['metadata']['name']}", pod_summary(pod)),
            )
        )
        self._diff("node", self._nodes, nodes, now)
        self._diff("pod", self._pods, pods, now)
        self._nodes, self._pods = nodes, pods

    def _diff(self, kind: str, before: dict[str, Summary], after: dict[str, Summary], now: datetime) -> None:
        for name in sorted(before.keys() | after.keys()):
            old, new = before.get(name), after.get(name)
            if old == new:
                continue
            change = "appeared" if old is None else "gone" if new is None else "changed"
            self.entries.append((now, kind, json.dumps([name, change, new], sort_keys=True)))
