"""Kubernetes resource quantities and the resource vector the node planner packs.

A quantity such as ``"500m"``, ``"1.5"``, ``"2Gi"`` or ``"1e3"`` follows the grammar of
k8s.io/apimachinery/pkg/api/resource/quantity.go. The planner works in integers so that packing
never suffers from float rounding: CPU in millicores and everything else in whole units, both
rounded up the way ``Quantity.MilliValue()`` and ``Quantity.Value()`` round.
"""

import math
from decimal import Decimal
from typing import Annotated, Final, Self

from pydantic import BaseModel, ConfigDict, Field

from ebb.core.quantity import QuantityError
from ebb.core.quantity import parse_quantity as parse_kubernetes_quantity

CPU: Final = "cpu"
MEMORY: Final = "memory"
NVIDIA_GPU: Final = "nvidia.com/gpu"
PODS: Final = "pods"

Quantity = str | int | Decimal
"""A quantity as written in a manifest (``"250m"``, ``"4Gi"``) or a plain number."""


def parse_quantity(value: Quantity) -> Decimal:
    """Return the exact value of a Kubernetes quantity (``"100m"`` is ``Decimal("0.1")``)."""
    if isinstance(value, bool):
        raise QuantityError(f"{value!r} is not a quantity")
    if isinstance(value, int | Decimal):
        return Decimal(value)
    return parse_kubernetes_quantity(value).value


def to_millis(value: Decimal) -> int:
    """Millicores, rounded up (as ``Quantity.MilliValue()``)."""
    return math.ceil(value * 1000)


def to_units(value: Decimal) -> int:
    """Whole units (bytes, devices), rounded up (as ``Quantity.Value()``)."""
    return math.ceil(value)


NonNegative = Annotated[int, Field(ge=0)]

GIB: Final = 2**30
MIB: Final = 2**20


class Resources(BaseModel):
    """An amount of the resources the planner packs: CPU, memory, NVIDIA GPUs and pod slots."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cpu_millis: NonNegative = 0
    memory_bytes: NonNegative = 0
    gpus: NonNegative = 0
    pods: NonNegative = 0

    @classmethod
    def of(cls, cpu: Quantity = 0, memory: Quantity = 0, gpus: int = 0, pods: int = 0) -> Self:
        """Build from manifest-style quantities: ``Resources.of(cpu="500m", memory="2Gi", gpus=1)``."""
        return cls(
            cpu_millis=to_millis(parse_quantity(cpu)),
            memory_bytes=to_units(parse_quantity(memory)),
            gpus=gpus,
            pods=pods,
        )

    @property
    def vector(self) -> tuple[int, int, int, int]:
        """``(cpu_millis, memory_bytes, gpus, pods)``, the shape the packing loops use."""
        return (self.cpu_millis, self.memory_bytes, self.gpus, self.pods)

    @classmethod
    def from_vector(cls, vector: tuple[int, int, int, int]) -> Self:
        """Inverse of :attr:`vector`."""
        return cls(cpu_millis=vector[0], memory_bytes=vector[1], gpus=vector[2], pods=vector[3])

    def __add__(self, other: "Resources") -> "Resources":
        return Resources.from_vector(add(self.vector, other.vector))

    def minus(self, other: "Resources") -> "Resources":
        """Component-wise difference, floored at zero."""
        return Resources.from_vector(floor_sub(self.vector, other.vector))

    def fits_in(self, capacity: "Resources") -> bool:
        """Whether every component is at most the matching component of ``capacity``."""
        return fits(self.vector, capacity.vector)

    def is_zero(self) -> bool:
        """Whether every component is zero."""
        return self.vector == (0, 0, 0, 0)

    def __str__(self) -> str:
        parts = [f"cpu={format_cpu(self.cpu_millis)}", f"memory={format_memory(self.memory_bytes)}"]
        if self.gpus:
            parts.append(f"{NVIDIA_GPU}={self.gpus}")
        if self.pods:
            parts.append(f"pods={self.pods}")
        return ", ".join(parts)


ZERO: Final = Resources()

Vector = tuple[int, int, int, int]


def add(a: Vector, b: Vector) -> Vector:
    """Component-wise sum."""
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3])


def floor_sub(a: Vector, b: Vector) -> Vector:
    """Component-wise difference, floored at zero."""
    return (max(a[0] - b[0], 0), max(a[1] - b[1], 0), max(a[2] - b[2], 0), max(a[3] - b[3], 0))


def scale(a: Vector, count: int) -> Vector:
    """Component-wise product with a count."""
    return (a[0] * count, a[1] * count, a[2] * count, a[3] * count)


def fits(need: Vector, room: Vector) -> bool:
    """Whether ``need`` fits in ``room`` in every dimension."""
    return need[0] <= room[0] and need[1] <= room[1] and need[2] <= room[2] and need[3] <= room[3]


def how_many_fit(need: Vector, room: Vector) -> int:
    """How many copies of ``need`` fit in ``room`` (``need`` has at least one pod slot)."""
    count = room[3] // need[3] if need[3] else room[3]
    if need[0]:
        count = min(count, room[0] // need[0])
    if need[1]:
        count = min(count, room[1] // need[1])
    if need[2]:
        count = min(count, room[2] // need[2])
    return max(count, 0)


def format_cpu(millis: int) -> str:
    """``1500`` -> ``"1500m"``, ``2000`` -> ``"2"``."""
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def format_memory(size: int) -> str:
    """Bytes in the largest binary unit that keeps the text short (``"1.5Gi"``)."""
    for suffix, unit in (("Ti", 2**40), ("Gi", GIB), ("Mi", MIB), ("Ki", 2**10)):
        if size >= unit:
            value = size / unit
            return f"{value:.4g}{suffix}"
    return str(size)
