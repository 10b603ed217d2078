"""A validated configuration becomes the node core's inputs, field for field, and plans.

The translation is where Karpenter's NodePool, the HyperpodNodeClass, the ClusterBinding's
instance groups and pod templates, and the instance catalogue meet the core's typed model; these
tests pin each user-visible field to where it lands, then plan the shipped example.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ebb.config import ConfigValidationError, EbbConfig, ScaledObject, load_config_text
from ebb.config.node_planning import (
    GroupCounts,
    NodePlanningConfigError,
    planning_input,
    pod_group,
    pool_statics,
)
from ebb.core.nodes import (
    Budget,
    ConsolidationPolicy,
    ExistingNode,
    NodeSelectorTerm,
    Operator,
    RemovalKind,
    Requirement,
    Resources,
    Taint,
    TaintEffect,
    Toleration,
    plan_nodes,
)
from ebb.core.nodes.catalogue import INSTANCE_GROUP_LABEL, node_labels

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
GIB = 2**30
GROUPS = ("gpu-g5-use1a", "gpu-g6e-use1b")
GPU_TAINT = Taint(key="nvidia.com/gpu", value="true", effect=TaintEffect.NO_SCHEDULE)
GPU_TOLERATION = Toleration(key="nvidia.com/gpu", operator="Exists", effect=TaintEffect.NO_SCHEDULE)
ONLY_POOL_GROUPS = NodeSelectorTerm(
    match_expressions=(Requirement(key=INSTANCE_GROUP_LABEL, operator=Operator.IN, values=GROUPS),)
)


def _load(docs: Any) -> EbbConfig:
    return load_config_text(docs.text())


def _scaled_object(config: EbbConfig, namespace: str, name: str) -> ScaledObject:
    found = config.scaled_object(namespace, name)
    assert found is not None
    return found


def test_the_example_node_pool_maps_field_by_field(docs: Any) -> None:
    pool = pool_statics(_load(docs), "gpu").node_pool
    assert pool.name == "gpu"
    assert pool.instance_groups == GROUPS
    assert pool.requirements == (
        Requirement(
            key="node.kubernetes.io/instance-type",
            operator=Operator.IN,
            values=("ml.g5.12xlarge", "ml.g6e.12xlarge"),
        ),
        Requirement(
            key="topology.kubernetes.io/zone", operator=Operator.IN, values=("us-east-1a", "us-east-1b")
        ),
        Requirement(key="karpenter.sh/capacity-type", operator=Operator.IN, values=("on-demand",)),
        Requirement(key="karpenter.k8s.aws/instance-gpu-count", operator=Operator.GT, values=("0",)),
    )
    assert pool.taints == (GPU_TAINT,)
    assert (pool.limits.gpus, pool.limits.nodes, pool.limits.cpu_millis, pool.limits.memory_bytes) == (
        32,
        8,
        None,
        None,
    )
    assert pool.weight == 0  # unset weight is Karpenter's 0
    assert pool.disruption.consolidation_policy is ConsolidationPolicy.WHEN_EMPTY
    assert pool.disruption.consolidate_after == timedelta(minutes=5)
    assert pool.disruption.budgets == (Budget(nodes="1"),)
    # nodeOverhead: 500m CPU and 1Gi on every node.
    assert pool.daemonset_overhead == Resources(cpu_millis=500, memory_bytes=GIB)


def test_the_example_instance_groups_and_types_map_field_by_field(docs: Any) -> None:
    statics = pool_statics(_load(docs), "gpu")
    g5, g6e = statics.instance_groups
    assert (g5.name, g5.zone, g5.instance_types, g5.min_count) == (
        "gpu-g5-use1a",
        "us-east-1a",
        ("ml.g5.12xlarge",),
        0,
    )
    assert (g6e.name, g6e.zone, g6e.instance_types, g6e.min_count) == (
        "gpu-g6e-use1b",
        "us-east-1b",
        ("ml.g6e.12xlarge",),
        0,
    )
    # The target is observed: unset, the core counts it from the nodes it is given.
    assert (g5.current_count, g5.target_count, g5.max_count, g5.paid_for) == (0, None, None, False)
    types = {t.name: t for t in statics.instance_types}
    assert sorted(types) == ["ml.g5.12xlarge", "ml.g6e.12xlarge"]
    g5_type = types["ml.g5.12xlarge"]
    # The catalogue's figures: 48 vCPU, 192 GiB, 4 GPUs, the stated on-demand price.
    assert (g5_type.vcpus, g5_type.memory_mib, g5_type.gpus, g5_type.arch) == (48, 192 * 1024, 4, "amd64")
    assert g5_type.price_per_hour == pytest.approx(7.09)
    assert g5_type.labels["karpenter.k8s.aws/instance-gpu-count"] == "4"
    # The same kubelet reservation as validation: 3.39 cores for 48 vCPUs (EKS AMI formula).
    assert g5_type.kube_reserved.cpu_millis == 3390


def test_the_pool_admits_both_groups_through_the_numeric_requirement(docs: Any) -> None:
    """The Gt on instance-gpu-count is evaluated on node labels: the type must carry them."""
    statics = pool_statics(_load(docs), "gpu")
    types = {t.name: t for t in statics.instance_types}
    for group in statics.instance_groups:
        labels = node_labels(group, types[group.instance_types[0]], statics.node_pool.template_labels())
        assert statics.node_pool.admits(labels), group.name


def test_the_example_pod_groups_carry_requests_selectors_and_tolerations(docs: Any) -> None:
    config = _load(docs)
    llm = pod_group(config, _scaled_object(config, "serving", "llm-inference"), 3)
    assert llm.name == "serving/llm-inference"
    assert llm.replicas == 3
    assert llm.requests == Resources(cpu_millis=8000, memory_bytes=40 * GIB, gpus=1, pods=1)
    assert llm.node_selector == {}
    assert llm.node_affinity == (ONLY_POOL_GROUPS,)
    assert llm.tolerations == (GPU_TOLERATION,)
    batch = pod_group(config, _scaled_object(config, "batch", "batch-worker"), 5)
    assert (batch.name, batch.replicas) == ("batch/batch-worker", 5)
    assert batch.requests == Resources(cpu_millis=4000, memory_bytes=24 * GIB, gpus=1, pods=1)


def test_a_group_taint_the_pods_do_not_tolerate_closes_that_group(docs: Any) -> None:
    """The core has no per-group taints: the translation narrows the pods' groups instead."""
    docs.binding["spec"]["hyperPodCluster"]["instanceGroups"][1]["taints"].append(
        {"key": "team", "value": "research", "effect": "NoSchedule"}
    )
    config = _load(docs)
    llm = pod_group(config, _scaled_object(config, "serving", "llm-inference"), 2)
    (term,) = llm.node_affinity
    assert term.match_expressions[-1] == Requirement(
        key=INSTANCE_GROUP_LABEL, operator=Operator.IN, values=("gpu-g5-use1a",)
    )
    plan = plan_nodes(planning_input(config, "gpu", now=NOW, replicas={"serving/llm-inference": 8}))
    assert {n.instance_group for n in plan.for_pool("gpu").new_nodes} == {"gpu-g5-use1a"}


