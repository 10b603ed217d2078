"""The stand-in's shared state: the store, the clock, the timings, and the lock that guards them.

HTTP requests arrive on server threads, controllers run as clock callbacks: both take `lock`.
Controllers run in one pass (`reconcile`), scheduled `controller_delay_seconds` after anything
changes, as informers and work queues delay real controllers; timed events (a container starting,
a model loading, GPUs registering) are clock callbacks of their own.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from ebb.local.kubernetes.clock import SimulatedClock
from ebb.local.kubernetes.store import ObjectStore

# A pod template annotation that overrides `model_load_seconds` for one workload's pods.
MODEL_LOAD_ANNOTATION = "local.ebb.dev/model-load-seconds"


class StandInTimings(BaseModel):
    """How long things take in the simulated cluster (simulated seconds)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    controller_delay_seconds: float = Field(default=1.0, ge=0, description="a change -> controllers act")
    container_start_seconds: float = Field(
        default=5.0, ge=0, description="bound -> Running (image pull, start)"
    )
    model_load_seconds: float = Field(default=60.0, ge=0, description="Running -> Ready (readiness probe)")
    gpu_allocatable_delay_seconds: float = Field(
        default=30.0, ge=0, description="node joined -> device plugin reports its GPUs"
    )
    pod_termination_seconds: float = Field(
        default=5.0, ge=0, description="deletion -> gone (capped by the grace period)"
    )


class ClusterState:
    """What the API server and the controllers share."""

    def __init__(self, clock: SimulatedClock, timings: StandInTimings) -> None:
        self.clock = clock
        self.timings = timings
        self.rng = random.Random(clock.random.getrandbits(64))
        self.store = ObjectStore(self.rng, clock.now)
        self.lock = threading.RLock()
        self._passes: list[Callable[[], None]] = []
        self._reconcile_pending = False

    def now(self) -> datetime:
        """Simulated time."""
        return self.clock.now()

    def add_pass(self, controller_pass: Callable[[], None]) -> None:
        """Register a controller pass, run in registration order on every reconcile."""
        self._passes.append(controller_pass)

    def after(self, seconds: float, callback: Callable[[], None]) -> None:
        """Run `callback` under the lock after `seconds` of simulated time, then reconcile."""

        def run() -> None:
            with self.lock:
                callback()
            self.request_reconcile()

        self.clock.call_later(seconds, run)

    def request_reconcile(self) -> None:
        """Make the controllers run once, `controller_delay_seconds` from now (coalesced)."""
        with self.lock:
            if self._reconcile_pending:
                return
            self._reconcile_pending = True
        self.clock.call_later(self.timings.controller_delay_seconds, self.reconcile)

    def reconcile(self) -> None:
        """Run every controller pass now."""
        with self.lock:
            self._reconcile_pending = False
            for controller_pass in self._passes:
                controller_pass()
