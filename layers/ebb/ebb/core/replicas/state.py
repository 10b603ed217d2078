"""The state one scaler's decisions carry from one invocation to the next.

It holds what the HPA controller and KEDA's operator keep in memory or in the ScaledObject's
status: the recommendation history (stabilization), the scale events (rate-limit policies), the
last time a trigger was active (cooldown), when ebb first saw the scaler (initial cooldown) and
the consecutive failures per trigger (fallback). It is one small serializable value with a
`version`; `load_state` migrates older versions and never drops them.

It stays bounded: each decision prunes the recommendations no stabilization window can read any
more (the HPA keeps such entries only as slots to overwrite) and the failure counts of triggers
that no longer exist; scale events are kept in the HPA's own slots, where a new event replaces one
older than its direction's longest policy period.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Final, Literal

from pydantic import AwareDatetime, Field, ValidationError

from ebb.core.replicas.frozen_model import FrozenModel
from ebb.errors import EbbError

STATE_VERSION: Final = 2


class Recommendation(FrozenModel):
    """A raw (unstabilized) desired replica count the HPA computed at `at`."""

    at: AwareDatetime
    replicas: int = Field(ge=0)


class ScaleEvent(FrozenModel):
    """A scale the HPA made at `at`, by `change` replicas (positive, in its direction)."""

    at: AwareDatetime
    change: int = Field(gt=0)


class ScalerState(FrozenModel):
    """Version 2: everything a scaler's next decision needs from the previous ones."""

    version: Literal[2] = 2
    created_at: AwareDatetime | None = None
    """When ebb first decided for this scaler (KEDA's ScaledObject creation time)."""
    last_active_at: AwareDatetime | None = None
    """KEDA's `status.lastActiveTime`: the last decision that found a trigger active."""
    recommendations: tuple[Recommendation, ...] | None = None
    """`None`: no history yet, which the HPA seeds with the current replicas."""
    scale_up_events: tuple[ScaleEvent, ...] = ()
    scale_down_events: tuple[ScaleEvent, ...] = ()
    consecutive_failures: dict[str, int] = Field(default_factory=dict)
    """Per trigger name; only non-zero counts are kept."""


class ScalerStateV1(FrozenModel):
    """Version 1, the layout before recommendations and events were split by meaning.

    Pairs were `[timestamp, value]`; scale events were one list with a signed change; there was
    no creation time.
    """

    version: Literal[1]
    last_active: AwareDatetime | None = None
    recommendations: tuple[tuple[AwareDatetime, int], ...] | None = None
    scale_events: tuple[tuple[AwareDatetime, int], ...] = ()
    failures: dict[str, int] = Field(default_factory=dict)


class StateError(EbbError):
    """A stored replica state cannot be read: unknown version or malformed content."""


def migrate_v1(old: ScalerStateV1) -> ScalerState:
    """The version-2 equivalent of a version-1 state (no information is lost)."""
    recommendations = None
    if old.recommendations is not None:
        recommendations = tuple(
            Recommendation(at=at, replicas=replicas) for at, replicas in old.recommendations
        )
    return ScalerState(
        created_at=None,
        last_active_at=old.last_active,
        recommendations=recommendations,
        scale_up_events=tuple(
            ScaleEvent(at=at, change=change) for at, change in old.scale_events if change > 0
        ),
        scale_down_events=tuple(
            ScaleEvent(at=at, change=-change) for at, change in old.scale_events if change < 0
        ),
        consecutive_failures={name: count for name, count in old.failures.items() if count > 0},
    )


def load_state(data: Mapping[str, object] | None) -> ScalerState | None:
    """A stored state (as `model_dump(mode="json")` wrote it) in the current version, or `None`."""
    if data is None:
        return None
    version = data.get("version")
    try:
        if version == STATE_VERSION:
            return ScalerState.model_validate(data)
        if version == 1:
            return migrate_v1(ScalerStateV1.model_validate(data))
    except ValidationError as error:
        raise StateError(f"stored replica state (version {version}) is malformed: {error}") from error
    raise StateError(
        f"stored replica state has version {version!r}; this ebb reads versions 1 and {STATE_VERSION}"
    )


def live_recommendations(
    history: tuple[Recommendation, ...], horizon: datetime
) -> tuple[Recommendation, ...]:
    """The entries not older than `horizon`; older ones can only be overwritten, never read."""
    if all(entry.at >= horizon for entry in history):
        return history
    return tuple(entry for entry in history if entry.at >= horizon)
