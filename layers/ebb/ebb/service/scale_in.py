"""The provisioning workflow's scale-in: one task the state machine loops over until it is done.

Each step checks the execution's fence first (a superseded execution acts no more), reads the
removals' nodes and pods and the pool's nodes, asks the scale-in policy (`ebb.core.scale_in`)
what to do, and does it: cordon through the Kubernetes API, evict through the Eviction API (a
PodDisruptionBudget's 429 is tried again at the next step), BatchDeleteClusterNodes for nodes
that hold no pod any more, uncordon what is given up. A step that finds its execution superseded
uncordons the nodes this drain cordoned and ends. A node whose deletion fails (a `Failed` entry of
BatchDeleteClusterNodes) is asked for again with a backoff, and past its attempts given up,
recorded and counted for `<stack>-scale-in-delete-failed`. It returns the progress to pass to the
next step and how long to wait before it. Every step that acted, and the last, leaves an audit
entry on the pool.

A step is safe to retry: cordoning a cordoned node changes nothing, a pod already going is not
evicted again (and an eviction names the pod's UID, so a replacement of the same name is never
evicted by mistake), and the progress a failed step was given is given again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import boto3
from pydantic import BaseModel, ConfigDict, Field

from ebb.adapters.hyperpod import HyperPodCluster, SageMakerHyperPod
from ebb.adapters.hyperpod_models import ClusterNode, InstanceStatus
from ebb.adapters.hyperpod_requests import NodeDeletionRequest
from ebb.adapters.kubernetes import EksKubernetesClient, EvictionRefused, KubernetesCluster, Node, Pod
from ebb.adapters.kubernetes.objects import WorkloadRef
from ebb.adapters.operational_metrics import CloudWatchOperationalMetrics, OperationalMetrics
from ebb.adapters.state_table import AuditEntry, DynamoStateTable, StateTable
from ebb.config import EbbConfig
from ebb.config.durations import Duration
from ebb.config.node_planning import disruption, pod_group_name
from ebb.config.pod_spec import INSTANCE_GROUP_LABEL
from ebb.core.provisioning import Fence, FenceVerdict
from ebb.core.scale_in import (
    DeletionFailure,
    DrainProgress,
    DrainStep,
    NodeNow,
    Phase,
    PodOnNode,
    PoolBudget,
    Refusal,
    Removal,
    after_deletions,
    drain_step,
    release_superseded,
)
from ebb.service.configuration import load_for_stack
from ebb.service.decision import PoolState
from ebb.service.observe import DO_NOT_DISRUPT, target_of
from ebb.service.pool_mode import pool_mode
from ebb.service.provisioning_request import DecisionRequest
from ebb.service.settings import Settings

METRICS_NAMESPACE = "ebb"
DELETE_FAILED_METRIC = "ScaleInDeleteFailed"
"""Counted once per node whose deletion kept failing (`<stack>-scale-in-delete-failed` fires)."""
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
"""The kubelet marks the API's copy of a static pod with it (a "mirror pod")."""


class ScaleInState(BaseModel):
    """What one step hands the next (the state machine keeps it at `$.scaleIn`)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    progress: DrainProgress | None = None
    refusals: tuple[Refusal, ...] = ()
    """Evictions this step's PodDisruptionBudgets refused: counted by the next step."""
    wait_seconds: int = Field(0, ge=0, alias="waitSeconds")
    finished: bool = False
    superseded: bool = False
    actions: tuple[str, ...] = ()


