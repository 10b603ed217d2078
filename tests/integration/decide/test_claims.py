"""Claim, act, record on DynamoDB: two racers for one pool cannot both act.

Runs against moto's DynamoDB, whose conditional writes and transactions follow the DynamoDB
Developer Guide ("Condition expressions"; "TransactWriteItems": the whole transaction is
cancelled with ConditionalCheckFailed reasons when a condition fails).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from ebb.adapters.state_table import AuditEntry, ClaimLost, DynamoStateTable

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=150)


@pytest.fixture
def table() -> Iterator[DynamoStateTable]:
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


def _record(table: DynamoStateTable, claim: int, token: str, state: str = '{"generation": 1}') -> None:
    table.record(
        "gpu",
        claim=claim,
        token=token,
        state_json=state,
        execution_arn=None,
        audit=[AuditEntry(subject="POOL#gpu", at=NOW, record={"by": token})],
    )


def test_of_two_decisions_that_read_the_same_counter_only_one_claims(table: DynamoStateTable) -> None:
    seen = table.load_pool("gpu").decisions
    assert table.claim("gpu", seen, "a", now=NOW, lease=LEASE) == 1
    with pytest.raises(ClaimLost, match="decision 0 was claimed already"):
        table.claim("gpu", seen, "b", now=NOW, lease=LEASE)


def test_a_racer_that_reads_after_the_claim_waits_for_the_record(table: DynamoStateTable) -> None:
    claim = table.claim("gpu", 0, "a", now=NOW, lease=LEASE)
    late = table.load_pool("gpu")  # b reads while a is between its claim and its record
    with pytest.raises(ClaimLost, match="lease runs"):
        table.claim("gpu", late.decisions, "b", now=NOW + timedelta(seconds=10), lease=LEASE)
    _record(table, claim, "a")
    fresh = table.load_pool("gpu")
    assert fresh.state_json == '{"generation": 1}'
    assert table.claim("gpu", fresh.decisions, "b", now=NOW + timedelta(seconds=20), lease=LEASE) == 2


def test_a_crashed_claim_is_taken_over_once_its_lease_ran_out_and_cannot_record(
    table: DynamoStateTable,
) -> None:
    table.claim("gpu", 0, "crashed", now=NOW, lease=LEASE)
    later = table.load_pool("gpu")
    assert table.claim("gpu", later.decisions, "next", now=NOW + LEASE, lease=LEASE) == 2
    with pytest.raises(ClaimLost, match="claim 1 was taken over before recording"):
        _record(table, 1, "crashed", state='{"generation": 9}')
    _record(table, 2, "next")
    assert table.load_pool("gpu").state_json == '{"generation": 1}'
    assert [r["by"] for r in table.audit("POOL#gpu")] == ["next"]


def test_the_epoch_is_made_once(table: DynamoStateTable) -> None:
    first = table.epoch()
    assert len(first) == 8
    assert table.epoch() == first
