"""Backfills: a person pre-provisions a NodePool for a batch window by starting the provisioning
state machine by hand (or with `ebb backfill`).

The workflow validates the request (its first state, against the versioned schema), then its
`BackfillTakeOver` task runs :meth:`Backfills.take_over`: the request is checked against the
configuration (the pool, its groups, its scalers, their limits, a window that has not ended)
before anything changes; then the pool is decided as `decide` decides it (claim, observe,
`decide_pool`, act, record), with the backfill's floor in the pool's state and a new generation
taken whatever the targets. The execution itself becomes the pool's execution for that
generation (its ARN is stored on the pool, the previous one is stopped), and continues into the
workflow's normal path with the decision's request. From then on every decision holds the floor
until the window ends (see :mod:`ebb.service.decision.backfill_floor`).

A cancellation goes the same way with no floor: the next generation is decide's alone. With no
backfill in its window to cancel, it changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ebb.config import EbbConfig
from ebb.config.node_planning import pod_group_name, pool_limits
from ebb.config.replica_policy import scaler_policy
from ebb.service.decide import DecideContext, Takeover, decide_now
from ebb.service.decision import BackfillFloor, PoolState
from ebb.service.pool_decisions import PoolDecisions
from ebb.service.provisioning import InvalidProvisioningRequest
from ebb.service.provisioning_request import BackfillCancelRequest, BackfillRequest
from ebb.service.settings import Settings


class BackfillResult(BaseModel):
    """What the `BackfillTakeOver` task hands on to the workflow."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    carry_out: bool = Field(alias="carryOut")
    """Whether this execution goes on to carry a generation out (not in shadow mode, not when
    there was nothing to cancel)."""
    request: dict[str, Any] | None
    """The decision request of the generation taken (the normal path's input)."""
    backfill: dict[str, Any] | None
    """The pool's backfill as recorded (`None` after a cancellation)."""
    outcome: str


def check_against_configuration(
    request: BackfillRequest | BackfillCancelRequest, config: EbbConfig, now: datetime
) -> None:
    """Refuse a request the configuration cannot honour, naming each field and what is allowed."""
    where = request.kind
    problems: list[str] = []
    pool = config.node_pool(request.node_pool)
    if pool is None:
        names = ", ".join(sorted(p.name for p in config.node_pools))
        problems.append(
            f"{where}.nodePool: {request.node_pool!r} is not a NodePool of the configuration "
            f"(allowed: {names})"
        )
    elif isinstance(request, BackfillRequest) and pool.name in config.binding.spec.pods_only:
        # Its nodes are HyperPod's own autoscaling's: a node floor is not ebb's to hold.
        problems.append(
            f"{where}.nodePool: node pool {pool.name!r} is pods only (ClusterBinding spec.podsOnly): "
            "HyperPod's own autoscaling provides its nodes, so ebb holds no backfill on them "
            "(remove it from spec.podsOnly to let ebb manage its nodes)"
        )
    elif isinstance(request, BackfillRequest):
        groups = [g.name for g in config.instance_groups_of(pool)]
        for group in sorted(set(request.group_nodes) - set(groups)):
            problems.append(
                f"{where}.groupNodes.{group}: not an instance group of node pool {pool.name!r} "
                f"(allowed: {', '.join(groups)})"
            )
        limit = pool_limits(pool).nodes
        if limit is not None:
            if request.nodes is not None and request.nodes > limit:
                problems.append(
                    f"{where}.nodes: {request.nodes} is above node pool {pool.name!r}'s limits.nodes "
                    f"(allowed: 0 to {limit})"
                )
            if sum(request.group_nodes.values()) > limit:
                problems.append(
                    f"{where}.groupNodes: {sum(request.group_nodes.values())} nodes in all is above "
                    f"node pool {pool.name!r}'s limits.nodes (allowed: at most {limit} together)"
                )
        scalers = {pod_group_name(so): so for so in config.scaled_objects_of(pool)}
        for index, floor in enumerate(request.replicas):
            scaled_object = scalers.get(floor.scaler)
            if scaled_object is None:
                problems.append(
                    f"{where}.replicas.{index}.scaler: {floor.scaler!r} is not a scaler of node pool "
                    f"{pool.name!r} (allowed: {', '.join(sorted(scalers))})"
                )
                continue
            maximum = scaler_policy(config, scaled_object).max_replica_count
            if floor.replicas > maximum:
                problems.append(
                    f"{where}.replicas.{index}.replicas: {floor.replicas} is above {floor.scaler}'s "
                    f"maxReplicaCount (allowed: 0 to {maximum})"
                )
    if isinstance(request, BackfillRequest) and request.until <= now:
        problems.append(
            f"{where}.until: {request.until.isoformat()} has passed (allowed: a time after {now.isoformat()})"
        )
    if problems:
        raise InvalidProvisioningRequest("provisioning request: " + "; ".join(problems))


def backfill_floor(request: BackfillRequest, execution_arn: str) -> BackfillFloor:
    """The floor a request sets (named after its execution when it has no name of its own)."""
    return BackfillFloor(
        name=request.name or execution_arn.rsplit(":", 1)[-1],
        nodes=request.nodes,
        group_nodes=dict(request.group_nodes),
        replicas={floor.scaler: floor.replicas for floor in request.replicas},
        until=request.until,
    )


@dataclass
class Backfills:
    """The `BackfillTakeOver` task: record a backfill (or its end) and take the pool's next generation."""

    context: DecideContext

    @classmethod
    def from_settings(cls, settings: Settings) -> Backfills:
        # The same clients, configuration and table as the decide function: it decides the same way.
        return cls(context=PoolDecisions.from_settings(settings).context)

    def take_over(
        self, request: BackfillRequest | BackfillCancelRequest, execution_arn: str
    ) -> BackfillResult:
        """Check `request`, then decide its pool with its floor (or none) as execution `execution_arn`."""
        now = self.context.clock()
        check_against_configuration(request, self.context.config, now)
        pool = request.node_pool
        if isinstance(request, BackfillCancelRequest):
            stored = self.context.table.load_pool(pool)
            state = PoolState.model_validate_json(stored.state_json) if stored.state_json else PoolState()
            if state.backfill is None or not state.backfill.holds(now):
                return BackfillResult(
                    carry_out=False,
                    request=None,
                    backfill=None,
                    outcome=f"node pool {pool!r} has no backfill in its window: nothing to cancel",
                )
            takeover = Takeover(
                execution_arn=execution_arn, backfill=None, reason=f"{state.backfill} cancelled"
            )
        else:
            floor = backfill_floor(request, execution_arn)
            takeover = Takeover(execution_arn=execution_arn, backfill=floor, reason=f"{floor} set")
        outcome = decide_now(pool, self.context, reasons=(request.kind,), takeover=takeover)
        recorded = outcome.decision.state.backfill
        return BackfillResult(
            carry_out=outcome.request is not None,
            request=outcome.request.model_dump(mode="json", by_alias=True) if outcome.request else None,
            backfill=recorded.model_dump(mode="json") if recorded else None,
            outcome=(
                f"generation {outcome.decision.state.generation}: {takeover.reason}"
                + ("" if outcome.acted else f" ({_why_not_acted(self.context)}: recorded, nothing acts)")
            ),
        )


def _why_not_acted(context: DecideContext) -> str:
    if context.config.binding.spec.shadow_mode:
        return "shadow mode"
    return "the node pool is paused, or this configuration is older than the one it recorded"
