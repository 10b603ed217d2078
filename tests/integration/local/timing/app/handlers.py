"""Handlers of the timing tests' template: small, real Lambda handlers."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Any

import boto3

# Per message group, the last step processed (module state lives as long as the environment).
_LAST_STEP: dict[str, int] = {}


class OutOfOrder(Exception):
    """A message group's steps arrived out of order."""


def _step(record: dict[str, Any]) -> int:
    # Bodies are "<group>:<step>", steps counting from 1 within each group.
    return int(record["body"].rsplit(":", 1)[1])


def one_group_per_batch(event: dict[str, Any], context: Any) -> None:
    """Written as if a FIFO batch held one message group: the first record's.

    Fine while batches are one group each; wrong when Lambda mixes groups in a batch, as AWS may.
    """
    group = event["Records"][0]["attributes"]["MessageGroupId"]
    last = _LAST_STEP.get(group, 0)
    for record in event["Records"]:
        if _step(record) != last + 1:
            raise OutOfOrder(f"group {group}: step {_step(record)} after step {last}")
        last = _step(record)
    _LAST_STEP[group] = last


def group_aware(event: dict[str, Any], context: Any) -> None:
    """The same bookkeeping, keyed by each record's own message group."""
    for record in event["Records"]:
        group = record["attributes"]["MessageGroupId"]
        if _step(record) != _LAST_STEP.get(group, 0) + 1:
            raise OutOfOrder(f"group {group}: step {_step(record)} after step {_LAST_STEP.get(group, 0)}")
        _LAST_STEP[group] = _step(record)


def echo(event: Any, context: Any) -> dict[str, Any]:
    """Return the event and the simulated time the handler started at."""
    return {"event": event, "seen_at": datetime.now(UTC).isoformat()}


def nap(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Sleep `seconds` (simulated)."""
    time.sleep(float(event["seconds"]))
    return {"slept": event["seconds"]}


def nap_on_records(event: dict[str, Any], context: Any) -> None:
    """Sleep as many seconds as each record's body says."""
    for record in event["Records"]:
        time.sleep(float(record["body"]))


def forward(event: dict[str, Any], context: Any) -> None:
    """Send each record's body on to the results queue."""
    sqs = boto3.client("sqs", region_name=os.environ["AWS_REGION"])
    for record in event["Records"]:
        sqs.send_message(QueueUrl=os.environ["RESULTS_URL"], MessageBody=record["body"])
