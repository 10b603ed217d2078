"""The input of a provisioning execution: a versioned schema, validated by whoever starts one
(decide, or a person starting a backfill by hand) and by the workflow's first state.

Its JSON Schema is published in the repository (`statemachines/provision-input.schema.json`,
checked by a test to match this model), so a hand-written `aws stepfunctions start-execution`
input can be checked before it is sent.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, model_validator

SCHEMA_VERSION = 1

GroupName = Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")]
PoolName = Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class NodeToRemove(_Strict):
    """A node the plan chose to take away, drained before deletion."""

    node: str = Field(min_length=1)
    instance_group: GroupName = Field(alias="instanceGroup")
    kind: Literal["Empty", "Delete", "Replace"]


class DecisionRequest(_Strict):
    """Provision a NodePool toward the absolute targets of one generation (started by decide)."""

    schema_version: Literal[1] = Field(1, alias="schemaVersion")
    kind: Literal["decision"] = "decision"
    node_pool: PoolName = Field(alias="nodePool")
    generation: int = Field(ge=1)
    continuation: int = Field(0, ge=0)
    config_version: int = Field(
        alias="configVersion",
        ge=1,
        description="the sequence number of the configuration decide ran under (ordered: newer is larger)",
    )
    node_targets: dict[GroupName, Annotated[int, Field(ge=0)]] = Field(alias="nodeTargets", min_length=1)
    removals: tuple[NodeToRemove, ...] = ()
    decided_at: AwareDatetime = Field(alias="decidedAt")


class ReplicaFloor(_Strict):
    """At least `replicas` of a scaler while a backfill lasts."""

    scaler: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    replicas: int = Field(ge=0)


BackfillName = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
"""A backfill's name: part of its execution's name, which Step Functions keeps unique for 90 days."""


class BackfillRequest(_Strict):
    """A person's request to pre-provision a NodePool until `until` (a manual execution)."""

    schema_version: Literal[1] = Field(1, alias="schemaVersion")
    kind: Literal["backfill"] = "backfill"
    node_pool: PoolName = Field(alias="nodePool")
    name: BackfillName | None = Field(None, description="the backfill's name (the audit trail shows it)")
    nodes: int | None = Field(None, ge=0, description="a floor on the pool's nodes in total")
    group_nodes: dict[GroupName, Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict, alias="groupNodes"
    )
    replicas: tuple[ReplicaFloor, ...] = ()
    until: AwareDatetime

    @model_validator(mode="after")
    def _floors_something(self) -> Self:
        # A backfill without a floor would only take a generation: almost certainly a mistake.
        if self.nodes is None and not self.group_nodes and not self.replicas:
            raise ValueError("give at least one floor: nodes, groupNodes or replicas")
        scalers = [floor.scaler for floor in self.replicas]
        if twice := sorted({s for s in scalers if scalers.count(s) > 1}):
            raise ValueError(f"replicas: scaler(s) {', '.join(twice)} given more than once (one floor each)")
        return self


class BackfillCancelRequest(_Strict):
    """A person's request to end a NodePool's backfill now (its floor goes; decide scales as usual)."""

    schema_version: Literal[1] = Field(1, alias="schemaVersion")
    kind: Literal["backfill-cancel"] = "backfill-cancel"
    node_pool: PoolName = Field(alias="nodePool")


ProvisioningRequest = Annotated[
    DecisionRequest | BackfillRequest | BackfillCancelRequest, Field(discriminator="kind")
]
"""What a provisioning execution is started with."""

PROVISIONING_REQUEST: TypeAdapter[DecisionRequest | BackfillRequest | BackfillCancelRequest] = TypeAdapter(
    ProvisioningRequest
)


def provisioning_schema() -> dict[str, Any]:
    """The JSON Schema of the execution input, as published in the repository."""
    schema = PROVISIONING_REQUEST.json_schema(by_alias=True)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "ebb provisioning request",
        **schema,
    }
