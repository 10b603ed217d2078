"""The binding's podSpec carries topology spread and pod (anti-)affinity to the node planner.

Field names and validation rules are core/v1's (``TopologySpreadConstraint``, ``PodAffinityTerm``;
pkg/apis/core/validation ``ValidateTopologySpreadConstraints``: ``minDomains`` only with
``DoNotSchedule``). What ebb cannot plan offline (``namespaceSelector``, non-default
``nodeAffinityPolicy``/``nodeTaintsPolicy``) is refused, never ignored.
"""

from __future__ import annotations

from typing import Any

from ebb.config import load_config_text
from ebb.config.node_planning import pod_group
from ebb.core.nodes.topology import (
    HOSTNAME_KEY,
    LabelSelector,
    PodAffinityTerm,
    TopologySpread,
    WhenUnsatisfiable,
)

ZONE = "topology.kubernetes.io/zone"
APP = {"app": "llm"}


def _constrain(docs: Any, **extra: Any) -> None:
    docs.binding["spec"]["scalers"][0]["podLabels"] = APP
    pod = docs.llm_pod
    pod["topologySpreadConstraints"] = [
        {
            "maxSkew": 1,
            "topologyKey": ZONE,
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": APP},
        }
    ]
    pod.setdefault("affinity", {})["podAntiAffinity"] = {
        "requiredDuringSchedulingIgnoredDuringExecution": [
            {"topologyKey": HOSTNAME_KEY, "labelSelector": {"matchLabels": APP}, **extra}
        ]
    }


def test_spread_and_anti_affinity_reach_the_pod_group(docs: Any) -> None:
    _constrain(docs)
    assert docs.errors() == []
    config = load_config_text(docs.text())
    scaled = config.scaled_object("serving", "llm-inference")
    assert scaled is not None
    group = pod_group(config, scaled, 2)
    assert group.labels == APP
    assert group.namespace == "serving"
    assert group.topology_spread == (
        TopologySpread(
            topology_key=ZONE,
            max_skew=1,
            when_unsatisfiable=WhenUnsatisfiable.DO_NOT_SCHEDULE,
            label_selector=LabelSelector(match_labels=APP),
        ),
    )
    assert group.pod_anti_affinity == (
        PodAffinityTerm(topology_key=HOSTNAME_KEY, label_selector=LabelSelector(match_labels=APP)),
    )


def test_min_domains_needs_do_not_schedule(docs: Any) -> None:
    _constrain(docs)
    docs.llm_pod["topologySpreadConstraints"][0].update(
        {"whenUnsatisfiable": "ScheduleAnyway", "minDomains": 2}
    )
    assert any("may only be set when whenUnsatisfiable is DoNotSchedule" in e for e in docs.errors())


def test_a_namespace_selector_is_refused(docs: Any) -> None:
    _constrain(docs, namespaceSelector={})
    assert any("namespaceSelector" in e and "cannot tell offline" in e for e in docs.errors())


def test_a_non_default_node_taints_policy_is_refused(docs: Any) -> None:
    _constrain(docs)
    docs.llm_pod["topologySpreadConstraints"][0]["nodeTaintsPolicy"] = "Honor"
    assert any("nodeTaintsPolicy" in e and "not supported" in e for e in docs.errors())


def test_validate_refuses_a_topology_key_no_node_of_the_pool_carries(docs: Any) -> None:
    """kubernetes-sigs/karpenter ``topology_test.go`` (commit 025b80f7dcb2d9eaa60f730871730570b8c86d2f)
    It("should ignore unknown topology keys"): such pods are never scheduled, so ``ebb validate``
    says so offline."""
    _constrain(docs)
    docs.llm_pod["topologySpreadConstraints"][0]["topologyKey"] = "example.com/rack"
    errors = docs.errors()
    assert any("carries the label 'example.com/rack'" in e and "never be scheduled" in e for e in errors), (
        errors
    )
