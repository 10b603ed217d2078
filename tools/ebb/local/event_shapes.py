"""The events the local world emits, in the shapes AWS documents for them.

Each builder cites the documentation page its shape follows. Times are simulated times.
"""

from __future__ import annotations

import hashlib
import json
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_RUNTIME_DIR = str(Path(__file__).parent)


def iso_seconds(moment: datetime) -> str:
    """`2019-10-02T17:04:40Z`: the `time` field of an EventBridge event."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_millis_offset(moment: datetime) -> str:
    """`2019-10-02T17:04:40.989+0000`: the timestamps inside CloudWatch alarm events."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def iso_millis_z(moment: datetime) -> str:
    """`2019-11-14T18:16:05.568Z`: the timestamp of a Lambda invocation record."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def eventbridge_event(
    *,
    event_id: str,
    detail_type: str,
    source: str,
    account: str,
    region: str,
    time: datetime,
    resources: list[str],
    detail: dict[str, Any],
) -> dict[str, Any]:
    """An event as EventBridge delivers it to a target.

    Shape: EventBridge User Guide, "Amazon EventBridge events" (top-level fields version, id,
    detail-type, source, account, time, region, resources, detail).
    """
    return {
        "version": "0",
        "id": event_id,
        "detail-type": detail_type,
        "source": source,
        "account": account,
        "time": iso_seconds(time),
        "region": region,
        "resources": list(resources),
        "detail": detail,
    }


def scheduled_event(
    *, event_id: str, account: str, region: str, time: datetime, rule_arn: str
) -> dict[str, Any]:
    """What a rule with a ScheduleExpression sends: detail-type "Scheduled Event", source aws.events.

    Shape: EventBridge User Guide, "Creating a rule that runs on a schedule" / scheduled events.
    """
    return eventbridge_event(
        event_id=event_id,
        detail_type="Scheduled Event",
        source="aws.events",
        account=account,
        region=region,
        time=time,
        resources=[rule_arn],
        detail={},
    )


def sqs_lambda_record(
    *,
    message_id: str,
    receipt_handle: str,
    body: str,
    attributes: dict[str, str],
    message_attributes: dict[str, Any],
    md5_of_body: str,
    queue_arn: str,
    region: str,
) -> dict[str, Any]:
    """One record of the event an SQS event source mapping passes to a function.

    Shape: Lambda Developer Guide, "Using Lambda with Amazon SQS" (example SQS message event;
    FIFO records add SequenceNumber, MessageGroupId and MessageDeduplicationId to attributes).
    """
    return {
        "messageId": message_id,
        "receiptHandle": receipt_handle,
        "body": body,
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": md5_of_body,
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def md5_hex(text: str) -> str:
    """The MD5 digest SQS reports for a body."""
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def lambda_error_payload(error: BaseException, request_id: str) -> dict[str, Any]:
    """The payload of a Python function that raised: errorMessage, errorType, requestId, stackTrace.

    Shape: Lambda Developer Guide, "AWS Lambda function errors in Python".
    """
    # The runtime's own frames are not the function's: report from the handler down, as Lambda does.
    frames = traceback.format_list(
        [
            frame
            for frame in traceback.extract_tb(error.__traceback__)
            if not frame.filename.startswith(_RUNTIME_DIR)
        ]
    )
    return {
        "errorMessage": str(error),
        "errorType": type(error).__name__,
        "requestId": request_id,
        "stackTrace": [frame.rstrip("\n") for frame in frames],
    }


def lambda_timeout_payload(request_id: str, timeout_seconds: float) -> dict[str, Any]:
    """What Lambda reports when a function runs past its timeout: errorType `Sandbox.Timedout`.

    Lambda Developer Guide, "Troubleshoot invocation issues in Lambda" (Sandbox.Timedout), and
    the "Task timed out after N seconds" message of the runtime.
    """
    return {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {request_id} Error: Task timed out after {timeout_seconds:.2f} seconds",
    }


def lambda_invocation_record(
    *,
    time: datetime,
    request_id: str,
    function_arn: str,
    condition: str,
    approximate_invoke_count: int,
    request_payload: Any,
    function_error: str | None,
    response_payload: Any,
    status_code: int = 200,
) -> dict[str, Any]:
    """The record Lambda sends to an asynchronous invocation's on-success/on-failure destination.

    Shape: Lambda Developer Guide, "Capturing records of Lambda asynchronous invocations"
    (invocation record: version, timestamp, requestContext, requestPayload, responseContext,
    responsePayload; condition RetriesExhausted | EventAgeExceeded | Success).
    """
    response_context: dict[str, Any] = {"statusCode": status_code, "executedVersion": "$LATEST"}
    if function_error is not None:
        response_context["functionError"] = function_error
    return {
        "version": "1.0",
        "timestamp": iso_millis_z(time),
        "requestContext": {
            "requestId": request_id,
            "functionArn": f"{function_arn}:$LATEST",
            "condition": condition,
            "approximateInvokeCount": approximate_invoke_count,
        },
        "requestPayload": request_payload,
        "responseContext": response_context,
        "responsePayload": response_payload,
    }


def lambda_dead_letter_attributes(
    request_id: str, error_message: str, status_code: int = 200
) -> dict[str, dict[str, str]]:
    """Message attributes of an asynchronous invocation's event in the function's DLQ.

    Lambda Developer Guide, "Adding a dead-letter queue": RequestID, ErrorCode (a 3-digit HTTP
    status code) and ErrorMessage (the first 1 KB of the error message).
    """
    return {
        "RequestID": {"DataType": "String", "StringValue": request_id},
        "ErrorCode": {"DataType": "Number", "StringValue": str(status_code)},
        "ErrorMessage": {"DataType": "String", "StringValue": error_message[:1024] or "(no message)"},
    }


def eventbridge_dead_letter_attributes(
    *,
    rule_arn: str,
    target_arn: str,
    error_code: str,
    error_message: str,
    retry_attempts: int,
    exhausted_condition: str | None,
) -> dict[str, dict[str, str]]:
    """Message attributes EventBridge puts on an event it moves to a target's DLQ.

    EventBridge User Guide, "Using dead-letter queues to process undelivered events":
    RULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE, EXHAUSTED_RETRY_CONDITION, RETRY_ATTEMPTS.
    """
    attributes = {
        "RULE_ARN": rule_arn,
        "TARGET_ARN": target_arn,
        "ERROR_CODE": error_code,
        "ERROR_MESSAGE": error_message or "(no message)",
        "RETRY_ATTEMPTS": str(retry_attempts),
    }
    if exhausted_condition is not None:
        attributes["EXHAUSTED_RETRY_CONDITION"] = exhausted_condition
    return {name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()}


def scheduler_dead_letter_attributes(
    *,
    schedule_arn: str,
    target_arn: str,
    scheduled_time: datetime,
    execution_id: str,
    error_code: str,
    error_message: str,
    retry_attempts: int,
    exhausted_condition: str | None,
) -> dict[str, dict[str, str]]:
    """Message attributes EventBridge Scheduler puts on an event it moves to a schedule's DLQ.

    EventBridge Scheduler User Guide, "Configuring a dead-letter queue": ERROR_CODE,
    ERROR_MESSAGE, EXECUTION_ID, EXHAUSTED_RETRY_CONDITION, IS_PAYLOAD_TRUNCATED,
    RETRY_ATTEMPTS, SCHEDULED_TIME, SCHEDULE_ARN, TARGET_ARN.
    """
    attributes = {
        "ERROR_CODE": error_code,
        "ERROR_MESSAGE": error_message or "(no message)",
        "EXECUTION_ID": execution_id,
        "IS_PAYLOAD_TRUNCATED": "false",
        "RETRY_ATTEMPTS": str(retry_attempts),
        "SCHEDULED_TIME": iso_seconds(scheduled_time),
        "SCHEDULE_ARN": schedule_arn,
        "TARGET_ARN": target_arn,
    }
    if exhausted_condition is not None:
        attributes["EXHAUSTED_RETRY_CONDITION"] = exhausted_condition
    return {name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()}


def compact_json(value: Any) -> str:
    """JSON without spaces, as AWS services serialise payloads."""
    return json.dumps(value, separators=(",", ":"))