def test_group_labels_a_pod_selects_on_are_honoured(docs: Any) -> None:
    """Group labels (HyperPod KubernetesConfig) are invisible to the core; the selector becomes groups."""
    docs.binding["spec"]["hyperPodCluster"]["instanceGroups"][1]["labels"] = {"gpu.example.com/tier": "large"}
    docs.llm_pod["nodeSelector"] = {"gpu.example.com/tier": "large"}
    config = _load(docs)
    llm = pod_group(config, _scaled_object(config, "serving", "llm-inference"), 1)
    assert llm.node_selector == {}
    assert llm.node_affinity == (
        NodeSelectorTerm(
            match_expressions=(
                Requirement(key=INSTANCE_GROUP_LABEL, operator=Operator.IN, values=("gpu-g6e-use1b",)),
            )
        ),
    )
    plan = plan_nodes(planning_input(config, "gpu", now=NOW, replicas={"serving/llm-inference": 1}))
    assert [n.instance_group for n in plan.for_pool("gpu").new_nodes] == ["gpu-g6e-use1b"]


def test_a_scaler_without_a_pod_spec_cannot_be_planned(docs: Any) -> None:
    del docs.binding["spec"]["scalers"][0]["podSpec"]
    config = _load(docs)
    with pytest.raises(NodePlanningConfigError, match="serving/llm-inference has no podSpec"):
        pod_group(config, _scaled_object(config, "serving", "llm-inference"), 1)


def test_planning_the_example_pool_places_every_pod_on_its_groups_within_capacity(docs: Any) -> None:
    config = _load(docs)
    inp = planning_input(
        config, "gpu", now=NOW, replicas={"serving/llm-inference": 3, "batch/batch-worker": 5}
    )
    plan = plan_nodes(inp).for_pool("gpu")
    assert not plan.unplaced
    assert plan.new_nodes
    assert {n.instance_group for n in plan.new_nodes} <= set(GROUPS)
    types = {t.name: t for t in inp.instance_types}
    placed: dict[str, int] = {}
    for new in plan.new_nodes:
        (type_name,) = new.instance_types
        room = types[type_name].allocatable.minus(inp.node_pools[0].daemonset_overhead)
        used = Resources()
        for group_name, count in new.pods_per_node:
            group = next(g for g in inp.pod_groups if g.name == group_name)
            used = used + Resources.from_vector(
                (
                    group.requests.cpu_millis * count,
                    group.requests.memory_bytes * count,
                    group.requests.gpus * count,
                    count,
                )
            )
            placed[group_name] = placed.get(group_name, 0) + count * new.count
        assert used.fits_in(room), new
    assert placed == {"serving/llm-inference": 3, "batch/batch-worker": 5}
    # 8 single-GPU pods on 4-GPU nodes: two nodes, the cheaper type, within the pool's limits.
    assert plan.nodes_added == 2
    assert {t.instance_group: t.target_after for t in plan.targets} == {"gpu-g5-use1a": 2}


