"""The provisioning workflow's tasks: one NodePool generation's node targets carried out.

The state machine (`statemachines/provision.asl.json`) runs, per execution: validate the input,
check the fence, record the start, then rounds. Each round (`run_round`) checks the fence again,
reads the groups fresh (DescribeCluster target counts, ListClusterNodes with NodeLogicalIds,
the cluster events new since the last round), asks the pure policy
(`ebb.core.provisioning.plan_round`) what to do, records what it learned (shortages) whatever
happens next, checks the fence once more just before acting,
then cancels a starved group's pending nodes, adds the missing delta in requests of at most 50
nodes and 5 groups, and hands a shortage back to decide. Between rounds the execution waits on a
task token that decide completes when a HyperPod event or a decision concerns the pool, with a
timeout as the fallback poll (`store_wait_token`). It ends satisfied, superseded or past its
deadline (`record_outcome`), continues as a new execution after `ROUNDS_PER_EXECUTION` rounds
(`continue_as_new`), and any unhandled failure is recorded, counted for its alarm and leaves the
pool's generation closed, so the next tick starts a new one (`record_failure`).

Every cluster-changing step is fenced on the generation and on the configuration version (an
ordered sequence number, see `StateTable.config_sequence`), and a round reads, decides and acts
under the pool's acting lease, so two executions never act on a pool at once and a delta is
never computed from a read another execution has since made stale.

A round's last fence check and its BatchAddClusterNodes (which has no condition) are two calls:
a newer generation can become current between them, and the round then adds toward its own
targets. That is safe only if no target the round adds toward is above the newer one's, which
is how decide publishes generations (`ebb.service.decide`): while a round holds the acting lease
(from before its fresh read to after its last call), decide raises targets but never lowers one;
a lowered group keeps its current target, the deferral is recorded, and a decision that does
lower holds the lease itself until it has recorded, so no round acts meanwhile. So whatever a
round adds stays within the current generation's targets, which only rise while it acts. When a
round releases the lease and finds a deferral recorded, it asks decide again at once
(`LEASE_RELEASED`), which decides on a fresh read and publishes what it plans then (the lower
targets, or, when the nodes this round just requested are in flight, the plan that keeps them
until they have been empty for the NodePool's consolidateAfter); a round that crashed holding
the lease leaves that to the first tick after its lease (90 s) runs out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from ebb.adapters.decision_queue import DecisionQueue, PoolMessage, SqsDecisionQueue
from ebb.adapters.hyperpod import HyperPodCluster, SageMakerHyperPod
from ebb.adapters.hyperpod_errors import HyperPodQuotaExceeded
from ebb.adapters.hyperpod_events import replacements_in_progress
from ebb.adapters.hyperpod_models import ClusterDescription, ClusterNode, classify_node
from ebb.adapters.hyperpod_requests import chunk_additions, chunk_deletions
from ebb.adapters.operational_metrics import CloudWatchOperationalMetrics, OperationalMetrics
from ebb.adapters.state_table import (
    LEASE_RELEASED,
    AuditEntry,
    DynamoStateTable,
    ShortagesChanged,
    StateTable,
    WaitSuperseded,
)
from ebb.adapters.workflows import StepFunctionsWorkflows, Workflows, execution_name
from ebb.config import EbbConfig
from ebb.core.nodes import OfferingKey
from ebb.core.provisioning import (
    CapacityFailure,
    Fence,
    FenceVerdict,
    GroupView,
    NodeCondition,
    NodeView,
    RoundPlan,
    Shortages,
    Standing,
    plan_round,
)
from ebb.core.scale_in import MAX_DELETE_ATTEMPTS, delete_retry_wait
from ebb.errors import InvalidEvent, RetryableError
from ebb.service.configuration import load_for_stack
from ebb.service.decision import PoolState
from ebb.service.pool_mode import pool_mode
from ebb.service.provisioning_request import (
    PROVISIONING_REQUEST,
    BackfillCancelRequest,
    BackfillRequest,
    DecisionRequest,
)
from ebb.service.settings import Settings

ROUNDS_PER_EXECUTION: Final = 400
"""Rounds before an execution continues as a new one. A round and its wait are at most ~14 history
events, so 400 rounds stay near 6,000 of the 25,000 a Standard execution may have."""
POLL_SECONDS: Final = 600
"""The wait's timeout, the fallback poll when no event wakes it: 6 polls a quiet hour."""
DEADLINE: Final = timedelta(hours=2)
"""How long after its decision a generation may take to be satisfied before it ends as past its deadline."""
EVENT_LOOKBACK: Final = timedelta(minutes=15)
"""The first round reads cluster events from this long before the decision (a replacement
started earlier counts); later rounds read only what is new since the last (`Progress.events`)."""
EVENT_OVERLAP: Final = timedelta(seconds=1)
"""A round reads from this long before the newest event the last round read: ListClusterEvents'
EventTimeAfter is exclusive, and an event stamped at that same moment may be listed only later.
Events read twice are recognised by their id."""
ACTING_LEASE: Final = timedelta(seconds=90)
"""Longer than the round function's 60 s timeout: Lambda stops a round before its lease ends."""
METRICS_NAMESPACE: Final = "ebb"
QUOTA_METRIC: Final = "ProvisioningQuotaExceeded"
FAILURE_METRIC: Final = "ProvisioningFailures"
CANCEL_METRIC: Final = "ProvisioningCancelKeptTarget"
CANCEL_FAILED_METRIC: Final = "ProvisioningCancelFailed"

