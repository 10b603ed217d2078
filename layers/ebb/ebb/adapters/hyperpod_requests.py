"""Requests ebb sends to HyperPod's node operations, within their documented limits.

Limits (SageMaker API Reference, BatchAddClusterNodes and BatchDeleteClusterNodes pages, and
botocore's service model `sagemaker/2017-07-24/service-2.json`):
- BatchAddClusterNodes: 1 to 5 instance groups, at most 50 nodes in total; a ClientToken of at most
  64 printable ASCII characters, honoured for 8 hours and only with identical parameters.
- BatchDeleteClusterNodes: NodeIds and/or NodeLogicalIds; at most 50 identifiers combined when
  NodeLogicalIds are given (the model allows 99, the documentation says 50), and more than 99
  NodeIds needs AWS Support.

A request that breaks a limit cannot be built: ebb splits larger changes with `chunk_additions`
and `chunk_deletions`, and each chunk gets its own deterministic ClientToken.
"""

import hashlib
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Annotated, Any, Final, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

MAX_NODES_PER_ADD: Final = 50
MAX_GROUPS_PER_ADD: Final = 5
MAX_IDENTIFIERS_PER_DELETE: Final = 50
MAX_NODE_IDS_ONLY_PER_DELETE: Final = 99
CLIENT_TOKEN_MAX_LENGTH: Final = 64
CLIENT_TOKEN_LIFETIME: Final = timedelta(hours=8)

# Patterns of the service model's ClusterInstanceGroupName, ClusterNodeId, ClusterNodeLogicalId,
# ClusterAvailabilityZone and the ClientToken string.
InstanceGroupName = Annotated[
    str, StringConstraints(min_length=1, max_length=63, pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")
]
InstanceId = Annotated[
    str, StringConstraints(min_length=1, max_length=256, pattern=r"^i-[a-f0-9]{8}(?:[a-f0-9]{9})?$")
]
NodeLogicalId = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9]$")
]
AvailabilityZone = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}-[a-z]+-\d[a-z]$")]
ClientToken = Annotated[
    str, StringConstraints(min_length=1, max_length=CLIENT_TOKEN_MAX_LENGTH, pattern=r"^[\x21-\x7E]+$")
]

_TOKEN_PREFIX: Final = "ebb-"


class GroupAddition(BaseModel):
    """Nodes to add to one instance group (AddClusterNodeSpecification)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    instance_group: InstanceGroupName
    count: int = Field(ge=1, le=MAX_NODES_PER_ADD)
    instance_types: tuple[str, ...] | None = Field(default=None, min_length=1, max_length=20)
    """Only these types of a flexible instance group."""
    availability_zones: tuple[AvailabilityZone, ...] | None = Field(default=None, min_length=1, max_length=10)
    """Only these zones of a group that spans several."""


class NodeAdditionRequest(BaseModel):
    """One BatchAddClusterNodes call: its groups and the ClientToken that makes it safe to retry."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    groups: tuple[GroupAddition, ...] = Field(min_length=1, max_length=MAX_GROUPS_PER_ADD)
    client_token: ClientToken

    @model_validator(mode="after")
    def _within_limits(self) -> Self:
        total = sum(group.count for group in self.groups)
        if total > MAX_NODES_PER_ADD:
            raise ValueError(f"groups: {total} nodes in one request, BatchAddClusterNodes takes at most 50")
        names = [group.instance_group for group in self.groups]
        if len(set(names)) != len(names):
            raise ValueError(f"groups: an instance group appears twice ({sorted(names)})")
        return self

    @property
    def total_nodes(self) -> int:
        """How many nodes the request adds."""
        return sum(group.count for group in self.groups)

    def nodes_to_add(self) -> list[dict[str, Any]]:
        """The request's `NodesToAdd` (AddClusterNodeSpecification list), as BatchAddClusterNodes takes it."""
        specifications: list[dict[str, Any]] = []
        for group in self.groups:
            specification: dict[str, Any] = {
                "InstanceGroupName": group.instance_group,
                "IncrementTargetCountBy": group.count,
            }
            if group.instance_types is not None:
                specification["InstanceTypes"] = list(group.instance_types)
            if group.availability_zones is not None:
                specification["AvailabilityZones"] = list(group.availability_zones)
            specifications.append(specification)
        return specifications


