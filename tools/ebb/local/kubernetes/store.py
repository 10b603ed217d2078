"""The stand-in's object store: etcd's part, with one cluster-wide resourceVersion counter.

Every write bumps the counter and stamps the object with it, so a client holding an older
resourceVersion can be told it is stale (409 Conflict). Objects are JSON-shaped dicts; the store
hands out deep copies so nobody mutates stored state behind its back.
"""

from __future__ import annotations

import copy
import random
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from ebb.local.kubernetes.resources import ResourceType

JsonObject = dict[str, Any]
Key = tuple[str, str, str]  # kind, namespace ("" when cluster-scoped), name


def rfc3339(moment: datetime) -> str:
    """A timestamp as the API writes it (seconds, ``Z``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ObjectStore:
    """Objects by kind, namespace and name."""

    def __init__(self, rng: random.Random, now: Callable[[], datetime]) -> None:
        self._objects: dict[Key, JsonObject] = {}
        self._version = 1000
        self._rng = rng
        self._now = now

    @property
    def resource_version(self) -> str:
        """The latest resourceVersion handed out (a list's resourceVersion)."""
        return str(self._version)

    def new_uid(self) -> str:
        """A UUID drawn from the seeded generator."""
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def create(self, resource: ResourceType, obj: JsonObject) -> JsonObject:
        """Store a new object, filling in uid, creationTimestamp, generation and resourceVersion."""
        metadata = obj.setdefault("metadata", {})
        key = self._key(resource, metadata)
        if key in self._objects:
            raise KeyError(key)
        metadata.setdefault("uid", self.new_uid())
        metadata.setdefault("creationTimestamp", rfc3339(self._now()))
        if resource.kind not in ("Pod", "Node"):
            metadata.setdefault("generation", 1)
        obj["apiVersion"] = resource.api_version
        obj["kind"] = resource.kind
        self._stamp(obj)
        self._objects[key] = obj
        return copy.deepcopy(obj)

    def get(self, resource: ResourceType, namespace: str | None, name: str) -> JsonObject | None:
        """A copy of the object, or None."""
        found = self._objects.get((resource.kind, namespace or "", name))
        return copy.deepcopy(found) if found is not None else None

    def live(self, resource: ResourceType, namespace: str | None, name: str) -> JsonObject | None:
        """The stored object itself, for controllers that update it in place (then call `touch`)."""
        return self._objects.get((resource.kind, namespace or "", name))

    def replace(self, resource: ResourceType, obj: JsonObject) -> JsonObject:
        """Store a new version of an existing object and stamp it."""
        key = self._key(resource, obj["metadata"])
        if key not in self._objects:
            raise KeyError(key)
        self._stamp(obj)
        self._objects[key] = obj
        return copy.deepcopy(obj)

    def touch(self, obj: JsonObject) -> None:
        """Stamp a live object that a controller changed in place."""
        self._stamp(obj)

    def delete(self, resource: ResourceType, namespace: str | None, name: str) -> JsonObject | None:
        """Remove and return the object (None when absent); a deletion is a write, as in etcd, so
        the latest resourceVersion moves on."""
        removed = self._objects.pop((resource.kind, namespace or "", name), None)
        if removed is not None:
            self._version += 1
        return removed

    def live_objects(self, resource: ResourceType, namespace: str | None = None) -> Iterator[JsonObject]:
        """Stored objects of a kind (optionally of one namespace), in name order."""
        keys = sorted(key for key in self._objects if key[0] == resource.kind)
        for key in keys:
            if namespace is None or key[1] == namespace:
                yield self._objects[key]

    def _stamp(self, obj: JsonObject) -> None:
        self._version += 1
        obj["metadata"]["resourceVersion"] = str(self._version)

    @staticmethod
    def _key(resource: ResourceType, metadata: JsonObject) -> Key:
        namespace = metadata.get("namespace", "default") if resource.namespaced else ""
        if resource.namespaced:
            metadata["namespace"] = namespace
        return (resource.kind, namespace, metadata["name"])
