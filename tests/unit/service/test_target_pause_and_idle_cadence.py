"""Two readings decide and the tick make from what they already have: a target's own pause
annotation (`ebb.dev/paused`, `ebb.dev/paused-replicas`) and the tick's slower cadence for a pool
at rest.

The annotations are read as KEDA reads `autoscaling.keda.sh/paused` and `paused-replicas` on a
ScaledObject: kedacore/keda apis/keda/v1alpha1/scaledobject_types.go (01ee1d30),
NeedToBePausedByAnnotation (the replicas form is checked first and wins) and getBoolAnnotation
(Go's strconv.ParseBool; "if annotation value is not a boolean, we assume true").
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ebb.adapters.kubernetes import Workload, WorkloadRef
from ebb.service.idle_polling import IDLE_POLL_MINUTES, polls_every_pool, recorded_at_rest
from ebb.service.observe import target_pause

TARGET = WorkloadRef(namespace="batch", name="batch-worker")


def _workload(annotations: dict[str, str]) -> Workload:
    return Workload.model_validate(
        {
            "metadata": {"name": "batch-worker", "namespace": "batch", "annotations": annotations},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "batch-worker"}},
                "template": {"spec": {"containers": [{"name": "c"}]}},
            },
        }
    )


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        ({}, None),
        ({"ebb.dev/paused": "true"}, ("ebb.dev/paused", None)),
        ({"ebb.dev/paused": "1"}, ("ebb.dev/paused", None)),
        ({"ebb.dev/paused": "yes please"}, ("ebb.dev/paused", None)),  # not a Go bool: true
        ({"ebb.dev/paused": "false"}, None),
        ({"ebb.dev/paused": "F"}, None),
        ({"ebb.dev/paused-replicas": "2"}, ("ebb.dev/paused-replicas", 2)),
        ({"ebb.dev/paused-replicas": "0", "ebb.dev/paused": "false"}, ("ebb.dev/paused-replicas", 0)),
        ({"ebb.dev/paused-replicas": "two"}, ("ebb.dev/paused-replicas", None)),  # held as it is
        ({"ebb.dev/paused-replicas": "-1"}, ("ebb.dev/paused-replicas", None)),
        ({"autoscaling.keda.sh/paused": "true"}, None),  # KEDA's, on a Deployment: not ebb's
    ],
)
def test_a_target_pause_annotation_is_read_as_keda_reads_its_pair(
    annotations: dict[str, str], expected: tuple[str, int | None] | None
) -> None:
    pause = target_pause(_workload(annotations), TARGET)
    if expected is None:
        assert pause is None
        return
    assert pause is not None
    assert (pause.annotation, pause.replicas) == expected
    assert pause.target == "Deployment batch/batch-worker"


def test_a_target_pause_says_what_holds_the_target() -> None:
    held = target_pause(_workload({"ebb.dev/paused-replicas": "2"}), TARGET)
    kept = target_pause(_workload({"ebb.dev/paused": "true"}), TARGET)
    assert str(held) == (
        "paused by annotation ebb.dev/paused-replicas: '2' on Deployment batch/batch-worker (held at 2)"
    )
    assert str(kept) == (
        "paused by annotation ebb.dev/paused: 'true' on Deployment batch/batch-worker (replicas kept)"
    )


def test_the_tick_polls_pools_at_rest_on_every_fifth_minute_of_its_scheduled_time() -> None:
    assert IDLE_POLL_MINUTES == 5
    minutes = [m for m in range(60) if polls_every_pool(datetime(2026, 12, 3, 17, m, 0, tzinfo=UTC))]
    assert minutes == list(range(0, 60, 5))
    # A tick scheduled late in its minute is still that minute's.
    assert polls_every_pool(datetime(2026, 12, 3, 17, 10, 59, 999000, tzinfo=UTC))
    assert not polls_every_pool(datetime(2026, 12, 3, 17, 11, 0, tzinfo=UTC))


@pytest.mark.parametrize(
    ("state_json", "expected"),
    [
        (None, False),  # never decided: decided by the tick
        ("", False),
        ('{"version": 1}', False),  # recorded before the field existed
        ('{"version": 1, "at_rest": false}', False),
        ('{"version": 1, "at_rest": true}', True),
    ],
)
def test_a_pool_is_left_to_its_alarms_only_when_its_state_says_at_rest(
    state_json: str | None, expected: bool
) -> None:
    assert recorded_at_rest(state_json) is expected
