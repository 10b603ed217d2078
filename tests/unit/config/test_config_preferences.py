"""The binding's podSpec carries preferred node affinity and preferred pod (anti-)affinity to the planner.

Field names and rules are core/v1's (``PreferredSchedulingTerm``, ``WeightedPodAffinityTerm``: a
weight in 1-100, pkg/apis/core/validation ``validatePreferredSchedulingTerms`` and
``validateWeightedPodAffinityTerms``). ebb plans them as Karpenter does (required while they can be
met, relaxed and reported otherwise), so the configuration accepts them instead of noting them as
ignored; what cannot be planned offline (``matchFields``, ``namespaceSelector``) is refused.
"""

from __future__ import annotations

from typing import Any

import pytest

from ebb.config import load_config_text
from ebb.config.node_planning import pod_group
from ebb.core.nodes import NodeSelectorTerm, Operator, Requirement
from ebb.core.nodes.requirements import PreferredSchedulingTerm
from ebb.core.nodes.topology import HOSTNAME_KEY, LabelSelector, PodAffinityTerm, WeightedPodAffinityTerm

ZONE = "topology.kubernetes.io/zone"
APP = {"app": "llm"}


def _prefer(docs: Any, *, weight: int = 30, term: dict[str, Any] | None = None) -> None:
    docs.binding["spec"]["scalers"][0]["podLabels"] = APP
    affinity = docs.llm_pod.setdefault("affinity", {})
    affinity.setdefault("nodeAffinity", {})["preferredDuringSchedulingIgnoredDuringExecution"] = [
        {
            "weight": weight,
            "preference": {"matchExpressions": [{"key": ZONE, "operator": "In", "values": ["us-east-1a"]}]},
        }
    ]
    affinity["podAntiAffinity"] = {
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {
                "weight": 100,
                "podAffinityTerm": term
                or {"topologyKey": HOSTNAME_KEY, "labelSelector": {"matchLabels": APP}},
            }
        ]
    }
    affinity["podAffinity"] = {
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 1, "podAffinityTerm": {"topologyKey": ZONE, "labelSelector": {"matchLabels": APP}}}
        ]
    }


def test_preferences_reach_the_pod_group(docs: Any) -> None:
    _prefer(docs)
    assert docs.errors() == []
    config = load_config_text(docs.text())
    scaled = config.scaled_object("serving", "llm-inference")
    assert scaled is not None
    group = pod_group(config, scaled, 2)
    assert group.preferred_node_affinity == (
        PreferredSchedulingTerm(
            weight=30,
            preference=NodeSelectorTerm(
                match_expressions=(Requirement(key=ZONE, operator=Operator.IN, values=("us-east-1a",)),)
            ),
        ),
    )
    assert group.preferred_pod_anti_affinity == (
        WeightedPodAffinityTerm(
            weight=100,
            term=PodAffinityTerm(topology_key=HOSTNAME_KEY, label_selector=LabelSelector(match_labels=APP)),
        ),
    )
    assert group.preferred_pod_affinity == (
        WeightedPodAffinityTerm(
            weight=1, term=PodAffinityTerm(topology_key=ZONE, label_selector=LabelSelector(match_labels=APP))
        ),
    )


@pytest.mark.parametrize("weight", [0, 101])
def test_a_weight_outside_1_to_100_is_refused(docs: Any, weight: int) -> None:
    _prefer(docs, weight=weight)
    errors = docs.errors()
    assert any("preferredDuringSchedulingIgnoredDuringExecution" in e and "weight" in e for e in errors), (
        errors
    )


def test_match_fields_in_a_preference_is_refused(docs: Any) -> None:
    _prefer(docs)
    node_affinity = docs.llm_pod["affinity"]["nodeAffinity"]
    node_affinity["preferredDuringSchedulingIgnoredDuringExecution"][0]["preference"]["matchFields"] = [
        {"key": "metadata.name", "operator": "In", "values": ["n1"]}
    ]
    assert any("matchFields" in e and "not supported" in e for e in docs.errors())


def test_a_namespace_selector_on_a_preferred_term_is_refused(docs: Any) -> None:
    _prefer(
        docs,
        term={"topologyKey": HOSTNAME_KEY, "labelSelector": {"matchLabels": APP}, "namespaceSelector": {}},
    )
    assert any("namespaceSelector" in e and "cannot tell offline" in e for e in docs.errors())
