"""The API server's request handling, apart from HTTP and TLS: authenticate, route, validate, act.

Answers as kube-apiserver answers (Kubernetes docs "Kubernetes API Concepts" and the API
reference): JSON bodies with `Content-Type: application/json`; errors as `Status` objects whose
`reason` and `code` match (401 Unauthorized, 404 NotFound, 405 MethodNotAllowed, 409 Conflict,
400 BadRequest, 415 UnsupportedMediaType, 422 Invalid, 429 TooManyRequests, 500 InternalError);
200 for reads, updates and patches, 201 with a Success `Status` for an eviction; list items without
`apiVersion`/`kind` (custom resources keep theirs); `limit`/`continue` paging, every page from the
snapshot of the first, a continue token expiring (410 Expired) five simulated minutes after it;
the field selectors each kind supports, others refused (400); `?watch` refused (405), never
answered as a list.

Served: lists and gets of every registered type, `scale` (GET, PUT) of Deployments, StatefulSets
and ReplicaSets, PATCH with `application/merge-patch+json` (RFC 7386; a strategic merge patch is
applied the same way, which is exact for the maps and scalars ebb patches), and the Eviction
subresource. Every other verb answers 405, JSON Patch and apply patches 415.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import unquote

from ebb.local.kubernetes.deletion_order import POD_DELETION_COST
from ebb.local.kubernetes.disruption import DisruptionController
from ebb.local.kubernetes.resources import NODE, POD, ResourceType, by_path
from ebb.local.kubernetes.schema import Violation, prune_unknown_fields, violations
from ebb.local.kubernetes.selectors import (
    DEFAULT_FIELDS,
    NODE_FIELDS,
    POD_FIELDS,
    SelectorError,
    parse_field_selector,
    parse_label_selector,
    selector_string,
)
from ebb.local.kubernetes.state import ClusterState
from ebb.local.kubernetes.store import JsonObject
from ebb.local.kubernetes.sts_tokens import EksTokenVerifier, TokenRejected
from ebb.local.kubernetes.validation import (
    ErrorType,
    FieldError,
    invalid_message,
    validate_object_meta_update,
    validate_scale,
    validate_workload_update,
)

JSON_TYPE: Final = "application/json"
MERGE_PATCH_TYPES: Final = ("application/merge-patch+json", "application/strategic-merge-patch+json")
OTHER_PATCH_TYPES: Final = ("application/json-patch+json", "application/apply-patch+yaml")
SCALE_SCHEMA: Final = "io.k8s.api.autoscaling.v1.Scale"
EVICTION_SCHEMA: Final = "io.k8s.api.policy.v1.Eviction"
# etcd's revisions are compacted every 5 minutes (kube-apiserver --etcd-compaction-interval): a
# continue token lives at least that long; the stand-in lets it live exactly that long.
CONTINUE_LIFETIME_SECONDS: Final = 300.0
EXPIRED_CONTINUE: Final = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new"
    " list without the continue parameter, or use the continue token in this response to retrieve the"
    " remainder of the results. Continuing with the provided token results in an inconsistent list -"
    " objects that were created, modified, or deleted between the time the first chunk was returned and"
    " now may show up in the list."
)
UNKNOWN_FORMAT: Final = "the body of the request was in an unknown format - accepted media types include: "


@dataclass(frozen=True)
class ApiRequest:
    """One HTTP request, as the server read it (header names lower-case)."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes = b""


@dataclass
class ApiReply:
    """One HTTP response."""

    status: int
    body: bytes
    content_type: str = JSON_TYPE
    headers: list[tuple[str, str]] = field(default_factory=list)


class StandInBug(Exception):
    """The stand-in produced an object its own schema rejects."""


class ApiError(Exception):
    """Raised inside handlers to answer with a Status."""

    def __init__(self, reply: ApiReply) -> None:
        super().__init__(reply.status)
        self.reply = reply


