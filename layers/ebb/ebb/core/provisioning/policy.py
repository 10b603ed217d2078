"""One round of the provisioning workflow, decided from what it just read.

Inputs: the generation's absolute targets per instance group, the groups as DescribeCluster
reports them (target counts, read fresh), the nodes as ListClusterNodes reports them (with
NodeLogicalIds, so nodes without an instance yet are seen), the capacity failures that cluster
events reported, the shortages recorded so far, the groups this execution already handed back,
and `now`. Output (:class:`RoundPlan`): what to add per group, which offerings a shortage marks
and until when, which of a starved group's pending nodes to cancel, whether to hand back to
decide, and where the generation stands (satisfied, waiting, past its deadline).

Rules:
- Additions are `target - group target count` (never negative): BatchAddClusterNodes adds a
  delta, so a delta from a fresh read can be retried or repeated without adding twice. A group
  whose offering is marked out gets no additions: decide re-plans its share.
- A node that failed for lack of capacity (its status message, or a cluster event naming it)
  marks its group's offering (type x zone). HyperPod keeps retrying it by itself, so its
  still-pending nodes (no instance yet) are cancelled; nodes with an instance stay (pods run on
  whatever is usable at once). A node under automatic recovery is in flight, not failed.
- The mark's duration backs off per offering across repeated shortages: `BASE * 2**(n-1)`,
  at most `CAP`, where n counts the offering's shortages since its last mark ended more than
  `CAP` ago. The first is Karpenter's 3 minutes (aws/karpenter-provider-aws, `pkg/cache`:
  `UnavailableOfferingsTTL`).
- Hand back (a decision request for the pool) once per starved group per execution: decide
  re-plans that share onto other groups or zones as a new generation; the workflow never moves a
  share itself.
- Satisfied when every group has at least its target usable; past the deadline when `now` is at
  or after it and it is not satisfied; waiting otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from ebb.core.nodes.offerings import DEFAULT_UNAVAILABLE_TTL, OfferingKey

SHORTAGE_BASE: Final = DEFAULT_UNAVAILABLE_TTL
SHORTAGE_CAP: Final = timedelta(minutes=48)
"""The longest a shortage keeps an offering out: 3 min doubled four times (3, 6, 12, 24, 48)."""
QUOTA_RECHECK: Final = timedelta(hours=1)
"""A quota error keeps the offering out this long: ebb cannot see a quota change (that would
need Service Quotas), so it tries again after an hour, and the alarm tells a person meanwhile."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NodeCondition(StrEnum):
    """A node as the workflow sees it (the adapter's classification, without Kubernetes)."""

    PENDING = "pending"
    RUNNING = "running"
    USABLE = "usable"
    FAILED_CAPACITY = "failed_capacity"
    FAILED = "failed"
    RECOVERING = "recovering"
    SHUTTING_DOWN = "shutting_down"


IN_FLIGHT: Final = frozenset({NodeCondition.PENDING, NodeCondition.RUNNING, NodeCondition.RECOVERING})


class GroupView(_Frozen):
    """One instance group: its offering and the target count DescribeCluster reports now."""

    name: str = Field(min_length=1)
    instance_type: str = Field(min_length=1)
    zone: str = Field(min_length=1)
    target_count: int = Field(ge=0)

    @property
    def offering(self) -> OfferingKey:
        """The group's offering (ebb's groups are single-type, single-zone)."""
        return OfferingKey(instance_group=self.name, instance_type=self.instance_type, zone=self.zone)


class NodeView(_Frozen):
    """One node of ListClusterNodes."""

    key: str = Field(min_length=1)
    """Its NodeLogicalId, else its instance id."""
    instance_group: str = Field(min_length=1)
    logical_id: str | None = None
    instance_id: str | None = None
    condition: NodeCondition


class CapacityFailure(_Frozen):
    """A cluster event: a launch in `instance_group` found no capacity at `at`."""

    instance_group: str = Field(min_length=1)
    at: AwareDatetime
    logical_id: str | None = None


class Shortage(_Frozen):
    """An offering that lacked capacity (or quota): out until `until`; its count of shortages."""

    offering: OfferingKey
    until: AwareDatetime
    count: int = Field(ge=1)
    reason: str = "InsufficientCapacity"


