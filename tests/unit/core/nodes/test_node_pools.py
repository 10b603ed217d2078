"""NodePools, pod groups and nodes as the planner reads them.

Karpenter facts (https://karpenter.sh/docs/concepts/scheduling/#labels and #well-known-labels): a
NodePool requirement that pins a user-defined label key to one value labels its nodes with it; a
requirement on a key the launch decides (several values, or a key no node carries yet) does not
exclude a node before launch, while a well-known label is always known; ``spec.limits`` cap what
the pool's nodes may add up to (https://karpenter.sh/docs/concepts/nodepools/#speclimits).
A pod's ``nodeSelector`` needs every pair to match (https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodeselector).
"""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from ebb.core.nodes import (
    ExistingNode,
    NodePool,
    NodeState,
    Operator,
    PodGroup,
    PodsOnNode,
    PoolLimits,
    Requirement,
    Resources,
)
from ebb.core.nodes.catalogue import INSTANCE_TYPE_LABEL


def pool(*requirements: Requirement, labels: dict[str, str] | None = None) -> NodePool:
    return NodePool(name="p", instance_groups=("g",), requirements=requirements, labels=labels or {})


def test_single_valued_custom_requirements_label_the_nodes() -> None:
    team = Requirement(key="team", operator=Operator.IN, values=("ml",))
    tier = Requirement(key="tier", operator=Operator.IN, values=("a", "b"))
    itype = Requirement(key=INSTANCE_TYPE_LABEL, operator=Operator.IN, values=("small",))
    not_gpu = Requirement(key="gpu", operator=Operator.NOT_IN, values=("h100",))
    labels = pool(team, tier, itype, not_gpu, labels={"env": "prod", "team": "set"}).template_labels()
    assert labels == {"env": "prod", "team": "set"}
    assert pool(team).template_labels() == {"team": "ml"}


def test_a_requirement_the_launch_decides_does_not_exclude_a_node_and_a_known_label_does() -> None:
    tier = Requirement(key="tier", operator=Operator.IN, values=("a", "b"))
    small = Requirement(key=INSTANCE_TYPE_LABEL, operator=Operator.IN, values=("small",))
    no_gpu = Requirement(key="gpu", operator=Operator.DOES_NOT_EXIST)
    assert pool(tier).admits({})
    assert pool(tier).admits({"tier": "a"})
    assert not pool(tier).admits({"tier": "c"})
    assert not pool(small).admits({})
    assert pool(small).admits({INSTANCE_TYPE_LABEL: "small"})
    assert not pool(no_gpu).admits({"gpu": "h100"})
    assert not pool(tier, small).admits({"tier": "a"})


def test_a_pool_lists_each_instance_group_once() -> None:
    with pytest.raises(
        ValidationError, match=re.escape("node pool 'p': instance_groups lists a group twice")
    ):
        NodePool(name="p", instance_groups=("g", "g"))


def test_limits_leave_what_the_used_capacity_does_not_take() -> None:
    limits = PoolLimits(cpu_millis=10, memory_bytes=20, gpus=3, nodes=4)
    assert limits.as_vector() == (10, 20, 3, 4)
    assert limits.headroom((1, 2, 3, 5)) == (9, 18, 0, -1)
    assert PoolLimits(gpus=2).headroom((1, 2, 3, 5)) == (None, None, -1, None)


def test_a_node_selector_needs_every_pair() -> None:
    web = PodGroup(name="web", replicas=1, requests=Resources.of(cpu="1"), node_selector={"a": "1", "b": "2"})
    assert web.selects({"a": "1", "b": "2", "c": "3"})
    assert not web.selects({"a": "1"})
    assert not web.selects({"a": "1", "b": "3"})
    assert web.vector == (1000, 0, 0, 1)


def test_nodes_are_checked() -> None:
    with pytest.raises(
        ValidationError, match=re.escape("node 'n': instance_type is required once the node has joined")
    ):
        ExistingNode(name="n", node_pool="p", instance_group="g")
    assert (
        ExistingNode(name="n", node_pool="p", instance_group="g", state=NodeState.LAUNCHING).instance_type
        is None
    )
    twice = (PodsOnNode(group="web", count=1), PodsOnNode(group="web", count=2))
    with pytest.raises(ValidationError, match=re.escape("node 'n': pods lists group(s) twice")):
        ExistingNode(name="n", node_pool="p", instance_group="g", instance_type="t", pods=twice)


def test_pods_ebb_does_not_manage_are_counted_or_sized() -> None:
    def node(**fields: object) -> ExistingNode:
        return ExistingNode.model_validate(
            {"name": "n", "node_pool": "p", "instance_group": "g", "instance_type": "t", **fields}
        )

    assert not node().has_unmanaged_pods
    assert node(unmanaged_pods=1).has_unmanaged_pods
    assert node(unmanaged=Resources.of(memory="1Mi")).has_unmanaged_pods


def test_a_flexible_group_counts_its_largest_type_against_the_limits() -> None:
    """HyperPod may launch the 16-vCPU type: under a 24-vCPU limit only one node may be added."""
    from ebb.core.nodes import InstanceGroup, InstanceType, PlanningInput, UnplacedReason, plan_nodes

    types = (
        InstanceType(name="a", vcpus=8, memory_mib=32768, price_per_hour=0.4),
        InstanceType(name="b", vcpus=16, memory_mib=65536, price_per_hour=0.5),
    )
    flexible = InstanceGroup(name="flex", zone="z1", instance_types=("a", "b"))
    limited = NodePool(name="p", instance_groups=("flex",), limits=PoolLimits(cpu_millis=24_000))
    web = PodGroup(name="web", replicas=4, requests=Resources.of(cpu="3", memory="1Gi"))
    plans = plan_nodes(
        PlanningInput(
            now="2025-01-06T12:00:00Z",
            pod_groups=(web,),
            node_pools=(limited,),
            instance_groups=(flexible,),
            instance_types=types,
        )
    )
    plan = plans.for_pool("p")
    assert plan.nodes_added == 1
    ((unplaced),) = plan.unplaced
    assert (unplaced.count, unplaced.reason, unplaced.detail) == (
        2,
        UnplacedReason.POOL_LIMIT,
        "limit on cpu",
    )
