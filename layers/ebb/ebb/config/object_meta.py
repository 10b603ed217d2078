"""Kubernetes `metadata` as ebb reads it: name, namespace, labels and annotations.

Fields the API server writes (uid, resourceVersion, managedFields, ...) are accepted silently so
that `kubectl get -o yaml` output loads unchanged.
"""

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field, StrictStr

from ebb.config.kubernetes_names import LabelValue, NamespaceName, ObjectName, QualifiedName
from ebb.config.model_base import FrozenMap, ManifestModel, empty_map


class ObjectMeta(ManifestModel):
    """Metadata of a namespaced object; the namespace defaults to `default`, as in kubectl."""

    name: ObjectName
    namespace: NamespaceName = "default"
    labels: FrozenMap[QualifiedName, LabelValue] = Field(default_factory=empty_map)
    annotations: FrozenMap[StrictStr, StrictStr] = Field(default_factory=empty_map)
    uid: Any = None
    resource_version: Any = Field(None, alias="resourceVersion")
    generation: Any = None
    creation_timestamp: Any = Field(None, alias="creationTimestamp")
    deletion_timestamp: Any = Field(None, alias="deletionTimestamp")
    deletion_grace_period_seconds: Any = Field(None, alias="deletionGracePeriodSeconds")
    managed_fields: Any = Field(None, alias="managedFields")
    owner_references: Any = Field(None, alias="ownerReferences")
    finalizers: Any = None
    generate_name: Any = Field(None, alias="generateName")
    self_link: Any = Field(None, alias="selfLink")


class ClusterObjectMeta(ObjectMeta):
    """Metadata of a cluster-scoped object (NodePool, HyperpodNodeClass, ebb's binding)."""

    unused_fields: ClassVar[Mapping[str, str]] = {
        "namespace": "this kind is cluster-scoped; the namespace is ignored",
    }
