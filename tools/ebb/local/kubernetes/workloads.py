"""Deployments (through a ReplicaSet) and StatefulSets: pods to match replicas, and their status.

A Deployment owns one ReplicaSet named after its pod template's hash, and the ReplicaSet owns the
pods (`pod-template-hash` label, controller owner references), as the Deployment controller lays
them out. Scaling down picks pods in the ReplicaSet controller's order (`deletion_order`).
Rolling updates are not simulated: a changed template gets a new ReplicaSet, and the old one is
scaled to zero at once.

A StatefulSet names its pods `<name>-<ordinal>`. With the default `OrderedReady` policy it creates
them one at a time, each once all lower ordinals are Running and Ready, and removes them one at a
time from the highest ordinal, each once the previous one is gone; `Parallel` does both at once
(Kubernetes docs, "StatefulSets": deployment and scaling guarantees, pod management policies).
Pod deletion cost plays no part in a StatefulSet's choice.
"""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import datetime
from typing import Any

from ebb.local.kubernetes.deletion_order import pods_to_delete
from ebb.local.kubernetes.kubelet import Kubelet
from ebb.local.kubernetes.pods import controller_uid, is_active, is_ready, ready_since
from ebb.local.kubernetes.resources import DEPLOYMENT, POD, REPLICA_SET, STATEFUL_SET, ResourceType
from ebb.local.kubernetes.state import ClusterState
from ebb.local.kubernetes.store import JsonObject

# k8s.io/apimachinery/pkg/util/rand: the alphabet of generated name suffixes and template hashes.
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
TEMPLATE_HASH_LABEL = "pod-template-hash"


def template_hash(template: JsonObject) -> str:
    """A stable 10-character hash of a pod template, in the safe alphabet."""
    digest = int.from_bytes(hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()[:8], "big")
    text = ""
    for _ in range(10):
        digest, index = divmod(digest, len(SAFE_ALPHABET))
        text += SAFE_ALPHABET[index]
    return text


def _owner(obj: JsonObject) -> dict[str, Any]:
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _available(pod: JsonObject, min_ready_seconds: int, now: datetime) -> bool:
    since = ready_since(pod)
    if since is None:
        return False
    ready_at = datetime.fromisoformat(since.replace("Z", "+00:00"))
    return min_ready_seconds == 0 or (now - ready_at).total_seconds() >= min_ready_seconds


def _set_status(state: ClusterState, obj: JsonObject, status: dict[str, Any]) -> None:
    if obj.get("status") != status:
        obj["status"] = status
        state.store.touch(obj)


def _nonzero(**counts: int) -> dict[str, int]:
    return {name: value for name, value in counts.items() if value}


