"""The provisioning workflow's backfill task (`BackfillTakeOver`): one handler over `ebb.service.backfill`."""

import gc

# Init imports Powertools, boto3 and ebb and builds their classes and pydantic models: about
# 170,000 objects that live as long as the container, which the collections their allocations
# trigger (50-60 of them, tens of ms of a cold start) scan again and again. Collection is paused
# until the end of init; the few cyclic leftovers of init it would have freed are kept instead
# (at most about 8 MB, measured), frozen with the rest (see the end of this module).
gc.disable()

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


# End of init. What it built is frozen into the permanent generation, which later collections
# skip (CPython, gc.freeze: "move them to a permanent generation and ignore all the future
# collections ... to speed up collection"), then collection resumes for what invocations allocate.
# The young collection (microseconds: everything is frozen) restarts the generations' counts: left
# as init's imports ran them up, the first event's allocations set off an older-generation
# collection that cost the first decision 30-45 ms more (measured with Python 3.13).
gc.freeze()
gc.enable()
gc.collect(0)
