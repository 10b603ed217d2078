"""Decide: a batch of per-pool decision requests from the FIFO queue, each pool decided once."""

import gc

# Init imports Powertools, boto3 and ebb and builds their classes and pydantic models: about
# 170,000 objects that live as long as the container, which the collections their allocations
# trigger (50-60 of them, tens of ms of a cold start) scan again and again. Collection is paused
# until the end of init; the few cyclic leftovers of init it would have freed are kept instead
# (at most about 8 MB, measured), frozen with the rest (see the end of this module).
gc.disable()

import json
import os
from typing import Any

from ebb.service.decision_metrics import pool_documents, pool_figures
from ebb.service.pool_decisions import PoolDecisions, queued_requests
from ebb.service.powertools import LambdaContext, MetricUnit, SqsModel, logger, metrics, parse, tracer
from ebb.service.settings import Settings

DECISIONS = PoolDecisions.from_settings(Settings.from_environment(os.environ))
CLUSTER = DECISIONS.context.config.binding.spec.hyper_pod_cluster.name


def _decided(outcome: Any) -> None:
    logger.info(
        "decided",
        extra={"nodePool": outcome.node_pool, "actions": list(outcome.actions), "calls": outcome.calls},
    )
    metrics.add_metric(name="Decisions", unit=MetricUnit.Count, value=1)
    if held := outcome.decision.held:
        # Targets ebb left alone because another autoscaler (HPA, KEDA ScaledObject) scales them.
        logger.warning("held by another autoscaler", extra={"nodePool": outcome.node_pool, "heldBy": held})
        metrics.add_metric(name="AutoscalerConflicts", unit=MetricUnit.Count, value=len(held))
    # Per pool and per cluster (and per scaler where its binding asks): one EMF document per pool
    # decision, printed as Powertools prints its own, so CloudWatch Logs extracts the series.
    now = DECISIONS.context.clock()
    latency_ms = (now - outcome.decision.now).total_seconds() * 1000
    figures = pool_figures(outcome, DECISIONS.context.config, latency_ms=latency_ms)
    for document in pool_documents(figures, cluster=CLUSTER, namespace=metrics.namespace or "ebb", at=now):
        print(json.dumps(document, separators=(",", ":")))


def _failed(pool: str, error: Exception) -> None:
    logger.error(
        "decision failed",
        extra={"nodePool": pool, "error": f"{type(error).__name__}: {error}"},
        exc_info=error,
    )
    metrics.add_metric(name="FailedDecisions", unit=MetricUnit.Count, value=1)


def _retired(retired: Any) -> None:
    logger.warning(
        "node pool retired",
        extra={
            "nodePool": retired.node_pool,
            "stoppedExecution": retired.stopped_execution,
            "nodesLeft": retired.nodes_left,
        },
    )


DECISIONS.on_outcome = _decided
DECISIONS.on_failure = _failed
DECISIONS.on_retired = _retired


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return DECISIONS.decide(queued_requests(parse(event=event, model=SqsModel))).model_dump(by_alias=True)


# End of init. What it built is frozen into the permanent generation, which later collections
# skip (CPython, gc.freeze: "move them to a permanent generation and ignore all the future
# collections ... to speed up collection"), then collection resumes for what invocations allocate.
# The young collection (microseconds: everything is frozen) restarts the generations' counts: left
# as init's imports ran them up, the first event's allocations set off an older-generation
# collection that cost the first decision 30-45 ms more (measured with Python 3.13).
gc.freeze()
gc.enable()
gc.collect(0)