class Shortages(_Frozen):
    """Every offering's shortage record (stored between rounds and executions)."""

    entries: tuple[Shortage, ...] = ()

    @model_validator(mode="after")
    def _one_per_offering(self) -> Shortages:
        keys = [e.offering for e in self.entries]
        if len(set(keys)) != len(keys):
            raise ValueError("shortages list the same offering twice")
        return self

    def get(self, offering: OfferingKey) -> Shortage | None:
        """The offering's record, if any."""
        return next((e for e in self.entries if e.offering == offering), None)

    def active(self, offering: OfferingKey, now: datetime) -> bool:
        """Whether the offering is still out at `now`."""
        found = self.get(offering)
        return found is not None and now < found.until

    def mark(
        self, offering: OfferingKey, now: datetime, *, reason: str = "InsufficientCapacity"
    ) -> Shortages:
        """Record a shortage of `offering` at `now`, with the backed-off duration.

        Marking an offering that is still out changes nothing (one shortage, seen again, is not a
        new one); one whose mark ended within `SHORTAGE_CAP` doubles; an older one starts over.
        """
        if now.utcoffset() is None:
            raise ValueError("now must be a timezone-aware datetime")
        before = self.get(offering)
        if before is not None and now < before.until and before.reason == reason:
            return self
        if reason == "QuotaExceeded":
            count, ttl = (before.count if before else 0) + 1, QUOTA_RECHECK
        else:
            recent = before is not None and now - before.until <= SHORTAGE_CAP
            count = before.count + 1 if recent and before is not None else 1
            ttl = shortage_duration(count)
        kept = [e for e in self.entries if e.offering != offering]
        kept.append(Shortage(offering=offering, until=now + ttl, count=count, reason=reason))
        return Shortages(entries=tuple(sorted(kept, key=lambda e: str(e.offering))))


def shortage_duration(count: int) -> timedelta:
    """How long the `count`-th shortage in a row keeps an offering out: 3 min doubling, capped."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    # 2**min(...) keeps the number small whatever the count.
    doubled: timedelta = SHORTAGE_BASE * (2 ** min(count - 1, 16))
    return min(doubled, SHORTAGE_CAP)


class Standing(StrEnum):
    """Where a generation stands after a round."""

    SATISFIED = "satisfied"
    WAITING = "waiting"
    DEADLINE = "deadline"


class GroupProgress(_Frozen):
    """One group's nodes against its target."""

    target: int
    usable: int
    in_flight: int
    failed: int


class RoundPlan(_Frozen):
    """What one round does, and where the generation stands."""

    additions: dict[str, int]
    """Nodes to add per group (only positive counts)."""
    shortages: Shortages
    """The record after this round's marks."""
    newly_marked: tuple[OfferingKey, ...]
    cancel: tuple[str, ...]
    """NodeLogicalIds of starved groups' nodes that have no instance yet."""
    starved_groups: tuple[str, ...]
    """Groups whose offering is out now."""
    hand_back: tuple[str, ...]
    """Starved groups not handed back before: send decide a request for the pool."""
    progress: dict[str, GroupProgress]
    standing: Standing


def plan_round(
    *,
    targets: Mapping[str, int],
    groups: Mapping[str, GroupView],
    nodes: Sequence[NodeView],
    capacity_failures: Sequence[CapacityFailure],
    shortages: Shortages,
    handed_back: frozenset[str],
    now: datetime,
    deadline: datetime,
) -> RoundPlan:
    """Decide one round (see the module docstring)."""
    if now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    if missing := sorted(set(targets) - set(groups)):
        raise ValueError(f"targets name instance group(s) the cluster does not have: {', '.join(missing)}")
    by_group: dict[str, list[NodeView]] = {name: [] for name in targets}
    for node in nodes:
        if node.instance_group in by_group:
            by_group[node.instance_group].append(node)

    failing = {n.instance_group for n in nodes if n.condition is NodeCondition.FAILED_CAPACITY}
    # An event names a node that may have launched since (HyperPod's retry found room): only a
    # node that is still without an instance, or a group-level event, counts.
    without_instance = {n.logical_id for n in nodes if n.instance_id is None and n.logical_id}
    for failure in capacity_failures:
        if failure.logical_id is None or failure.logical_id in without_instance:
            failing.add(failure.instance_group)

    marked = shortages
    newly: list[OfferingKey] = []
    for name in sorted(failing & set(targets)):
        offering = groups[name].offering
        if not marked.active(offering, now):
            newly.append(offering)
        marked = marked.mark(offering, now)

    starved = tuple(sorted(name for name in targets if marked.active(groups[name].offering, now)))
    cancel = tuple(
        sorted(
            node.logical_id
            for name in starved
            for node in by_group[name]
            if node.logical_id
            and node.instance_id is None
            and node.condition in (NodeCondition.PENDING, NodeCondition.FAILED_CAPACITY)
        )
    )
    additions = {
        name: targets[name] - groups[name].target_count
        for name in sorted(targets)
        if name not in starved and targets[name] > groups[name].target_count
    }
    progress = {
        name: GroupProgress(
            target=targets[name],
            usable=sum(1 for n in by_group[name] if n.condition is NodeCondition.USABLE),
            in_flight=sum(1 for n in by_group[name] if n.condition in IN_FLIGHT),
            failed=sum(
                1
                for n in by_group[name]
                if n.condition in (NodeCondition.FAILED, NodeCondition.FAILED_CAPACITY)
            ),
        )
        for name in sorted(targets)
    }
    if all(p.usable >= p.target for p in progress.values()):
        standing = Standing.SATISFIED
    elif now >= deadline:
        standing = Standing.DEADLINE
    else:
        standing = Standing.WAITING
    return RoundPlan(
        additions=additions,
        shortages=marked,
        newly_marked=tuple(newly),
        cancel=cancel,
        starved_groups=starved,
        hand_back=tuple(name for name in starved if name not in handed_back),
        progress=progress,
        standing=standing,
    )
