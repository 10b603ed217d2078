"""The decide use case for a batch of decision requests from the FIFO queue.

A batch may mix NodePools (SQS FIFO batches mix message groups); each pool in it is decided
once, however many requests for it the batch holds (a storm of signals for one pool becomes one
decision). A pool whose decision fails returns all its messages as batch item failures, so SQS
delivers them again in order and the other pools' results stand.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
from pydantic import BaseModel, ConfigDict, Field

from ebb.adapters.call_counts import CallCounts, counted
from ebb.adapters.decision_queue import RETIRE, DecisionQueue, SqsDecisionQueue
from ebb.adapters.hyperpod import SageMakerHyperPod
from ebb.adapters.idle_timers import SchedulerIdleTimers
from ebb.adapters.kubernetes import EksKubernetesClient
from ebb.adapters.metrics import AwsMetricReader
from ebb.adapters.state_table import DynamoStateTable
from ebb.adapters.workflows import StepFunctionsWorkflows
from ebb.errors import EbbError, InvalidEvent
from ebb.service.configuration import load_for_stack
from ebb.service.decide import DecideContext, PoolOutcome, RetiredPool, decide_now, retire_pool
from ebb.service.observe import ClusterAccess
from ebb.service.settings import Settings


class DecisionMessage(BaseModel):
    """The body of a decision request (written by the signals function)."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    node_pool: str = Field(min_length=1, alias="nodePool")
    event_id: str = Field(min_length=1, alias="eventId")
    reason: str = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class QueuedRequest:
    """One SQS record: its message id, body, receipt handle and how often it was received."""

    message_id: str
    body: str
    receipt_handle: str = ""
    receive_count: int = 1


def retry_delay(receive_count: int) -> int:
    """Seconds before a failed decision request is delivered again: 5 s doubling, at most 60 s.

    A pool's next tick comes within a minute anyway; retrying sooner keeps an alarm's reaction
    fast, and the queue's maxReceiveCount sends a request that keeps failing to the dead-letter
    queue, for inspection.
    """
    return int(min(5 * 2 ** max(receive_count - 1, 0), 60))


class BatchResult(BaseModel):
    """The partial batch response Lambda's SQS event source reads (ReportBatchItemFailures)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    batch_item_failures: list[dict[str, str]] = Field(default_factory=list, alias="batchItemFailures")


@dataclass
class PoolDecisions:
    """Decide each pool named in a batch."""

    context: DecideContext
    queue: DecisionQueue | None = None
    on_outcome: Callable[[PoolOutcome], None] = lambda outcome: None
    on_failure: Callable[[str, Exception], None] = lambda pool, error: None
    on_retired: Callable[[RetiredPool], None] = lambda retired: None

    @classmethod
    def from_settings(cls, settings: Settings) -> PoolDecisions:
        calls = CallCounts()
        loaded = load_for_stack(
            settings.config_dir,
            hyperpod_cluster=settings.hyperpod_cluster,
            eks_cluster=settings.eks_cluster,
            region=settings.region,
        )
        region = settings.region
        access = ClusterAccess(
            metrics=AwsMetricReader(region, calls=calls),
            hyperpod=counted(
                SageMakerHyperPod(settings.hyperpod_cluster, region_name=region), calls, "hyperpod"
            ),
            kubernetes=counted(
                EksKubernetesClient.for_eks_cluster(
                    settings.eks_cluster, session=boto3.Session(region_name=region)
                ),
                calls,
                "kubernetes",
            ),
        )
        context = DecideContext(
            config=loaded.config,
            config_version=loaded.version,
            access=access,
            table=DynamoStateTable(
                settings.state_table,
                audit_retention=settings.audit_retention,
                region_name=region,
                calls=calls,
            ),
            timers=SchedulerIdleTimers(
                prefix=settings.stack_name,
                group_name=settings.schedule_group,
                target_arn=settings.signals_function_arn,
                role_arn=settings.scheduler_role_arn,
                region_name=region,
                calls=calls,
            ),
            workflows=StepFunctionsWorkflows(
                settings.provision_state_machine_arn, region_name=region, calls=calls
            ),
            state_machine_arn=settings.provision_state_machine_arn,
            clock=lambda: datetime.now(UTC),
            calls=calls,
        )
        return cls(
            context=context,
            queue=SqsDecisionQueue(settings.decision_queue_url, region_name=region, calls=calls),
        )

    def decide(self, records: Sequence[QueuedRequest]) -> BatchResult:
        """Decide every pool the batch names; report the messages of pools that failed."""
        by_pool: dict[str, list[QueuedRequest]] = defaultdict(list)
        reasons: dict[str, list[str]] = defaultdict(list)
        failures: list[dict[str, str]] = []
        for record in records:
            try:
                message = DecisionMessage.model_validate(json.loads(record.body))
            except ValueError as error:
                # Written by ebb's own signals function: a bad body is a bug, kept by the DLQ.
                failures.append({"itemIdentifier": record.message_id})
                self.on_failure("?", InvalidEvent(f"message {record.message_id}: {error}"))
                continue
            by_pool[message.node_pool].append(record)
            reasons[message.node_pool].append(message.reason)
        known = {pool.name for pool in self.context.config.node_pools}
        for pool, pool_records in by_pool.items():
            try:
                # Requests for it sent before the rollout (an alarm edge, a HyperPod event) are
                # moot once it is retired.
                if pool not in known and RETIRE in reasons[pool]:
                    self.on_retired(retire_pool(pool, self.context))
                    continue
                if pool not in known:
                    raise InvalidEvent(f"node pool {pool!r} is not in the configuration")
                outcome = decide_now(pool, self.context, reasons=tuple(reasons[pool]))
            except Exception as error:
                failures.extend({"itemIdentifier": r.message_id} for r in pool_records)
                self.on_failure(pool, error)
                self._retry_soon(pool_records)
                continue
            self.on_outcome(outcome)
        return BatchResult(batch_item_failures=failures)

    def _retry_soon(self, records: Sequence[QueuedRequest]) -> None:
        handles = [r.receipt_handle for r in records if r.receipt_handle]
        if self.queue is None or not handles:
            return
        try:
            self.queue.retry_in(handles, retry_delay(max(r.receive_count for r in records)))
        except EbbError as error:
            # The messages then come back after the visibility timeout: later, not lost.
            self.on_failure("(retry)", error)


def queued_requests(event: Any) -> list[QueuedRequest]:
    """The records of an SQS event, parsed by the handler (Powertools' `SqsModel`)."""
    return [
        QueuedRequest(
            message_id=r.messageId,
            body=r.body,
            receipt_handle=r.receiptHandle,
            receive_count=int(r.attributes.ApproximateReceiveCount),
        )
        for r in event.Records
    ]
