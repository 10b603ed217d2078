"""The local kube-scheduler's PodTopologySpread and InterPodAffinity filters, on kube-scheduler's cases.

Sources (kubernetes/kubernetes):

* ``pkg/scheduler/framework/plugins/podtopologyspread/filtering_test.go`` at commit
  e7827879dbc282e7f5103451dc63169e964b6bb7, ``TestSingleConstraint``: the named cases, their
  nodes, existing pods and expected per-node status (Success = accepted);
* ``pkg/scheduler/framework/plugins/interpodaffinity/filtering_test.go`` at commit
  072825f9a367e9ca0f73f91830945f1b7f46e0d9, ``TestRequiredAffinitySingleNode``: node1 with labels
  region=r1, zone=z11 and the existing pod(s) of each case;
* the filters' reasons are those plugins' ``ErrReason*`` strings.
"""

from __future__ import annotations

from typing import Any

import pytest

from ebb.local.kubernetes.scheduler import (
    AFFINITY_NOT_MATCH,
    ANTI_AFFINITY_NOT_MATCH,
    EXISTING_ANTI_AFFINITY,
    SPREAD_MISSING_LABEL,
    SPREAD_NOT_MATCH,
    affinity_rejection,
    spread_rejection,
)

FOO = {"matchExpressions": [{"key": "foo", "operator": "Exists"}]}
BAR = {"matchExpressions": [{"key": "bar", "operator": "Exists"}]}


def node(name: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels}, "spec": {}}


