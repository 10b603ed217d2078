"""The provisioning workflow's first tasks: validate the request, check its fence, record its start.

Every task that changes the cluster first checks that the execution's generation is still the
pool's current one; a superseded execution ends without acting. (The states that add and remove
nodes come with the provisioning workflow.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ebb.adapters.state_table import AuditEntry, DynamoStateTable, StateTable
from ebb.errors import InvalidEvent, RetryableError
from ebb.service.decision import PoolState
from ebb.service.provisioning_request import (
    PROVISIONING_REQUEST,
    BackfillCancelRequest,
    BackfillRequest,
    DecisionRequest,
)
from ebb.service.settings import Settings


class InvalidProvisioningRequest(InvalidEvent):
    """The execution input is not a provisioning request; the message names the field."""


class GenerationNotRecorded(RetryableError):
    """The pool's stored generation is older than the execution's: decide starts an execution
    before it records the generation (act, then record), so the check waits for the record."""


class FenceResult(BaseModel):
    """Whether an execution may act: its generation against the pool's current one."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    current: bool
    generation: int
    pool_generation: int = Field(alias="poolGeneration")


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

    @classmethod
    def from_settings(cls, settings: Settings) -> ProvisioningTasks:
        return cls(
            table=DynamoStateTable(
                settings.state_table, audit_retention=settings.audit_retention, region_name=settings.region
            )
        )

    def check_fence(self, request: DecisionRequest) -> FenceResult:
        """Is `request`'s generation still the pool's current one?"""
        stored = self.table.load_pool(request.node_pool)
        state = PoolState.model_validate_json(stored.state_json) if stored.state_json else PoolState()
        if state.generation < request.generation:
            raise GenerationNotRecorded(
                f"node pool {request.node_pool!r}: generation {request.generation} is not recorded yet "
                f"(the pool is at {state.generation})"
            )
        return FenceResult(
            current=state.generation == request.generation,
            generation=request.generation,
            pool_generation=state.generation,
        )

    def record_start(self, request: DecisionRequest, execution: str, now: datetime) -> None:
        """An audit entry: this execution started toward these targets."""
        stored = self.table.load_pool(request.node_pool)
        self.table.append_audit(
            [
                AuditEntry(
                    subject=f"POOL#{request.node_pool}",
                    at=now,
                    record={
                        "at": now.isoformat(),
                        "event": "provisioning-started",
                        "execution": execution,
                        "generation": request.generation,
                        "nodeTargets": request.node_targets,
                        "decisions": stored.decisions,
                    },
                )
            ]
        )
