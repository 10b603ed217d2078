"""The HyperPod stand-in: SageMaker's HyperPod operations on the local world's clock, with controls.

`LocalHyperPod.handle` serves an API call (moto's patched SageMaker routes them here). The other
public methods are the simulation's controls, for tests and the demo: capacity per offering
(instance type and Availability Zone), quotas, injected API errors (throttling on demand),
per-group timings and status, faults that automatic node recovery repairs, and Spot instances EC2
reclaims (`interrupt_spot`); observers of node
transitions (`add_node_observer`), and the Kubernetes labels and taints HyperPod puts on a node
(`kubernetes_labels`, `kubernetes_taints`).
"""

from __future__ import annotations

import copy
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Final

from ebb.local.hyperpod.cluster_events import EventLog
from ebb.local.hyperpod.errors import ApiError, StandInMisuse
from ebb.local.hyperpod.lifecycle import DEFAULT_CREATION_SECONDS, NodeLifecycle
from ebb.local.hyperpod.operations import SERVED_OPERATIONS, RegionApi
from ebb.local.hyperpod.state import (
    DEEP_HEALTH_CHECK,
    ON_DEMAND,
    SPOT,
    SPOT_NOTICE_SECONDS,
    RegionState,
    SimCluster,
    SimGroup,
    SimNode,
    Timings,
)
from ebb.local.hyperpod.subnets import MotoSubnets, SubnetDirectory
from ebb.local.hyperpod.transitions import NodeObserver
from ebb.local.hyperpod.world import StandInWorld

# moto's default account and the region tests use.
DEFAULT_ACCOUNT: Final = "123456789012"
DEFAULT_REGION: Final = "us-east-1"

NODE_HEALTH_LABEL: Final = "sagemaker.amazonaws.com/node-health-status"
DEEP_HEALTH_CHECK_LABEL: Final = "sagemaker.amazonaws.com/deep-health-check-status"
# The labels every HyperPod node of an EKS cluster carries: "Resilience-related Kubernetes labels by
# SageMaker HyperPod" (health), the HyperPod EKS guides (`kubectl get nodes -l
# sagemaker.amazonaws.com/compute-type=hyperpod`, `...instance-group-name=<group>`), and the
# well-known Kubernetes labels (instance type as the ml.* name, zone, region).
COMPUTE_TYPE_LABEL: Final = "sagemaker.amazonaws.com/compute-type"
INSTANCE_GROUP_LABEL: Final = "sagemaker.amazonaws.com/instance-group-name"
INSTANCE_TYPE_LABEL: Final = "node.kubernetes.io/instance-type"
ZONE_LABEL: Final = "topology.kubernetes.io/zone"
REGION_LABEL: Final = "topology.kubernetes.io/region"
LIFECYCLE_FAILURE: Final = "Lifecycle script execution failed on the instance."

# Errors that can be injected, with the HTTP status and message SageMaker answers them with.
INJECTABLE_ERRORS: Final = {
    "ThrottlingException": (400, "Rate exceeded"),
    "ServiceUnavailable": (503, "Service is unavailable"),
    "InternalFailure": (500, "An internal error occurred"),
}


