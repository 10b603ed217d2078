"""Serving the stand-in through moto 5.2.5's SageMaker, so boto3 under `mock_aws`, moto's Step
Functions interpreter and moto server all reach it.

moto dispatches an action to the `SageMakerResponse` method named after it in snake_case
(`BaseResponse.call_action`), which calls the `SageMakerModelBackend` method of the same name.
`install` gives both classes a method per HyperPod operation: the ones moto lacks (UpdateCluster,
BatchAddClusterNodes, BatchDeleteClusterNodes, ListClusterEvents, DescribeClusterEvent) and the
cluster operations moto has but models too thinly (nodes always Running, no NodeLogicalId, no
NodeProvisioningMode, a fixed instance-type list). Nothing is patched at import; `uninstall`
restores moto. `check_pins` fails loudly (`StandInPinMismatch`) if moto no longer looks the way the
patch was written against.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

import moto
from moto.core.responses import ActionResult, BaseResponse
from moto.core.utils import camelcase_to_underscores
from moto.ec2.models.subnets import Subnet, SubnetBackend
from moto.sagemaker.models import SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse

from ebb.local.hyperpod.errors import ApiError, StandInMisuse, StandInPinMismatch
from ebb.local.hyperpod.standin import LocalHyperPod

PINNED_MOTO_VERSION: Final = "5.2.5"

# Operations moto 5.2.5 implements, which the stand-in replaces, and the backend signatures the
# patch was written against.
REPLACED: Final[dict[str, str]] = {
    "CreateCluster": "(self, cluster_name: str, instance_groups: list[dict[str, typing.Any]], "
    "vpc_config: dict[str, list[str]], tags: Any) -> str",
    "DescribeCluster": "(self, cluster_name: str) -> dict[str, typing.Any]",
    "DeleteCluster": "(self, cluster_name: str) -> str",
    "ListClusters": "(self, creation_time_after: datetime.datetime | None, creation_time_before: "
    "datetime.datetime | None, name_contains: str | None, sort_by: str | None, sort_order: str | None) "
    "-> list[moto.sagemaker.models.Cluster]",
    "DescribeClusterNode": "(self, cluster_name: str, node_id: str) -> dict[str, typing.Any]",
    "ListClusterNodes": "(self, cluster_name: str, creation_time_after: datetime.datetime | None, "
    "creation_time_before: datetime.datetime | None, instance_group_name_contains: str | None, "
    "sort_by: str | None, sort_order: str | None) -> list[moto.sagemaker.models.ClusterNode]",
}
# Operations moto 5.2.5 lacks.
ADDED: Final = (
    "UpdateCluster",
    "BatchAddClusterNodes",
    "BatchDeleteClusterNodes",
    "ListClusterEvents",
    "DescribeClusterEvent",
)
OPERATIONS: Final = (*REPLACED, *ADDED)

_JSON_CONTENT_TYPE: Final = "application/x-amz-json-1.1"
_GET_SUBNET: Final = "(self, subnet_id: 'str') -> 'Subnet'"


class _Installation:
    """What `install` changed, so that `uninstall` can undo it."""

    def __init__(self) -> None:
        self.active: LocalHyperPod | None = None
        self.originals: list[tuple[type, str, Any]] = []


_INSTALLATION: Final = _Installation()


def check_pins() -> None:
    """Raise `StandInPinMismatch` unless moto still has what the patch relies on."""
    problems = []
    if moto.__version__ != PINNED_MOTO_VERSION:
        problems.append(f"moto is {moto.__version__}, the stand-in was written against {PINNED_MOTO_VERSION}")
    for operation in OPERATIONS:
        method = camelcase_to_underscores(operation)
        if method != _snake(operation):
            problems.append(f"moto now dispatches {operation} to {method}, not {_snake(operation)}")
    for operation, signature in REPLACED.items():
        method = _snake(operation)
        for owner in (SageMakerModelBackend, SageMakerResponse):
            if not inspect.isfunction(inspect.getattr_static(owner, method, None)):
                problems.append(f"{owner.__name__}.{method} no longer exists")
        backend_method = inspect.getattr_static(SageMakerModelBackend, method, None)
        if inspect.isfunction(backend_method):
            actual = str(inspect.signature(backend_method))
            if actual != signature:
                problems.append(f"SageMakerModelBackend.{method}{actual} changed (was {signature})")
    for operation in ADDED:
        method = _snake(operation)
        for owner in (SageMakerModelBackend, SageMakerResponse):
            if _is_moto_own(owner, method):
                problems.append(f"moto now implements {owner.__name__}.{method}; review the stand-in's patch")
    if not isinstance(inspect.getattr_static(SageMakerResponse, "sagemaker_backend", None), property):
        problems.append("SageMakerResponse.sagemaker_backend is no longer a property")
    if not getattr(SageMakerResponse(), "automated_parameter_parsing", False):
        problems.append("SageMakerResponse no longer parses parameters from the service model")
    if not inspect.isfunction(inspect.getattr_static(BaseResponse, "call_action", None)):
        problems.append("BaseResponse.call_action no longer exists")
    if list(inspect.signature(ActionResult).parameters) != ["result"]:
        problems.append("moto.core.responses.ActionResult(result) changed")
    # The stand-in reads subnets' zones and ranges from moto's EC2 (`subnets.MotoSubnets`).
    subnet_lookup = inspect.getattr_static(SubnetBackend, "get_subnet", None)
    if not inspect.isfunction(subnet_lookup) or str(inspect.signature(subnet_lookup)) != _GET_SUBNET:
        problems.append(f"moto's SubnetBackend.get_subnet is no longer {_GET_SUBNET}")
    for attribute in ("availability_zone", "availability_zone_id"):
        if not isinstance(inspect.getattr_static(Subnet, attribute, None), property):
            problems.append(f"moto's EC2 Subnet.{attribute} is no longer a property")
    if problems:
        raise StandInPinMismatch(
            "moto's SageMaker changed under the HyperPod stand-in: " + "; ".join(problems)
        )


def install(standin: LocalHyperPod) -> None:
    """Route moto's SageMaker HyperPod operations to `standin` until `uninstall`."""
    if _INSTALLATION.active is not None:
        raise StandInMisuse("a HyperPod stand-in is already installed; uninstall it first")
    check_pins()
    for operation in OPERATIONS:
        method = _snake(operation)
        _replace(SageMakerModelBackend, method, _backend_method(operation))
        _replace(SageMakerResponse, method, _response_method(operation))
    _INSTALLATION.active = standin


