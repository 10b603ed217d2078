"""Karpenter's scheduling approach, re-implemented as the baseline ebb's node plans are compared to.

The behaviour follows kubernetes-sigs/karpenter ``pkg/controllers/provisioning/scheduling``:

* pods are taken largest first: CPU, then memory, descending (``queue.go``
  ``byCPUAndMemoryDescending``); ties keep the input order;
* each pod goes onto the first existing or in-flight node it fits;
* otherwise onto the first open new node whose still-compatible instance types can hold it
  together with the pods already there (the node's type list narrows to those that can);
* otherwise it opens a new node with every compatible type that fits it, in the highest-weight
  NodePool that has one;
* when packing ends, each new node launches the cheapest type still compatible with its pods.

Daemonset overhead counts once per node, a type's allocatable is its capacity minus the kubelet
reservation, and offerings known to lack capacity are left out (as Karpenter's unavailable
offerings cache does). An instance group is one offering; paid-for groups cost nothing.

Simplifications, checked and refused rather than silently ignored: no NodePool limits, no group
maxima, and single-type instance groups only (Karpenter has no notion of HyperPod groups).
Identical pods are handled together (a pod that did not fit a node does not fit it later either),
which gives exactly the per-pod result, only faster. Arrays are numpy for the bench's 20k pods.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ebb.core.nodes.catalogue import NODEPOOL_LABEL, node_labels
from ebb.core.nodes.inputs import PlanningInput
from ebb.core.nodes.offerings import OfferingKey
from ebb.core.nodes.taints import blocking
from ebb.core.nodes.workload import NodeState

_ACCEPTING = (NodeState.READY, NodeState.REGISTERED, NodeState.LAUNCHING)
_STATE_ORDER = {NodeState.READY: 0, NodeState.REGISTERED: 1, NodeState.LAUNCHING: 2, NodeState.NOT_READY: 3}


@dataclass
class ReferenceNode:
    """A new node of the reference plan."""

    node_pool: str
    instance_group: str
    instance_type: str
    price: float
    pods: dict[str, int] = field(default_factory=dict)


@dataclass
class ReferencePlan:
    """What Karpenter's approach would do."""

    new_nodes: list[ReferenceNode]
    on_existing: dict[str, dict[str, int]]
    unplaced: dict[str, int]

    @property
    def cost_per_hour(self) -> float:
        """Price of the new nodes."""
        return float(sum(node.price for node in self.new_nodes))


@dataclass
class _Offering:
    pool: str
    weight: int
    group: str
    type_name: str
    allocatable: np.ndarray
    price: float
    labels: dict[str, str]


def _offerings(inp: PlanningInput) -> list[_Offering]:
    types = {t.name: t for t in inp.instance_types}
    groups = {g.name: g for g in inp.instance_groups}
    avoided = inp.unavailable.active(inp.now)
    offerings: list[_Offering] = []
    for pool in sorted(inp.node_pools, key=lambda p: (-p.weight, p.name)):
        if any(v is not None for v in pool.limits.as_vector()):
            raise NotImplementedError("the reference does not model NodePool limits")
        pool_labels = {**pool.template_labels(), NODEPOOL_LABEL: pool.name}
        overhead = np.array(pool.daemonset_overhead.vector, dtype=np.int64)
        for group_name in pool.instance_groups:
            instance_group = groups[group_name]
            if len(instance_group.instance_types) != 1 or instance_group.max_count is not None:
                raise NotImplementedError("the reference models single-type groups without maxima only")
            instance_type = types[instance_group.instance_types[0]]
            labels = node_labels(instance_group, instance_type, pool_labels)
            key = OfferingKey(
                instance_group=instance_group.name, instance_type=instance_type.name, zone=instance_group.zone
            )
            if not pool.admits(labels) or key in avoided:
                continue
            offerings.append(
                _Offering(
                    pool=pool.name,
                    weight=pool.weight,
                    group=instance_group.name,
                    type_name=instance_type.name,
                    allocatable=np.maximum(
                        np.array(instance_type.allocatable.vector, dtype=np.int64) - overhead, 0
                    ),
                    price=0.0 if instance_group.paid_for else instance_type.price_per_hour,
                    labels=labels,
                )
            )
    return offerings


@dataclass
class _Existing:
    name: str
    pool: str
    labels: dict[str, str]
    free: np.ndarray


def _existing_nodes(inp: PlanningInput) -> list[_Existing]:
    types = {t.name: t for t in inp.instance_types}
    groups = {g.name: g for g in inp.instance_groups}
    pod_groups = {g.name: g for g in inp.pod_groups}
    existing = []
    for pool in sorted(inp.node_pools, key=lambda p: (-p.weight, p.name)):
        members = sorted(
            (n for n in inp.nodes if n.node_pool == pool.name), key=lambda n: (_STATE_ORDER[n.state], n.name)
        )
        for node in members:
            if node.state not in _ACCEPTING or node.deleting or node.instance_type is None:
                continue
            instance_type = types[node.instance_type]
            free = np.array(instance_type.allocatable.vector, dtype=np.int64)
            free -= np.array(pool.daemonset_overhead.vector, dtype=np.int64)
            free -= np.array(node.unmanaged.vector, dtype=np.int64)
            for placed in node.pods:
                free -= np.array(pod_groups[placed.group].vector, dtype=np.int64) * placed.count
            labels = node_labels(
                groups[node.instance_group],
                instance_type,
                {**pool.template_labels(), NODEPOOL_LABEL: pool.name},
            )
            existing.append(_Existing(node.name, pool.name, labels, free))
    return existing


