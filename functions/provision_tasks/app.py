"""The provisioning state machine's tasks, one handler each (the state machine names them)."""

import os
from datetime import UTC, datetime
from typing import Any

from ebb.service.powertools import LambdaContext, logger, tracer
from ebb.service.provisioning import ProvisioningTasks, validate_request
from ebb.service.provisioning_request import DecisionRequest
from ebb.service.settings import Settings

TASKS = ProvisioningTasks.from_settings(Settings.from_environment(os.environ))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def validate(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return validate_request(event).model_dump(mode="json", by_alias=True)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def check_fence(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return TASKS.check_fence(DecisionRequest.model_validate(event)).model_dump(by_alias=True)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def record_start(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = DecisionRequest.model_validate(event["request"])
    TASKS.record_start(request, event["execution"], datetime.now(UTC))
    return {"recorded": True}
