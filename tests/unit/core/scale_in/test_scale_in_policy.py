"""The scale-in policy: cordon, evict, delete within budgets; give up past the deadline.

Karpenter's rules mirrored here, with their sources:

* Termination order: kubernetes-sigs/karpenter ``pkg/controllers/node/termination/suite_test.go``
  (commit 0038e3b2bff7c301d8dd8414be6e30a4e03f6ae7): "should not delete nodes until all pods are
  deleted" (terminating pods hold the node), "should fail to evict pods that violate a PDB" (the
  refused pod stays queued and is tried again), "should delete nodes with terminal pods"
  (Succeeded and Failed pods are not waited for), "should not evict static pods" (pods owned by
  the Node), "should evict pods in order and wait until pods are fully deleted" (DaemonSet pods
  last: ebb leaves them to go with the node).
* The disruption flow and its controls: Karpenter docs "Disruption"
  (https://karpenter.sh/docs/concepts/disruption/, "Control Flow", "Pod-Level Controls",
  "Node-Level Controls", "NodePool Disruption Budgets", "TerminationGracePeriod"): a node with
  pods that cannot be evicted (``karpenter.sh/do-not-disrupt`` on a pod, or on the node) is
  ignored; a disruption starts only if the NodePool's budget allows it; replacements are
  pre-spun and must be ready before the candidate is drained; the node is tainted (here:
  cordoned) so that nothing new schedules to it, then drained.
* ``terminationGracePeriod``: Karpenter forcibly deletes what is left once it has passed (docs,
  "TerminationGracePeriod"; kubernetes-sigs/karpenter issue 1776 confirms pods blocked by a PDB
  are then removed). ebb deliberately differs: it uncordons and records why, never killing work.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ebb.core.nodes import Budget, RemovalKind
from ebb.core.scale_in import (
    DEFAULT_DRAIN_DEADLINE,
    MAX_DELETE_ATTEMPTS,
    DeletionFailure,
    DrainProgress,
    DrainStep,
    NodeNow,
    NodeToDelete,
    NodeToRelease,
    Phase,
    PodOnNode,
    PodToEvict,
    PoolBudget,
    Refusal,
    Removal,
    after_deletions,
    drain_step,
    release_superseded,
)

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
OPEN = PoolBudget(budgets=(Budget(nodes="100%"),), total_nodes=4, disrupting=0)


def _pod(name: str, **fields: object) -> PodOnNode:
    return PodOnNode.model_validate(
        {"namespace": "batch", "name": name, "uid": f"uid-{name}", "managed": True, **fields}
    )


def _node(name: str, *pods: PodOnNode, cordoned: bool = False, do_not_disrupt: bool = False) -> NodeNow:
    return NodeNow(name=name, cordoned=cordoned, do_not_disrupt=do_not_disrupt, pods=pods)


def _start(*removals: tuple[str, RemovalKind]) -> DrainProgress:
    return DrainProgress.start((Removal(node=n, instance_group="g", kind=k) for n, k in removals), NOW)


def _step(
    progress: DrainProgress,
    *nodes: NodeNow,
    at: datetime = NOW,
    budget: PoolBudget = OPEN,
    satisfied: bool = True,
    grace: timedelta | None = None,
    refusals: tuple[Refusal, ...] = (),
) -> DrainStep:
    return drain_step(
        progress,
        nodes,
        budget=budget,
        targets_satisfied=satisfied,
        termination_grace_period=grace,
        now=at,
        refusals=refusals,
    )


def test_a_node_is_cordoned_and_its_pods_evicted_first_then_deleted_once_nothing_holds_it() -> None:
    progress = _start(("a", RemovalKind.DELETE))
    first = _step(progress, _node("a", _pod("p1"), _pod("p2")))
    assert first.cordon == ("a",)
    assert first.evict == (
        PodToEvict(node="a", namespace="batch", name="p1", uid="uid-p1"),
        PodToEvict(node="a", namespace="batch", name="p2", uid="uid-p2"),
    )
    assert first.delete == ()
    assert first.progress.removals[0].phase is Phase.DRAINING
    assert first.wait_seconds == 15

    # p1 is going, p2 is gone: a terminating pod still holds the node.
    second = _step(
        first.progress,
        _node("a", _pod("p1", terminating=True), cordoned=True),
        at=NOW + timedelta(seconds=15),
    )
    assert (second.cordon, second.evict, second.delete) == ((), (), ())
    assert not second.finished

    third = _step(second.progress, _node("a", cordoned=True), at=NOW + timedelta(seconds=30))
    assert third.delete == (NodeToDelete(node="a", instance_group="g"),)
    assert third.finished
    assert third.wait_seconds == 0
    assert third.progress.removals[0].phase is Phase.DELETED


def test_an_empty_node_is_never_deleted_in_the_step_that_cordons_it() -> None:
    # A pod may have landed between the read and the cordon: the next step reads again.
    first = _step(_start(("a", RemovalKind.EMPTY)), _node("a"))
    assert (first.cordon, first.evict, first.delete) == (("a",), (), ())
    second = _step(first.progress, _node("a", cordoned=True), at=NOW + timedelta(seconds=15))
    assert second.delete == (NodeToDelete(node="a", instance_group="g"),)


def test_daemon_static_and_finished_pods_go_with_the_node() -> None:
    first = _step(
        _start(("a", RemovalKind.EMPTY)),
        _node(
            "a",
            _pod("agent", daemon=True, managed=False),
            _pod("mirror", mirror=True, managed=False),
            _pod("done", finished=True, managed=False),
        ),
    )
    assert first.cordon == ("a",)
    assert first.evict == ()
    second = _step(first.progress, _node("a", *[_pod("agent", daemon=True, managed=False)], cordoned=True))
    assert second.delete == (NodeToDelete(node="a", instance_group="g"),)


@pytest.mark.parametrize(
    ("node", "reason"),
    [
        (_node("a", _pod("job", managed=False)), "pod batch/job is not managed by ebb"),
        (_node("a", _pod("p", do_not_disrupt=True)), "pod batch/p is marked karpenter.sh/do-not-disrupt"),
        (_node("a", _pod("p"), do_not_disrupt=True), "the node is marked karpenter.sh/do-not-disrupt"),
        (_node("a", _pod("p"), cordoned=True), "cordoned by someone else before ebb started"),
    ],
)
def test_a_node_that_must_not_be_disrupted_is_never_cordoned(node: NodeNow, reason: str) -> None:
    step = _step(_start(("a", RemovalKind.DELETE)), node)
    assert (step.cordon, step.evict, step.delete, step.release) == ((), (), (), ())
    (item,) = step.progress.removals
    assert (item.phase, item.reason) == (Phase.SKIPPED, reason)
    assert step.finished


def test_a_pdb_refusal_is_retried_and_past_the_deadline_the_node_is_uncordoned_with_the_reason() -> None:
    grace = timedelta(minutes=10)
    first = _step(_start(("a", RemovalKind.DELETE)), _node("a", _pod("p")), grace=grace)
    refusal = Refusal(node="a", message="The disruption budget web needs 2 healthy pods and has 2 currently")
    at = NOW + timedelta(seconds=15)
    retry = _step(
        first.progress, _node("a", _pod("p"), cordoned=True), at=at, grace=grace, refusals=(refusal,)
    )
    assert retry.evict == (PodToEvict(node="a", namespace="batch", name="p", uid="uid-p"),)
    assert retry.release == ()
    assert retry.progress.removals[0].refusals == 1

    just_before = _step(
        retry.progress,
        _node("a", _pod("p"), cordoned=True),
        at=NOW + grace - timedelta(seconds=1),
        grace=grace,
        refusals=(refusal,),
    )
    assert just_before.release == ()
    assert just_before.evict

    late = _step(
        just_before.progress,
        _node("a", _pod("p"), cordoned=True),
        at=NOW + grace,
        grace=grace,
        refusals=(refusal,),
    )
    why = (
        "drain not finished within 10m: batch/p still on the node; last eviction refusal: "
        "The disruption budget web needs 2 healthy pods and has 2 currently"
    )
    assert late.release == (NodeToRelease(node="a", reason=why),)
    assert (late.evict, late.delete) == ((), ())
    (item,) = late.progress.removals
    assert (item.phase, item.reason, item.refusals) == (Phase.GAVE_UP, why, 3)
    assert late.finished


def test_without_a_termination_grace_period_the_stated_default_applies() -> None:
    first = _step(_start(("a", RemovalKind.DELETE)), _node("a", _pod("p")))
    assert timedelta(minutes=30) == DEFAULT_DRAIN_DEADLINE
    held = _step(
        first.progress, _node("a", _pod("p"), cordoned=True), at=NOW + timedelta(minutes=29, seconds=59)
    )
    assert held.release == ()
    late = _step(held.progress, _node("a", _pod("p"), cordoned=True), at=NOW + timedelta(minutes=30))
    assert [r.node for r in late.release] == ["a"]
    assert late.release[0].reason.startswith("drain not finished within 30m")


def test_a_do_not_disrupt_mark_during_the_drain_gives_the_node_back() -> None:
    first = _step(_start(("a", RemovalKind.DELETE)), _node("a", _pod("p")))
    marked = _step(first.progress, _node("a", _pod("p", do_not_disrupt=True), cordoned=True))
    assert marked.release == (
        NodeToRelease(node="a", reason="pod batch/p is marked karpenter.sh/do-not-disrupt"),
    )


def test_the_budget_limits_how_many_start_and_the_rest_wait() -> None:
    budget = PoolBudget(budgets=(Budget(nodes="1"),), total_nodes=3, disrupting=0)
    progress = _start(("a", RemovalKind.EMPTY), ("b", RemovalKind.EMPTY))
    step = _step(progress, _node("a"), _node("b"), budget=budget)
    assert step.cordon == ("a",)
    waiting = step.progress.removals[1]
    assert waiting.phase is Phase.WAITING
    assert waiting.reason == "held by the disruption budget (1 more node(s) allowed by budget nodes=1)"
    # Next step: a is being disrupted (it counts), so b still waits; once a is gone, b starts.
    busy = PoolBudget(budgets=(Budget(nodes="1"),), total_nodes=3, disrupting=1)
    held = _step(
        step.progress,
        _node("a", cordoned=True),
        _node("b"),
        budget=budget.model_copy(update={"disrupting": 1}),
    )
    assert held.cordon == ()
    assert held.delete == (NodeToDelete(node="a", instance_group="g"),)
    assert busy.disrupting == 1
    after = _step(
        held.progress,
        _node("b"),
        budget=PoolBudget(budgets=(Budget(nodes="1"),), total_nodes=2, disrupting=0),
    )
    assert after.cordon == ("b",)


def test_a_scheduled_budget_blocks_during_its_window_and_allows_after() -> None:
    # "nodes: 0" from 12:00 for 30 minutes, every day (Karpenter docs, "NodePool Disruption Budgets").
    budgets = (Budget(nodes="0", schedule="0 12 * * *", duration=timedelta(minutes=30)), Budget(nodes="10"))
    budget = PoolBudget(budgets=budgets, total_nodes=2, disrupting=0)
    progress = _start(("a", RemovalKind.EMPTY))
    inside = _step(progress, _node("a"), at=NOW + timedelta(minutes=29), budget=budget)
    assert inside.cordon == ()
    assert inside.progress.removals[0].reason.startswith("held by the disruption budget (0 more node(s)")
    assert inside.wait_seconds == 60
    # A budget holds for as long as its window lasts, however long the drain deadline is.
    assert inside.progress.removals[0].phase is Phase.WAITING
    early = _step(progress, _node("a"), at=NOW + timedelta(minutes=1), budget=budget)
    assert early.wait_seconds == 15 * 60  # the window has 29 minutes left; looked at again every 15
    after = _step(inside.progress, _node("a"), at=NOW + timedelta(minutes=30), budget=budget)
    assert after.cordon == ("a",)


def test_budgets_apply_per_reason() -> None:
    # Only Underutilized removals are limited: an Empty one goes, a Delete waits.
    budgets = (Budget(nodes="0", reasons=("Underutilized",)),)
    budget = PoolBudget(budgets=budgets, total_nodes=2, disrupting=0)
    step = _step(
        _start(("a", RemovalKind.DELETE), ("b", RemovalKind.EMPTY)),
        _node("a", _pod("p")),
        _node("b"),
        budget=budget,
    )
    assert step.cordon == ("b",)


def test_a_replace_waits_for_the_replacement_then_starts() -> None:
    progress = _start(("a", RemovalKind.REPLACE))
    waiting = _step(progress, _node("a", _pod("p")), satisfied=False)
    assert waiting.cordon == ()
    assert waiting.progress.removals[0].reason == "waiting for the replacement to be usable"
    assert waiting.wait_seconds == 60
    ready = _step(waiting.progress, _node("a", _pod("p")), satisfied=True, at=NOW + timedelta(minutes=5))
    assert ready.cordon == ("a",)


def test_a_replace_whose_replacement_never_comes_is_dropped_at_the_deadline_uncordoned() -> None:
    progress = _start(("a", RemovalKind.REPLACE))
    late = _step(
        progress,
        _node("a", _pod("p")),
        satisfied=False,
        at=NOW + timedelta(minutes=10),
        grace=timedelta(minutes=10),
    )
    (item,) = late.progress.removals
    assert (item.phase, item.reason) == (
        Phase.SKIPPED,
        "not started: the replacement was not usable within 10m",
    )
    assert late.cordon == ()
    assert late.release == ()


def test_a_node_that_disappears_is_done() -> None:
    first = _step(_start(("a", RemovalKind.DELETE)), _node("a", _pod("p")))
    gone = _step(first.progress)
    assert gone.progress.removals[0].phase is Phase.GONE
    assert gone.finished
    assert gone.delete == ()


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match=r"^now must be a timezone-aware datetime$"):
        _step(_start(("a", RemovalKind.EMPTY)), at=datetime(2026, 12, 3, 12, 0))


def test_a_failed_deletion_is_asked_again_with_a_backoff_and_given_up_after_its_attempts() -> None:
    """BatchDeleteClusterNodes answers per node (SageMaker API Reference, BatchDeleteClusterNodes:
    `Failed`, "a list of errors encountered when deleting the specified nodes", each with its
    Code and Message): a failed node is not done; it is asked for again 15 s, 30 s, 1 min, 2 min
    later, then given up as DeleteFailed (which the service records and alarms)."""
    failure = DeletionFailure(node="a", code="InvalidNodeStatus", message="Instance group g is Updating.")
    step = _step(_start(("a", RemovalKind.EMPTY)), _node("a"))
    at = NOW + timedelta(seconds=15)
    step = _step(step.progress, _node("a", cordoned=True), at=at)
    assert step.delete == (NodeToDelete(node="a", instance_group="g"),)
    waits = []
    for attempt in range(1, MAX_DELETE_ATTEMPTS):
        step = after_deletions(step, [failure], at)
        (item,) = step.progress.removals
        assert (item.phase, item.delete_failures) == (Phase.DELETE_RETRY, attempt)
        assert not step.finished
        waits.append(step.wait_seconds)
        # Not before its time: nothing is asked, the step waits for the rest.
        early = _step(step.progress, _node("a", cordoned=True), at=at + timedelta(seconds=1))
        assert early.delete == ()
        assert early.wait_seconds == step.wait_seconds - 1
        at += timedelta(seconds=step.wait_seconds)
        step = _step(step.progress, _node("a", cordoned=True), at=at)
        assert step.delete == (NodeToDelete(node="a", instance_group="g"),)
    assert waits == [15, 30, 60, 120]
    step = after_deletions(step, [failure], at)
    (item,) = step.progress.removals
    assert item.phase is Phase.DELETE_FAILED
    assert item.reason == (
        f"BatchDeleteClusterNodes failed {MAX_DELETE_ATTEMPTS} times; last: "
        "InvalidNodeStatus: Instance group g is Updating."
    )
    assert step.finished
    assert step.wait_seconds == 0


def test_a_deletion_that_succeeds_on_a_retry_is_deleted() -> None:
    failure = DeletionFailure(node="a", code="NodeIdInUse", message="Node i-1 is being recovered.")
    step = _step(_start(("a", RemovalKind.EMPTY)), _node("a"))
    step = _step(step.progress, _node("a", cordoned=True), at=NOW + timedelta(seconds=15))
    step = after_deletions(step, [failure], NOW + timedelta(seconds=15))
    step = _step(step.progress, _node("a", cordoned=True), at=NOW + timedelta(seconds=30))
    assert after_deletions(step, [], NOW + timedelta(seconds=30)) == step
    assert step.finished
    assert step.progress.removals[0].phase is Phase.DELETED
    assert step.progress.removals[0].delete_failures == 1


def test_a_superseded_drain_releases_every_node_it_cordoned_and_drops_the_rest() -> None:
    """Karpenter un-taints the nodes of a disruption it abandons (docs "Disruption",
    https://karpenter.sh/docs/concepts/disruption/, "Control Flow": "If a replacement node fails
    to initialize, un-taint the node(s), and restart from Step (1)")."""
    progress = _start(("a", RemovalKind.DELETE), ("b", RemovalKind.EMPTY), ("c", RemovalKind.EMPTY))
    step = _step(
        progress,
        _node("a", _pod("p1")),
        _node("b"),
        _node("c"),
        budget=PoolBudget(budgets=(Budget(nodes="2"),), total_nodes=3, disrupting=0),
    )
    step = _step(
        step.progress,
        _node("a", _pod("p1"), cordoned=True),
        _node("b", cordoned=True),
        _node("c"),
        budget=PoolBudget(budgets=(Budget(nodes="2"),), total_nodes=3, disrupting=2),
    )
    step = after_deletions(step, [DeletionFailure(node="b", code="NodeIdInUse")], NOW)
    assert [r.phase for r in step.progress.removals] == [Phase.DRAINING, Phase.DELETE_RETRY, Phase.WAITING]

    released = release_superseded(step.progress, reason="superseded: generation 4 owns the pool")
    assert released.release == (
        NodeToRelease(node="a", reason="superseded: generation 4 owns the pool"),
        NodeToRelease(node="b", reason="superseded: generation 4 owns the pool"),
    )
    assert [r.phase for r in released.progress.removals] == [Phase.GAVE_UP, Phase.GAVE_UP, Phase.SKIPPED]
    assert released.finished
    assert (released.cordon, released.evict, released.delete, released.wait_seconds) == ((), (), (), 0)
