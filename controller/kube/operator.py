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
import datetime
import functools
import hashlib
import json
import logging
import os
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import kopf
import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from controller.aws import AwsClients, AwsError, build_deployer
from controller.aws.bindings import BindingAws
from controller.aws.clients import CallCounter
from controller.aws.targets import TargetHealth
from controller.config import Settings
from controller.kube.binding_reconciler import (
    BindingDeployer,
    BindingWriter,
    TargetGroupBindings,
    fingerprint_content,
)
from controller.kube.bindings import IncumbentBindings, list_bindings
from controller.kube.cache import ClusterCache, Membership, object_key
from controller.kube.certs import CertificateError, Certificates, Secrets, read_dir, service_hosts
from controller.kube.drift import DriftSweep
from controller.kube.incumbent import check_incumbent
from controller.kube.leader import start_election
from controller.kube.metrics import InstrumentedDeployer, InstrumentedWriter, Metrics
from controller.kube.readiness import (
    ApiPodConditions,
    PodConditions,
    ReadinessGates,
    TargetGroupIndex,
    gates_for,
    namespace_enabled,
)
from controller.kube.reconciler import (
    OWN_RECORDS,
    GroupReconciler,
    StackDeployer,
)
from controller.kube.scheduler import GroupScheduler, Mode, Outcome
from controller.kube.sync import (
    PAGE,
    POD_FIELD_SELECTOR,
    ApiLister,
    CacheAudit,
    InitialSync,
    Lister,
)
from controller.kube.webhook import WebhookServer, bind
from controller.kube.writer import ApiWriter, KubeWriter
from controller.model.auth import OIDC_SECRET_KEYS

logger = logging.getLogger(__name__)

