"""Offerings known to lack capacity, and for how long the planner avoids them.

Karpenter (aws/karpenter-provider-aws ``pkg/cache``) keeps an offering that returned an
insufficient-capacity error out of its launch decisions for three minutes, and marking it again
restarts that time. ebb keeps the same rule per (instance group, instance type, zone), in a small
record that is stored between invocations: time comes in as ``now``, nothing reads a clock.

Rules: :meth:`UnavailableOfferings.mark` adds an entry that expires ``ttl`` after ``now`` or, for
an offering already listed, moves its expiry to whichever is later; an entry stops counting at
its expiry (``now >= until``) and :meth:`UnavailableOfferings.prune` drops it from the record.
"""

from datetime import datetime, timedelta
from typing import Final, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

DEFAULT_UNAVAILABLE_TTL: Final = timedelta(minutes=3)


class OfferingKey(BaseModel):
    """Where a node would come from: an instance group, one of its types, its zone."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    instance_group: str = Field(min_length=1)
    instance_type: str = Field(min_length=1)
    zone: str = Field(min_length=1)

    def __str__(self) -> str:
        return f"{self.instance_group}/{self.instance_type}/{self.zone}"


class UnavailableOffering(BaseModel):
    """One offering that lacked capacity, until when, and what was observed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    offering: OfferingKey
    until: AwareDatetime
    reason: str = "InsufficientCapacity"

    def __str__(self) -> str:
        return f"{self.offering} unavailable until {self.until.isoformat()} ({self.reason})"


class UnavailableOfferings(BaseModel):
    """The serializable record of offerings to avoid; immutable, each change returns a new one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    entries: tuple[UnavailableOffering, ...] = ()

    @model_validator(mode="after")
    def _one_entry_per_offering(self) -> Self:
        keys = [entry.offering for entry in self.entries]
        if len(set(keys)) != len(keys):
            raise ValueError("unavailable offerings list the same offering twice")
        return self

    def mark(
        self,
        offering: OfferingKey,
        now: datetime,
        ttl: timedelta = DEFAULT_UNAVAILABLE_TTL,
        reason: str = "InsufficientCapacity",
    ) -> "UnavailableOfferings":
        """Record that ``offering`` lacked capacity at ``now``: avoid it for ``ttl`` from now."""
        if ttl <= timedelta(0):
            raise ValueError(f"ttl must be positive, got {ttl}")
        until = now + ttl
        kept = []
        for entry in self.entries:
            if entry.offering == offering:
                until = max(until, entry.until)
            else:
                kept.append(entry)
        kept.append(UnavailableOffering(offering=offering, until=until, reason=reason))
        return UnavailableOfferings(entries=tuple(sorted(kept, key=lambda e: str(e.offering))))

    def is_unavailable(self, offering: OfferingKey, now: datetime) -> bool:
        """Whether ``offering`` is still to be avoided at ``now``."""
        return any(entry.offering == offering and now < entry.until for entry in self.entries)

    def active(self, now: datetime) -> frozenset[OfferingKey]:
        """The offerings still to be avoided at ``now``."""
        return frozenset(entry.offering for entry in self.entries if now < entry.until)

    def prune(self, now: datetime) -> "UnavailableOfferings":
        """The record without the entries that expired at or before ``now``."""
        return UnavailableOfferings(entries=tuple(entry for entry in self.entries if now < entry.until))

    def next_expiry(self, now: datetime) -> datetime | None:
        """When the earliest still-active entry expires (when a re-plan may change its mind)."""
        return min((entry.until for entry in self.entries if now < entry.until), default=None)
