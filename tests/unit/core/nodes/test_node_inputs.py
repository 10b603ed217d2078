"""What the node planner is given: every inconsistency reported at once, instance groups and types
checked, and the labels a node launched from a group carries.

Labels follow Karpenter's well-known labels (https://karpenter.sh/docs/concepts/scheduling/#well-known-labels:
``node.kubernetes.io/instance-type``, ``topology.kubernetes.io/zone``, ``kubernetes.io/arch``,
``kubernetes.io/os``, ``karpenter.sh/capacity-type`` with ``on-demand`` and ``reserved``) and
HyperPod's ``sagemaker.amazonaws.com/instance-group-name``; allocatable is capacity minus the
kubelet's reservation (https://kubernetes.io/docs/tasks/administer-cluster/reserve-compute-resources/).
"""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from ebb.core.nodes import (
    ExistingNode,
    InstanceGroup,
    InstanceType,
    NodePool,
    PlanningInput,
    PodGroup,
    PodsOnNode,
    Resources,
)
from ebb.core.nodes.catalogue import node_labels

SMALL = InstanceType(name="small", vcpus=4, memory_mib=16384, price_per_hour=0.2)


def test_every_inconsistency_of_the_input_is_reported_at_once() -> None:
    web = PodGroup(name="web", replicas=1, requests=Resources.of(cpu="1"))
    problems = [
        "pod_groups: name 'web' is used twice",
        "node_pools: name 'b' is used twice",
        "instance_groups: name 'ig-3' is used twice",
        "instance_types: name 'small' is used twice",
        "nodes: name 'n' is used twice",
        "instance_groups[0] 'ig-1': instance type 'medium' is not in instance_types",
        "node_pools[0] 'a': instance group 'ig-missing' is not in instance_groups",
        "node_pools[1] 'b': instance group 'ig-1' already belongs to node pool 'a'",
        "nodes[0] 'n': instance type 'large' is not one of group 'ig-1''s types",
        "nodes[0] 'n': runs pods of 'ghost', which is not in pod_groups "
        "(pass pods ebb does not manage as unmanaged)",
        "nodes[1] 'n': instance group 'ig-1' is not one of node pool 'b''s",
        "nodes[2] 'm': instance group 'ig-2' is not one of node pool 'a''s",
        "nodes[3] 'o': instance group 'ig-9' is not in instance_groups",
        "instance_groups[0] 'ig-1': target_count 0 is below the 2 node(s) listed for it that are not being "
        "deleted (HyperPod's target counts each of them; leave target_count unset to count them from nodes)",
    ]
    with pytest.raises(ValidationError, match=re.escape("; ".join(problems))):
        PlanningInput(
            now="2025-01-06T12:00:00Z",
            pod_groups=(web, web),
            node_pools=(
                NodePool(name="a", instance_groups=("ig-1", "ig-missing")),
                NodePool(name="b", instance_groups=("ig-1",)),
                NodePool(name="b", instance_groups=("ig-2",)),
            ),
            instance_groups=(
                InstanceGroup(name="ig-1", zone="z", instance_types=("small", "medium"), target_count=0),
                InstanceGroup(name="ig-2", zone="z", instance_types=("small",)),
                InstanceGroup(name="ig-3", zone="z", instance_types=("small",)),
                InstanceGroup(name="ig-3", zone="z", instance_types=("small",)),
            ),
            instance_types=(SMALL, SMALL),
            nodes=(
                ExistingNode(
                    name="n",
                    node_pool="a",
                    instance_group="ig-1",
                    instance_type="large",
                    pods=(PodsOnNode(group="ghost", count=1),),
                ),
                ExistingNode(name="n", node_pool="b", instance_group="ig-1", instance_type="small"),
                ExistingNode(name="m", node_pool="a", instance_group="ig-2", instance_type="small"),
                ExistingNode(name="o", node_pool="a", instance_group="ig-9", instance_type="small"),
            ),
        )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"instance_types": ("a", "a")}, "instance group 'g': instance_types lists a type twice"),
        ({"min_count": 3, "max_count": 2}, "instance group 'g': min_count 3 is above max_count 2"),
        ({"min_count": 2, "max_count": 2}, None),
        (
            {"paid_for": True},
            "instance group 'g': paid_for capacity needs max_count (how many instances are paid for)",
        ),
    ],
)
def test_instance_groups_are_checked(fields: dict[str, object], message: str | None) -> None:
    values: dict[str, object] = {"name": "g", "zone": "z", "instance_types": ("a",), **fields}
    if message is None:
        assert InstanceGroup.model_validate(values).min_count == 2
        return
    with pytest.raises(ValidationError, match=re.escape(message)):
        InstanceGroup.model_validate(values)


def test_a_reservation_larger_than_the_instance_is_refused_and_one_that_fills_it_is_not() -> None:
    with pytest.raises(
        ValidationError, match=re.escape("instance type 't': kube_reserved exceeds the instance's capacity")
    ):
        InstanceType(
            name="t", vcpus=1, memory_mib=1024, price_per_hour=1, kube_reserved=Resources.of(cpu="1001m")
        )
    full = InstanceType(
        name="t", vcpus=1, memory_mib=1024, price_per_hour=1, kube_reserved=Resources.of(cpu="1")
    )
    assert full.allocatable.cpu_millis == 0


def test_capacity_and_allocatable() -> None:
    kind = InstanceType(
        name="t",
        vcpus=2,
        memory_mib=1024,
        gpus=1,
        max_pods=20,
        price_per_hour=1,
        kube_reserved=Resources.of(cpu="100m", memory="100Mi", pods=1),
    )
    assert str(kind.capacity) == "cpu=2, memory=1Gi, nvidia.com/gpu=1, pods=20"
    assert str(kind.allocatable) == "cpu=1900m, memory=924Mi, nvidia.com/gpu=1, pods=19"


def test_a_node_carries_the_well_known_labels_over_any_it_is_given() -> None:
    kind = InstanceType(
        name="t",
        vcpus=2,
        memory_mib=1024,
        arch="arm64",
        price_per_hour=1,
        labels={"gpu": "h100", "node.kubernetes.io/instance-type": "spoof", "team": "type"},
    )
    reserved = InstanceGroup(name="g", zone="z1", instance_types=("t",), paid_for=True, max_count=2)
    assert node_labels(reserved, kind, {"team": "ml", "karpenter.sh/nodepool": "pool"}) == {
        "gpu": "h100",
        "team": "ml",
        "karpenter.sh/nodepool": "pool",
        "node.kubernetes.io/instance-type": "t",
        "topology.kubernetes.io/zone": "z1",
        "kubernetes.io/arch": "arm64",
        "kubernetes.io/os": "linux",
        "karpenter.sh/capacity-type": "reserved",
        "sagemaker.amazonaws.com/instance-group-name": "g",
    }
    on_demand = InstanceGroup(name="g", zone="z1", instance_types=("t",))
    assert node_labels(on_demand, kind, {})["karpenter.sh/capacity-type"] == "on-demand"


def test_headroom_is_what_the_maximum_leaves_never_negative() -> None:
    capped = InstanceGroup(name="g", zone="z", instance_types=("a",), max_count=5)
    assert capped.headroom(3) == 2
    assert capped.headroom(5) == 0
    assert capped.headroom(7) == 0
    assert InstanceGroup(name="g", zone="z", instance_types=("a",)).headroom(100) is None