@dataclass
class ScaleInTasks:
    """The scale-in task of the provisioning state machine."""

    config: EbbConfig
    table: StateTable
    kubernetes: KubernetesCluster
    hyperpod: HyperPodCluster
    metrics: OperationalMetrics | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> ScaleInTasks:
        loaded = load_for_stack(
            settings.config_dir,
            hyperpod_cluster=settings.hyperpod_cluster,
            eks_cluster=settings.eks_cluster,
            region=settings.region,
        )
        return cls(
            config=loaded.config,
            table=DynamoStateTable(
                settings.state_table, audit_retention=settings.audit_retention, region_name=settings.region
            ),
            kubernetes=EksKubernetesClient.for_eks_cluster(
                settings.eks_cluster, session=boto3.Session(region_name=settings.region)
            ),
            hyperpod=SageMakerHyperPod(settings.hyperpod_cluster, region_name=settings.region),
            metrics=CloudWatchOperationalMetrics(METRICS_NAMESPACE, region_name=settings.region),
        )

    def step(
        self, request: DecisionRequest, state: ScaleInState, *, execution: str, now: datetime
    ) -> ScaleInState:
        """One step of the scale-in of `request`, given what the previous step handed on."""
        stored = self.table.load_pool(request.node_pool)
        pool_state = PoolState.model_validate_json(stored.state_json) if stored.state_json else PoolState()
        fence = Fence(
            generation=request.generation,
            config_version=request.config_version,
            pool_generation=pool_state.generation,
            current_config_version=self.table.current_config_sequence(),
            mode=pool_mode(self.config, stored),
        )
        pool = self.config.node_pool(request.node_pool)
        if pool is None:
            raise ValueError(f"node pool {request.node_pool!r} is not in the configuration")
        groups = tuple(g.name for g in self.config.instance_groups_of(pool))
        if not fence.current:
            # A newer generation or configuration owns the pool: act no more (its own execution
            # takes over), but release the nodes this drain cordoned: decide leaves cordoned
            # nodes out of the targets and the newer execution does not drain a node it did not
            # cordon, so nobody else would ever uncordon them. The scale-out before this step
            # saw this generation recorded, so "not recorded" is treated as superseded too.
            return self._release(request, state, fence, groups, execution=execution, now=now)
        progress = state.progress or DrainProgress.start(
            (Removal(node=r.node, instance_group=r.instance_group, kind=r.kind) for r in request.removals),
            now,
        )

        selector = f"{INSTANCE_GROUP_LABEL} in ({','.join(groups)})"
        pool_nodes = {node.name: node for node in self.kubernetes.list_nodes(selector)}
        targets = {pod_group_name(so): target_of(so) for so in self.config.scaled_objects_of(pool)}
        wanted = {
            r.node
            for r in progress.removals
            if r.phase in (Phase.WAITING, Phase.DRAINING, Phase.DELETE_RETRY)
        }
        observed = [
            _node_now(pool_nodes[name], self.kubernetes.pods_on_node(name), targets)
            for name in sorted(wanted)
            if name in pool_nodes
        ]
        hyperpod_nodes = [n for n in self.hyperpod.list_nodes() if n.instance_group in groups]
        joined = list(pool_nodes.values())
        plan = drain_step(
            progress,
            observed,
            budget=PoolBudget(
                budgets=disruption(pool).budgets,
                total_nodes=len(joined),
                disrupting=sum(1 for n in joined if n.spec.unschedulable or not n.is_ready),
            ),
            targets_satisfied=_targets_satisfied(request.node_targets, joined, hyperpod_nodes),
            termination_grace_period=_grace_period(pool.spec.template.spec.termination_grace_period),
            now=now,
            refusals=state.refusals,
        )
        actions, refusals, failures = self._carry_out(plan, hyperpod_nodes, pool_nodes)
        plan = after_deletions(plan, failures, now)
        given_up = [r for r in plan.progress.removals if r.phase is Phase.DELETE_FAILED]
        newly_given_up = [r for r in given_up if r.node in {f.node for f in failures}]
        if newly_given_up:
            # Never silently forgotten: counted for its alarm and recorded with the last error.
            if self.metrics is not None:
                for _ in newly_given_up:
                    self.metrics.count(DELETE_FAILED_METRIC, now)
                    self.metrics.count(DELETE_FAILED_METRIC, now, {"NodePool": request.node_pool})
            actions.extend(f"gave up deleting {r.node}: {r.reason}" for r in newly_given_up)
        if actions or plan.finished:
            self._record(request, execution, plan, actions, now)
        return ScaleInState(
            progress=plan.progress,
            refusals=tuple(refusals),
            wait_seconds=plan.wait_seconds,
            finished=plan.finished,
            actions=tuple(actions),
        )

    def _release(
        self,
        request: DecisionRequest,
        state: ScaleInState,
        fence: Fence,
        groups: tuple[str, ...],
        *,
        execution: str,
        now: datetime,
    ) -> ScaleInState:
        if state.progress is None:
            return ScaleInState(superseded=True)
        owner = (
            f"generation {fence.pool_generation}"
            if fence.verdict is FenceVerdict.NEWER_GENERATION
            else f"configuration version {fence.current_config_version}"
        )
        plan = release_superseded(
            state.progress, reason=f"superseded: {owner} owns the pool; the drain is given up"
        )
        actions: list[str] = []
        if plan.release:
            selector = f"{INSTANCE_GROUP_LABEL} in ({','.join(groups)})"
            present = {node.name: node for node in self.kubernetes.list_nodes(selector)}
            for release in plan.release:
                node = present.get(release.node)
                if node is None:
                    actions.append(f"{release.node} is gone")
                elif not node.spec.unschedulable:
                    actions.append(f"{release.node} is not cordoned any more")
                else:
                    self.kubernetes.uncordon(release.node)
                    actions.append(f"uncordoned {release.node}: {release.reason}")
        if plan.progress != state.progress:
            self._record(request, execution, plan, actions, now, event="scale-in-superseded")
        return ScaleInState(progress=plan.progress, superseded=True, actions=tuple(actions))

    def _carry_out(
        self, plan: DrainStep, hyperpod_nodes: list[ClusterNode], pool_nodes: Mapping[str, Node]
    ) -> tuple[list[str], list[Refusal], list[DeletionFailure]]:
        actions: list[str] = []
        refusals: list[Refusal] = []
        failures: list[DeletionFailure] = []
        # Cordon first: nothing new lands on a node while its pods are evicted.
        for name in plan.cordon:
            self.kubernetes.cordon(name)
            actions.append(f"cordoned {name}")
        for pod in plan.evict:
            try:
                outcome = self.kubernetes.evict(pod.namespace, pod.name, uid=pod.uid)
            except EvictionRefused as refused:
                message = "; ".join(refused.budget_messages) or str(refused)
                refusals.append(Refusal(node=pod.node, message=message))
                actions.append(f"eviction of {pod.namespace}/{pod.name} refused: {message}")
                continue
            actions.append(
                f"evicted {pod.namespace}/{pod.name}"
                if outcome == "evicted"
                else f"{pod.namespace}/{pod.name} already gone"
            )
        if plan.delete:
            by_instance = {n.instance_id: n for n in hyperpod_nodes if n.instance_id}
            ids = []
            node_of: dict[str, str] = {}
            for node in plan.delete:
                instance = _instance_id(pool_nodes.get(node.node))
                if instance is None or instance not in by_instance:
                    actions.append(f"{node.node} has no HyperPod instance any more")
                    continue
                ids.append(instance)
                node_of[instance] = node.node
            for start in range(0, len(ids), 99):
                deleted = self.hyperpod.delete_nodes(
                    NodeDeletionRequest(node_ids=tuple(ids[start : start + 99]))
                )
                actions.extend(f"deleted {i}" for i in deleted.deleted_ids)
                actions.extend(f"deletion of {f.node} failed: {f.code} {f.message}" for f in deleted.failed)
                failures.extend(
                    DeletionFailure(
                        node=node_of.get(f.node, f.node), code=f.code.value, message=f.message or ""
                    )
                    for f in deleted.failed
                    # Not found: HyperPod has no such instance any more, it is gone, not failing.
                    if f.node not in deleted.already_gone
                )
        for release in plan.release:
            self.kubernetes.uncordon(release.node)
            actions.append(f"uncordoned {release.node}: {release.reason}")
        return actions, refusals, failures

    def _record(
        self,
        request: DecisionRequest,
        execution: str,
        plan: DrainStep,
        actions: list[str],
        now: datetime,
        *,
        event: str | None = None,
    ) -> None:
        self.table.append_audit(
            [
                AuditEntry(
                    subject=f"POOL#{request.node_pool}",
                    at=now,
                    record={
                        "at": now.isoformat(),
                        "event": event or ("scale-in-finished" if plan.finished else "scale-in-step"),
                        "execution": execution,
                        "generation": request.generation,
                        "actions": actions,
                        "removals": [
                            {
                                "node": r.node,
                                "instanceGroup": r.instance_group,
                                "kind": r.kind.value,
                                "phase": r.phase.value,
                                "reason": r.reason,
                                "evictionRefusals": r.refusals,
                            }
                            for r in plan.progress.removals
                        ],
                    },
                )
            ]
        )


