"""The kubelet's part: start bound pods, report them Ready once the model has loaded, terminate them.

A bound pod stays Pending for `container_start_seconds` (image pull, container start), then runs;
its Ready condition turns True after `model_load_seconds` more (a readiness probe that passes once
the model is in GPU memory). A deleted pod keeps running until its containers stop, at most its
grace period (`pod_termination_seconds` capped by `terminationGracePeriodSeconds`, default 30 s);
an unscheduled pod is deleted at once (the API server skips graceful deletion for it).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ebb.local.kubernetes.pods import set_condition
from ebb.local.kubernetes.resources import POD
from ebb.local.kubernetes.state import MODEL_LOAD_ANNOTATION, ClusterState
from ebb.local.kubernetes.store import JsonObject, rfc3339

DEFAULT_GRACE_SECONDS = 30


class Kubelet:
    """Every node's kubelet, as far as pod lifecycles go."""

    def __init__(self, state: ClusterState) -> None:
        self._state = state

    def pod_bound(self, pod: JsonObject) -> None:
        """The scheduler bound `pod` to a node: start its containers after a while."""
        key = _key(pod)
        self._state.after(self._state.timings.container_start_seconds, lambda: self._start(*key))

    def terminate(self, pod: JsonObject, grace_seconds: int | None = None) -> None:
        """Begin deleting a live pod (sets deletionTimestamp); it disappears when its containers stop."""
        store = self._state.store
        metadata = pod["metadata"]
        if metadata.get("deletionTimestamp") is not None:
            return
        grace = (
            grace_seconds
            if grace_seconds is not None
            else pod["spec"].get("terminationGracePeriodSeconds", DEFAULT_GRACE_SECONDS)
        )
        if not pod["spec"].get("nodeName") or grace == 0:
            store.delete(POD, metadata["namespace"], metadata["name"])
            return
        metadata["deletionTimestamp"] = rfc3339(self._state.now() + timedelta(seconds=grace))
        metadata["deletionGracePeriodSeconds"] = grace
        store.touch(pod)
        stop_after = min(float(grace), self._state.timings.pod_termination_seconds)
        key = _key(pod)
        self._state.after(stop_after, lambda: self._remove(*key))

    def _start(self, namespace: str, name: str, uid: str) -> None:
        pod = self._live(namespace, name, uid)
        if pod is None or pod["metadata"].get("deletionTimestamp") is not None:
            return
        now = self._state.now()
        status = pod.setdefault("status", {})
        status["phase"] = "Running"
        status["startTime"] = rfc3339(now)
        status["containerStatuses"] = [
            {
                "name": container["name"],
                "image": container.get("image", ""),
                "imageID": "",
                "ready": False,
                "restartCount": 0,
                "started": True,
                "state": {"running": {"startedAt": rfc3339(now)}},
            }
            for container in pod["spec"]["containers"]
        ]
        set_condition(pod, "Initialized", "True", now)
        set_condition(pod, "ContainersReady", "False", now, reason="ContainersNotReady")
        set_condition(pod, "Ready", "False", now, reason="ContainersNotReady")
        self._state.store.touch(pod)
        load = self._model_load_seconds(pod)
        self._state.after(load, lambda: self._ready(namespace, name, uid))

    def _ready(self, namespace: str, name: str, uid: str) -> None:
        pod = self._live(namespace, name, uid)
        if pod is None or pod["metadata"].get("deletionTimestamp") is not None:
            return
        now = self._state.now()
        for container in pod["status"].get("containerStatuses", []):
            container["ready"] = True
        set_condition(pod, "ContainersReady", "True", now)
        set_condition(pod, "Ready", "True", now)
        self._state.store.touch(pod)

    def _remove(self, namespace: str, name: str, uid: str) -> None:
        if self._live(namespace, name, uid) is not None:
            self._state.store.delete(POD, namespace, name)

    def _live(self, namespace: str, name: str, uid: str) -> JsonObject | None:
        pod = self._state.store.live(POD, namespace, name)
        return pod if pod is not None and pod["metadata"]["uid"] == uid else None

    def _model_load_seconds(self, pod: JsonObject) -> float:
        override: Any = pod["metadata"].get("annotations", {}).get(MODEL_LOAD_ANNOTATION)
        return float(override) if override is not None else self._state.timings.model_load_seconds


def _key(pod: JsonObject) -> tuple[str, str, str]:
    metadata = pod["metadata"]
    return (metadata["namespace"], metadata["name"], metadata["uid"])
