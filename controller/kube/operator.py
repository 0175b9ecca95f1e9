"""The kopf operator: watch streams in, group reconciles out.

The handlers here are deliberately thin. Each watch event updates the `ClusterCache` and
asks the `GroupScheduler` to reconcile the groups the object touches, at the least mode that
covers the change (an EndpointSlice or Node change only moves targets). kopf's change
handlers (`on.create/update/delete`) are not used: they filter by class, and kopf drops its
finalizer without calling the delete handler once the filter stops matching (the "finalizer
trap"), which would leak an ALB when an Ingress leaves our class. We classify every Ingress
ourselves and manage LBC's finalizers explicitly (`kube.reconciler`).

Events whose essential content did not change (our own status and annotation writes, Node
heartbeats) are ignored, so a converged cluster costs nothing but the periodic drift check.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import os
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import kopf
import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from controller.aws import AwsClients, AwsError, build_deployer
from controller.config import Settings
from controller.kube.bindings import IncumbentBindings, list_bindings
from controller.kube.cache import ClusterCache, Membership, object_key
from controller.kube.incumbent import check_incumbent
from controller.kube.leader import start_election
from controller.kube.metrics import InstrumentedDeployer, InstrumentedWriter, Metrics
from controller.kube.reconciler import (
    OWN_RECORDS,
    GroupReconciler,
    StackDeployer,
)
from controller.kube.scheduler import GroupScheduler, Mode, Outcome
from controller.kube.sync import ApiLister, CacheAudit, InitialSync, Lister
from controller.kube.writer import ApiWriter, KubeWriter
from controller.model.auth import OIDC_SECRET_KEYS

logger = logging.getLogger(__name__)

# Annotations that we or kopf write; a change to them is not a change to the Ingress.
OWN_ANNOTATIONS = (*OWN_RECORDS, "kopf.zalando.org/", "kubectl.kubernetes.io/")
PARAMS = "IngressClassParams"


def _essential(kind: str, body: Mapping[str, Any]) -> str:
    """A fingerprint of what the model builder reads from an object of this kind."""
    meta = body.get("metadata") or {}
    if kind == "Node":
        status = body.get("status") or {}
        ready = [
            c.get("status") for c in status.get("conditions") or () if c.get("type") == "Ready"
        ]
        content: Any = [meta.get("labels"), (body.get("spec") or {}).get("providerID"), ready]
    elif kind == "EndpointSlice":
        content = [body.get("endpoints"), body.get("ports"), meta.get("labels")]
    elif kind == "Secret":  # only what an OIDC client Secret holds
        data = body.get("data") or {}
        content = [{key: data.get(key) for key in OIDC_SECRET_KEYS}]
    elif kind == "Namespace":  # only its labels (a namespaceSelector's input)
        content = [meta.get("labels")]
    else:
        annotations = {
            k: v
            for k, v in (meta.get("annotations") or {}).items()
            if not k.startswith(OWN_ANNOTATIONS)
        }
        content = [body.get("spec"), annotations, meta.get("labels"), meta.get("deletionTimestamp")]
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class Runtime:
    """Everything the handlers share; built by `run` and handed to kopf as its memo."""

    settings: Settings
    cache: ClusterCache
    reconciler: GroupReconciler
    scheduler: GroupScheduler
    # None: start at once (tests that feed the cache themselves); `run` always has one.
    initial_sync: InitialSync | None = None
    audit: CacheAudit | None = None  # with `initial_sync`: what watch gaps hide
    # LBC's TargetGroupBindings, released as their groups settle (`kube/bindings.py`), and
    # how to list them once this replica leads (None: nothing to release).
    bindings: IncumbentBindings | None = None
    list_bindings: Callable[[], Iterable[Mapping[str, Any]]] | None = None
    # The start-up sweep of AWS (stack id -> live ARNs, `Deployer.inventory`) that the
    # recorded state is checked against before it is trusted (None: trusted as it is).
    inventory: Callable[[], Mapping[str, frozenset[str]]] | None = None
    synced: bool = False  # the initial sync is over: an untyped event now is a replay
    leading: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)  # cancelled at cleanup
    _seen: dict[tuple[str, str], str] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        settings: Settings,
        writer: KubeWriter,
        deployer: StackDeployer,
        metrics: Metrics | None = None,
        lister: Lister | None = None,
        *,
        bindings: Callable[[], Iterable[Mapping[str, Any]]] | None = None,
        inventory: Callable[[], Mapping[str, frozenset[str]]] | None = None,
    ) -> Runtime:
        """`bindings` lists LBC's TargetGroupBindings (`kube.bindings.list_bindings`);
        `inventory` sweeps AWS for the stacks' resources (`Deployer.inventory`)."""
        defaults = settings.model_defaults()
        cache = ClusterCache(defaults)
        metrics = metrics or Metrics()  # a private registry: unserved unless `run` serves it
        instrumented = InstrumentedDeployer(deployer, metrics)
        kube_writer = InstrumentedWriter(writer, metrics)
        incumbent_bindings = IncumbentBindings(kube_writer)
        reconciler = GroupReconciler(
            cache,
            kube_writer,
            instrumented,
            defaults,
            stage=metrics.stage,
            settled=incumbent_bindings.release,
        )

        async def reconcile(group: str, mode: Mode) -> Outcome:
            started = time.monotonic()
            outcome = await asyncio.to_thread(reconciler.reconcile, group, mode)
            metrics.reconciled(outcome.retry_after is None, time.monotonic() - started)
            applied = dict(reconciler.applied)  # one atomic copy: workers write it
            instrumented.publish({g: a.target_groups for g, a in applied.items()})
            return outcome

        scheduler = GroupScheduler(reconcile, workers=settings.workers)
        runtime = cls(settings, cache, reconciler, scheduler)
        runtime.bindings, runtime.list_bindings = incumbent_bindings, bindings
        runtime.inventory = inventory
        if lister is not None:
            runtime.initial_sync = InitialSync(
                lister, cache, WATCHED, on_unavailable=cache.mark_unavailable
            )
            runtime.audit = CacheAudit(lister, cache, WATCHED, on_gone=runtime.forget)
        return runtime

    def observe(self, kind: str, event_type: str | None, body: Mapping[str, Any]) -> None:
        """Feed one watch event in and queue the reconciles it calls for."""
        key = (kind, object_key(body))
        if event_type is None and self.synced and self.audit is not None:
            self.audit.replayed(kind)  # kopf lists again after a watch gap
        fingerprint = "" if event_type == "DELETED" else _essential(kind, body)
        if self._seen.get(key) == fingerprint and kind != "Ingress":
            return
        before = self.cache.membership(key[1]) if kind == "Ingress" else None
        # The groups a params object's Ingresses were in: its group.name may move them.
        users = self.cache.groups_using_class_params(key[1]) if kind == PARAMS else set()
        self.cache.apply_event(kind, event_type, body)
        changed = self._seen.get(key) != fingerprint
        if event_type == "DELETED":
            self._seen.pop(key, None)
        else:
            self._seen[key] = fingerprint
        for group, mode in self._affected(kind, body, before, changed, users):
            self.scheduler.request(group, mode)

    def _affected(
        self,
        kind: str,
        body: Mapping[str, Any],
        before: Membership | None,
        changed: bool,
        params_users: set[str],
    ) -> list[tuple[str, Mode]]:
        if kind == "Ingress":
            after = self.cache.membership(object_key(body))
            old = before.groups if before else set()
            new = after.groups if after else set()
            return [(g, Mode.FULL) for g in old | new] if changed or old != new else []
        if kind in ("EndpointSlice", "Node"):
            return [(g, Mode.TARGETS) for g in self._target_users(kind, body)]
        key = object_key(body)
        users: dict[str, Callable[[], set[str]]] = {
            "Service": lambda: self.cache.groups_using_service(key),
            "Secret": lambda: self.cache.groups_using_secret(key),
            # Before and after: a group.name change moves its Ingresses.
            PARAMS: lambda: params_users | self.cache.groups_using_class_params(key),
            "Namespace": lambda: self.cache.groups_in_namespace(key),
        }
        found = users.get(kind, self.cache.groups)()  # IngressClass: every group
        return [(g, Mode.FULL) for g in sorted(found)]

    def _target_users(self, kind: str, body: Mapping[str, Any]) -> set[str]:
        """The groups whose targets an EndpointSlice or Node change may move."""
        if kind == "Node":
            return self.cache.groups_using_instance_targets()
        meta = body.get("metadata") or {}
        service = (meta.get("labels") or {}).get("kubernetes.io/service-name")
        return self.cache.groups_using_service(f"{meta.get('namespace')}/{service}")

    def forget(self, kind: str, key: str) -> None:
        """An object the cluster no longer has, though no watch said so: a deletion."""
        body = self.cache.get(kind, key)
        if body is not None:
            self.observe(kind, "DELETED", body)

    async def resync_forever(self) -> None:
        """The periodic drift check: deploy every group even if its model is unchanged."""
        while True:
            await asyncio.sleep(self.settings.resync_seconds)
            for group in sorted(self.cache.groups()):
                self.scheduler.request(group, Mode.DRIFT)