Status = Literal["waiting", "satisfied", "superseded", "deadline", "continue"]


class InvalidProvisioningRequest(InvalidEvent):
    """The execution input is not a provisioning request; the message names the field."""


class GenerationNotRecorded(RetryableError):
    """The pool has not recorded the execution's generation yet (decide records just after it
    starts the execution): the state machine retries the fence for a while, then gives up."""


class FenceResult(BaseModel):
    """Whether an execution may act: its generation and configuration version against the pool's."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    current: bool
    verdict: FenceVerdict
    generation: int
    pool_generation: int = Field(alias="poolGeneration")
    config_version: int = Field(alias="configVersion")
    current_config_version: int = Field(alias="currentConfigVersion")


class EventCursor(BaseModel):
    """What a round keeps of the cluster events read so far, so the next reads only newer ones."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    newest: AwareDatetime
    """The time of the newest event read."""
    recent: tuple[str, ...] = ()
    """The ids of the events read within `EVENT_OVERLAP` of `newest` (read again next round)."""
    failures: tuple[CapacityFailure, ...] = ()
    """Capacity failures since the decision, the latest per (group, NodeLogicalId)."""
    replacing: tuple[str, ...] = Field(())
    """Instance ids whose replacement by automatic node recovery has started and not ended."""


class Progress(BaseModel):
    """What an execution carries from round to round (the state machine's `$.progress`)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    round: int = Field(0, ge=0)
    status: Status = "waiting"
    wait_seconds: int = Field(POLL_SECONDS, alias="waitSeconds", ge=1)
    handed_back: tuple[str, ...] = Field((), alias="handedBack")
    kept_target: tuple[str, ...] = Field((), alias="keptTarget")
    """Groups whose target did not drop when their pending nodes were cancelled (alarmed)."""
    requested: dict[str, int] = Field(default_factory=dict)
    """Nodes this execution asked BatchAddClusterNodes for, per group."""
    cancelled: tuple[str, ...] = ()
    shortages: tuple[str, ...] = ()
    """Offerings this execution found short (capacity or quota), as `group/type/zone`."""
    quota: tuple[str, ...] = ()
    retries: int = Field(0, ge=0)
    """Task attempts Step Functions retried (throttling, transient errors)."""
    usable: dict[str, int] = Field(default_factory=dict)
    satisfied_at: AwareDatetime | None = Field(None, alias="satisfiedAt")
    fence: FenceVerdict = FenceVerdict.CURRENT
    cancel_failures: dict[str, int] = Field(default_factory=dict, alias="cancelFailures")
    """Pending nodes whose cancellation BatchDeleteClusterNodes answered Failed, and how often."""
    cancel_given_up: tuple[str, ...] = Field((), alias="cancelGivenUp")
    """Those that failed `MAX_DELETE_ATTEMPTS` times: recorded, alarmed, not asked again."""
    events: EventCursor | None = None
    """None before the first round has read the cluster events."""
    removals: int = Field(0, ge=0)
    """How many nodes the request asks scale-in to remove (the `ScaleIn` Choice reads it: a field
    every round writes, rather than a path into the request that may not exist)."""


def validate_request(execution_input: Any) -> DecisionRequest | BackfillRequest | BackfillCancelRequest:
    """The input as a request, or `InvalidProvisioningRequest` naming each wrong field."""
    try:
        return PROVISIONING_REQUEST.validate_python(execution_input)
    except ValidationError as error:
        problems = "; ".join(f"{_field(issue)}: {issue['msg']}" for issue in error.errors())
        raise InvalidProvisioningRequest(f"provisioning request: {problems}") from None


def _field(issue: Any) -> str:
    # A missing or unknown `kind` is reported by pydantic at the input's root; it is `kind`'s fault.
    if not issue["loc"] and issue["type"] in {"union_tag_invalid", "union_tag_not_found"}:
        return "kind"
    return ".".join(str(p) for p in issue["loc"]) or "(input)"


@dataclass
class ProvisioningTasks:
    """The tasks of the provisioning state machine."""

    table: StateTable
    hyperpod: HyperPodCluster | None = None
    queue: DecisionQueue | None = None
    workflows: Workflows | None = None
    metrics: OperationalMetrics | None = None
    config: EbbConfig | None = None
    rounds_per_execution: int | None = None
    """None: `ROUNDS_PER_EXECUTION`, read when a round ends."""
    zones: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> ProvisioningTasks:
        region = settings.region
        loaded = load_for_stack(
            settings.config_dir,
            hyperpod_cluster=settings.hyperpod_cluster,
            eks_cluster=settings.eks_cluster,
            region=region,
        )
        return cls(
            table=DynamoStateTable(
                settings.state_table, audit_retention=settings.audit_retention, region_name=region
            ),
            # One SDK attempt: Step Functions owns the retries, on the clock and in the history.
            hyperpod=SageMakerHyperPod(settings.hyperpod_cluster, region_name=region, sdk_attempts=1),
            queue=SqsDecisionQueue(settings.decision_queue_url, region_name=region),
            workflows=StepFunctionsWorkflows(settings.provision_state_machine_arn, region_name=region),
            metrics=CloudWatchOperationalMetrics(METRICS_NAMESPACE, region_name=region),
            config=loaded.config,
        )

    # -- fence -----------------------------------------------------------------------------------

    def first_fence(self, request: DecisionRequest) -> FenceResult:
        """`check_fence`, raising `GenerationNotRecorded` while decide has not recorded it yet."""
        result = self.check_fence(request)
        if result.verdict is FenceVerdict.NOT_RECORDED:
            raise GenerationNotRecorded(
                f"node pool {request.node_pool!r}: generation {request.generation} is not recorded yet "
                f"(the pool's is {result.pool_generation})"
            )
        return result

    def check_fence(self, request: DecisionRequest) -> FenceResult:
        """Is `request`'s generation the pool's current one, under the current configuration?"""
        stored = self.table.load_pool(request.node_pool)
        state = PoolState.model_validate_json(stored.state_json) if stored.state_json else PoolState()
        fence = Fence(
            generation=request.generation,
            config_version=request.config_version,
            pool_generation=state.generation,
            current_config_version=self.table.current_config_sequence(),
            mode=pool_mode(self.config, stored),
        )
        return FenceResult(
            current=fence.current,
            verdict=fence.verdict,
            generation=request.generation,
            pool_generation=state.generation,
            config_version=request.config_version,
            current_config_version=fence.current_config_version,
        )

    def record_start(self, request: DecisionRequest, execution: str, now: datetime) -> Progress:
        """An audit entry: this execution started toward these targets."""
        stored = self.table.load_pool(request.node_pool)
        self._audit(
            request,
            now,
            {
                "event": "provisioning-started",
                "execution": execution,
                "continuation": request.continuation,
                "configVersion": request.config_version,
                "decisions": stored.decisions,
            },
        )
        return Progress()

    # -- a round -----------------------------------------------------------------------------------

    def run_round(
        self, request: DecisionRequest, execution: str, progress: Progress, *, attempt: int, now: datetime
    ) -> Progress:
        """One round (see the module docstring); `attempt` is Step Functions' retry count."""
        self._need(self.hyperpod, "hyperpod")
        progress = progress.model_copy(update={"retries": progress.retries + attempt})
        fence = self.check_fence(request)
        if not fence.current:
            return progress.model_copy(update={"status": "superseded", "fence": fence.verdict})
        # Read, decide and act under the pool's acting lease: another execution (a newer
        # generation) waits until this round is done, then reads what it did.
        self.table.acquire_acting(request.node_pool, execution, now=now, lease=ACTING_LEASE)
        try:
            result = self._round(request, execution, progress, attempt=attempt, now=now)
        except BaseException:
            # A round that failed leaves a deferral to the next tick (the failure is recorded
            # and closes the generation, which that tick heals anyway).
            self.table.release_acting(request.node_pool, execution)
            raise
        if self.table.release_acting(request.node_pool, execution):
            self._ask_decide(request, execution, progress.round, attempt)
        return result

    def _round(
        self, request: DecisionRequest, execution: str, progress: Progress, *, attempt: int, now: datetime
    ) -> Progress:
        hyperpod = self._need(self.hyperpod, "hyperpod")
        description = hyperpod.describe_cluster()
        nodes = hyperpod.list_nodes()
        cursor = self._read_events(request, progress.events)
        progress = progress.model_copy(update={"events": cursor})
        stored = self.table.load_pool(request.node_pool)
        shortages = (
            Shortages.model_validate_json(stored.shortages_json) if stored.shortages_json else Shortages()
        )
        groups = self._groups(request, description)
        plan = plan_round(
            targets=request.node_targets,
            groups=groups,
            nodes=self._nodes(nodes, description, frozenset(cursor.replacing) if cursor else frozenset()),
            capacity_failures=cursor.failures if cursor else (),
            shortages=shortages,
            handed_back=frozenset(progress.handed_back) | frozenset(progress.kept_target),
            now=now,
            deadline=request.decided_at + DEADLINE,
        )
        # What was learned is kept even if the execution turns out superseded.
        self._store_shortages(request.node_pool, stored.shortages_json, shortages, plan.newly_marked, now)
        progress = progress.model_copy(
            update={"shortages": _union(progress.shortages, (str(o) for o in plan.newly_marked))}
        )
        if plan.cancel or plan.additions:
            fence = self.check_fence(request)
            if not fence.current:
                return progress.model_copy(update={"status": "superseded", "fence": fence.verdict})
        if plan.cancel:
            progress = self._cancel(request, plan, groups, progress, now)
        if plan.additions:
            progress = self._add(request, execution, plan, groups, progress, attempt=attempt, now=now)
        hand_back = [g for g in plan.hand_back if g not in progress.kept_target]
        if hand_back:
            self._hand_back(request, execution, progress.round, hand_back, reason="capacity")
            progress = progress.model_copy(update={"handed_back": _union(progress.handed_back, hand_back)})
        return self._after_round(request, plan, progress, now)

    def _groups(self, request: DecisionRequest, description: ClusterDescription) -> dict[str, GroupView]:
        views = {}
        for name in request.node_targets:
            state = description.group(name)
            if state is None or not state.instance_types:
                continue  # plan_round names the missing group
            views[name] = GroupView(
                name=name,
                instance_type=state.instance_types[0],
                zone=self._zone(name),
                target_count=state.target_count,
            )
        return views

    def _zone(self, group: str) -> str:
        if group in self.zones:
            return self.zones[group]
        config = self._need(self.config, "config")
        facts = config.instance_group(group)
        return facts.availability_zone if facts is not None else "unknown"

    def _read_events(self, request: DecisionRequest, before: EventCursor | None) -> EventCursor | None:
        """The cluster events new since `before` (the first round: since `EVENT_LOOKBACK` before the
        decision), folded into the cursor the next round starts from."""
        hyperpod = self._need(self.hyperpod, "hyperpod")
        if before is None:
            events = hyperpod.list_events(after=request.decided_at - EVENT_LOOKBACK)
        else:
            seen = frozenset(before.recent)
            events = tuple(
                e for e in hyperpod.list_events(after=before.newest - EVENT_OVERLAP) if e.event_id not in seen
            )
        if not events:
            return before
        failures = {(f.instance_group, f.logical_id): f for f in (before.failures if before else ())}
        for event in events:
            if (
                event.reports_insufficient_capacity
                and event.instance_group
                and event.time >= request.decided_at
            ):
                key = (event.instance_group, event.logical_id)
                if key not in failures or failures[key].at < event.time:
                    failures[key] = CapacityFailure(
                        instance_group=event.instance_group, at=event.time, logical_id=event.logical_id
                    )
        newest = max([e.time for e in events] + ([before.newest] if before else []))
        recent = [e.event_id for e in events if e.time > newest - EVENT_OVERLAP]
        if before is not None:
            recent.extend(
                i for i in before.recent if i not in recent and before.newest > newest - EVENT_OVERLAP
            )
        return EventCursor(
            newest=newest,
            recent=tuple(recent),
            failures=tuple(
                sorted(failures.values(), key=lambda f: (f.at, f.instance_group, f.logical_id or ""))
            ),
            replacing=tuple(
                sorted(replacements_in_progress(events, ongoing=before.replacing if before else ()))
            ),
        )

    @staticmethod
    def _nodes(
        nodes: tuple[ClusterNode, ...], description: ClusterDescription, replacing: frozenset[str]
    ) -> list[NodeView]:
        return [
            NodeView(
                key=node.key,
                instance_group=node.instance_group,
                logical_id=node.logical_id,
                instance_id=node.instance_id,
                condition=NodeCondition(
                    classify_node(
                        node,
                        node_recovery=description.node_recovery,
                        replacement_in_progress=node.instance_id in replacing,
                    ).value
                ),
            )
            for node in nodes
        ]

    def _store_shortages(
        self,
        node_pool: str,
        before_json: str | None,
        before: Shortages,
        offerings: tuple[OfferingKey, ...],
        now: datetime,
        *,
        reason: str = "InsufficientCapacity",
    ) -> None:
        for _ in range(5):
            after = before
            for offering in offerings:
                after = after.mark(offering, now, reason=reason)
            if after == before:
                return
            try:
                self.table.store_shortages(node_pool, before_json, after.model_dump_json())
                return
            except ShortagesChanged:
                before_json = self.table.load_pool(node_pool).shortages_json
                before = Shortages.model_validate_json(before_json) if before_json else Shortages()
        raise ShortagesChanged(f"node pool {node_pool!r}: the shortage record keeps changing")

    def _cancel(
        self,
        request: DecisionRequest,
        plan: RoundPlan,
        groups: Mapping[str, GroupView],
        progress: Progress,
        now: datetime,
    ) -> Progress:
        hyperpod = self._need(self.hyperpod, "hyperpod")
        cancelled: list[str] = []
        failures = dict(progress.cancel_failures)
        given_up: list[str] = []
        to_cancel = tuple(n for n in plan.cancel if n not in progress.cancel_given_up)
        for deletion in chunk_deletions(logical_ids=to_cancel) if to_cancel else ():
            outcome = hyperpod.delete_nodes(deletion)
            cancelled.extend(outcome.deleted_logical_ids)
            cancelled.extend(outcome.already_gone)
            # A node BatchDeleteClusterNodes answered Failed for is asked again by a later round
            # (soon: `_after_round` shortens the wait), and given up, recorded and alarmed after
            # MAX_DELETE_ATTEMPTS, never silently forgotten.
            for failure in outcome.failed:
                if failure.node in outcome.already_gone:
                    continue
                failures[failure.node] = failures.get(failure.node, 0) + 1
                if failures[failure.node] >= MAX_DELETE_ATTEMPTS:
                    given_up.append(failure.node)
                    self._count(CANCEL_FAILED_METRIC, now, request.node_pool)
                self._audit(
                    request,
                    now,
                    {
                        "event": "provisioning-cancel-failed",
                        "node": failure.node,
                        "attempts": failures[failure.node],
                        "gaveUp": failure.node in given_up,
                        "detail": f"{failure.code.value}: {failure.message}",
                    },
                )
        for name in cancelled:
            failures.pop(name, None)
        progress = progress.model_copy(
            update={
                "cancel_failures": failures,
                "cancel_given_up": _union(progress.cancel_given_up, given_up),
            }
        )
        # Assumed, checked here: cancelling pending NodeLogicalIds lowers the group's target, so
        # HyperPod stops retrying them. If it did not, re-planning the share elsewhere would get
        # it twice once HyperPod's retries find capacity: keep it, alarm, never hand it back.
        after = hyperpod.describe_cluster()
        kept: list[str] = []
        for name in plan.starved_groups:
            state = after.group(name)
            if (
                state is not None
                and state.target_count >= groups[name].target_count
                and any(node in cancelled for node in plan.cancel)
            ):
                kept.append(name)
        for name in kept:
            self._count(CANCEL_METRIC, now, request.node_pool)
            self._audit(
                request,
                now,
                {
                    "event": "provisioning-cancel-kept-target",
                    "instanceGroup": name,
                    "detail": "BatchDeleteClusterNodes of pending nodes did not lower the group's target; "
                    "the share is not re-planned",
                },
            )
        return progress.model_copy(
            update={
                "cancelled": _union(progress.cancelled, cancelled),
                "kept_target": _union(progress.kept_target, kept),
            }
        )

    def _add(
        self,
        request: DecisionRequest,
        execution: str,
        plan: RoundPlan,
        groups: Mapping[str, GroupView],
        progress: Progress,
        *,
        attempt: int,
        now: datetime,
    ) -> Progress:
        hyperpod = self._need(self.hyperpod, "hyperpod")
        requested = dict(progress.requested)
        for addition in chunk_additions(
            plan.additions, execution_name=execution, round_index=progress.round, attempt=attempt
        ):
            try:
                outcome = hyperpod.add_nodes(addition)
            except HyperPodQuotaExceeded as error:
                return self._quota(
                    request,
                    execution=execution,
                    progress=progress,
                    names=addition_groups(addition),
                    groups=groups,
                    error=error,
                    now=now,
                )
            outcome.raise_for_failures()
            for node in outcome.added:
                requested[node.instance_group] = requested.get(node.instance_group, 0) + 1
            progress = progress.model_copy(update={"requested": dict(requested)})
        return progress

    def _quota(
        self,
        request: DecisionRequest,
        *,
        execution: str,
        progress: Progress,
        names: tuple[str, ...],
        groups: Mapping[str, GroupView],
        error: HyperPodQuotaExceeded,
        now: datetime,
    ) -> Progress:
        """A quota is not retried: its offerings are out until the quota changes; decide re-plans."""
        kind = (error.quota_name or "").split(" for ")[0]
        hit = [g for g in groups.values() if g.instance_type == kind] or [
            groups[n] for n in names if n in groups
        ]
        stored = self.table.load_pool(request.node_pool)
        before = (
            Shortages.model_validate_json(stored.shortages_json) if stored.shortages_json else Shortages()
        )
        offerings = tuple(g.offering for g in hit)
        self._store_shortages(
            request.node_pool, stored.shortages_json, before, offerings, now, reason="QuotaExceeded"
        )
        self._count(QUOTA_METRIC, now, request.node_pool)
        self._audit(
            request,
            now,
            {
                "event": "provisioning-quota-exceeded",
                "offerings": [str(o) for o in offerings],
                "detail": str(error),
            },
        )
        fresh = [g.name for g in hit if g.name not in progress.handed_back]
        if fresh:
            self._hand_back(request, execution, progress.round, fresh, reason="quota")
        return progress.model_copy(
            update={
                "quota": _union(progress.quota, (str(o) for o in offerings)),
                "shortages": _union(progress.shortages, (str(o) for o in offerings)),
                "handed_back": _union(progress.handed_back, fresh),
            }
        )

    def _hand_back(
        self, request: DecisionRequest, execution: str, round_index: int, groups: list[str], *, reason: str
    ) -> None:
        queue = self._need(self.queue, "queue")
        queue.send(
            [
                PoolMessage(
                    node_pool=request.node_pool,
                    event_id=f"provisioning:{execution}:{round_index}:{reason}",
                    reason="provisioning-shortage",
                    body={
                        "generation": request.generation,
                        "instanceGroups": sorted(groups),
                        "shortage": reason,
                    },
                )
            ]
        )

    def _ask_decide(self, request: DecisionRequest, execution: str, round_index: int, attempt: int) -> None:
        """A decision kept lower targets back while this round held the lease: decide again now."""
        queue = self._need(self.queue, "queue")
        queue.send(
            [
                PoolMessage(
                    node_pool=request.node_pool,
                    event_id=f"{LEASE_RELEASED}:{execution}:{round_index}:{attempt}",
                    reason=LEASE_RELEASED,
                    body={"generation": request.generation},
                )
            ]
        )

    def _after_round(
        self, request: DecisionRequest, plan: RoundPlan, progress: Progress, now: datetime
    ) -> Progress:
        status: Status
        if plan.standing is Standing.SATISFIED:
            status = "satisfied"
        elif plan.standing is Standing.DEADLINE:
            status = "deadline"
        elif progress.round + 1 >= (self.rounds_per_execution or ROUNDS_PER_EXECUTION):
            status = "continue"
        else:
            status = "waiting"
        until = [request.decided_at + DEADLINE]
        stored = self.table.load_pool(request.node_pool)
        marks = Shortages.model_validate_json(stored.shortages_json) if stored.shortages_json else Shortages()
        until.extend(
            m.until
            for m in marks.entries
            if m.until > now and m.offering.instance_group in request.node_targets
        )
        retries = [
            int(delete_retry_wait(n).total_seconds())
            for node, n in progress.cancel_failures.items()
            if node not in progress.cancel_given_up
        ]
        wait = min([POLL_SECONDS, *retries, *(int((t - now).total_seconds()) + 1 for t in until)])
        return progress.model_copy(
            update={
                "round": progress.round + 1,
                "status": status,
                "removals": len(request.removals),
                "wait_seconds": max(wait, 1),
                "usable": {name: p.usable for name, p in plan.progress.items()},
                "satisfied_at": now if status == "satisfied" else progress.satisfied_at,
            }
        )

    # -- waiting -------------------------------------------------------------------------------------

    def store_wait_token(self, request: DecisionRequest, token: str) -> None:
        """Keep the waiting task's token on the pool, for decide to complete on an event.

        Only while the execution is current and no decision came in since it checked: a decision
        that started a newer generation before the token was stored could not wake it. Otherwise
        `WaitSuperseded`, which the state machine catches by going straight to the next round
        (whose fence ends a superseded execution, or which simply runs again).
        """
        stored = self.table.load_pool(request.node_pool)
        state = PoolState.model_validate_json(stored.state_json) if stored.state_json else PoolState()
        if state.generation != request.generation:
            raise WaitSuperseded(
                f"node pool {request.node_pool!r}: generation {state.generation} "
                f"supersedes {request.generation}"
            )
        self.table.store_wait_token(request.node_pool, request.generation, token, decisions=stored.decisions)

    # -- the end -------------------------------------------------------------------------------------

    def record_outcome(
        self, request: DecisionRequest, execution: str, progress: Progress, now: datetime
    ) -> dict[str, Any]:
        """The audit entry of the execution's end; its generation is closed (the next tick may heal)."""
        self.table.close_generation(request.node_pool, request.generation)
        granted: dict[str, dict[str, int]] = {}
        for name, count in sorted(progress.usable.items()):
            granted.setdefault(self._zone(name), {})[name] = count
        record = {
            "event": "provisioning-ended",
            "execution": execution,
            "outcome": progress.status,
            "fence": progress.fence.value,
            "asked": request.node_targets,
            "requested": progress.requested,
            "granted": granted,
            "retries": progress.retries,
            "rounds": progress.round,
            "shortages": list(progress.shortages),
            "quota": list(progress.quota),
            "cancelled": len(progress.cancelled),
            "keptTarget": list(progress.kept_target),
            "cancelFailed": list(progress.cancel_given_up),
            "handedBack": list(progress.handed_back),
            "timeToSatisfySeconds": (
                (progress.satisfied_at - request.decided_at).total_seconds()
                if progress.satisfied_at
                else None
            ),
        }
        self._audit(request, now, record)
        return {"outcome": progress.status}

    def record_failure(
        self, execution_input: Any, execution: str, error: Mapping[str, Any], now: datetime
    ) -> dict[str, Any]:
        """An unhandled failure: recorded, counted (its alarm), and the generation closed so that the
        next tick, seeing no open execution and HyperPod's targets apart from the plan's, starts a new one."""
        request = validate_request(execution_input)
        if isinstance(request, DecisionRequest):
            self.table.close_generation(request.node_pool, request.generation)
        self._count(FAILURE_METRIC, now, request.node_pool)
        self.table.append_audit(
            [
                AuditEntry(
                    subject=f"POOL#{request.node_pool}",
                    at=now,
                    record={
                        "at": now.isoformat(),
                        "event": "provisioning-failed",
                        "execution": execution,
                        "generation": getattr(request, "generation", None),
                        "error": str(error.get("Error", "")),
                        "cause": str(error.get("Cause", ""))[:2000],
                    },
                )
            ]
        )
        return {"recorded": True}

    def continue_as_new(self, request: DecisionRequest, now: datetime) -> dict[str, Any]:
        """Start the same generation as continuation + 1 (a fresh history); this execution then ends."""
        workflows = self._need(self.workflows, "workflows")
        following = request.model_copy(update={"continuation": request.continuation + 1})
        name = execution_name(
            request.node_pool, self.table.epoch(), request.generation, following.continuation
        )
        started = workflows.start(name, following.model_dump(mode="json", by_alias=True))
        self._audit(request, now, {"event": "provisioning-continued", "next": name})
        return {"next": started}

    # -- plumbing ------------------------------------------------------------------------------------

    def _audit(self, request: DecisionRequest, now: datetime, record: dict[str, Any]) -> None:
        self.table.append_audit(
            [
                AuditEntry(
                    subject=f"POOL#{request.node_pool}",
                    at=now,
                    record={
                        "at": now.isoformat(),
                        "generation": request.generation,
                        "nodeTargets": request.node_targets,
                        **record,
                    },
                )
            ]
        )

    def _count(self, metric: str, now: datetime, node_pool: str) -> None:
        if self.metrics is not None:
            self.metrics.count(metric, now)
            self.metrics.count(metric, now, {"NodePool": node_pool})

    @staticmethod
    def _need(value: Any, name: str) -> Any:
        if value is None:
            raise RuntimeError(f"ProvisioningTasks was made without its {name}")
        return value


def addition_groups(request: Any) -> tuple[str, ...]:
    """The instance groups of one BatchAddClusterNodes request."""
    return tuple(group.instance_group for group in request.groups)


def _union(first: tuple[str, ...], more: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*first, *more]))
