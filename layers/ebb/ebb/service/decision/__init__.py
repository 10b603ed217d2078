"""The pool decision step: one pure function of what was observed, what was stored, the
configuration and `now`, shared by the `decide` Lambda, the simulator and the demo.

Nothing here reads a clock, the environment or the network, and nothing imports an adapter
(import-linter checks it): the `decide` service gathers a :class:`PoolSnapshot` through the
adapters, calls :func:`decide_pool`, and carries the :class:`PoolDecision` out.
"""

from ebb.config.node_planning import GroupCounts
from ebb.service.decision.pending_pods import owning_pool
from ebb.service.decision.pool_decision import (
    PoolDecision,
    ProvisioningOrder,
    ScaleAction,
    ScalerOutcome,
    Unplaceable,
    decide_pool,
)
from ebb.service.decision.pool_state import BackfillFloor, NodeMemory, PoolState
from ebb.service.decision.snapshot import (
    NodeFailure,
    ObservedNode,
    PendingPod,
    PoolSnapshot,
    ScalerSnapshot,
)

__all__ = [
    "BackfillFloor",
    "GroupCounts",
    "NodeFailure",
    "NodeMemory",
    "ObservedNode",
    "PendingPod",
    "PoolDecision",
    "PoolSnapshot",
    "PoolState",
    "ProvisioningOrder",
    "ScaleAction",
    "ScalerOutcome",
    "ScalerSnapshot",
    "Unplaceable",
    "decide_pool",
    "owning_pool",
]
