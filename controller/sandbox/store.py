"""The in-memory object store behind the emulator: objects, resourceVersions, history, watch bus.

It keeps the API server's object semantics in one place, so the HTTP layer only translates
requests: a global monotonic resourceVersion (a counter, as a string), uid and
creationTimestamp on create, generation bumped only when something outside metadata (and
status, for types with a status subresource) changes, optimistic concurrency on update,
no-op updates that change nothing (no new resourceVersion, no event), status-subresource
isolation, finalizers with deletionTimestamp, namespace lifecycle (Terminating, then its
objects removed, then the namespace), and CustomResourceDefinitions that register their
resources on create.

Every change becomes an `Event` in a bounded history and is pushed to every `Subscription`
(one per watch), so a watch can resume from any resourceVersion still in the history and
gets 410 Expired for older ones. The store is thread-safe (one re-entrant lock) because
tests and seeding code call it from other threads than the server's event loop; pushes
cross into each subscriber's loop with `call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import re
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from controller.sandbox.errors import (
    ApiError,
    already_exists,
    bad_request,
    conflict,
    expired,
    invalid,
    not_found,
)
from controller.sandbox.resources import Registry, ResourceType, crd_resource_types
from controller.sandbox.selectors import FieldSelector, LabelSelector, field_value

Obj = dict[str, Any]
Key = tuple[str, str]
# Admission hook: (operation "CREATE"/"UPDATE", new object to mutate in place, old object).
Mutator = Callable[[str, Obj, Obj | None], None]

_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
NAMESPACES: Key = ("", "namespaces")
CRDS: Key = ("apiextensions.k8s.io", "customresourcedefinitions")
INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Event:
    """One change: its resourceVersion, type, storage key, the object after and before."""

    rv: int
    type: str  # ADDED, MODIFIED, DELETED
    key: Key
    obj: Obj
    old: Obj | None


class Subscription:
    """A watcher's queue of events, fed from whatever thread commits the change."""

    def __init__(self, store: Store, loop: asyncio.AbstractEventLoop, start_rv: int) -> None:
        self.queue: asyncio.Queue[Event] = asyncio.Queue()
        self.start_rv = start_rv
        self._store = store
        self._loop = loop

    def push(self, event: Event) -> None:
        try:
            self._loop.call_soon_threadsafe(self.queue.put_nowait, event)
        except RuntimeError:  # the subscriber's loop is closed; it will never read again
            self._store.unsubscribe(self)

    def close(self) -> None:
        self._store.unsubscribe(self)


