"""What one NodePool's decisions carry from one invocation to the next (stored in the state table)."""

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ebb.core.nodes import UnavailableOfferings
from ebb.core.replicas import ScalerState


class NodeMemory(BaseModel):
    """What Karpenter's consolidation needs of a joined node that the Node object does not say."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    initialized_at: AwareDatetime | None = None
    """The first decision that saw the node usable (Karpenter's Initialized condition)."""
    pods: dict[str, int] = Field(default_factory=dict)
    """The scalers' pods seen on it by the last decision."""
    last_pod_event_at: AwareDatetime | None = None
    """The decision that first saw the current pods (a pod came or went then)."""


class BackfillFloor(BaseModel):
    """A backfill's floor on the pool, held by every decision until `until` (a manual execution set it)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    """The backfill's name (its execution's, when none was given)."""
    nodes: int | None = Field(default=None, ge=0)
    """At least this many nodes in the pool's groups together."""
    group_nodes: dict[str, int] = Field(default_factory=dict)
    """At least this many nodes in each of these groups."""
    replicas: dict[str, int] = Field(default_factory=dict)
    """At least this many replicas of each of these scalers (`namespace/name`)."""
    until: AwareDatetime

    def holds(self, now: datetime) -> bool:
        """Whether the window is still open at `now` (it ends at `until`)."""
        return now < self.until

    def __str__(self) -> str:
        parts = []
        if self.nodes is not None:
            parts.append(f"{self.nodes} node(s) in total")
        parts.extend(f"{group}>={count}" for group, count in sorted(self.group_nodes.items()))
        parts.extend(f"{scaler}>={count} replicas" for scaler, count in sorted(self.replicas.items()))
        return f"backfill {self.name!r} floor until {self.until.isoformat()}: {', '.join(parts)}"


class Pause(BaseModel):
    """A pause set at run time (`ebb pause`), kept on the pool's item until `ebb resume`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    at: AwareDatetime
    by: str = Field(min_length=1)
    """Who paused it (the caller's identity as the CLI found it)."""
    reason: str = ""

    def __str__(self) -> str:
        why = f": {self.reason}" if self.reason else ""
        return f"paused by {self.by} since {self.at.isoformat()} (ebb pause{why})"


POOL_PAUSE = "*"
"""The key of a whole NodePool's pause among the pool's pauses (a scaler's key has a slash)."""


class Pauses(BaseModel):
    """The pauses that hold a pool at run time: the whole pool, and single scalers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pool: Pause | None = None
    scalers: dict[str, Pause] = Field(default_factory=dict)

    @classmethod
    def from_stored(cls, stored: dict[str, str]) -> "Pauses":
        """From the pool item's `pauses` map (key `*` or a scaler, value a pause as JSON)."""
        pauses = {key: Pause.model_validate_json(value) for key, value in stored.items()}
        return cls(pool=pauses.pop(POOL_PAUSE, None), scalers=pauses)


class PoolState(BaseModel):
    """The pool's stored state; a pool never decided before starts from ``PoolState()``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = 1
    generation: int = Field(default=0, ge=0)
    """Bumped each time the pool's node targets change; provisioning executions are fenced on it."""
    node_targets: dict[str, int] = Field(default_factory=dict)
    """The absolute target per instance group of the current generation."""
    provisioning_open: bool = False
    """A provisioning execution of the current generation has not reported its end yet."""
    scalers: dict[str, ScalerState] = Field(default_factory=dict)
    nodes: dict[str, NodeMemory] = Field(default_factory=dict)
    unavailable: UnavailableOfferings = UnavailableOfferings()
    idle_timers: dict[str, AwareDatetime] = Field(default_factory=dict)
    """The idle timers armed, per scaler (the service arms one only when its time changes)."""
    backfill: BackfillFloor | None = None
    """The pool's backfill while its window is open; decisions drop it once it has ended."""
    at_rest: bool = False
    """The last decision left the pool at rest (`ebb.service.idle_polling`): the tick then polls
    it only every few minutes, its alarms wake it at once."""
    removing: dict[str, AwareDatetime] = Field(default_factory=dict)
    """Instance ids of the nodes ebb's plans chose to remove, and when, until HyperPod no longer
    lists them: a node HyperPod shuts down that is not here went without ebb."""
    reclaimed: dict[str, AwareDatetime] = Field(default_factory=dict)
    """Instance ids of the Spot nodes taken for reclaimed, and when first seen, until HyperPod no
    longer lists them: each marks its offering once (`spot_interruptions`)."""
    replicas_set: dict[str, int] = Field(default_factory=dict)
    """The replicas ebb last set per scaler: a target found at another count was changed by hand
    (or by something else) since, which the next decision reports and overrides."""
