"""Whether ebb may change a pool's nodes now: the mode every provisioning task checks with its fence."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ebb.adapters.state_table import StoredPool
from ebb.core.provisioning import PoolMode
from ebb.service.decision.pool_state import POOL_PAUSE

if TYPE_CHECKING:
    from ebb.config import EbbConfig


def pool_mode(config: EbbConfig | None, stored: StoredPool) -> PoolMode:
    """Shadow mode first (nothing acts anywhere), then a run-time pause, then pods only."""
    if config is not None and config.binding.spec.shadow_mode:
        return PoolMode.SHADOW_MODE
    if POOL_PAUSE in stored.pauses:
        return PoolMode.PAUSED
    if config is not None and stored.node_pool in config.binding.spec.pods_only:
        return PoolMode.PODS_ONLY
    return PoolMode.ACTS
