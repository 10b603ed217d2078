"""Node planning: which HyperPod instance-group nodes each NodePool should add or remove.

Pure: inputs are pydantic models (:class:`PlanningInput` and its parts), time comes in as
``now``, and :func:`plan_nodes` returns a :class:`NodePlans` value whose parts explain themselves.
"""

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
