"""The pieces the combined world is made of: the HyperPod stand-in's node observer hook, the
adapters of the stand-ins' clock protocols, and what a node's kubelet reports.

Kubelet reservations: awslabs/amazon-eks-ami bootstrap.sh (`get_cpu_millicores_to_reserve`: 6%
of the first core, 1% of the second, 0.5% of the third and fourth, 0.25% of the rest;
`get_memory_mebibytes_to_reserve`: 11 MiB per pod plus 255 MiB) and the kubelet's default hard
eviction threshold `memory.available<100Mi` (Kubernetes docs, "Reserve Compute Resources for
System Daemons").
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from ebb.config import shipped_catalogue
from ebb.local.cluster import (
    ClusterWorldConfig,
    HyperPodOnEks,
    HyperPodOnWorld,
    KubernetesOnWorld,
    UnknownInstanceType,
    kubelet_report,
    start_cluster_world,
)
from ebb.local.cluster.capacity import instance_spec
from ebb.local.hyperpod import (
    LocalHyperPod,
    ManualWorld,
    NodeChange,
    NodeTransition,
    install,
    installed,
    uninstall,
)
from ebb.local.hyperpod.lifecycle import DEFAULT_CREATION_SECONDS
from ebb.local.kubernetes import ClusterCertificates
from ebb.local.world import LocalWorldConfig

from .world_testkit import (
    CLUSTER,
    DEEP_HEALTH_CHECKS,
    GPU_TYPE,
    REGION,
    SEED,
    TEMPLATE,
    ZONE,
    add_nodes,
    create_hyperpod_cluster,
    group,
    subnet,
)

pytestmark = pytest.mark.integration

EKS_ARN = "arn:aws:eks:us-east-1:123456789012:cluster/ebb-local"


@pytest.fixture
def manual_hyperpod() -> Iterator[tuple[LocalHyperPod, ManualWorld, list[NodeTransition]]]:
    """The HyperPod stand-in alone, on a manual world, with an observer recording transitions."""
    world = ManualWorld(seed=3)
    standin = LocalHyperPod(world)
    seen: list[NodeTransition] = []
    with mock_aws():
        install(standin)
        try:
            standin.add_node_observer(seen.append)
            yield standin, world, seen
        finally:
            uninstall()


def _create(deep_health_checks: bool) -> None:
    extra: dict[str, Any] = {"OnStartDeepHealthChecks": DEEP_HEALTH_CHECKS} if deep_health_checks else {}
    request: dict[str, Any] = {
        "ClusterName": CLUSTER,
        "InstanceGroups": [group(**extra)],
        "Orchestrator": {"Eks": {"ClusterArn": EKS_ARN}},
        "VpcConfig": {"SecurityGroupIds": ["sg-0123456789"], "Subnets": [subnet()]},
        "NodeProvisioningMode": "Continuous",
    }
    boto3.client("sagemaker", region_name=REGION).create_cluster(**request)
    standin = installed()
    assert standin is not None
    assert isinstance(standin.world, ManualWorld)
    standin.world.advance(DEFAULT_CREATION_SECONDS)  # until the cluster is InService


def _add(count: int) -> None:
    boto3.client("sagemaker", region_name=REGION).batch_add_cluster_nodes(
        ClusterName=CLUSTER, NodesToAdd=[{"InstanceGroupName": "gpu", "IncrementTargetCountBy": count}]
    )


def test_observers_are_told_each_transition_of_a_nodes_life(
    manual_hyperpod: tuple[LocalHyperPod, ManualWorld, list[NodeTransition]],
) -> None:
    hyperpod, world, seen = manual_hyperpod
    _create(deep_health_checks=True)
    hyperpod.set_timings(CLUSTER, "gpu", boot_seconds=(300.0, 300.0), deep_health_check_seconds=1200.0)
    _add(1)
    world.advance(5 + 300 + 1200)
    instance = seen[0].instance_id
    assert instance is not None
    boto3.client("sagemaker", region_name=REGION).batch_delete_cluster_nodes(
        ClusterName=CLUSTER, NodeIds=[instance]
    )
    world.advance(90)

    assert [(t.change, t.status, int(t.at.timestamp() - seen[0].at.timestamp())) for t in seen] == [
        (NodeChange.LAUNCHED, "Pending", 0),
        (NodeChange.BOOTED, "DeepHealthCheckInProgress", 300),
        (NodeChange.HEALTHY, "Running", 1500),
        (NodeChange.SHUTTING_DOWN, "ShuttingDown", 1500),
        (NodeChange.TERMINATED, "ShuttingDown", 1590),
    ]
    first = seen[0]
    assert (first.account, first.region, first.cluster, first.group) == (
        "123456789012",
        REGION,
        CLUSTER,
        "gpu",
    )
    assert (first.eks_cluster_arn, first.instance_type, first.availability_zone) == (
        EKS_ARN,
        GPU_TYPE,
        "us-east-1a",
    )
    assert {t.logical_id for t in seen} == {first.logical_id}


def test_failed_launches_replacements_reboots_and_cancellations_are_told_too(
    manual_hyperpod: tuple[LocalHyperPod, ManualWorld, list[NodeTransition]],
) -> None:
    hyperpod, world, seen = manual_hyperpod
    _create(deep_health_checks=False)
    hyperpod.set_timings(CLUSTER, "gpu", boot_seconds=(300.0, 300.0))
    _add(1)
    world.advance(305)
    faulty = seen[-1].instance_id
    assert faulty is not None
    hyperpod.inject_fault(CLUSTER, faulty, repair="Replace")
    world.advance(30)
    replaced = [t for t in seen if t.change is NodeChange.REPLACEMENT_STARTED]
    assert len(replaced) == 1
    assert replaced[0].previous_instance_id == faulty
    assert replaced[0].instance_id not in (None, faulty)
    world.advance(300)
    assert seen[-1].change is NodeChange.HEALTHY
    assert seen[-1].instance_id == replaced[0].instance_id

    hyperpod.inject_fault(CLUSTER, replaced[0].instance_id or "", repair="Reboot")
    world.advance(30 + 240)
    assert [(t.change, t.health) for t in seen[-3:]] == [
        (NodeChange.FAULT_DETECTED, "UnschedulablePendingReboot"),
        (NodeChange.REBOOTING, "UnschedulablePendingReboot"),
        (NodeChange.REBOOTED, "Schedulable"),
    ]

    hyperpod.set_capacity(GPU_TYPE, 1, availability_zone=ZONE)
    _add(1)
    world.advance(5)
    failed = seen[-1]
    assert failed.change is NodeChange.LAUNCH_FAILED
    assert "sufficient capacity" in (failed.message or "")
    boto3.client("sagemaker", region_name=REGION).batch_delete_cluster_nodes(
        ClusterName=CLUSTER, NodeLogicalIds=[failed.logical_id]
    )
    cancelled = seen[-1]
    assert (cancelled.change, cancelled.logical_id, cancelled.instance_id) == (
        NodeChange.CANCELLED,
        failed.logical_id,
        None,
    )

    hyperpod.remove_node_observer(seen.append)
    told = len(seen)
    _add(1)
    world.advance(600)
    assert len(seen) == told


def test_kubernetes_labels_follow_the_nodes_health(
    manual_hyperpod: tuple[LocalHyperPod, ManualWorld, list[NodeTransition]],
) -> None:
    hyperpod, world, seen = manual_hyperpod
    _create(deep_health_checks=True)
    hyperpod.set_timings(CLUSTER, "gpu", boot_seconds=(300.0, 300.0), deep_health_check_seconds=1200.0)
    _add(1)
    world.advance(305)
    instance = seen[-1].instance_id or ""
    during = hyperpod.kubernetes_labels(CLUSTER, instance)
    world.advance(1200)
    after = hyperpod.kubernetes_labels(CLUSTER, instance)
    hyperpod.inject_fault(CLUSTER, instance, repair="Reboot")
    faulty = hyperpod.kubernetes_labels(CLUSTER, instance)

    common = {
        "sagemaker.amazonaws.com/compute-type": "hyperpod",
        "sagemaker.amazonaws.com/instance-group-name": "gpu",
        "node.kubernetes.io/instance-type": GPU_TYPE,
        "topology.kubernetes.io/zone": "us-east-1a",
        "topology.kubernetes.io/region": REGION,
    }
    health = "sagemaker.amazonaws.com/node-health-status"
    checks = "sagemaker.amazonaws.com/deep-health-check-status"
    assert during == {**common, health: "Unschedulable", checks: "InProgress"}
    assert after == {**common, health: "Schedulable", checks: "Passed"}
    assert faulty == {**common, health: "UnschedulablePendingReboot"}


def test_a_kubelets_report_keeps_the_eks_amis_reservations_back_from_pods() -> None:
    catalogue = shipped_catalogue()
    large = kubelet_report(instance_spec(catalogue, GPU_TYPE), max_pods=110)
    small = kubelet_report(instance_spec(catalogue, "ml.g5.xlarge"), max_pods=110)

    # The EFA interface comes from the catalogue's devices (the EFA device plugin advertises it).
    efa = {"vpc.amazonaws.com/efa": "1"}
    assert large.capacity == {"cpu": "48", "memory": f"{192 * 1024 * 1024}Ki", "pods": "110", **efa}
    # 60 + 10 + 5 + 5 + 44 x 2.5 millicores; (11 x 110 + 255 + 100) MiB.
    assert large.allocatable == {
        "cpu": f"{48000 - 190}m",
        "memory": f"{192 * 1024 * 1024 - 1565 * 1024}Ki",
        "pods": "110",
        **efa,
    }
    assert (large.gpus, large.architecture) == (4, "amd64")
    assert small.allocatable["cpu"] == f"{4000 - 80}m"
    assert small.gpus == 1


def test_the_adapters_put_the_stand_ins_on_the_worlds_clock_and_bus(cluster: HyperPodOnEks) -> None:
    ran: list[str] = []
    handle = KubernetesOnWorld(cluster.world).call_later(
        5, lambda: ran.append(cluster.world.now().isoformat())
    )
    cluster.world.run_for(5)
    assert ran == ["2025-01-06T00:00:05+00:00"]
    assert "kubernetes" in getattr(handle, "name", "")

    on_world = HyperPodOnWorld(cluster.world)
    elsewhere = {"id": "e-1", "account": "123456789012", "region": "eu-west-1", "detail": {}}
    on_world.put_event(elsewhere)
    assert on_world.unpublished == [elsewhere]
    assert all(event.get("id") != "e-1" for _, event in cluster.world.eventbridge.published)


def test_an_instance_type_missing_from_the_catalogue_stops_the_world_with_a_clear_error(
    certificates: ClusterCertificates,
) -> None:
    shipped = shipped_catalogue()
    without = shipped.model_copy(
        update={"instance_types": tuple(spec for spec in shipped.instance_types if spec.name != GPU_TYPE)}
    )
    with start_cluster_world(
        TEMPLATE,
        LocalWorldConfig(seed=SEED),
        ClusterWorldConfig(catalogue=without),
        certificates=certificates,
    ) as cluster:
        create_hyperpod_cluster(cluster)
        add_nodes(cluster, 1)
        with pytest.raises(UnknownInstanceType, match=r"'ml\.g5\.12xlarge'.*catalogue"):
            cluster.world.run_for(400)
