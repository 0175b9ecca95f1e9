"""An in-memory copy of the objects the model builder reads, and who uses what.

kopf's watch streams feed it (`apply_event`); the reconciler reads a consistent snapshot of
it (`state`). It also keeps the reverse indexes that let a Service, EndpointSlice or Node
change re-reconcile only the groups that use it, instead of every group in the cluster.
Threads read it (reconciles run in worker threads) while the event loop writes it, hence
the lock.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from controller.config import ModelDefaults
from controller.model import BuildError, ClusterState, GroupRef, group_of
from controller.model.groups import EXPLICIT_FINALIZER_PREFIX, IMPLICIT_FINALIZER

Body = Mapping[str, Any]

KINDS = ("Ingress", "Service", "EndpointSlice", "Node", "IngressClass")


def object_key(body: Body) -> str:
    meta = body.get("metadata") or {}
    namespace = meta.get("namespace")
    return f"{namespace}/{meta.get('name')}" if namespace else str(meta.get("name"))


def finalizer_groups(ingress: Body) -> set[str]:
    """The groups whose finalizer this Ingress carries (it may leave one and keep it)."""
    groups: set[str] = set()
    for finalizer in (ingress.get("metadata") or {}).get("finalizers") or ():
        if finalizer == IMPLICIT_FINALIZER:
            groups.add(object_key(ingress))
        elif isinstance(finalizer, str) and finalizer.startswith(EXPLICIT_FINALIZER_PREFIX):
            groups.add(finalizer.removeprefix(EXPLICIT_FINALIZER_PREFIX))
    return groups


def backend_services(ingress: Body) -> set[str]:
    """`ns/name` of every Service an Ingress routes to (spec, default backend, actions)."""
    namespace = (ingress.get("metadata") or {}).get("namespace", "")
    spec = ingress.get("spec") or {}
    names: set[str] = set()

    def add(backend: Any) -> None:
        if isinstance(backend, Mapping):
            service = backend.get("service")
            if isinstance(service, Mapping) and isinstance(service.get("name"), str):
                names.add(f"{namespace}/{service['name']}")

    add(spec.get("defaultBackend"))
    for rule in spec.get("rules") or ():
        for path in ((rule or {}).get("http") or {}).get("paths") or ():
            add((path or {}).get("backend"))
    # Weighted forward actions name Services too, inside their JSON annotations.
    annotations = (ingress.get("metadata") or {}).get("annotations") or {}
    for key, value in annotations.items():
        if key.startswith("alb.ingress.kubernetes.io/actions.") and isinstance(value, str):
            try:
                names.update(f"{namespace}/{n}" for n in _service_names(json.loads(value)))
            except ValueError:
                continue  # the model builder reports the bad JSON; nothing to index
    return names


def _service_names(value: Any) -> Iterable[str]:
    """Every `serviceName` anywhere inside a parsed action annotation."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key == "serviceName" and isinstance(item, str):
                yield item
            else:
                yield from _service_names(item)
    elif isinstance(value, list):
        for item in value:
            yield from _service_names(item)


@dataclass(frozen=True)
class Membership:
    """Where one Ingress stands: the group it belongs to now, and those it still holds."""

    group: GroupRef | None
    error: BuildError | None
    held: frozenset[str]  # groups whose finalizer it carries
    deleting: bool
    key: str = ""

    @property
    def groups(self) -> set[str]:
        """Every group this Ingress's change can affect.

        An Ingress that fits no group (a bad group.name) is reconciled as its own implicit
        group, so its error is reported and anything it held is released.
        """
        result = set(self.held)
        if self.group is not None:
            result.add(self.group.id)
        elif self.error is not None:
            result.add(self.key)
        return result


