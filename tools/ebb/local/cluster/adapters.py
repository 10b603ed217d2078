"""The two stand-ins' small clock protocols, implemented on the local world.

Each stand-in was written against a protocol of its own, kept small so that it can run on a
manual clock in its own tests: the HyperPod stand-in's `StandInWorld` (aware `now()`, named
one-shot timers, the seeded `random`, `put_event` of whole EventBridge envelopes) and the
Kubernetes stand-in's `SimulatedClock` (aware `now()`, anonymous timers, `random`). These
adapters put both on the world's one `SimClock` and its one seeded generator, so that a seed
gives one timeline across AWS, HyperPod and Kubernetes.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from ebb.local.world import LocalWorld


class HyperPodOnWorld:
    """The HyperPod stand-in's `StandInWorld` on a `LocalWorld`.

    Its cluster events ("SageMaker HyperPod Cluster Event", already in the real envelope shape)
    go onto the world's default EventBridge bus, where the template's rules see them. The world
    models one account and region; events of a cluster created elsewhere have no bus here and are
    kept in `unpublished` instead.
    """

    def __init__(self, world: LocalWorld) -> None:
        self._world = world
        self.random: random.Random = world.random
        self.unpublished: list[Mapping[str, Any]] = []

    def now(self) -> datetime:
        """The world's simulated time (aware, UTC)."""
        return self._world.now()

    def call_later(self, seconds: float, callback: Callable[[], None], *, name: str) -> object:
        """A one-shot timer on the world's clock; it keeps `run_until_quiet` going (not daemon)."""
        return self._world.call_later(seconds, callback, name=name)

    def put_event(self, event: Mapping[str, Any]) -> None:
        """Publish a cluster event on the world's default bus (if it is the world's account and region)."""
        config = self._world.config
        if event.get("account") == config.account_id and event.get("region") == config.region:
            self._world.put_event(event)
        else:
            self.unpublished.append(event)


class KubernetesOnWorld:
    """The Kubernetes stand-in's `SimulatedClock` on a `LocalWorld`.

    `after_each` runs after every callback the stand-in scheduled (its controllers' passes, a
    container starting, a model loading, GPUs registering), which is where the cluster's state
    changes on its own: the world's recorder watches there.
    """

    def __init__(self, world: LocalWorld, *, after_each: Callable[[], None] | None = None) -> None:
        self._world = world
        self._after_each = after_each

    @property
    def random(self) -> random.Random:
        """The world's seeded generator."""
        return self._world.random

    def now(self) -> datetime:
        """The world's simulated time (aware, UTC)."""
        return self._world.now()

    def call_later(self, delay_seconds: float, callback: Callable[[], None]) -> object:
        """A one-shot timer on the world's clock, named after the stand-in's callback."""
        after_each = self._after_each

        def run() -> None:
            callback()
            if after_each is not None:
                after_each()

        name = f"kubernetes {getattr(callback, '__qualname__', 'timer')}"
        return self._world.call_later(delay_seconds, run, name=name)