def uninstall() -> None:
    """Restore moto's own SageMaker (a no-op if nothing is installed)."""
    while _INSTALLATION.originals:
        owner, name, original = _INSTALLATION.originals.pop()
        if original is None:
            delattr(owner, name)
        else:
            setattr(owner, name, original)
    _INSTALLATION.active = None


def installed() -> LocalHyperPod | None:
    """The stand-in currently installed, if any."""
    return _INSTALLATION.active


def _snake(operation: str) -> str:
    return "".join(f"_{char.lower()}" if char.isupper() else char for char in operation).lstrip("_")


def _is_moto_own(owner: type, name: str) -> bool:
    value = inspect.getattr_static(owner, name, None)
    return value is not None and getattr(value, "__module__", "").startswith("moto.")


def _replace(owner: type, name: str, value: Callable[..., Any]) -> None:
    _INSTALLATION.originals.append((owner, name, owner.__dict__.get(name)))
    setattr(owner, name, value)


def _backend_method(operation: str) -> Callable[..., dict[str, Any]]:
    def method(self: SageMakerModelBackend, request: Mapping[str, Any]) -> dict[str, Any]:
        standin = _INSTALLATION.active
        if standin is None:  # pragma: no cover - uninstall removes the method
            raise StandInMisuse("the HyperPod stand-in is not installed")
        return standin.handle(operation, account=self.account_id, region=self.region_name, request=request)

    method.__name__ = _snake(operation)
    method.__qualname__ = f"SageMakerModelBackend.{method.__name__}"
    method.__doc__ = f"{operation}, served by the local HyperPod stand-in."
    return method


def _response_method(operation: str) -> Callable[..., Any]:
    backend_method = _snake(operation)

    def method(self: SageMakerResponse) -> Any:
        request = _aware(dict(self.params))
        try:
            result = getattr(self.sagemaker_backend, backend_method)(request)
        except ApiError as error:
            body = json.dumps({"__type": error.code, "message": error.message})
            headers = {
                "status": error.status,
                "X-Amzn-Errortype": error.code,
                "Content-Type": _JSON_CONTENT_TYPE,
            }
            return error.status, headers, body
        return ActionResult(result)

    method.__name__ = backend_method
    method.__qualname__ = f"SageMakerResponse.{backend_method}"
    method.__doc__ = f"{operation}, served by the local HyperPod stand-in."
    return method


def _aware(value: Any) -> Any:
    # moto's request parser returns naive UTC datetimes; the stand-in's clock is aware.
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, dict):
        return {key: _aware(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_aware(item) for item in value]
    return value
