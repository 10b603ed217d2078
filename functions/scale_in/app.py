"""The provisioning state machine's scale-in task: one drain step per invocation."""

import gc

# Init imports Powertools, boto3 and ebb and builds their classes and pydantic models: about
# 170,000 objects that live as long as the container, which the collections their allocations
# trigger (50-60 of them, tens of ms of a cold start) scan again and again. Collection is paused
# until the end of init; the few cyclic leftovers of init it would have freed are kept instead
# (at most about 8 MB, measured), frozen with the rest (see the end of this module).
gc.disable()

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


# End of init. What it built is frozen into the permanent generation, which later collections
# skip (CPython, gc.freeze: "move them to a permanent generation and ignore all the future
# collections ... to speed up collection"), then collection resumes for what invocations allocate.
# The young collection (microseconds: everything is frozen) restarts the generations' counts: left
# as init's imports ran them up, the first event's allocations set off an older-generation
# collection that cost the first decision 30-45 ms more (measured with Python 3.13).
gc.freeze()
gc.enable()
gc.collect(0)