def _grace_period(value: Duration | None) -> timedelta | None:
    # Validation refuses `Never` here; absent, the policy's stated default applies.
    return None if value is None or value.seconds is None else timedelta(seconds=value.seconds)


def _instance_id(node: Node | None) -> str | None:
    if node is None:
        return None
    provider = node.spec.provider_id or ""
    return provider.rsplit("/", 1)[-1] or None


def _targets_satisfied(
    targets: Mapping[str, int], joined: list[Node], hyperpod_nodes: list[ClusterNode]
) -> bool:
    """Every group has at least its target of usable nodes: running, joined, ready, not cordoned."""
    running = {n.instance_id for n in hyperpod_nodes if n.instance_id and n.status is InstanceStatus.RUNNING}
    usable: dict[str, int] = {}
    for node in joined:
        group = node.labels.get(INSTANCE_GROUP_LABEL)
        if group and node.is_ready and not node.spec.unschedulable and _instance_id(node) in running:
            usable[group] = usable.get(group, 0) + 1
    return all(usable.get(group, 0) >= target for group, target in targets.items())


def _node_now(node: Node, pods: list[Pod], targets: Mapping[str, WorkloadRef]) -> NodeNow:
    return NodeNow(
        name=node.name,
        cordoned=node.spec.unschedulable,
        do_not_disrupt=node.metadata.annotations.get(DO_NOT_DISRUPT) == "true",
        pods=tuple(_pod_on_node(pod, targets) for pod in pods),
    )