def karpenter_plan(inp: PlanningInput) -> ReferencePlan:
    """Plan ``inp`` the way Karpenter's provisioner would."""
    offerings = _offerings(inp)
    pools = {p.name: p for p in inp.node_pools}
    allocatable = np.array([o.allocatable for o in offerings], dtype=np.int64).reshape(-1, 4)
    prices = np.array([o.price for o in offerings])
    existing = _existing_nodes(inp)
    running: dict[str, int] = {}
    for node in inp.nodes:
        if not node.deleting:
            for placed in node.pods:
                running[placed.group] = running.get(placed.group, 0) + placed.count

    indexed = sorted(
        enumerate(inp.pod_groups),
        key=lambda pair: (-pair[1].requests.cpu_millis, -pair[1].requests.memory_bytes, pair[0]),
    )
    used = np.zeros((0, 4), dtype=np.int64)
    masks = np.zeros((0, len(offerings)), dtype=bool)
    envelopes = np.zeros((0, 4), dtype=np.int64)
    node_pods: list[dict[str, int]] = []
    on_existing: dict[str, dict[str, int]] = {}
    unplaced: dict[str, int] = {}

    for _, pods in indexed:
        remaining = max(pods.replicas - running.get(pods.name, 0), 0)
        if not remaining:
            continue
        request = np.array(pods.vector, dtype=np.int64)
        nonzero = request > 0
        divisor = np.where(nonzero, request, 1)
        tolerated = {name: not pods.untolerated(blocking(pool.taints)) for name, pool in pools.items()}

        for target in existing:
            if not remaining:
                break
            if not tolerated[target.pool] or not pods.selects(target.labels):
                continue
            take = min(remaining, max(int(np.min(target.free[nonzero] // request[nonzero])), 0))
            if take:
                np.subtract(target.free, request * take, out=target.free)
                placed_here = on_existing.setdefault(target.name, {})
                placed_here[pods.name] = placed_here.get(pods.name, 0) + take
                remaining -= take
        if not remaining:
            continue

        compatible = np.array(
            [tolerated[o.pool] and pods.selects(o.labels) for o in offerings], dtype=np.bool_
        )

        def per_type(
            base: np.ndarray,
            request: np.ndarray = request,
            divisor: np.ndarray = divisor,
            nonzero: np.ndarray = nonzero,
        ) -> np.ndarray:
            """How many more pods each type holds on top of ``base``."""
            room = (allocatable - base) // divisor
            fit: np.ndarray = np.min(np.where(nonzero, room, np.iinfo(np.int64).max), axis=1)
            return fit

        start = 0
        while remaining:
            joined = False
            if node_pods:
                candidates = np.nonzero(
                    np.all(used[start:] + request <= envelopes[start:], axis=1)
                    & np.any(masks[start:] & compatible, axis=1)
                )[0]
                for offset in candidates:
                    index = start + int(offset)
                    allowed = masks[index] & compatible
                    fit = np.where(allowed, per_type(used[index]), 0)
                    take = min(remaining, int(fit.max()))
                    if take <= 0:
                        continue
                    used[index] += request * take
                    masks[index] = allowed & (fit >= take)
                    envelopes[index] = allocatable[masks[index]].max(axis=0)
                    node_pods[index][pods.name] = node_pods[index].get(pods.name, 0) + take
                    remaining -= take
                    start = index
                    joined = True
                    break
            if joined:
                continue
            fresh = np.where(compatible, per_type(np.zeros(4, dtype=np.int64)), 0)
            if not offerings or fresh.max() <= 0:
                unplaced[pods.name] = unplaced.get(pods.name, 0) + remaining
                break
            # The highest-weight pool with a fitting compatible type opens the node.
            best_weight = max(o.weight for o, f in zip(offerings, fresh, strict=True) if f > 0)
            pool_name = next(
                o.pool for o, f in zip(offerings, fresh, strict=True) if f > 0 and o.weight == best_weight
            )
            fresh = np.where(np.array([o.pool == pool_name for o in offerings]), fresh, 0)
            take = min(remaining, int(fresh.max()))
            mask = fresh >= take
            used = np.vstack([used, request * take])
            masks = np.vstack([masks, mask])
            envelopes = np.vstack([envelopes, allocatable[mask].max(axis=0)])
            node_pods.append({pods.name: take})
            remaining -= take
            start = len(node_pods) - 1

    new_nodes = []
    for mask, contents in zip(masks, node_pods, strict=True):
        choices = np.nonzero(mask)[0]
        offering = offerings[int(choices[np.argmin(prices[choices])])]
        new_nodes.append(
            ReferenceNode(
                node_pool=offering.pool,
                instance_group=offering.group,
                instance_type=offering.type_name,
                price=offering.price,
                pods=contents,
            )
        )
    return ReferencePlan(new_nodes=new_nodes, on_existing=on_existing, unplaced=unplaced)
