"""Nodes that come and go with the HyperPod instances behind them.

The HyperPod stand-in (or a test) reports membership through `NodeMembership`: a running instance
joins as a Ready node; its GPUs appear in capacity and allocatable only once the device plugin has
registered them, `gpu_allocatable_delay_seconds` later; while HyperPod's deep health checks run it
is labelled `sagemaker.amazonaws.com/node-health-status=Unschedulable` (and
`deep-health-check-status=InProgress`), then `Schedulable`/`Passed`, or
`UnschedulablePendingReplacement`/`Failed` (Amazon SageMaker docs, "Resilience-related Kubernetes
labels by SageMaker HyperPod"), and tainted `sagemaker.amazonaws.com/node-health-status=
Unschedulable:NoSchedule` until they pass (the taint HyperPod's device plugins and operators
tolerate: aws/sagemaker-hyperpod-cli PR #449). A node's allocatable resources are its capacity
unless the caller says what the kubelet reserves. A node that leaves takes its pods with it:
they are deleted at once, as the pod garbage collector deletes pods bound to a node that no
longer exists, and their controllers create replacements, which are Pending.

The node lifecycle controller's part is kept too: with TaintNodesByCondition, a node that is not
Ready carries `node.kubernetes.io/not-ready:NoSchedule` and a cordoned one
`node.kubernetes.io/unschedulable:NoSchedule` (Kubernetes docs, "Taints and Tolerations", taint
nodes by condition).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from ebb.local.kubernetes.errors import StandInMisuse
from ebb.local.kubernetes.resources import NODE, POD
from ebb.local.kubernetes.state import ClusterState
from ebb.local.kubernetes.store import JsonObject, rfc3339

HEALTH_STATUS_LABEL = "sagemaker.amazonaws.com/node-health-status"
DEEP_HEALTH_CHECK_LABEL = "sagemaker.amazonaws.com/deep-health-check-status"
NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
NVIDIA_GPU = "nvidia.com/gpu"
DEFAULT_MAX_PODS = "110"
DEEP_HEALTH_CHECK_TAINT = {"key": HEALTH_STATUS_LABEL, "value": "Unschedulable", "effect": "NoSchedule"}


class NodeMembership(Protocol):
    """How the HyperPod side tells the cluster about its instances."""

    def node_joined(
        self,
        name: str,
        *,
        labels: Mapping[str, str],
        capacity: Mapping[str, str | int],
        gpus: int = 0,
        taints: Sequence[Mapping[str, str]] = (),
        deep_health_checks: bool = False,
        provider_id: str | None = None,
        allocatable: Mapping[str, str | int] | None = None,
    ) -> None:
        """A running instance registered as a node."""
        ...

    def node_health_checks_done(self, name: str, *, passed: bool = True) -> None:
        """HyperPod's deep health checks on the node finished."""
        ...

    def node_left(self, name: str) -> None:
        """The instance is gone; so is the node."""
        ...