def _pod_on_node(pod: Pod, targets: Mapping[str, WorkloadRef]) -> PodOnNode:
    controller = pod.metadata.controller
    kind = controller.kind if controller is not None else None
    return PodOnNode(
        namespace=pod.namespace,
        name=pod.name,
        uid=pod.metadata.uid,
        managed=_scaler_of(pod, targets) is not None,
        daemon=kind == "DaemonSet",
        mirror=kind == "Node" or MIRROR_ANNOTATION in pod.metadata.annotations,
        finished=pod.status.phase in ("Succeeded", "Failed"),
        terminating=pod.is_terminating,
        do_not_disrupt=pod.metadata.annotations.get(DO_NOT_DISRUPT) == "true",
    )


def _scaler_of(pod: Pod, targets: Mapping[str, WorkloadRef]) -> str | None:
    """The scaler whose target controls `pod`: a ReplicaSet `<deployment>-<pod-template-hash>`
    of its Deployment, or its StatefulSet (the controller reference alone tells)."""
    controller = pod.metadata.controller
    if controller is None:
        return None
    kind, name = controller.kind, controller.name
    if kind == "ReplicaSet":
        template_hash = pod.metadata.labels.get("pod-template-hash")
        if not template_hash or not name.endswith(f"-{template_hash}"):
            return None
        kind, name = "Deployment", name[: -len(template_hash) - 1]
    for scaler, target in targets.items():
        if (target.kind, target.namespace, target.name) == (kind, pod.namespace, name):
            return scaler
    return None
