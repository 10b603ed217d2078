"""What kube-apiserver refuses in a container's `resources`, so `ebb validate` refuses it offline.

A pod template the API server would reject never runs, so planning nodes for it is planning for
nothing. The rules follow kubernetes/kubernetes `pkg/apis/core/validation/validation.go`
(`ValidateResourceRequirements`, `ValidateResourceQuantityValue`) and
`pkg/apis/core/helper/helpers.go` (`IsNativeResource`, `IsOvercommitAllowed`,
`IsExtendedResourceName`, `IsIntegerResourceName`), as of kubernetes commit
f7b907ca0d83ce9a45e212f1c360156226be164a:

- an extended resource (a name outside `kubernetes.io` with a domain, such as `nvidia.com/gpu`)
  is counted in whole units ("must be an integer");
- a resource that cannot be overcommitted (extended resources and `hugepages-*`) needs a limit
  when it has a request ("Limit must be set for non overcommitable resources"), and its request
  must equal its limit ("must be equal to ... limit");
- any other request must be at most its limit ("must be less than or equal to ... limit").

A limit without a request is fine: the API server defaults the request to the limit.
"""

from collections.abc import Iterator, Mapping
from decimal import Decimal

from ebb.config.model_base import Finding, error_at, note_at
from ebb.config.quantity import Quantity

_HUGE_PAGES_PREFIX = "hugepages-"
# Binary and decimal size suffixes: a device count written with one is a size, not a count.
_SIZE_SUFFIXES = ("Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "k", "M", "G", "T", "P", "E")


def is_native(name: str) -> bool:
    """`IsNativeResource`: no domain, or a `kubernetes.io` one."""
    return "/" not in name or "kubernetes.io/" in name


def is_extended(name: str) -> bool:
    """`IsExtendedResourceName`: not native and not a quota's `requests.` name."""
    return not is_native(name) and not name.startswith("requests.")


def overcommit_allowed(name: str) -> bool:
    """`IsOvercommitAllowed`: native resources other than huge pages."""
    return is_native(name) and not name.startswith(_HUGE_PAGES_PREFIX)


def resource_requirements_findings(
    requests: Mapping[str, Quantity], limits: Mapping[str, Quantity]
) -> Iterator[Finding]:
    """The API server's errors for one container's requests and limits, and a note on a device
    count written as a size."""
    for field, amounts in (("limits", limits), ("requests", requests)):
        for name, quantity in amounts.items():
            if not is_extended(name):
                continue
            if quantity.value != quantity.value.to_integral_value():
                yield error_at((field, name), f"{quantity} must be an integer (a count of {name})")
            elif quantity.text.endswith(_SIZE_SUFFIXES):
                yield note_at(
                    (field, name),
                    f"{quantity} is {_plain(quantity.value)} of {name}: a count of devices takes no "
                    "size suffix (write the number of devices, e.g. 1)",
                )
    for name, request in requests.items():
        limit = limits.get(name)
        if limit is None:
            if not overcommit_allowed(name):
                yield error_at(
                    ("limits", name),
                    f"required: Limit must be set for non overcommitable resources (requests has {name}: "
                    f"{request}; set limits.{name} to the same, or give only the limit)",
                )
        elif not overcommit_allowed(name) and request.value != limit.value:
            yield error_at(("requests", name), f"{request} must be equal to {name} limit of {limit}")
        elif request.value > limit.value:
            yield error_at(
                ("requests", name), f"{request} must be less than or equal to {name} limit of {limit}"
            )


def _plain(value: Decimal) -> str:
    return f"{value:,.0f}"
