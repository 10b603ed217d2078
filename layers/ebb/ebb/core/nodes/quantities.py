"""Kubernetes resource quantities and the resource vector the node planner packs.

A quantity such as ``"500m"``, ``"1.5"``, ``"2Gi"`` or ``"1e3"`` follows the grammar of
k8s.io/apimachinery/pkg/api/resource/quantity.go. The planner works in integers so that packing
never suffers from float rounding: CPU in millicores and everything else in whole units, both
rounded up the way ``Quantity.MilliValue()`` and ``Quantity.Value()`` round.
"""

import math
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Annotated, Final, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator

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

Vector = tuple[int, ...]
"""A resource vector: the four base dimensions, then extended resources (see :func:`dimension`).

Two vectors may differ in length: a missing trailing component is 0."""


BASE_DIMENSIONS: Final = 4
"""Every vector starts with ``(cpu_millis, memory_bytes, nvidia.com/gpu, pods)``."""

POOL_PODS_DIMENSION: Final = 4
"""In a NodePool limit vector, the pods the pool's nodes have room for (Karpenter's ``pods`` limit).

Index 3 of a limit vector counts nodes, so a node's pod capacity needs a place of its own; request
and capacity vectors keep 0 here, which lets both kinds share the extended resources' indices."""

_DIMENSION_NAMES: list[str] = [CPU, MEMORY, NVIDIA_GPU, PODS, "pods (limit)"]
_DIMENSION_INDEX: dict[str, int] = {}
"""Extended resource name -> its index in a vector (5 and up), assigned on first use.

Which index a name gets depends only on the order names were first seen in the process; every
vector operation is component-wise and no decision sorts by an extended dimension, so plans do
not depend on it. Vectors drop trailing zeros: a problem without extended resources keeps the
four base dimensions the packing loops are tuned for."""


def dimension(name: str) -> int:
    """The vector index of extended resource ``name`` (assigned the first time it is asked for)."""
    index = _DIMENSION_INDEX.get(name)
    if index is None:
        index = len(_DIMENSION_NAMES)
        _DIMENSION_NAMES.append(name)
        _DIMENSION_INDEX[name] = index
    return index


def dimension_name(index: int) -> str:
    """The resource name of vector index ``index`` (``"cpu"``, ..., an extended resource)."""
    return _DIMENSION_NAMES[index]


ExtendedAmounts = tuple[tuple[str, int], ...]
"""Extended resources (``vpc.amazonaws.com/efa``, ``nvidia.com/mig-1g.10gb``, ...): (name, amount)."""


