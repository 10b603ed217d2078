"""The world's one source of randomness, seeded.

Every random choice of the local world (retry jitter, flexible schedule windows, identifiers it
makes up, boot times of the stand-ins) is drawn from one `random.Random`, in the deterministic
order the clock runs the actors in; moto's own identifier generator is seeded from it too, and
the tokens the code under test draws with `secrets.token_hex` come from a second generator
seeded from the same seed. The same seed therefore gives the same timeline, identifiers included.
"""

from __future__ import annotations

import random
import uuid


class SeededRandomness:
    """One seeded generator, with the few draws the world needs."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.generator = random.Random(seed)
        # The code under test draws tokens with `secrets` (the state table's epoch, decide's claim
        # token): from a generator of their own, so that the world's other draws keep their order.
        self._tokens = random.Random(f"secrets-{seed}")

    def uniform(self, low: float, high: float) -> float:
        """A float in [low, high]."""
        return self.generator.uniform(low, high)

    def uuid4(self) -> str:
        """A version-4 UUID string drawn from the generator."""
        return str(uuid.UUID(int=self.generator.getrandbits(128), version=4))

    def token_hex(self, nbytes: int | None = None) -> str:
        """`secrets.token_hex` drawn from the seed: `nbytes` random bytes (32 by default) as hex."""
        count = 32 if nbytes is None else nbytes
        return self._tokens.getrandbits(count * 8).to_bytes(count, "big").hex() if count else ""

    def derived_seed(self) -> int:
        """A seed for another generator (moto's), drawn from this one."""
        return self.generator.getrandbits(64)

    def as_random_module(self) -> _RandomModule:
        """A stand-in for the `random` module, for code that calls `random.uniform` & co."""
        return _RandomModule(self.generator)


class _RandomModule:
    """The `random` functions moto's interpreter uses, bound to the seeded generator."""

    def __init__(self, generator: random.Random) -> None:
        self._generator = generator

    def uniform(self, low: float, high: float) -> float:
        """`random.uniform` on the seeded generator."""
        return self._generator.uniform(low, high)

    def random(self) -> float:
        """`random.random` on the seeded generator."""
        return self._generator.random()

    def choices(
        self, population: list[object], weights: list[float] | None = None, k: int = 1
    ) -> list[object]:
        """`random.choices` on the seeded generator."""
        return self._generator.choices(population, weights=weights, k=k)
