"""What the decide path reads of a pod's inter-pod constraints: topology spread and required pod
(anti-)affinity, which the node core plans, and what it does not model (reported, never planned as
if the pods fit)."""

from __future__ import annotations

from typing import Any

from ebb.adapters.kubernetes.objects import PodSpec
from ebb.core.nodes.topology import (
    LabelSelector,
    PodAffinityTerm,
    PodConstraints,
    TopologySpread,
    WhenUnsatisfiable,
)
from ebb.service.observe import _unmodelled, pod_constraints

CONTAINERS: list[dict[str, Any]] = [{"name": "server", "resources": {"requests": {"nvidia.com/gpu": "1"}}}]
ZONE, HOST = "topology.kubernetes.io/zone", "kubernetes.io/hostname"
SPREAD = {"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule"}
ONE_PER_NODE = {"topologyKey": HOST, "labelSelector": {"matchLabels": {"app": "llm"}}}
REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"


def _wire() -> PodSpec:
    return PodSpec.model_validate(
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


EXPECTED = PodConstraints(
    topology_spread=(
        TopologySpread(topology_key=ZONE, max_skew=1, when_unsatisfiable=WhenUnsatisfiable.DO_NOT_SCHEDULE),
    ),
    pod_affinity=(PodAffinityTerm(topology_key=ZONE),),
    pod_anti_affinity=(
        PodAffinityTerm(topology_key=HOST, label_selector=LabelSelector(match_labels={"app": "llm"})),
    ),
)


def test_topology_spread_and_required_pod_affinities_are_read_from_the_wire_shape() -> None:
    constraints, unmodelled = pod_constraints(_wire())
    assert constraints == EXPECTED
    assert unmodelled == ()
    # A pending pod's constraints are planned; nothing is reported.
    assert _unmodelled(_wire()) == ()


def test_a_target_whose_live_constraints_match_the_binding_is_planned() -> None:
    assert _unmodelled(_wire(), EXPECTED) == ()


def test_a_target_whose_live_constraints_differ_from_the_binding_is_reported() -> None:
    """ebb plans a scaler's pods from its binding's podSpec: a live template with other constraints
    would be planned wrongly, so its pods are reported instead."""
    assert _unmodelled(_wire(), PodConstraints()) == (
        "topologySpreadConstraints (the live pod template's differ from the binding's podSpec)",
        "podAffinity (the live pod template's differ from the binding's podSpec)",
        "podAntiAffinity (the live pod template's differ from the binding's podSpec)",
    )


def test_spread_policies_other_than_the_defaults_are_reported() -> None:
    spec = PodSpec.model_validate(
        {"containers": CONTAINERS, "topologySpreadConstraints": [{**SPREAD, "nodeTaintsPolicy": "Honor"}]}
    )
    constraints, unmodelled = pod_constraints(spec)
    assert constraints.topology_spread == ()
    assert unmodelled == ("topologySpreadConstraints (nodeAffinityPolicy/nodeTaintsPolicy)",)


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


def test_a_pending_pod_requesting_an_extended_resource_is_planned_with_it() -> None:
    """A pod asking for EFA devices (``vpc.amazonaws.com/efa``, the EFA device plugin's resource,
    https://docs.aws.amazon.com/eks/latest/userguide/node-efa.html) is planned with them: its request
    carries the EFA count, so only types whose catalogue entry has EFA can take it (it used to be
    reported as unmodelled); its pod labels and constraints are read as they are."""
    from ebb.adapters.kubernetes.objects import Pod
    from ebb.service.observe import _pending

    efa = [
        {"name": "server", "resources": {"requests": {"nvidia.com/gpu": "8", "vpc.amazonaws.com/efa": "4"}}}
    ]
    pod = Pod.model_validate(
        {
            "metadata": {"name": "mn-0", "namespace": "research", "labels": {"app": "llm"}},
            "spec": {"containers": efa, "affinity": {"podAntiAffinity": {REQUIRED: [ONE_PER_NODE]}}},
        }
    )
    pending = _pending(pod)
    assert pending.unmodelled_constraints == ()
    assert (pending.requests.gpus, pending.requests.extended) == (8, (("vpc.amazonaws.com/efa", 4),))
    assert pending.labels == {"app": "llm"}
    assert pending.constraints.pod_anti_affinity == EXPECTED.pod_anti_affinity
    plain = Pod.model_validate(
        {"metadata": {"name": "p", "namespace": "research"}, "spec": {"containers": CONTAINERS}}
    )
    assert _pending(plain).unmodelled_constraints == ()
