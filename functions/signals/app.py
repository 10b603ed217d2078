"""Signals: alarms, HyperPod cluster events, the tick and idle timers in; per-pool requests out."""

import gc

# Init imports Powertools, boto3 and ebb and builds their classes and pydantic models: about
# 170,000 objects that live as long as the container, which the collections their allocations
# trigger (50-60 of them, tens of ms of a cold start) scan again and again. Collection is paused
# until the end of init; the few cyclic leftovers of init it would have freed are kept instead
# (at most about 8 MB, measured), frozen with the rest (see the end of this module).
gc.disable()

import json
import os
from datetime import UTC, datetime
from typing import Any

from ebb.service.decision_metrics import rejected_event_document
from ebb.service.powertools import LambdaContext, MetricUnit, logger, metrics, tracer
from ebb.service.settings import Settings
from ebb.service.signal_intake import SignalIntake
from ebb.service.sub_minute_polls import QueueBatch, queue_batch

SETTINGS = Settings.from_environment(os.environ)
INTAKE = SignalIntake.from_settings(SETTINGS)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    batch = queue_batch(event)
    if batch is not None:
        return _forward_polls(batch)
    result = INTAKE.take(event)
    if result.rejected:
        _rejected(result.rejected, result.kind)
    else:
        metrics.add_metric(name="Signals", unit=MetricUnit.Count, value=1)
    return result.model_dump(mode="json")


def _rejected(reason: str, kind: str) -> None:
    """An event kept in the rejected-events queue: logged as an error and counted."""
    logger.error("event rejected", extra={"reason": reason, "kind": kind})
    metrics.add_metric(name="RejectedEvents", unit=MetricUnit.Count, value=1)
    # And per cluster, as the decide function's metrics are (ebb.service.decision_metrics).
    document = rejected_event_document(
        cluster=SETTINGS.hyperpod_cluster, namespace=metrics.namespace or "ebb", at=datetime.now(UTC)
    )
    print(json.dumps(document, separators=(",", ":")))


def _forward_polls(batch: QueueBatch) -> dict[str, Any]:
    """Sub-minute polls from the poll queue's event source mapping, into the decision queue."""
    forwarded = INTAKE.forward_polls(batch)
    for reason in forwarded.rejected:
        _rejected(reason, "poll")
    if received := len(batch.records) - len(forwarded.rejected):
        metrics.add_metric(name="Signals", unit=MetricUnit.Count, value=received)
    if forwarded.forwarded or forwarded.dropped:
        extra = {"forwarded": list(forwarded.forwarded), "dropped": list(forwarded.dropped)}
        logger.info("polls", extra=extra)
    # The partial batch response the event source mapping reads (ReportBatchItemFailures), alone.
    return {"batchItemFailures": forwarded.batch_item_failures}


# End of init. What it built is frozen into the permanent generation, which later collections
# skip (CPython, gc.freeze: "move them to a permanent generation and ignore all the future
# collections ... to speed up collection"), then collection resumes for what invocations allocate.
# The young collection (microseconds: everything is frozen) restarts the generations' counts: left
# as init's imports ran them up, the first event's allocations set off an older-generation
# collection that cost the first decision 30-45 ms more (measured with Python 3.13).
gc.freeze()
gc.enable()
gc.collect(0)
