"""Serve TargetGroupBindings (elbv2.k8s.aws/v1beta1): a user's target group, our targets.

A binding names a target group made elsewhere (Terraform, another cluster) and a Service
port; this controller keeps the group's targets equal to that port's endpoints, as it does
for its own Ingress target groups, and opens the inbound rules `networking` asks for. The
steps follow LBC's TargetGroupBinding controller:
- LBC's finalizer `elbv2.k8s.aws/resources` before anything is registered;
- the target group resolved (by ARN, or by name) once per spec, checked against the spec
  (target type, address type, VPC, protocol), its targets synced by difference, then the
  networking rules;
- `status.observedGeneration` once a generation is served, with a SuccessfullyReconciled
  Event;
- on deletion, every target of the group deregistered (a multi-cluster target group: only
  those the binding registered), its rules revoked, then the finalizer removed.

A problem a person must fix (no such target group, Service or port, a spec the group
cannot take) is a Warning Event naming the field, posted once per change; AWS failures are
`FailedDeployModel` (`FailedNetworkReconcile` for the rules, `FailedCleanup` on deletion)
Warnings, retried with backoff. Nothing here raises out of a reconcile, and each binding is
its own key in its own `GroupScheduler`, so a broken binding never holds up another or an
Ingress, and endpoint churn never queues Ingress work.

Bindings with LBC's stack labels are the ones LBC made for its Ingress target groups: this
controller registers those targets itself and lets the bindings go (`kube/bindings.py`), so
they are skipped here. A multi-cluster binding's own targets are kept in its annotation
`alb-ingress-controller/registered-targets` (LBC keeps them in a ConfigMap), written before
anything is registered, so a crash never loses track of one.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from controller.aws import AwsError, WritesFencedError
from controller.aws.bindings import UnknownTargetGroupError
from controller.config import ModelDefaults
from controller.kube.cache import Body, ClusterCache
from controller.kube.scheduler import GroupScheduler, Mode, Outcome
from controller.kube.writer import StaleCopyError
from controller.model.binding import (
    FINALIZER,
    REASON_BACKEND,
    Binding,
    BindingProblem,
    BindingTargets,
    BoundTargetGroup,
    Permission,
    binding_targets,
    check_target_group,
    claimed_permissions,
    is_incumbents,
    parse_binding,
    service_of,
)
from controller.model.stack import Target

logger = logging.getLogger(__name__)

KIND = "TargetGroupBinding"
API_VERSION = "elbv2.k8s.aws/v1beta1"
OWNED_ANNOTATION = "alb-ingress-controller/registered-targets"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"

# LBC's reasons (pkg/k8s/events.go).
REASON_OK = "SuccessfullyReconciled"
REASON_DEPLOY = "FailedDeployModel"
REASON_NETWORK = "FailedNetworkReconcile"
REASON_CLEANUP = "FailedCleanup"

BACKOFF = (5.0, 15.0, 30.0, 60.0, 120.0, 300.0)
FENCED_RETRY = 5.0  # a write refused while the Lease was late
STALE_RETRY = 1.0  # a finalizer edit met a newer copy: the watch is on its way


class BindingDeployer(Protocol):
    """The AWS side (`controller.aws.bindings.BindingAws`)."""

    def target_group(self, arn: str | None, name: str | None) -> BoundTargetGroup: ...
    def sync_targets(
        self, arn: str, desired: frozenset[Target], *, owned: frozenset[Target] | None = None
    ) -> int: ...
    def release_targets(self, arn: str, *, owned: frozenset[Target] | None = None) -> int: ...
    def sync_networking(
        self,
        binding: str,
        hosts: frozenset[str],
        permissions: frozenset[Permission],
        *,
        pending: Mapping[str, frozenset[Permission]],
    ) -> int: ...
    def release_networking(
        self, binding: str, hosts: frozenset[str], *, pending: Mapping[str, frozenset[Permission]]
    ) -> int: ...


class BindingWriter(Protocol):
    """The writes (`controller.kube.writer.ApiWriter`)."""

    def add_finalizer(self, ingress: Mapping[str, Any], finalizer: str) -> None: ...
    def remove_finalizer(self, ingress: Mapping[str, Any], finalizer: str) -> None: ...
    def set_annotations(
        self, ingress: Mapping[str, Any], annotations: Mapping[str, str | None]
    ) -> None: ...
    def set_status(self, body: Mapping[str, Any], status: Mapping[str, Any]) -> None: ...
    def event(self, ingress: Mapping[str, Any], type_: str, reason: str, message: str) -> None: ...


def fingerprint_content(body: Body) -> list[Any]:
    """What of a binding a reconcile reads: not its status, annotations or finalizers (our
    own writes), so their echoes queue nothing."""
    meta = body.get("metadata") or {}
    return [body.get("spec"), meta.get("labels"), meta.get("deletionTimestamp")]


@dataclass
class _Served:
    """What this process knows of a binding it serves."""

    ref: tuple[str, str]  # (targetGroupARN, targetGroupName) the target group was found by
    target_group: BoundTargetGroup
    targets_digest: str = ""  # of the targets last synced ("" : sync at the next reconcile)
    networking_digest: str = ""  # of the rules last reconciled ("" : none)
    owned: frozenset[Target] | None = None  # a multi-cluster binding's own targets
    healthy: bool = False  # the last reconcile succeeded
    checked: bool = False  # no older binding of the same target group (at resolution)


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _targets_key(targets: frozenset[Target]) -> list[tuple[str, int]]:
    return sorted((t.id, t.port) for t in targets)


def _finalizers(body: Body) -> list[str]:
    return list((body.get("metadata") or {}).get("finalizers") or [])


def _read_owned(body: Body) -> frozenset[Target]:
    raw = ((body.get("metadata") or {}).get("annotations") or {}).get(OWNED_ANNOTATION)
    try:
        pairs = json.loads(raw) if isinstance(raw, str) else []
        return frozenset(Target(id=str(i), port=int(p)) for i, p in pairs)
    except (ValueError, TypeError):
        logger.warning("unreadable %s annotation: taken as empty", OWNED_ANNOTATION)
        return frozenset()


@dataclass
class BindingReconciler:
    cache: ClusterCache
    writer: BindingWriter
    deployer: BindingDeployer
    defaults: ModelDefaults
    _served: dict[str, _Served] = field(default_factory=dict)
    _told: dict[str, str] = field(default_factory=dict)  # binding -> the problem last posted
    _failures: dict[str, int] = field(default_factory=dict)

    def reconcile(self, key: str, mode: Mode) -> Outcome:
        body = self.cache.get(KIND, key)
        if body is None or is_incumbents(body):
            self._forget(key)  # gone, or LBC's own (`kube/bindings.py` releases those)
            return Outcome()
        body = {**body, "apiVersion": API_VERSION, "kind": KIND}  # for the writer
        parsed = parse_binding(body)
        try:
            if isinstance(parsed, BindingProblem):
                self._tell(key, body, parsed)
                deleting = bool((body.get("metadata") or {}).get("deletionTimestamp"))
                return self._release(key, body, None) if deleting else Outcome()
            if parsed.deleting:
                return self._release(key, body, parsed)
            return self._sync(key, body, parsed, mode)
        except WritesFencedError as error:
            logger.warning(
                "TargetGroupBinding %s: %s; retrying in %.0fs",
                key,
                error,
                FENCED_RETRY,
                extra={"binding": key},
            )
            return Outcome(retry_after=FENCED_RETRY)
        except StaleCopyError as error:
            logger.info(
                "TargetGroupBinding %s: %s; trying again", key, error, extra={"binding": key}
            )
            return Outcome(retry_after=STALE_RETRY)

    def resolved(self) -> dict[str, str]:
        """binding key -> the ARN of the target group it was found to name (by ARN or by
        name), for the bindings served: readiness gates read those target groups."""
        return {key: served.target_group.arn for key, served in list(self._served.items())}

    # --- serving ----------------------------------------------------------------------

    def _sync(self, key: str, body: Body, binding: Binding, mode: Mode) -> Outcome:
        try:
            served = self._target_group(key, binding, mode)
        except UnknownTargetGroupError as error:
            self._tell(key, body, BindingProblem(binding.target_group_field, error.detail))
            return self._backoff(key)
        except AwsError as error:
            return self._aws_failure(key, body, error, REASON_DEPLOY)
        problem = check_target_group(binding, served.target_group)
        if problem is not None:
            self._tell(key, body, problem)
            return Outcome()  # an edit of the spec brings it back
        if not served.checked:
            rival = self._rival(key, body, binding, served.target_group.arn)
            if rival is not None:
                self._served.pop(key, None)
                self._tell(key, body, BindingProblem(
                    binding.target_group_field,
                    f"target group {served.target_group.arn} is bound by TargetGroupBinding "
                    f"{rival} already; set multiClusterTargetGroup on both to share it",
                ))  # fmt: skip
                return self._backoff(key)  # until the other one goes
            served.checked = True
        return self._serve(key, body, binding, served, mode)

    def _rival(self, key: str, body: Body, binding: Binding, arn: str) -> str | None:
        """An older binding of the same target group, unless both share it (LBC's webhook
        refuses the second binding of a target group)."""
        mine = ((body.get("metadata") or {}).get("creationTimestamp") or "", key)
        for other in sorted(self.cache.keys(KIND) - {key}):
            found = self.cache.get(KIND, other)
            parsed = parse_binding(found) if found is not None else None
            if found is None or is_incumbents(found) or not isinstance(parsed, Binding):
                continue
            if not self._told.get(other, REASON_BACKEND).startswith(REASON_BACKEND):
                continue  # not served (a problem of its own): it holds no target group
            served = self._served.get(other)
            bound = parsed.spec.target_group_arn or (served.target_group.arn if served else "")
            shared = binding.spec.multi_cluster_target_group and (
                parsed.spec.multi_cluster_target_group
            )
            theirs = ((found.get("metadata") or {}).get("creationTimestamp") or "", other)
            if bound == arn and not shared and not parsed.deleting and theirs < mine:
                return other
        return None

    def _serve(
        self, key: str, body: Body, binding: Binding, served: _Served, mode: Mode
    ) -> Outcome:
        """Register the binding's targets and open its rules in its target group."""
        state = self.cache.state()
        wanted = binding_targets(
            binding,
            served.target_group,
            state.services,
            state.endpoint_slices,
            state.nodes,
            fail_open=self.defaults.endpoints_fail_open,
            pods=state.pods,
        )
        self._tell(key, body, wanted.problem)
        self.writer.add_finalizer(body, FINALIZER)  # before anything is registered
        try:
            self._sync_targets(key, body, binding, served, desired=wanted.targets, mode=mode)
        except AwsError as error:
            served.targets_digest = ""
            if error.code == "TargetGroupNotFound":  # deleted since it was found
                self._served.pop(key, None)
                self._tell(key, body, BindingProblem(binding.target_group_field, error.detail))
                return self._backoff(key)
            return self._aws_failure(key, body, error, REASON_DEPLOY)
        try:
            self._sync_networking(key, binding, served, wanted, mode)
        except AwsError as error:
            served.networking_digest = "failed"  # differs from any digest: try again
            return self._aws_failure(key, body, error, REASON_NETWORK)
        self._report_served(body, binding, served)
        self._failures.pop(key, None)
        return Outcome()

    def _target_group(self, key: str, binding: Binding, mode: Mode) -> _Served:
        """What the binding's target group is: found once per spec (again on a drift
        check). A binding moved to another target group lets the old one's targets go."""
        ref = (binding.spec.target_group_arn or "", binding.spec.target_group_name or "")
        served = self._served.get(key)
        if served is not None and served.ref == ref and mode < Mode.DRIFT:
            return served
        tg = self.deployer.target_group(ref[0] or None, ref[1] or None)
        if served is not None and served.target_group.arn != tg.arn:
            owned = served.owned if binding.spec.multi_cluster_target_group else None
            calls = self.deployer.release_targets(served.target_group.arn, owned=owned)
            logger.info(
                "TargetGroupBinding %s moved from %s to %s: %d calls deregistered the old "
                "group's targets",
                key,
                served.target_group.arn,
                tg.arn,
                calls,
                extra={"binding": key},
            )
            served = None
        if served is None:
            served = _Served(ref, tg)
            self._served[key] = served
        served.ref, served.target_group, served.checked = ref, tg, False
        return served

    def _sync_targets(
        self,
        key: str,
        body: Body,
        binding: Binding,
        served: _Served,
        *,
        desired: frozenset[Target],
        mode: Mode,
    ) -> None:
        digest = _digest(served.target_group.arn, _targets_key(desired))
        if mode < Mode.DRIFT and digest == served.targets_digest:
            return
        owned: frozenset[Target] | None = None
        if binding.spec.multi_cluster_target_group:
            if served.owned is None:
                served.owned = _read_owned(body)
            # Recorded before they are registered: a lost reply never leaks a target.
            owned = self._record_owned(body, served, served.owned | desired)
        calls = self.deployer.sync_targets(served.target_group.arn, desired, owned=owned)
        served.targets_digest = digest
        if owned is not None:
            self._record_owned(body, served, desired)  # the others are deregistered now
        logger.info(
            "TargetGroupBinding %s: %d targets in %s, %d mutating calls",
            key,
            len(desired),
            served.target_group.name,
            calls,
            extra={"binding": key},
        )

    def _record_owned(
        self, body: Body, served: _Served, owned: frozenset[Target]
    ) -> frozenset[Target]:
        if owned != served.owned or OWNED_ANNOTATION not in (
            (body.get("metadata") or {}).get("annotations") or {}
        ):
            value = json.dumps(_targets_key(owned), separators=(",", ":"))
            self.writer.set_annotations(body, {OWNED_ANNOTATION: value})
        served.owned = owned
        return owned

    def _sync_networking(
        self, key: str, binding: Binding, served: _Served, wanted: BindingTargets, mode: Mode
    ) -> None:
        if wanted.problem is not None and wanted.problem.field.startswith("spec.networking"):
            return  # the rules as they are until the spec is fixed
        rules = bool(binding.ingress_rules) and wanted.problem is None
        if not rules and not served.networking_digest:
            return  # never had rules in this process
        digest = _digest(sorted(wanted.hosts), sorted(wanted.permissions)) if rules else ""
        if mode < Mode.DRIFT and digest == served.networking_digest:
            return
        calls = self.deployer.sync_networking(
            key, wanted.hosts, wanted.permissions, pending=self._pending(key)
        )
        served.networking_digest = digest
        logger.info(
            "TargetGroupBinding %s: %d networking permissions into the groups of %d "
            "instances, %d mutating calls",
            key,
            len(wanted.permissions),
            len(wanted.hosts),
            calls,
            extra={"binding": key},
        )

    def _pending(self, key: str) -> dict[str, frozenset[Permission]]:
        """What the other served bindings with networking ask for (their specs)."""
        found: dict[str, frozenset[Permission]] = {}
        for other in sorted(self.cache.keys(KIND) - {key}):
            body = self.cache.get(KIND, other)
            if body is None or is_incumbents(body):
                continue
            parsed = parse_binding(body)
            if isinstance(parsed, Binding) and not parsed.deleting and parsed.ingress_rules:
                found[other] = claimed_permissions(parsed)
        return found

    def _report_served(self, body: Body, binding: Binding, served: _Served) -> None:
        observed = (body.get("status") or {}).get("observedGeneration")
        fresh = observed != binding.generation
        if fresh:
            self.writer.set_status(body, {"observedGeneration": binding.generation})
        if fresh or not served.healthy:
            self.writer.event(body, "Normal", REASON_OK, "Successfully reconciled")
        served.healthy = True

    # --- letting go ---------------------------------------------------------------------

    def _release(self, key: str, body: Body, binding: Binding | None) -> Outcome:
        """A binding being deleted: its targets and rules go, then our finalizer."""
        if FINALIZER not in _finalizers(body):
            self._forget(key)
            return Outcome()
        served = self._served.get(key)
        try:
            tg = served.target_group if served is not None else self._find(binding)
            if tg is not None:
                owned = None
                if binding is not None and binding.spec.multi_cluster_target_group:
                    known = served.owned if served is not None else None
                    owned = known if known is not None else _read_owned(body)
                calls = self.deployer.release_targets(tg.arn, owned=owned)
                logger.info(
                    "TargetGroupBinding %s deleted: %d calls deregistered its targets of %s",
                    key,
                    calls,
                    tg.name,
                    extra={"binding": key},
                )
            if (binding is not None and binding.ingress_rules) or (
                served is not None and served.networking_digest
            ):
                hosts = self._hosts(binding, tg)
                self.deployer.release_networking(key, hosts, pending=self._pending(key))
        except AwsError as error:
            return self._aws_failure(key, body, error, REASON_CLEANUP)
        self.writer.remove_finalizer(body, FINALIZER)
        self._forget(key)
        return Outcome()

    def _find(self, binding: Binding | None) -> BoundTargetGroup | None:
        if binding is None:
            logger.warning("a TargetGroupBinding with an unusable spec is deleted unserved")
            return None
        try:
            return self.deployer.target_group(
                binding.spec.target_group_arn or None, binding.spec.target_group_name or None
            )
        except UnknownTargetGroupError:
            return None  # gone: no targets to deregister

    def _hosts(self, binding: Binding | None, tg: BoundTargetGroup | None) -> frozenset[str]:
        if binding is None or tg is None:
            return frozenset()
        state = self.cache.state()
        return binding_targets(
            binding, tg, state.services, state.endpoint_slices, state.nodes, pods=state.pods
        ).hosts

    def _forget(self, key: str) -> None:
        self._served.pop(key, None)
        self._told.pop(key, None)
        self._failures.pop(key, None)

    # --- reporting ----------------------------------------------------------------------

    def _tell(self, key: str, body: Body, problem: BindingProblem | None) -> None:
        """A problem's Warning, once per change; None: the binding has none now."""
        if problem is None:
            self._told.pop(key, None)
            return
        signature = f"{problem.reason}:{problem}"
        if self._told.get(key) == signature:
            return
        self._told[key] = signature
        logger.warning(
            "TargetGroupBinding %s: %s: %s", key, problem.reason, problem, extra={"binding": key}
        )
        self.writer.event(body, "Warning", problem.reason, str(problem))
        served = self._served.get(key)
        if served is not None:
            served.healthy = False

    def _backoff(self, key: str) -> Outcome:
        failures = self._failures.get(key, 0) + 1
        self._failures[key] = failures
        return Outcome(retry_after=BACKOFF[min(failures, len(BACKOFF)) - 1])

    def _aws_failure(self, key: str, body: Body, error: AwsError, reason: str) -> Outcome:
        outcome = self._backoff(key) if error.retryable else Outcome(retry_after=BACKOFF[-1])
        logger.error(
            "TargetGroupBinding %s: %s (retry in %.0fs)",
            key,
            error,
            outcome.retry_after,
            extra={"binding": key},
        )
        self.writer.event(body, "Warning", reason, str(error))
        served = self._served.get(key)
        if served is not None:
            served.healthy = False
        return outcome


