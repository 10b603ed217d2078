"""Errors of the HyperPod stand-in."""

from __future__ import annotations

from ebb.errors import EbbError
from ebb.local.errors import PinMismatch


class ApiError(EbbError):
    """An error the stand-in answers an API call with, as SageMaker would.

    `code` is the wire error code (`ValidationException`, `ResourceNotFound`, `ThrottlingException`,
    ...), `status` the HTTP status. It never leaves the stand-in as an exception: the moto patch
    turns it into an error response, which botocore raises as a `ClientError` in the caller.
    """

    def __init__(self, code: str, message: str, *, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


class StandInPinMismatch(PinMismatch):
    """moto's internals the HyperPod stand-in patches are missing or have changed (the pin moved)."""


class StandInMisuse(EbbError):
    """The stand-in's simulation controls were used wrongly (unknown cluster, node or group)."""
