"""Extended resources (EFA, MIG profiles, Neuron) and NodePool limits on `pods` and any resource name.

Rules mirrored:

* kube-scheduler's NodeResourcesFit filter compares every requested resource, extended ones
  included, with the node's allocatable (kubernetes/kubernetes
  pkg/scheduler/framework/plugins/noderesources/fit.go ``fitsRequest``; fit_test.go
  ``TestEnoughRequests`` cases "extended resource fits", "extended resource capacity enforced",
  "extended resource allocatable enforced for unknown resource").
* Karpenter's NodePool ``spec.limits`` is a ``corev1.ResourceList``: any resource name, each
  compared with the sum of the capacity of the pool's nodes (kubernetes-sigs/karpenter
  pkg/apis/v1/nodepool.go ``type Limits v1.ResourceList``, ``ExceededBy``; the provisioning
  suite's "Resource Limits" context, pkg/controllers/provisioning/suite_test.go: "should schedule
  if limits would be met", "should partially schedule if limits would be exceeded").
"""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from ebb.core.nodes import (
    InstanceGroup,
    InstanceType,
    NodePlans,
    NodePool,
    PlanningInput,
    PodGroup,
    PoolLimits,
    Resources,
    UnplacedReason,
    plan_nodes,
)

NOW = datetime(2025, 1, 6, 12, tzinfo=UTC)
EFA = "vpc.amazonaws.com/efa"
NEURON = "aws.amazon.com/neuron"
MIG = "nvidia.com/mig-1g.10gb"

GPU_EFA = InstanceType(
    name="gpu-efa", vcpus=192, memory_mib=2048 * 1024, gpus=8, extended={EFA: 32}, price_per_hour=60.0
)
GPU_PLAIN = InstanceType(name="gpu-plain", vcpus=192, memory_mib=768 * 1024, gpus=8, price_per_hour=20.0)
TRAINIUM = InstanceType(
    name="trainium", vcpus=128, memory_mib=512 * 1024, extended={NEURON: 16, EFA: 8}, price_per_hour=21.5
)
MIG_NODE = InstanceType(name="mig", vcpus=96, memory_mib=1152 * 1024, extended={MIG: 56}, price_per_hour=32.0)
CPU_NODE = InstanceType(name="cpu", vcpus=8, memory_mib=32 * 1024, price_per_hour=0.4)


def group_of(instance_type: InstanceType, **fields: object) -> InstanceGroup:
    return InstanceGroup.model_validate(
        {"name": f"ig-{instance_type.name}", "zone": "z1", "instance_types": (instance_type.name,), **fields}
    )


def pods(name: str, replicas: int, cpu: str = "1", gpus: int = 0, **extended: int) -> PodGroup:
    names = {"efa": EFA, "neuron": NEURON, "mig": MIG}
    return PodGroup(
        name=name,
        replicas=replicas,
        requests=Resources.of(
            cpu=cpu, memory="1Gi", gpus=gpus, extended={names.get(k, k): v for k, v in extended.items()}
        ),
    )


def plan(
    workload: list[PodGroup],
    types: tuple[InstanceType, ...],
    limits: PoolLimits | None = None,
    groups: tuple[InstanceGroup, ...] | None = None,
) -> NodePlans:
    groups = groups if groups is not None else tuple(group_of(t) for t in types)
    return plan_nodes(
        PlanningInput(
            now=NOW,
            pod_groups=tuple(workload),
            node_pools=(
                NodePool(
                    name="p", instance_groups=tuple(g.name for g in groups), limits=limits or PoolLimits()
                ),
            ),
            instance_groups=groups,
            instance_types=types,
        )
    )


def launched(result: NodePlans) -> dict[str, int]:
    out: dict[str, int] = {}
    for nodes in result.for_pool("p").new_nodes:
        out[nodes.instance_group] = out.get(nodes.instance_group, 0) + nodes.count
    return out


def test_efa_pods_go_only_to_a_type_with_efa_even_when_a_cheaper_gpu_type_fits_the_rest() -> None:
    """fit_test.go TestEnoughRequests "extended resource capacity enforced": a node without the
    resource never takes the pod, whatever else it has."""
    result = plan([pods("multi-node", 2, cpu="32", gpus=8, efa=32)], (GPU_PLAIN, GPU_EFA))
    assert launched(result) == {"ig-gpu-efa": 2}
    assert not result.for_pool("p").unplaced


def test_several_extended_resources_at_once_pack_by_the_tightest() -> None:
    """Neuron devices and EFA together: 16 devices / 4 per pod and 8 EFA / 2 per pod both allow 4."""
    result = plan([pods("trn", 8, cpu="4", neuron=4, efa=2)], (TRAINIUM, CPU_NODE))
    (nodes,) = result.for_pool("p").new_nodes
    assert (nodes.instance_group, nodes.count, nodes.pods_per_node) == ("ig-trainium", 2, (("trn", 4),))


def test_mig_slices_pack_by_count() -> None:
    """With the device plugin's mixed strategy each MIG profile is its own resource name."""
    result = plan([pods("small-llm", 60, cpu="1", mig=1)], (MIG_NODE, GPU_PLAIN))
    assert launched(result) == {"ig-mig": 2}


def test_a_resource_no_type_offers_is_an_unplaced_reason_naming_it() -> None:
    """fit_test.go "extended resource allocatable enforced for unknown resource": Insufficient <name>."""
    result = plan([pods("fpga", 1, cpu="1", **{"example.com/fpga": 1}), pods("web", 2)], (CPU_NODE,))
    (unplaced,) = result.for_pool("p").unplaced
    assert (unplaced.group, unplaced.reason) == ("fpga", UnplacedReason.FITS_NO_TYPE)
    assert unplaced.detail == "no allowed instance type offers enough example.com/fpga"
    assert launched(result) == {"ig-cpu": 1}