class Resources(BaseModel):
    """An amount of the resources the planner packs: CPU, memory, NVIDIA GPUs, pod slots and any
    number of named extended resources (devices a device plugin advertises)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cpu_millis: NonNegative = 0
    memory_bytes: NonNegative = 0
    gpus: NonNegative = 0
    pods: NonNegative = 0
    extended: ExtendedAmounts = ()
    """Sorted by name, without zero amounts (so equal amounts compare equal)."""

    @field_validator("extended", mode="before")
    @classmethod
    def _normalised(cls, value: object) -> object:
        items = value.items() if isinstance(value, Mapping) else value
        if not isinstance(items, Iterable):
            return value
        merged: dict[str, int] = {}
        for entry in items:
            name, amount = entry
            if name in (CPU, MEMORY, NVIDIA_GPU, PODS):
                raise ValueError(f"{name} is not an extended resource (it has its own field)")
            if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
                raise ValueError(f"extended resource {name}: {amount!r} is not a whole number >= 0")
            merged[name] = merged.get(name, 0) + amount
        return tuple(sorted((name, amount) for name, amount in merged.items() if amount))

    @classmethod
    def of(
        cls,
        cpu: Quantity = 0,
        memory: Quantity = 0,
        gpus: int = 0,
        pods: int = 0,
        extended: Mapping[str, int] | None = None,
    ) -> Self:
        """Build from manifest-style quantities: ``Resources.of(cpu="500m", memory="2Gi", gpus=1)``."""
        return cls(
            cpu_millis=to_millis(parse_quantity(cpu)),
            memory_bytes=to_units(parse_quantity(memory)),
            gpus=gpus,
            pods=pods,
            extended=tuple((extended or {}).items()),
        )

    def amount(self, name: str) -> int:
        """The amount of extended resource ``name`` (0 when absent)."""
        return dict(self.extended).get(name, 0)

    @property
    def vector(self) -> Vector:
        """``(cpu_millis, memory_bytes, gpus, pods, 0, extended...)``, the shape the packing loops use.

        Extended resources sit at their :func:`dimension`; trailing zeros are left out.
        """
        base = (self.cpu_millis, self.memory_bytes, self.gpus, self.pods)
        if not self.extended:
            return base
        indexed = {dimension(name): amount for name, amount in self.extended}
        return base + tuple(indexed.get(i, 0) for i in range(BASE_DIMENSIONS, max(indexed) + 1))

    @classmethod
    def from_vector(cls, vector: Vector) -> Self:
        """Inverse of :attr:`vector`."""
        return cls(
            cpu_millis=vector[0],
            memory_bytes=vector[1],
            gpus=vector[2],
            pods=vector[3],
            extended=tuple(
                (dimension_name(i), vector[i])
                for i in range(POOL_PODS_DIMENSION + 1, len(vector))
                if vector[i]
            ),
        )

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
        return not any(self.vector)

    def __str__(self) -> str:
        parts = [f"cpu={format_cpu(self.cpu_millis)}", f"memory={format_memory(self.memory_bytes)}"]
        if self.gpus:
            parts.append(f"{NVIDIA_GPU}={self.gpus}")
        parts.extend(f"{name}={amount}" for name, amount in self.extended)
        if self.pods:
            parts.append(f"pods={self.pods}")
        return ", ".join(parts)


ZERO: Final = Resources()


def _at(vector: Vector, index: int) -> int:
    return vector[index] if index < len(vector) else 0


def add(a: Vector, b: Vector) -> Vector:
    """Component-wise sum."""
    if len(a) == 4 and len(b) == 4:
        return (a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3])
    return tuple(_at(a, i) + _at(b, i) for i in range(max(len(a), len(b))))


def floor_sub(a: Vector, b: Vector) -> Vector:
    """Component-wise difference, floored at zero (as long as ``a``: beyond it ``a`` is 0)."""
    if len(a) == 4 and len(b) <= 4:
        return (max(a[0] - b[0], 0), max(a[1] - b[1], 0), max(a[2] - b[2], 0), max(a[3] - b[3], 0))
    return tuple(max(a[i] - _at(b, i), 0) for i in range(len(a)))


def sub(a: Vector, b: Vector) -> Vector:
    """Component-wise difference, which may be negative."""
    return tuple(_at(a, i) - _at(b, i) for i in range(max(len(a), len(b))))


def scale(a: Vector, count: int) -> Vector:
    """Component-wise product with a count."""
    if len(a) == 4:
        return (a[0] * count, a[1] * count, a[2] * count, a[3] * count)
    return tuple(x * count for x in a)


def smallest(vectors: Iterable[Vector]) -> Vector:
    """Component-wise minimum (a component a vector lacks is 0)."""
    listed = list(vectors)
    width = max(len(v) for v in listed)
    return tuple(min(_at(v, i) for v in listed) for i in range(width))


def largest(vectors: Iterable[Vector]) -> Vector:
    """Component-wise maximum."""
    listed = list(vectors)
    width = max(len(v) for v in listed)
    return tuple(max(_at(v, i) for v in listed) for i in range(width))


def fits(need: Vector, room: Vector) -> bool:
    """Whether ``need`` fits in ``room`` in every dimension."""
    if need[0] > room[0] or need[1] > room[1] or need[2] > room[2] or need[3] > room[3]:
        return False
    if len(need) == 4:
        return True
    return all(need[i] <= _at(room, i) for i in range(4, len(need)))


def how_many_fit(need: Vector, room: Vector) -> int:
    """How many copies of ``need`` fit in ``room`` (``need`` has at least one pod slot)."""
    count = room[3] // need[3] if need[3] else room[3]
    if need[0]:
        count = min(count, room[0] // need[0])
    if need[1]:
        count = min(count, room[1] // need[1])
    if need[2]:
        count = min(count, room[2] // need[2])
    for i in range(4, len(need)):
        if need[i]:
            count = min(count, _at(room, i) // need[i])
    return max(count, 0)


def short_of(need: Vector, room: Vector) -> tuple[str, ...]:
    """The resources ``need`` asks for more of than ``room`` has, by name."""
    return tuple(dimension_name(i) for i in range(len(need)) if need[i] > _at(room, i))


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