# Annotations that we or kopf write; a change to them is not a change to the Ingress.
OWN_ANNOTATIONS = (*OWN_RECORDS, "kopf.zalando.org/", "kubectl.kubernetes.io/")
PARAMS = "IngressClassParams"
BINDING = "TargetGroupBinding"
# Kinds whose every event reaches the cache (our own writes must be seen there: finalizers
# and resourceVersions for the next patch), though only an essential change queues work.
ALWAYS_CACHED = ("Ingress", BINDING)


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
    elif kind == BINDING:
        content = fingerprint_content(body)
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
    # The periodic drift sweep (`kube/drift.py`; None: every period checks every group).
    drift: DriftSweep | None = None
    # The TargetGroupBindings this controller serves (None: not served).
    target_group_bindings: TargetGroupBindings | None = None
    # Pod readiness gates: the ip target groups of each group (every replica: the webhook
    # asks it), and the conditions' poller (the leader's; None: conditions are not set).
    target_groups: TargetGroupIndex | None = None
    gates: ReadinessGates | None = None
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
        fingerprints: Callable[[], Mapping[str, str]] | None = None,
        binding_deployer: BindingDeployer | None = None,
        binding_writer: BindingWriter | None = None,
        target_health: Callable[[str], Sequence[TargetHealth]] | None = None,
        pod_conditions: PodConditions | None = None,
    ) -> Runtime:
        """`bindings` lists LBC's TargetGroupBindings (`kube.bindings.list_bindings`);
        `inventory` sweeps AWS for the stacks' resources (`Deployer.inventory`);
        `fingerprints` for a digest of each (`Deployer.fingerprints`, the drift sweep);
        `binding_deployer` and `binding_writer` serve TargetGroupBindings (without them,
        none is)."""
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
            if runtime.gates is not None:  # its target groups may be deployed now
                runtime.gates.wake()
            return outcome

        scheduler = GroupScheduler(reconcile, workers=settings.workers)
        runtime = cls(settings, cache, reconciler, scheduler)
        runtime.bindings, runtime.list_bindings = incumbent_bindings, bindings
        runtime.inventory = inventory
        if fingerprints is not None:
            runtime.drift = DriftSweep(fingerprints, reconciler.changes)
        if binding_deployer is not None and binding_writer is not None:
            runtime.target_group_bindings = TargetGroupBindings(
                cache,
                binding_writer,
                binding_deployer,
                defaults,
                workers=settings.workers,
                reconciled=lambda: runtime.gates.wake() if runtime.gates is not None else None,
            )
        runtime.target_groups = TargetGroupIndex(cache, defaults, reconciler.last_good)
        if target_health is not None and pod_conditions is not None:
            runtime.gates = ReadinessGates(
                cache,
                runtime.target_groups,
                lambda: {
                    (g, tg): arn
                    for g, a in dict(reconciler.applied).items()
                    for tg, arn in a.target_groups.items()
                },
                target_health,
                pod_conditions,
                interval=settings.readiness_gate_poll_seconds,
                binding_arns=(
                    runtime.target_group_bindings.reconciler.resolved
                    if runtime.target_group_bindings is not None
                    else dict
                ),
            )
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
        if kind == "Pod":
            self._observe_pod(event_type, body)
            return
        fingerprint = "" if event_type == "DELETED" else _essential(kind, body)
        if self._seen.get(key) == fingerprint and kind not in ALWAYS_CACHED:
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
        affected = self._affected(kind, body, before, changed, users)
        if self.target_groups is not None:  # their target groups may differ now
            self.target_groups.invalidate(g for g, mode in affected if mode >= Mode.FULL)
        for group, mode in affected:
            self.scheduler.request(group, mode)
        if self.target_group_bindings is not None:
            self.target_group_bindings.observed(kind, event_type, body, changed)

    def _observe_pod(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        """Pods, for readiness gates: the cache keeps those with gates (and the keys of the
        rest); a change of what it keeps (containers ready, a gate's condition, the IP) may
        move the targets of the groups whose Services select the pod, and wakes the poller.
        No fingerprint is kept per pod: the cache's own copy is compared."""
        key = object_key(body)
        before = self.cache.get("Pod", key)
        self.cache.apply_event("Pod", event_type, body)
        after = self.cache.get("Pod", key)
        if before == after:
            return
        kept = after if after is not None and "spec" in after else before
        if kept is None or "spec" not in kept:
            return  # a pod without readiness gates: only its key is kept
        meta = kept.get("metadata") or {}
        namespace, labels = str(meta.get("namespace")), meta.get("labels") or {}
        groups = {
            group
            for service in self.cache.services_selecting(namespace, labels)
            for group in self.cache.groups_using_service(service)
        }
        for group in sorted(groups):
            self.scheduler.request(group, Mode.TARGETS)
        if self.gates is not None:
            self.gates.wake()
        if self.target_group_bindings is not None:
            self.target_group_bindings.observed("Pod", event_type, body, True)

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
        if kind == BINDING:
            return []  # no Ingress group's business (`kube.binding_reconciler`'s)
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
        """The periodic drift check: every `resync_seconds` one sweep of AWS (`resync`), and
        every `full_resync_seconds` a drift check of every group."""
        last_full = time.monotonic()
        while True:
            await asyncio.sleep(self.settings.resync_seconds)
            full = time.monotonic() - last_full >= self.settings.full_resync_seconds
            if full:
                last_full = time.monotonic()
            await self.resync(full=full)

    async def resync(self, *, full: bool) -> set[str]:
        """One period: a drift check (deploy even if the model is unchanged) of every group
        if `full` (or without a sweep), else of the groups the sweep finds changed in AWS by
        someone else. Returns the groups asked for one."""
        groups = self.cache.groups()
        if full or self.drift is None:
            if self.drift is not None:
                self.drift.reset()
            checked = set(groups)
        else:
            checked = await self.drift.sweep(groups, self.scheduler.busy)
            logger.info(
                "drift sweep: %d groups compared, %d changed in AWS by someone else%s",
                len(groups),
                len(checked),
                f": {', '.join(sorted(checked))}" if checked else "",
            )
        for group in sorted(checked):
            self.scheduler.request(group, Mode.DRIFT)
        if self.target_group_bindings is not None:
            self.target_group_bindings.resync()
        return checked


# --- kopf handlers ----------------------------------------------------------------------

# Our event handlers only update the cache, so a worker waiting for more events of its object
# saves little: a new one is cheap to start when they come.
WORKER_IDLE_SECONDS = 0.1

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
    # LBC's CRD, optional like IngressClassParams: the bindings this controller serves
    # (`kube.binding_reconciler`), and LBC's own, released (`kube.bindings`).
    BINDING: ("elbv2.k8s.aws", "v1beta1", "targetgroupbindings"),
    # For readiness gates: the cache keeps only pods that have some, and little of them;
    # finished pods are not watched at all (`kube.sync.POD_FIELD_SELECTOR`).
    "Pod": ("", "v1", "pods"),
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
        settings.watching.field_selectors[("v1", "pods")] = POD_FIELD_SELECTOR
        # Memory at start-up (issue 11): kopf lists each kind a page at a time, not whole, and
        # a per-object worker ends WORKER_IDLE_SECONDS after its object's last event, not 5 s.
        # The initial list of a cluster with 1,000 Ingresses is ~5,000 objects, each with a
        # worker holding its event: a standby's peak RSS fell from 207-226 to 157-160 MiB.
        settings.watching.chunk_size = PAGE
        settings.queueing.idle_timeout = WORKER_IDLE_SECONDS
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
        if runtime.target_group_bindings is not None:
            await runtime.target_group_bindings.stop()


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
    if runtime.target_group_bindings is not None:
        runtime.target_group_bindings.start()
    if runtime.gates is not None:
        runtime.tasks.append(asyncio.create_task(runtime.gates.run()))


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


def _webhook(
    settings: Settings, api_client: k8s.ApiClient, runtime: Runtime
) -> tuple[WebhookServer, Certificates] | None:
    """The pod readiness gate webhook's server (its port bound) and certificates, or None
    when it is turned off; a taken port or an unusable certificate is a `SetupError`."""
    if not settings.enable_pod_readiness_gate_inject or runtime.target_groups is None:
        return None
    index, cache = runtime.target_groups, runtime.cache
    try:
        sock = bind(settings.webhook_port)
    except OSError as error:
        raise SetupError(
            f"cannot serve the pod readiness gate webhook on port {settings.webhook_port}: "
            f"{error.strerror or error}; set WEBHOOK_PORT to a free port "
            "(or ENABLE_POD_READINESS_GATE_INJECT=false)"
        ) from None
    server = WebhookServer(
        sock,
        lambda namespace, labels: gates_for(cache, index, namespace, labels),
        lambda namespace: namespace_enabled(cache, namespace),
    )
    directory = settings.webhook_cert_dir
    if directory is not None:
        try:
            server.load(*read_dir(directory))
        except CertificateError as error:
            sock.close()
            raise SetupError(
                f"cannot load the webhook certificate: {error}; set WEBHOOK_CERT_DIR to a "
                "directory holding a PEM tls.crt and its tls.key"
            ) from None
    namespace = settings.leader_namespace
    certificates = Certificates(
        load=server.load,
        leading=runtime.leading.is_set,
        hosts=service_hosts(settings.webhook_service_name, namespace, settings.webhook_cert_hosts),
        namespace=namespace,
        secret=settings.webhook_secret_name,
        configuration=settings.webhook_configuration_name,
        days=settings.webhook_cert_validity_days,
        interval=settings.webhook_cert_check_seconds,
        secrets=None if directory is not None else Secrets(api_client),
        directory=directory,
    )
    return server, certificates


def _aws_clients(settings: Settings, metrics: Metrics) -> AwsClients:
    """The run's AWS clients, their calls counted into `metrics`."""
    clients = AwsClients(
        settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        debug=settings.aws_debug,
        # The metrics count every call; nothing in the controller reads past calls, so none
        # is kept (their parameters were megabytes at 1,000 Ingresses).
        counter=CallCounter(keep=0),
    )
    clients.counter.subscribe(metrics.observe_aws_call)
    # Made now, before kopf lists the cluster: the client's first model parse holds the whole
    # JSON model for a moment (ec2's, 23 MiB), which set the process's peak RSS when it came
    # on top of the watches' working set at the first deploy (memray, issue 11).
    clients.prepare()
    return clients


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
    clients = _aws_clients(settings, metrics)
    deployer = build_deployer(settings, clients)
    lister = ApiLister(api_client, settings.watch_namespaces)
    bindings = functools.partial(
        list_bindings, k8s.CustomObjectsApi(api_client), settings.watch_namespaces
    )
    writer = ApiWriter(api_client)
    pod_conditions = ApiPodConditions(api_client, lambda: datetime.datetime.now(datetime.UTC))
    binding_aws = BindingAws(
        clients,
        settings.cluster_name,
        max_targets=settings.max_targets_per_target_group,
        rules_limit=settings.rules_per_sg_limit,
    )
    runtime = Runtime.create(
        settings,
        writer,
        deployer,
        metrics,
        lister,
        bindings=bindings,
        inventory=deployer.inventory,
        fingerprints=deployer.fingerprints,
        binding_deployer=binding_aws,
        binding_writer=writer,
        target_health=deployer.target_health,
        pod_conditions=pod_conditions,
    )
    webhook = _webhook(settings, api_client, runtime)  # a taken port stops us here
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
            pod_conditions.write_guard = elector.may_write
        else:
            runtime.leading.set()
        if webhook is not None:
            server, certificates = webhook
            runtime.tasks += [asyncio.create_task(t) for t in (server.serve(), certificates.run())]
        await kopf.operator(
            registry=registry,
            clusterwide=not settings.watch_namespaces,
            namespaces=settings.watch_namespaces,
            standalone=True,
            liveness_endpoint=liveness,
            memo=kopf.Memo(runtime=runtime),
        )

    asyncio.run(main())
