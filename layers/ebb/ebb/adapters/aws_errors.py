"""How any AWS SDK error becomes one of ebb's: retryable (throttling, transient) or not.

The classification is botocore's own (its standard retry mode's throttling and transient
checkers), so ebb retries exactly what the SDK would have retried had it had more attempts.
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError
from botocore.retries.standard import RetryContext, ThrottledRetryableChecker, TransientRetryableChecker

from ebb.errors import EbbError, RetryableError


class AwsThrottled(RetryableError):
    """An AWS API throttled the call after the SDK's own retries; retry with backoff and jitter."""


class AwsUnavailable(RetryableError):
    """An AWS API failed transiently (5xx, timeout, connection error); retry with backoff."""


class AwsRequestFailed(EbbError):
    """An AWS API refused the call for a reason a retry does not change."""


def error_code(error: ClientError | BotoCoreError) -> str:
    """The error code of a ClientError (`""` for a BotoCoreError)."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", ""))
    return ""


def translate_aws_error(error: ClientError | BotoCoreError, *, operation: str) -> EbbError:
    """`error` as ebb's: `AwsThrottled`, `AwsUnavailable` or `AwsRequestFailed`, naming `operation`."""
    if isinstance(error, BotoCoreError):
        context = RetryContext(attempt_number=1, caught_exception=error)
        if TransientRetryableChecker().is_retryable(context):
            return AwsUnavailable(f"{operation}: {error}")
        return AwsRequestFailed(f"{operation}: {error}")
    response = error.response
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    context = RetryContext(attempt_number=1, parsed_response=dict(response))
    message = f"{operation}: {error_code(error)}: {response.get('Error', {}).get('Message', '')}"
    if ThrottledRetryableChecker().is_retryable(context) or status == 429:
        return AwsThrottled(message)
    if TransientRetryableChecker().is_retryable(context) or status >= 500:
        return AwsUnavailable(message)
    return AwsRequestFailed(message)
