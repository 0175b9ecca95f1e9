"""Reconcile one Ingress group: model -> AWS -> finalizers, status and Events.

This is the heart of the kube layer, and it holds no kopf: the handlers in
`controller.kube.operator` only feed the cache and ask the scheduler for a group; the scheduler
calls `GroupReconciler.reconcile` in a worker thread. The steps follow LBC's group
controller, with two differences users asked for:
- an invalid member is left out of the stack with its own Warning Event, and the rest of the
  group is still deployed (LBC blocks the whole group, its #3870/#4597);
- a reconcile whose model hashes the same as what was last applied makes no AWS call at all
  (only targets are checked), unless the periodic drift check is due.

Members are *active* (in the group, valid, not deleting), *inactive* (deleting, or left the
group or our class while still holding its finalizer: torn out and released), or *invalid*
(in the group with a build error: they keep their finalizer, so nothing of theirs leaks).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from controller.aws import AwsError, DeployResult, WritesFencedError
from controller.config import ModelDefaults
from controller.kube.cache import Body, ClusterCache
from controller.kube.fallback import (
    LAST_GOOD_ANNOTATION,
    LastGood,
    Refusal,
    Refusals,
    snapshot,
)
from controller.kube.notices import Notices
from controller.kube.scheduler import Mode, Outcome
from controller.kube.writer import KubeWriter, StaleCopyError
from controller.model import BuildError, ClusterState, GroupRef, GroupResult, build_targets
from controller.model.stack import BuildWarning, DesiredTargets, Stack, Target

logger = logging.getLogger(__name__)

# Where the controller records what it applied, so a restart can skip the deploy.
APPLIED_ANNOTATION = "alb-ingress-controller/applied"
# The annotations this controller writes on an Ingress: the record, and the last good version.
OWN_RECORDS = (APPLIED_ANNOTATION, LAST_GOOD_ANNOTATION)

# Event reasons are LBC's (pkg/k8s/events.go), so dashboards and alerts carry over.
REASON_OK = "SuccessfullyReconciled"
REASON_BUILD = "FailedBuildModel"
REASON_DEPLOY = "FailedDeployModel"
REASON_CLEANUP = "FailedCleanup"

RETRYABLE_BACKOFF = (5.0, 15.0, 30.0, 60.0, 120.0, 300.0)
PERMANENT_RETRY = 600.0  # a validation error from AWS: retry rarely, the object may be fixed
FENCED_RETRY = 5.0  # a write refused while the Lease was late: renewed soon, or the process exits
STALE_RETRY = 1.0  # a finalizer edit met a newer copy of its Ingress: the watch is on its way
REFUSED_RETRY = 0.5  # AWS refused one member's part: the rest deploys on the next reconcile


class StackDeployer(Protocol):
    """The AWS side, as the reconciler uses it (`controller.aws.Deployer`)."""

    def deploy(self, stack: Stack, targets: DesiredTargets) -> DeployResult: ...
    def sync_targets(
        self,
        target_group_arns: Mapping[str, str],
        targets: DesiredTargets,
        known: Mapping[str, frozenset[Target]] | None = None,
    ) -> int: ...
    def teardown(self, stack_id: str) -> None: ...


@dataclass
class Applied:
    """What was last applied for a group: enough to skip a deploy and to sync targets."""

    digest: str
    hostname: str
    target_groups: dict[str, str]  # TG id -> ARN
    targets_digest: str = ""  # of the targets last made true in AWS ("": unknown)
    load_balancer: str = ""  # its ARN; empty in records written before it was kept
    # What each target group (by id) was last made to hold, so a target change is one
    # Register/Deregister call with no read first (None: unknown, read them).
    synced: dict[str, frozenset[Target]] | None = field(default=None, compare=False)

    def to_annotation(self, *, with_targets: bool = False) -> str:
        """The record; `with_targets` adds the targets digest (kept on one member only, so a
        target change rewrites one Ingress's record, not every member's)."""
        data: dict[str, Any] = {
            "digest": self.digest,
            "hostname": self.hostname,
            "targetGroups": self.target_groups,
        }
        if self.load_balancer:
            data["loadBalancer"] = self.load_balancer
        if with_targets and self.targets_digest:
            data["targets"] = self.targets_digest
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    def trust_targets(self, targets: DesiredTargets) -> None:
        """AWS holds `targets` (their digest is the one recorded): remember them per group."""
        self.synced = {tg: targets.get(tg, frozenset()) for tg in self.target_groups}

    @classmethod
    def from_annotation(cls, value: str) -> Applied | None:
        try:
            data = json.loads(value)
            return cls(
                digest=str(data["digest"]),
                hostname=str(data["hostname"]),
                target_groups={str(k): str(v) for k, v in data["targetGroups"].items()},
                load_balancer=str(data.get("loadBalancer") or ""),
                targets_digest=str(data.get("targets") or ""),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return None  # unreadable: a full deploy rewrites it

    def matches(self, live: frozenset[str]) -> bool:
        """Whether the stack's live load balancer and target groups (ARNs, from the start-up
        sweep) are the ones recorded: one load balancer, the recorded one if known, and
        exactly the recorded target groups."""
        balancers = {arn for arn in live if ":loadbalancer/" in arn}
        groups = live - balancers
        if len(balancers) != 1 or groups != set(self.target_groups.values()):
            return False
        return not self.load_balancer or self.load_balancer in balancers


def targets_digest(targets: DesiredTargets) -> str:
    canonical = sorted((tg, sorted((t.id, t.port) for t in ts)) for tg, ts in targets.items())
    return hashlib.sha256(json.dumps(canonical).encode()).hexdigest()


def _meta(body: Body) -> Mapping[str, Any]:
    meta: Mapping[str, Any] = body.get("metadata") or {}
    return meta


def _hostname(body: Body) -> str | None:
    entries = ((body.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    first = entries[0] if entries else {}
    return first.get("hostname") if isinstance(first, Mapping) else None


def _untimed(stage: str) -> contextlib.AbstractContextManager[None]:
    return contextlib.nullcontext()


@dataclass
class GroupReconciler:
    cache: ClusterCache
    writer: KubeWriter
    deployer: StackDeployer
    defaults: ModelDefaults
    # Times a stage (`controller.kube.metrics.Metrics.stage`); the others are timed by wrappers.
    stage: Callable[[str], contextlib.AbstractContextManager[None]] = _untimed
    # Called with the group id once AWS holds the group's stack, or once it is torn down:
    # what the incumbent left for the group in Kubernetes can go then (`kube/bindings.py`).
    settled: Callable[[str], None] = lambda _group_id: None
    applied: dict[str, Applied] = field(default_factory=dict)
    last_good: LastGood = field(default_factory=LastGood)
    # Build errors and build warnings, each posted once per change (`kube/notices.py`).
    _errors: Notices = field(default_factory=Notices)
    _warnings: Notices = field(default_factory=Notices)
    _refused: Notices = field(default_factory=Notices)
    refusals: Refusals = field(default_factory=lambda: Refusals(ignored=OWN_RECORDS))
    _failures: dict[str, int] = field(default_factory=dict)
    # Per group, bumped as a deploy or teardown starts and as it ends: the drift sweep
    # (`kube/drift.py`) trusts a live fingerprint only if this did not move while it read.
    changes: dict[str, int] = field(default_factory=dict)

    @contextlib.contextmanager
    def _changing(self, group_id: str) -> Iterator[None]:
        self.changes[group_id] = self.changes.get(group_id, 0) + 1
        try:
            yield
        finally:
            self.changes[group_id] = self.changes.get(group_id, 0) + 1

    def reconcile(self, group_id: str, mode: Mode) -> Outcome:
        group = self.cache.group_ref(group_id)
        if group is None:
            return self._forget_group(group_id)
        keys = self.cache.group_members(group_id)
        bodies = {k: b for k in keys if (b := self.cache.ingress(k)) is not None}
        members = [body for key, body in bodies.items() if self._is_member(key, group)]
        # One snapshot for the model and its targets: consistent, and taken once.
        state = self.cache.state()
        refused = self.refusals.standing(bodies, retry=mode >= Mode.DRIFT)
        with self.stage("build_model"):
            result = self.last_good.build(
                group,
                members,
                state,
                self.defaults,
                refused=refused.keys(),
                dropped={k for k, r in refused.items() if r.dropped},
            )
        self._report_build_errors(bodies, result.errors + self._membership_errors(keys))
        self._report_build_warnings(bodies, result.warnings)
        try:
            outcome = self._apply(group, result, state, mode, bodies=bodies, refused=refused)
        except AwsError as error:
            self._forget_applied(group_id, bodies)
            if blamed := self._blamed(error, result):
                # AWS refused these members' part: the next reconcile, at once and from
                # fresh copies, deploys the rest with their last good version or without them.
                for key in blamed:
                    dropped = key in refused  # its last good version was refused too
                    refused[key] = self.refusals.refuse(
                        key, bodies[key], str(error), dropped=dropped
                    )
                logger.info(
                    "group %s: AWS refused the part of %s; deploying the rest",
                    group_id,
                    ", ".join(sorted(blamed)),
                    extra={"group": group_id},
                )
                outcome = Outcome(retry_after=REFUSED_RETRY, retry_mode=Mode.FULL)
            else:
                reason = REASON_DEPLOY if result.stack is not None else REASON_CLEANUP
                built = result.stack.ingresses if result.stack is not None else ()
                notify = [k for k in built if k in bodies] or list(bodies)
                outcome = self._aws_failure(group_id, bodies, notify, error, reason)
        self._refused.tell(
            self.writer.event, bodies, {k: [(REASON_DEPLOY, r.message)] for k, r in refused.items()}
        )
        return outcome

    def _apply(
        self,
        group: GroupRef,
        result: GroupResult,
        state: ClusterState,
        mode: Mode,
        *,
        bodies: dict[str, Body],
        refused: Mapping[str, Refusal],
    ) -> Outcome:
        """Deploy, tear down or keep the group as `result` says; AWS errors propagate."""
        group_id = group.id
        built = result.stack.ingresses if result.stack is not None else ()
        active = [k for k in built if k in bodies]
        inactive = [k for k in bodies if k not in active and self._is_inactive(k, group_id)]
        invalid = [k for k in bodies if k not in active and k not in inactive]
        try:
            if result.stack is None and invalid:
                # Every remaining member is invalid: keep AWS as it is until one is fixed,
                # rather than tear down a working ALB over a typo.
                self._release(group, bodies, inactive)
            elif result.stack is None:
                self._teardown(group, bodies, inactive)
                self.settled(group_id)
            else:
                targets = build_targets(
                    result.stack, state, fail_open=self.defaults.endpoints_fail_open
                )
                fresh = self.last_good.fresh(result, refused.keys())
                self._deploy(
                    group, result.stack, targets, mode, bodies=bodies, active=active, fresh=fresh
                )
                self.last_good.remember(result, bodies, refused.keys())
                self._release(group, bodies, inactive)
                self.settled(group_id)
            self.last_good.forget(inactive)
            self.refusals.forget(inactive)
        except WritesFencedError as error:
            # This replica's Lease is late or lost: write nothing more, to AWS or Kubernetes.
            # AWS may be half changed, so the next deploy must be a full one.
            self.applied.pop(group_id, None)
            logger.warning(
                "group %s: %s; retrying in %.0fs",
                group_id,
                error,
                FENCED_RETRY,
                extra={"group": group_id},
            )
            return Outcome(retry_after=FENCED_RETRY)
        except StaleCopyError as error:
            # Another group's reconcile edited the same Ingress (one moving between groups):
            # the watch brings the new copy within moments.
            logger.info("group %s: %s; trying again", group_id, error, extra={"group": group_id})
            return Outcome(retry_after=STALE_RETRY)
        self._failures.pop(group_id, None)
        return Outcome()

    @staticmethod
    def _blamed(error: AwsError, result: GroupResult) -> set[str]:
        """The members AWS refused, when the group can go on without them (others remain)."""
        built = set(result.stack.ingresses) if result.stack is not None else set()
        blamed = set(error.ingresses) & built
        if error.retryable or not blamed or not built - blamed:
            return set()
        return blamed

    def unverified(self, inventory: Mapping[str, frozenset[str]]) -> set[str]:
        """The groups whose recorded state (`APPLIED_ANNOTATION`) the live one contradicts:
        a load balancer or target group made, replaced or deleted since it was written (by
        the incumbent during a rollback, or by hand). Those get a full deploy at start-up
        instead of being trusted; `inventory` is the start-up sweep (stack id -> ARNs)."""
        found: set[str] = set()
        for group_id in self.cache.groups():
            keys = self.cache.group_members(group_id)
            bodies = {k: b for k in keys if (b := self.cache.ingress(k)) is not None}
            applied = self.applied.get(group_id) or self._applied_from(bodies, list(bodies))
            if applied is not None and not applied.matches(inventory.get(group_id, frozenset())):
                found.add(group_id)
        return found

    def _forget_group(self, group_id: str) -> Outcome:
        """No Ingress belongs to the group or holds it any more (one deleted after its
        finalizer was removed by hand): tear down what this process applied for it."""
        if group_id in self.applied:
            logger.info("tearing down group %s", group_id, extra={"group": group_id})
            try:
                with self._changing(group_id):
                    self.deployer.teardown(group_id)
            except AwsError as error:
                return self._aws_failure(group_id, {}, [], error, REASON_CLEANUP)
            self.applied.pop(group_id, None)
            self.settled(group_id)
        self._failures.pop(group_id, None)
        return Outcome()

    # --- membership ---------------------------------------------------------------------

    def _is_member(self, key: str, group: GroupRef) -> bool:
        membership = self.cache.membership(key)
        return membership is not None and membership.is_member(group)

    def _is_inactive(self, key: str, group_id: str) -> bool:
        membership = self.cache.membership(key)
        if membership is None:
            return False
        left = membership.group is None or membership.group.id != group_id
        holds = any(ref.id == group_id for ref in membership.held)
        return membership.deleting or (left and holds)

    # --- the two paths ------------------------------------------------------------------

    def _deploy(
        self,
        group: GroupRef,
        stack: Stack,
        targets: DesiredTargets,
        mode: Mode,
        *,
        bodies: dict[str, Body],
        active: list[str],
        fresh: set[str],
    ) -> None:
        """`fresh`: the members deployed in their current version (the others stood in for
        by their last good one), whose version is recorded as the new last good."""
        group_id = group.id
        for key in active:  # before any AWS resource exists, as LBC does
            self.writer.add_finalizer(bodies[key], group.finalizer)
        digest = stack.digest()
        applied = self.applied.get(group_id) or self._applied_from(bodies, active)
        if mode < Mode.DRIFT and applied is not None and applied.digest == digest:
            self._sync_targets(group_id, applied, targets)
        else:
            applied = self._full_deploy(
                group_id, stack, digest, targets, bodies=bodies, active=active
            )
        self.applied[group_id] = applied
        # The first member's record (the one `_applied_from` reads first) also says which
        # targets AWS holds, so a restart trusts them without reading every target group.
        first_record, record = applied.to_annotation(with_targets=True), applied.to_annotation()
        for index, key in enumerate(active):
            if _hostname(bodies[key]) != applied.hostname:
                self.writer.set_hostname(bodies[key], applied.hostname)
            annotations = _meta(bodies[key]).get("annotations") or {}
            wanted = {APPLIED_ANNOTATION: record if index else first_record}
            if key in fresh and (version := snapshot(bodies[key])) is not None:
                wanted[LAST_GOOD_ANNOTATION] = version
            changed = {k: v for k, v in wanted.items() if annotations.get(k) != v}
            if changed:  # one patch: the record and the version it was made from
                self.writer.set_annotations(bodies[key], changed)

    def _full_deploy(
        self,
        group_id: str,
        stack: Stack,
        digest: str,
        targets: DesiredTargets,
        *,
        bodies: dict[str, Body],
        active: list[str],
    ) -> Applied:
        logger.info(
            "deploying group %s (%d members)", group_id, len(active), extra={"group": group_id}
        )
        logger.debug(
            "plan for group %s: %s", group_id, stack.model_dump_json(), extra={"group": group_id}
        )
        with self._changing(group_id):
            result = self.deployer.deploy(stack, targets)
        for warning in result.warnings:
            logger.warning(
                "group %s: %s: %s",
                group_id,
                warning.reason,
                warning.message,
                extra={"group": group_id},
            )
            for key in active:
                self.writer.event(bodies[key], "Warning", warning.reason, warning.message)
        for key in active:
            self.writer.event(bodies[key], "Normal", REASON_OK, "Successfully reconciled")
        applied = Applied(
            # Incomplete (a host another group still holds): no digest, so the next reconcile
            # deploys again; the other group letting the host go queues this one.
            digest=digest if result.complete else "",
            hostname=result.dns_name.lower(),
            target_groups=dict(result.target_group_arns),
            targets_digest=targets_digest(targets),
            load_balancer=result.load_balancer_arn,
        )
        applied.trust_targets(targets)  # the deploy read and synced every target group
        return applied

    def _sync_targets(self, group_id: str, applied: Applied, targets: DesiredTargets) -> None:
        """Only the target groups whose wanted targets moved since the last sync are touched,
        with no read when what they hold is known (`Applied.synced`)."""
        digest = targets_digest(targets)
        if digest == applied.targets_digest:
            if applied.synced is None:  # the record of a previous process says so
                applied.trust_targets(targets)
                logger.info(
                    "group %s: targets trusted from the applied record",
                    group_id,
                    extra={"group": group_id},
                )
            return
        known = applied.synced
        moved = {
            tg: arn
            for tg, arn in applied.target_groups.items()
            if known is None or known.get(tg) != targets.get(tg, frozenset())
        }
        calls = self.deployer.sync_targets(moved, targets, known=known)
        logger.info(
            "group %s: targets synced in %d target groups with %d mutating calls",
            group_id,
            len(moved),
            calls,
            extra={"group": group_id},
        )
        applied.targets_digest = digest
        applied.trust_targets(targets)

    def _teardown(self, group: GroupRef, bodies: dict[str, Body], inactive: list[str]) -> None:
        group_id = group.id
        holders = [k for k in inactive if group.finalizer in _finalizers(bodies[k])]
        if holders or group_id in self.applied:
            logger.info("tearing down group %s", group_id, extra={"group": group_id})
            with self._changing(group_id):
                self.deployer.teardown(group_id)
        self.applied.pop(group_id, None)
        self._release(group, bodies, inactive)

    def _release(self, group: GroupRef, bodies: dict[str, Body], inactive: list[str]) -> None:
        """Let inactive members go: their part is out of AWS now."""
        for key in inactive:
            body = bodies[key]
            if not _meta(body).get("deletionTimestamp"):
                # Left the group or our class: it no longer points at our ALB.
                if _hostname(body):
                    self.writer.set_hostname(body, None)
                ours = [k for k in OWN_RECORDS if k in (_meta(body).get("annotations") or {})]
                if ours:
                    self.writer.set_annotations(body, dict.fromkeys(ours))
            self.writer.remove_finalizer(body, group.finalizer)

    # --- errors -------------------------------------------------------------------------

    def _forget_applied(self, group_id: str, bodies: dict[str, Body]) -> None:
        """A failed deploy may have changed AWS part way, so what was last applied is no
        longer what AWS holds: drop the record (memory and annotation) so that the next
        reconcile deploys in full, even if the model is back to what was applied (the soak
        saw a member join, the deploy fail half done, the member go: its rules stayed)."""
        self.applied.pop(group_id, None)
        for body in bodies.values():
            if APPLIED_ANNOTATION in (_meta(body).get("annotations") or {}):
                self.writer.set_annotations(body, {APPLIED_ANNOTATION: None})

    def _report_build_errors(self, bodies: dict[str, Body], errors: tuple[BuildError, ...]) -> None:
        """All of an Ingress's build errors in one FailedBuildModel Event."""
        by_ingress: dict[str, list[BuildError]] = {}
        for error in errors:
            by_ingress.setdefault(error.ingress, []).append(error)
        found = {
            key: [(REASON_BUILD, "; ".join(f"{e.field}: {e.message}" for e in errs))]
            for key, errs in by_ingress.items()
        }
        self._errors.tell(self.writer.event, bodies, found)

    def _report_build_warnings(
        self, bodies: dict[str, Body], warnings: tuple[BuildWarning, ...]
    ) -> None:
        """One Warning Event per Ingress and reason."""
        by_reason: dict[str, dict[str, list[BuildWarning]]] = {}
        for warning in warnings:
            by_reason.setdefault(warning.ingress, {}).setdefault(warning.reason, []).append(warning)
        found = {
            key: [
                (reason, "; ".join(f"{w.field}: {w.message}" for w in ws))
                for reason, ws in sorted(reasons.items())
            ]
            for key, reasons in by_reason.items()
        }
        self._warnings.tell(self.writer.event, bodies, found)

    def _aws_failure(
        self,
        group_id: str,
        bodies: dict[str, Body],
        notify: list[str],
        error: AwsError,
        reason: str,
    ) -> Outcome:
        failures = self._failures.get(group_id, 0) + 1
        self._failures[group_id] = failures
        if error.retryable:
            delay = RETRYABLE_BACKOFF[min(failures, len(RETRYABLE_BACKOFF)) - 1]
        else:
            delay = PERMANENT_RETRY
        logger.error(
            "group %s: %s (retry in %.0fs)", group_id, error, delay, extra={"group": group_id}
        )
        for key in notify:
            if key in bodies:
                self.writer.event(bodies[key], "Warning", reason, str(error))
        return Outcome(retry_after=delay)

    def _membership_errors(self, keys: list[str]) -> tuple[BuildError, ...]:
        """Errors that keep an Ingress out of every group (a bad group.name, say)."""
        found = []
        for key in keys:
            membership = self.cache.membership(key)
            if membership is not None and membership.error is not None:
                found.append(membership.error)
        return tuple(found)

    @staticmethod
    def _applied_from(bodies: dict[str, Body], active: list[str]) -> Applied | None:
        for key in active:
            value = (_meta(bodies[key]).get("annotations") or {}).get(APPLIED_ANNOTATION)
            if isinstance(value, str) and (found := Applied.from_annotation(value)) is not None:
                return found
        return None


def _finalizers(body: Body) -> list[str]:
    return list(_meta(body).get("finalizers") or [])