class TargetGroupBindings:
    """The bindings' own scheduler and index: which bindings a watch event touches."""

    def __init__(
        self,
        cache: ClusterCache,
        writer: BindingWriter,
        deployer: BindingDeployer,
        defaults: ModelDefaults,
        *,
        workers: int = 4,
        reconciled: Callable[[], None] | None = None,
    ) -> None:
        """`reconciled` is called after each reconcile (readiness gates wake: a binding's
        target group may be known now)."""
        self.cache = cache
        self.reconciler = BindingReconciler(cache, writer, deployer, defaults)
        self._reconciled = reconciled
        self.scheduler = GroupScheduler(self._reconcile, workers=workers)
        self._service: dict[str, str] = {}  # binding -> the Service it names
        self._users: dict[str, set[str]] = {}  # Service -> bindings naming it

    async def _reconcile(self, key: str, mode: Mode) -> Outcome:
        outcome = await asyncio.to_thread(self.reconciler.reconcile, key, mode)
        if self._reconciled is not None:
            self._reconciled()
        return outcome

    def observed(self, kind: str, event_type: str | None, body: Body, changed: bool) -> None:
        """Queue the bindings a watch event (already in the cache) touches."""
        for key, mode in self._affected(kind, event_type, body, changed):
            self.scheduler.request(key, mode)

    def _affected(
        self, kind: str, event_type: str | None, body: Body, changed: bool
    ) -> list[tuple[str, Mode]]:
        meta = body.get("metadata") or {}
        if kind == KIND:
            key = f"{meta.get('namespace')}/{meta.get('name')}"
            self._index(key, None if event_type == "DELETED" else service_of(body))
            return [(key, Mode.FULL)] if changed else []
        if kind == "Service":
            users = self._users.get(f"{meta.get('namespace')}/{meta.get('name')}", set())
            return [(key, Mode.FULL) for key in sorted(users)]
        if kind == "EndpointSlice":
            service = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
            users = self._users.get(f"{meta.get('namespace')}/{service}", set())
            return [(key, Mode.TARGETS) for key in sorted(users)]
        if kind == "Node":
            return [(key, Mode.TARGETS) for key in sorted(self._service)]
        if kind == "Pod":  # a gated pod's containers or gates changed (readiness gates)
            labels = meta.get("labels") or {}
            services = self.cache.services_selecting(str(meta.get("namespace")), labels)
            return [
                (key, Mode.TARGETS)
                for service in services
                for key in sorted(self._users.get(service, set()))
            ]
        return []

    def _index(self, key: str, service: str | None) -> None:
        old = self._service.pop(key, None)
        users = self._users.get(old, set()) if old is not None else set()
        users.discard(key)
        if old is not None and not users:
            self._users.pop(old, None)
        if service is not None:
            self._service[key] = service
            self._users.setdefault(service, set()).add(key)

    def start(self) -> None:
        """Start serving (this replica leads): every binding known is reconciled."""
        self.scheduler.start()
        for key in sorted(self.cache.keys(KIND)):
            self.scheduler.request(key, Mode.FULL)

    def resync(self) -> None:
        """The periodic drift check: every binding's target group found again, its targets
        and rules read from AWS."""
        for key in sorted(self.cache.keys(KIND)):
            self.scheduler.request(key, Mode.DRIFT)

    async def stop(self) -> None:
        await self.scheduler.stop()