def status_reply(
    code: int,
    reason: str | None,
    message: str,
    details: Mapping[str, Any] | None = None,
    *,
    success: bool = False,
    headers: list[tuple[str, str]] | None = None,
) -> ApiReply:
    """A meta/v1 Status body, as the API server writes one."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success" if success else "Failure",
    }
    if message:
        body["message"] = message
    if reason:
        body["reason"] = reason
    if details:
        body["details"] = dict(details)
    body["code"] = code
    extra = list(headers or [])
    retry_after = (details or {}).get("retryAfterSeconds", 0)
    if retry_after:
        extra.append(("Retry-After", str(retry_after)))
    return ApiReply(code, json.dumps(body).encode(), headers=extra)


def json_reply(obj: Any, status: int = 200, headers: list[tuple[str, str]] | None = None) -> ApiReply:
    """A JSON object body."""
    return ApiReply(status, json.dumps(obj).encode(), headers=list(headers or []))


@dataclass(frozen=True)
class _Route:
    resource: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None


def _details(resource: ResourceType, name: str) -> dict[str, str]:
    details = {"name": name, "kind": resource.plural}
    if resource.group:
        details["group"] = resource.group
    return details


def not_found(resource: ResourceType, name: str) -> ApiError:
    """404 for a named object."""
    message = f'{resource.qualified} "{name}" not found'
    return ApiError(status_reply(404, "NotFound", message, _details(resource, name)))


def conflict(resource: ResourceType, name: str) -> ApiError:
    """409 for a stale resourceVersion."""
    message = (
        f'Operation cannot be fulfilled on {resource.qualified} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    return ApiError(status_reply(409, "Conflict", message, _details(resource, name)))


def bad_request(message: str) -> ApiError:
    """400 BadRequest."""
    return ApiError(status_reply(400, "BadRequest", message))


def invalid(kind: str, group: str, name: str, problems: Sequence[FieldError | Violation]) -> ApiError:
    """422 Invalid, as NewInvalid writes it: every error in the message and in `details.causes`."""
    errors = [problem if isinstance(problem, FieldError) else _field_error(problem) for problem in problems]
    qualified = f"{kind}.{group}" if group else kind
    details: dict[str, Any] = {"name": name, "kind": kind, "causes": [e.cause() for e in errors]}
    if group:
        details["group"] = group
    return ApiError(status_reply(422, "Invalid", invalid_message(qualified, name, errors), details))


def _field_error(problem: Violation) -> FieldError:
    body = problem.message.split(": ", 1)[-1]
    kind: ErrorType = "Invalid"
    if body.startswith("Required value"):
        kind = "Required"
    elif body.startswith("Unsupported value"):
        kind = "NotSupported"
    return FieldError(kind, problem.field, text=body)


class ApiServer:
    """Handles API requests against the stand-in's state."""

    def __init__(
        self,
        state: ClusterState,
        verifier: EksTokenVerifier,
        disruption: DisruptionController,
        types: tuple[ResourceType, ...],
    ) -> None:
        self._state = state
        self._verifier = verifier
        self._disruption = disruption
        self._types = types
        self._faults: deque[ApiReply] = deque()
        self.requests: list[ApiRequest] = []
        self.hooks: list[Callable[[ApiRequest], None]] = []
        self._snapshots: dict[tuple[str, int], _Snapshot] = {}

    def inject(self, reply: ApiReply) -> None:
        """Answer the next authenticated request with `reply` instead of handling it."""
        with self._state.lock:
            self._faults.append(reply)

    def handle(self, request: ApiRequest) -> ApiReply:
        """Answer one request."""
        with self._state.lock:
            self.requests.append(request)
        authorization = request.headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return status_reply(401, "Unauthorized", "Unauthorized")
        try:
            self._verifier.verify(token.strip())
        except TokenRejected:
            return status_reply(401, "Unauthorized", "Unauthorized")
        with self._state.lock:
            if self._faults:
                return self._faults.popleft()
        for hook in list(self.hooks):
            hook(request)
        with self._state.lock:
            try:
                reply = self._dispatch(request)
            except ApiError as error:
                return error.reply
            except StandInBug as error:
                return status_reply(500, "InternalError", f"the stand-in broke its own schema: {error}")
        if request.method != "GET" and 200 <= reply.status < 300:
            self._state.request_reconcile()
        return reply

    def _dispatch(self, request: ApiRequest) -> ApiReply:
        route = self._route(request.path)
        if route is None:
            raise ApiError(status_reply(404, "NotFound", "the server could not find the requested resource"))
        method = request.method
        if route.name is None:
            if method == "GET":
                return self._list(route, request.query)
        elif route.subresource is None:
            if method == "GET":
                return self._get(route)
            if method == "PATCH":
                return self._patch(route, request)
        elif route.subresource == "scale" and route.resource.has_scale:
            if method == "GET":
                return json_reply(self._scale_of(route))
            if method == "PUT":
                return self._put_scale(route, request)
        elif route.subresource == "eviction" and route.resource is POD:
            if method == "POST":
                return self._evict(route, request)
        else:
            raise ApiError(status_reply(404, "NotFound", "the server could not find the requested resource"))
        raise ApiError(
            status_reply(
                405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
            )
        )

    def _route(self, path: str) -> _Route | None:
        segments = [unquote(segment) for segment in path.strip("/").split("/")]
        if segments[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", segments[2:]
        elif len(segments) >= 3 and segments[0] == "apis":
            group, version, rest = segments[1], segments[2], segments[3:]
        else:
            return None
        namespace = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        if not rest or len(rest) > 3:
            return None
        resource = by_path(group, version, rest[0], self._types)
        if resource is None or (namespace is not None and not resource.namespaced):
            return None
        if not resource.namespaced and len(rest) > 1:
            namespace = None
        elif resource.namespaced and len(rest) > 1 and namespace is None:
            return None
        return _Route(
            resource, namespace, rest[1] if len(rest) > 1 else None, rest[2] if len(rest) > 2 else None
        )

    # Reads

    def _list(self, route: _Route, query: Mapping[str, str]) -> ApiReply:
        resource = route.resource
        if _is_watch(query.get("watch")):
            # The stand-in keeps no event history to stream from: it refuses a watch the way the API
            # server refuses one on a resource without watch support, rather than answer a list.
            message = f'watch is not supported on resources of kind "{resource.qualified}"'
            details = {"kind": resource.plural, **({"group": resource.group} if resource.group else {})}
            raise ApiError(status_reply(405, "MethodNotAllowed", message, details))
        supported = POD_FIELDS if resource is POD else NODE_FIELDS if resource is NODE else DEFAULT_FIELDS
        try:
            labels = parse_label_selector(query.get("labelSelector", ""))
            fields = parse_field_selector(query.get("fieldSelector", ""), supported)
        except SelectorError as error:
            raise bad_request(str(error)) from error
        limit = self._int_param(query, "limit")
        continued = _decode_continue(query.get("continue"))
        now = self._state.now()
        self._drop_compacted(now)
        after: tuple[str, str] | None = None
        if continued is None or continued.version < 0:
            # A first page, or an inconsistent continue token: read the objects as they are now.
            version = int(self._state.store.resource_version)
            objects = list(self._state.store.live_objects(resource))
            snapshot = None
            after = continued.after if continued else None
        else:
            version, after = continued.version, continued.after
            snapshot = self._snapshots.get((resource.kind, version))
            if snapshot is None:
                raise _expired(continued.after)
            objects = snapshot.objects
        selected = [
            obj
            for obj in objects
            if (route.namespace is None or obj["metadata"].get("namespace") == route.namespace)
            and (after is None or _position(obj) > after)
            and labels(obj["metadata"].get("labels", {}))
            and fields(obj)
        ]
        metadata: dict[str, Any] = {"resourceVersion": str(version)}
        if limit and len(selected) > limit:
            selected = selected[:limit]
            if snapshot is None:
                # Later pages must come from this instant: keep copies, as etcd keeps the revision.
                self._snapshots[(resource.kind, version)] = _Snapshot(
                    now, [copy.deepcopy(o) for o in objects]
                )
            metadata["continue"] = _encode_continue(version, _position(selected[-1]))
        items = []
        for obj in selected:
            # A copy: list items drop apiVersion/kind, the stored object must keep them.
            item = copy.deepcopy(self._checked(resource, obj))
            if not resource.custom:
                item.pop("apiVersion", None)
                item.pop("kind", None)
            items.append(item)
        return json_reply(
            {
                "kind": f"{resource.kind}List",
                "apiVersion": resource.api_version,
                "metadata": metadata,
                "items": items,
            }
        )

    def _drop_compacted(self, now: datetime) -> None:
        horizon = now - timedelta(seconds=CONTINUE_LIFETIME_SECONDS)
        for key in [key for key, snapshot in self._snapshots.items() if snapshot.taken_at <= horizon]:
            del self._snapshots[key]

    def _get(self, route: _Route) -> ApiReply:
        assert route.name is not None
        obj = self._state.store.get(route.resource, route.namespace, route.name)
        if obj is None:
            raise not_found(route.resource, route.name)
        return json_reply(self._checked(route.resource, obj))

    def _scale_of(self, route: _Route) -> JsonObject:
        assert route.name is not None
        parent = self._state.store.get(route.resource, route.namespace, route.name)
        if parent is None:
            raise not_found(route.resource, route.name)
        metadata = parent["metadata"]
        scale = {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                "name": metadata["name"],
                "namespace": metadata["namespace"],
                "uid": metadata["uid"],
                "resourceVersion": metadata["resourceVersion"],
                "creationTimestamp": metadata["creationTimestamp"],
            },
            "spec": {"replicas": parent["spec"].get("replicas", 1)},
            "status": {
                "replicas": parent.get("status", {}).get("replicas", 0),
                "selector": selector_string(parent["spec"]["selector"]),
            },
        }
        return self._checked_against(SCALE_SCHEMA, scale)

    # Writes

    def _put_scale(self, route: _Route, request: ApiRequest) -> ApiReply:
        assert route.name is not None
        body, warnings = self._read_body(request, SCALE_SCHEMA, "Scale", "autoscaling")
        if body.get("kind") != "Scale" or body.get("apiVersion") not in ("autoscaling/v1", None):
            raise bad_request(
                f"expected kind Scale in autoscaling/v1, got {body.get('kind')} {body.get('apiVersion')}"
            )
        metadata = body.get("metadata", {})
        if metadata.get("name") != route.name:
            raise bad_request(
                f"the name of the object ({metadata.get('name')}) does not match the name on the URL"
                f" ({route.name})"
            )
        if metadata.get("namespace") not in (None, route.namespace):
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        parent = self._state.store.live(route.resource, route.namespace, route.name)
        if parent is None:
            raise not_found(route.resource, route.name)
        version = metadata.get("resourceVersion")
        if version and version != parent["metadata"]["resourceVersion"]:
            raise conflict(route.resource, route.name)
        # The registry fills the namespace from the URL before it validates (ValidateScale).
        scale = {**body, "metadata": {**metadata, "namespace": route.namespace}}
        problems = validate_scale(scale)
        if problems:
            raise invalid("Scale", "autoscaling", route.name, problems)
        replicas = body.get("spec", {}).get("replicas", 0)
        if parent["spec"].get("replicas", 1) != replicas:
            # The new replicas then pass the workload's own update validation, as any update does.
            updated = copy.deepcopy(parent)
            updated["spec"]["replicas"] = replicas
            workload_problems = validate_workload_update(route.resource.kind, updated, parent)
            if workload_problems:
                raise invalid(route.resource.kind, route.resource.group, route.name, workload_problems)
            parent["spec"]["replicas"] = replicas
            parent["metadata"]["generation"] += 1
            self._state.store.touch(parent)
        return json_reply(self._scale_of(route), headers=warnings)

    def _patch(self, route: _Route, request: ApiRequest) -> ApiReply:
        assert route.name is not None
        resource = route.resource
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        if content_type not in MERGE_PATCH_TYPES:
            accepted = ", ".join(MERGE_PATCH_TYPES + OTHER_PATCH_TYPES)
            supported = (
                " (the stand-in applies only the merge patch types)"
                if content_type in OTHER_PATCH_TYPES
                else ""
            )
            message = f"{UNKNOWN_FORMAT}{accepted}{supported}"
            raise ApiError(status_reply(415, "UnsupportedMediaType", message))
        patch = self._json(request.body)
        if not isinstance(patch, dict):
            raise bad_request("the patch is not a JSON object")
        live = self._state.store.live(resource, route.namespace, route.name)
        if live is None:
            raise not_found(resource, route.name)
        version = (patch.get("metadata") or {}).get("resourceVersion")
        if version and version != live["metadata"]["resourceVersion"]:
            raise conflict(resource, route.name)
        patched = _merge_patch(copy.deepcopy(live), patch)
        warnings = self._field_validation(request.query, resource.schema, patched, resource.kind)
        self._check_types(resource.schema, patched, resource.kind, resource.group, route.name)
        problems = self._semantic_problems(resource, live, patched)
        if problems:
            raise invalid(resource.kind, resource.group, route.name, problems)
        if patched != live:
            patched["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
            self._state.store.replace(resource, patched)
        result = self._state.store.get(resource, route.namespace, route.name)
        assert result is not None
        return json_reply(self._checked(resource, result), headers=warnings)

    def _evict(self, route: _Route, request: ApiRequest) -> ApiReply:
        assert route.name is not None
        body, warnings = self._read_body(request, EVICTION_SCHEMA, "Eviction", "policy")
        if body.get("kind") != "Eviction" or body.get("apiVersion") not in ("policy/v1", "policy/v1beta1"):
            raise bad_request(f"not a Eviction object: {body.get('apiVersion')} {body.get('kind')}")
        if body.get("metadata", {}).get("name") != route.name:
            raise bad_request("name in URL does not match name in Eviction object")
        pod = self._state.store.live(POD, route.namespace, route.name)
        if pod is None:
            raise not_found(POD, route.name)
        delete_options = body.get("deleteOptions") or {}
        wanted_uid = (delete_options.get("preconditions") or {}).get("uid")
        if wanted_uid is not None and wanted_uid != pod["metadata"].get("uid"):
            # A pod of the same name recreated since the caller read it (the registry's precondition
            # check: k8s.io/apiserver storage Preconditions.Check).
            message = (
                f"Precondition failed: UID in precondition: {wanted_uid}, "
                f"UID in object meta: {pod['metadata'].get('uid')}"
            )
            raise ApiError(status_reply(409, "Conflict", message, _details(POD, route.name)))
        decision = self._disruption.evict(pod, delete_options)
        if decision.outcome == "evicted":
            return status_reply(201, None, "", success=True, headers=warnings)
        if decision.outcome == "misconfigured":
            return status_reply(500, None, decision.message)
        details: dict[str, Any] = {"causes": decision.causes}
        if decision.retry_after_seconds:
            details["retryAfterSeconds"] = decision.retry_after_seconds
        return status_reply(429, "TooManyRequests", decision.message, details)

    # Validation

    def _read_body(
        self, request: ApiRequest, schema: str, kind: str, group: str
    ) -> tuple[JsonObject, list[tuple[str, str]]]:
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        if content_type != JSON_TYPE:
            message = f"{UNKNOWN_FORMAT}{JSON_TYPE}, application/yaml, application/vnd.kubernetes.protobuf"
            raise ApiError(status_reply(415, "UnsupportedMediaType", message))
        body = self._json(request.body)
        if not isinstance(body, dict):
            raise bad_request(f'{kind} in version "v1" cannot be handled as a {kind}: not a JSON object')
        warnings = self._field_validation(request.query, schema, body, kind)
        name = (body.get("metadata") or {}).get("name", "")
        self._check_types(schema, body, kind, group, name)
        return body, warnings

    def _field_validation(
        self, query: Mapping[str, str], schema: str, obj: JsonObject, kind: str
    ) -> list[tuple[str, str]]:
        mode = query.get("fieldValidation", "Warn")
        if mode not in ("Ignore", "Warn", "Strict"):
            raise bad_request(f"fieldValidation must be one of Ignore, Warn or Strict, got {mode!r}")
        unknown = [v for v in violations(schema, obj) if v.kind == "unknown_field"]
        if not unknown:
            return []
        if mode == "Strict":
            raise bad_request("strict decoding error: " + ", ".join(v.message for v in unknown))
        dropped = prune_unknown_fields(schema, obj)
        if mode == "Ignore":
            return []
        return [("Warning", f'299 - "unknown field \\"{name}\\""') for name in dropped]

    @staticmethod
    def _check_types(schema: str, obj: JsonObject, kind: str, group: str, name: str) -> None:
        found = [v for v in violations(schema, obj) if v.kind != "unknown_field"]
        wrong_types = [v for v in found if v.kind == "type"]
        if wrong_types:
            raise bad_request(
                f'{kind} in version "v1" cannot be handled as a {kind}: '
                + "; ".join(v.message for v in wrong_types)
            )
        if found:
            raise invalid(kind, group, name, found)

    @staticmethod
    def _semantic_problems(resource: ResourceType, live: JsonObject, patched: JsonObject) -> list[FieldError]:
        """The update validation kube-apiserver runs for the kind (`validation.py` cites each rule)."""
        if resource.kind in ("Deployment", "ReplicaSet", "StatefulSet"):
            return validate_workload_update(resource.kind, patched, live)
        problems = validate_object_meta_update(patched["metadata"], live["metadata"])
        if resource is POD:
            cost = patched["metadata"].get("annotations", {}).get(POD_DELETION_COST)
            if cost is not None and not _is_int32(cost):
                problems.append(
                    FieldError(
                        "Invalid",
                        f"metadata.annotations[{POD_DELETION_COST}]",
                        cost,
                        "must be a 32bit integer",
                    )
                )
            live_spec = {k: v for k, v in live["spec"].items() if k != "tolerations"}
            patched_spec = {k: v for k, v in patched["spec"].items() if k != "tolerations"}
            if live_spec != patched_spec:
                problems.append(
                    FieldError(
                        "Forbidden",
                        "spec",
                        detail="pod updates may not change fields other than"
                        " `spec.containers[*].image`, `spec.tolerations`"
                        " (only additions to existing tolerations)",
                    )
                )
        return problems

    def _checked(self, resource: ResourceType, obj: JsonObject) -> JsonObject:
        return self._checked_against(resource.schema, obj)

    @staticmethod
    def _checked_against(schema: str, obj: JsonObject) -> JsonObject:
        problems = violations(schema, obj)
        if problems:
            raise StandInBug("; ".join(p.message for p in problems))
        return obj

    @staticmethod
    def _json(body: bytes) -> Any:
        try:
            return json.loads(body or b"null")
        except ValueError as error:
            raise bad_request(f"couldn't get version/kind; json parse error: {error}") from error

    @staticmethod
    def _int_param(query: Mapping[str, str], name: str) -> int | None:
        if name not in query:
            return None
        try:
            value = int(query[name])
        except ValueError as error:
            raise bad_request(f"{name}: invalid integer {query[name]!r}") from error
        return value if value > 0 else None


def _position(obj: JsonObject) -> tuple[str, str]:
    return (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])


