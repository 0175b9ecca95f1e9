"""The cache against the cluster: the initial-sync barrier, and the audit for missed deletions.

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

After that, `CacheAudit` catches what a watch gap hides. When a watch cannot resume (410
Gone: its resourceVersion was compacted away, as after an API server restart), kopf lists the
kind again and replays every object, but says nothing of the objects deleted during the gap:
client-go's reflector diffs the new list against its store, kopf does not. Without the diff,
a Service deleted while the watch was down stays in the cache and its target group in AWS
for as long as the process lives. The audit lists the kind (metadata only) shortly after kopf
replays it, and every `AUDIT_EVERY` seconds anyway (a kind whose objects were all deleted is
replayed as nothing at all), and hands each cached object missing from the list, untouched
since the list began, to `on_gone` as a deletion.

A kind of an optional CRD (IngressClassParams, TargetGroupBinding) may not exist in the
cluster: its list answers 404, `UnavailableKindError`. Then there is nothing to wait for, and
kopf, which resolves its resources once at start-up, does not watch it either;
`on_unavailable` tells the cache, so the model knows those objects cannot be read rather
than that there are none.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from kubernetes import client as k8s

logger = logging.getLogger(__name__)

# Objects per list request, here and in kopf's lists (`operator.configure`): a page is
# decoded whole, so the initial list of a large cluster is held a page at a time, not a kind.
PAGE = 100
RELIST_AFTER = 5.0  # seconds a kind may miss listed keys before it is listed again
AUDIT_EVERY = 60.0  # seconds between audits of every kind
AUDIT_SETTLE = 2.0  # seconds after the last replayed object before a replayed kind is audited
# Lists read object metadata only: the audit needs keys, not EndpointSlices' endpoints.
METADATA_ONLY = {"Accept": "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"}


# Pods that finished can never be targets nor wait for a readiness gate: neither the watch
# (kopf's field selector, `kube.operator`) nor these lists ask for them, so both agree.
POD_FIELD_SELECTOR = "status.phase!=Succeeded,status.phase!=Failed"

# Kinds of CRDs the controller reads if they are installed, and does without otherwise.
OPTIONAL_KINDS = frozenset({"IngressClassParams", "TargetGroupBinding"})


class UnavailableKindError(Exception):
    """The cluster does not serve this kind (its CRD is not installed)."""


class Lister(Protocol):
    def keys(self, kind: str) -> set[str]:
        """`ns/name` (or `name` when cluster-scoped) of every object of `kind` now; raises
        `UnavailableKindError` for an optional kind the cluster does not serve."""
        ...


class CacheView(Protocol):
    def keys(self, kind: str) -> set[str]:
        """Keys of the objects of `kind` the watches have delivered so far."""
        ...


class ApiLister:
    """Lists watched kinds through the API (the ClusterRole's `list`, which the watches use
    too), keys only: metadata is asked for and read as JSON, never built into client
    models."""

    def __init__(self, api: Any, namespaces: Iterable[str] = ()) -> None:
        core, networking = k8s.CoreV1Api(api), k8s.NetworkingV1Api(api)
        discovery = k8s.DiscoveryV1Api(api)
        custom = k8s.CustomObjectsApi(api)
        params = functools.partial(
            custom.list_cluster_custom_object, "elbv2.k8s.aws", "v1beta1", "ingressclassparams"
        )
        bindings = functools.partial(
            custom.list_cluster_custom_object, "elbv2.k8s.aws", "v1beta1", "targetgroupbindings"
        )

        def bindings_in(namespace: str, **options: Any) -> Any:
            return custom.list_namespaced_custom_object(
                "elbv2.k8s.aws", "v1beta1", namespace, "targetgroupbindings", **options
            )

        # kind -> (list in all namespaces or cluster-scoped, list in one namespace or None)
        self._calls: dict[str, tuple[Callable[..., Any], Callable[..., Any] | None]] = {
            "Ingress": (networking.list_ingress_for_all_namespaces,
                        networking.list_namespaced_ingress),
            "Service": (core.list_service_for_all_namespaces, core.list_namespaced_service),
            "EndpointSlice": (discovery.list_endpoint_slice_for_all_namespaces,
                              discovery.list_namespaced_endpoint_slice),
            "Node": (core.list_node, None),
            "IngressClass": (networking.list_ingress_class, None),
            "Secret": (core.list_secret_for_all_namespaces, core.list_namespaced_secret),
            "IngressClassParams": (params, None),
            "Namespace": (core.list_namespace, None),
            "TargetGroupBinding": (bindings, bindings_in),
            "Pod": (functools.partial(core.list_pod_for_all_namespaces,
                                      field_selector=POD_FIELD_SELECTOR),
                    functools.partial(core.list_namespaced_pod,
                                      field_selector=POD_FIELD_SELECTOR)),
        }  # fmt: skip
        self._namespaces = list(namespaces)

    def keys(self, kind: str) -> set[str]:
        try:
            return self._keys(kind)
        except k8s.ApiException as error:
            if error.status == 404 and kind in OPTIONAL_KINDS:
                raise UnavailableKindError(kind) from None
            raise

    def _keys(self, kind: str) -> set[str]:
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
            response = call(
                *args, limit=PAGE, _continue=token, _preload_content=False, _headers=METADATA_ONLY
            )
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
        *,
        on_unavailable: Callable[[str], None] = lambda _kind: None,
    ) -> None:
        self._lister = lister
        self._cache = cache
        self._kinds = list(kinds)
        self._clock = clock
        self._interval = interval
        self._on_unavailable = on_unavailable

    async def _list(self, kind: str) -> set[str]:
        try:
            return await asyncio.to_thread(self._lister.keys, kind)
        except UnavailableKindError:
            return set()  # nothing to wait for; said once, at the first list

    async def wait(self) -> None:
        started = self._clock()
        wanted: dict[str, set[str]] = {}
        for kind in self._kinds:
            try:
                wanted[kind] = await asyncio.to_thread(self._lister.keys, kind)
            except UnavailableKindError:
                wanted[kind] = set()
                logger.warning(
                    "the cluster does not serve %s (its CRD is not installed): going on "
                    "without them",
                    kind,
                )
                self._on_unavailable(kind)
        listed_at = dict.fromkeys(self._kinds, started)
        while True:
            missing = {k: wanted[k] - self._cache.keys(k) for k in self._kinds}
            if not any(missing.values()):
                break
            for kind, keys in missing.items():
                if keys and self._clock() - listed_at[kind] > RELIST_AFTER:
                    # Gone since our list? Then kopf will never report it: stop waiting.
                    now = await self._list(kind)
                    wanted[kind] &= now
                    listed_at[kind] = self._clock()
                    logger.info("initial sync: %d %s still unseen, listed again", len(keys), kind)
            await asyncio.sleep(self._interval)
        counts = ", ".join(f"{len(wanted[k])} {k}" for k in self._kinds)
        logger.info("cache synced in %.1fs: %s", self._clock() - started, counts)


class AuditedCache(CacheView, Protocol):
    def changed_before(self, kind: str, when: float) -> set[str]:
        """Keys of `kind` no event has touched since `when`."""
        ...


class CacheAudit:
    """Finds cached objects the cluster no longer has, and reports them to `on_gone`.

    `replayed(kind)` is called for every object kopf replays after the initial sync (an
    event without a type); `run()` audits a replayed kind once replays stop for
    `AUDIT_SETTLE` seconds, and every kind every `AUDIT_EVERY` seconds.
    """

    def __init__(
        self,
        lister: Lister,
        cache: AuditedCache,
        kinds: Iterable[str],
        on_gone: Callable[[str, str], None],
        *,
        clock: Callable[[], float] = time.monotonic,
        every: float = AUDIT_EVERY,
        settle: float = AUDIT_SETTLE,
    ) -> None:
        self._lister = lister
        self._cache = cache
        self._kinds = list(kinds)
        self._on_gone = on_gone
        self._clock = clock
        self._every = every
        self._settle = settle
        self._replayed: dict[str, float] = {}  # kind -> when its last replayed object came
        self._wake = asyncio.Event()

    def replayed(self, kind: str) -> None:
        self._replayed[kind] = self._clock()
        self._wake.set()

    async def run(self) -> None:
        next_full = self._clock() + self._every
        while True:
            now = self._clock()
            if now >= next_full:
                for kind in self._kinds:
                    await self.audit(kind)
                self._replayed.clear()
                next_full = self._clock() + self._every
                continue
            settled = [k for k, at in self._replayed.items() if now - at >= self._settle]
            for kind in settled:
                del self._replayed[kind]
                await self.audit(kind)
            waits = [next_full - now]
            waits += [self._settle - (now - at) for at in self._replayed.values()]
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(0.05, min(waits)))

    async def audit(self, kind: str) -> int:
        """Report every object of `kind` gone from the cluster; returns how many."""
        started = self._clock()
        try:
            listed = await asyncio.to_thread(self._lister.keys, kind)
        except UnavailableKindError:
            listed = set()  # the CRD went (or never came): so did its objects
        except Exception as error:  # an API outage: the next audit tries again
            logger.warning("cache audit: cannot list %s: %s", kind, error)
            return 0
        # No await from here on: the handlers run on this loop, so nothing changes between
        # the comparison and the reports.
        gone = sorted(self._cache.changed_before(kind, started) - listed)
        for key in gone:
            logger.warning(
                "cache audit: %s %s was deleted while the watch was down; dropping it", kind, key
            )
            self._on_gone(kind, key)
        return len(gone)
