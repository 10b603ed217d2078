"""HyperPod's `HyperpodNodeClass` (karpenter.sagemaker.amazonaws.com/v1).

It lists the HyperPod instance groups a NodePool may use: at most 10 (Amazon SageMaker developer
guide, "Create a NodeClass"), each named as HyperPod names instance groups (botocore's sagemaker
service model, `ClusterInstanceGroupName`: 1-63 characters, `[a-zA-Z0-9](-*[a-zA-Z0-9])*`).
"""

import re
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, Field, StrictStr

from ebb.config.model_base import Finding, ManifestModel, NonEmpty, error_at
from ebb.config.model_errors import custom_error
from ebb.config.object_meta import ClusterObjectMeta

MAX_INSTANCE_GROUPS = 10
_INSTANCE_GROUP_NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")
INSTANCE_GROUP_NAME_MAX = 63


def _instance_group_name(value: str) -> str:
    if len(value) > INSTANCE_GROUP_NAME_MAX or not _INSTANCE_GROUP_NAME_RE.match(value):
        raise custom_error(
            "instance_group_name",
            f"{value!r} is not a HyperPod instance group name; allowed: 1-63 letters, digits and hyphens, "
            "starting and ending with a letter or digit",
        )
    return value


InstanceGroupName = Annotated[StrictStr, AfterValidator(_instance_group_name)]


class HyperpodNodeClassSpec(ManifestModel):
    """`spec` of a HyperpodNodeClass."""

    instance_groups: Annotated[
        tuple[InstanceGroupName, ...], NonEmpty, Field(max_length=MAX_INSTANCE_GROUPS)
    ] = Field(alias="instanceGroups")

    def findings(self) -> Iterator[Finding]:
        seen: set[str] = set()
        for index, name in enumerate(self.instance_groups):
            if name in seen:
                yield error_at(("instanceGroups", index), f"instance group {name!r} is listed twice")
            seen.add(name)


class HyperpodNodeClass(ManifestModel):
    """A HyperpodNodeClass document."""

    unused_fields: ClassVar[Mapping[str, str]] = {"status": "written by HyperPod; ebb ignores it"}

    api_version: Literal["karpenter.sagemaker.amazonaws.com/v1"] = Field(alias="apiVersion")
    kind: Literal["HyperpodNodeClass"]
    metadata: ClusterObjectMeta
    spec: HyperpodNodeClassSpec
    status: Any = None

    @property
    def name(self) -> str:
        """The node class's name."""
        return self.metadata.name

    @property
    def instance_groups(self) -> tuple[str, ...]:
        """The instance groups it lists."""
        return self.spec.instance_groups
