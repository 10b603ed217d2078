"""The provisioning state machine's scale-in task: one drain step per invocation."""

import os
from datetime import UTC, datetime
from typing import Any

from ebb.service.powertools import LambdaContext, logger, tracer
from ebb.service.provisioning_request import DecisionRequest
from ebb.service.scale_in import ScaleInState, ScaleInTasks
from ebb.service.settings import Settings

TASKS = ScaleInTasks.from_settings(Settings.from_environment(os.environ))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def drain_step(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = DecisionRequest.model_validate(event["request"])
    state = ScaleInState.model_validate(event.get("scaleIn") or {})
    result = TASKS.step(request, state, execution=event["execution"], now=datetime.now(UTC))
    logger.info("scale-in step", extra={"nodePool": request.node_pool, "actions": list(result.actions)})
    return result.model_dump(mode="json", by_alias=True)
