"""boto3 clients made on first use, once per adapter.

Made lazily for two reasons: a client made before moto's `mock_aws` starts is not mocked (tests,
the local world), and a client costs its service model's load (the SageMaker one ~200 ms) on a
cold start that a code path without that service should not pay.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar, cast

import boto3

ClientT = TypeVar("ClientT")


class LazyClient(Generic[ClientT]):
    """`client()` is the boto3 client of `service` (or `factory()`'s), made on the first call."""

    def __init__(
        self, service: str, region_name: str | None, factory: Callable[[], ClientT] | None = None
    ) -> None:
        self._service = service
        self._region_name = region_name
        self._factory = factory
        self._client: ClientT | None = None

    def __call__(self) -> ClientT:
        if self._client is None:
            if self._factory is not None:
                self._client = self._factory()
            else:
                # boto3's stubs type `client` per service-name literal; here the name is a value.
                made = boto3.client(self._service, region_name=self._region_name)  # type: ignore[call-overload]
                self._client = cast(ClientT, made)
        return self._client