@dataclass(frozen=True)
class _Snapshot:
    """The objects of one kind as they were at a list's resourceVersion (what etcd keeps until it
    compacts that revision)."""

    taken_at: datetime
    objects: list[JsonObject]


@dataclass(frozen=True)
class _Continue:
    version: int  # -1: an inconsistent token, read from the current state
    after: tuple[str, str]


def _encode_continue(version: int, after: tuple[str, str]) -> str:
    # The shape of apiserver's continue tokens (storage.EncodeContinue): base64 of a small JSON
    # object naming the resourceVersion and where the next page starts.
    token = {"v": "meta.k8s.io/v1", "rv": version, "start": f"{after[0]}/{after[1]}\u0000"}
    return base64.urlsafe_b64encode(json.dumps(token).encode()).decode()


def _decode_continue(token: str | None) -> _Continue | None:
    if not token:
        return None
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
        namespace, _, name = str(decoded["start"]).rstrip("\u0000").partition("/")
        return _Continue(int(decoded["rv"]), (namespace, name))
    except (ValueError, binascii.Error, KeyError, TypeError) as error:
        raise bad_request("continue key is not valid: illegal base64 data or shape") from error


def _expired(after: tuple[str, str]) -> ApiError:
    """410 Expired for a continue token whose snapshot is compacted, with an inconsistent token to
    read the rest from the current state (apiserver storage/etcd3 handleCompactedErrorForPaging)."""
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {"continue": _encode_continue(-1, after)},
        "status": "Failure",
        "message": EXPIRED_CONTINUE,
        "reason": "Expired",
        "code": 410,
    }
    return ApiError(ApiReply(410, json.dumps(body).encode()))


def _is_watch(value: str | None) -> bool:
    # A bool query parameter is true unless absent, "0" or "false" in any case (apimachinery
    # runtime Convert_Slice_string_To_bool): `?watch=` asks for a watch too.
    return value is not None and value != "0" and value.lower() != "false"


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON Merge Patch: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = target if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


def _is_int32(text: str) -> bool:
    try:
        value = int(text, 10)
    except ValueError:
        return False
    return -(2**31) <= value < 2**31 and text.strip() == text