class Store:
    """Objects by (group, plural) -> (namespace, name), with history and subscriptions."""

    def __init__(self, registry: Registry | None = None, history_limit: int = 2000) -> None:
        self.registry = registry or Registry()
        self.history_limit = history_limit
        self._lock = threading.RLock()
        self._objects: dict[Key, dict[tuple[str, str], Obj]] = {}
        self._rv = 0
        self._history: deque[Event] = deque()
        self._compacted = 0  # events up to this resourceVersion are no longer kept
        self._subs: set[Subscription] = set()
        self._mutators: dict[Key, list[Mutator]] = {}
        ns = self.resource("namespaces")
        for name in INITIAL_NAMESPACES:
            self.create(ns, {"metadata": {"name": name}})

    # Lookups ---------------------------------------------------------------------------

    def resource(self, plural: str, group: str = "", version: str | None = None) -> ResourceType:
        """A served resource by plural and group (the preferred version if none is given)."""
        versions = [version] if version else self.registry.versions(group)
        for v in versions:
            rt = self.registry.get(group, v, plural)
            if rt:
                return rt
        raise KeyError(f"no resource {plural!r} in group {group!r}")

    @property
    def resource_version(self) -> str:
        with self._lock:
            return str(self._rv)

    def add_mutator(self, key: Key, fn: Mutator) -> None:
        """Run `fn` on every create/update of this resource before it is stored (admission)."""
        with self._lock:
            self._mutators.setdefault(key, []).append(fn)

    def get(self, rt: ResourceType, namespace: str | None, name: str) -> Obj:
        with self._lock:
            obj = self._objects.get(rt.key, {}).get(self._ns_name(rt, namespace, name))
            if obj is None:
                raise not_found(rt.plural, rt.group, name)
            return copy.deepcopy(obj)

    def list_objects(
        self,
        rt: ResourceType,
        namespace: str | None = None,
        *,
        labels: LabelSelector | None = None,
        fields: FieldSelector | None = None,
        limit: int = 0,
        continue_token: str | None = None,
    ) -> tuple[list[Obj], str, str | None]:
        """Matching objects sorted by namespace/name, the list resourceVersion, next token."""
        with self._lock:
            rv = self._rv
            items = sorted(self._objects.get(rt.key, {}).items())
            start: list[str] | None = None
            if continue_token:
                try:
                    state = json.loads(base64.urlsafe_b64decode(continue_token))
                    start, rv = state["start"], int(state["rv"])
                except (ValueError, KeyError, TypeError) as exc:
                    raise bad_request("continue key is not valid") from exc
                # Every page reports the first page's resourceVersion, as the real server
                # does: a client then watches from there and is sent what changed while it
                # paged (an object created before the continue key would otherwise be in
                # neither the list nor the watch).
            out: list[Obj] = []
            token = None
            for (ns, name), obj in items:
                if start is not None and [ns, name] <= start:
                    continue
                if namespace and ns != namespace:
                    continue
                if not self.matches(obj, labels, fields):
                    continue
                if limit and len(out) >= limit:
                    last = out[-1]["metadata"]
                    state = {"rv": rv, "start": [last.get("namespace", ""), last["name"]]}
                    token = base64.urlsafe_b64encode(json.dumps(state).encode()).decode()
                    break
                out.append(copy.deepcopy(obj))
            return out, str(rv), token

    @staticmethod
    def matches(obj: Obj, labels: LabelSelector | None, fields: FieldSelector | None) -> bool:
        if labels and not labels.matches(obj.get("metadata", {}).get("labels")):
            return False
        return not fields or fields.matches(obj, field_value)

    def objects(self, key: Key) -> Iterator[Obj]:
        """Copies of every stored object under a key (for the simulator and tests)."""
        with self._lock:
            items = [copy.deepcopy(o) for o in self._objects.get(key, {}).values()]
        yield from items

    # Writes ----------------------------------------------------------------------------

    def create(
        self,
        rt: ResourceType,
        obj: Obj,
        namespace: str | None = None,
        keep_status: bool = False,
        dry_run: bool = False,
    ) -> Obj:
        """POST: store a new object; status is reset unless `keep_status` (seeding)."""
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise bad_request("metadata must be an object")
        with self._lock:
            if rt.namespaced:
                ns = namespace or meta.get("namespace") or "default"
                if meta.get("namespace") and meta["namespace"] != ns:
                    raise bad_request(
                        "the namespace of the provided object does not match the namespace "
                        "sent on the request"
                    )
                meta["namespace"] = ns
                self._check_namespace_open(ns)
            else:
                meta.pop("namespace", None)
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
            name = meta.get("name") or ""
            self._validate_name(rt, name)
            ident = self._ns_name(rt, meta.get("namespace"), name)
            if ident in self._objects.get(rt.key, {}):
                raise already_exists(rt.plural, rt.group, name)
            obj.setdefault("apiVersion", rt.api_version)
            obj.setdefault("kind", rt.kind)
            for gone in ("deletionTimestamp", "deletionGracePeriodSeconds", "resourceVersion"):
                meta.pop(gone, None)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now()
            meta["generation"] = 1
            if not keep_status:
                self._prepare_create_status(rt, obj)
            for fn in self._mutators.get(rt.key, []):
                fn("CREATE", obj, None)
            if dry_run:
                meta["resourceVersion"] = str(self._rv)
                return copy.deepcopy(obj)
            if rt.key == CRDS:
                self._establish(obj)
            self._objects.setdefault(rt.key, {})[ident] = obj
            self._commit("ADDED", rt.key, obj, None)
            return copy.deepcopy(obj)

    def update(
        self, rt: ResourceType, obj: Obj, subresource: str | None = None, dry_run: bool = False
    ) -> Obj:
        """PUT: replace an object; a set resourceVersion must match the stored one (409)."""
        meta = obj.get("metadata") or {}
        name = meta.get("name", "")
        return self.mutate(
            rt, meta.get("namespace"), name, lambda _: obj, subresource=subresource, dry_run=dry_run
        )

    def mutate(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        change: Callable[[Obj], Obj],
        *,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> Obj:
        """Replace an object by `change(current)` atomically (PATCH and PUT both land here)."""
        with self._lock:
            ident = self._ns_name(rt, namespace, name)
            old = self._objects.get(rt.key, {}).get(ident)
            if old is None:
                raise not_found(rt.plural, rt.group, name)
            new = copy.deepcopy(change(copy.deepcopy(old)))
            if not isinstance(new, dict) or not isinstance(new.get("metadata", {}), dict):
                raise bad_request(f'{rt.kind} "{name}": the object must be a JSON object')
            new_meta = new.setdefault("metadata", {})
            wanted_rv = new_meta.get("resourceVersion")
            if wanted_rv and wanted_rv != old["metadata"]["resourceVersion"]:
                raise conflict(rt.plural, rt.group, name)
            if new_meta.get("name", name) != name:
                raise bad_request(
                    f"the name of the object ({new_meta.get('name')}) does not match the name "
                    f"on the URL ({name})"
                )
            new = self._apply_update_policy(rt, old, new, subresource)
            for fn in self._mutators.get(rt.key, []):
                fn("UPDATE", new, old)
            if self._spec_changed(rt, old, new):
                new["metadata"]["generation"] = old["metadata"].get("generation", 1) + 1
            self._check_finalizers(rt, old, new)
            if new == old or dry_run:
                return copy.deepcopy(new)  # a no-op: no new resourceVersion, no event
            if rt.key == CRDS:
                self._establish(new)
            if old["metadata"].get("deletionTimestamp") and self._can_remove(rt.key, new):
                return self._remove(rt.key, ident, new)
            self._objects[rt.key][ident] = new
            self._commit("MODIFIED", rt.key, new, old)
            return copy.deepcopy(new)

    def delete(
        self, rt: ResourceType, namespace: str | None, name: str, dry_run: bool = False
    ) -> tuple[Obj, bool]:
        """DELETE: remove now (True), or mark for deletion while finalizers remain (False)."""
        with self._lock:
            ident = self._ns_name(rt, namespace, name)
            obj = self._objects.get(rt.key, {}).get(ident)
            if obj is None:
                raise not_found(rt.plural, rt.group, name)
            if dry_run:
                return copy.deepcopy(obj), not obj["metadata"].get("finalizers")
            return self._delete_locked(rt.key, ident, obj)

    # Watch -----------------------------------------------------------------------------

    def subscribe(
        self, key: Key | None, since: str | None, loop: asyncio.AbstractEventLoop
    ) -> tuple[Subscription, list[Event]]:
        """Start a watch: the events to send first, and a subscription for what follows.

        `since` None, "" or "0": synthetic ADDED events for the current objects. Otherwise the
        kept history after that resourceVersion, or 410 Expired if it is no longer kept.
        """
        with self._lock:
            if since in (None, "", "0"):
                initial = [
                    Event(
                        int(o["metadata"]["resourceVersion"]), "ADDED", key, copy.deepcopy(o), None
                    )
                    for key in ([key] if key else list(self._objects))
                    for o in self._objects.get(key, {}).values()
                ]
                initial.sort(key=lambda e: e.rv)
            else:
                try:
                    since_rv = int(since)
                except ValueError as exc:
                    raise bad_request(f"invalid resource version: {since!r}") from exc
                if since_rv < self._compacted:
                    raise expired(f"too old resource version: {since_rv} ({self._compacted + 1})")
                initial = [e for e in self._history if e.rv > since_rv and key in (None, e.key)]
            sub = Subscription(self, loop, self._rv)
            self._subs.add(sub)
            return sub, initial

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subs.discard(sub)

    # Internals -------------------------------------------------------------------------

    @staticmethod
    def _ns_name(rt: ResourceType, namespace: str | None, name: str) -> tuple[str, str]:
        return ((namespace or "") if rt.namespaced else "", name)

    def _validate_name(self, rt: ResourceType, name: str) -> None:
        if not name:
            raise invalid(rt.kind, rt.group, name, "metadata.name", "Required value: name or "
                          "generateName is required")  # fmt: skip
        pattern = _LABEL if rt.key == NAMESPACES else _NAME
        if len(name) > 253 or not pattern.fullmatch(name):
            raise invalid(
                rt.kind, rt.group, name, "metadata.name",
                f'Invalid value: "{name}": a lowercase RFC 1123 name must consist of lower case '
                "alphanumeric characters, '-' or '.', and must start and end with an "
                "alphanumeric character",
            )  # fmt: skip

    def _check_namespace_open(self, ns: str) -> None:
        nso = self._objects.get(NAMESPACES, {}).get(("", ns))
        if nso is None:
            raise not_found("namespaces", "", ns)
        if nso["metadata"].get("deletionTimestamp"):
            raise ApiError(
                403,
                "Forbidden",
                f"unable to create new content in namespace {ns} because it is being terminated",
                name=ns,
                kind="namespaces",
            )

    def _prepare_create_status(self, rt: ResourceType, obj: Obj) -> None:
        """What the real strategies' PrepareForCreate do with status."""
        if rt.key == NAMESPACES:
            obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
            obj["status"] = {"phase": "Active"}
        elif rt.key == ("", "pods"):
            obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
        elif rt.key == ("", "services"):
            obj["status"] = {"loadBalancer": {}}
        elif rt.key == ("", "nodes"):
            pass  # nodes may set status on create
        elif "status" in rt.subresources:
            obj.pop("status", None)

    @staticmethod
    def _apply_update_policy(rt: ResourceType, old: Obj, new: Obj, subresource: str | None) -> Obj:
        """Keep what an update may not change: identity, deletion marks, the other half."""
        if subresource == "status":
            result = copy.deepcopy(old)
            if "status" in new:
                result["status"] = new["status"]
            else:
                result.pop("status", None)
            return result
        if "status" in rt.subresources:
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        new["apiVersion"] = old.get("apiVersion", rt.api_version)
        new["kind"] = old.get("kind", rt.kind)
        meta, old_meta = new["metadata"], old["metadata"]
        for fixed in ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp",
                      "deletionGracePeriodSeconds", "generation", "resourceVersion"):  # fmt: skip
            if fixed in old_meta:
                meta[fixed] = old_meta[fixed]
            else:
                meta.pop(fixed, None)
        return new

    @staticmethod
    def _spec_changed(rt: ResourceType, old: Obj, new: Obj) -> bool:
        skip = {"metadata", "status"} if "status" in rt.subresources else {"metadata"}
        return {k: v for k, v in old.items() if k not in skip} != {
            k: v for k, v in new.items() if k not in skip
        }

    @staticmethod
    def _check_finalizers(rt: ResourceType, old: Obj, new: Obj) -> None:
        """No new finalizers on an object being deleted, as the real server validates."""
        if not old["metadata"].get("deletionTimestamp"):
            return
        added = set(new["metadata"].get("finalizers") or []) - set(
            old["metadata"].get("finalizers") or []
        )
        if added:
            raise invalid(
                rt.kind, rt.group, old["metadata"]["name"], "metadata.finalizers",
                f"Forbidden: no new finalizers can be added if the object is being deleted, "
                f"found new finalizers {sorted(added)!r}",
            )  # fmt: skip

    def _can_remove(self, key: Key, obj: Obj) -> bool:
        if obj["metadata"].get("finalizers"):
            return False
        if key == NAMESPACES:
            name = obj["metadata"]["name"]
            return not any(
                ns == name for k, objs in self._objects.items() if k != NAMESPACES for ns, _ in objs
            )
        return True

    def _delete_locked(self, key: Key, ident: tuple[str, str], obj: Obj) -> tuple[Obj, bool]:
        if obj["metadata"].get("deletionTimestamp"):
            return copy.deepcopy(obj), False
        if key != NAMESPACES and self._can_remove(key, obj):
            return self._remove(key, ident, obj), True
        marked = copy.deepcopy(obj)
        marked["metadata"]["deletionTimestamp"] = now()
        marked["metadata"]["deletionGracePeriodSeconds"] = 0
        marked["metadata"]["generation"] = obj["metadata"].get("generation", 1) + 1
        if key == NAMESPACES:
            marked.setdefault("status", {})["phase"] = "Terminating"
        self._objects[key][ident] = marked
        self._commit("MODIFIED", key, marked, obj)
        if key == NAMESPACES:
            self._empty_namespace(ident[1])
            current = self._objects[key].get(ident)
            if current is not None and self._can_remove(key, current):
                self._remove(key, ident, current)
        return copy.deepcopy(marked), False

    def _empty_namespace(self, ns: str) -> None:
        """The namespace controller: delete every object in a terminating namespace."""
        for key, objs in list(self._objects.items()):
            if key == NAMESPACES:
                continue
            for ident, obj in list(objs.items()):
                if ident[0] == ns:
                    self._delete_locked(key, ident, obj)

    def _remove(self, key: Key, ident: tuple[str, str], obj: Obj) -> Obj:
        gone = copy.deepcopy(obj)
        self._objects[key].pop(ident, None)
        if key == CRDS:
            self._unserve(gone)
        self._commit("DELETED", key, gone, obj)
        ns = ident[0]
        if ns:
            nso = self._objects.get(NAMESPACES, {}).get(("", ns))
            if (
                nso
                and nso["metadata"].get("deletionTimestamp")
                and self._can_remove(NAMESPACES, nso)
            ):
                self._remove(NAMESPACES, ("", ns), nso)
        return copy.deepcopy(gone)

    def _commit(self, kind: str, key: Key, obj: Obj, old: Obj | None) -> None:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        event = Event(self._rv, kind, key, copy.deepcopy(obj), copy.deepcopy(old) if old else None)
        self._history.append(event)
        while len(self._history) > self.history_limit:
            self._compacted = self._history.popleft().rv
        for sub in list(self._subs):
            sub.push(event)

    def _establish(self, crd: Obj) -> None:
        """Serve a CRD's resources and report it Established, as the apiextensions server does."""
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        if not spec.get("group") or not names.get("plural") or not names.get("kind"):
            raise invalid(
                "CustomResourceDefinition", "apiextensions.k8s.io",
                crd["metadata"].get("name", ""), "spec",
                "Required value: group, names.plural and names.kind are required",
            )  # fmt: skip
        expected = f"{names['plural']}.{spec['group']}"
        if crd["metadata"]["name"] != expected:
            raise invalid(
                "CustomResourceDefinition", "apiextensions.k8s.io", crd["metadata"]["name"],
                "metadata.name", f'Invalid value: must be spec.names.plural+"."+spec.group '
                f"({expected})",
            )  # fmt: skip
        self.registry.remove_group_resource(spec["group"], names["plural"])
        for rt in crd_resource_types(crd):
            self.registry.add(rt)
        stamp = now()
        crd["status"] = {
            "acceptedNames": names,
            "storedVersions": [v["name"] for v in spec.get("versions") or [] if v.get("storage")],
            "conditions": [
                {"type": t, "status": "True", "reason": r, "message": m,
                 "lastTransitionTime": stamp}
                for t, r, m in (
                    ("NamesAccepted", "NoConflicts", "no conflicts found"),
                    ("Established", "InitialNamesAccepted", "the initial names have been accepted"),
                )
            ],
        }  # fmt: skip

    def _unserve(self, crd: Obj) -> None:
        """A deleted CRD takes its custom objects with it, then stops being served."""
        spec = crd.get("spec") or {}
        key = (spec.get("group", ""), (spec.get("names") or {}).get("plural", ""))
        for ident, obj in list(self._objects.get(key, {}).items()):
            self._objects[key].pop(ident)
            self._commit("DELETED", key, copy.deepcopy(obj), obj)
        self.registry.remove_group_resource(*key)
