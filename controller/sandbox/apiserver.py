"""The Kubernetes API emulator's HTTP side: an aiohttp app serving discovery and resources.

Plain HTTP on 127.0.0.1, no authentication (any bearer token is accepted), so kubectl, the
`kubernetes` Python client and kopf use it unmodified with the kubeconfig from
`kubeconfig.py`. This module only translates HTTP to `Store` calls: it parses paths and
query parameters, picks the patch flavour by Content-Type, renders Tables for kubectl, streams
watches (history replay, bookmarks, timeoutSeconds, 410 as an ERROR event) and turns
`ApiError` into `Status` responses. `ApiServer` runs it in the caller's event loop;
`ApiServerThread` runs it in a background thread for synchronous callers (tests, kubectl).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import yaml
from aiohttp import web

from controller.sandbox import openapi
from controller.sandbox.conversion import storage_type, to_served, to_stored
from controller.sandbox.errors import ApiError, bad_request
from controller.sandbox.patching import json_patch, merge_patch, strategic_merge_patch
from controller.sandbox.resources import ResourceType
from controller.sandbox.selectors import parse_field_selector, parse_label_selector
from controller.sandbox.store import Event, Obj, Store, Subscription
from controller.sandbox.tables import table

VERSION_INFO = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-sandbox",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "go1.23.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}
JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true")


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(body), status=status, content_type=JSON)


@dataclass(frozen=True)
class Target:
    """What a resource URL addresses."""

    rt: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None


class ApiServer:
    """The emulator on 127.0.0.1; `start()` binds (port 0 = any free port), `stop()` closes."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        store: Store | None = None,
        bookmark_interval: float = 15.0,
        default_watch_timeout: float = 1800.0,
    ) -> None:
        self.host = host
        self.port = port
        self.store = store or Store()
        self.bookmark_interval = bookmark_interval
        self.default_watch_timeout = default_watch_timeout
        self._runner: web.AppRunner | None = None
        self._watches: set[Subscription] = set()
        self._on_start: list[Callable[[], Awaitable[None]]] = []
        self._on_stop: list[Callable[[], Awaitable[None]]] = []

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def on_start(self, fn: Callable[[], Awaitable[None]]) -> None:
        """Run `fn` in the server's loop once it listens (the workload simulator starts here)."""
        self._on_start.append(fn)

    def on_stop(self, fn: Callable[[], Awaitable[None]]) -> None:
        """Run `fn` when the server stops (the workload simulator stops its task here)."""
        self._on_stop.append(fn)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{path:.*}", self._dispatch)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        for fn in self._on_start:
            await fn()

    async def stop(self) -> None:
        for fn in self._on_stop:
            await fn()
        for sub in list(self._watches):
            sub.queue.put_nowait(None)  # type: ignore[arg-type]  # wakes and ends the watch
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # Dispatch --------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._route(request)
        except ApiError as exc:
            return _json(exc.status(), exc.code)
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except Exception as exc:  # the emulator's own bug: answer like a server, and say what
            return _json(ApiError(500, "InternalError", f"sandbox error: {exc!r}").status(), 500)

    async def _route(self, request: web.Request) -> web.StreamResponse:
        parts = [p for p in request.path.split("/") if p]
        registry = self.store.registry
        if request.path in ("/healthz", "/readyz", "/livez"):
            return web.Response(text="ok")
        if parts == ["version"]:
            return _json(VERSION_INFO)
        if parts == ["api"]:
            return _json({
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": f"{self.host}:{self.port}"}
                ],
            })  # fmt: skip
        if parts == ["apis"]:
            return _json(registry.api_group_list())
        if parts[:2] == ["openapi", "v3"]:
            return self._openapi(parts[2:])
        if len(parts) == 2 and parts[0] == "apis":
            if not registry.versions(parts[1]):
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return _json(registry.api_group(parts[1]))
        if parts[:1] == ["api"] and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if not rest:
            doc = registry.api_resource_list(group, version)
            if doc is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return _json(doc)
        target = self._target(group, version, rest)
        return await self._serve(request, target)

    def _openapi(self, rest: list[str]) -> web.Response:
        if not rest:
            return _json(openapi.index(self.store.registry))
        if rest[0] == "api" and len(rest) == 2:
            doc = openapi.group_version_doc(self.store.registry, "", rest[1])
        elif rest[0] == "apis" and len(rest) == 3:
            doc = openapi.group_version_doc(self.store.registry, rest[1], rest[2])
        else:
            doc = None
        if doc is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return _json(doc)

    def _target(self, group: str, version: str, rest: list[str]) -> Target:
        registry = self.store.registry

        def lookup(plural: str) -> ResourceType:
            rt = registry.get(group, version, plural)
            if rt is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return rt

        if rest[0] == "namespaces" and len(rest) >= 3:
            inner = registry.get(group, version, rest[2])
            if inner is not None and inner.namespaced:
                sub = rest[4] if len(rest) > 4 else None
                if len(rest) > 5:
                    raise ApiError(
                        404, "NotFound", "the server could not find the requested resource"
                    )
                return Target(inner, rest[1], rest[3] if len(rest) > 3 else None, sub)
        rt = lookup(rest[0])
        if len(rest) > 3:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if name is not None and rt.namespaced:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if sub is not None and sub not in rt.subresources:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return Target(rt, None, name, sub)

    async def _serve(self, request: web.Request, t: Target) -> web.StreamResponse:
        method = request.method
        q = request.query
        if t.subresource is not None and t.subresource not in t.rt.subresources:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if t.name is None:
            if method == "GET":
                if _truthy(q.get("watch")):
                    return await self._watch(request, t)
                return self._list(request, t)
            if method == "POST":
                return self._create(t, await self._body(request), _dry(q))
            if method == "DELETE":
                return self._delete_collection(request, t)
            raise ApiError(405, "MethodNotAllowed", f"{method} is not supported on a collection")
        if t.subresource == "scale":
            return await self._scale(request, t)
        if method == "GET":
            obj = self.store.get(self._stored_rt(t.rt), t.namespace, t.name)
            if _wants_table(request):
                return _json(
                    table(
                        t.rt,
                        [to_served(t.rt, obj)],
                        _include(q),
                        obj["metadata"]["resourceVersion"],
                    )
                )
            return _json(to_served(t.rt, obj))
        if method == "PUT":
            body = to_stored(t.rt, await self._body(request))
            self._check_identity(t, body)
            obj = self.store.update(self._stored_rt(t.rt), body, t.subresource, dry_run=_dry(q))
            return _json(to_served(t.rt, obj))
        if method == "PATCH":
            return await self._patch(request, t)
        if method == "DELETE":
            return await self._delete(request, t)
        raise ApiError(405, "MethodNotAllowed", f"{method} is not supported")

    def _stored_rt(self, rt: ResourceType) -> ResourceType:
        if rt.storage is None:
            return rt
        return storage_type(rt, self.store.resource(rt.storage[1], rt.storage[0]))

    async def _body(self, request: web.Request) -> Any:
        raw = await request.read()
        ctype = request.content_type
        try:
            if ctype == APPLY_PATCH or ctype.endswith("yaml"):
                return yaml.safe_load(raw)
            return json.loads(raw or b"null")
        except (ValueError, yaml.YAMLError) as exc:
            raise bad_request(f"the request body is not valid JSON: {exc}") from exc

    def _check_identity(self, t: Target, body: Any) -> None:
        if not isinstance(body, dict):
            raise bad_request(f"the body of a {t.rt.kind} request must be a JSON object")
        meta = body.setdefault("metadata", {})
        if t.rt.namespaced:
            if meta.get("namespace") and meta["namespace"] != t.namespace:
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on "
                    "the request"
                )
            meta["namespace"] = t.namespace
        if t.name is not None:
            if meta.get("name") and meta["name"] != t.name:
                raise bad_request(
                    f"the name of the object ({meta['name']}) does not match the name on the URL "
                    f"({t.name})"
                )
            meta["name"] = t.name
        kind, api_version = body.get("kind"), body.get("apiVersion")
        if (kind and kind != t.rt.kind) or (api_version and api_version != t.rt.api_version):
            stored = self._stored_rt(t.rt)
            if (kind, api_version) != (stored.kind, stored.api_version):
                raise bad_request(
                    f"the API version in the data ({api_version}) and kind ({kind}) do not match "
                    f"the request: expected {t.rt.api_version} {t.rt.kind}"
                )

    # Verbs -----------------------------------------------------------------------------

    def _list(self, request: web.Request, t: Target) -> web.Response:
        q = request.query
        labels = parse_label_selector(q.get("labelSelector"))
        fields = parse_field_selector(q.get("fieldSelector"), t.rt.fields, t.rt.plural)
        try:
            limit = int(q.get("limit") or 0)
        except ValueError as exc:
            raise bad_request("limit must be an integer") from exc
        items, rv, token = self.store.list_objects(
            self._stored_rt(t.rt),
            t.namespace,
            labels=labels,
            fields=fields,
            limit=limit,
            continue_token=q.get("continue"),
        )
        served = [to_served(t.rt, o) for o in items]
        if _wants_table(request):
            return _json(table(t.rt, served, _include(q), rv))
        meta: dict[str, Any] = {"resourceVersion": rv}
        if token:
            meta["continue"] = token
        return _json({"kind": t.rt.list_kind, "apiVersion": t.rt.api_version, "metadata": meta,
                      "items": served})  # fmt: skip

    def _create(self, t: Target, body: Any, dry_run: bool) -> web.Response:
        body = to_stored(t.rt, body)
        self._check_identity(t, body)
        obj = self.store.create(self._stored_rt(t.rt), body, t.namespace, dry_run=dry_run)
        return _json(to_served(t.rt, obj), 201)

    async def _patch(self, request: web.Request, t: Target) -> web.Response:
        ctype = request.content_type
        body = await self._body(request)
        rt = self._stored_rt(t.rt)
        if ctype == STRATEGIC_PATCH and t.rt.custom:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format - accepted media types "
                f"include: {JSON_PATCH}, {MERGE_PATCH}, {APPLY_PATCH}",
            )

        def change(current: Obj) -> Obj:
            served = to_served(t.rt, current)
            if ctype == MERGE_PATCH:
                patched = merge_patch(served, body)
            elif ctype == JSON_PATCH:
                patched = json_patch(served, body)
            elif ctype == STRATEGIC_PATCH:
                patched = strategic_merge_patch(served, body, t.rt.group, t.rt.kind)
            elif ctype == APPLY_PATCH:
                # Server-side apply, approximated: a merge (strategic for built-in types)
                # without field ownership; enough for `kubectl apply --server-side` basics.
                if t.rt.custom:
                    patched = merge_patch(served, body)
                else:
                    patched = strategic_merge_patch(served, body, t.rt.group, t.rt.kind)
            else:
                raise ApiError(
                    415,
                    "UnsupportedMediaType",
                    f"the body of the request was in an unknown format - accepted media types "
                    f"include: {JSON_PATCH}, {MERGE_PATCH}, {STRATEGIC_PATCH}, {APPLY_PATCH}",
                )
            if not isinstance(patched, dict):
                raise bad_request("the patch must leave an object")
            return to_stored(t.rt, patched)

        try:
            obj = self.store.mutate(
                rt,
                t.namespace,
                t.name or "",
                change,
                subresource=t.subresource,
                dry_run=_dry(request.query),
            )
        except ApiError as exc:
            if exc.code == 404 and ctype == APPLY_PATCH and t.subresource is None:
                return self._create(t, body, _dry(request.query))
            raise
        return _json(to_served(t.rt, obj))

    async def _delete(self, request: web.Request, t: Target) -> web.Response:
        options: Any = {}
        if request.can_read_body:
            options = await self._body(request) or {}
        rt = self._stored_rt(t.rt)
        precond = options.get("preconditions") or {} if isinstance(options, dict) else {}
        if precond:
            current = self.store.get(rt, t.namespace, t.name or "")
            for field in ("uid", "resourceVersion"):
                want, have = precond.get(field), current["metadata"].get(field)
                if want and want != have:
                    raise ApiError(
                        409,
                        "Conflict",
                        f"Precondition failed: {field[0].upper()}{field[1:]} in precondition: "
                        f"{want}, {field[0].upper()}{field[1:]} in object meta: {have}",
                        name=t.name or "",
                        group=t.rt.group,
                        kind=t.rt.plural,
                    )
        obj, gone = self.store.delete(rt, t.namespace, t.name or "", dry_run=_dry(request.query))
        if gone and not t.rt.returns_deleted:
            return _json({
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": {"name": t.name, "group": t.rt.group, "kind": t.rt.plural,
                            "uid": obj["metadata"]["uid"]},
            })  # fmt: skip
        return _json(to_served(t.rt, obj))

    def _delete_collection(self, request: web.Request, t: Target) -> web.Response:
        q = request.query
        labels = parse_label_selector(q.get("labelSelector"))
        fields = parse_field_selector(q.get("fieldSelector"), t.rt.fields, t.rt.plural)
        rt = self._stored_rt(t.rt)
        items, _, _ = self.store.list_objects(rt, t.namespace, labels=labels, fields=fields)
        for item in items:
            meta = item["metadata"]
            with contextlib.suppress(ApiError):
                self.store.delete(rt, meta.get("namespace"), meta["name"], dry_run=_dry(q))
        return _json({"kind": t.rt.list_kind, "apiVersion": t.rt.api_version,
                      "metadata": {"resourceVersion": self.store.resource_version},
                      "items": [to_served(t.rt, o) for o in items]})  # fmt: skip

    async def _scale(self, request: web.Request, t: Target) -> web.Response:
        rt = self._stored_rt(t.rt)

        def as_scale(obj: Obj) -> Obj:
            meta = obj["metadata"]
            sel = (obj.get("spec") or {}).get("selector") or {}
            selector = ",".join(f"{k}={v}" for k, v in (sel.get("matchLabels") or {}).items())
            return {
                "kind": "Scale",
                "apiVersion": "autoscaling/v1",
                "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                                  "creationTimestamp") if k in meta},
                "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 1)},
                "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                           "selector": selector},
            }  # fmt: skip

        if request.method == "GET":
            return _json(as_scale(self.store.get(rt, t.namespace, t.name or "")))
        if request.method not in ("PUT", "PATCH"):
            raise ApiError(405, "MethodNotAllowed", f"{request.method} is not supported on scale")
        body = await self._body(request)
        ctype = request.content_type

        def change(current: Obj) -> Obj:
            scale = as_scale(current)
            if request.method == "PUT":
                new_scale = body
            elif ctype == JSON_PATCH:
                new_scale = json_patch(scale, body)
            else:
                new_scale = merge_patch(scale, body)
            if not isinstance(new_scale, dict):
                raise bad_request("a Scale must be a JSON object")
            replicas = (new_scale.get("spec") or {}).get("replicas")
            if not isinstance(replicas, int) or replicas < 0:
                raise ApiError(
                    422,
                    "Invalid",
                    f'Scale.autoscaling "{t.name}" is invalid: spec.replicas: Invalid value: '
                    f"{replicas!r}: must be a non-negative integer",
                )
            current.setdefault("spec", {})["replicas"] = replicas
            wanted_rv = (new_scale.get("metadata") or {}).get("resourceVersion")
            current["metadata"]["resourceVersion"] = wanted_rv or None
            return current

        obj = self.store.mutate(rt, t.namespace, t.name or "", change, dry_run=_dry(request.query))
        return _json(as_scale(obj))

    # Watch -----------------------------------------------------------------------------

    async def _watch(self, request: web.Request, t: Target) -> web.StreamResponse:
        q = request.query
        labels = parse_label_selector(q.get("labelSelector"))
        fields = parse_field_selector(q.get("fieldSelector"), t.rt.fields, t.rt.plural)
        try:
            timeout = float(q.get("timeoutSeconds") or self.default_watch_timeout)
        except ValueError as exc:
            raise bad_request("timeoutSeconds must be a number") from exc
        bookmarks = _truthy(q.get("allowWatchBookmarks"))
        initial_events = _truthy(q.get("sendInitialEvents"))
        since = q.get("resourceVersion")
        rt = self._stored_rt(t.rt)
        loop = asyncio.get_running_loop()
        response = web.StreamResponse(headers={"Content-Type": JSON})
        await response.prepare(request)
        try:
            sub, initial = self.store.subscribe(rt.key, None if initial_events else since, loop)
        except ApiError as exc:
            if exc.code != 410:
                raise
            await response.write(_line({"type": "ERROR", "object": exc.status()}))
            return response
        self._watches.add(sub)
        last_rv = int(since) if since and since.isdigit() else 0
        last_rv = max(last_rv, max((e.rv for e in initial), default=0))

        def frame(event: Event) -> bytes | None:
            if t.namespace and event.obj["metadata"].get("namespace") != t.namespace:
                return None
            now_in = self.store.matches(event.obj, labels, fields)
            was_in = event.old is not None and self.store.matches(event.old, labels, fields)
            kind = event.type
            if kind == "MODIFIED":
                if now_in and not was_in:
                    kind = "ADDED"
                elif was_in and not now_in:
                    kind = "DELETED"
                elif not now_in:
                    return None
            elif not now_in:
                return None
            return _line({"type": kind, "object": to_served(t.rt, event.obj)})

        def bookmark(rv: int, end_of_initial: bool = False) -> bytes:
            meta: dict[str, Any] = {"resourceVersion": str(rv)}
            if end_of_initial:
                meta["annotations"] = {"k8s.io/initial-events-end": "true"}
            return _line({"type": "BOOKMARK",
                          "object": {"kind": t.rt.kind, "apiVersion": t.rt.api_version,
                                     "metadata": meta}})  # fmt: skip

        deadline = loop.time() + timeout
        try:
            for event in initial:
                data = frame(event)
                if data:
                    await response.write(data)
            if initial_events and bookmarks:
                last_rv = max(last_rv, sub.start_rv)
                await response.write(bookmark(last_rv, end_of_initial=True))
            last_rv = max(last_rv, sub.start_rv)
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                wait = min(remaining, self.bookmark_interval) if bookmarks else remaining
                try:
                    event = await asyncio.wait_for(sub.queue.get(), wait)
                except TimeoutError:
                    if bookmarks and loop.time() < deadline:
                        await response.write(bookmark(last_rv))
                    continue
                if event is None:  # the server is stopping
                    break
                last_rv = max(last_rv, event.rv)
                if event.key != rt.key:
                    continue
                data = frame(event)
                if data:
                    await response.write(data)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            sub.close()
            self._watches.discard(sub)
        return response


def _line(event: Obj) -> bytes:
    return (json.dumps(event) + "\n").encode()


def _dry(query: Any) -> bool:
    return bool(query.getall("dryRun", []))


def _wants_table(request: web.Request) -> bool:
    return "as=Table" in request.headers.get("Accept", "")


def _include(query: Any) -> str:
    return str(query.get("includeObject") or "PartialObjectMetadata")


class ApiServerThread:
    """The emulator in a background thread with its own event loop, for synchronous callers.

    Use as a context manager: `with ApiServerThread() as api: ... api.url ... api.store`.
    `call(coro_fn)` runs a coroutine function in the server's loop (e.g. simulator hooks).
    """

    def __init__(self, server: ApiServer | None = None) -> None:
        self.server = server or ApiServer()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="sandbox-apiserver")  # fmt: skip

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def store(self) -> Store:
        return self.server.store

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def start(self) -> ApiServerThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> ApiServerThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