class NodeLifecycle:
    """Implements `NodeMembership` on the stand-in's state, and keeps the condition taints."""

    def __init__(self, state: ClusterState) -> None:
        self._state = state

    def node_joined(
        self,
        name: str,
        *,
        labels: Mapping[str, str],
        capacity: Mapping[str, str | int],
        gpus: int = 0,
        taints: Sequence[Mapping[str, str]] = (),
        deep_health_checks: bool = False,
        provider_id: str | None = None,
        allocatable: Mapping[str, str | int] | None = None,
    ) -> None:
        """Register a Ready node; its `gpus` become allocatable after the device plugin's delay.

        `allocatable` is what the kubelet offers pods (capacity less its reservations); by
        default, the whole capacity.
        """
        with self._state.lock:
            if self._state.store.live(NODE, None, name) is not None:
                raise StandInMisuse(f"node {name!r} has already joined")
            resources = {key: str(value) for key, value in capacity.items()}
            resources.setdefault("pods", DEFAULT_MAX_PODS)
            offered = {key: str(value) for key, value in (allocatable or resources).items()}
            offered.setdefault("pods", resources["pods"])
            health = ("Unschedulable", "InProgress") if deep_health_checks else ("Schedulable", None)
            node_labels = {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                **labels,
                HEALTH_STATUS_LABEL: health[0],
            }
            if health[1] is not None:
                node_labels[DEEP_HEALTH_CHECK_LABEL] = health[1]
            now = rfc3339(self._state.now())
            spec: dict[str, Any] = {"taints": [dict(taint) for taint in taints]}
            if deep_health_checks:
                spec["taints"].append(dict(DEEP_HEALTH_CHECK_TAINT))
            if provider_id:
                spec["providerID"] = provider_id
            node: JsonObject = {
                "metadata": {"name": name, "labels": node_labels},
                "spec": spec,
                "status": {
                    "capacity": dict(resources),
                    "allocatable": offered,
                    "conditions": [
                        {
                            "type": "Ready",
                            "status": "True",
                            "reason": "KubeletReady",
                            "message": "kubelet is posting ready status",
                            "lastHeartbeatTime": now,
                            "lastTransitionTime": now,
                        }
                    ],
                },
            }
            if not spec["taints"]:
                del spec["taints"]
            self._state.store.create(NODE, node)
            if gpus:
                self._state.after(
                    self._state.timings.gpu_allocatable_delay_seconds, lambda: self._register_gpus(name, gpus)
                )
        self._state.request_reconcile()

    def node_health_checks_done(self, name: str, *, passed: bool = True) -> None:
        """Relabel the node after deep health checks: Schedulable (and untainted), or pending
        replacement (and still tainted)."""
        with self._state.lock:
            node = self._node(name)
            labels = node["metadata"]["labels"]
            labels[HEALTH_STATUS_LABEL] = "Schedulable" if passed else "UnschedulablePendingReplacement"
            labels[DEEP_HEALTH_CHECK_LABEL] = "Passed" if passed else "Failed"
            if passed and "taints" in node["spec"]:
                node["spec"]["taints"] = [
                    t
                    for t in node["spec"]["taints"]
                    if (t["key"], t["effect"]) != (HEALTH_STATUS_LABEL, DEEP_HEALTH_CHECK_TAINT["effect"])
                ]
                if not node["spec"]["taints"]:
                    del node["spec"]["taints"]
            self._state.store.touch(node)
        self._state.request_reconcile()

    def node_left(self, name: str) -> None:
        """Remove the node and, at once, every pod bound to it."""
        with self._state.lock:
            self._node(name)
            self._state.store.delete(NODE, None, name)
            for pod in list(self._state.store.live_objects(POD)):
                if pod["spec"].get("nodeName") == name:
                    self._state.store.delete(POD, pod["metadata"]["namespace"], pod["metadata"]["name"])
        self._state.request_reconcile()

    def set_ready(self, name: str, ready: bool) -> None:
        """Flip the node's Ready condition (the kubelet stopped or resumed posting status)."""
        with self._state.lock:
            node = self._node(name)
            for entry in node["status"]["conditions"]:
                if entry["type"] == "Ready" and (entry["status"] == "True") != ready:
                    entry["status"] = "True" if ready else "Unknown"
                    entry["reason"] = "KubeletReady" if ready else "NodeStatusUnknown"
                    entry["lastTransitionTime"] = rfc3339(self._state.now())
            self._state.store.touch(node)
        self._state.request_reconcile()

    def taint_pass(self) -> None:
        """Keep the not-ready and unschedulable taints in line with the node's condition and spec."""
        for node in self._state.store.live_objects(NODE):
            ready = any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"]["conditions"])
            wanted = {
                NOT_READY_TAINT: not ready,
                UNSCHEDULABLE_TAINT: bool(node["spec"].get("unschedulable")),
            }
            taints: list[JsonObject] = node["spec"].get("taints", [])
            kept = [t for t in taints if t["key"] not in wanted or wanted[t["key"]]]
            present = {t["key"] for t in kept}
            added = [
                {"key": key, "effect": "NoSchedule", "timeAdded": rfc3339(self._state.now())}
                for key, on in wanted.items()
                if on and key not in present
            ]
            if added or len(kept) != len(taints):
                node["spec"]["taints"] = kept + added
                if not node["spec"]["taints"]:
                    del node["spec"]["taints"]
                self._state.store.touch(node)

    def _register_gpus(self, name: str, gpus: int) -> None:
        node = self._state.store.live(NODE, None, name)
        if node is None:
            return
        node["status"]["capacity"][NVIDIA_GPU] = str(gpus)
        node["status"]["allocatable"][NVIDIA_GPU] = str(gpus)
        self._state.store.touch(node)

    def _node(self, name: str) -> JsonObject:
        node = self._state.store.live(NODE, None, name)
        if node is None:
            raise StandInMisuse(f"no node named {name!r}")
        return node