class ClusterCache:
    """The watched objects by kind and key, plus group and Service indexes."""

    def __init__(
        self, defaults: ModelDefaults, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._defaults = defaults
        self._clock = clock
        self._lock = threading.RLock()
        self._objects: dict[str, dict[str, Body]] = {kind: {} for kind in KINDS}
        # When each object last changed here: the cache audit (`kube.sync`) drops only what
        # no event touched since its list began.
        self._changed_at: dict[str, dict[str, float]] = {kind: {} for kind in KINDS}
        self._membership: dict[str, Membership] = {}
        self._ingress_services: dict[str, frozenset[str]] = {}  # Ingress -> Services it uses
        self._service_users: dict[str, set[str]] = {}  # Service -> Ingresses using it

    # --- writes (from watch events) ---------------------------------------------------

    def apply_event(self, kind: str, event_type: str | None, body: Body) -> None:
        key = object_key(body)
        with self._lock:
            if event_type == "DELETED":
                self._objects[kind].pop(key, None)
                self._changed_at[kind].pop(key, None)
            else:
                self._objects[kind][key] = body
                self._changed_at[kind][key] = self._clock()
            if kind == "Ingress":
                self._index_ingress(key, None if event_type == "DELETED" else body)
            elif kind == "IngressClass":
                for ingress_key, ingress in self._objects["Ingress"].items():
                    self._index_ingress(ingress_key, ingress)

    def _index_ingress(self, key: str, body: Body | None) -> None:
        if body is None:
            self._membership.pop(key, None)
        else:
            classes = list(self._objects["IngressClass"].values())
            found = group_of(body, classes, self._defaults)
            self._membership[key] = Membership(
                group=found if isinstance(found, GroupRef) else None,
                error=found if isinstance(found, BuildError) else None,
                held=frozenset(finalizer_groups(body)),
                deleting=bool((body.get("metadata") or {}).get("deletionTimestamp")),
                key=key,
            )
        self._index_services(key, backend_services(body) if body is not None else set())

    def _index_services(self, key: str, services: set[str]) -> None:
        # Incremental, per Ingress: rebuilding a whole index on every Ingress event made a
        # 1,000-Ingress cluster spend a third of its CPU here (bench/README.md).
        for service in self._ingress_services.pop(key, frozenset()) - services:
            users = self._service_users.get(service)
            if users is not None:
                users.discard(key)
                if not users:
                    del self._service_users[service]
        for service in services:
            self._service_users.setdefault(service, set()).add(key)
        if services:
            self._ingress_services[key] = frozenset(services)

    # --- reads ------------------------------------------------------------------------

    def keys(self, kind: str) -> set[str]:
        with self._lock:
            return set(self._objects[kind])

    def get(self, kind: str, key: str) -> Body | None:
        with self._lock:
            return self._objects[kind].get(key)

    def changed_before(self, kind: str, when: float) -> set[str]:
        """Keys of `kind` no event has touched since `when` (a `clock()` reading)."""
        with self._lock:
            return {key for key, at in self._changed_at[kind].items() if at < when}

    def membership(self, ingress_key: str) -> Membership | None:
        with self._lock:
            return self._membership.get(ingress_key)

    def ingress(self, key: str) -> Body | None:
        with self._lock:
            return self._objects["Ingress"].get(key)

    def groups(self) -> set[str]:
        """Every group that has a member or a finalizer holder."""
        with self._lock:
            return {g for m in self._membership.values() for g in m.groups}

    def group_members(self, group_id: str) -> list[str]:
        """Ingresses that belong to the group now, or hold its finalizer."""
        with self._lock:
            return sorted(k for k, m in self._membership.items() if group_id in m.groups)

    def groups_using_service(self, service_key: str) -> set[str]:
        with self._lock:
            return {
                group
                for key in self._service_users.get(service_key, ())
                for group in self._membership[key].groups
            }

    def groups_using_instance_targets(self) -> set[str]:
        """Groups a Node change may affect: every group (target type is decided per TG)."""
        return self.groups()

    def state(self) -> ClusterState:
        """A snapshot for the model builder."""
        with self._lock:
            return ClusterState(
                ingresses=tuple(self._objects["Ingress"].values()),
                services=tuple(self._objects["Service"].values()),
                endpoint_slices=tuple(self._objects["EndpointSlice"].values()),
                nodes=tuple(self._objects["Node"].values()),
                ingress_classes=tuple(self._objects["IngressClass"].values()),
            )
