"""A provisioning round reads only the cluster events that are new since the last round; and a
cancellation BatchDeleteClusterNodes refuses is asked again with a backoff, then given up loudly.

The first round of an execution reads from `EVENT_LOOKBACK` before the decision (a replacement
started earlier counts); each later round asks ListClusterEvents only for what came after the
newest event it has read (less `EVENT_OVERLAP`, since `EventTimeAfter` is exclusive: SageMaker
API Reference, ListClusterEvents, "EventTimeAfter ... events that occurred after this time"), and
what the earlier events said (capacity failures, replacements under way) is carried in the
execution's progress. The HyperPod adapter and the state table are fakes that count their calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ebb.adapters.hyperpod_events import ClusterEvent
from ebb.adapters.hyperpod_models import ClusterDescription, ClusterNode
from ebb.adapters.hyperpod_outcomes import DeletionErrorCode, NodeDeletionFailure, NodeDeletionOutcome
from ebb.adapters.hyperpod_requests import NodeDeletionRequest
from ebb.adapters.state_table import StoredPool
from ebb.core.scale_in import MAX_DELETE_ATTEMPTS
from ebb.service.decision import PoolState
from ebb.service.provisioning import EVENT_LOOKBACK, EVENT_OVERLAP, Progress, ProvisioningTasks
from ebb.service.provisioning_request import DecisionRequest

DECIDED = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
GROUP = "gpu-g5-use1a"
ARN = "arn:aws:sagemaker:us-east-1:123456789012:cluster/abcdef012345"


def _event(number: int, at: datetime, **fields: Any) -> ClusterEvent:
    return ClusterEvent.model_validate(
        {
            "EventId": f"00000000-0000-0000-0000-{number:012d}",
            "ClusterArn": ARN,
            "ClusterName": "ml-inference",
            "InstanceGroupName": GROUP,
            "ResourceType": "Instance",
            "EventTime": at,
            **fields,
        }
    )


def _capacity_failure(number: int, at: datetime, logical_id: str) -> ClusterEvent:
    return _event(
        number,
        at,
        EventLevel="Error",
        EventDetails={
            "EventMetadata": {
                "Instance": {
                    "FailureMessage": "We currently do not have sufficient capacity to launch new "
                    "ml.g5.12xlarge instances (InsufficientInstanceCapacity)",
                    "NodeLogicalId": logical_id,
                }
            }
        },
    )


@dataclass
class HyperPod:
    """DescribeCluster, ListClusterNodes and ListClusterEvents (strictly after `after`), counted."""

    events: list[ClusterEvent]
    nodes: tuple[ClusterNode, ...] = ()
    reads: list[tuple[datetime | None, int]] = field(default_factory=list)
    """Each ListClusterEvents: its `after` and how many events it returned."""

    def describe_cluster(self) -> ClusterDescription:
        return ClusterDescription.model_validate(
            {
                "ClusterName": "ml-inference",
                "ClusterArn": ARN,
                "ClusterStatus": "InService",
                "InstanceGroups": [
                    {"InstanceGroupName": GROUP, "InstanceType": "ml.g5.12xlarge", "TargetCount": 1}
                ],
            }
        )

    def list_nodes(self) -> tuple[ClusterNode, ...]:
        return self.nodes

    def list_events(self, *, after: datetime | None = None) -> tuple[ClusterEvent, ...]:
        found = tuple(e for e in self.events if after is None or e.time > after)
        self.reads.append((after, len(found)))
        return found


@dataclass
class Table:
    """The state table calls a round makes (the pool at generation 1, configuration 1)."""

    audit: list[Any] = field(default_factory=list)
    shortages: str | None = None

    def load_pool(self, node_pool: str) -> StoredPool:
        return StoredPool(
            node_pool=node_pool,
            decisions=1,
            state_json=PoolState(generation=1).model_dump_json(),
            shortages_json=self.shortages,
        )

    def current_config_sequence(self) -> int:
        return 1

    def acquire_acting(self, node_pool: str, holder: str, *, now: datetime, lease: timedelta) -> None:
        pass

    def release_acting(self, node_pool: str, holder: str) -> bool:
        return False

    def store_shortages(self, node_pool: str, before: str | None, after: str) -> None:
        self.shortages = after

    def append_audit(self, audit: Any) -> None:
        self.audit.extend(audit)


def _tasks(hyperpod: HyperPod) -> ProvisioningTasks:
    return ProvisioningTasks(table=Table(), hyperpod=hyperpod, zones={GROUP: "us-east-1a"})  # type: ignore[arg-type]


REQUEST = DecisionRequest(
    node_pool="gpu", generation=1, config_version=1, node_targets={GROUP: 1}, decided_at=DECIDED
)


def test_a_later_round_reads_only_the_events_after_the_newest_it_has_read() -> None:
    started = DECIDED - timedelta(minutes=10)
    hyperpod = HyperPod(
        events=[
            _event(1, started, Description="Instance i-0abc is starting as part of instance replacement"),
            _event(2, DECIDED + timedelta(seconds=20)),
        ]
    )
    tasks = _tasks(hyperpod)
    first = tasks.run_round(REQUEST, "exec", Progress(), attempt=0, now=DECIDED + timedelta(seconds=30))
    hyperpod.events.append(_event(3, DECIDED + timedelta(minutes=5)))
    second = tasks.run_round(REQUEST, "exec", first, attempt=0, now=DECIDED + timedelta(minutes=6))
    # A quiet round after that: nothing new, the cursor stays.
    third = tasks.run_round(REQUEST, "exec", second, attempt=0, now=DECIDED + timedelta(minutes=16))

    assert hyperpod.reads == [
        (DECIDED - EVENT_LOOKBACK, 2),
        (DECIDED + timedelta(seconds=20) - EVENT_OVERLAP, 2),  # event 2 again (the overlap) and 3
        (DECIDED + timedelta(minutes=5) - EVENT_OVERLAP, 1),  # event 3 again, nothing else
    ]
    assert first.events is not None
    assert first.events.newest == DECIDED + timedelta(seconds=20)
    assert first.events.replacing == ("i-0abc",)
    assert second.events is not None
    assert third.events == second.events
    assert second.events.newest == DECIDED + timedelta(minutes=5)
    assert second.events.recent == ("00000000-0000-0000-0000-000000000003",)
    # The replacement read in the first round is still under way: nothing said it ended.
    assert second.events.replacing == ("i-0abc",)


def test_what_earlier_events_said_is_carried_into_later_rounds() -> None:
    hyperpod = HyperPod(events=[_capacity_failure(1, DECIDED + timedelta(seconds=40), "node-a")])
    tasks = _tasks(hyperpod)
    first = tasks.run_round(REQUEST, "exec", Progress(), attempt=0, now=DECIDED + timedelta(minutes=1))
    hyperpod.events.append(
        _event(
            2,
            DECIDED + timedelta(minutes=2),
            Description="Instance i-0abc is starting as part of instance replacement",
        )
    )
    second = tasks.run_round(REQUEST, "exec", first, attempt=0, now=DECIDED + timedelta(minutes=3))
    hyperpod.events.append(
        _event(
            3,
            DECIDED + timedelta(minutes=4),
            Description="Instance i-0abc Replace completed successfully as part of instance replacement "
            "in Cluster ml-inference and IG gpu-g5-use1a",
        )
    )
    third = tasks.run_round(REQUEST, "exec", second, attempt=0, now=DECIDED + timedelta(minutes=5))

    assert first.events is not None
    assert second.events is not None
    assert third.events is not None
    (failure,) = second.events.failures
    assert (failure.instance_group, failure.logical_id) == (GROUP, "node-a")
    assert third.events.failures == second.events.failures
    assert second.events.replacing == ("i-0abc",)
    assert third.events.replacing == ()
    assert [count for _after, count in hyperpod.reads] == [1, 2, 2]


@dataclass
class Refusing(HyperPod):
    """HyperPod whose BatchDeleteClusterNodes answers Failed for every node (a group updating)."""

    deletes: list[tuple[str, ...]] = field(default_factory=list)

    def delete_nodes(self, request: NodeDeletionRequest) -> NodeDeletionOutcome:
        self.deletes.append(request.logical_ids)
        return NodeDeletionOutcome(
            failed=tuple(
                NodeDeletionFailure(
                    node=n,
                    by_logical_id=True,
                    code=DeletionErrorCode.INVALID_NODE_STATUS,
                    message="Instance group gpu-g5-use1a is Updating.",
                )
                for n in request.logical_ids
            )
        )


@dataclass
class Queue:
    sent: list[Any] = field(default_factory=list)

    def send(self, messages: Any) -> None:
        self.sent.extend(messages)


@dataclass
class Metrics:
    counted: list[tuple[str, Any]] = field(default_factory=list)

    def count(self, metric: str, now: datetime, dimensions: Any = None) -> None:
        self.counted.append((metric, dimensions))


def test_a_cancellation_that_fails_is_asked_again_soon_then_given_up_recorded_and_alarmed() -> None:
    """BatchDeleteClusterNodes answers per node (SageMaker API Reference, BatchDeleteClusterNodes:
    `FailedNodeLogicalIds`, each with a Code such as InvalidNodeStatus and a Message): a starved
    group's pending node whose cancel failed is asked again by the next round, which comes
    15 s, 30 s, 1 min, 2 min later instead of at the 10-minute poll; after five failures it is
    given up, recorded and counted for its alarm, and not asked again."""
    pending = ClusterNode.model_validate(
        {
            "InstanceGroupName": GROUP,
            "NodeLogicalId": "node-a",
            "InstanceType": "ml.g5.12xlarge",
            "InstanceStatus": {"Status": "Pending"},
        }
    )
    hyperpod = Refusing(
        events=[_capacity_failure(1, DECIDED + timedelta(seconds=10), "node-a")], nodes=(pending,)
    )
    table, metrics = Table(), Metrics()
    tasks = ProvisioningTasks(
        table=table,  # type: ignore[arg-type]
        hyperpod=hyperpod,  # type: ignore[arg-type]
        queue=Queue(),  # type: ignore[arg-type]
        metrics=metrics,  # type: ignore[arg-type]
        zones={GROUP: "us-east-1a"},
    )
    progress, now, waits = Progress(), DECIDED + timedelta(seconds=20), []
    for _ in range(MAX_DELETE_ATTEMPTS):
        progress = tasks.run_round(REQUEST, "exec", progress, attempt=0, now=now)
        waits.append(progress.wait_seconds)
        now += timedelta(seconds=progress.wait_seconds)
    assert hyperpod.deletes == [("node-a",)] * MAX_DELETE_ATTEMPTS
    # The fourth is cut short by the end of the shortage mark (3 min after the first round), when
    # a round looks again anyway (and, the node still failing, marks it again).
    assert waits[:-1] == [15, 30, 60, 180 - 15 - 30 - 60 + 1]
    assert progress.cancel_given_up == ("node-a",)
    assert metrics.counted == [
        ("ProvisioningCancelFailed", None),
        ("ProvisioningCancelFailed", {"NodePool": "gpu"}),
    ]
    failed = [e.record for e in table.audit if e.record["event"] == "provisioning-cancel-failed"]
    assert [(r["attempts"], r["gaveUp"]) for r in failed] == [
        (1, False),
        (2, False),
        (3, False),
        (4, False),
        (5, True),
    ]
    assert failed[-1]["detail"] == "InvalidNodeStatus: Instance group gpu-g5-use1a is Updating."

    # Given up: a later round does not ask again.
    tasks.run_round(REQUEST, "exec", progress, attempt=0, now=now)
    assert len(hyperpod.deletes) == MAX_DELETE_ATTEMPTS


@dataclass
class DeferredMeanwhile(Table):
    """A decision kept lower targets back while the round held the lease (`release_acting` says so)."""

    released: list[str] = field(default_factory=list)

    def release_acting(self, node_pool: str, holder: str) -> bool:
        self.released.append(holder)
        return True


def test_a_round_that_releases_the_lease_with_lower_targets_waiting_asks_decide_again_at_once() -> None:
    table, queue = DeferredMeanwhile(), Queue()
    tasks = ProvisioningTasks(
        table=table,  # type: ignore[arg-type]
        hyperpod=HyperPod(events=[]),  # type: ignore[arg-type]
        queue=queue,  # type: ignore[arg-type]
        zones={GROUP: "us-east-1a"},
    )
    tasks.run_round(REQUEST, "exec", Progress(), attempt=0, now=DECIDED + timedelta(seconds=30))

    assert table.released == ["exec"]
    (message,) = queue.sent
    assert (message.node_pool, message.reason, message.event_id) == (
        "gpu",
        "acting-lease-released",
        "acting-lease-released:exec:0:0",
    )


def test_a_round_that_fails_releases_the_lease_and_leaves_the_deferral_to_the_tick() -> None:
    class Broken(HyperPod):
        def list_nodes(self) -> tuple[ClusterNode, ...]:
            raise RuntimeError("injected")

    table, queue = DeferredMeanwhile(), Queue()
    tasks = ProvisioningTasks(
        table=table,  # type: ignore[arg-type]
        hyperpod=Broken(events=[]),  # type: ignore[arg-type]
        queue=queue,  # type: ignore[arg-type]
        zones={GROUP: "us-east-1a"},
    )
    with pytest.raises(RuntimeError, match=r"^injected$"):
        tasks.run_round(REQUEST, "exec", Progress(), attempt=0, now=DECIDED + timedelta(seconds=30))
    assert table.released == ["exec"]
    assert queue.sent == []
