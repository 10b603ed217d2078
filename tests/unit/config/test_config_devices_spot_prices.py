"""Devices, Spot instance groups, per-zone prices and limits on any resource, from configuration to plan.

Sources: HyperPod spot instance groups are `CapacityRequirements: {Spot: {}}` on CreateCluster's
ClusterInstanceGroupSpecification, and DescribeClusterNode's ClusterNodeDetails.CapacityType is
`OnDemand` or `Spot` (botocore's sagemaker service model, botocore 1.44.8). Karpenter launches the
cheapest offering its requirements allow (kubernetes-sigs/karpenter pkg/cloudprovider/types.go
``Offerings.Cheapest``), and HyperPod's Spot guide has Spot capacity scale back to On-Demand when it
is reclaimed or unavailable (https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-hyperpod-spot.html).
NodePool limits are a ResourceList on any resource name (kubernetes-sigs/karpenter
pkg/apis/v1/nodepool.go ``type Limits v1.ResourceList``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ebb.config import load_config_text
from ebb.config.node_planning import planning_input, pool_statics
from ebb.core.nodes import plan_nodes
from ebb.core.nodes.catalogue import CAPACITY_TYPE_LABEL, node_labels

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)

EFA = "vpc.amazonaws.com/efa"


def _spot_g6e(docs: Any, price: float | None = 3.0) -> None:
    group = docs.binding["spec"]["hyperPodCluster"]["instanceGroups"][1]
    group["capacityType"] = "spot"
    if price is not None:
        group["usdPerHour"] = price
    for requirement in docs.pool_template["requirements"]:
        if requirement["key"] == CAPACITY_TYPE_LABEL:
            requirement["values"] = ["on-demand", "spot"]


def test_the_catalogues_devices_reach_the_core(docs: Any) -> None:
    """EFA interfaces per type: aws/sagemaker-hyperpod-cli training/constants.py INSTANCE_RESOURCES."""
    statics = pool_statics(load_config_text(docs.text()), "gpu")
    types = {t.name: t for t in statics.instance_types}
    assert types["ml.g5.12xlarge"].extended == {EFA: 1}
    assert types["ml.g5.12xlarge"].allocatable.amount(EFA) == 1


def test_a_spot_group_is_labelled_spot_priced_by_the_binding_and_preferred_when_cheaper(docs: Any) -> None:
    _spot_g6e(docs)
    config = load_config_text(docs.text())
    statics = pool_statics(config, "gpu")
    spot = {g.name: g for g in statics.instance_groups}["gpu-g6e-use1b"]
    assert (spot.spot, spot.capacity_type, spot.price_per_hour) == (True, "spot", 3.0)
    g6e = {t.name: t for t in statics.instance_types}["ml.g6e.12xlarge"]
    assert node_labels(spot, g6e, {})[CAPACITY_TYPE_LABEL] == "spot"
    plan = plan_nodes(planning_input(config, "gpu", now=NOW, replicas={"serving/llm-inference": 4}))
    (nodes,) = plan.for_pool("gpu").new_nodes
    # Same 4 pods per node either way; Spot at $3.00 beats the g5's $7.09 on-demand.
    assert (nodes.instance_group, nodes.count, nodes.price_per_hour) == ("gpu-g6e-use1b", 1, 3.0)


def test_on_demand_is_the_fallback_when_the_spot_group_is_out_of_room(docs: Any) -> None:
    _spot_g6e(docs)
    config = load_config_text(docs.text())
    inp = planning_input(config, "gpu", now=NOW, replicas={"serving/llm-inference": 8})
    groups = tuple(
        g.model_copy(update={"max_count": 1}) if g.name == "gpu-g6e-use1b" else g for g in inp.instance_groups
    )
    plan = plan_nodes(inp.model_copy(update={"instance_groups": groups})).for_pool("gpu")
    assert sorted((n.instance_group, n.count) for n in plan.new_nodes) == [
        ("gpu-g5-use1a", 1),
        ("gpu-g6e-use1b", 1),
    ]


def test_a_pool_that_requires_on_demand_never_launches_the_spot_group(docs: Any) -> None:
    _spot_g6e(docs)
    for requirement in docs.pool_template["requirements"]:
        if requirement["key"] == CAPACITY_TYPE_LABEL:
            requirement["values"] = ["on-demand"]
    config = load_config_text(docs.text())
    plan = plan_nodes(planning_input(config, "gpu", now=NOW, replicas={"serving/llm-inference": 4}))
    assert {n.instance_group for n in plan.for_pool("gpu").new_nodes} == {"gpu-g5-use1a"}


def test_a_spot_group_without_a_price_is_refused(docs: Any) -> None:
    _spot_g6e(docs, price=None)
    assert docs.errors() == [
        "config.yaml: document 2 (ClusterBinding gpu-inference): "
        "spec.hyperPodCluster.instanceGroups[1].usdPerHour: a spot instance group needs its price: the "
        "instance catalogue has no Spot prices, and the planner prefers Spot over on-demand only by "
        "price (as Karpenter does)"
    ]


def test_a_zone_price_from_the_catalogue_steers_the_plan_to_the_cheaper_zone(docs: Any) -> None:
    docs.binding["spec"]["instanceCatalogue"] = {
        "instanceTypes": [
            {
                "name": "ml.g5.12xlarge",
                "vcpu": 48,
                "memoryGiB": 192,
                "gpus": 4,
                "onDemandUsdPerHour": 7.09,
                "zoneUsdPerHour": {"us-east-1a": 20.0},
            }
        ]
    }
    config = load_config_text(docs.text())
    plan = plan_nodes(planning_input(config, "gpu", now=NOW, replicas={"serving/llm-inference": 4}))
    (nodes,) = plan.for_pool("gpu").new_nodes
    assert (nodes.instance_group, nodes.zone, nodes.price_per_hour) == ("gpu-g6e-use1b", "us-east-1b", 13.12)
    # The plan's explanation names the zone and the price it chose by.
    assert "us-east-1b" in str(nodes)
    assert "13.12" in str(nodes)


def test_limits_on_pods_and_on_an_extended_resource_reach_the_core(docs: Any) -> None:
    docs.node_pool["spec"]["limits"].update({"pods": "220", EFA: "1"})
    config = load_config_text(docs.text())
    limits = pool_statics(config, "gpu").node_pool.limits
    assert (limits.pods, limits.extended) == (220, {EFA: 1})
    # One EFA interface per g5/g6e node: a limit of 1 lets one node launch, the rest wait.
    plan = plan_nodes(planning_input(config, "gpu", now=NOW, replicas={"serving/llm-inference": 8})).for_pool(
        "gpu"
    )
    assert sum(n.count for n in plan.new_nodes) == 1
    (unplaced,) = plan.unplaced
    assert EFA in unplaced.detail


def test_a_flexible_instance_group_is_refused_with_the_reason(docs: Any) -> None:
    """CreateCluster's ClusterInstanceGroupSpecification.InstanceRequirements.InstanceTypes makes a
    flexible group; AddClusterNodeSpecification.InstanceTypes can target its types per addition
    (botocore sagemaker service model, botocore 1.44.8). ebb does not plan them, and says why."""
    group = docs.binding["spec"]["hyperPodCluster"]["instanceGroups"][0]
    group["instanceRequirements"] = {"instanceTypes": ["ml.g5.12xlarge", "ml.g6e.12xlarge"]}
    (error,) = docs.errors()
    assert error.startswith(
        "config.yaml: document 2 (ClusterBinding gpu-inference): spec.hyperPodCluster.instanceGroups[0]: "
        "instanceRequirements: flexible instance groups (several instance types in one group) are not "
        "planned."
    ), error
    assert error.endswith("Use one instance group per instance type (instanceType)"), error