# --- kopf handlers ----------------------------------------------------------------------

WATCHED = {
    "Ingress": ("networking.k8s.io", "v1", "ingresses"),
    "IngressClass": ("networking.k8s.io", "v1", "ingressclasses"),
    "Service": ("", "v1", "services"),
    "EndpointSlice": ("discovery.k8s.io", "v1", "endpointslices"),
    "Node": ("", "v1", "nodes"),
    # For auth-idp-oidc's client credentials; the cache keeps only those keys of each.
    "Secret": ("", "v1", "secrets"),
    # LBC's CRD, optional: without it kopf serves the rest and logs it as unresolved, and
    # the initial list marks the kind unavailable (`kube.sync`).
    "IngressClassParams": ("elbv2.k8s.aws", "v1beta1", "ingressclassparams"),
    # For namespaceSelector: the cache keeps only names and labels.
    "Namespace": ("", "v1", "namespaces"),
}


def register(registry: kopf.OperatorRegistry) -> None:
    """Register the handlers on `registry` (a fresh one per run keeps tests independent)."""
    for kind, (group, version, plural) in WATCHED.items():
        resource = f"{plural}.{version}.{group}".rstrip(".") if group else f"{plural}.{version}"

        # Async on purpose: kopf runs sync handlers in threads, and the cache and the
        # scheduler belong to the event loop.
        async def handler(
            event: kopf.RawEvent, memo: kopf.Memo, _kind: str = kind, **_: Any
        ) -> None:
            runtime: Runtime = memo["runtime"]
            runtime.observe(_kind, event.get("type"), event["object"])

        kopf.on.event(resource, registry=registry, id=f"observe-{kind}")(handler)

    @kopf.on.startup(registry=registry)
    async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
        runtime: Runtime = memo["runtime"]
        settings.scanning.disabled = True  # no CRD/namespace scans: less RBAC, less traffic
        settings.posting.reporting_component = "alb-ingress-controller"
        settings.watching.server_timeout = 600
        settings.watching.client_timeout = 660
        memo["resync"] = asyncio.create_task(runtime.resync_forever())
        memo["leader"] = asyncio.create_task(_start_when_leading(runtime))

    @kopf.on.cleanup(registry=registry)
    async def cleanup(memo: kopf.Memo, **_: Any) -> None:
        runtime: Runtime = memo["runtime"]
        for name in ("resync", "leader"):
            task = memo.get(name)
            if isinstance(task, asyncio.Task):
                task.cancel()
        for task in runtime.tasks:
            task.cancel()
        await runtime.scheduler.stop()


