"""The pool decision step: one pure function of what was observed, what was stored, the
configuration and `now`, shared by the `decide` Lambda, the simulator and the demo.

Nothing here reads a clock, the environment or the network, and nothing imports an adapter
(import-linter checks it): the `decide` service gathers a :class:`PoolSnapshot` through the
adapters, calls :func:`decide_pool`, and carries the :class:`PoolDecision` out.

Each name but the stored state is imported from its module on first use (PEP 562): the
provisioning tasks read `PoolState` only, and need not build the configuration and both cores
at their cold start (`tests/unit/service/test_handler_imports.py` keeps it so).
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ebb.service.decision.pool_state import BackfillFloor, NodeMemory, PoolState

if TYPE_CHECKING:
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
    from ebb.service.decision.snapshot import (
        NodeFailure,
        ObservedNode,
        PendingPod,
        PoolSnapshot,
        ScalerSnapshot,
    )

_MODULES = {
    "GroupCounts": "ebb.config.node_planning",
    "NodeFailure": "ebb.service.decision.snapshot",
    "ObservedNode": "ebb.service.decision.snapshot",
    "PendingPod": "ebb.service.decision.snapshot",
    "PoolDecision": "ebb.service.decision.pool_decision",
    "PoolSnapshot": "ebb.service.decision.snapshot",
    "ProvisioningOrder": "ebb.service.decision.pool_decision",
    "ScaleAction": "ebb.service.decision.pool_decision",
    "ScalerOutcome": "ebb.service.decision.pool_decision",
    "ScalerSnapshot": "ebb.service.decision.snapshot",
    "Unplaceable": "ebb.service.decision.pool_decision",
    "decide_pool": "ebb.service.decision.pool_decision",
    "owning_pool": "ebb.service.decision.pending_pods",
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
