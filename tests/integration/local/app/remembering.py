"""A handler made idempotent with Powertools, in its own module: Powertools' persistence layer
makes its own botocore session when the module loads, which only this function should pay for."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent,
)

_persistence = DynamoDBPersistenceLayer(
    table_name=os.environ["RECORD_TABLE"], key_attr="pk", sort_key_attr="sk"
)


@idempotent(persistence_store=_persistence, config=IdempotencyConfig(expires_after_seconds=3600))
def remember(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Powertools idempotency: the same event within an hour returns the first result."""
    return {"first_seen_at": datetime.now(UTC).isoformat(), "event": event}