def test_observed_group_counts_reach_the_core(docs: Any) -> None:
    config = _load(docs)
    inp = planning_input(
        config,
        "gpu",
        now=NOW,
        replicas={},
        group_counts={"gpu-g5-use1a": GroupCounts(current=1, target=2)},
    )
    g5 = next(g for g in inp.instance_groups if g.name == "gpu-g5-use1a")
    assert (g5.current_count, g5.target_count) == (1, 2)
    assert {g.name: g.replicas for g in inp.pod_groups} == {
        "batch/batch-worker": 0,
        "serving/llm-inference": 0,
    }
    with pytest.raises(KeyError, match="not on node pool"):
        planning_input(config, "gpu", now=NOW, replicas={"serving/other": 1})


def test_without_observed_counts_a_groups_target_is_counted_from_its_nodes(docs: Any) -> None:
    """Leaving group_counts out must not make an idle node unremovable (a target of 0 did)."""
    config = _load(docs)
    idle = ExistingNode(
        name="idle",
        node_pool="gpu",
        instance_group="gpu-g5-use1a",
        instance_type="ml.g5.12xlarge",
        initialized_at=NOW - timedelta(hours=1),
    )
    plan = plan_nodes(planning_input(config, "gpu", now=NOW, replicas={}, nodes=(idle,))).for_pool("gpu")
    assert [(r.node, r.kind) for r in plan.removals] == [("idle", RemovalKind.EMPTY)]
    assert [(t.instance_group, t.target_before, t.target_after) for t in plan.targets] == [
        ("gpu-g5-use1a", 1, 0)
    ]


# The kubelet's maxPods counts every pod on the node, DaemonSet pods included
# (https://kubernetes.io/docs/reference/config-api/kubelet-config.v1beta1/ `maxPods`), so the
# DaemonSets' pod slots are per-node overhead like their CPU and memory.


def test_node_overhead_states_the_daemon_sets_pod_slots(docs: Any) -> None:
    docs.binding["spec"]["nodeOverhead"] = {"cpu": "500m", "memory": "1Gi", "pods": 3}
    pool = pool_statics(_load(docs), "gpu").node_pool
    assert pool.daemonset_overhead == Resources(cpu_millis=500, memory_bytes=GIB, pods=3)


def test_the_daemon_sets_pod_slots_limit_the_pods_a_new_node_takes(docs: Any) -> None:
    """A node takes 110 pods; with 108 slots held by DaemonSets, three tiny pods need two nodes."""
    docs.binding["spec"]["nodeOverhead"] = {"pods": 108}
    docs.binding["spec"]["scalers"][0]["podSpec"]["containers"][0]["resources"] = {
        # A device request needs its limit (kube-apiserver's ValidateResourceRequirements).
        "requests": {"cpu": "1m", "memory": "1Mi", "nvidia.com/gpu": "0"},
        "limits": {"nvidia.com/gpu": "0"},
    }
    config = _load(docs)
    two_slots_left = plan_nodes(
        planning_input(config, "gpu", now=NOW, replicas={"serving/llm-inference": 3})
    ).for_pool("gpu")
    assert two_slots_left.nodes_added == 2
    assert {count for new in two_slots_left.new_nodes for _, count in new.pods_per_node} <= {1, 2}


@pytest.mark.parametrize(
    ("overhead", "message"),
    [
        ({"pods": "2.5"}, "spec.nodeOverhead.pods: 2.5 is not a whole number of pods"),
        ({"nvidia.com/gpu": "500m"}, r"spec.nodeOverhead.nvidia.com/gpu: 500m is not a whole number"),
        (
            {"hugepages-2Mi": "1Gi"},
            r"spec.nodeOverhead.hugepages-2Mi: 'hugepages-2Mi' is not planned per node; allowed here: "
            r"cpu, memory, nvidia.com/gpu, pods",
        ),
    ],
)
def test_node_overhead_names_only_what_the_planner_packs(
    docs: Any, overhead: dict[str, Any], message: str
) -> None:
    docs.binding["spec"]["nodeOverhead"] = overhead
    with pytest.raises(ConfigValidationError, match=message) as raised:
        _load(docs)
    assert len(raised.value.errors) == 1
