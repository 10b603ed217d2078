"""A pod's effective request, as the scheduler sizes it.

Sources:

* kubernetes/kubernetes ``staging/src/k8s.io/component-helpers/resource/helpers_test.go``
  (commit 0085214e563468088672cf8c50849884198a18cc): ``TestPodResourceRequests`` cases
  "nil options, larger init container", "nil options, larger containers", "pod overhead included",
  "restartable init container", "multiple restartable init containers",
  "multiple restartable and regular init containers", "restartable-init, init and regular";
* ``pkg/apis/core/v1/defaults.go`` ``SetDefaults_Pod`` (commit 023f88a32c95647b94e47df54948a0af9517dd0c):
  a container (init or not) with a limit but no request requests its limit;
* https://kubernetes.io/docs/concepts/workloads/pods/init-containers/#resource-sharing-within-containers
  and https://kubernetes.io/docs/concepts/scheduling-eviction/pod-overhead/.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from ebb.core.nodes.pod_requests import (
    ContainerResources,
    PodResources,
    UnsupportedResource,
    effective_requests,
    to_planner_resources,
)
from ebb.core.nodes.quantities import GIB, Resources


def cpu(amount: str, *, sidecar: bool = False, limit: bool = False) -> ContainerResources:
    resources = {"cpu": amount}
    return ContainerResources(
        requests={} if limit else resources,
        limits=resources if limit else {},
        restart_policy="Always" if sidecar else None,
    )


@pytest.mark.parametrize(
    ("case", "init", "containers", "overhead", "expected"),
    [
        ("nil options, larger init container", [cpu("4")], [cpu("1")], {}, "4"),
        ("nil options, larger containers", [cpu("2")], [cpu("2"), cpu("3")], {}, "5"),
        ("pod overhead included", [cpu("2")], [cpu("2"), cpu("3")], {"cpu": "1"}, "6"),
        ("restartable init container", [cpu("1", sidecar=True)], [cpu("1")], {}, "2"),
        (
            "multiple restartable init containers",
            [cpu("5"), cpu("1", sidecar=True), cpu("2", sidecar=True), cpu("3", sidecar=True)],
            [cpu("1")],
            {},
            "7",
        ),
        (
            "multiple restartable and regular init containers",
            [cpu("5"), cpu("1", sidecar=True), cpu("2", sidecar=True), cpu("5"), cpu("3", sidecar=True)],
            [cpu("1")],
            {},
            "8",
        ),
        (
            "restartable-init, init and regular",
            [cpu("10", sidecar=True), cpu("200")],
            [cpu("100")],
            {},
            "210",
        ),
    ],
)
def test_effective_cpu_request_matches_kubernetes(
    case: str,
    init: list[ContainerResources],
    containers: list[ContainerResources],
    overhead: dict[str, str],
    expected: str,
) -> None:
    pod = PodResources(containers=tuple(containers), init_containers=tuple(init), overhead=overhead)
    assert effective_requests(pod)["cpu"] == Decimal(expected), case


def test_a_limit_without_a_request_counts_as_the_request() -> None:
    """SetDefaults_Pod copies limits into missing requests, for init containers too."""
    pod = PodResources(containers=(cpu("3", limit=True),), init_containers=(cpu("5", limit=True),))
    assert effective_requests(pod)["cpu"] == Decimal(5)
    both = ContainerResources(requests={"cpu": "1"}, limits={"cpu": "4", "memory": "2Gi"})
    amounts = effective_requests(PodResources(containers=(both,)))
    assert amounts == {"cpu": Decimal(1), "memory": Decimal(2 * GIB)}


def test_overhead_is_added_per_resource_after_the_init_maximum() -> None:
    """The pod-overhead page: overhead adds to the sum of container requests for scheduling."""
    pod = PodResources(
        containers=(ContainerResources(requests={"cpu": "500m", "memory": "1Gi"}),),
        init_containers=(ContainerResources(requests={"memory": "3Gi"}),),
        overhead={"cpu": "250m", "memory": "120Mi"},
    )
    assert to_planner_resources(effective_requests(pod)) == Resources(
        cpu_millis=750, memory_bytes=3 * GIB + 120 * 2**20, gpus=0, pods=1
    )


def test_gpu_pods_keep_their_device_count_and_one_pod_slot() -> None:
    pod = PodResources(containers=(ContainerResources(limits={"nvidia.com/gpu": "2", "cpu": "8"}),))
    assert to_planner_resources(effective_requests(pod)) == Resources(cpu_millis=8000, gpus=2, pods=1)


def test_extended_resources_are_packed_by_name_several_at_once() -> None:
    """EFA, Neuron and MIG requests keep their names and counts (they used to be refused)."""
    pod = PodResources(
        containers=(
            ContainerResources(
                requests={"aws.amazon.com/neuron": "2", "vpc.amazonaws.com/efa": "1", "cpu": "1"},
                limits={"nvidia.com/mig-1g.10gb": "1"},
            ),
        )
    )
    assert to_planner_resources(effective_requests(pod)) == Resources(
        cpu_millis=1000,
        pods=1,
        extended=(("aws.amazon.com/neuron", 2), ("nvidia.com/mig-1g.10gb", 1), ("vpc.amazonaws.com/efa", 1)),
    )


def test_ephemeral_storage_is_not_packed() -> None:
    pod = PodResources(containers=(ContainerResources(requests={"ephemeral-storage": "10Gi", "cpu": "1"}),))
    assert to_planner_resources(effective_requests(pod)) == Resources(cpu_millis=1000, pods=1)


def test_an_init_container_alone_sets_a_resource_no_container_requests() -> None:
    """The init maximum starts from nothing: half a core stays half a core."""
    pod = PodResources(
        containers=(ContainerResources(requests={"memory": "1Gi"}),),
        init_containers=(ContainerResources(requests={"cpu": "500m"}),),
    )
    assert effective_requests(pod) == {"memory": Decimal(GIB), "cpu": Decimal("0.5")}


def test_a_pod_requesting_no_cpu_needs_none() -> None:
    pod = PodResources(containers=(ContainerResources(requests={"memory": "1Gi"}),))
    assert to_planner_resources(effective_requests(pod)) == Resources(memory_bytes=GIB, pods=1)


def test_fractional_devices_are_refused_by_name() -> None:
    """Kubernetes refuses a fractional request of an extended resource; ebb says which one.

    kubernetes/kubernetes pkg/apis/core/validation/validation.go ``ValidateResourceQuantityValue``
    rejects a value whose milli-value is not a multiple of 1000 when
    pkg/apis/core/helper/helpers.go ``IsIntegerResourceName`` holds, which it does for every
    extended resource name.
    """
    half = PodResources(containers=(ContainerResources(requests={"nvidia.com/gpu": "500m"}),))
    with pytest.raises(UnsupportedResource, match=r"^nvidia\.com/gpu must be a whole number, got 0\.5"):
        to_planner_resources(effective_requests(half))
    efa = PodResources(containers=(ContainerResources(requests={"vpc.amazonaws.com/efa": "1.5"}),))
    with pytest.raises(
        UnsupportedResource, match=r"^vpc\.amazonaws\.com/efa must be a whole number, got 1\.5$"
    ):
        to_planner_resources(effective_requests(efa))
