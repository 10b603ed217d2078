"""Node planning: which HyperPod instance-group nodes each NodePool should add or remove.

Pure: inputs are pydantic models (:class:`PlanningInput` and its parts), time comes in as
``now``, and :func:`plan_nodes` returns a :class:`NodePlans` value whose parts explain themselves.

Each name is imported from its module on first use (PEP 562), not when the package is: a
function that needs one part (the cron schedule, the offerings memory) does not build the whole
package at its cold start (`tests/unit/service/test_handler_imports.py` keeps it so).
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ebb.core.nodes.budgets import Budget, DisruptionReason, allowed_disruptions
    from ebb.core.nodes.catalogue import InstanceGroup, InstanceType
    from ebb.core.nodes.inputs import PlanningInput
    from ebb.core.nodes.nodepool import ConsolidationPolicy, Disruption, NodePool, PoolLimits
    from ebb.core.nodes.offerings import DEFAULT_UNAVAILABLE_TTL, OfferingKey, UnavailableOfferings
    from ebb.core.nodes.plan import (
        BlockedNode,
        ExistingPlacement,
        GroupTarget,
        NewNodes,
        NodePlan,
        NodePlans,
        NodeRemoval,
        PlanNote,
        PodDeletion,
        PodMove,
        RemovalKind,
        UnplacedPods,
        UnplacedReason,
    )
    from ebb.core.nodes.planner import plan_nodes
    from ebb.core.nodes.pod_requests import (
        ContainerResources,
        PodResources,
        effective_requests,
        to_planner_resources,
    )
    from ebb.core.nodes.quantities import Resources, parse_quantity
    from ebb.core.nodes.requirements import NodeSelectorTerm, Operator, Requirement
    from ebb.core.nodes.taints import Taint, TaintEffect, Toleration
    from ebb.core.nodes.workload import ExistingNode, NodeState, PodGroup, PodsOnNode

_MODULES = {
    "BlockedNode": "ebb.core.nodes.plan",
    "Budget": "ebb.core.nodes.budgets",
    "ConsolidationPolicy": "ebb.core.nodes.nodepool",
    "ContainerResources": "ebb.core.nodes.pod_requests",
    "DEFAULT_UNAVAILABLE_TTL": "ebb.core.nodes.offerings",
    "Disruption": "ebb.core.nodes.nodepool",
    "DisruptionReason": "ebb.core.nodes.budgets",
    "ExistingNode": "ebb.core.nodes.workload",
    "ExistingPlacement": "ebb.core.nodes.plan",
    "GroupTarget": "ebb.core.nodes.plan",
    "InstanceGroup": "ebb.core.nodes.catalogue",
    "InstanceType": "ebb.core.nodes.catalogue",
    "NewNodes": "ebb.core.nodes.plan",
    "NodePlan": "ebb.core.nodes.plan",
    "NodePlans": "ebb.core.nodes.plan",
    "NodePool": "ebb.core.nodes.nodepool",
    "NodeRemoval": "ebb.core.nodes.plan",
    "NodeSelectorTerm": "ebb.core.nodes.requirements",
    "NodeState": "ebb.core.nodes.workload",
    "OfferingKey": "ebb.core.nodes.offerings",
    "Operator": "ebb.core.nodes.requirements",
    "PlanNote": "ebb.core.nodes.plan",
    "PlanningInput": "ebb.core.nodes.inputs",
    "PodDeletion": "ebb.core.nodes.plan",
    "PodGroup": "ebb.core.nodes.workload",
    "PodMove": "ebb.core.nodes.plan",
    "PodResources": "ebb.core.nodes.pod_requests",
    "PodsOnNode": "ebb.core.nodes.workload",
    "PoolLimits": "ebb.core.nodes.nodepool",
    "RemovalKind": "ebb.core.nodes.plan",
    "Requirement": "ebb.core.nodes.requirements",
    "Resources": "ebb.core.nodes.quantities",
    "Taint": "ebb.core.nodes.taints",
    "TaintEffect": "ebb.core.nodes.taints",
    "Toleration": "ebb.core.nodes.taints",
    "UnavailableOfferings": "ebb.core.nodes.offerings",
    "UnplacedPods": "ebb.core.nodes.plan",
    "UnplacedReason": "ebb.core.nodes.plan",
    "allowed_disruptions": "ebb.core.nodes.budgets",
    "effective_requests": "ebb.core.nodes.pod_requests",
    "parse_quantity": "ebb.core.nodes.quantities",
    "plan_nodes": "ebb.core.nodes.planner",
    "to_planner_resources": "ebb.core.nodes.pod_requests",
}

if not TYPE_CHECKING:  # for mypy, only the names imported above exist

    def __getattr__(name: str) -> Any:
        module = _MODULES.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(import_module(module), name)
        globals()[name] = value  # later lookups skip this function
        return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "DEFAULT_UNAVAILABLE_TTL",
    "BlockedNode",
    "Budget",
    "ConsolidationPolicy",
    "ContainerResources",
    "Disruption",
    "DisruptionReason",
    "ExistingNode",
    "ExistingPlacement",
    "GroupTarget",
    "InstanceGroup",
    "InstanceType",
    "NewNodes",
    "NodePlan",
    "NodePlans",
    "NodePool",
    "NodeRemoval",
    "NodeSelectorTerm",
    "NodeState",
    "OfferingKey",
    "Operator",
    "PlanNote",
    "PlanningInput",
    "PodDeletion",
    "PodGroup",
    "PodMove",
    "PodResources",
    "PodsOnNode",
    "PoolLimits",
    "RemovalKind",
    "Requirement",
    "Resources",
    "Taint",
    "TaintEffect",
    "Toleration",
    "UnavailableOfferings",
    "UnplacedPods",
    "UnplacedReason",
    "allowed_disruptions",
    "effective_requests",
    "parse_quantity",
    "plan_nodes",
    "to_planner_resources",
]
