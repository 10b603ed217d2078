"""Scheduling vocabulary and the plain fit check behind "which pods fit which groups".

Sources:
- Tolerations: kubernetes/kubernetes staging/src/k8s.io/api/core/v1/toleration_test.go (4a0608cb),
  TestTolerationToleratesTaint (case descriptions quoted below).
- Node selector requirements: the scheduler's node affinity (k8s.io/component-helpers
  scheduling/corev1/nodeaffinity): NotIn and DoesNotExist match a node without the label, terms
  are ORed, an empty term matches nothing.
- Pod size: scaling-semantics §5 / k8s.io/component-helpers resource PodRequests (max of the
  containers' sum and the largest init container, plus overhead; limits stand in for requests).
- Allocatable: aws/sagemaker-hyperpod-cli src/sagemaker/hyperpod/training/quota_allocation_util.py
  (d4622437), _calculate_cpu_reservation / _calculate_memory_reservation.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ebb.config.catalogue import GIB, cpu_reservation, memory_reservation_gib, shipped_catalogue
from ebb.config.placement import pod_fit
from ebb.config.pod_spec import PodSpec
from ebb.config.scheduling import NodeSelector, NodeSelectorRequirement, Taint, Toleration, untolerated


def _taint(key: str, effect: str, value: str | None = None) -> Taint:
    return Taint.model_validate({"key": key, "effect": effect, **({"value": value} if value else {})})


def _toleration(**fields: str) -> Toleration:
    return Toleration.model_validate(fields)


@pytest.mark.parametrize(
    ("description", "toleration", "taint", "tolerated"),
    [
        (
            "same key and effect, operator Exists, taint without value",
            _toleration(key="foo", operator="Exists", effect="NoSchedule"),
            _taint("foo", "NoSchedule"),
            True,
        ),
        (
            "same key and effect, operator Exists, taint with a value",
            _toleration(key="foo", operator="Exists", effect="NoSchedule"),
            _taint("foo", "NoSchedule", "bar"),
            True,
        ),
        (
            "same effect, empty key and operator Exists: matches all taints",
            _toleration(operator="Exists", effect="NoSchedule"),
            _taint("foo", "NoSchedule", "bar"),
            True,
        ),
        (
            "same key, effect and value, operator Equal",
            _toleration(key="foo", operator="Equal", value="bar", effect="NoSchedule"),
            _taint("foo", "NoSchedule", "bar"),
            True,
        ),
        (
            "same key and effect, different values, operator Equal",
            _toleration(key="foo", operator="Equal", value="value1", effect="NoSchedule"),
            _taint("foo", "NoSchedule", "value2"),
            False,
        ),
        (
            "same key and value, different effects, operator Equal",
            _toleration(key="foo", operator="Equal", value="bar", effect="NoSchedule"),
            _taint("foo", "NoExecute", "bar"),
            False,
        ),
        (
            "empty effect tolerates every effect of the key",
            _toleration(key="foo", operator="Exists"),
            _taint("foo", "NoExecute"),
            True,
        ),
    ],
)
def test_toleration_tolerates_taint(
    description: str, toleration: Toleration, taint: Taint, tolerated: bool
) -> None:
    assert toleration.tolerates(taint) is tolerated, description


def test_prefer_no_schedule_taints_do_not_block() -> None:
    taints = (_taint("gpu", "PreferNoSchedule"), _taint("dedicated", "NoSchedule", "ml"))
    assert [t.describe() for t in untolerated((), taints)] == ["dedicated=ml:NoSchedule"]


@pytest.mark.parametrize(
    ("operator", "values", "labels", "matches"),
    [
        ("In", ["a", "b"], {"k": "a"}, True),
        ("In", ["a"], {}, False),
        ("NotIn", ["a"], {"k": "b"}, True),
        ("NotIn", ["a"], {}, True),
        ("Exists", [], {"k": ""}, True),
        ("DoesNotExist", [], {}, True),
        ("DoesNotExist", [], {"k": "x"}, False),
        ("Gt", ["4"], {"k": "8"}, True),
        ("Lt", ["4"], {"k": "8"}, False),
        ("Gt", ["4"], {"k": "eight"}, False),
    ],
)
def test_node_selector_requirement(
    operator: str, values: list[str], labels: dict[str, str], matches: bool
) -> None:
    requirement = NodeSelectorRequirement.model_validate({"key": "k", "operator": operator, "values": values})
    assert requirement.matches(labels) is matches


def test_terms_are_ored_and_an_empty_term_matches_nothing() -> None:
    selector = NodeSelector.model_validate(
        {
            "nodeSelectorTerms": [
                {},
                {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]},
            ]
        }
    )
    assert selector.matches({"zone": "b"})
    assert not selector.matches({"zone": "a"})


def _pod(spec: dict[str, Any]) -> PodSpec:
    return PodSpec.model_validate(spec)


def test_pod_request_is_the_larger_of_containers_and_init_containers_plus_overhead() -> None:
    pod = _pod(
        {
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}},
                {"name": "b", "resources": {"limits": {"cpu": "500m", "nvidia.com/gpu": "1"}}},
            ],
            "initContainers": [{"name": "init", "resources": {"requests": {"cpu": "2", "memory": "512Mi"}}}],
            "overhead": {"cpu": "100m"},
        }
    )
    assert pod.effective_requests() == {
        "cpu": Decimal("2.1"),
        "memory": Decimal(2**30),
        "nvidia.com/gpu": Decimal(1),
    }


def test_sidecar_init_containers_add_to_the_running_containers() -> None:
    pod = _pod(
        {
            "containers": [{"name": "a", "resources": {"requests": {"cpu": "1"}}}],
            "initContainers": [
                {"name": "proxy", "restartPolicy": "Always", "resources": {"requests": {"cpu": "1"}}}
            ],
        }
    )
    assert pod.effective_requests() == {"cpu": Decimal(2)}


@pytest.mark.parametrize(
    ("vcpus", "reserved"),
    [(1, "0.4"), (2, "0.55"), (4, "0.75"), (48, "3.39"), (192, "12.03")],
)
def test_cpu_reservation_follows_the_hyperpod_cli(vcpus: int, reserved: str) -> None:
    assert cpu_reservation(vcpus) == Decimal(reserved)


@pytest.mark.parametrize(
    ("memory_gib", "reserved"),
    [(4, "1.7"), (16, "4.3"), (192, "27.82"), (384, "41.26")],
)
def test_memory_reservation_follows_the_hyperpod_cli(memory_gib: int, reserved: str) -> None:
    assert memory_reservation_gib(Decimal(memory_gib)) == Decimal(reserved)


def test_fit_counts_pods_per_node_and_names_the_short_resource() -> None:
    g5_12xl = shipped_catalogue().get("ml.g5.12xlarge")
    assert g5_12xl is not None
    one_gpu = {"cpu": Decimal(8), "memory": 40 * GIB, "nvidia.com/gpu": Decimal(1)}
    fit = pod_fit(one_gpu, g5_12xl, {})
    assert (fit.fits, fit.pods_per_node) == (True, 4)  # GPU-bound: 4 A10G
    too_big = pod_fit({"cpu": Decimal(48)}, g5_12xl, {})
    assert (too_big.fits, too_big.reason) == (False, "needs 48 cpu, ml.g5.12xlarge has 44.61 allocatable")
    neuron = pod_fit({"aws.amazon.com/neuron": Decimal(1)}, g5_12xl, {})
    assert (neuron.fits, neuron.reason) == (False, "ml.g5.12xlarge has no aws.amazon.com/neuron")
    # The catalogue's EFA interfaces count like any other resource: one on a g5.12xlarge
    # (aws/sagemaker-hyperpod-cli training/constants.py INSTANCE_RESOURCES).
    efa = pod_fit({"vpc.amazonaws.com/efa": Decimal(1)}, g5_12xl, {})
    assert (efa.fits, efa.pods_per_node) == (True, 1)


def test_node_overhead_reduces_what_pods_get() -> None:
    g5_xl = shipped_catalogue().get("ml.g5.xlarge")
    assert g5_xl is not None
    # 4 vCPU less 0.75 reserved leaves 3.25; half a core of daemon sets leaves 2.75.
    request = {"cpu": Decimal(3)}
    assert pod_fit(request, g5_xl, {}).fits
    assert not pod_fit(request, g5_xl, {"cpu": Decimal("0.5")}).fits