class LocalHyperPod:
    """SageMaker HyperPod, for one local world (every account and region in it)."""

    def __init__(
        self,
        world: StandInWorld,
        *,
        subnets: SubnetDirectory | None = None,
        cluster_creation_seconds: float = DEFAULT_CREATION_SECONDS,
    ) -> None:
        """`subnets` tells each subnet's zone (moto's EC2 by default); a new cluster is Creating
        for `cluster_creation_seconds` of simulated time."""
        self.world = world
        self._subnets = subnets or MotoSubnets()
        self._creation_seconds = cluster_creation_seconds
        self._lock = threading.RLock()
        self._regions: dict[tuple[str, str], tuple[RegionState, RegionApi, NodeLifecycle]] = {}
        self._injected: dict[str, deque[str]] = {}
        self._observers: list[NodeObserver] = []
        self.requests: list[dict[str, Any]] = []
        """Every call the stand-in answered, in order: operation, time, request, error code (or
        None), response and caller (the calling thread's name), so tests and benchmarks can check
        what ebb asked of HyperPod."""

    @property
    def operations(self) -> tuple[str, ...]:
        """The operations the stand-in serves."""
        return tuple(SERVED_OPERATIONS)

    def handle(
        self, operation: str, *, account: str, region: str, request: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Serve one API call; raises `ApiError` as SageMaker would answer with an error."""
        with self._lock:
            entry: dict[str, Any] = {
                "operation": operation,
                "at": self.world.now(),
                "request": copy.deepcopy(dict(request)),
                "error": None,
                "response": None,
                # Who called: the simulated world's actors are threads named after what they
                # run (a Lambda invocation: "lambda <function> <request id>"), so a check can
                # tell which invocation made which call.
                "caller": threading.current_thread().name,
            }
            self.requests.append(entry)
            queued = self._injected.get(operation)
            if queued:
                code = queued.popleft()
                status, message = INJECTABLE_ERRORS[code]
                entry["error"] = code
                raise ApiError(code, message, status=status)
            if operation not in SERVED_OPERATIONS:
                raise StandInMisuse(f"the stand-in does not serve {operation}")
            try:
                entry["response"] = self._region(account, region)[1].handle(operation, request)
            except ApiError as error:
                entry["error"] = error.code
                raise
            return entry["response"]  # type: ignore[no-any-return]

    # -- controls -------------------------------------------------------------------------------

    def set_capacity(
        self,
        instance_type: str,
        available: int | None,
        *,
        availability_zone: str,
        capacity_type: str = ON_DEMAND,
        account: str = DEFAULT_ACCOUNT,
        region: str = DEFAULT_REGION,
    ) -> None:
        """At most `available` instances of `instance_type` can run at once in `availability_zone`
        (None: no limit): one offering, as EC2's shortages are per type and zone; `capacity_type`
        Spot sets the Spot pool's, which On-Demand launches do not draw from.

        A launch tries its allowed zones in order; when none has room it fails with HyperPod's
        insufficient-capacity message, and HyperPod retries it; raising the limit lets the retries
        succeed. Lowering it below what runs stops nothing (see `interrupt_spot` for that).
        """
        if available is not None and available < 0:
            raise StandInMisuse(f"available: {available} is negative")
        if not availability_zone.startswith(region) or len(availability_zone) != len(region) + 1:
            raise StandInMisuse(f"availability_zone: {availability_zone!r} is not a zone of {region}")
        if capacity_type not in (ON_DEMAND, SPOT):
            raise StandInMisuse(f"capacity_type: {capacity_type!r} is not {ON_DEMAND} or {SPOT}")
        with self._lock:
            offering = (instance_type, availability_zone, capacity_type)
            self._region(account, region)[0].capacity[offering] = available

    def set_quota(
        self,
        instance_type: str,
        limit: int | None,
        *,
        account: str = DEFAULT_ACCOUNT,
        region: str = DEFAULT_REGION,
    ) -> None:
        """The '<type> for cluster usage' quota: requests beyond it get ResourceLimitExceeded."""
        with self._lock:
            quotas = self._region(account, region)[0].quotas
            if limit is None:
                quotas.pop(instance_type, None)
            else:
                quotas[instance_type] = limit

    def set_cancel_keeps_target(
        self, keeps: bool, *, account: str = DEFAULT_ACCOUNT, region: str = DEFAULT_REGION
    ) -> None:
        """Whether BatchDeleteClusterNodes of a node without an instance leaves its group's target
        as it was (the documented behaviour ebb assumes is that it lowers it; see RegionState)."""
        with self._lock:
            self._region(account, region)[0].cancel_keeps_target = keeps

    def inject_errors(self, operation: str, code: str = "ThrottlingException", *, times: int = 1) -> None:
        """Answer the next `times` calls of `operation` with `code` (throttling on demand)."""
        if code not in INJECTABLE_ERRORS:
            raise StandInMisuse(f"code: {code!r} is not one of {sorted(INJECTABLE_ERRORS)}")
        with self._lock:
            self._injected.setdefault(operation, deque()).extend([code] * times)

    def set_timings(
        self,
        cluster: str,
        group: str,
        timings: Timings | None = None,
        *,
        account: str = DEFAULT_ACCOUNT,
        region: str = DEFAULT_REGION,
        **changes: Any,
    ) -> None:
        """Set how long things take in `group` (a whole `Timings`, or some of its fields)."""
        with self._lock:
            found = self._group(cluster, group, account, region)
            found.timings = replace(timings or found.timings, **changes)

    def set_instance_group_status(
        self,
        cluster: str,
        group: str,
        status: str,
        *,
        account: str = DEFAULT_ACCOUNT,
        region: str = DEFAULT_REGION,
    ) -> None:
        """Hold `group` in `status` (e.g. Updating: node operations on it are refused)."""
        with self._lock:
            self._group(cluster, group, account, region).status = status

    def fail_launches(
        self,
        cluster: str,
        group: str,
        message: str = LIFECYCLE_FAILURE,
        *,
        times: int = 1,
        account: str = DEFAULT_ACCOUNT,
        region: str = DEFAULT_REGION,
    ) -> None:
        """The next `times` launches in `group` fail with `message` (not a capacity failure)."""
        with self._lock:
            self._group(cluster, group, account, region).failing_launches.extend([message] * times)

    def inject_fault(
        self,
        cluster: str,
        node: str,
        *,
        repair: str = "Replace",
        account: str = DEFAULT_ACCOUNT,
        region: str = DEFAULT_REGION,
    ) -> None:
        """The health agent finds a fault on `node` (instance id or NodeLogicalId) needing `repair`."""
        with self._lock:
            state, _, lifecycle = self._region(account, region)
            found_cluster = self._cluster(state, cluster)
            lifecycle.inject_fault(found_cluster, self._node(found_cluster, node), repair=repair)

    def interrupt_spot(
        self,
        cluster: str,
        node: str,
        *,
        notice_seconds: float = SPOT_NOTICE_SECONDS,
        account: str = DEFAULT_ACCOUNT,
        region: str = DEFAULT_REGION,
    ) -> None:
        """EC2 reclaims the Spot instance of `node` (instance id or NodeLogicalId), of a Spot group.

        What "Spot instances in Amazon SageMaker HyperPod" (Managing Node Interruption) says
        HyperPod does: with EC2's notice (`notice_seconds`, two minutes; 0: none, "EC2 may terminate
        Spot Instances immediately") it taints the node and evicts its pods (the Kubernetes side
        follows the INTERRUPTION_NOTICE transition: `ebb.local.cluster.membership`); then the
        instance terminates: ShuttingDown with the "EC2 instance termination in progress" cluster
        event, gone after the group's `shutdown_seconds`; then HyperPod replaces the capacity in
        the same group, whose target is unchanged (a new node, retried while the Spot pool has no
        room: `set_capacity(..., capacity_type="Spot")` says whether it has).
        """
        if notice_seconds < 0:
            raise StandInMisuse(f"notice_seconds: {notice_seconds} is negative")
        with self._lock:
            state, _, lifecycle = self._region(account, region)
            found_cluster = self._cluster(state, cluster)
            lifecycle.interrupt_spot(
                found_cluster, self._node(found_cluster, node), notice_seconds=notice_seconds
            )

    def add_node_observer(self, observer: NodeObserver) -> None:
        """Tell `observer` of every node transition from now on (see `transitions`)."""
        with self._lock:
            self._observers.append(observer)

    def remove_node_observer(self, observer: NodeObserver) -> None:
        """Stop telling `observer`."""
        with self._lock:
            self._observers.remove(observer)

    def kubernetes_labels(
        self, cluster: str, instance_id: str, *, account: str = DEFAULT_ACCOUNT, region: str = DEFAULT_REGION
    ) -> dict[str, str]:
        """The labels HyperPod puts on the Kubernetes node of `instance_id`: compute type, instance
        group, instance type, zone and region, the group's KubernetesConfig labels, and the health
        labels (Unschedulable and InProgress during deep health checks, then Schedulable and Passed;
        the health agent's verdict after a fault)."""
        with self._lock:
            found_cluster = self._cluster(self._region(account, region)[0], cluster)
            node = self._node(found_cluster, instance_id)
            group = found_cluster.groups[node.group]
            labels = {COMPUTE_TYPE_LABEL: "hyperpod", INSTANCE_GROUP_LABEL: node.group, REGION_LABEL: region}
            if node.instance_type:
                labels[INSTANCE_TYPE_LABEL] = node.instance_type
            if node.availability_zone:
                labels[ZONE_LABEL] = node.availability_zone
            labels.update(group.extra.get("KubernetesConfig", {}).get("CurrentLabels") or {})
            if node.status == DEEP_HEALTH_CHECK:
                labels[NODE_HEALTH_LABEL] = "Unschedulable"
                labels[DEEP_HEALTH_CHECK_LABEL] = "InProgress"
            elif node.health:
                labels[NODE_HEALTH_LABEL] = node.health
                if group.deep_health_checks and node.health == "Schedulable":
                    labels[DEEP_HEALTH_CHECK_LABEL] = "Passed"
            return labels

    def kubernetes_taints(
        self, cluster: str, instance_id: str, *, account: str = DEFAULT_ACCOUNT, region: str = DEFAULT_REGION
    ) -> list[dict[str, str]]:
        """The taints of the group's KubernetesConfig, as Kubernetes writes them (key, value, effect)."""
        with self._lock:
            found_cluster = self._cluster(self._region(account, region)[0], cluster)
            group = found_cluster.groups[self._node(found_cluster, instance_id).group]
            configured = group.extra.get("KubernetesConfig", {}).get("CurrentTaints") or []
            taints = []
            for taint in configured:
                entry = {"key": taint["Key"], "effect": taint["Effect"]}
                if taint.get("Value") is not None:
                    entry["value"] = taint["Value"]
                taints.append(entry)
            return taints

    def cluster(
        self, name: str, *, account: str = DEFAULT_ACCOUNT, region: str = DEFAULT_REGION
    ) -> SimCluster:
        """The state of cluster `name` (read it; change it only through the API or the controls)."""
        with self._lock:
            return self._cluster(self._region(account, region)[0], name)

    # -- lookups --------------------------------------------------------------------------------

    def _region(self, account: str, region: str) -> tuple[RegionState, RegionApi, NodeLifecycle]:
        key = (account, region)
        if key not in self._regions:
            state = RegionState(account=account, region=region)
            log = EventLog(self.world, account=account, region=region)
            lifecycle = NodeLifecycle(
                self.world, state, log, self._lock, self._observers, creation_seconds=self._creation_seconds
            )
            api = RegionApi(self.world, state, lifecycle, log, self._subnets)
            self._regions[key] = (state, api, lifecycle)
        return self._regions[key]

    @staticmethod
    def _cluster(state: RegionState, name: str) -> SimCluster:
        for cluster in state.clusters.values():
            if name in {cluster.name, cluster.arn}:
                return cluster
        raise StandInMisuse(f"no cluster {name!r} in {state.account}/{state.region}")

    def _group(self, cluster: str, group: str, account: str, region: str) -> SimGroup:
        found = self._cluster(self._region(account, region)[0], cluster).groups.get(group)
        if found is None:
            raise StandInMisuse(f"cluster {cluster!r} has no instance group {group!r}")
        return found

    @staticmethod
    def _node(cluster: SimCluster, node: str) -> SimNode:
        found = cluster.nodes.get(node) or cluster.node_by_instance(node)
        if found is None:
            raise StandInMisuse(f"cluster {cluster.name!r} has no node {node!r}")
        return found