class WorkloadController:
    """The Deployment, ReplicaSet and StatefulSet controllers."""

    def __init__(self, state: ClusterState, kubelet: Kubelet) -> None:
        self._state = state
        self._kubelet = kubelet

    def replicas_pass(self) -> None:
        """Create or delete pods until every workload has its replicas."""
        for deployment in list(self._state.store.live_objects(DEPLOYMENT)):
            self._deployment(deployment)
        for stateful_set in list(self._state.store.live_objects(STATEFUL_SET)):
            self._stateful_set(stateful_set)

    def status_pass(self) -> None:
        """Report observed replicas in the workloads' status."""
        now = self._state.now()
        for deployment in self._state.store.live_objects(DEPLOYMENT):
            replica_sets = self._owned(REPLICA_SET, deployment)
            pods = [p for rs in replica_sets for p in self._owned(POD, rs) if is_active(p)]
            newest = [
                p for p in pods if p["metadata"]["labels"].get(TEMPLATE_HASH_LABEL) == self._hash(deployment)
            ]
            min_ready = deployment["spec"].get("minReadySeconds", 0)
            available = sum(_available(p, min_ready, now) for p in pods)
            desired = deployment["spec"].get("replicas", 1)
            _set_status(
                self._state,
                deployment,
                {
                    "observedGeneration": deployment["metadata"]["generation"],
                    **_nonzero(
                        replicas=len(pods),
                        updatedReplicas=len(newest),
                        readyReplicas=sum(is_ready(p) for p in pods),
                        availableReplicas=available,
                        unavailableReplicas=max(desired - available, 0),
                    ),
                },
            )
            for replica_set in replica_sets:
                own = [p for p in self._owned(POD, replica_set) if is_active(p)]
                _set_status(
                    self._state,
                    replica_set,
                    {
                        "replicas": len(own),
                        "observedGeneration": replica_set["metadata"]["generation"],
                        **_nonzero(
                            fullyLabeledReplicas=len(own),
                            readyReplicas=sum(is_ready(p) for p in own),
                            availableReplicas=sum(_available(p, min_ready, now) for p in own),
                        ),
                    },
                )
        for stateful_set in self._state.store.live_objects(STATEFUL_SET):
            pods = [p for p in self._owned(POD, stateful_set) if is_active(p)]
            revision = f"{stateful_set['metadata']['name']}-{self._hash(stateful_set)}"
            min_ready = stateful_set["spec"].get("minReadySeconds", 0)
            _set_status(
                self._state,
                stateful_set,
                {
                    "replicas": len(pods),
                    "observedGeneration": stateful_set["metadata"]["generation"],
                    "currentRevision": revision,
                    "updateRevision": revision,
                    **_nonzero(
                        readyReplicas=sum(is_ready(p) for p in pods),
                        currentReplicas=len(pods),
                        updatedReplicas=len(pods),
                        availableReplicas=sum(_available(p, min_ready, now) for p in pods),
                    ),
                },
            )

    def _deployment(self, deployment: JsonObject) -> None:
        store = self._state.store
        current_hash = self._hash(deployment)
        name = f"{deployment['metadata']['name']}-{current_hash}"
        namespace = deployment["metadata"]["namespace"]
        replica_set = store.live(REPLICA_SET, namespace, name)
        if replica_set is None:
            template = copy.deepcopy(deployment["spec"]["template"])
            template.setdefault("metadata", {}).setdefault("labels", {})[TEMPLATE_HASH_LABEL] = current_hash
            selector = copy.deepcopy(deployment["spec"]["selector"])
            selector.setdefault("matchLabels", {})[TEMPLATE_HASH_LABEL] = current_hash
            store.create(
                REPLICA_SET,
                {
                    "metadata": {
                        "name": name,
                        "namespace": namespace,
                        "labels": dict(template["metadata"]["labels"]),
                        "ownerReferences": [_owner(deployment)],
                    },
                    "spec": {"replicas": 0, "selector": selector, "template": template},
                    "status": {"replicas": 0},
                },
            )
            replica_set = store.live(REPLICA_SET, namespace, name)
            assert replica_set is not None
        related = [p for rs in self._owned(REPLICA_SET, deployment) for p in self._owned(POD, rs)]
        for other in self._owned(REPLICA_SET, deployment):
            wanted = deployment["spec"].get("replicas", 1) if other is replica_set else 0
            if other["spec"].get("replicas") != wanted:
                other["spec"]["replicas"] = wanted
                other["metadata"]["generation"] += 1
                store.touch(other)
            self._replica_set(other, related)

    def _replica_set(self, replica_set: JsonObject, related: list[JsonObject]) -> None:
        active = [p for p in self._owned(POD, replica_set) if is_active(p)]
        difference = replica_set["spec"]["replicas"] - len(active)
        if difference > 0:
            for _ in range(difference):
                suffix = "".join(self._state.rng.choice(SAFE_ALPHABET) for _ in range(5))
                self._create_pod(replica_set, f"{replica_set['metadata']['name']}-{suffix}", {})
        elif difference < 0:
            for pod in pods_to_delete(active, related, -difference, self._state.now()):
                live = self._state.store.live(POD, pod["metadata"]["namespace"], pod["metadata"]["name"])
                if live is not None:
                    self._kubelet.terminate(live)

    def _stateful_set(self, stateful_set: JsonObject) -> None:
        store = self._state.store
        name = stateful_set["metadata"]["name"]
        namespace = stateful_set["metadata"]["namespace"]
        replicas = stateful_set["spec"].get("replicas", 1)
        parallel = stateful_set["spec"].get("podManagementPolicy", "OrderedReady") == "Parallel"
        pods = {p["metadata"]["name"]: p for p in self._owned(POD, stateful_set)}
        revision = f"{name}-{self._hash(stateful_set)}"
        for ordinal in range(replicas):
            pod_name = f"{name}-{ordinal}"
            pod = pods.get(pod_name)
            if pod is None:
                self._create_pod(
                    stateful_set,
                    pod_name,
                    {
                        "statefulset.kubernetes.io/pod-name": pod_name,
                        "apps.kubernetes.io/pod-index": str(ordinal),
                        "controller-revision-hash": revision,
                    },
                )
                if not parallel:
                    break
            elif not parallel and not (is_active(pod) and is_ready(pod)):
                break  # OrderedReady: wait for this ordinal before the next
        condemned = sorted(
            (p for p in pods.values() if int(p["metadata"]["name"].rsplit("-", 1)[1]) >= replicas),
            key=lambda p: -int(p["metadata"]["name"].rsplit("-", 1)[1]),
        )
        for pod in condemned:
            if not is_active(pod):
                if parallel:
                    continue
                break  # OrderedReady: one at a time, wait for it to be gone
            live = store.live(POD, namespace, pod["metadata"]["name"])
            if live is not None:
                self._kubelet.terminate(live)
            if not parallel:
                break

    def _create_pod(self, owner: JsonObject, name: str, extra_labels: dict[str, str]) -> None:
        template = owner["spec"]["template"]
        metadata = template.get("metadata", {})
        pod: JsonObject = {
            "metadata": {
                "name": name,
                "namespace": owner["metadata"]["namespace"],
                "labels": {**metadata.get("labels", {}), **extra_labels},
                "ownerReferences": [_owner(owner)],
            },
            "spec": copy.deepcopy(template["spec"]),
            "status": {"phase": "Pending", "qosClass": "Burstable"},
        }
        if metadata.get("annotations"):
            pod["metadata"]["annotations"] = dict(metadata["annotations"])
        pod["spec"].setdefault("schedulerName", "default-scheduler")
        pod["spec"].setdefault("terminationGracePeriodSeconds", 30)
        pod["spec"].setdefault("restartPolicy", "Always")
        self._state.store.create(POD, pod)

    def _owned(self, resource: ResourceType, owner: JsonObject) -> list[JsonObject]:
        uid = owner["metadata"]["uid"]
        namespace = owner["metadata"]["namespace"]
        return [
            obj for obj in self._state.store.live_objects(resource, namespace) if controller_uid(obj) == uid
        ]

    @staticmethod
    def _hash(workload: JsonObject) -> str:
        return template_hash(workload["spec"]["template"])
