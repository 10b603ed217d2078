"""One step of a NodePool's scale-in: what to cordon, evict, delete or give up on now.

Karpenter's termination flow, as ebb carries it out over HyperPod (sources in the tests:
kubernetes-sigs/karpenter ``pkg/controllers/node/termination`` and the "Disruption" docs):

* a removal starts only within the NodePool's disruption budget at that moment (nodes already
  being disrupted use up the allowance), and a ``Replace`` removal only once the pool's targets
  are satisfied, i.e. its replacement is usable ("pre-spin any replacement nodes ... and wait for
  them to become ready");
* a node running pods ebb does not manage, or marked ``karpenter.sh/do-not-disrupt`` (on the
  node or a pod), is never started ("pods that cannot be evicted": the node is left alone);
* started means cordoned first, so nothing new lands there; then every pod still on it is
  evicted through the Eviction API (a PodDisruptionBudget refusal is tried again next step);
  DaemonSet pods, static (mirror) pods and finished pods are not evicted, they go with the node;
* the node is deleted only once no other pod is left, terminating ones included (Karpenter
  waits "until pods are fully deleted"), and never in the step that cordoned it;
* past the deadline (the NodePool's ``terminationGracePeriod``, else ``DEFAULT_DRAIN_DEADLINE``)
  a node still holding pods is given up: uncordoned, with the reason recorded. Karpenter would
  instead delete the remaining pods at that point; ebb never kills running work.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ebb.core.nodes.budgets import DEFAULT_BUDGETS, Budget, DisruptionReason, allowed_disruptions
from ebb.core.nodes.cron import CronSchedule
from ebb.core.nodes.plan import RemovalKind

DEFAULT_DRAIN_DEADLINE: Final = timedelta(minutes=30)
"""How long a drain may take when the NodePool sets no ``terminationGracePeriod``."""
DRAIN_POLL: Final = timedelta(seconds=15)
"""How soon to look again while pods are being evicted or are terminating."""
BLOCKED_POLL: Final = timedelta(seconds=60)
"""How soon to look again while a removal waits for its replacement, or for a budget without a
schedule (it frees up when other disruptions finish)."""
DELETE_RETRY_BASE: Final = timedelta(seconds=15)
"""The wait after a node's first failed deletion; it doubles with each further failure."""
DELETE_RETRY_CAP: Final = timedelta(minutes=5)
MAX_DELETE_ATTEMPTS: Final = 5
"""BatchDeleteClusterNodes attempts for one node before it is given up as `DeleteFailed` (and
alarmed): 15 s, 30 s, 1 min and 2 min apart, about 4 minutes in all."""
MAX_BUDGET_WAIT: Final = timedelta(minutes=15)
"""The longest wait for a scheduled budget's window to end (a window may last hours; the
execution still looks again now and then, e.g. for a superseding generation)."""