def test_pool_limit_on_an_extended_resource_caps_the_nodes() -> None:
    """Karpenter counts each node's capacity of the named resource: 32 EFA per node, limit 64
    ("should partially schedule if limits would be exceeded")."""
    result = plan(
        [pods("multi-node", 3, cpu="32", gpus=8, efa=32)], (GPU_EFA,), PoolLimits(extended={EFA: 64})
    )
    assert launched(result) == {"ig-gpu-efa": 2}
    (unplaced,) = result.for_pool("p").unplaced
    assert (unplaced.count, unplaced.reason) == (1, UnplacedReason.POOL_LIMIT)
    assert EFA in unplaced.detail


def test_pool_limit_on_pods_counts_each_nodes_pod_capacity() -> None:
    """`pods` in spec.limits counts a node's pod capacity (110 here), not the pods placed on it."""
    result = plan([pods("web", 20, cpu="1")], (CPU_NODE,), PoolLimits(pods=220))
    assert launched(result) == {"ig-cpu": 2}
    (unplaced,) = result.for_pool("p").unplaced
    assert (unplaced.reason, unplaced.detail) == (UnplacedReason.POOL_LIMIT, "limit on pods")


def test_a_limit_met_exactly_still_allows_the_node() -> None:
    """karpenter suite_test.go "should schedule if limits would be met": equal is allowed."""
    result = plan(
        [pods("multi-node", 2, cpu="32", gpus=8, efa=32)], (GPU_EFA,), PoolLimits(extended={EFA: 64})
    )
    assert launched(result) == {"ig-gpu-efa": 2}
    assert not result.for_pool("p").unplaced


def test_limit_vectors_name_pods_and_extended_resources() -> None:
    limits = PoolLimits(pods=300, extended={NEURON: 32})
    caps = limits.as_vector()
    assert caps[:5] == (None, None, None, None, 300)
    assert 32 in caps[5:]


NAMES = (EFA, NEURON, MIG)


@st.composite
def problems(draw: st.DrawFn) -> tuple[list[PodGroup], tuple[InstanceType, ...], PoolLimits]:
    types = []
    for index in range(draw(st.integers(1, 3))):
        devices = {name: draw(st.integers(0, 16)) for name in draw(st.sets(st.sampled_from(NAMES)))}
        types.append(
            InstanceType(
                name=f"t{index}",
                vcpus=draw(st.sampled_from([8, 32, 96])),
                memory_mib=draw(st.sampled_from([32, 256])) * 1024,
                gpus=draw(st.sampled_from([0, 4, 8])),
                max_pods=draw(st.sampled_from([8, 110])),
                extended={k: v for k, v in devices.items() if v},
                price_per_hour=draw(st.floats(0.5, 50)),
            )
        )
    workload = []
    for index in range(draw(st.integers(1, 4))):
        wanted = draw(st.sets(st.sampled_from(NAMES), max_size=2))
        workload.append(
            PodGroup(
                name=f"g{index}",
                replicas=draw(st.integers(1, 30)),
                requests=Resources.of(
                    cpu=draw(st.sampled_from(["500m", "2", "8"])),
                    memory="1Gi",
                    gpus=draw(st.sampled_from([0, 0, 1])),
                    extended={name: draw(st.integers(1, 4)) for name in wanted},
                ),
            )
        )
    limits = PoolLimits(
        pods=draw(st.none() | st.integers(0, 400)),
        nodes=draw(st.none() | st.integers(0, 6)),
        extended={name: draw(st.integers(0, 40)) for name in draw(st.sets(st.sampled_from(NAMES)))},
    )
    return workload, tuple(types), limits


@settings(max_examples=60, deadline=None)
@given(problems())
def test_no_plan_exceeds_a_nodes_amount_or_a_pool_limit_of_any_resource(
    problem: tuple[list[PodGroup], tuple[InstanceType, ...], PoolLimits],
) -> None:
    workload, types, limits = problem
    result = plan(workload, types, limits)
    by_type = {t.name: t for t in types}
    requests = {g.name: g.requests for g in workload}
    used_pods = used_nodes = 0
    used: dict[str, int] = {}
    placed = dict.fromkeys(requests, 0)
    for nodes in result.for_pool("p").new_nodes:
        (type_name,) = nodes.instance_types
        instance_type = by_type[type_name]
        total = Resources()
        for group, count in nodes.pods_per_node:
            placed[group] += count * nodes.count
            for _ in range(count):
                total = total + requests[group]
        assert sum(c for _, c in nodes.pods_per_node) <= instance_type.allocatable.pods
        assert total.minus(Resources(pods=total.pods)).fits_in(instance_type.allocatable), (type_name, total)
        used_pods += instance_type.max_pods * nodes.count
        used_nodes += nodes.count
        for name, amount in instance_type.extended.items():
            used[name] = used.get(name, 0) + amount * nodes.count
    assert limits.pods is None or used_pods <= limits.pods
    assert limits.nodes is None or used_nodes <= limits.nodes
    for name, cap in limits.extended.items():
        assert used.get(name, 0) <= cap, name
    unplaced = {u.group: u.count for u in result.for_pool("p").unplaced}
    for group in workload:
        assert placed[group.name] + unplaced.get(group.name, 0) == group.replicas
