"""Delivering a payload to a target ARN, as EventBridge and Scheduler do, and backing off.

A Lambda target is invoked asynchronously (the function's own retries then apply), a state
machine gets a new execution, a queue a message, a topic a notification, a bus an event; an
`arn:aws:scheduler:::aws-sdk:<service>:<action>` universal target calls that API with the
payload as its parameters. Failures are `DeliveryError`s, retryable or not: throttling and
server errors are retried; a target that does not exist, or refuses the request, is not
(EventBridge User Guide, "Using dead-letter queues": missing resources and permissions go
straight to the DLQ).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError

from ebb.local.lambda_runtime import LambdaRuntime
from ebb.local.randomness import SeededRandomness

# Error codes of the services that mean "the target is gone", never retried.
_MISSING_TARGET_CODES = {
    "ResourceNotFoundException",
    "StateMachineDoesNotExist",
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    "NotFound",
    "NotFoundException",
}
# Backoff of retried deliveries: exponential with full jitter, capped. AWS documents "exponential
# back off and jitter" without constants; these are the local world's choice.
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 300.0


class DeliveryError(Exception):
    """A failed delivery: `code` as EventBridge reports it, and whether to retry."""

    def __init__(self, code: str, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable


# Clients are costly to make (~80 ms each) and hold no state: the worlds of one process share
# them. They are only ever made while a world (so moto's mock) is running, and moto intercepts
# every client made after moto was imported, in this world and the next.
_CLIENTS: dict[tuple[str, str], Any] = {}


@dataclass
class AwsClients:
    """boto3 clients for the local world's own calls, created lazily (inside the mock)."""

    region: str

    def client(self, service: str) -> Any:
        """A cached client for `service`."""
        key = (service, self.region)
        if key not in _CLIENTS:
            _CLIENTS[key] = boto3.client(service, region_name=self.region)  # type: ignore[call-overload]
        return _CLIENTS[key]


def queue_url(queue_arn: str) -> str:
    """The URL of a queue from its ARN (moto accepts the public endpoint form)."""
    _, _, _, region, account, name = queue_arn.split(":", 5)
    return f"https://sqs.{region}.amazonaws.com/{account}/{name}"


def backoff_seconds(randomness: SeededRandomness, attempt: int) -> float:
    """The wait before retry number `attempt` (1-based): full jitter on an exponential, capped."""
    return randomness.uniform(0.0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1)))


class TargetInvoker:
    """Delivers payloads to target ARNs; see the module docstring."""

    def __init__(
        self,
        *,
        clients: AwsClients,
        lambda_runtime: LambdaRuntime,
        randomness: SeededRandomness,
        publish_event: Callable[[dict[str, Any], str], None],
    ) -> None:
        self._clients = clients
        self._lambda = lambda_runtime
        self._randomness = randomness
        self._publish_event = publish_event

    def deliver(self, arn: str, payload: Any, *, message_group_id: str | None = None) -> str:
        """Deliver `payload` (JSON-able, or a string for queues) to `arn`; return a delivery id."""
        service = arn.split(":")[2] if arn.count(":") >= 5 else ""
        try:
            if arn.startswith("arn:aws:scheduler:::aws-sdk:"):
                return self._universal(arn, payload)
            if service == "lambda":
                if self._lambda.spec(arn) is None:
                    raise DeliveryError("RESOURCE_NOT_FOUND", f"Function not found: {arn}", retryable=False)
                return self._lambda.invoke_async(arn, payload)
            if service == "states":
                response = self._clients.client("stepfunctions").start_execution(
                    stateMachineArn=arn, name=self._randomness.uuid4(), input=_as_text(payload)
                )
                return str(response["executionArn"])
            if service == "sqs":
                extra = {"MessageGroupId": message_group_id} if message_group_id else {}
                if arn.endswith(".fifo"):
                    extra["MessageDeduplicationId"] = self._randomness.uuid4()
                response = self._clients.client("sqs").send_message(
                    QueueUrl=queue_url(arn), MessageBody=_as_text(payload), **extra
                )
                return str(response["MessageId"])
            if service == "sns":
                response = self._clients.client("sns").publish(TopicArn=arn, Message=_as_text(payload))
                return str(response["MessageId"])
            if service == "events" and ":event-bus/" in arn:
                event = payload if isinstance(payload, dict) else json.loads(payload)
                self._publish_event(event, arn.rsplit("/", 1)[-1])
                return str(event.get("id", ""))
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "ClientError")
            message = error.response.get("Error", {}).get("Message", str(error))
            if code in _MISSING_TARGET_CODES:
                raise DeliveryError("RESOURCE_NOT_FOUND", message, retryable=False) from error
            if code in ("ThrottlingException", "TooManyRequestsException", "ExecutionLimitExceeded"):
                raise DeliveryError("THROTTLING", message, retryable=True) from error
            status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400))
            # Server-side failures are worth retrying; a request the target refuses is not.
            raise DeliveryError("SDK_CLIENT_ERROR", f"{code}: {message}", retryable=status >= 500) from error
        raise DeliveryError("UNSUPPORTED_TARGET", f"the local world cannot deliver to {arn}", retryable=False)

    def _universal(self, arn: str, payload: Any) -> str:
        _, _, service, action = arn.rsplit(":", 3)
        parameters = payload if isinstance(payload, dict) else json.loads(payload or "{}")
        method = re.sub(r"(?<!^)(?=[A-Z])", "_", action).lower()
        response = getattr(self._clients.client(service), method)(**parameters)
        return str(response.get("ResponseMetadata", {}).get("RequestId", ""))


def _as_text(payload: Any) -> str:
    return payload if isinstance(payload, str) else json.dumps(payload)
