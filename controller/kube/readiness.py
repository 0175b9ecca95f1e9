"""Pod readiness gates: which target groups a pod's gates name, and their conditions.

A pod in a namespace labelled `elbv2.k8s.aws/pod-readiness-gate-inject: enabled` gets, when
it is created (`kube.webhook`), a readiness gate `target-health.elbv2.k8s.aws/<name>` for
each ip target group that will select it: our Ingress target groups whose Service selects
its labels (`<name>` is the target group's name, which is also the name LBC gives the
TargetGroupBinding of that target group) and the ip TargetGroupBindings of its namespace
whose Service does (`<name>` is the binding's). The pod is not Ready until every gate's
condition is True; the model still registers it once its containers are ready
(`model.targets.awaits_readiness_gates`), so its health checks can start.

`ReadinessGates` sets the conditions, on the leader only. It polls DescribeTargetHealth of
the target groups that have pods *waiting* (containers ready, an IP, a gate of ours not True,
not being deleted), every `READINESS_GATE_POLL_SECONDS` while any wait, and nothing while
none does; a pod event or a finished reconcile wakes it. Each waiting pod's condition
follows its target: True once `healthy`, False with AWS's reason and description while not
(`Elb.RegistrationInProgress` before it is registered, as LBC says). A gate whose target
group this process has seen but that no longer exists (its Ingress deleted) is set True, as
LBC does for a deleted TargetGroupBinding, so the pod is not held back for good. Conditions
are written with a strategic merge patch of `pods/status` carrying the pod's uid (a
replaced pod is not touched), and only when they change.

`TargetGroupIndex` answers which ip target groups each Ingress group has, from the model
built on the cache (memoized per group, dropped when the group's inputs change), so a
standby's webhook answers as the leader's does.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from controller.aws import AwsError, WritesFencedError
from controller.aws.targets import TargetHealth
from controller.config import ModelDefaults
from controller.kube.cache import Body, ClusterCache
from controller.kube.fallback import LastGood
from controller.model import GroupRef

logger = logging.getLogger(__name__)

GATE_PREFIX = "target-health.elbv2.k8s.aws/"
# The AWS ALB Ingress Controller's (LBC's v1) gates: dropped from a pod that gets ours.
LEGACY_GATE_PREFIX = "target-health.alb.ingress.k8s.aws"
INJECT_LABEL = "elbv2.k8s.aws/pod-readiness-gate-inject"
INJECT_VALUE = "enabled"
BINDING_KIND = "TargetGroupBinding"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"

# What the condition says before the target is registered (LBC's words).
NOT_REGISTERED = ("Elb.RegistrationInProgress", "Target registration is in progress")
HEALTHY_REASON = "Healthy"
PARALLEL_WRITES = 8  # pod condition patches in flight at once
GONE_REASON = "TargetGroupDeleted"


@dataclass(frozen=True)
class GateTarget:
    """An ip target group a readiness gate may name, and how to find it in AWS."""

    namespace: str  # where the pods it selects live (its Service's namespace)
    name: str  # the gate's suffix: the target group's name, or the binding's
    service: str  # `ns/name`
    group: str | None = None  # the Ingress group whose stack has it (None: a binding)
    tg_id: str | None = None  # its `TargetGroup.id` in that stack
    arn: str | None = None  # known up front for a binding (`spec.targetGroupARN`)

    @property
    def condition_type(self) -> str:
        return GATE_PREFIX + self.name


class TargetGroupIndex:
    """The ip target groups of each Ingress group, built from the cache when first asked
    and kept until `invalidate` (an input of the group changed). Thread-safe."""

    def __init__(
        self, cache: ClusterCache, defaults: ModelDefaults, last_good: LastGood | None = None
    ) -> None:
        self._cache = cache
        self._defaults = defaults
        self._last_good = last_good or LastGood()
        self._lock = threading.Lock()
        self._built: dict[str, tuple[GateTarget, ...]] = {}
        self._seen: set[tuple[str, str]] = set()  # (namespace, name) of every one built

    def invalidate(self, groups: Iterable[str]) -> None:
        with self._lock:
            for group in groups:
                self._built.pop(group, None)

    def of_group(self, group_id: str) -> tuple[GateTarget, ...]:
        with self._lock:
            found = self._built.get(group_id)
        if found is not None:
            return found
        found = self._build(group_id)
        with self._lock:
            self._built[group_id] = found
            self._seen.update((t.namespace, t.name) for t in found)
        return found

    def seen(self, namespace: str, name: str) -> bool:
        """Whether this process has known an ip target group of that name for pods there."""
        with self._lock:
            return (namespace, name) in self._seen

    def for_service(self, service: str) -> list[GateTarget]:
        """The ip target groups of our Ingresses whose backend is `service` (`ns/name`)."""
        return [
            target
            for group in sorted(self._cache.groups_using_service(service))
            for target in self.of_group(group)
            if target.service == service
        ]

    def _build(self, group_id: str) -> tuple[GateTarget, ...]:
        ref = self._cache.group_ref(group_id)
        if ref is None:
            return ()
        members = [
            body
            for key in self._cache.group_members(group_id)
            if (body := self._cache.ingress(key)) is not None and _is_member(self._cache, key, ref)
        ]
        result = self._last_good.build(ref, members, self._cache.state(), self._defaults)
        if result.stack is None:
            return ()
        return tuple(
            GateTarget(
                namespace=tg.service.partition("/")[0],
                name=tg.name,
                service=tg.service,
                group=group_id,
                tg_id=tg.id,
            )
            for tg in result.stack.target_groups
            if tg.target_type == "ip"
        )


def _is_member(cache: ClusterCache, key: str, group: GroupRef) -> bool:
    membership = cache.membership(key)
    return membership is not None and membership.is_member(group)


def ip_bindings(cache: ClusterCache, namespace: str) -> list[GateTarget]:
    """The ip TargetGroupBindings of `namespace` in the cache (none while the kind is not
    cached, e.g. before the controller serves bindings)."""
    try:
        keys = sorted(k for k in cache.keys(BINDING_KIND) if k.startswith(namespace + "/"))
    except KeyError:
        return []
    found = []
    for key in keys:
        body = cache.get(BINDING_KIND, key) or {}
        spec = body.get("spec") or {}
        service = (spec.get("serviceRef") or {}).get("name")
        name = (body.get("metadata") or {}).get("name")
        if spec.get("targetType") != "ip" or not isinstance(service, str) or not name:
            continue
        arn = spec.get("targetGroupARN")
        found.append(
            GateTarget(
                namespace=namespace,
                name=str(name),
                service=f"{namespace}/{service}",
                arn=arn if isinstance(arn, str) and arn else None,
            )
        )
    return found


def gates_for(
    cache: ClusterCache, index: TargetGroupIndex, namespace: str, labels: Mapping[str, str]
) -> list[str]:
    """The readiness gate condition types a new pod of `namespace` with `labels` gets: one
    per ip target group (ours, or a binding's) whose Service selects it, sorted, once each."""
    services = set(cache.services_selecting(namespace, labels))
    found = {t.condition_type for s in sorted(services) for t in index.for_service(s)}
    found |= {t.condition_type for t in ip_bindings(cache, namespace) if t.service in services}
    return sorted(found)


def namespace_enabled(cache: ClusterCache, namespace: str) -> bool:
    """Whether new pods of `namespace` get gates: its label says so. A namespace the cache
    has not seen yet is trusted to be labelled (the webhook's namespaceSelector let the
    request through, and it reads the live labels)."""
    body = cache.get("Namespace", namespace)
    if body is None:
        return True
    labels = (body.get("metadata") or {}).get("labels") or {}
    return labels.get(INJECT_LABEL) == INJECT_VALUE


# --- conditions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    status: str  # "True" or "False"
    reason: str
    message: str


@dataclass(frozen=True)
class Waiting:
    """One gate of one pod that is not True yet."""

    key: str  # `ns/name` of the pod
    uid: str
    ips: frozenset[str]
    condition_type: str
    current: Condition | None  # the pod's condition of that type now, if any


def _conditions(pod: Body) -> dict[str, Condition]:
    found = {}
    for c in (pod.get("status") or {}).get("conditions") or ():
        found[str(c.get("type"))] = Condition(
            str(c.get("status")), str(c.get("reason") or ""), str(c.get("message") or "")
        )
    return found


def _ips(pod: Body) -> frozenset[str]:
    status = pod.get("status") or {}
    ips = {p.get("ip") for p in status.get("podIPs") or ()} | {status.get("podIP")}
    return frozenset(ip for ip in ips if isinstance(ip, str) and ip)


def waiting_gates(pods: Iterable[Body]) -> list[Waiting]:
    """The gates of ours that pods wait for: pods not being deleted, with an IP and their
    containers ready (before that no target can be healthy), whose gate is not True."""
    found = []
    for pod in pods:
        meta = pod.get("metadata") or {}
        ips = _ips(pod)
        conditions = _conditions(pod)
        ready = conditions.get("ContainersReady")
        if meta.get("deletionTimestamp") or not ips or ready is None or ready.status != "True":
            continue
        for gate in (pod.get("spec") or {}).get("readinessGates") or ():
            kind = str(gate.get("conditionType") or "")
            current = conditions.get(kind)
            if kind.startswith(GATE_PREFIX) and (current is None or current.status != "True"):
                key = f"{meta.get('namespace')}/{meta.get('name')}"
                found.append(Waiting(key, str(meta.get("uid") or ""), ips, kind, current))
    return found


def condition_from_health(health: Sequence[TargetHealth], ips: frozenset[str]) -> Condition:
    """The gate's condition for a pod whose addresses are `ips`, from its target group's
    DescribeTargetHealth: True when its target is healthy, else False with AWS's reason."""
    mine = [t for t in health if t.id in ips and t.state != "draining"]
    if not mine:
        return Condition("False", *NOT_REGISTERED)
    sick = [t for t in mine if t.state != "healthy"]
    if not sick:
        return Condition("True", HEALTHY_REASON, "Target is healthy")
    worst = sick[0]
    return Condition(
        "False", worst.reason or worst.state, worst.description or f"Target is {worst.state}"
    )


def gone_condition(name: str) -> Condition:
    return Condition("True", GONE_REASON, f"Target group {name} no longer exists")


# --- writing conditions ---------------------------------------------------------------------


class PodConditions(Protocol):
    def set_condition(
        self, pod: str, uid: str, condition_type: str, condition: Condition, *, transition: bool
    ) -> bool:
        """Set the condition on pod `ns/name` if it is still the pod `uid`; `transition`:
        its status changes (lastTransitionTime is now). False: the pod is gone."""
        ...


class ApiPodConditions:
    """`PodConditions` over the `kubernetes` client: pods/status, strategic merge patch."""

    def __init__(self, api_client: k8s.ApiClient, clock: Callable[[], datetime.datetime]) -> None:
        self._core = k8s.CoreV1Api(api_client)
        self._clock = clock
        self.write_guard: Callable[[], bool] | None = None  # the elector's `may_write`

    def set_condition(
        self, pod: str, uid: str, condition_type: str, condition: Condition, *, transition: bool
    ) -> bool:
        if self.write_guard is not None and not self.write_guard():
            raise WritesFencedError(f"pod condition of {pod} refused: not the leader now")
        namespace, _, name = pod.partition("/")
        entry: dict[str, Any] = {
            "type": condition_type,
            "status": condition.status,
            "reason": condition.reason,
            "message": condition.message,
        }
        if transition:  # else the merge keeps the one the condition has
            entry["lastTransitionTime"] = self._clock().isoformat().replace("+00:00", "Z")
        patch = {"metadata": {"uid": uid}, "status": {"conditions": [entry]}}
        try:
            self._core.patch_namespaced_pod_status(
                name, namespace, patch, _content_type=STRATEGIC_MERGE_PATCH
            )
        except ApiException as error:
            if error.status in (404, 409, 422):  # gone, or replaced by a pod of that name
                return False
            raise
        return True


# --- the poller ---------------------------------------------------------------------------


@dataclass
class Poll:
    """What one round found: the target groups to read, with their waiting pods."""

    by_arn: dict[str, list[Waiting]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # ARN -> the gate's target group name
    gone: list[tuple[Waiting, str]] = field(default_factory=list)  # and the name


class ReadinessGates:
    """Sets readiness gate conditions from target health (module doc); run on the leader."""

    def __init__(
        self,
        cache: ClusterCache,
        index: TargetGroupIndex,
        arns: Callable[[], Mapping[tuple[str, str], str]],
        health: Callable[[str], Sequence[TargetHealth]],
        writer: PodConditions,
        *,
        interval: float = 2.0,
        binding_arns: Callable[[], Mapping[str, str]] = dict,
    ) -> None:
        """`arns`: (group, TargetGroup.id) -> ARN of what is deployed; `health`: one
        DescribeTargetHealth (`Deployer.target_health`); `binding_arns`: binding key -> the
        ARN its target group was resolved to (a binding may name it by `targetGroupName`)."""
        self._cache = cache
        self._index = index
        self._arns = arns
        self._binding_arns = binding_arns
        self._health = health
        self._writer = writer
        self._interval = interval
        self._wake = asyncio.Event()
        self._written: dict[tuple[str, str, str], Condition] = {}  # (pod, uid, type) -> last

    def wake(self) -> None:
        self._wake.set()

    def plan(self) -> Poll:
        """The target groups with pods waiting (only those are read), and the gates whose
        target group has gone. Reads the cache; builds models on first use (a thread)."""
        poll = Poll()
        arns, binding_arns = self._arns(), self._binding_arns()
        for waiting in waiting_gates(self._cache.gated_pods()):
            namespace = waiting.key.partition("/")[0]
            name = waiting.condition_type.removeprefix(GATE_PREFIX)
            target = self._target(waiting.key, namespace, name)
            if target is None:
                if self._index.seen(namespace, name):
                    poll.gone.append((waiting, name))
                continue  # not ours, or not built yet
            arn = target.arn
            if arn is None and target.group is not None and target.tg_id is not None:
                arn = arns.get((target.group, target.tg_id))
            elif arn is None and target.group is None:  # a binding by targetGroupName
                arn = binding_arns.get(f"{target.namespace}/{target.name}")
            if arn is None:
                continue  # not deployed (resolved) yet: a finished reconcile wakes the poller
            poll.by_arn.setdefault(arn, []).append(waiting)
            poll.names[arn] = name
        return poll

    def _target(self, pod: str, namespace: str, name: str) -> GateTarget | None:
        body = self._cache.get("Pod", pod) or {}
        labels = (body.get("metadata") or {}).get("labels") or {}
        services = self._cache.services_selecting(namespace, labels)
        candidates = [t for s in services for t in self._index.for_service(s)]
        candidates += [t for t in ip_bindings(self._cache, namespace) if t.service in services]
        return next((t for t in candidates if t.name == name), None)

    def changes(
        self, poll: Poll, health: Mapping[str, Sequence[TargetHealth]]
    ) -> list[tuple[Waiting, Condition]]:
        """The conditions to write: each waiting gate's from its target's health, a gone
        target group's True; not those already so (or written, until the watch says so)."""
        wanted = [
            (gate, condition_from_health(health[arn], gate.ips))
            for arn, waiting in poll.by_arn.items()
            if arn in health
            for gate in waiting
        ]
        wanted += [(gate, gone_condition(name)) for gate, name in poll.gone]
        live = {(gate.key, gate.uid) for gate, _ in wanted}
        self._written = {k: v for k, v in self._written.items() if (k[0], k[1]) in live}
        return [
            (gate, condition)
            for gate, condition in wanted
            if condition != gate.current
            and self._written.get((gate.key, gate.uid, gate.condition_type)) != condition
        ]

    async def _write(self, gate: Waiting, condition: Condition, slots: asyncio.Semaphore) -> int:
        transition = gate.current is None or gate.current.status != condition.status
        async with slots:
            try:
                done = await asyncio.to_thread(
                    self._writer.set_condition,
                    gate.key,
                    gate.uid,
                    gate.condition_type,
                    condition,
                    transition=transition,
                )
            except (ApiException, WritesFencedError) as error:
                logger.warning("readiness gates: cannot set %s of %s: %s", gate.condition_type,
                               gate.key, error)  # fmt: skip
                return 0
        if not done:
            return 0  # the pod is gone
        self._written[(gate.key, gate.uid, gate.condition_type)] = condition
        logger.info("pod %s: %s is %s (%s)", gate.key, gate.condition_type, condition.status,
                    condition.reason)  # fmt: skip
        return 1

    async def poll_once(self) -> int:
        """One round: read the waiting target groups' health, write what changed (a few
        pods at a time: a hundred pods turning healthy at once wait for one round, not for a
        hundred writes in a row). Returns the number of target groups read (0: none waits)."""
        poll = await asyncio.to_thread(self.plan)
        health: dict[str, Sequence[TargetHealth]] = {}
        for arn in sorted(poll.by_arn):
            try:
                health[arn] = await asyncio.to_thread(self._health, arn)
            except AwsError as error:
                logger.warning("readiness gates: cannot read the health of %s: %s", arn, error)
        slots = asyncio.Semaphore(PARALLEL_WRITES)
        await asyncio.gather(*(self._write(g, c, slots) for g, c in self.changes(poll, health)))
        return len(poll.by_arn)

    async def run(self) -> None:
        """Poll while pods wait; sleep until woken while none does."""
        while True:
            self._wake.clear()
            try:
                polled = await self.poll_once()
            except Exception as error:  # an API outage, or our bug: the next round tries again
                logger.warning("readiness gates: a round failed (%s: %s)", type(error).__name__,
                               error)  # fmt: skip
                polled = 1
            if polled:
                await asyncio.sleep(self._interval)
            else:
                with contextlib.suppress(TimeoutError):
                    # Woken by a pod event or a reconcile; now and then anyway, for a gate
                    # whose target group was deployed while no event came.
                    await asyncio.wait_for(self._wake.wait(), timeout=60.0)