async def _start_when_leading(runtime: Runtime) -> None:
    # The sync comes first: a standby finished it long before it starts to lead.
    if runtime.initial_sync is not None:
        await runtime.initial_sync.wait()
    runtime.synced = True
    if runtime.audit is not None:
        audit = asyncio.create_task(runtime.audit.run())
        runtime.tasks.append(audit)
    await runtime.leading.wait()
    if runtime.bindings is not None and runtime.list_bindings is not None:
        # Listed now, not at start-up: a standby may lead long after it started.
        runtime.bindings.load(await asyncio.to_thread(runtime.list_bindings))
    unverified = await _unverified(runtime)
    logger.info("leading: reconciling %d groups", len(runtime.cache.groups()))
    runtime.scheduler.start()
    for group in sorted(runtime.cache.groups()):
        runtime.scheduler.request(group, Mode.DRIFT if group in unverified else Mode.FULL)


async def _unverified(runtime: Runtime) -> set[str]:
    """The groups whose recorded state one sweep of AWS contradicts: deployed in full at
    start-up rather than trusted (a rollback to the incumbent, or a hand, changed them)."""
    if runtime.inventory is None:
        return set()
    try:
        inventory = await asyncio.to_thread(runtime.inventory)
    except AwsError as error:
        logger.warning(
            "start-up sweep of AWS failed (%s): the recorded state is trusted until the "
            "drift check",
            error,
        )
        return set()
    unverified = runtime.reconciler.unverified(inventory)
    if unverified:
        logger.info(
            "%d groups differ in AWS from their Ingresses' record, deployed in full: %s",
            len(unverified),
            ", ".join(sorted(unverified)),
        )
    return unverified


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[[], object]) -> None:
    loop.call_soon_threadsafe(callback)


