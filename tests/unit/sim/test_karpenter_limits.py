"""NodePool limits in the Karpenter reference, transcribed from Karpenter's own tests.

kubernetes-sigs/karpenter ``pkg/controllers/provisioning/suite_test.go`` (commit
c5aa8298f5786071f56fe1937aa4fb176263564e), ``Context("Resource Limits")``; the rule they test is
``scheduler.go`` (commit 5ed25f098dd11609bf2353e4b74341b3b957a063): the pool's limits minus the
capacity of its nodes is what is left, ``filterByRemainingResources`` drops every instance type
whose capacity exceeds what is left of a limited resource, and ``subtractMax`` takes the largest
capacity among a new claim's types off what is left. Upstream's fake cloud provider offers 2- and
4-CPU types; the types here are chosen so that each test asks the same question.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ebb.core.nodes import (
    ExistingNode,
    InstanceGroup,
    InstanceType,
    NodePool,
    NodeState,
    PlanningInput,
    PodGroup,
    PodsOnNode,
    PoolLimits,
    Resources,
)
from ebb.sim.karpenter_reference import karpenter_plan

NOW = datetime(2025, 1, 6, 12, tzinfo=UTC)
# A 2-CPU type whose allocatable leaves room for a 1.75-CPU pod, as upstream's comment says.
RESERVED = Resources.of(cpu="100m", memory="256Mi")
TYPES = (
    InstanceType(name="cpu-2", vcpus=2, memory_mib=8192, price_per_hour=0.1, kube_reserved=RESERVED),
    InstanceType(name="cpu-4", vcpus=4, memory_mib=16384, price_per_hour=0.2, kube_reserved=RESERVED),
    InstanceType(name="gpu-2", vcpus=8, memory_mib=65536, gpus=2, price_per_hour=2.0, kube_reserved=RESERVED),
    InstanceType(name="cpu-100", vcpus=100, memory_mib=409600, price_per_hour=5.0, kube_reserved=RESERVED),
)
GROUPS = tuple(InstanceGroup(name=f"g-{t.name}", zone="z-a", instance_types=(t.name,)) for t in TYPES)


def planned(
    limits: PoolLimits, *pods: PodGroup, nodes: tuple[ExistingNode, ...] = (), groups: tuple[str, ...] = ()
) -> tuple[int, int, str]:
    """(pods placed on new nodes, pods left pending, why) for one pool with ``limits``."""
    pool = NodePool(name="default", instance_groups=groups or ("g-cpu-2", "g-cpu-4"), limits=limits)
    inp = PlanningInput(
        now=NOW,
        pod_groups=pods,
        node_pools=(pool,),
        instance_groups=GROUPS,
        instance_types=TYPES,
        nodes=nodes,
    )
    plan = karpenter_plan(inp)
    placed = sum(sum(node.pods.values()) for node in plan.new_nodes)
    return placed, sum(plan.unplaced.values()), " ".join(plan.reasons.values())


def cpu_pods(cpu: str, count: int = 1, name: str = "web") -> PodGroup:
    return PodGroup(name=name, replicas=count, requests=Resources.of(cpu=cpu, memory="128Mi"))


def test_should_not_schedule_when_limits_are_exceeded() -> None:
    """Upstream: limit 20 CPU, a NodeClaim of 100 CPU capacity already in the pool (taking no pods)."""
    full = ExistingNode(
        name="big",
        node_pool="default",
        instance_group="g-cpu-100",
        instance_type="cpu-100",
        unmanaged=TYPES[3].allocatable,
        unmanaged_pods=1,
    )
    assert planned(
        PoolLimits(cpu_millis=20_000),
        cpu_pods("1"),
        nodes=(full,),
        groups=("g-cpu-2", "g-cpu-4", "g-cpu-100"),
    ) == (0, 1, "all available instance types exceed limits for nodepool 'default' (cpu)")


def test_should_schedule_if_limits_would_be_met() -> None:
    """Upstream: limit 2 CPU, a 1.75-CPU pod: a 2-CPU node can be launched."""
    assert planned(PoolLimits(cpu_millis=2000), cpu_pods("1750m")) == (1, 0, "")


def test_should_partially_schedule_if_limits_would_be_exceeded() -> None:
    """Upstream: limit 3 CPU, two 1.5-CPU pods that may not share a node: one schedules.

    Here the 4-CPU type that could hold both exceeds the limit, so each pod needs its own 2-CPU node;
    the first claim takes 2 CPU off the limit and the second would exceed what is left (1).
    """
    assert planned(PoolLimits(cpu_millis=3000), cpu_pods("1500m", 2)) == (
        1,
        1,
        "all available instance types exceed limits for nodepool 'default' (cpu)",
    )


def test_should_not_schedule_if_limits_would_be_exceeded() -> None:
    """Upstream: limit 2 CPU, a 2.1-CPU pod needs a 4-CPU node."""
    assert planned(PoolLimits(cpu_millis=2000), cpu_pods("2100m"))[:2] == (0, 1)


def test_should_not_schedule_if_limits_would_be_exceeded_gpu() -> None:
    """Upstream "(GPU)": the only type with GPUs has 2, over the limit (upstream limits pods to 1
    there; ebb's pools limit GPUs, which asks the same question of the same rule)."""
    gpu_pod = PodGroup(name="llm", replicas=1, requests=Resources.of(cpu="1", memory="1Gi", gpus=1))
    assert planned(PoolLimits(gpus=1), gpu_pod, groups=("g-gpu-2",)) == (
        0,
        1,
        "all available instance types exceed limits for nodepool 'default' (nvidia.com/gpu)",
    )


def test_should_not_schedule_to_a_nodepool_after_a_scheduling_round_if_limits_would_be_exceeded() -> None:
    """Upstream: limit 2 CPU; the first round launches a 2-CPU node for a 1.75-CPU pod, the second
    round's 1.75-CPU pod would take the pool to 4 CPU and stays pending."""
    assert planned(PoolLimits(cpu_millis=2000), cpu_pods("1750m")) == (1, 0, "")
    first = ExistingNode(
        name="first",
        node_pool="default",
        instance_group="g-cpu-2",
        instance_type="cpu-2",
        state=NodeState.LAUNCHING,
        pods=(PodsOnNode(group="web", count=1),),
    )
    second = (cpu_pods("1750m"), cpu_pods("1750m", name="api"))
    placed, pending, why = planned(PoolLimits(cpu_millis=2000), *second, nodes=(first,))
    assert (placed, pending) == (0, 1)
    assert why == "all available instance types exceed limits for nodepool 'default' (cpu)"


def test_a_node_limit_counts_one_per_node() -> None:
    """``nodes`` in ``spec.limits``: each claim counts one node (today's ``addToNewNodeClaim``
    refuses a new claim once the pool's remaining nodes are zero)."""
    assert planned(PoolLimits(nodes=1), cpu_pods("3", 2))[:2] == (1, 1)