class NodeDeletionRequest(BaseModel):
    """One BatchDeleteClusterNodes call, by instance id and/or by NodeLogicalId."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    node_ids: tuple[InstanceId, ...] = ()
    logical_ids: tuple[NodeLogicalId, ...] = ()

    @model_validator(mode="after")
    def _within_limits(self) -> Self:
        total = len(self.node_ids) + len(self.logical_ids)
        if total == 0:
            raise ValueError("node_ids, logical_ids: give at least one node to delete")
        if self.logical_ids and total > MAX_IDENTIFIERS_PER_DELETE:
            raise ValueError(
                f"node_ids, logical_ids: {total} identifiers; with NodeLogicalIds "
                f"BatchDeleteClusterNodes takes at most {MAX_IDENTIFIERS_PER_DELETE} combined"
            )
        if total > MAX_NODE_IDS_ONLY_PER_DELETE:
            raise ValueError(
                f"node_ids: {total} instances; deleting more than {MAX_NODE_IDS_ONLY_PER_DELETE} "
                "in one call needs AWS Support"
            )
        return self


def client_token(execution_name: str, round_index: int, chunk_index: int, attempt: int = 0) -> str:
    """The ClientToken of one logical BatchAddClusterNodes request.

    The same execution, round, chunk (and task attempt) always give the same token, so a call
    repeated with the same parameters replays (HyperPod returns the same NodeLogicalIds) instead of
    adding nodes twice; anything else gives another token. A retried task attempt reads the groups
    afresh and computes a new delta, whose requests differ: `attempt` gives them their own tokens
    (the same token with other parameters is refused). `ebb-` plus 60 hex digits of SHA-256: 64
    printable characters.
    """
    if not execution_name:
        raise ValueError("execution_name: must not be empty")
    if round_index < 0 or chunk_index < 0 or attempt < 0:
        raise ValueError("round_index, chunk_index, attempt: must not be negative")
    # Attempt 0 keeps the token of the three-part key (tokens already issued stay the same).
    key = f"{execution_name}\x1f{round_index}\x1f{chunk_index}" + (f"\x1f{attempt}" if attempt else "")
    digest = hashlib.sha256(key.encode()).hexdigest()
    return _TOKEN_PREFIX + digest[: CLIENT_TOKEN_MAX_LENGTH - len(_TOKEN_PREFIX)]


def chunk_additions(
    counts: Mapping[str, int], *, execution_name: str, round_index: int, attempt: int = 0
) -> tuple[NodeAdditionRequest, ...]:
    """Split `counts` (nodes to add per instance group) into requests within the limits.

    Groups are taken in name order and requests filled up to 50 nodes and 5 groups, so the same
    counts always give the same requests and tokens. Groups with a count of 0 are skipped.
    """
    requests: list[NodeAdditionRequest] = []
    current: list[GroupAddition] = []
    room = MAX_NODES_PER_ADD

    def close() -> None:
        nonlocal current, room
        token = client_token(execution_name, round_index, len(requests), attempt)
        requests.append(NodeAdditionRequest(groups=tuple(current), client_token=token))
        current, room = [], MAX_NODES_PER_ADD

    for group in sorted(counts):
        remaining = counts[group]
        if remaining < 0:
            raise ValueError(f"counts[{group!r}]: {remaining} is negative")
        while remaining > 0:
            if room == 0 or len(current) == MAX_GROUPS_PER_ADD:
                close()
            take = min(remaining, room)
            current.append(GroupAddition(instance_group=group, count=take))
            room -= take
            remaining -= take
    if current:
        close()
    return tuple(requests)


def chunk_deletions(
    *, node_ids: Iterable[str] = (), logical_ids: Iterable[str] = ()
) -> tuple[NodeDeletionRequest, ...]:
    """Split deletions into requests of at most 50 identifiers, logical ids first.

    Duplicates are dropped (deleting a node twice in one call would fail the second one).
    """
    unique_logical = tuple(dict.fromkeys(logical_ids))
    unique_ids = tuple(dict.fromkeys(node_ids))
    tagged = [("logical", value) for value in unique_logical] + [("id", value) for value in unique_ids]
    requests = []
    for start in range(0, len(tagged), MAX_IDENTIFIERS_PER_DELETE):
        chunk = tagged[start : start + MAX_IDENTIFIERS_PER_DELETE]
        requests.append(
            NodeDeletionRequest(
                logical_ids=tuple(value for kind, value in chunk if kind == "logical"),
                node_ids=tuple(value for kind, value in chunk if kind == "id"),
            )
        )
    return tuple(requests)
