"""Kubernetes nodes that follow HyperPod's instances, as on a HyperPod cluster orchestrated by EKS.

On AWS, an instance of a HyperPod cluster whose orchestrator is an EKS cluster boots, runs its
lifecycle scripts and registers with that cluster as node `hyperpod-<instance id>`, labelled by
HyperPod (compute type, instance group, instance type, zone, health) and tainted with its
instance group's KubernetesConfig taints. Here the HyperPod stand-in's node transitions drive
the Kubernetes stand-in's membership the same way:

- Booted: the node joins, with capacity from the instance catalogue and allocatable after the
  kubelet's reservations (`capacity`); its GPUs become allocatable once the device plugin has
  registered them. With deep health checks on start, it joins labelled Unschedulable/InProgress
  and tainted `sagemaker.amazonaws.com/node-health-status=Unschedulable:NoSchedule`.
- Healthy after deep health checks: relabelled Schedulable/Passed, the taint lifted.
- Fault detected: the health agent's label (UnschedulablePendingReplacement or ...Reboot).
- Rebooting, then rebooted: NotReady, then Ready and Schedulable again (same node, same name).
- Replacement started: the faulty instance's node leaves (its pods are deleted, their
  controllers make Pending replacements); the new instance joins as a new node when it boots.
- Spot interruption notice: the node is cordoned and its pods evicted (budgets honoured); HyperPod
  documents a taint and the eviction, not the taint's key, so the stand-in cordons.
- Shutting down (BatchDeleteClusterNodes, a smaller group, a reclaimed Spot instance): the
  kubelet stops, the node turns NotReady; terminated: the node leaves and its pods go back to
  Pending as above.
- A group or cluster deleted: its nodes leave at once.

Only clusters orchestrated by the world's EKS cluster are followed; nodes of other HyperPod
clusters (another EKS cluster, Slurm) never join. Not modelled: pods restarting on a rebooted
node, and the node lifecycle controller marking pods NotReady on a NotReady node.
"""

from __future__ import annotations

from collections.abc import Callable

from ebb.config.catalogue import InstanceCatalogue
from ebb.local.cluster.capacity import instance_spec, kubelet_report
from ebb.local.hyperpod import LocalHyperPod, NodeChange, NodeTransition
from ebb.local.kubernetes import KubernetesStandIn

ARCH_LABEL = "kubernetes.io/arch"
HEALTH_LABEL = "sagemaker.amazonaws.com/node-health-status"


def node_name(instance_id: str) -> str:
    """The Kubernetes name of a HyperPod instance's node (`hyperpod-i-0123456789abcdef0`)."""
    return f"hyperpod-{instance_id}"


class KubernetesFollowsHyperPod:
    """A HyperPod node observer that keeps the Kubernetes stand-in's nodes in step."""

    def __init__(
        self,
        hyperpod: LocalHyperPod,
        kubernetes: KubernetesStandIn,
        *,
        eks_cluster_arn: str,
        catalogue: InstanceCatalogue,
        max_pods: int,
        after_each: Callable[[NodeTransition], None] | None = None,
    ) -> None:
        self._hyperpod = hyperpod
        self._kubernetes = kubernetes
        self._eks_cluster_arn = eks_cluster_arn
        self._catalogue = catalogue
        self._max_pods = max_pods
        self._after_each = after_each
        self._joined: set[str] = set()
        self._in_health_checks: set[str] = set()

    @property
    def joined(self) -> frozenset[str]:
        """Names of the nodes that joined and have not left."""
        return frozenset(self._joined)

    def on_transition(self, transition: NodeTransition) -> None:
        """Follow one HyperPod node transition (registered with `LocalHyperPod.add_node_observer`)."""
        if transition.eks_cluster_arn == self._eks_cluster_arn:
            self._follow(transition)
        if self._after_each is not None:
            self._after_each(transition)

    def _follow(self, transition: NodeTransition) -> None:
        change = transition.change
        if change is NodeChange.REPLACEMENT_STARTED and transition.previous_instance_id:
            self._leave(node_name(transition.previous_instance_id))
            return
        if transition.instance_id is None:
            return
        name = node_name(transition.instance_id)
        if change is NodeChange.BOOTED:
            self._join(transition, name)
        elif name not in self._joined:
            return  # the instance has not registered (still booting): nothing to follow
        elif change is NodeChange.HEALTHY and name in self._in_health_checks:
            self._in_health_checks.discard(name)
            self._kubernetes.node_health_checks_done(name, passed=True)
        elif change is NodeChange.REBOOTED and name in self._in_health_checks:
            # Rebooted in the middle of its deep health checks: HyperPod now calls it Running and
            # Schedulable, and abandons the checks; the node follows, untainted.
            self._in_health_checks.discard(name)
            self._kubernetes.node_health_checks_done(name, passed=True)
            self._kubernetes.set_node_ready(name, True)
        elif change in (NodeChange.FAULT_DETECTED, NodeChange.REBOOTED) and transition.health:
            health = transition.health
            self._kubernetes.update(
                "Node", name, lambda node: node["metadata"]["labels"].update({HEALTH_LABEL: health}), None
            )
            if change is NodeChange.REBOOTED:
                self._kubernetes.set_node_ready(name, True)
        elif change is NodeChange.INTERRUPTION_NOTICE:
            # HyperPod "taints the node" and "gracefully evicts pods" (Spot instances in Amazon
            # SageMaker HyperPod); the taint's key is not documented: here, a cordon's.
            self._kubernetes.drain_node(name)
        elif change in (NodeChange.REBOOTING, NodeChange.SHUTTING_DOWN):
            self._kubernetes.set_node_ready(name, False)
        elif change is NodeChange.TERMINATED:
            self._leave(name)

    def _join(self, transition: NodeTransition, name: str) -> None:
        assert transition.instance_id is not None
        assert transition.instance_type is not None
        spec = instance_spec(self._catalogue, transition.instance_type)
        report = kubelet_report(spec, max_pods=self._max_pods)
        where = {"account": transition.account, "region": transition.region}
        labels = self._hyperpod.kubernetes_labels(transition.cluster, transition.instance_id, **where)
        labels[ARCH_LABEL] = report.architecture
        taints = self._hyperpod.kubernetes_taints(transition.cluster, transition.instance_id, **where)
        deep_health_checks = transition.status == "DeepHealthCheckInProgress"
        self._kubernetes.node_joined(
            name,
            labels=labels,
            capacity=report.capacity,
            allocatable=report.allocatable,
            gpus=report.gpus,
            taints=taints,
            deep_health_checks=deep_health_checks,
            provider_id=f"aws:///{transition.availability_zone}/{transition.instance_id}",
        )
        self._joined.add(name)
        if deep_health_checks:
            self._in_health_checks.add(name)

    def _leave(self, name: str) -> None:
        if name in self._joined:
            self._joined.discard(name)
            self._in_health_checks.discard(name)
            self._kubernetes.node_left(name)
