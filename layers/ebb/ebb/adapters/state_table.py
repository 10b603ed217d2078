"""ebb's DynamoDB table: each NodePool's stored state, the claim that serializes its decisions,
and the audit trail.

Items (one table, `pk`/`sk`):

| pk                    | sk                         | what                                              |
|-----------------------|----------------------------|---------------------------------------------------|
| `POOL#<pool>`         | `STATE`                    | the pool's state, its decision counter and claim  |
| `AUDIT#<scaler>`      | `<time>#<counter>`         | one decision of a scaler (expires: `expires_at`)  |
| `AUDIT#POOL#<pool>`   | `<time>#<counter>`         | one decision of a pool's nodes (expires likewise) |
| `TABLE`               | `EPOCH`                    | a random epoch, made once, in execution names     |
| `TABLE`               | `ALARMS`                   | the configuration version the alarms match        |
| `TABLE`               | `CONFIG`                   | the current configuration digest and its sequence |
| `TABLE`               | `CONFIG#<digest>`          | the sequence a configuration digest was given     |
| `TABLE`               | `POOLS`                    | the NodePools of the configuration rolled out     |

The pool's item also holds what its provisioning executions write, in attributes of their own
(decide's `record` never touches them, so neither side overwrites the other): `wait_token` and
`wait_generation` (the task token of the execution that waits for an event), `closed_generation`
(the newest generation whose execution has ended), `shortages` (the offerings short of
capacity or quota, as the provisioning policy records them), and `acting_by`/`acting_until`: the
lease a provisioning round holds while it reads the groups and changes them, so that two
executions never act on a pool at once (a round reads, computes its delta and calls HyperPod
under it; the lease, 90 s, outlasts the round function's 60 s timeout).

Lower targets and the acting lease serialize on this item. A round past its last fence check
adds toward its own generation's targets, and BatchAddClusterNodes has no condition, so a lower
target must never become current while a round holds the lease. A decision that lowers a
group's target therefore claims the pool on the condition that no acting lease runs, and takes
the acting lease itself for its claim (`acting_by` = `decide:<token>`), so no round starts acting
until it has recorded; its record requires that lease still to be its own and ends it. A decision
that finds a lease running keeps the lower targets back and says so in `deferred_lowering`,
which every later record replaces or removes; `release_acting` tells the round that releases the
lease whether one waits, so that it asks decide again at once.

Configuration versions are ordered: the first decision under a digest other than the current one
takes the next sequence number (a conditional write, so two racers cannot both take it), and a
provisioning execution carries the number it was started under.

Claim, act, record: a decision reads the pool's counter `n`, claims the pool by writing `n + 1`,
its token and a lease on the condition that the counter is still `n` and no other claim's lease
is running, acts, and records the new state and its audit entries in one transaction on the
condition that its claim still stands (which ends the lease). Of two racers only one claim
succeeds; the other gets `ClaimLost` and decides again on fresh state, and a racer that read the
counter after the first one claimed still cannot claim until the first has recorded. The lease
is longer than the decide function's timeout, so a claimant can never act after its lease ran out
(Lambda stops it first). A crash between claim and record leaves the old state with a higher
counter and a lease that runs out: the next decision after it decides again from the old state,
which is what the level-triggered design wants.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from ebb.adapters.aws_clients import LazyClient
from ebb.adapters.aws_errors import error_code, translate_aws_error
from ebb.adapters.call_counts import CallCounts
from ebb.errors import EbbError, RetryableError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


LEASE_RELEASED = "acting-lease-released"
"""The reason of a decision request sent because lower targets waited for the acting lease
(by the round that releases it, or by the deferring decision that finds it released)."""


class ClaimLost(EbbError):
    """Another decision claimed the pool first (or took it over): decide again on fresh state."""


class StoredStateInvalid(EbbError):
    """A stored item does not have the shape this version of ebb reads."""


@dataclass(frozen=True, slots=True)
class StoredPool:
    """A pool's item as read: its decision counter, its state (as stored JSON) and its execution."""

    node_pool: str
    decisions: int
    state_json: str | None
    """The service's serialized pool state; `None` for a pool never recorded."""
    execution_arn: str | None = None
    closed_generation: int = 0
    """The newest generation whose provisioning execution has ended (0: none)."""
    shortages_json: str | None = None
    """The provisioning policy's shortage record, as stored JSON."""
    wait_token: str | None = None
    wait_generation: int = 0
    config_sequence: int = 0
    """The configuration version (sequence number) of the newest decision recorded (0: none)."""
    pauses: dict[str, str] = field(default_factory=dict)
    """Run-time pauses (`ebb pause`): `*` for the whole pool or a scaler, each a pause as JSON."""
    acting_by: str | None = None
    """Who holds or last held the pool's acting lease: an execution ARN, or `decide:<token>`."""
    acting_until: datetime | None = None
    """When that acting lease runs out (it runs while `now < acting_until`)."""

    def acting_holder(self, now: datetime) -> str | None:
        """The holder of the acting lease if it still runs at `now` (an expired lease holds nothing)."""
        if self.acting_until is None or self.acting_until <= now:
            return None
        return self.acting_by


