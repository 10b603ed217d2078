"""The provisioning workflow's backfill task (`BackfillTakeOver`): one handler over `ebb.service.backfill`."""

import os
from typing import Any

from ebb.service.backfill import Backfills
from ebb.service.powertools import LambdaContext, logger, tracer
from ebb.service.provisioning import InvalidProvisioningRequest, validate_request
from ebb.service.provisioning_request import BackfillCancelRequest, BackfillRequest
from ebb.service.settings import Settings

BACKFILLS = Backfills.from_settings(Settings.from_environment(os.environ))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def take_over(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = validate_request(event["request"])
    if not isinstance(request, BackfillRequest | BackfillCancelRequest):
        raise InvalidProvisioningRequest(f"provisioning request: kind: {request.kind!r} is not a backfill's")
    result = BACKFILLS.take_over(request, event["execution"])
    logger.info("backfill", extra={"nodePool": request.node_pool, "outcome": result.outcome})
    return result.model_dump(mode="json", by_alias=True)
