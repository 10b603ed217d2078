"""Karpenter's unavailable-offerings cache, as the reference planner and the simulator use it.

When a launch fails for lack of capacity (``InsufficientInstanceCapacity``), the AWS provider
marks the offering unavailable in an in-memory cache keyed by capacity type, instance type and
zone (aws/karpenter-provider-aws ``pkg/cache/unavailableofferings.go`` at commit
3ceaaaf8a5b698faf45b1efb177b8aff7154540d, ``MarkUnavailable``; key
``<capacityType>:<instanceType>:<zone>``), for ``UnavailableOfferingsTTL`` = 3 minutes
(``pkg/cache/cache.go`` at commit 126cca56394476588f38997ff55c16847ebcc595). Until the entry
expires the offering is reported unavailable, so the scheduler leaves the instance type out in
that zone; marking it again restarts the time ("even if the key is already in the cache, we still
need to call Set to extend the cached entry's TTL"). The failed
NodeClaim is deleted and its pods stay pending, so they are planned again in the provisioner's
next batch without that offering: that is Karpenter's whole retry.

On HyperPod an instance group is one (instance type, zone) with one capacity type, so one key per
group; two groups of the same type in the same zone share an entry, as two Karpenter offerings
would. Unlike ``ebb.core.nodes.offerings`` (a record stored between Lambda invocations), this is
the controller's in-memory cache: mutable, and the time comes in as ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from ebb.core.nodes.catalogue import InstanceGroup

UNAVAILABLE_OFFERINGS_TTL: Final = timedelta(minutes=3)
"""aws/karpenter-provider-aws ``pkg/cache/cache.go`` (126cca56): ``UnavailableOfferingsTTL``."""


@dataclass(frozen=True, order=True, slots=True)
class Offering:
    """Karpenter's offering key: an instance type in a zone with a capacity type."""

    instance_type: str
    zone: str
    capacity_type: str = "on-demand"

    @classmethod
    def of_group(cls, group: InstanceGroup, instance_type: str) -> Offering:
        """The offering a node of ``group`` launched as ``instance_type`` comes from."""
        return cls(instance_type=instance_type, zone=group.zone, capacity_type=group.capacity_type)

    def __str__(self) -> str:
        return f"{self.capacity_type}:{self.instance_type}:{self.zone}"


@dataclass
class UnavailableOfferings:
    """Offerings that recently lacked capacity, each until ``ttl`` after it was last marked."""

    ttl: timedelta = UNAVAILABLE_OFFERINGS_TTL
    _until: dict[Offering, datetime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.ttl <= timedelta(0):
            raise ValueError(f"ttl must be positive, got {self.ttl}")

    def mark(self, offering: Offering, now: datetime) -> None:
        """A launch of ``offering`` failed for lack of capacity at ``now``: avoid it for ``ttl``."""
        self._until[offering] = now + self.ttl

    def is_unavailable(self, offering: Offering, now: datetime) -> bool:
        """Whether ``offering`` is still avoided at ``now``.

        go-cache (patrickmn/go-cache ``cache.go`` at commit 8a2f4f19, ``Item.Expired``:
        ``Expiration.Before(time.Now())``) drops an entry only once its expiry is in the past, so
        at the expiry itself the offering is still unavailable.
        """
        until = self._until.get(offering)
        return until is not None and now <= until

    def active(self, now: datetime) -> frozenset[Offering]:
        """The offerings avoided at ``now``: what ``karpenter_plan(..., unavailable=...)`` takes."""
        return frozenset(offering for offering, until in self._until.items() if now <= until)

    def next_expiry(self, now: datetime) -> datetime | None:
        """When the earliest active entry expires (the next time a retry can pick it again)."""
        return min((until for until in self._until.values() if now <= until), default=None)
