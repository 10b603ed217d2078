"""Reversible patches on pinned libraries, that fail loudly when an upgrade moves their target.

Every patch names the attribute it replaces and, for functions, the signature it was written
against; a moto (or Powertools) release that renames or reshapes it makes `apply` raise
`PinMismatch` at world start, instead of the world silently running unpatched code.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ebb.local.errors import PinMismatch

_MISSING = object()


@dataclass(frozen=True)
class PinnedAttribute:
    """An attribute of a pinned library the local world replaces, and what it must look like."""

    owner: Any
    attribute: str
    signature: str | None = None

    def describe(self) -> str:
        """`module.Class.attribute`, for error messages."""
        owner_name = getattr(self.owner, "__qualname__", None) or getattr(self.owner, "__name__", "?")
        module = getattr(self.owner, "__module__", None)
        prefix = f"{module}." if module and module != owner_name else ""
        return f"{prefix}{owner_name}.{self.attribute}"

    def check(self) -> Any:
        """Return the current value, or raise `PinMismatch` if missing or reshaped."""
        value = inspect.getattr_static(self.owner, self.attribute, _MISSING)
        if value is _MISSING:
            raise PinMismatch(f"{self.describe()} no longer exists; the local world's patch needs updating")
        if self.signature is not None:
            function = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
            actual = str(inspect.signature(function))
            if actual != self.signature:
                raise PinMismatch(
                    f"{self.describe()} changed signature: expected {self.signature}, found {actual}; "
                    "the local world's patch needs updating"
                )
        return value


class PatchSet:
    """A group of attribute replacements, undone together."""

    def __init__(self) -> None:
        self._undo: list[tuple[Any, str, Any]] = []

    def replace(self, pin: PinnedAttribute, value: Any) -> Any:
        """Replace the pinned attribute with `value`; return the original (raw, as stored)."""
        original = pin.check()
        self._undo.append((pin.owner, pin.attribute, original))
        setattr(pin.owner, pin.attribute, value)
        return original

    def wrap_method(
        self, pin: PinnedAttribute, make: Callable[[Callable[..., Any]], Callable[..., Any]]
    ) -> None:
        """Replace a plain method with `make(original)`."""
        original = pin.check()
        if isinstance(original, (staticmethod, classmethod)):
            raise PinMismatch(f"{pin.describe()} is no longer a plain method")
        self.replace(pin, make(original))

    def undo(self) -> None:
        """Restore every original, last patched first."""
        while self._undo:
            owner, attribute, original = self._undo.pop()
            setattr(owner, attribute, original)
