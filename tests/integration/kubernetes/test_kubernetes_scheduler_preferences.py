"""The local kube-scheduler accepts preferences and does not filter by them, as kube-scheduler does.

In kube-scheduler, preferred inter-pod (anti-)affinity and ScheduleAnyway spreads are scores, not
filters: ``interpodaffinity/filtering.go`` reads only the required terms
(``RequiredDuringSchedulingIgnoredDuringExecution``), the preferred ones are read by
``interpodaffinity/scoring.go``; ``podtopologyspread/filtering.go`` keeps only
``DoNotSchedule`` constraints (``filterTopologySpreadConstraints``) (kubernetes/kubernetes
``pkg/scheduler/framework/plugins``). The local scheduler simulates the filters and a
least-allocated choice, not the scores: a pod with preferences it cannot meet is still bound.
"""

from __future__ import annotations

from typing import Any

from ebb.local.kubernetes.scheduler import affinity_rejection, spread_rejection

NODE = {
    "metadata": {"name": "node1", "labels": {"zone": "z1", "kubernetes.io/hostname": "node1"}},
    "spec": {},
}
SECURITY = {"matchLabels": {"security": "S1"}}


def pod(labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "default", "labels": labels or {}}, "spec": spec}


def test_preferred_pod_anti_affinity_does_not_filter() -> None:
    incoming = pod(
        affinity={
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 100, "podAffinityTerm": {"topologyKey": "zone", "labelSelector": SECURITY}}
                ]
            }
        }
    )
    assert affinity_rejection(incoming, NODE, [(pod({"security": "S1"}), NODE)]) is None


def test_preferred_pod_affinity_to_nothing_does_not_filter() -> None:
    incoming = pod(
        affinity={
            "podAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 1, "podAffinityTerm": {"topologyKey": "zone", "labelSelector": SECURITY}}
                ]
            },
            "nodeAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 1,
                        "preference": {
                            "matchExpressions": [{"key": "zone", "operator": "In", "values": ["z9"]}]
                        },
                    }
                ]
            },
        }
    )
    assert affinity_rejection(incoming, NODE, []) is None


def test_schedule_anyway_spread_does_not_filter() -> None:
    anyway = {
        "maxSkew": 1,
        "topologyKey": "zone",
        "whenUnsatisfiable": "ScheduleAnyway",
        "labelSelector": SECURITY,
    }
    incoming = pod({"security": "S1"}, topologySpreadConstraints=[anyway])
    other = {"metadata": {"name": "node2", "labels": {"zone": "z2"}}, "spec": {}}
    placed = [(pod({"security": "S1"}), NODE), (pod({"security": "S1"}), NODE)]
    assert spread_rejection(incoming, NODE, [NODE, other], placed) is None
