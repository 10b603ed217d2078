"""Lower targets and the acting lease serialize on the pool's item: the state table's conditions.

Each test runs twice: against `DynamoStateTable` on moto's DynamoDB, whose condition expressions
follow the DynamoDB Developer Guide ("Condition expressions",
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html;
"Condition and filter expressions, operators, and functions in DynamoDB",
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.OperatorsAndFunctions.html:
`attribute_not_exists`, comparisons; a write whose condition is false fails with
ConditionalCheckFailedException, and a TransactWriteItems with a failing condition is cancelled
with ConditionalCheckFailed reasons), and against the shared in-memory fake the service tests
decide through (tests/unit/conftest.py), so the fake is held to what DynamoDB does.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from ebb.adapters.state_table import AuditEntry, ClaimLost, DynamoStateTable, PoolBusy, decider

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=90)
ROUND = "arn:aws:states:us-east-1:123456789012:execution:ebb-provision:gpu-0a1b2c3d-g1-c0"


@pytest.fixture(params=["dynamodb", "memory"])
def table(request: pytest.FixtureRequest, memory_state_table: Any) -> Iterator[Any]:
    if request.param == "memory":
        yield memory_state_table()
        return
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="state",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
        )
        yield DynamoStateTable("state", audit_retention=timedelta(days=30), region_name="us-east-1")


def _record(table: Any, claim: int, token: str, **options: Any) -> None:
    table.record(
        "gpu",
        claim=claim,
        token=token,
        state_json='{"generation": 2}',
        execution_arn=None,
        audit=[AuditEntry(subject="POOL#gpu", at=NOW, record={"by": token})],
        **options,
    )


def test_a_lowering_claim_is_refused_while_a_round_holds_the_acting_lease(table: Any) -> None:
    table.acquire_acting("gpu", ROUND, now=NOW, lease=LEASE)
    later = NOW + timedelta(seconds=10)
    with pytest.raises(ClaimLost, match=r"a provisioning round holds the acting lease$") as refused:
        table.claim("gpu", 0, "lower", now=later, lease=LEASE, lowering=True)
    assert type(refused.value) is ClaimLost
    if isinstance(table, DynamoStateTable):
        # ebb's own exception, from DynamoDB's refusal of the condition.
        cause = refused.value.__cause__
        assert isinstance(cause, ClientError)
        assert cause.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert table.load_pool("gpu").decisions == 0, "a refused claim changes nothing"
    assert table.load_pool("gpu").acting_holder(later) == ROUND
    # A decision that lowers nothing may claim meanwhile (raising targets keeps the invariant).
    assert table.claim("gpu", 0, "raise", now=later, lease=LEASE) == 1


def test_a_lowering_claim_holds_the_acting_lease_until_it_records(table: Any) -> None:
    claim = table.claim("gpu", 0, "lower", now=NOW, lease=LEASE, lowering=True)
    assert table.load_pool("gpu").acting_holder(NOW) == decider("lower")
    with pytest.raises(PoolBusy, match=r"^node pool 'gpu': another provisioning execution is acting on it$"):
        table.acquire_acting("gpu", ROUND, now=NOW + timedelta(seconds=5), lease=LEASE)
    _record(table, claim, "lower", lowering=True)
    stored = table.load_pool("gpu")
    assert stored.state_json == '{"generation": 2}'
    assert stored.acting_holder(NOW + timedelta(seconds=6)) is None, "recording ended decide's hold"
    table.acquire_acting("gpu", ROUND, now=NOW + timedelta(seconds=6), lease=LEASE)
    assert table.load_pool("gpu").acting_holder(NOW + timedelta(seconds=6)) == ROUND


def test_an_expired_acting_lease_does_not_block_a_lowering_claim(table: Any) -> None:
    # A round that crashed holding the lease: it runs while now < acting_until, then holds nothing.
    table.acquire_acting("gpu", ROUND, now=NOW, lease=LEASE)
    assert table.load_pool("gpu").acting_holder(NOW + LEASE - timedelta(seconds=1)) == ROUND
    assert table.load_pool("gpu").acting_holder(NOW + LEASE) is None
    with pytest.raises(ClaimLost, match="acting lease"):
        table.claim("gpu", 0, "early", now=NOW + LEASE - timedelta(seconds=1), lease=LEASE, lowering=True)
    claim = table.claim("gpu", 0, "lower", now=NOW + LEASE, lease=LEASE, lowering=True)
    # The crashed round's late release cannot end the lease decide now holds.
    assert table.release_acting("gpu", ROUND) is False
    _record(table, claim, "lower", lowering=True)
    assert table.load_pool("gpu").acting_holder(NOW + LEASE) is None


def test_a_lowering_record_after_its_acting_lease_was_taken_over_is_refused(table: Any) -> None:
    claim = table.claim("gpu", 0, "lower", now=NOW, lease=LEASE, lowering=True)
    # Its lease ran out (a decide Lambda is stopped at 60 s, so only a stalled one gets here).
    table.acquire_acting("gpu", ROUND, now=NOW + LEASE, lease=LEASE)
    with pytest.raises(ClaimLost, match=r"^node pool 'gpu': claim 1 was taken over before recording"):
        _record(table, claim, "lower", lowering=True)
    assert table.load_pool("gpu").state_json is None, "nothing lower was published"


def test_releasing_the_lease_says_whether_a_decision_kept_lower_targets_back_meanwhile(table: Any) -> None:
    table.acquire_acting("gpu", ROUND, now=NOW, lease=LEASE)
    claim = table.claim("gpu", 0, "deferring", now=NOW + timedelta(seconds=1), lease=LEASE)
    _record(table, claim, "deferring", deferred="lower target deferred: gpu-g5-use1a keeps 3")
    assert table.release_acting("gpu", ROUND) is True
    assert table.release_acting("gpu", ROUND) is False, "released already"

    # The next decision publishes (no deferral): a later release has nothing waiting.
    claim = table.claim("gpu", 1, "publishing", now=NOW + timedelta(seconds=2), lease=LEASE, lowering=True)
    _record(table, claim, "publishing", lowering=True)
    table.acquire_acting("gpu", ROUND, now=NOW + timedelta(seconds=3), lease=LEASE)
    assert table.release_acting("gpu", ROUND) is False
