"""Which NodePool plans nodes for a pending pod that no scaler owns.

Exactly one pool may, or two pools deciding in parallel would both launch a node for it. Karpenter
offers a pod to its NodePools in one order and the first compatible pool takes it: larger
``weight`` first and, between equal weights, the name later in the alphabet first
(kubernetes-sigs/karpenter ``pkg/utils/nodepool/nodepool.go``, ``OrderByWeight``). A pool is
compatible when one of its instance groups would give a node the pod selects, whose taints the pod
tolerates, and whose instance type can hold the pod at all.
"""

from __future__ import annotations

from ebb.config import EbbConfig
from ebb.config.node_planning import pool_statics
from ebb.config.node_planning import taint as core_taint
from ebb.core.nodes import PodGroup
from ebb.core.nodes.catalogue import node_labels
from ebb.core.nodes.quantities import add, fits
from ebb.service.decision.snapshot import PendingPod


def pending_pod_group(pod: PendingPod) -> PodGroup:
    """The pod as a pod group of one, named so that it cannot collide with a scaler's group."""
    return PodGroup(
        name=f"pending:{pod.qualified_name}",
        replicas=1,
        requests=pod.requests,
        node_selector=pod.node_selector,
        node_affinity=pod.node_affinity,
        tolerations=pod.tolerations,
        namespace=pod.namespace,
        labels=pod.labels,
        **pod.constraints.fields(),
    )


def _pool_takes(config: EbbConfig, pool_name: str, pods: PodGroup) -> bool:
    statics = pool_statics(config, pool_name)
    pool = statics.node_pool
    types = {t.name: t for t in statics.instance_types}
    template_labels = pool.template_labels()
    for group in statics.instance_groups:
        facts = config.instance_group(group.name)
        if facts is None:  # pragma: no cover - a valid configuration states every pool group
            continue
        instance_type = types[facts.instance_type]
        labels = node_labels(group, instance_type, template_labels)
        labels.update(facts.labels)
        taints = pool.taints + tuple(core_taint(t) for t in facts.taints)
        if not pool.admits(labels) or not pods.selects(labels) or pods.untolerated(taints):
            continue
        need = add(pods.requests.vector, pool.daemonset_overhead.vector)
        # Pod slots aside (the planner counts those), every resource counts: EFA, MIG, Neuron too.
        if fits((need[0], need[1], need[2], 0, *need[4:]), instance_type.allocatable.vector):
            return True
    return False


def owning_pool(config: EbbConfig, pod: PendingPod) -> str | None:
    """The NodePool that plans for `pod`, or ``None`` when no pool can take it."""
    by_name = sorted(config.node_pools, key=lambda p: p.name, reverse=True)
    ordered = sorted(by_name, key=lambda p: -(p.spec.weight or 0))  # stable: names stay descending
    group = pending_pod_group(pod)
    for pool in ordered:
        if _pool_takes(config, pool.name, group):
            return pool.name
    return None