class WaitSuperseded(EbbError):
    """A newer generation's execution waits on the pool already: this one must not wait."""


class PoolBusy(RetryableError):
    """Another provisioning execution is acting on the pool (holds its acting lease): retry shortly."""


class ShortagesChanged(EbbError):
    """The pool's shortage record changed since it was read: read it again."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit record: whose decision (`AUDIT#...` key), at what time, and what it said."""

    subject: str
    """`<namespace>/<name>` of a scaler, or `POOL#<pool>`."""
    at: datetime
    record: dict[str, Any]


class StateTable(Protocol):
    """What the decide service stores through."""

    def load_pool(self, node_pool: str) -> StoredPool:
        """The pool's stored item (counter 0 and no state if it has none)."""

    def claim(
        self,
        node_pool: str,
        seen: int,
        token: str,
        *,
        now: datetime,
        lease: timedelta,
        lowering: bool = False,
    ) -> int:
        """Claim the pool for `lease` if its counter is still `seen` and no other lease runs.

        With `lowering` (the decision lowers a group's target), also only if no acting lease runs,
        and the claim takes the acting lease for the same time (holder `decide:<token>`).
        Returns the new counter; raises `ClaimLost` otherwise.
        """

    def record(
        self,
        node_pool: str,
        *,
        claim: int,
        token: str,
        state_json: str,
        execution_arn: str | None,
        audit: Sequence[AuditEntry],
        config_sequence: int | None = None,
        lowering: bool = False,
        deferred: str | None = None,
    ) -> None:
        """Store the state and the audit entries if the claim (`claim`, `token`) still stands
        (and, when given, the configuration version the decision was made under).

        `lowering`: the claim was a lowering one; it records only while the acting lease it took
        is still its own, and ends it. `deferred`: why lower targets were kept back (a lease ran),
        kept until a later record; `None` removes it."""

    def epoch(self) -> str:
        """The table's epoch (made on first use)."""

    def append_audit(self, audit: Sequence[AuditEntry]) -> None:
        """Store audit entries outside a decision (a provisioning execution's own events)."""

    def alarms_version(self) -> str | None:
        """The configuration version ebb's alarms were last made to match."""

    def set_alarms_version(self, version: str) -> None:
        """Record that the alarms match configuration `version`."""

    def config_sequence(self, digest: str) -> int:
        """The sequence number of configuration `digest`, taking the next one if it is not current."""

    def current_config_sequence(self) -> int:
        """The current configuration's sequence number (0 before any decision)."""

    def roll_out_pools(self, pools: Sequence[str]) -> tuple[str, ...]:
        """Record the NodePools of the configuration rolling out; return those it no longer has
        (the pools recorded before, less `pools`; empty the first time)."""

    def store_wait_token(self, node_pool: str, generation: int, token: str, *, decisions: int) -> None:
        """Keep the token of `generation`'s waiting task if the pool's decision counter is still
        `decisions` (no decision came in between); `WaitSuperseded` otherwise or if a newer one waits."""

    def take_wait_token(self, node_pool: str) -> tuple[int, str] | None:
        """Remove and return the waiting task's (generation, token), if one is stored."""

    def close_generation(self, node_pool: str, generation: int) -> None:
        """Record that `generation`'s execution has ended (a newer closed one stays)."""

    def acquire_acting(self, node_pool: str, holder: str, *, now: datetime, lease: timedelta) -> None:
        """Take the pool's acting lease for `holder` (an execution); `PoolBusy` if another holds it."""

    def release_acting(self, node_pool: str, holder: str) -> bool:
        """Give the acting lease back (nothing if `holder` does not hold it); whether a decision
        kept lower targets back meanwhile (`record`'s `deferred`), so decide should run again."""

    def store_shortages(self, node_pool: str, before: str | None, after: str) -> None:
        """Replace the shortage record `before` by `after`; `ShortagesChanged` if it is not `before`."""


