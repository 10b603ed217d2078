"""`KubernetesStandIn`: a local Kubernetes API over HTTPS, driven by a simulated clock.

Put together from the store, the controllers (nodes, workloads, scheduler, kubelet, disruption)
and the API server; started, it listens on a free loopback port with a certificate from its own
CA and accepts only EKS tokens for its cluster name signed with one of the given credentials.
Tests and the local world arrange objects directly (`create`), report HyperPod nodes through the
`NodeMembership` methods, advance the clock, and talk to it over HTTPS like ebb does.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

from ebb.local.kubernetes.api_server import ApiReply, ApiRequest, ApiServer, invalid, status_reply
from ebb.local.kubernetes.clock import SimulatedClock
from ebb.local.kubernetes.disruption import DisruptionController
from ebb.local.kubernetes.errors import ManifestRejected, StandInMisuse
from ebb.local.kubernetes.https_server import HttpsApiServer
from ebb.local.kubernetes.kubelet import Kubelet
from ebb.local.kubernetes.nodes import NodeLifecycle
from ebb.local.kubernetes.resources import BUILT_IN, SCALED_OBJECT, ResourceType, by_kind
from ebb.local.kubernetes.scheduler import Scheduler
from ebb.local.kubernetes.schema import violations
from ebb.local.kubernetes.state import ClusterState, StandInTimings
from ebb.local.kubernetes.store import JsonObject
from ebb.local.kubernetes.sts_tokens import EksTokenVerifier
from ebb.local.kubernetes.tls import ClusterCertificates, generate_cluster_certificates
from ebb.local.kubernetes.validation import invalid_message, validate_object_meta, validate_workload
from ebb.local.kubernetes.workloads import WorkloadController

T = TypeVar("T")

_REASONS = {
    401: "Unauthorized",
    409: "Conflict",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}

# Kinds a test may create directly; nodes join through `node_joined`, pods come from controllers.
_CREATABLE = frozenset(
    {"Deployment", "StatefulSet", "PodDisruptionBudget", "HorizontalPodAutoscaler", "ScaledObject"}
)


class KubernetesStandIn:
    """A Kubernetes API server and control plane for one cluster, in-process."""

    def __init__(
        self,
        clock: SimulatedClock,
        *,
        credentials: Mapping[str, str],
        cluster_name: str = "ebb-local",
        timings: StandInTimings | None = None,
        keda_installed: bool = True,
        certificates: ClusterCertificates | None = None,
    ) -> None:
        self.cluster_name = cluster_name
        self.certificates = certificates or generate_cluster_certificates()
        self._state = ClusterState(clock, timings or StandInTimings())
        self._types: tuple[ResourceType, ...] = BUILT_IN + ((SCALED_OBJECT,) if keda_installed else ())
        kubelet = Kubelet(self._state)
        self._nodes = NodeLifecycle(self._state)
        workloads = WorkloadController(self._state, kubelet)
        scheduler = Scheduler(self._state, kubelet)
        disruption = DisruptionController(self._state, kubelet)
        self._disruption = disruption
        for controller_pass in (
            self._nodes.taint_pass,
            workloads.replicas_pass,
            scheduler.schedule_pass,
            workloads.status_pass,
            disruption.status_pass,
        ):
            self._state.add_pass(controller_pass)
        verifier = EksTokenVerifier(cluster_name, credentials, clock.now)
        self._api = ApiServer(self._state, verifier, disruption, self._types)
        self._server: HttpsApiServer | None = None

    # Lifecycle

    def start(self) -> KubernetesStandIn:
        """Start listening; returns self."""
        if self._server is not None:
            raise StandInMisuse("the stand-in is already started")
        self._server = HttpsApiServer(self._api, self.certificates.server_context())
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop listening and close every connection."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> KubernetesStandIn:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``https://127.0.0.1:<port>``, what EKS DescribeCluster would give as `endpoint`."""
        if self._server is None:
            raise StandInMisuse("start the stand-in first")
        return f"https://127.0.0.1:{self._server.port}"

    @property
    def handshake_failures(self) -> list[str]:
        """TLS handshakes the server saw fail."""
        return self._server.handshake_failures if self._server is not None else []

    # Node membership (the HyperPod stand-in drives these)

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
        """A running instance registered as a Ready node (see `nodes.NodeLifecycle`)."""
        self._nodes.node_joined(
            name,
            labels=labels,
            capacity=capacity,
            gpus=gpus,
            taints=taints,
            deep_health_checks=deep_health_checks,
            provider_id=provider_id,
            allocatable=allocatable,
        )

    def node_health_checks_done(self, name: str, *, passed: bool = True) -> None:
        """HyperPod's deep health checks on the node finished."""
        self._nodes.node_health_checks_done(name, passed=passed)

    def node_left(self, name: str) -> None:
        """The instance is gone: the node and its pods disappear."""
        self._nodes.node_left(name)

    def set_node_ready(self, name: str, ready: bool) -> None:
        """The node's kubelet stopped (or resumed) reporting Ready."""
        self._nodes.set_ready(name, ready)

    def drain_node(self, name: str) -> list[str]:
        """Cordon the node and evict its pods through the Eviction API's rules (a budget may
        refuse some; DaemonSet pods stay), as `kubectl drain --ignore-daemonsets` does once;
        returns the pods it could not evict (`namespace/name`)."""
        refused = []
        with self._state.lock:
            node = self._state.store.live(self._type("Node"), None, name)
            if node is None:
                raise StandInMisuse(f"no node named {name!r}")
            node["spec"]["unschedulable"] = True
            self._state.store.touch(node)
            pods = [
                pod
                for pod in self._state.store.live_objects(self._type("Pod"))
                if pod["spec"].get("nodeName") == name
                and not any(o.get("kind") == "DaemonSet" for o in pod["metadata"].get("ownerReferences", []))
            ]
            for pod in pods:
                if self._disruption.evict(pod, {}).outcome != "evicted":
                    refused.append(f"{pod['metadata']['namespace']}/{pod['metadata']['name']}")
        self._state.request_reconcile()
        return refused

    # Arranging and inspecting objects

    def create(self, manifest: Mapping[str, Any]) -> JsonObject:
        """Create a workload, budget or autoscaler as `kubectl create` would; validated like the API does."""
        kind = manifest.get("kind", "")
        resource = by_kind(kind, self._types)
        if resource is None or kind not in _CREATABLE:
            raise StandInMisuse(f"the stand-in does not create {kind!r} objects directly")
        obj = copy.deepcopy(dict(manifest))
        if resource.api_version != obj.get("apiVersion"):
            raise ManifestRejected(
                f"{kind} must be {resource.api_version}, not {obj.get('apiVersion')}", status=400
            )
        problems = violations(resource.schema, obj)
        if any(p.kind != "invalid" for p in problems):
            raise ManifestRejected("; ".join(p.message for p in problems), status=400)
        if problems:
            # The Status message the API server would give (NewInvalid's aggregate).
            refusal = invalid(kind, resource.group, obj.get("metadata", {}).get("name", ""), problems)
            raise ManifestRejected(json.loads(refusal.reply.body)["message"], status=422)
        obj.pop("status", None)
        obj["metadata"].setdefault("namespace", "default")
        if kind in ("Deployment", "StatefulSet"):
            # The API server's defaulting (apps/v1 SetDefaults_Deployment / _StatefulSet).
            obj["spec"].setdefault("replicas", 1)
            if kind == "StatefulSet":
                obj["spec"].setdefault("podManagementPolicy", "OrderedReady")
            rules = validate_workload(kind, obj)
        else:
            rules = validate_object_meta(obj["metadata"], namespaced=resource.namespaced)
        if rules:
            qualified = f"{kind}.{resource.group}" if resource.group else kind
            raise ManifestRejected(
                invalid_message(qualified, obj["metadata"].get("name", ""), rules), status=422
            )
        with self._state.lock:
            try:
                created = self._state.store.create(resource, obj)
            except KeyError as error:
                raise ManifestRejected(
                    f"{kind} {obj['metadata']['name']!r} already exists", status=409
                ) from error
        self._state.request_reconcile()
        return created

    def get(self, kind: str, name: str, namespace: str | None = "default") -> JsonObject | None:
        """A copy of an object (namespace ignored for cluster-scoped kinds)."""
        resource = self._type(kind)
        with self._state.lock:
            return self._state.store.get(resource, namespace if resource.namespaced else None, name)

    def existing(self, kind: str, name: str, namespace: str | None = "default") -> JsonObject:
        """Like `get`, for an object that must exist."""
        found = self.get(kind, name, namespace)
        if found is None:
            raise StandInMisuse(f"no {kind} named {name!r}")
        return found

    def objects(self, kind: str, namespace: str | None = None) -> list[JsonObject]:
        """Copies of every object of a kind, in namespace and name order."""
        resource = self._type(kind)
        with self._state.lock:
            return [copy.deepcopy(obj) for obj in self._state.store.live_objects(resource, namespace)]

    def read_all(self, kind: str, read: Callable[[JsonObject], T]) -> list[T]:
        """`read` applied to every object of a kind, in namespace and name order, without copying
        them (for observers that summarise the cluster often); `read` must not change its argument."""
        resource = self._type(kind)
        with self._state.lock:
            return [read(obj) for obj in self._state.store.live_objects(resource)]

    def update(
        self, kind: str, name: str, change: Callable[[JsonObject], None], namespace: str | None = "default"
    ) -> None:
        """Change an object in place as another client would (a new resourceVersion results)."""
        resource = self._type(kind)
        with self._state.lock:
            obj = self._state.store.live(resource, namespace if resource.namespaced else None, name)
            if obj is None:
                raise StandInMisuse(f"no {kind} named {name!r}")
            change(obj)
            self._state.store.touch(obj)
        self._state.request_reconcile()

    @property
    def resource_version(self) -> str:
        """The latest resourceVersion: it changes whenever any object does (cheap change detection)."""
        with self._state.lock:
            return self._state.store.resource_version

    def reconcile_now(self) -> None:
        """Run the controllers at once (normally they run `controller_delay_seconds` after a change)."""
        self._state.reconcile()

    # Observing and disturbing the API

    @property
    def requests(self) -> list[ApiRequest]:
        """Every request received, in order."""
        with self._state.lock:
            return list(self._api.requests)

    def on_request(self, hook: Callable[[ApiRequest], None]) -> None:
        """Call `hook` with each authenticated request before it is handled (to stage races)."""
        self._api.hooks.append(hook)

    def fail_next(self, count: int, status: int, *, retry_after: int | None = None) -> None:
        """Answer the next `count` authenticated requests with an error instead of handling them.

        A 429 with `retry_after` is what API Priority and Fairness sends: plain text, `Retry-After`
        (kube-apiserver's `tooManyRequests` filter). Other codes get a `Status` body.
        """
        for _ in range(count):
            headers = [("Retry-After", str(retry_after))] if retry_after is not None else []
            if status == 429:
                reply = ApiReply(
                    429,
                    b"Too many requests, please try again later.\n",
                    content_type="text/plain; charset=utf-8",
                    headers=[*headers, ("X-Content-Type-Options", "nosniff")],
                )
            else:
                reason = _REASONS.get(status)
                # 401 carries the authenticator's own message (kube-apiserver's Unauthorized responder).
                message = "Unauthorized" if status == 401 else f"injected failure {status}"
                reply = status_reply(status, reason, message, headers=headers)
            self._api.inject(reply)

    def _type(self, kind: str) -> ResourceType:
        resource = by_kind(kind, self._types)
        if resource is None:
            raise StandInMisuse(f"unknown kind {kind!r}")
        return resource
