"""What the decide path reads of a target's pod template: the constraints the node core does not
model yet, which make its pods reported as unplaceable rather than planned as if they fit."""

from __future__ import annotations

from typing import Any

from ebb.adapters.kubernetes.objects import PodSpec
from ebb.service.observe import _unmodelled

CONTAINERS: list[dict[str, Any]] = [{"name": "server", "resources": {"requests": {"nvidia.com/gpu": "1"}}}]
ZONE, HOST = "topology.kubernetes.io/zone", "kubernetes.io/hostname"
SPREAD = {"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule"}
ONE_PER_NODE = {"topologyKey": HOST, "labelSelector": {"matchLabels": {"app": "llm"}}}
REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"


def test_topology_spread_and_required_pod_affinities_are_seen_on_the_wire_shape() -> None:
    spec = PodSpec.model_validate(
        {
            "containers": CONTAINERS,
            "topologySpreadConstraints": [
                {
                    "maxSkew": 1,
                    "topologyKey": "topology.kubernetes.io/zone",
                    "whenUnsatisfiable": "DoNotSchedule",
                }
            ],
            "affinity": {
                "podAntiAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "topologyKey": "kubernetes.io/hostname",
                            "labelSelector": {"matchLabels": {"app": "llm"}},
                        }
                    ]
                },
                "podAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [
                        {"topologyKey": "topology.kubernetes.io/zone"}
                    ]
                },
            },
        }
    )
    assert _unmodelled(spec) == ("topologySpreadConstraints", "podAffinity", "podAntiAffinity")


def test_preferred_pod_affinity_and_plain_pods_are_planned() -> None:
    preferred = PodSpec.model_validate(
        {
            "containers": CONTAINERS,
            "affinity": {
                "podAntiAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {"weight": 10, "podAffinityTerm": {"topologyKey": HOST}}
                    ]
                }
            },
        }
    )
    assert _unmodelled(preferred) == ()
    assert _unmodelled(PodSpec.model_validate({"containers": CONTAINERS})) == ()
