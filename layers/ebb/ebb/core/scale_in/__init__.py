"""The scale-in policy: which nodes may go now, and how their drain proceeds.

Pure code, called by the provisioning workflow's tasks and by the simulator alike: cordon first,
evict through the Eviction API within PodDisruptionBudgets, give up past the deadline, delete
within the NodePool's disruption budget, never a node running pods ebb does not manage.
"""

from ebb.core.scale_in.drain import (
    BLOCKED_POLL,
    DEFAULT_DRAIN_DEADLINE,
    DRAIN_POLL,
    MAX_DELETE_ATTEMPTS,
    DeletionFailure,
    DrainProgress,
    DrainStep,
    NodeNow,
    NodeToDelete,
    NodeToRelease,
    Phase,
    PodOnNode,
    PodToEvict,
    PoolBudget,
    Refusal,
    Removal,
    RemovalProgress,
    after_deletions,
    delete_retry_wait,
    drain_step,
    release_superseded,
)

__all__ = [
    "BLOCKED_POLL",
    "DEFAULT_DRAIN_DEADLINE",
    "DRAIN_POLL",
    "MAX_DELETE_ATTEMPTS",
    "DeletionFailure",
    "DrainProgress",
    "DrainStep",
    "NodeNow",
    "NodeToDelete",
    "NodeToRelease",
    "Phase",
    "PodOnNode",
    "PodToEvict",
    "PoolBudget",
    "Refusal",
    "Removal",
    "RemovalProgress",
    "after_deletions",
    "delete_retry_wait",
    "drain_step",
    "release_superseded",
]