def pod(labels: dict[str, str] | None = None, namespace: str = "default", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": namespace, "labels": labels or {}}, "spec": spec}


def spread(max_skew: int, key: str, selector: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "maxSkew": max_skew,
        "topologyKey": key,
        "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": selector,
    }


FOUR_NODES = [
    node("node-a", zone="zone1", node="node-a"),
    node("node-b", zone="zone1", node="node-b"),
    node("node-x", zone="zone2", node="node-x"),
    node("node-y", zone="zone2", node="node-y"),
]


def existing(nodes: list[dict[str, Any]], *where: str, namespace: str = "default") -> list[tuple[Any, Any]]:
    by_name = {n["metadata"]["name"]: n for n in nodes}
    return [(pod({"foo": ""}, namespace), by_name[name]) for name in where]


def fits(
    incoming: dict[str, Any], nodes: list[dict[str, Any]], placed: list[tuple[Any, Any]]
) -> dict[str, str | None]:
    return {n["metadata"]["name"]: spread_rejection(incoming, n, nodes, placed) for n in nodes}


FOO_ZONE = pod({"foo": ""}, topologySpreadConstraints=[spread(1, "zone", FOO)])


@pytest.mark.parametrize(
    ("name", "incoming", "placed", "expected"),
    [
        ("no existing pods", FOO_ZONE, [], {"node-a": None, "node-b": None, "node-x": None, "node-y": None}),
        (
            "no existing pods, incoming pod doesn't match itself",
            pod({"foo": ""}, topologySpreadConstraints=[spread(1, "zone", BAR)]),
            [],
            {"node-a": None, "node-b": None, "node-x": None, "node-y": None},
        ),
        (
            "existing pods in a different namespace do not count",
            FOO_ZONE,
            existing(FOUR_NODES, "node-a", namespace="ns1")
            + existing(FOUR_NODES, "node-a", namespace="ns2")
            + existing(FOUR_NODES, "node-x", "node-y"),
            {"node-a": None, "node-b": None, "node-x": SPREAD_NOT_MATCH, "node-y": SPREAD_NOT_MATCH},
        ),
        (
            "existing pods do not match null selector",
            pod({"foo": ""}, topologySpreadConstraints=[spread(1, "zone", None)]),
            existing(FOUR_NODES, "node-x", "node-y"),
            {"node-a": None, "node-b": None, "node-x": None, "node-y": None},
        ),
        (
            "pods spread across zones as 3/3, all nodes fit",
            FOO_ZONE,
            existing(FOUR_NODES, "node-a", "node-a", "node-b", "node-y", "node-y", "node-y"),
            {"node-a": None, "node-b": None, "node-x": None, "node-y": None},
        ),
        (
            "pods spread across nodes as 2/1/0/3, only node-x fits",
            pod({"foo": ""}, topologySpreadConstraints=[spread(1, "node", FOO)]),
            existing(FOUR_NODES, "node-a", "node-a", "node-b", "node-y", "node-y", "node-y"),
            {
                "node-a": SPREAD_NOT_MATCH,
                "node-b": SPREAD_NOT_MATCH,
                "node-x": None,
                "node-y": SPREAD_NOT_MATCH,
            },
        ),
        (
            "pods spread across nodes as 2/1/0/3, maxSkew is 2, node-b and node-x fit",
            pod({"foo": ""}, topologySpreadConstraints=[spread(2, "node", FOO)]),
            existing(FOUR_NODES, "node-a", "node-a", "node-b", "node-y", "node-y", "node-y"),
            {"node-a": SPREAD_NOT_MATCH, "node-b": None, "node-x": None, "node-y": SPREAD_NOT_MATCH},
        ),
    ],
)
def test_single_constraint(
    name: str, incoming: dict[str, Any], placed: list[tuple[Any, Any]], expected: dict[str, str | None]
) -> None:
    """TestSingleConstraint: the case named ``name``."""
    assert fits(incoming, FOUR_NODES, placed) == expected, name


def test_single_constraint_absence_of_label_zone_on_node_b() -> None:
    """TestSingleConstraint "pods spread across zones as 1/2 due to absence of label 'zone' on node-b"."""
    nodes = [
        node("node-a", zone="zone1", node="node-a"),
        node("node-b", zon="zone1", node="node-b"),
        node("node-x", zone="zone2", node="node-x"),
        node("node-y", zone="zone2", node="node-y"),
    ]
    placed = existing(nodes, "node-a", "node-b", "node-x", "node-y")
    assert fits(FOO_ZONE, nodes, placed) == {
        "node-a": None,
        "node-b": SPREAD_MISSING_LABEL,
        "node-x": SPREAD_NOT_MATCH,
        "node-y": SPREAD_NOT_MATCH,
    }


def test_single_constraint_no_node_has_label_rack() -> None:
    """TestSingleConstraint "pod cannot be scheduled as all nodes don't have label 'rack'"."""
    nodes = [node("node-a", zone="zone1", node="node-a"), node("node-x", zone="zone2", node="node-x")]
    incoming = pod({"foo": ""}, topologySpreadConstraints=[spread(1, "rack", FOO)])
    assert fits(incoming, nodes, []) == {"node-a": SPREAD_MISSING_LABEL, "node-x": SPREAD_MISSING_LABEL}


# --- TestRequiredAffinitySingleNode ----------------------------------------------------------------

NODE1 = node("node1", region="r1", zone="z11")
SECURITYSCAN = pod({"service": "securityscan"})


def term(
    key: str, operator: str, values: list[str] | None = None, topology: str = "region"
) -> dict[str, Any]:
    expression: dict[str, Any] = {"key": key, "operator": operator}
    if values is not None:
        expression["values"] = values
    return {"labelSelector": {"matchExpressions": [expression]}, "topologyKey": topology}


def with_affinity(
    labels: dict[str, str], affinity: tuple[Any, ...] | list[Any] = (), anti: tuple[Any, ...] | list[Any] = ()
) -> dict[str, Any]:
    rules: dict[str, Any] = {}
    if affinity:
        rules["podAffinity"] = {"requiredDuringSchedulingIgnoredDuringExecution": list(affinity)}
    if anti:
        rules["podAntiAffinity"] = {"requiredDuringSchedulingIgnoredDuringExecution": list(anti)}
    return pod(labels, affinity=rules)


S1 = {"security": "S1"}


@pytest.mark.parametrize(
    ("name", "incoming", "placed", "expected"),
    [
        (
            "satisfies with requiredDuringSchedulingIgnoredDuringExecution in PodAffinity using In "
            "operator that matches the existing pod",
            with_affinity(S1, [term("service", "In", ["securityscan", "value2"])]),
            [(SECURITYSCAN, NODE1)],
            None,
        ),
        (
            "satisfies the pod with requiredDuringSchedulingIgnoredDuringExecution in PodAffinity "
            "using not in operator in labelSelector that matches the existing pod",
            with_affinity(S1, [term("service", "NotIn", ["securityscan3", "value3"])]),
            [(SECURITYSCAN, NODE1)],
            None,
        ),
        (
            "Doesn't satisfy the PodAffinity because of unmatching labelSelector with the existing pod",
            with_affinity(
                {"service": "securityscan"}, [term("service", "In", ["antivirusscan", "value2"], "")]
            ),
            [(SECURITYSCAN, NODE1)],
            AFFINITY_NOT_MATCH,
        ),
        (
            "satisfies the PodAffinity and PodAntiAffinity with the existing pod",
            with_affinity(
                S1,
                [term("service", "In", ["securityscan", "value2"])],
                [term("service", "In", ["antivirusscan", "value2"], "node")],
            ),
            [(SECURITYSCAN, NODE1)],
            None,
        ),
        (
            "satisfies the PodAffinity but doesn't satisfy the PodAntiAffinity with the existing pod",
            with_affinity(
                S1,
                [term("service", "In", ["securityscan", "value2"])],
                [term("service", "In", ["securityscan", "value2"], "zone")],
            ),
            [(SECURITYSCAN, NODE1)],
            ANTI_AFFINITY_NOT_MATCH,
        ),
        (
            "satisfies the PodAffinity and PodAntiAffinity but doesn't satisfy PodAntiAffinity symmetry "
            "with the existing pod",
            with_affinity(
                {"service": "securityscan"},
                [term("service", "In", ["securityscan", "value2"])],
                [term("service", "In", ["antivirusscan", "value2"], "node")],
            ),
            [
                (
                    with_affinity(
                        {"service": "securityscan"},
                        anti=[term("service", "In", ["securityscan", "value2"], "zone")],
                    ),
                    NODE1,
                )
            ],
            EXISTING_ANTI_AFFINITY,
        ),
        (
            "verify that PodAntiAffinity from existing pod is respected when pod has no AntiAffinity "
            "constraints. "
            "doesn't satisfy PodAntiAffinity symmetry with the existing pod",
            pod({"service": "securityscan"}),
            [
                (
                    with_affinity(
                        {"service": "securityscan"},
                        anti=[term("service", "In", ["securityscan", "value2"], "zone")],
                    ),
                    NODE1,
                )
            ],
            EXISTING_ANTI_AFFINITY,
        ),
        (
            "verify that PodAntiAffinity from existing pod is respected when pod has no AntiAffinity "
            "constraints. "
            "satisfy PodAntiAffinity symmetry with the existing pod",
            pod({"service": "securityscan"}),
            [
                (
                    with_affinity(
                        {"service": "securityscan"},
                        anti=[term("service", "NotIn", ["securityscan", "value2"], "zone")],
                    ),
                    NODE1,
                )
            ],
            None,
        ),
    ],
)
def test_required_affinity_single_node(
    name: str, incoming: dict[str, Any], placed: list[tuple[Any, Any]], expected: str | None
) -> None:
    """TestRequiredAffinitySingleNode: the case named ``name`` (existing pods in the default namespace)."""
    assert affinity_rejection(incoming, NODE1, placed) == expected, name


def test_pod_affinity_to_a_different_namespace_does_not_match() -> None:
    """TestRequiredAffinitySingleNode "Does not satisfy the PodAffinity with labelSelector because of diff
    Namespace": the term names a namespace the existing pod is not in."""
    incoming = with_affinity(
        S1, [{**term("service", "In", ["securityscan", "value2"]), "namespaces": ["DiffNameSpace"]}]
    )
    assert (
        affinity_rejection(incoming, NODE1, [(pod({"service": "securityscan"}, "ns"), NODE1)])
        == AFFINITY_NOT_MATCH
    )
