"""Pinned, seeded generators of node-planning problems, for the tests and ``bench/bench_nodes.py``.

Every generator takes a seed and returns the same :class:`PlanningInput` for it, on any machine
(``numpy.random.default_rng`` streams are stable across platforms). Instance types get one
instance group each, in one zone, so that the Karpenter reference and the MILP oracle see the same
choice the planner sees. Prices follow one rule: a fixed cost per node, a price per vCPU and per
GiB that depends on the family, a premium per GPU, and a per-type jitter.

* :func:`small_instance`: at most 12 pods and 8 instance types, discrete GPU counts; the exact
  optimum is computable, so these pin the planner's quality.
* :func:`fleet_instance`: thousands of pods of continuous shapes, a tenth of them asking for
  1, 2, 4 or 8 GPUs, over 400 instance types.
* :func:`hyperpod_instance`: 3 to 8 GPU instance groups of real HyperPod instance types and
  thousands of GPU pods.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from ebb.core.nodes.catalogue import INSTANCE_TYPE_LABEL, InstanceGroup, InstanceType
from ebb.core.nodes.inputs import PlanningInput
from ebb.core.nodes.nodepool import NodePool
from ebb.core.nodes.quantities import GIB, MIB, Resources
from ebb.core.nodes.requirements import NodeSelectorTerm, Operator, Requirement
from ebb.core.nodes.workload import PodGroup

EPOCH = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)
ZONE = "us-west-2a"
DAEMONSET_OVERHEAD = Resources(cpu_millis=200, memory_bytes=256 * MIB)
FIXED_COST_PER_NODE = 0.06
"""Dollars per hour every node costs whatever its size (root volume, agents, per-node fees)."""


def eks_kube_reserved(vcpus: int, max_pods: int) -> Resources:
    """The kubelet reservation of the EKS AMIs: a CPU share by core tiers, 11 MiB per pod plus 255 MiB."""
    millis = 60.0
    if vcpus > 1:
        millis += 10.0
    if vcpus > 2:
        millis += 5.0 * min(vcpus - 2, 2)
    if vcpus > 4:
        millis += 2.5 * (vcpus - 4)
    return Resources(cpu_millis=int(millis), memory_bytes=(11 * max_pods + 255) * MIB)


def eks_max_pods(vcpus: int) -> int:
    """A plausible pod limit: small instances have few network interfaces, large ones hit 110."""
    if vcpus <= 2:
        return 29
    if vcpus <= 8:
        return 58
    return 110


def _price(rng: np.random.Generator, vcpus: int, memory_gib: float, gpus: int, gpu_premium: float) -> float:
    base = FIXED_COST_PER_NODE + 0.031 * vcpus + 0.0042 * memory_gib + gpu_premium * gpus
    return round(float(base * rng.uniform(0.9, 1.1)), 5)


def _pool(groups: list[InstanceGroup], overhead: Resources = DAEMONSET_OVERHEAD) -> NodePool:
    return NodePool(
        name="default", instance_groups=tuple(g.name for g in groups), daemonset_overhead=overhead
    )


def _groups(types: list[InstanceType]) -> list[InstanceGroup]:
    return [InstanceGroup(name=f"ig-{t.name}", zone=ZONE, instance_types=(t.name,)) for t in types]


def small_instance(seed: int, max_pods: int = 12, max_types: int = 8, max_shapes: int = 6) -> PlanningInput:
    """A small problem whose optimum an integer-programming solver finds quickly."""
    rng = np.random.default_rng([7001, seed, max_pods, max_shapes])
    types: list[InstanceType] = []
    for index in range(int(rng.integers(2, max_types + 1))):
        gpus = int(rng.choice([0, 0, 0, 1, 2, 4, 8]))
        vcpus = int(rng.choice([2, 4, 8, 16, 32, 48, 64, 96]))
        if gpus:
            vcpus = max(vcpus, 4 * gpus)
        memory_gib = vcpus * int(rng.choice([2, 4, 8]))
        pod_limit = int(rng.choice([4, 8, 16, 29, 58, 110]))
        types.append(
            InstanceType(
                name=f"t{index}-{vcpus}c{memory_gib}g{gpus}",
                vcpus=vcpus,
                memory_mib=memory_gib * 1024,
                gpus=gpus,
                max_pods=pod_limit,
                price_per_hour=_price(rng, vcpus, memory_gib, gpus, float(rng.uniform(0.8, 3.0))),
                kube_reserved=eks_kube_reserved(vcpus, pod_limit),
            )
        )
    groups = _groups(types)
    pool = _pool(groups)
    room = [t.allocatable.minus(pool.daemonset_overhead) for t in types]
    pod_groups: list[PodGroup] = []
    total = int(rng.integers(1, max_pods + 1))
    shapes = int(rng.integers(1, min(total, max_shapes) + 1))
    cuts = (
        sorted(rng.choice(np.arange(1, total), size=shapes - 1, replace=False).tolist()) if shapes > 1 else []
    )
    counts = [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]
    for index, count in enumerate(counts):
        for _attempt in range(100):
            gpus = int(rng.choice([1, 2, 4, 8])) if rng.random() < 0.3 else 0
            requests = Resources(
                cpu_millis=int(rng.integers(100, 16_000)),
                memory_bytes=int(rng.integers(128, 64 * 1024)) * MIB,
                gpus=gpus,
            )
            selected = None
            if rng.random() < 0.2:
                subset = [t.name for t in types if rng.random() < 0.6]
                if subset:
                    selected = subset
            allowed = [r for r, t in zip(room, types, strict=True) if selected is None or t.name in selected]
            if any(requests.fits_in(r) for r in allowed):
                break
        else:  # pragma: no cover - the pinned seeds always find a shape
            raise RuntimeError(f"seed {seed}: no shape fits")
        affinity: tuple[NodeSelectorTerm, ...] = ()
        if selected is not None:
            affinity = (
                NodeSelectorTerm(
                    match_expressions=(
                        Requirement(key=INSTANCE_TYPE_LABEL, operator=Operator.IN, values=tuple(selected)),
                    )
                ),
            )
        pod_groups.append(
            PodGroup(name=f"s{index}", replicas=count, requests=requests, node_affinity=affinity)
        )
    return PlanningInput(
        now=EPOCH,
        pod_groups=tuple(pod_groups),
        node_pools=(pool,),
        instance_groups=tuple(groups),
        instance_types=tuple(types),
    )


_FAMILIES = (
    # name, GiB per vCPU, price per vCPU-hour multiplier
    ("c", 2, 0.95),
    ("m", 4, 1.0),
    ("r", 8, 1.05),
    ("x", 16, 1.15),
)
_SIZES = (2, 4, 8, 16, 32, 48, 64, 96, 128, 192)
_GPU_FAMILIES = (
    # name, premium per GPU-hour, (gpus, vcpus, memory GiB) sizes
    ("g4", 0.35, ((1, 4, 16), (1, 8, 32), (4, 48, 192), (8, 96, 384))),
    ("g5", 0.75, ((1, 4, 16), (1, 16, 64), (4, 48, 192), (8, 192, 768))),
    ("g6", 0.6, ((1, 4, 16), (2, 24, 96), (4, 48, 192), (8, 192, 768))),
    ("g6e", 1.4, ((1, 4, 32), (2, 24, 256), (4, 48, 384), (8, 192, 1536))),
    ("p4", 3.8, ((8, 96, 1152),)),
    ("p5", 7.5, ((8, 192, 2048),)),
)


def fleet_types(rng: np.random.Generator, count: int = 400) -> list[InstanceType]:
    """``count`` instance types: CPU families of several generations and GPU families, jittered prices."""
    types: list[InstanceType] = []
    generation = 0
    while len(types) < count:
        generation += 1
        for family, ratio, multiplier in _FAMILIES:
            for vcpus in _SIZES:
                if len(types) >= count:
                    break
                memory_gib = vcpus * ratio
                max_pods = eks_max_pods(vcpus)
                price = _price(rng, vcpus, memory_gib, 0, 0.0) * multiplier
                types.append(
                    InstanceType(
                        name=f"{family}{generation}.{vcpus}x",
                        vcpus=vcpus,
                        memory_mib=memory_gib * 1024,
                        max_pods=max_pods,
                        arch="arm64" if generation % 3 == 0 else "amd64",
                        price_per_hour=round(price, 5),
                        kube_reserved=eks_kube_reserved(vcpus, max_pods),
                    )
                )
        for family, premium, sizes in _GPU_FAMILIES:
            for gpus, vcpus, memory_gib in sizes:
                if len(types) >= count:
                    break
                max_pods = eks_max_pods(vcpus)
                types.append(
                    InstanceType(
                        name=f"{family}v{generation}.{gpus}g{vcpus}c",
                        vcpus=vcpus,
                        memory_mib=memory_gib * 1024,
                        gpus=gpus,
                        max_pods=max_pods,
                        price_per_hour=_price(rng, vcpus, memory_gib, gpus, premium),
                        kube_reserved=eks_kube_reserved(vcpus, max_pods),
                    )
                )
    return types


def fleet_instance(seed: int, pods: int, type_count: int = 400, mean_replicas: float = 20.0) -> PlanningInput:
    """``pods`` pods in deployments of continuous shapes; a tenth ask for 1, 2, 4 or 8 GPUs."""
    rng = np.random.default_rng([7002, seed, pods])
    types = fleet_types(rng, type_count)
    groups = _groups(types)
    pool = _pool(groups)
    largest_gpu_room = {
        gpus: max(
            (t.allocatable.minus(pool.daemonset_overhead) for t in types if t.gpus >= gpus),
            key=lambda r: r.cpu_millis,
        )
        for gpus in (1, 2, 4, 8)
    }
    pod_groups: list[PodGroup] = []
    placed = 0
    gpu_pods = 0
    while placed < pods:
        replicas = min(int(rng.geometric(1.0 / mean_replicas)), pods - placed)
        wants_gpu = gpu_pods < 0.1 * (placed + replicas) and rng.random() < 0.5
        if wants_gpu:
            gpus = int(rng.choice([1, 2, 4, 8], p=[0.5, 0.25, 0.15, 0.1]))
            room = largest_gpu_room[gpus]
            cpu = int(min(rng.uniform(2.0, 6.0) * gpus * 1000, room.cpu_millis // max(1, 8 // gpus)))
            memory = int(min(rng.uniform(8, 24) * gpus * GIB, room.memory_bytes // max(1, 8 // gpus)))
            gpu_pods += replicas
        else:
            gpus = 0
            cpu = int(np.clip(rng.lognormal(np.log(500), 1.0), 50, 16_000))
            ratio = float(np.clip(rng.lognormal(np.log(2.0), 0.7), 0.25, 16.0))
            memory = int(np.clip(cpu / 1000 * ratio * GIB, 64 * MIB, 128 * GIB))
        memory -= memory % MIB
        pod_groups.append(
            PodGroup(
                name=f"d{len(pod_groups)}",
                replicas=replicas,
                requests=Resources(cpu_millis=cpu, memory_bytes=memory, gpus=gpus),
            )
        )
        placed += replicas
    return PlanningInput(
        now=EPOCH,
        pod_groups=tuple(pod_groups),
        node_pools=(pool,),
        instance_groups=tuple(groups),
        instance_types=tuple(types),
    )


HYPERPOD_TYPES = (
    # name, vCPUs, memory GiB, GPUs, $/h (approximate on-demand list prices, for relative costs only)
    ("ml.g5.xlarge", 4, 16, 1, 1.41),
    ("ml.g5.2xlarge", 8, 32, 1, 1.52),
    ("ml.g5.12xlarge", 48, 192, 4, 7.09),
    ("ml.g5.48xlarge", 192, 768, 8, 20.36),
    ("ml.g6.12xlarge", 48, 192, 4, 5.87),
    ("ml.g6e.2xlarge", 8, 64, 1, 2.81),
    ("ml.p4d.24xlarge", 96, 1152, 8, 37.69),
    ("ml.p5.48xlarge", 192, 2048, 8, 113.07),
)


def hyperpod_instance(seed: int, pods: int = 2000) -> PlanningInput:
    """3 to 8 GPU instance groups of HyperPod types and ``pods`` GPU pods of 1, 2, 4 or 8 GPUs.

    Each model is sized for one instance type: it asks for its share of that type's allocatable
    (by GPU count) times 50-95 %, and most models are pinned to that type's family with a required
    node affinity (a model tuned for an A100 is not moved to an A10G); the rest run anywhere they fit.
    """
    rng = np.random.default_rng([7003, seed, pods])
    count = int(rng.integers(3, len(HYPERPOD_TYPES) + 1))
    chosen = set(rng.choice(len(HYPERPOD_TYPES), size=count, replace=False).tolist())
    chosen.add(3)  # ml.g5.48xlarge: every pod shape has an 8-GPU home
    types = []
    for index in sorted(chosen):
        name, vcpus, memory_gib, gpus, price = HYPERPOD_TYPES[index]
        max_pods = eks_max_pods(vcpus)
        types.append(
            InstanceType(
                name=name,
                vcpus=vcpus,
                memory_mib=memory_gib * 1024,
                gpus=gpus,
                max_pods=max_pods,
                price_per_hour=price,
                kube_reserved=eks_kube_reserved(vcpus, max_pods),
            )
        )
    groups = _groups(types)
    pool = _pool(groups)
    rooms = {t.name: t.allocatable.minus(pool.daemonset_overhead) for t in types}
    pod_groups: list[PodGroup] = []
    placed = 0
    while placed < pods:
        replicas = min(int(rng.geometric(1.0 / 40)), pods - placed)
        home = types[int(rng.integers(len(types)))]
        gpus = int(rng.choice([g for g in (1, 2, 4, 8) if g <= home.gpus]))
        room = rooms[home.name]
        share = gpus / home.gpus * rng.uniform(0.5, 0.95)
        memory = int(room.memory_bytes * share)
        memory -= memory % MIB
        family = home.name.rsplit(".", 1)[0]
        affinity: tuple[NodeSelectorTerm, ...] = ()
        if rng.random() < 0.6:
            members = tuple(t.name for t in types if t.name.rsplit(".", 1)[0] == family)
            affinity = (
                NodeSelectorTerm(
                    match_expressions=(
                        Requirement(key=INSTANCE_TYPE_LABEL, operator=Operator.IN, values=members),
                    )
                ),
            )
        pod_groups.append(
            PodGroup(
                name=f"model{len(pod_groups)}",
                replicas=replicas,
                requests=Resources(cpu_millis=int(room.cpu_millis * share), memory_bytes=memory, gpus=gpus),
                node_affinity=affinity,
            )
        )
        placed += replicas
    return PlanningInput(
        now=EPOCH,
        pod_groups=tuple(pod_groups),
        node_pools=(pool,),
        instance_groups=tuple(groups),
        instance_types=tuple(types),
    )
