"""Errors of the Kubernetes stand-in (a misuse by a test or by the world wiring it up)."""

from __future__ import annotations

from ebb.errors import EbbError


class StandInMisuse(EbbError):
    """The stand-in or its clock was driven in a way that cannot work (a bug in the caller)."""


class ManifestRejected(EbbError):
    """An object given to the stand-in directly fails the Kubernetes schema or its validation.

    `status` is the HTTP code the API server would have answered with (400 or 422) and `message`
    the `Status` message it would have given.
    """

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status