_REASON_OF_KIND: Final = {
    RemovalKind.EMPTY: DisruptionReason.EMPTY,
    RemovalKind.DELETE: DisruptionReason.UNDERUTILIZED,
    RemovalKind.REPLACE: DisruptionReason.UNDERUTILIZED,
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Removal(_Frozen):
    """A node the decision asks to take away."""

    node: str = Field(min_length=1)
    instance_group: str = Field(min_length=1)
    kind: RemovalKind

    @property
    def reason(self) -> DisruptionReason:
        """The disruption reason whose budgets limit this removal."""
        return _REASON_OF_KIND[self.kind]


class PodOnNode(_Frozen):
    """A pod bound to a node being considered or drained, as observed now."""

    namespace: str = Field(min_length=1)
    name: str = Field(min_length=1)
    uid: str | None = None
    managed: bool
    """Owned by a scaler of this NodePool (its Deployment's ReplicaSet or its StatefulSet)."""
    daemon: bool = False
    """Owned by a DaemonSet: it goes with the node, never evicted."""
    mirror: bool = False
    """A static pod (owned by the Node): the kubelet's, never evicted."""
    finished: bool = False
    """Phase Succeeded or Failed: nothing runs."""
    terminating: bool = False
    """Being deleted already (evicted, or deleted by its controller)."""
    do_not_disrupt: bool = False

    @property
    def qualified_name(self) -> str:
        """``namespace/name``."""
        return f"{self.namespace}/{self.name}"

    @property
    def stays_with_node(self) -> bool:
        """Whether the node may be deleted with this pod still on it."""
        return self.daemon or self.mirror or self.finished


class NodeNow(_Frozen):
    """A removal's node as observed now (absent from the observation: it is gone)."""

    name: str = Field(min_length=1)
    cordoned: bool
    do_not_disrupt: bool = False
    """``karpenter.sh/do-not-disrupt`` on the node itself."""
    pods: tuple[PodOnNode, ...] = ()

    def blocker(self) -> str | None:
        """Why ebb must not drain this node, or ``None``."""
        if self.do_not_disrupt:
            return "the node is marked karpenter.sh/do-not-disrupt"
        for pod in self.pods:
            if pod.stays_with_node or pod.terminating:
                continue
            if pod.do_not_disrupt:
                return f"pod {pod.qualified_name} is marked karpenter.sh/do-not-disrupt"
            if not pod.managed:
                return f"pod {pod.qualified_name} is not managed by ebb"
        return None

    def left_to_evict(self) -> tuple[PodOnNode, ...]:
        """Pods that still have to be evicted."""
        return tuple(p for p in self.pods if not p.stays_with_node and not p.terminating)

    def holding(self) -> tuple[PodOnNode, ...]:
        """Pods that keep the node from being deleted (terminating ones included)."""
        return tuple(p for p in self.pods if not p.stays_with_node)


class Phase(StrEnum):
    """Where a removal is."""

    WAITING = "Waiting"
    """Not started: held by the budget or waiting for the replacement."""
    DRAINING = "Draining"
    """Cordoned by this scale-in; pods are being evicted."""
    DELETED = "Deleted"
    GAVE_UP = "GaveUp"
    """Drain not finished in time: uncordoned."""
    SKIPPED = "Skipped"
    """Never started: the node must not be disrupted."""
    GONE = "Gone"
    """The node disappeared before ebb deleted it."""
    DELETE_RETRY = "DeleteRetry"
    """BatchDeleteClusterNodes failed for it (a `Failed` entry); asked again after a backoff."""
    DELETE_FAILED = "DeleteFailed"
    """BatchDeleteClusterNodes kept failing for it: given up, recorded and alarmed (it stays
    cordoned and empty, so a person sees it and nothing lands on it)."""


DONE_PHASES: Final = frozenset({Phase.DELETED, Phase.GAVE_UP, Phase.SKIPPED, Phase.GONE, Phase.DELETE_FAILED})


class RemovalProgress(_Frozen):
    """One removal's progress, carried from step to step."""

    node: str = Field(min_length=1)
    instance_group: str = Field(min_length=1)
    kind: RemovalKind
    phase: Phase = Phase.WAITING
    started_at: AwareDatetime | None = None
    """When this scale-in cordoned it."""
    reason: str = ""
    """Why it is waiting, skipped, given up or gone."""
    refusals: int = Field(default=0, ge=0)
    """Evictions refused by a PodDisruptionBudget so far."""
    last_refusal: str = ""
    delete_failures: int = Field(default=0, ge=0)
    """BatchDeleteClusterNodes calls that failed for this node so far."""
    retry_at: AwareDatetime | None = None
    """When a failed deletion is asked again."""


class DrainProgress(_Frozen):
    """A scale-in's progress: what the state machine passes from one step to the next."""

    began_at: AwareDatetime
    removals: tuple[RemovalProgress, ...]

    @classmethod
    def start(cls, removals: Iterable[Removal], now: datetime) -> "DrainProgress":
        """Nothing done yet."""
        return cls(
            began_at=now,
            removals=tuple(
                RemovalProgress(node=r.node, instance_group=r.instance_group, kind=r.kind) for r in removals
            ),
        )

    @property
    def finished(self) -> bool:
        """Every removal is deleted, given up, skipped or gone."""
        return all(r.phase in DONE_PHASES for r in self.removals)


class PoolBudget(_Frozen):
    """The NodePool's disruption budgets and how many of its nodes count for them now."""

    budgets: tuple[Budget, ...] = DEFAULT_BUDGETS
    total_nodes: int = Field(ge=0)
    """The pool's initialized nodes (ready, or joined and not ready)."""
    disrupting: int = Field(ge=0)
    """Those already being disrupted: cordoned, deleting or not ready (this scale-in's included)."""


class PodToEvict(_Frozen):
    """Evict this pod (its UID pins the incarnation observed)."""

    node: str
    namespace: str
    name: str
    uid: str | None = None


class NodeToDelete(_Frozen):
    """Delete this node: it holds no pod any more."""

    node: str
    instance_group: str


class NodeToRelease(_Frozen):
    """Uncordon this node: its drain is given up."""

    node: str
    reason: str


class DrainStep(_Frozen):
    """What to do now, and the progress to carry once it is done."""

    cordon: tuple[str, ...] = ()
    evict: tuple[PodToEvict, ...] = ()
    delete: tuple[NodeToDelete, ...] = ()
    release: tuple[NodeToRelease, ...] = ()
    progress: DrainProgress
    wait_seconds: int = Field(ge=0)
    """How long to wait before the next step (0 once finished)."""

    @property
    def finished(self) -> bool:
        """Nothing is left to do after this step's actions."""
        return self.progress.finished


class DeletionFailure(_Frozen):
    """A node BatchDeleteClusterNodes answered with a `Failed` entry (its code and message)."""

    node: str
    code: str
    message: str = ""


def delete_retry_wait(failures: int) -> timedelta:
    """How long after its `failures`-th failed deletion a node is asked for again."""
    if failures < 1:
        raise ValueError(f"failures must be at least 1, got {failures}")
    doubled: timedelta = DELETE_RETRY_BASE * (2 ** min(failures - 1, 16))
    return min(doubled, DELETE_RETRY_CAP)


def after_deletions(step: DrainStep, failures: Iterable[DeletionFailure], now: datetime) -> DrainStep:
    """`step` once its deletions were asked for: a node whose deletion failed is tried again after
    `delete_retry_wait`, and given up as `DeleteFailed` after `MAX_DELETE_ATTEMPTS` failures
    (never silently: the caller records and alarms those)."""
    failed = {f.node: f for f in failures}
    if not failed:
        return step
    updated: list[RemovalProgress] = []
    waits: list[timedelta] = []
    for item in step.progress.removals:
        failure = failed.get(item.node)
        if failure is None or item.phase is not Phase.DELETED:
            updated.append(item)
            continue
        count = item.delete_failures + 1
        what = f"{failure.code}: {failure.message}" if failure.message else failure.code
        if count >= MAX_DELETE_ATTEMPTS:
            updated.append(
                item.model_copy(
                    update={
                        "phase": Phase.DELETE_FAILED,
                        "delete_failures": count,
                        "retry_at": None,
                        "reason": f"BatchDeleteClusterNodes failed {count} times; last: {what}",
                    }
                )
            )
            continue
        wait = delete_retry_wait(count)
        waits.append(wait)
        updated.append(
            item.model_copy(
                update={
                    "phase": Phase.DELETE_RETRY,
                    "delete_failures": count,
                    "retry_at": now + wait,
                    "reason": f"deletion failed ({what}); asked again in {_duration(wait)}",
                }
            )
        )
    progress = step.progress.model_copy(update={"removals": tuple(updated)})
    # The sooner of this step's own wait and the first retry (a finished step waits for nothing).
    wait_seconds = step.wait_seconds
    if progress.finished:
        wait_seconds = 0
    elif waits and (step.wait_seconds == 0 or min(waits).total_seconds() < step.wait_seconds):
        wait_seconds = int(min(waits).total_seconds())
    return step.model_copy(update={"progress": progress, "wait_seconds": wait_seconds})


class Refusal(_Frozen):
    """An eviction the API refused in the previous step (a PodDisruptionBudget), per node."""

    node: str
    message: str


def drain_step(
    progress: DrainProgress,
    nodes: Iterable[NodeNow],
    *,
    budget: PoolBudget,
    targets_satisfied: bool,
    termination_grace_period: timedelta | None,
    now: datetime,
    refusals: Iterable[Refusal] = (),
) -> DrainStep:
    """The next step of `progress`, from the removals' nodes as observed at `now`.

    `targets_satisfied` says every instance group of the pool has at least its target of usable
    nodes (the scale-out part of the workflow is done): only then may a ``Replace`` removal start.
    `refusals` are the evictions of the previous step that a PodDisruptionBudget refused.
    """
    if now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    deadline = termination_grace_period if termination_grace_period is not None else DEFAULT_DRAIN_DEADLINE
    seen = {node.name: node for node in nodes}
    refused: dict[str, list[str]] = {}
    for refusal in refusals:
        refused.setdefault(refusal.node, []).append(refusal.message)

    started_now = 0
    allowance = {
        reason: allowed_disruptions(budget.budgets, now, budget.total_nodes, budget.disrupting, reason)
        for reason in (DisruptionReason.EMPTY, DisruptionReason.UNDERUTILIZED)
    }
    cordon: list[str] = []
    evict: list[PodToEvict] = []
    delete: list[NodeToDelete] = []
    release: list[NodeToRelease] = []
    updated: list[RemovalProgress] = []
    waits: list[timedelta] = []
    evicting = False

    for before in progress.removals:
        if before.phase in DONE_PHASES:
            updated.append(before)
            continue
        item = before
        node = seen.get(item.node)
        messages = refused.get(item.node, [])
        if messages:
            item = item.model_copy(
                update={"refusals": item.refusals + len(messages), "last_refusal": messages[-1]}
            )
        if node is None:
            updated.append(item.model_copy(update={"phase": Phase.GONE, "reason": "the node is gone"}))
            continue
        if item.phase is Phase.WAITING:
            removal = Removal(node=item.node, instance_group=item.instance_group, kind=item.kind)
            blocker = node.blocker()
            if blocker is not None:
                updated.append(item.model_copy(update={"phase": Phase.SKIPPED, "reason": blocker}))
                continue
            if node.cordoned:
                # Someone else cordoned it: not ebb's to drain (and not ebb's to uncordon).
                updated.append(
                    item.model_copy(
                        update={
                            "phase": Phase.SKIPPED,
                            "reason": "cordoned by someone else before ebb started",
                        }
                    )
                )
                continue
            if removal.kind is RemovalKind.REPLACE and not targets_satisfied:
                if now - progress.began_at >= deadline:
                    # The replacement never became usable: decide re-plans from what is there.
                    reason = f"not started: the replacement was not usable within {_duration(deadline)}"
                    updated.append(item.model_copy(update={"phase": Phase.SKIPPED, "reason": reason}))
                    continue
                waits.append(BLOCKED_POLL)
                updated.append(item.model_copy(update={"reason": "waiting for the replacement to be usable"}))
                continue
            allowed = allowance[removal.reason]
            if allowed.allowed is not None and started_now >= allowed.allowed:
                # A budget holds it for as long as it is active; no deadline (the window ends).
                waits.append(_until_budget_changes(allowed.budget, now))
                updated.append(
                    item.model_copy(update={"reason": f"held by the disruption budget ({allowed})"})
                )
                continue
            started_now += 1
            cordon.append(item.node)
            evict.extend(_evictions(node))
            evicting = True
            updated.append(item.model_copy(update={"phase": Phase.DRAINING, "started_at": now, "reason": ""}))
            continue

        if item.phase is Phase.DELETE_RETRY:
            assert item.retry_at is not None
            if now < item.retry_at:
                waits.append(item.retry_at - now)
                updated.append(item)
                continue
            if not node.holding():
                delete.append(NodeToDelete(node=item.node, instance_group=item.instance_group))
                updated.append(item.model_copy(update={"phase": Phase.DELETED, "retry_at": None}))
                continue
            # A pod landed meanwhile (a DaemonSet's does not count): drain it again.
            item = item.model_copy(update={"phase": Phase.DRAINING, "retry_at": None})

        # Draining: cordoned by this scale-in in an earlier step.
        assert item.started_at is not None
        holding = node.holding()
        if not holding:
            delete.append(NodeToDelete(node=item.node, instance_group=item.instance_group))
            updated.append(item.model_copy(update={"phase": Phase.DELETED, "reason": ""}))
            continue
        blocker = node.blocker()
        if blocker is not None or now - item.started_at >= deadline:
            why = blocker or (
                f"drain not finished within {_duration(deadline)}: "
                + ", ".join(p.qualified_name for p in holding)
                + " still on the node"
                + (f"; last eviction refusal: {item.last_refusal}" if item.last_refusal else "")
            )
            release.append(NodeToRelease(node=item.node, reason=why))
            updated.append(item.model_copy(update={"phase": Phase.GAVE_UP, "reason": why}))
            continue
        evict.extend(_evictions(node))
        evicting = True
        updated.append(item)

    new_progress = progress.model_copy(update={"removals": tuple(updated)})
    if new_progress.finished:
        wait = 0
    elif evicting:
        wait = int(DRAIN_POLL.total_seconds())
    elif waits:
        wait = int(min(waits).total_seconds())
    else:
        wait = int(DRAIN_POLL.total_seconds())
    return DrainStep(
        cordon=tuple(cordon),
        evict=tuple(evict),
        delete=tuple(delete),
        release=tuple(release),
        progress=new_progress,
        wait_seconds=wait,
    )


def release_superseded(progress: DrainProgress, *, reason: str) -> DrainStep:
    """A newer generation (or configuration) owns the pool: this scale-in ends without acting
    further, and releases what it holds, so that no node it cordoned stays cordoned.

    Every node it cordoned and has not deleted is uncordoned and given up with `reason` (the
    newer generation's decision decides about it afresh); a removal not started is dropped.
    """
    release: list[NodeToRelease] = []
    updated: list[RemovalProgress] = []
    for item in progress.removals:
        # Cordoned by this drain and not deleted: draining, or waiting to be deleted again.
        if item.phase in (Phase.DRAINING, Phase.DELETE_RETRY):
            release.append(NodeToRelease(node=item.node, reason=reason))
            updated.append(
                item.model_copy(update={"phase": Phase.GAVE_UP, "reason": reason, "retry_at": None})
            )
        elif item.phase is Phase.WAITING:
            updated.append(item.model_copy(update={"phase": Phase.SKIPPED, "reason": reason}))
        else:
            updated.append(item)
    return DrainStep(
        release=tuple(release),
        progress=progress.model_copy(update={"removals": tuple(updated)}),
        wait_seconds=0,
    )


def _until_budget_changes(budget: Budget | None, now: datetime) -> timedelta:
    """How long `budget` keeps holding: until its window ends (at most `MAX_BUDGET_WAIT`), else
    `BLOCKED_POLL` (a budget without a schedule frees up when other disruptions finish)."""
    if budget is None or budget.schedule is None or budget.duration is None:
        return BLOCKED_POLL
    last_hit = CronSchedule.parse(budget.schedule).latest_at_or_before(now)
    if last_hit is None:
        return BLOCKED_POLL
    remaining = last_hit + budget.duration - now
    return max(min(remaining, MAX_BUDGET_WAIT), timedelta(seconds=1))


def _evictions(node: NodeNow) -> list[PodToEvict]:
    return [
        PodToEvict(node=node.name, namespace=p.namespace, name=p.name, uid=p.uid)
        for p in node.left_to_evict()
    ]


def _duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"
