"""The provisioning state machine's tasks, one handler each (the state machine names them).

Each is a thin handler over `ebb.service.provisioning.ProvisioningTasks`; time is the Lambda's
clock, read here and passed in.
"""

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
from ebb.service.provisioning import Progress, ProvisioningTasks, validate_request
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
    return TASKS.first_fence(DecisionRequest.model_validate(event)).model_dump(mode="json", by_alias=True)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def record_start(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = DecisionRequest.model_validate(event["request"])
    progress = TASKS.record_start(request, event["execution"], datetime.now(UTC))
    return progress.model_dump(mode="json", by_alias=True)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def run_round(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    progress = TASKS.run_round(
        DecisionRequest.model_validate(event["request"]),
        event["execution"],
        Progress.model_validate(event["progress"]),
        attempt=int(event.get("attempt", 0)),
        now=datetime.now(UTC),
    )
    logger.info("provisioning round", extra={"progress": progress.model_dump(mode="json", by_alias=True)})
    return progress.model_dump(mode="json", by_alias=True)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def store_wait_token(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    TASKS.store_wait_token(DecisionRequest.model_validate(event["request"]), event["token"])
    return {"stored": True}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def record_outcome(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return TASKS.record_outcome(
        DecisionRequest.model_validate(event["request"]),
        event["execution"],
        Progress.model_validate(event["progress"]),
        datetime.now(UTC),
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def record_failure(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.error("provisioning failed", extra={"error": event.get("error")})
    return TASKS.record_failure(
        event["input"], event["execution"], event.get("error") or {}, datetime.now(UTC)
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def continue_as_new(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return TASKS.continue_as_new(DecisionRequest.model_validate(event["request"]), datetime.now(UTC))


# End of init. What it built is frozen into the permanent generation, which later collections
# skip (CPython, gc.freeze: "move them to a permanent generation and ignore all the future
# collections ... to speed up collection"), then collection resumes for what invocations allocate.
# The young collection (microseconds: everything is frozen) restarts the generations' counts: left
# as init's imports ran them up, the first event's allocations set off an older-generation
# collection that cost the first decision 30-45 ms more (measured with Python 3.13).
gc.freeze()
gc.enable()
gc.collect(0)
