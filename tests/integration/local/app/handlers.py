"""Handlers of the local world's test template: small, real Lambda handlers.

They read what a Lambda function reads (the event, the context, the environment, the clock) and
use boto3 like ebb's functions do, so the tests can check what the world gives them.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from functools import cache
from typing import Any

import boto3
from botocore.exceptions import ClientError


class TransientFailure(Exception):
    """A handler error whose class name is the errorType Step Functions and Lambda report."""


@cache
def _record_table() -> Any:
    # Created on first use, as ebb's adapters create their clients: once per sandbox.
    return boto3.resource("dynamodb", region_name=os.environ["AWS_REGION"]).Table(os.environ["RECORD_TABLE"])


def record(event: Any, context: Any) -> dict[str, Any]:
    """Store what arrived, with the time the function saw, in the record table; return it."""
    now = time.time()
    table = _record_table()
    item = {
        "pk": context.function_name,
        "sk": f"{now:017.6f}#{context.aws_request_id}",
        "event": json.dumps(event, sort_keys=True),
        "seen_at": datetime.now(UTC).isoformat(),
        "remaining_ms": context.get_remaining_time_in_millis(),
    }
    table.put_item(Item=item)
    return {"received": event, "seen_at": item["seen_at"], "stage": os.environ.get("STAGE")}


def fail(event: Any, context: Any) -> None:
    """Always fail, with a named error."""
    raise TransientFailure(f"cannot handle {json.dumps(event, sort_keys=True)[:80]}")


def sleep(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Sleep `seconds` (simulated), then report the time left."""
    time.sleep(float(event["seconds"]))
    return {"slept": event["seconds"], "remaining_ms": context.get_remaining_time_in_millis()}


def flaky(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Fail until the state machine's retry count reaches `succeed_on_retry`."""
    if int(event["retry_count"]) < int(event["succeed_on_retry"]):
        raise TransientFailure(f"attempt {event['retry_count']} of item {event.get('item')}")
    return {"item": event.get("item"), "retry_count": event["retry_count"]}


def consume_batch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Process SQS records in order; report the ones whose body asks to fail (and, FIFO-style, the
    records after them in the same group) as batch item failures."""
    failures: list[dict[str, str]] = []
    failed_groups: set[str] = set()
    for record_ in event["Records"]:
        group = record_["attributes"].get("MessageGroupId", "")
        if group in failed_groups or "fail" in record_["body"]:
            failed_groups.add(group)
            failures.append({"itemIdentifier": record_["messageId"]})
    return {"batchItemFailures": failures}


def unserialisable(event: Any, context: Any) -> object:
    """Return something JSON cannot carry."""
    return {"when": datetime.now(UTC)}


def complete_task(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Answer a waiting `.waitForTaskToken` task, as an event handler of the provisioning workflow
    will: `action` is success (with `output`), failure (with `error`, `cause`) or heartbeat.
    Returns what Step Functions said: `{"accepted": action}` or `{"refused": <error code>}`."""
    stepfunctions = boto3.client("stepfunctions", region_name=os.environ["AWS_REGION"])
    token = event["token"]
    try:
        if event["action"] == "success":
            output = event.get("raw_output") or json.dumps(event.get("output", {}))
            stepfunctions.send_task_success(taskToken=token, output=output)
        elif event["action"] == "failure":
            stepfunctions.send_task_failure(taskToken=token, error=event["error"], cause=event["cause"])
        else:
            stepfunctions.send_task_heartbeat(taskToken=token)
    except ClientError as error:
        return {"refused": error.response["Error"]["Code"], "message": error.response["Error"]["Message"]}
    return {"accepted": event["action"]}
