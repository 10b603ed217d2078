"""The provisioning policy: how a NodePool generation's node targets become nodes.

Pure code, called by the provisioning workflow's tasks and by the simulator alike: what to add
from a fresh read of the groups, what a shortage marks, which pending nodes to cancel, when to
hand back to decide and when to try a starved offering again.
"""

from ebb.core.provisioning.fence import Fence, FenceVerdict, PoolMode
from ebb.core.provisioning.policy import (
    IN_FLIGHT,
    QUOTA_RECHECK,
    SHORTAGE_BASE,
    SHORTAGE_CAP,
    CapacityFailure,
    GroupProgress,
    GroupView,
    NodeCondition,
    NodeView,
    RoundPlan,
    Shortage,
    Shortages,
    Standing,
    plan_round,
    shortage_duration,
)

__all__ = [
    "IN_FLIGHT",
    "QUOTA_RECHECK",
    "SHORTAGE_BASE",
    "SHORTAGE_CAP",
    "CapacityFailure",
    "Fence",
    "FenceVerdict",
    "GroupProgress",
    "GroupView",
    "NodeCondition",
    "NodeView",
    "PoolMode",
    "RoundPlan",
    "Shortage",
    "Shortages",
    "Standing",
    "plan_round",
    "shortage_duration",
]
