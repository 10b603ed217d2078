"""Pre-warm windows: a replica floor on a schedule (the ClusterBinding's `prewarm`).

A window opens at each hit of its `schedule` (UTC cron, the dialect Karpenter's disruption
budgets use) and lasts `duration`; while one is open, the scaler's decision is raised to its
`minReplicas` (never above `maxReplicaCount`). It ends on time: the first decision at or after
`start + duration` no longer holds the floor, and the replica core's own rules take over again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ebb.config import EbbConfig
from ebb.core.nodes.cron import CronSchedule


@dataclass(frozen=True, slots=True)
class OpenWindow:
    """A pre-warm window open at the moment asked about."""

    schedule: str
    start: datetime
    end: datetime
    min_replicas: int

    def explain(self, now: datetime) -> str:
        """The step the decision's explanation shows while the window holds."""
        return (
            f"pre-warm window {self.schedule!r} from {self.start.isoformat()} until "
            f"{self.end.isoformat()}: at least {self.min_replicas}"
        )


def prewarm_floor(config: EbbConfig, scaler: str, now: datetime) -> OpenWindow | None:
    """The open pre-warm window of `scaler` (`namespace/name`) at `now` with the highest floor."""
    open_windows = []
    for window in config.binding.spec.prewarm:
        if window.scaled_object.qualified_name != scaler or window.duration.seconds is None:
            continue
        start = CronSchedule.parse(window.schedule).latest_at_or_before(now)
        if start is None:
            continue
        end = start + timedelta(seconds=window.duration.seconds)
        if start <= now < end:
            open_windows.append(OpenWindow(window.schedule, start, end, window.min_replicas))
    return max(open_windows, key=lambda w: (w.min_replicas, w.end), default=None)
