"""No reconcile before the cache holds the cluster: the initial-sync barrier.

kopf lists every watched kind, then watches it, and hands each listed object to our
handlers one by one; it says nothing when a kind's initial list is done. A reconcile that
starts before then builds its group from a partial cache: a Service not yet seen makes its
Ingress invalid, and the deploy deletes that member's live rules and target groups until the
Service arrives a few seconds later (seen on every restart of a 100-Ingress fleet).
controller-runtime waits for its informers' HasSynced; this is the same wait for kopf.

At start-up `InitialSync` lists each watched kind itself (keys only, paged), then waits
until the watch-fed cache holds every listed key. An object deleted between our list and
kopf's never reaches the cache, so a kind still missing keys after a while is listed again
and only keys present in both lists are waited for. Objects created after our list are not
waited for: kopf delivers them like any other change.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from kubernetes import client as k8s

logger = logging.getLogger(__name__)

PAGE = 500
RELIST_AFTER = 5.0  # seconds a kind may miss listed keys before it is listed again


class Lister(Protocol):
    def keys(self, kind: str) -> set[str]:
        """`ns/name` (or `name` when cluster-scoped) of every object of `kind` now."""
        ...


class CacheView(Protocol):
    def keys(self, kind: str) -> set[str]:
        """Keys of the objects of `kind` the watches have delivered so far."""
        ...


class ApiLister:
    """Lists watched kinds through the API (the ClusterRole's `list`, which the watches use
    too), keys only: the bodies are read as JSON, never built into client models."""

    def __init__(self, api: Any, namespaces: Iterable[str] = ()) -> None:
        core, networking = k8s.CoreV1Api(api), k8s.NetworkingV1Api(api)
        discovery = k8s.DiscoveryV1Api(api)
        # kind -> (list in all namespaces or cluster-scoped, list in one namespace or None)
        self._calls: dict[str, tuple[Callable[..., Any], Callable[..., Any] | None]] = {
            "Ingress": (networking.list_ingress_for_all_namespaces,
                        networking.list_namespaced_ingress),
            "Service": (core.list_service_for_all_namespaces, core.list_namespaced_service),
            "EndpointSlice": (discovery.list_endpoint_slice_for_all_namespaces,
                              discovery.list_namespaced_endpoint_slice),
            "Node": (core.list_node, None),
            "IngressClass": (networking.list_ingress_class, None),
        }  # fmt: skip
        self._namespaces = list(namespaces)

    def keys(self, kind: str) -> set[str]:
        everywhere, in_namespace = self._calls[kind]
        if in_namespace is None or not self._namespaces:
            return self._pages(everywhere)
        found: set[str] = set()
        for namespace in self._namespaces:
            found |= self._pages(in_namespace, namespace)
        return found

    @staticmethod
    def _pages(call: Callable[..., Any], *args: str) -> set[str]:
        keys: set[str] = set()
        token: str | None = None
        while True:
            response = call(*args, limit=PAGE, _continue=token, _preload_content=False)
            try:
                page = json.loads(response.data)
            finally:
                response.release_conn()
            for item in page.get("items") or ():
                meta = item.get("metadata") or {}
                ns, name = meta.get("namespace"), meta.get("name")
                keys.add(f"{ns}/{name}" if ns else str(name))
            token = (page.get("metadata") or {}).get("continue") or None
            if not token:
                return keys


class InitialSync:
    """`await wait()` returns once the cache holds what the cluster held at start-up."""

    def __init__(
        self,
        lister: Lister,
        cache: CacheView,
        kinds: Iterable[str],
        clock: Callable[[], float] = time.monotonic,
        interval: float = 0.2,
    ) -> None:
        self._lister = lister
        self._cache = cache
        self._kinds = list(kinds)
        self._clock = clock
        self._interval = interval

    async def wait(self) -> None:
        started = self._clock()
        wanted = {kind: await asyncio.to_thread(self._lister.keys, kind) for kind in self._kinds}
        listed_at = dict.fromkeys(self._kinds, started)
        while True:
            missing = {k: wanted[k] - self._cache.keys(k) for k in self._kinds}
            if not any(missing.values()):
                break
            for kind, keys in missing.items():
                if keys and self._clock() - listed_at[kind] > RELIST_AFTER:
                    # Gone since our list? Then kopf will never report it: stop waiting.
                    now = await asyncio.to_thread(self._lister.keys, kind)
                    wanted[kind] &= now
                    listed_at[kind] = self._clock()
                    logger.info("initial sync: %d %s still unseen, listed again", len(keys), kind)
            await asyncio.sleep(self._interval)
        counts = ", ".join(f"{len(wanted[k])} {k}" for k in self._kinds)
        logger.info("cache synced in %.1fs: %s", self._clock() - started, counts)
