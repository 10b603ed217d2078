"""How observe reads the targets of a pool: one list per (kind, namespace), narrowed by name when
the namespace holds one target; a target the lists do not hold is what a GET would say (404)."""

from __future__ import annotations

from typing import Any

import pytest

from ebb.adapters.kubernetes import EksKubernetesClient, KubernetesNotFound, Workload, WorkloadRef
from ebb.service.observe import _read_workloads


def _workload(name: str, replicas: int) -> Workload:
    return Workload.model_validate(
        {
            "metadata": {"name": name},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {"spec": {"containers": [{"name": "c"}]}},
            },
            "status": {"replicas": replicas},
        }
    )


class _Lists:
    """The list calls observe makes, answered from a fixed set of workloads."""

    def __init__(self, workloads: dict[tuple[str, str], list[Workload]]) -> None:
        self.workloads = workloads
        self.calls: list[tuple[str, str, str | None]] = []

    def list_workloads(self, kind: str, namespace: str, *, name: str | None = None) -> list[Workload]:
        self.calls.append((kind, namespace, name))
        listed = self.workloads.get((kind, namespace), [])
        return [w for w in listed if name is None or w.metadata.name == name]


def test_one_list_per_kind_and_namespace_narrowed_by_name_for_a_single_target() -> None:
    lists = _Lists(
        {
            ("Deployment", "a"): [_workload("x", 2), _workload("y", 3)],
            ("Deployment", "b"): [_workload("z", 1)],
        }
    )
    targets = [
        WorkloadRef(namespace="a", name="x"),
        WorkloadRef(namespace="a", name="y"),
        WorkloadRef(namespace="b", name="z"),
    ]
    found = _read_workloads(lists, targets)  # type: ignore[arg-type]

    assert sorted(lists.calls) == [("Deployment", "a", None), ("Deployment", "b", "z")]
    assert {key: w.spec.replicas for key, w in found.items()} == {
        ("Deployment", "a", "x"): 2,
        ("Deployment", "a", "y"): 3,
        ("Deployment", "b", "z"): 1,
    }


def test_a_target_missing_from_its_list_is_not_found() -> None:
    lists = _Lists({("Deployment", "a"): [_workload("x", 2)]})
    targets = [WorkloadRef(namespace="a", name="x"), WorkloadRef(namespace="a", name="gone")]
    with pytest.raises(KubernetesNotFound, match=r"^Deployment a/gone not found$") as raised:
        _read_workloads(lists, targets)  # type: ignore[arg-type]
    assert type(raised.value) is KubernetesNotFound
    assert raised.value.status == 404


def test_conflicts_are_looked_for_in_one_namespace_at_a_time() -> None:
    client = EksKubernetesClient(transport=_NoTransport())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^Deployment b/z is not in namespace 'a'$"):
        client.conflicting_hpas("a", [WorkloadRef(namespace="b", name="z")])


class _NoTransport:
    def request(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("no request is made")