class DynamoStateTable:
    """`StateTable` over DynamoDB (boto3 low-level client, created on first use)."""

    def __init__(
        self,
        table_name: str,
        *,
        audit_retention: timedelta,
        region_name: str | None = None,
        calls: CallCounts | None = None,
        client_factory: Callable[[], DynamoDBClient] | None = None,
    ) -> None:
        self.table_name = table_name
        self._retention = audit_retention
        self._client: LazyClient[DynamoDBClient] = LazyClient("dynamodb", region_name, client_factory)
        self.calls = calls or CallCounts()

    def load_pool(self, node_pool: str) -> StoredPool:
        self.calls.count("dynamodb:GetItem")
        try:
            item = (
                self._client()
                .get_item(TableName=self.table_name, Key=_pool_key(node_pool), ConsistentRead=True)
                .get("Item")
            )
        except (ClientError, BotoCoreError) as error:
            raise translate_aws_error(error, operation="GetItem") from error
        if item is None:
            return StoredPool(node_pool=node_pool, decisions=0, state_json=None)
        try:
            return StoredPool(
                node_pool=node_pool,
                decisions=int(item.get("decisions", {}).get("N", "0")),
                state_json=item["state"]["S"] if "state" in item else None,
                execution_arn=item.get("execution_arn", {}).get("S"),
                closed_generation=int(item.get("closed_generation", {}).get("N", "0")),
                shortages_json=item.get("shortages", {}).get("S"),
                wait_token=item.get("wait_token", {}).get("S"),
                wait_generation=int(item.get("wait_generation", {}).get("N", "0")),
                pauses={key: value["S"] for key, value in item.get("pauses", {}).get("M", {}).items()},
                config_sequence=int(item.get("config_sequence", {}).get("N", "0")),
                acting_by=item.get("acting_by", {}).get("S"),
                acting_until=(
                    datetime.fromtimestamp(float(item["acting_until"]["N"]), UTC)
                    if "acting_until" in item
                    else None
                ),
            )
        except (KeyError, ValueError) as error:
            raise StoredStateInvalid(
                f"state of node pool {node_pool!r} in {self.table_name}: {error}"
            ) from error

    def claim(
        self,
        node_pool: str,
        seen: int,
        token: str,
        *,
        now: datetime,
        lease: timedelta,
        lowering: bool = False,
    ) -> int:
        claimed = seen + 1
        update = "SET decisions = :claimed, claim_token = :token, claim_until = :until"
        condition = (
            "(attribute_not_exists(decisions) OR decisions = :seen)"
            " AND (attribute_not_exists(claim_until) OR claim_until <= :now)"
        )
        values: dict[str, Any] = {
            ":claimed": {"N": str(claimed)},
            ":seen": {"N": str(seen)},
            ":token": {"S": token},
            ":now": {"N": str(now.timestamp())},
            ":until": {"N": str((now + lease).timestamp())},
        }
        if lowering:
            # The same rule as `acquire_acting`'s: a lease runs while now < acting_until.
            update += ", acting_by = :decider, acting_until = :until"
            condition += " AND (attribute_not_exists(acting_until) OR acting_until <= :now)"
            values[":decider"] = {"S": decider(token)}
        self.calls.count("dynamodb:UpdateItem")
        try:
            self._client().update_item(
                TableName=self.table_name,
                Key=_pool_key(node_pool),
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                raise ClaimLost(
                    f"node pool {node_pool!r}: decision {seen} was claimed already, "
                    "or another claim's lease runs"
                    + (", or a provisioning round holds the acting lease" if lowering else "")
                ) from error
            raise translate_aws_error(error, operation="UpdateItem") from error
        except BotoCoreError as error:
            raise translate_aws_error(error, operation="UpdateItem") from error
        return claimed

    def record(
        self,
        node_pool: str,
        *,
        claim: int,
        token: str,
        state_json: str,
        execution_arn: str | None,
        audit: Sequence[AuditEntry],
        config_sequence: int | None = None,
        lowering: bool = False,
        deferred: str | None = None,
    ) -> None:
        values: dict[str, Any] = {
            ":state": {"S": state_json},
            ":claim": {"N": str(claim)},
            ":token": {"S": token},
        }
        assignments = ["#state = :state"]
        # Recording ends the claim's lease (and a lowering claim's acting lease).
        removals = ["claim_until"]
        condition = "decisions = :claim AND claim_token = :token"
        if lowering:
            condition += " AND acting_by = :decider"
            values[":decider"] = {"S": decider(token)}
            removals.extend(["acting_by", "acting_until"])
        if deferred is not None:
            assignments.append("deferred_lowering = :deferred")
            values[":deferred"] = {"S": deferred}
        else:
            removals.append("deferred_lowering")
        if execution_arn is not None:
            assignments.append("execution_arn = :execution")
            values[":execution"] = {"S": execution_arn}
        if config_sequence is not None:
            assignments.append("config_sequence = :config_sequence")
            values[":config_sequence"] = {"N": str(config_sequence)}
        update = f"SET {', '.join(assignments)} REMOVE {', '.join(removals)}"
        items: list[Any] = [
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": _pool_key(node_pool),
                    "UpdateExpression": update,
                    "ConditionExpression": condition,
                    "ExpressionAttributeNames": {"#state": "state"},
                    "ExpressionAttributeValues": values,
                }
            }
        ]
        for entry in audit:
            items.append({"Put": {"TableName": self.table_name, "Item": self._audit_item(entry, claim)}})
        self.calls.count("dynamodb:TransactWriteItems")
        try:
            # A transaction holds at most 100 items; a pool's scalers plus its own entry fit.
            self._client().transact_write_items(TransactItems=items)
        except ClientError as error:
            reasons = error.response.get("CancellationReasons", [])
            if error_code(error) == "TransactionCanceledException" and any(
                reason.get("Code") == "ConditionalCheckFailed" for reason in reasons
            ):
                raise ClaimLost(
                    f"node pool {node_pool!r}: claim {claim} was taken over before recording"
                    + (" (or its acting lease ran out and a round took it)" if lowering else "")
                ) from error
            raise translate_aws_error(error, operation="TransactWriteItems") from error
        except BotoCoreError as error:
            raise translate_aws_error(error, operation="TransactWriteItems") from error

    def append_audit(self, audit: Sequence[AuditEntry]) -> None:
        for entry in audit:
            self.calls.count("dynamodb:PutItem")
            try:
                self._client().put_item(TableName=self.table_name, Item=self._audit_item(entry, 0))
            except (ClientError, BotoCoreError) as error:
                raise translate_aws_error(error, operation="PutItem") from error

    def alarms_version(self) -> str | None:
        self.calls.count("dynamodb:GetItem")
        try:
            item = self._client().get_item(TableName=self.table_name, Key=_ALARMS_KEY, ConsistentRead=True)
        except (ClientError, BotoCoreError) as error:
            raise translate_aws_error(error, operation="GetItem") from error
        found = item.get("Item")
        return found["version"]["S"] if found else None

    def set_alarms_version(self, version: str) -> None:
        self.calls.count("dynamodb:PutItem")
        try:
            self._client().put_item(
                TableName=self.table_name, Item={**_ALARMS_KEY, "version": {"S": version}}
            )
        except (ClientError, BotoCoreError) as error:
            raise translate_aws_error(error, operation="PutItem") from error

    def config_sequence(self, digest: str) -> int:
        for _ in range(5):
            item = self._get(_CONFIG_KEY)
            current = int(item["sequence"]["N"]) if item else 0
            if item and item["digest"]["S"] == digest:
                return current
            # A digest numbered before is an older configuration (a container of a previous
            # deployment still running): it keeps its number and never becomes the newest again.
            numbered = self._get(_digest_key(digest))
            if numbered is not None:
                return int(numbered["sequence"]["N"])
            self.calls.count("dynamodb:TransactWriteItems")
            try:
                self._client().transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": self.table_name,
                                "Item": {
                                    **_CONFIG_KEY,
                                    "digest": {"S": digest},
                                    "sequence": {"N": str(current + 1)},
                                },
                                "ConditionExpression": "attribute_not_exists(pk) OR #sequence = :seen",
                                "ExpressionAttributeNames": {"#sequence": "sequence"},
                                "ExpressionAttributeValues": {":seen": {"N": str(current)}},
                            }
                        },
                        {
                            "Put": {
                                "TableName": self.table_name,
                                "Item": {**_digest_key(digest), "sequence": {"N": str(current + 1)}},
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }
                        },
                    ]
                )
            except ClientError as error:
                if error_code(error) == "TransactionCanceledException":
                    continue  # another decision moved it first, or numbered this digest: read again
                raise translate_aws_error(error, operation="TransactWriteItems") from error
            except BotoCoreError as error:
                raise translate_aws_error(error, operation="TransactWriteItems") from error
            return current + 1
        raise StoredStateInvalid(f"{self.table_name}: the configuration sequence keeps moving")

    def current_config_sequence(self) -> int:
        item = self._get(_CONFIG_KEY)
        return int(item["sequence"]["N"]) if item else 0

    def roll_out_pools(self, pools: Sequence[str]) -> tuple[str, ...]:
        # One write that returns what it replaced: of two racers, the second sees the new list
        # and retires nothing again.
        self.calls.count("dynamodb:UpdateItem")
        try:
            response = self._client().update_item(
                TableName=self.table_name,
                Key=_POOLS_KEY,
                UpdateExpression="SET pools = :pools",
                ExpressionAttributeValues={":pools": {"L": [{"S": pool} for pool in sorted(pools)]}},
                ReturnValues="ALL_OLD",
            )
        except (ClientError, BotoCoreError) as error:
            raise translate_aws_error(error, operation="UpdateItem") from error
        before = [value["S"] for value in response.get("Attributes", {}).get("pools", {}).get("L", [])]
        return tuple(sorted(set(before) - set(pools)))

    def store_wait_token(self, node_pool: str, generation: int, token: str, *, decisions: int) -> None:
        try:
            self._update(
                node_pool,
                "SET wait_token = :token, wait_generation = :generation",
                {
                    ":token": {"S": token},
                    ":generation": {"N": str(generation)},
                    ":decisions": {"N": str(decisions)},
                },
                condition=(
                    "(attribute_not_exists(wait_generation) OR wait_generation <= :generation)"
                    " AND (attribute_not_exists(decisions) OR decisions = :decisions)"
                ),
            )
        except _ConditionFailed:
            raise WaitSuperseded(
                f"node pool {node_pool!r}: a decision came in since generation {generation} checked "
                "its fence, or a newer generation waits"
            ) from None

    def take_wait_token(self, node_pool: str) -> tuple[int, str] | None:
        self.calls.count("dynamodb:UpdateItem")
        try:
            response = self._client().update_item(
                TableName=self.table_name,
                Key=_pool_key(node_pool),
                UpdateExpression="REMOVE wait_token",
                ConditionExpression="attribute_exists(wait_token)",
                ReturnValues="ALL_OLD",
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return None
            raise translate_aws_error(error, operation="UpdateItem") from error
        except BotoCoreError as error:
            raise translate_aws_error(error, operation="UpdateItem") from error
        old = response.get("Attributes", {})
        return int(old.get("wait_generation", {}).get("N", "0")), old["wait_token"]["S"]

    def close_generation(self, node_pool: str, generation: int) -> None:
        try:
            self._update(
                node_pool,
                "SET closed_generation = :generation",
                {":generation": {"N": str(generation)}},
                condition="attribute_not_exists(closed_generation) OR closed_generation < :generation",
            )
        except _ConditionFailed:
            return  # this generation or a newer one is closed already

    def acquire_acting(self, node_pool: str, holder: str, *, now: datetime, lease: timedelta) -> None:
        try:
            self._update(
                node_pool,
                "SET acting_by = :holder, acting_until = :until",
                {
                    ":holder": {"S": holder},
                    ":now": {"N": str(now.timestamp())},
                    ":until": {"N": str((now + lease).timestamp())},
                },
                condition="attribute_not_exists(acting_until) OR acting_until <= :now OR acting_by = :holder",
            )
        except _ConditionFailed:
            raise PoolBusy(
                f"node pool {node_pool!r}: another provisioning execution is acting on it"
            ) from None

    def release_acting(self, node_pool: str, holder: str) -> bool:
        self.calls.count("dynamodb:UpdateItem")
        try:
            response = self._client().update_item(
                TableName=self.table_name,
                Key=_pool_key(node_pool),
                UpdateExpression="REMOVE acting_by, acting_until",
                ConditionExpression="acting_by = :holder",
                ExpressionAttributeValues={":holder": {"S": holder}},
                # What the item held: whether a decision kept lower targets back meanwhile (decide
                # removes that note when it records again, so the releaser only reads it).
                ReturnValues="ALL_OLD",
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False  # its lease ran out and another took it, or it was released already
            raise translate_aws_error(error, operation="UpdateItem") from error
        except BotoCoreError as error:
            raise translate_aws_error(error, operation="UpdateItem") from error
        return "deferred_lowering" in response.get("Attributes", {})

    def store_shortages(self, node_pool: str, before: str | None, after: str) -> None:
        values: dict[str, Any] = {":after": {"S": after}}
        if before is None:
            condition = "attribute_not_exists(shortages)"
        else:
            condition = "shortages = :before"
            values[":before"] = {"S": before}
        try:
            self._update(node_pool, "SET shortages = :after", values, condition=condition)
        except _ConditionFailed:
            raise ShortagesChanged(f"node pool {node_pool!r}: the shortage record changed") from None

    def set_pause(self, node_pool: str, key: str, pause_json: str) -> None:
        """Pause the pool (`key` `*`) or one of its scalers at run time; decide reads it next time.

        Kept in the pool's item (its own attribute, which decide's record never writes), so the
        decision reads it with the pool's counter, in the same GetItem.
        """
        # A map's entry can only be set once the map exists: make it first, then set the entry.
        for expression, values in (
            ("SET pauses = if_not_exists(pauses, :empty)", {":empty": {"M": {}}}),
            ("SET pauses.#key = :pause", {":pause": {"S": pause_json}}),
        ):
            self.calls.count("dynamodb:UpdateItem")
            try:
                self._client().update_item(
                    TableName=self.table_name,
                    Key=_pool_key(node_pool),
                    UpdateExpression=expression,
                    ExpressionAttributeValues=values,
                    **({"ExpressionAttributeNames": {"#key": key}} if "#key" in expression else {}),  # type: ignore[arg-type]
                )
            except (ClientError, BotoCoreError) as error:
                raise translate_aws_error(error, operation="UpdateItem") from error

    def clear_pause(self, node_pool: str, key: str) -> bool:
        """End a run-time pause; whether there was one."""
        self.calls.count("dynamodb:UpdateItem")
        try:
            self._client().update_item(
                TableName=self.table_name,
                Key=_pool_key(node_pool),
                UpdateExpression="REMOVE pauses.#key",
                ConditionExpression="attribute_exists(pauses.#key)",
                ExpressionAttributeNames={"#key": key},
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise translate_aws_error(error, operation="UpdateItem") from error
        except BotoCoreError as error:
            raise translate_aws_error(error, operation="UpdateItem") from error
        return True

    def _get(self, key: dict[str, Any]) -> dict[str, Any] | None:
        self.calls.count("dynamodb:GetItem")
        try:
            found = self._client().get_item(TableName=self.table_name, Key=key, ConsistentRead=True)
        except (ClientError, BotoCoreError) as error:
            raise translate_aws_error(error, operation="GetItem") from error
        return found.get("Item")

    def _update(self, node_pool: str, expression: str, values: dict[str, Any], *, condition: str) -> None:
        self.calls.count("dynamodb:UpdateItem")
        try:
            self._client().update_item(
                TableName=self.table_name,
                Key=_pool_key(node_pool),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                raise _ConditionFailed from error
            raise translate_aws_error(error, operation="UpdateItem") from error
        except BotoCoreError as error:
            raise translate_aws_error(error, operation="UpdateItem") from error

    def _audit_item(self, entry: AuditEntry, claim: int) -> dict[str, Any]:
        expires = int((entry.at + self._retention).timestamp())
        return {
            "pk": {"S": f"AUDIT#{entry.subject}"},
            "sk": {"S": f"{entry.at.isoformat()}#{claim:012d}"},
            "record": {"S": json.dumps(entry.record, sort_keys=True, default=str)},
            "expires_at": {"N": str(expires)},
        }

    def audit(self, subject: str, *, limit: int = 50) -> list[dict[str, Any]]:
        """The newest `limit` audit records of a scaler (`namespace/name`) or `POOL#<pool>`."""
        self.calls.count("dynamodb:Query")
        try:
            items = self._client().query(
                TableName=self.table_name,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": f"AUDIT#{subject}"}},
                ScanIndexForward=False,
                Limit=limit,
            )["Items"]
        except (ClientError, BotoCoreError) as error:
            raise translate_aws_error(error, operation="Query") from error
        return [json.loads(item["record"]["S"]) for item in items]

    def epoch(self) -> str:
        key = {"pk": {"S": "TABLE"}, "sk": {"S": "EPOCH"}}
        client = self._client()
        self.calls.count("dynamodb:GetItem")
        try:
            found = client.get_item(TableName=self.table_name, Key=key, ConsistentRead=True).get("Item")
            if found is not None:
                return found["epoch"]["S"]
            candidate = secrets.token_hex(4)
            self.calls.count("dynamodb:PutItem")
            client.put_item(
                TableName=self.table_name,
                Item={**key, "epoch": {"S": candidate}},
                ConditionExpression="attribute_not_exists(pk)",
            )
            return candidate
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return self.epoch()  # another invocation made it first: use theirs
            raise translate_aws_error(error, operation="PutItem") from error
        except BotoCoreError as error:
            raise translate_aws_error(error, operation="GetItem") from error


_ALARMS_KEY = {"pk": {"S": "TABLE"}, "sk": {"S": "ALARMS"}}
_CONFIG_KEY = {"pk": {"S": "TABLE"}, "sk": {"S": "CONFIG"}}
_POOLS_KEY = {"pk": {"S": "TABLE"}, "sk": {"S": "POOLS"}}


class _ConditionFailed(Exception):
    """A conditional write's condition did not hold (each caller says what that means)."""


def decider(token: str) -> str:
    """The acting lease's holder while a lowering decision (claim `token`) holds it."""
    return f"decide:{token}"


def _digest_key(digest: str) -> dict[str, Any]:
    return {"pk": {"S": "TABLE"}, "sk": {"S": f"CONFIG#{digest}"}}


def _pool_key(node_pool: str) -> dict[str, Any]:
    return {"pk": {"S": f"POOL#{node_pool}"}, "sk": {"S": "STATE"}}