def pod_identity() -> str:
    return os.environ.get("POD_NAME") or f"{socket.gethostname()}-{os.getpid()}"


class SetupError(Exception):
    """A person's configuration mistake found at start-up; the message says what to fix."""


def _load_kube_config() -> None:
    try:
        k8s_config.load_incluster_config()  # type: ignore[no-untyped-call]
        return
    except k8s_config.ConfigException:
        pass
    try:
        k8s_config.load_kube_config()  # type: ignore[no-untyped-call]
    except (k8s_config.ConfigException, OSError) as error:
        where = os.environ.get("KUBECONFIG") or "~/.kube/config"
        raise SetupError(
            f"no Kubernetes credentials: not running in a cluster, and the kubeconfig "
            f"{where} cannot be used ({error}); set KUBECONFIG to a kubeconfig file"
        ) from None


def _serve_metrics(metrics: Metrics, port: int) -> None:
    try:
        metrics.serve(port)
    except OSError as error:
        raise SetupError(
            f"cannot serve metrics on port {port}: {error.strerror or error}; "
            "set METRICS_PORT to a free port"
        ) from None


def run(settings: Settings, liveness: str | None = None) -> None:
    """`alb-ingress-controller run`: wire kube client, AWS, runtime and kopf, then block."""
    metrics = Metrics()
    _serve_metrics(metrics, settings.metrics_port)  # first: a taken port needs no network
    _load_kube_config()
    api_client = k8s.ApiClient()
    if not settings.ignore_incumbent:
        try:
            check_incumbent(api_client)
        except (k8s.ApiException, urllib3.exceptions.HTTPError) as error:
            host = api_client.configuration.host
            reason = f"HTTP {error.status} {error.reason}" if isinstance(
                error, k8s.ApiException
            ) else type(error).__name__  # fmt: skip
            raise SetupError(
                f"cannot check for aws-load-balancer-controller: the Kubernetes API at {host} "
                f"answered {reason}; is it reachable, and may this identity list Leases?"
            ) from None
    clients = AwsClients(
        settings.aws_region, endpoint_url=settings.aws_endpoint_url, debug=settings.aws_debug
    )
    clients.counter.subscribe(metrics.observe_aws_call)
    deployer = build_deployer(settings, clients)
    lister = ApiLister(api_client, settings.watch_namespaces)
    bindings = functools.partial(
        list_bindings, k8s.CustomObjectsApi(api_client), settings.watch_namespaces
    )
    writer = ApiWriter(api_client)
    runtime = Runtime.create(
        settings,
        writer,
        deployer,
        metrics,
        lister,
        bindings=bindings,
        inventory=deployer.inventory,
    )
    # OIDC client secrets are read from the cache when AWS must be sent one.
    deployer.read_client_secrets_from(runtime.cache.client_secret)
    registry = kopf.OperatorRegistry()
    register(registry)

    # kopf adds its default login handlers only to its global registry, not to ours.
    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        return kopf.login_via_client(**kwargs)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        if settings.leader_elect:
            elector = start_election(
                api_client,
                settings.leader_namespace,
                pod_identity(),
                on_started=lambda: _call_soon(loop, runtime.leading.set),
                on_lost=lambda: os._exit(1),  # a deposed leader must stop at once
            )
            clients.write_guard = elector.may_write
            writer.write_guard = elector.may_write
        else:
            runtime.leading.set()
        await kopf.operator(
            registry=registry,
            clusterwide=not settings.watch_namespaces,
            namespaces=settings.watch_namespaces,
            standalone=True,
            liveness_endpoint=liveness,
            memo=kopf.Memo(runtime=runtime),
        )

    asyncio.run(main())
