"""The local kube-scheduler's NodeResourcesFit on extended resources (EFA, Neuron, MIG), as upstream.

Cases transcribed from kubernetes/kubernetes
pkg/scheduler/framework/plugins/noderesources/fit_test.go ``TestEnoughRequests`` (the node offers 5
of ``example.com/aaa`` and none of ``example.com/bbb``): "extended resource fits", "extended
resource capacity enforced", "extended resource allocatable enforced", "extended resource
allocatable enforced for unknown resource", "extended resource fits for init container". A pod no
node fits stays Pending with "Insufficient <resource>" (fit.go ``getErrReason``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ebb.adapters.kubernetes import EksKubernetesClient, Pod, WorkloadRef
from ebb.config.catalogue import shipped_catalogue
from ebb.local.cluster.capacity import kubelet_report
from ebb.local.kubernetes import KubernetesStandIn, ManualClock

pytestmark = pytest.mark.integration

EXTENDED_A = "example.com/aaa"
EXTENDED_B = "example.com/bbb"


def _scheduled(pod: Pod) -> str:
    condition = pod.condition("PodScheduled")
    assert condition is not None
    return condition.message or ""


def _node(stand_in: KubernetesStandIn, name: str = "node-1", **extended: str) -> None:
    stand_in.node_joined(
        name,
        labels={"node.kubernetes.io/instance-type": "ml.p5.48xlarge"},
        capacity={"cpu": "10", "memory": "20Gi", EXTENDED_A: "5", **extended},
    )


def _with(manifest: dict[str, Any], requests: dict[str, str], *, init: bool = False) -> dict[str, Any]:
    spec = manifest["spec"]["template"]["spec"]
    if init:
        spec["initContainers"] = [
            {"name": "init", "image": "busybox:1.36", "resources": {"requests": requests, "limits": requests}}
        ]
    else:
        container = spec["containers"][0]["resources"]
        container["requests"].update(requests)
        container.setdefault("limits", {}).update(requests)
    return manifest


def _pods(client: EksKubernetesClient, name: str) -> list[Pod]:
    return client.pods_of(WorkloadRef(namespace="default", name=name))


CASES = {
    "extended resource fits": ({EXTENDED_A: "1"}, False, True),
    "extended resource capacity enforced": ({EXTENDED_A: "10"}, False, False),
    "extended resource fits for init container": ({EXTENDED_A: "1"}, True, True),
    "extended resource capacity enforced for init container": ({EXTENDED_A: "10"}, True, False),
    "extended resource allocatable enforced for unknown resource": ({EXTENDED_B: "1"}, False, False),
}


@pytest.mark.parametrize("name", list(CASES))
def test_enough_requests_on_extended_resources(
    stand_in: KubernetesStandIn,
    client: EksKubernetesClient,
    clock: ManualClock,
    deployment: Callable[..., dict[str, Any]],
    name: str,
) -> None:
    requests, init, fits = CASES[name]
    _node(stand_in)
    stand_in.create(_with(deployment("web", gpus=0, cpu="1", memory="1Gi"), requests, init=init))
    clock.advance(61)
    (pod,) = _pods(client, "web")
    if fits:
        assert pod.node_name == "node-1", name
    else:
        (resource,) = requests
        assert pod.node_name is None, name
        assert _scheduled(pod).startswith(f"0/1 nodes are available: 1 Insufficient {resource}."), name


def test_extended_resource_allocatable_enforced_counts_bound_pods(
    stand_in: KubernetesStandIn,
    client: EksKubernetesClient,
    clock: ManualClock,
    deployment: Callable[..., dict[str, Any]],
) -> None:
    """fit_test.go "extended resource allocatable enforced": 5 in use, 1 more does not fit."""
    _node(stand_in)
    stand_in.create(_with(deployment("first", gpus=0, cpu="1", memory="1Gi"), {EXTENDED_A: "5"}))
    clock.advance(61)
    assert [p.node_name for p in _pods(client, "first")] == ["node-1"]
    stand_in.create(_with(deployment("second", gpus=0, cpu="1", memory="1Gi"), {EXTENDED_A: "1"}))
    clock.advance(61)
    (pod,) = _pods(client, "second")
    assert pod.node_name is None
    assert _scheduled(pod).startswith(f"0/1 nodes are available: 1 Insufficient {EXTENDED_A}.")


def test_several_extended_resources_at_once_must_all_fit(
    stand_in: KubernetesStandIn,
    client: EksKubernetesClient,
    clock: ManualClock,
    deployment: Callable[..., dict[str, Any]],
) -> None:
    """Every requested resource is checked (fit.go ``fitsRequest`` loops over ScalarResources)."""
    _node(stand_in, "efa-node", **{"vpc.amazonaws.com/efa": "32"})
    _node(stand_in, "plain-node")
    stand_in.create(
        _with(
            deployment("multi", gpus=0, cpu="1", memory="1Gi", replicas=2),
            {EXTENDED_A: "2", "vpc.amazonaws.com/efa": "16"},
        )
    )
    clock.advance(61)
    assert sorted(str(p.node_name) for p in _pods(client, "multi")) == ["efa-node", "efa-node"]


def test_a_local_node_reports_the_catalogues_devices() -> None:
    """The kubelet report of a p5.48xlarge carries its 32 EFA interfaces in capacity and allocatable
    (aws/sagemaker-hyperpod-cli training/constants.py INSTANCE_RESOURCES, via the catalogue)."""
    spec = shipped_catalogue().get("ml.p5.48xlarge")
    assert spec is not None
    report = kubelet_report(spec, max_pods=110)
    assert report.capacity["vpc.amazonaws.com/efa"] == report.allocatable["vpc.amazonaws.com/efa"] == "32"
