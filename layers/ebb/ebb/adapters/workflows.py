"""Provisioning executions: starting one per pool generation, stopping the one it supersedes.

Execution names are unique per state machine for 90 days (Step Functions Developer Guide,
"StartExecution": a name cannot be reused for 90 days), at most 80 characters of letters, digits,
`-` and `_`. ebb's names encode the pool, the table's epoch (so a recreated table never reuses a
name), the generation and the continuation.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from ebb.adapters.aws_clients import LazyClient
from ebb.adapters.aws_errors import error_code, translate_aws_error
from ebb.adapters.call_counts import CallCounts
from ebb.errors import EbbError

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

MAX_NAME = 80
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


class ExecutionNameTaken(EbbError):
    """An execution of this name exists already (an earlier attempt of the same decision)."""


def execution_name(node_pool: str, epoch: str, generation: int, continuation: int = 0) -> str:
    """`<pool>-<epoch>-g<generation>-c<continuation>`, shortened with a hash past 80 characters."""
    suffix = f"-{epoch}-g{generation}-c{continuation}"
    pool = _UNSAFE.sub("_", node_pool)
    room = MAX_NAME - len(suffix)
    if len(pool) > room:
        digest = hashlib.sha256(node_pool.encode()).hexdigest()[:8]
        pool = f"{pool[: room - 9]}-{digest}"
    return pool + suffix


class Workflows(Protocol):
    """What the decide service starts and stops provisioning through."""

    def start(self, name: str, execution_input: Mapping[str, Any]) -> str:
        """Start an execution; return its ARN."""

    def stop(self, execution_arn: str, *, cause: str) -> None:
        """Stop an execution (done already is fine)."""

    def wake(self, task_token: str, output: Mapping[str, Any]) -> bool:
        """Complete a waiting task (SendTaskSuccess); False if its task was closed already."""


class StepFunctionsWorkflows:
    """`Workflows` over Step Functions for one state machine."""

    def __init__(
        self,
        state_machine_arn: str,
        *,
        region_name: str | None = None,
        calls: CallCounts | None = None,
        client_factory: Callable[[], SFNClient] | None = None,
    ) -> None:
        self.state_machine_arn = state_machine_arn
        self._client: LazyClient[SFNClient] = LazyClient("stepfunctions", region_name, client_factory)
        self.calls = calls or CallCounts()

    def start(self, name: str, execution_input: Mapping[str, Any]) -> str:
        self.calls.count("stepfunctions:StartExecution")
        try:
            response = self._client().start_execution(
                stateMachineArn=self.state_machine_arn,
                name=name,
                input=json.dumps(execution_input, sort_keys=True),
            )
        except ClientError as error:
            if error_code(error) == "ExecutionAlreadyExists":
                raise ExecutionNameTaken(f"execution {name!r} exists already") from error
            raise translate_aws_error(error, operation="StartExecution") from error
        except BotoCoreError as error:
            raise translate_aws_error(error, operation="StartExecution") from error
        return response["executionArn"]

    def stop(self, execution_arn: str, *, cause: str) -> None:
        self.calls.count("stepfunctions:StopExecution")
        try:
            self._client().stop_execution(executionArn=execution_arn, error="Superseded", cause=cause[:32768])
        except ClientError as error:
            if error_code(error) not in {"ExecutionDoesNotExist", "ExecutionNotStoppable"}:
                raise translate_aws_error(error, operation="StopExecution") from error
        except BotoCoreError as error:
            raise translate_aws_error(error, operation="StopExecution") from error

    def wake(self, task_token: str, output: Mapping[str, Any]) -> bool:
        self.calls.count("stepfunctions:SendTaskSuccess")
        try:
            self._client().send_task_success(taskToken=task_token, output=json.dumps(output, sort_keys=True))
        except ClientError as error:
            # The task timed out (its fallback poll ran) or ended otherwise: nothing waits on it.
            if error_code(error) in {"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"}:
                return False
            raise translate_aws_error(error, operation="SendTaskSuccess") from error
        except BotoCoreError as error:
            raise translate_aws_error(error, operation="SendTaskSuccess") from error
        return True
