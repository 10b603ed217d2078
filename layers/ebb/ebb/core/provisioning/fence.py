"""The fence every cluster-changing task checks first: generation, configuration version, mode.

An execution may act only while its generation is the pool's current one, the configuration
version it was started under is not older than the current one, and the pool's mode lets ebb
change its nodes (not shadow mode, not paused, not pods only). Versions are sequence numbers
the state table hands out (ordered), not digests: a digest says "different", not "older".
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class FenceVerdict(StrEnum):
    """Why an execution may or may not act."""

    CURRENT = "current"
    NOT_RECORDED = "not-recorded"
    """The pool has not recorded this generation yet: decide starts the execution before it
    records the decision (act, then record), so the first fence may come first. Wait for it."""
    NEWER_GENERATION = "newer-generation"
    NEWER_CONFIGURATION = "newer-configuration"
    SHADOW_MODE = "shadow-mode"
    """The binding's shadowMode: decide and record, change nothing."""
    PAUSED = "paused"
    """The pool is paused at run time (`ebb pause`)."""
    PODS_ONLY = "pods-only"
    """The pool's nodes are HyperPod's own autoscaling's (the binding's podsOnly)."""


class PoolMode(StrEnum):
    """Whether ebb may change a pool's nodes, and if not why."""

    ACTS = "acts"
    SHADOW_MODE = "shadow-mode"
    PAUSED = "paused"
    PODS_ONLY = "pods-only"


class Fence(BaseModel):
    """An execution's generation and configuration version against the pool's current ones."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    generation: int = Field(ge=0)
    config_version: int = Field(ge=0)
    pool_generation: int = Field(ge=0)
    current_config_version: int = Field(ge=0)
    mode: PoolMode = PoolMode.ACTS

    @property
    def verdict(self) -> FenceVerdict:
        """`CURRENT` only for the pool's generation under the current (or a newer) configuration."""
        if self.generation > self.pool_generation:
            return FenceVerdict.NOT_RECORDED
        if self.generation < self.pool_generation:
            return FenceVerdict.NEWER_GENERATION
        if self.config_version < self.current_config_version:
            return FenceVerdict.NEWER_CONFIGURATION
        if self.mode is not PoolMode.ACTS:
            return FenceVerdict(self.mode.value)
        return FenceVerdict.CURRENT

    @property
    def current(self) -> bool:
        """Whether the execution may act."""
        return self.verdict is FenceVerdict.CURRENT
