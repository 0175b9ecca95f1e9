"""The seeded random soak: many operations on a real cluster, and AWS checked after each lull.

`Soak(sandbox, config, workdir).run()` drives the controller (one replica, or two with leader
election, each behind its own `TimedProxyThread` in front of the sandbox's moto) with a
sequence of operations that `random.Random(config.seed)` picks over a pool of namespaces,
apps (a Deployment and a NodePort Service each) and Ingress slots:

- `create` an Ingress (lone or in one of the soak's IngressGroups), `edit_annotations`
  (scheme, target-type, health checks, listen ports, ssl-redirect, tags, attributes, CIDRs,
  group order: one key set or removed), `edit_rules` (hosts, paths, path types, backends
  and their ports), `scale` a Deployment (kwok makes its Pods Ready, kube-controller-manager
  rewrites the EndpointSlices), `change_class` (alb <-> a class of another controller),
  `change_group` (lone <-> a group <-> the other group), `delete`, and `kill`: SIGKILL the
  controller (restarted at once, as a Deployment would); with two replicas the current
  leader, or SIGSTOP it for longer than the lease and SIGCONT it later (it then finds itself
  deposed and exits, and is restarted);
- AWS faults, if asked for: every service fails `fault_probability` of its calls through
  the proxies, split evenly over 500, 503, reset, reset after moto applied the call, a short
  hold then reset, and the same after upstream. The proxies draw from seeded generators.

Every candidate edit is first run through the pure model builder on the soak's own view of
the cluster; one that would give a `BuildError` (members of a group disagreeing on the
scheme, say) is drawn again, so the cluster only ever asks for something valid.

After every `check_every` operations the soak waits for a leader that has started
reconciling and for `quiet_seconds` without an AWS call on any proxy (the controller runs
with RESYNC_SECONDS=3600, so no drift check keeps AWS busy); the faults stay on until then.
`sandbox.converged.check` then compares AWS with the plan of the cluster. A quiet point is
not always the end: a reconcile that failed retries after a backoff of 5 s or more. So a
check that differs clears the faults and compares again at each new quiet point for up to
`settle_seconds` ("settled late", its first differences kept for diagnosis); what still
differs then is a mismatch. Then the faults come back.

At the end every Ingress is deleted (faults cleared), the soak waits for them to go and
`sandbox.aws.leaks` must be empty. The result (`SoakResult`) counts operations by kind,
faults injected (the proxies' counts), checks, mismatches, duplicates, takeovers (changes of
Lease holder), the two-writer count (mutating calls by one controller process after
another one's first mutating call, which starts its reign: only a leader writes; and how
many of them a SIGSTOPped leader had sent, past its write guard, before the stop), crashes
(controller exits the soak did not cause, and Tracebacks in the logs) and leaks.
`operations.log` in the work directory (beside each controller process's log and
`aws-calls-<replica>.log`, every call its proxy saw) says what each operation did, as it
goes; the sequence of draws is the seed's, except where the cluster's timing decides (a
slot whose Ingress is still being deleted is not reused).
"""

from __future__ import annotations

import copy
import functools
import json
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client
from pydantic import BaseModel, ConfigDict, Field

from controller.config import ModelDefaults
from controller.model import ClusterState, build
from sandbox import converged, objects
from sandbox.aws import leaks
from sandbox.awsproxy import (
    DEFAULT_BUCKETS,
    DEFAULT_LATENCY,
    NO_BUCKETS,
    NO_LATENCY,
    FaultRule,
)
from sandbox.awsproxy.faults import FaultAction
from sandbox.awsproxy.timed import TimedProxyThread
from sandbox.controller_process import ControllerProcess
from sandbox.runner import Sandbox
from sandbox.waiting import wait_until

LEASE_NAME = "alb-ingress-controller-leader"
PREFIX = "alb.ingress.kubernetes.io/"
OTHER_CONTROLLER = "example.com/not-alb"
IN_FLIGHT = "in flight at the stop"  # marks two-writer calls a frozen leader had already sent
FAULT_SERVICES = ("elbv2", "ec2", "route53", "resourcegroupstaggingapi", "acm")
WAIT_INTERVAL = 0.25  # seconds between the checks of a wait
OPERATIONS = (
    "create",
    "edit_annotations",
    "edit_rules",
    "scale",
    "change_class",
    "change_group",
    "delete",
    "kill",
)
PATHS = ("/", "/api", "/static", "/v2", "/login")
# The annotation values an edit may set (None: remove the annotation). All valid on their own;
# combinations the model rejects (a group that disagrees, ssl-redirect without HTTPS) are
# filtered by the model itself.
ANNOTATION_VALUES: dict[str, tuple[str | None, ...]] = {
    "scheme": ("internal", "internet-facing", None),
    "target-type": ("instance", "ip", None),
    "healthcheck-path": ("/", "/healthz", "/ready", None),
    "healthcheck-interval-seconds": ("10", "15", "30", None),
    "healthy-threshold-count": ("2", "3", "5", None),
    "success-codes": ("200", "200-299", "200,302", None),
    "listen-ports": (
        '[{"HTTP": 80}]',
        '[{"HTTP": 8080}]',
        '[{"HTTP": 80}, {"HTTPS": 443}]',
        '[{"HTTPS": 443}]',
        None,
    ),
    "ssl-redirect": ("443", None),
    "tags": ("team=a", "team=b,env=soak", "env=soak", None),
    "load-balancer-attributes": (
        "idle_timeout.timeout_seconds=60",
        "idle_timeout.timeout_seconds=120",
        None,
    ),
    "target-group-attributes": (
        "deregistration_delay.timeout_seconds=30",
        "deregistration_delay.timeout_seconds=60",
        None,
    ),
    "inbound-cidrs": ("0.0.0.0/0", "10.0.0.0/8", None),
    "group.order": ("-5", "0", "10", None),
}

Say = Callable[[str], None]
Obj = dict[str, Any]


class SoakConfig(BaseModel):
    """How big and how hostile a soak is."""

    model_config = ConfigDict(frozen=True)

    seed: int
    operations: int = Field(ge=1)
    check_every: int = Field(ge=1)
    namespaces: int = 2
    apps_per_namespace: int = 3
    slots_per_namespace: int = 4
    groups: int = 2
    replicas: int = Field(default=1, ge=1, le=2)
    # Relative weights of the operations; missing ones are 0.
    weights: dict[str, float] = Field(
        default_factory=lambda: {
            "create": 4.0,
            "edit_annotations": 5.0,
            "edit_rules": 3.0,
            "scale": 3.0,
            "change_class": 1.0,
            "change_group": 2.0,
            "delete": 2.0,
            "kill": 1.0,
        }
    )
    # At least this many kills, placed at random positions (the rest are drawn by weight).
    min_kills: int = 0
    stop_share: float = Field(default=0.5, ge=0, le=1)  # of leader kills that are SIGSTOPs
    min_stops: int = 0  # with two replicas, at least this many of the kills are SIGSTOPs
    stop_seconds: float = 20.0  # SIGSTOP this long (> the 15 s lease), then SIGCONT
    fault_probability: float = Field(default=0.0, ge=0, lt=1)
    fault_delay_s: float = 0.3  # the hold of a timeout fault (far below the client timeout)
    aws_latency: bool = False  # the proxy's default AWS latency, else none
    aws_throttling: bool = False  # the proxy's default token buckets, else none
    pause: tuple[float, float] = (0.0, 0.4)  # seconds between operations (uniform)
    quiet_seconds: float = 3.0
    settle_seconds: float = 60.0
    leader_timeout: float = 90.0
    delete_timeout: float = 180.0


class SoakResult(BaseModel):
    """What a soak did and found; the figures of bench/README.md's reliability table."""

    seed: int
    replicas: int
    seconds: float
    operations: int
    operations_by_kind: dict[str, int]
    kills: dict[str, int]  # sigkill / sigstop
    faults_injected: int
    faults_by_service: dict[str, int]
    aws_calls: int
    aws_mutating_calls: int
    quiet_checks: int
    checks_settled_late: int  # differed at the first quiet point, converged within settle
    settle_seconds_max: float
    mismatches: list[str]
    duplicates: list[str]
    transient: list[str]  # the first differences of checks that settled late (diagnostics)
    takeovers: int
    two_writer: int
    # Of those, requests a SIGSTOPped leader had sent (past its write guard) before the stop,
    # arriving once it ran again: no client-side guard can take back a request on the wire.
    two_writer_in_flight: int
    two_writer_calls: list[str]
    leadership: list[str]  # when the soak saw each new Lease holder
    crashes: int
    crash_details: list[str]
    tracebacks: int  # in the controllers' logs
    traceback_details: list[str]  # log file: the exception line
    fenced_writes: int  # writes a deposed leader's fence refused (one log line each)
    leaks: list[str]
    plan_errors: list[str]
    rejected_candidates: int  # edits the model refused, drawn again
    log_dir: str

    def summary(self) -> str:
        ops = ", ".join(f"{k} {v}" for k, v in sorted(self.operations_by_kind.items()))
        return (
            f"soak seed {self.seed}: {self.operations} operations in {self.seconds:.0f}s "
            f"({ops}); {self.replicas} replica(s), kills {self.kills}; "
            f"{self.faults_injected} faults injected of {self.aws_calls} AWS calls; "
            f"{self.quiet_checks} quiet checks ({self.checks_settled_late} settled late, "
            f"max {self.settle_seconds_max:.1f}s); mismatches {len(self.mismatches)}, "
            f"duplicates {len(self.duplicates)}, takeovers {self.takeovers}, two-writer "
            f"{self.two_writer} ({self.two_writer_in_flight} in flight at a SIGSTOP), "
            f"crashes {self.crashes} (tracebacks {self.tracebacks}), "
            f"leaks {len(self.leaks)}"
        )


# --- the cluster's workload ----------------------------------------------------------------


@dataclass
class Slot:
    """One Ingress the soak may create, edit and delete; `body` is what it last applied."""

    namespace: str
    name: str
    hosts: tuple[str, ...]
    body: Obj | None = None  # None: does not exist (or is being deleted)
    deleting: bool = False

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def _deployment(app: str, namespace: str, replicas: int) -> Obj:
    """An app's Deployment: kwok runs its Pods (Ready at once), on ports 80 and 8080."""
    return objects.deployment(app, namespace, replicas, ports=(80, 8080))


def _service(app: str, namespace: str) -> Obj:
    """An app's NodePort Service: `http` (80) and `alt` (8080)."""
    ports = [objects.tcp_port(name="http"), objects.tcp_port(8080, 8080, name="alt")]
    return objects.app_service(app, namespace, ports=ports)


def _describe(body: Obj) -> str:
    """An Ingress body in one line: class, annotations, rules."""
    annotations = ", ".join(f"{k.removeprefix(PREFIX)}={v}" for k, v in
                            sorted(_annotations(body).items()))  # fmt: skip
    rules = "; ".join(
        f"{r['host']} " + " ".join(
            f"{p['path']}({p['pathType'][0]})->{p['backend']['service']['name']}:"
            f"{next(iter(p['backend']['service']['port'].values()))}"
            for p in r["http"]["paths"])
        for r in body["spec"]["rules"]
    )  # fmt: skip
    return f"class {body['spec']['ingressClassName']} [{annotations}] {rules}"


def _annotations(body: Obj) -> dict[str, str]:
    annotations: dict[str, str] = body["metadata"].setdefault("annotations", {})
    return annotations


# --- a controller replica ------------------------------------------------------------------


@dataclass
class Replica:
    """One controller process slot; each (re)start is a new process (a `ControllerProcess`),
    identity and log."""

    slot: str
    env: dict[str, str]
    workdir: Path
    proxy: TimedProxyThread
    prefix: str
    process: ControllerProcess | None = None
    generation: int = 0
    identity: str = ""
    expect_exit: bool = False
    logs: list[Path] = field(default_factory=list)
    starts: list[tuple[float, str]] = field(default_factory=list)  # (when, identity)

    def start(self) -> None:
        self.generation += 1
        self.identity = f"{self.prefix}-{self.slot}-{self.generation}"
        self.starts.append((time.monotonic(), self.identity))
        log_path = self.workdir / f"{self.identity}.log"
        self.logs.append(log_path)
        env = {**self.env, "POD_NAME": self.identity, "AWS_ENDPOINT_URL": self.proxy.url}
        self.process = ControllerProcess(env, log_path)
        self.process.start()
        self.expect_exit = False

    @property
    def stopped(self) -> bool:
        """SIGSTOPped (a kill that freezes the leader) and not resumed yet."""
        return self.process is not None and self.process.paused

    def running(self) -> bool:
        return self.process is not None and self.process.running()

    def exit_code(self) -> int | None:
        """The status of a process that ended by itself (None: running, or none started)."""
        return self.process.exit_code() if self.process is not None else None

    def kill(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            process.kill()

    def terminate(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            process.stop()  # SIGCONT first, should it be stopped

    def text(self) -> str:
        log = self.logs[-1] if self.logs else None
        return log.read_text(errors="replace") if log is not None and log.exists() else ""

    def leading(self) -> bool:
        return self.running() and not self.stopped and "leading: reconciling" in self.text()


# --- the soak ------------------------------------------------------------------------------


class Soak:
    def __init__(
        self, sandbox: Sandbox, config: SoakConfig, workdir: Path, say: Say = lambda _: None
    ) -> None:
        self.sandbox = sandbox
        self.config = config
        self.workdir = workdir
        self.say = say
        self.rng = random.Random(config.seed)
        self.api: Any = sandbox.api
        self.cluster = sandbox.cluster_name
        self.defaults = ModelDefaults(cluster_name=self.cluster)
        self._name_objects(uuid.uuid4().hex[:5])  # names unique on a shared control plane
        self.services: list[Obj] = []
        self.classes: list[Obj] = []
        self.replicas: list[Replica] = []
        self.lock = threading.Lock()
        self.ops: Counter[str] = Counter()
        self.kills: Counter[str] = Counter()
        self.rejected = 0
        self.checks = 0
        self.settled_late = 0
        self.settle_max = 0.0
        self.mismatches: list[str] = []
        self.duplicates: list[str] = []
        self.transient: list[str] = []
        self.plan_errors: list[str] = []
        self.crash_details: list[str] = []
        # (monotonic time, new holder) at each change of the Lease's holder
        self.holders: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._timers: list[threading.Timer] = []
        self._fault_rules = self._faults()
        self.kill_kinds: list[bool] = []  # per planned kill: SIGSTOP (True) or SIGKILL
        self.journal: list[str] = []  # what each operation did, for reproducing a finding
        self.index = 0  # the operation under way
        self.started = time.monotonic()
        self._closing = False  # set once the replicas are being stopped for good
        # [SIGCONT time, slot, exit time (None until seen)] of each SIGSTOPped leader resumed
        self.resumed: list[list[Any]] = []
        self.faulting = True  # off for the final delete

    def _name_objects(self, suffix: str) -> None:
        """Name the namespaces, groups, other class, apps and Ingress slots, by `suffix`."""
        config = self.config
        self.suffix = suffix
        self.namespaces = [f"soak{i}-{suffix}" for i in range(config.namespaces)]
        self.group_names = [f"soak-{suffix}-{chr(ord('a') + i)}" for i in range(config.groups)]
        self.other_class = f"soak-other-{suffix}"
        self.apps = [f"web{i}" for i in range(config.apps_per_namespace)]
        self.slots = [
            Slot(ns, f"ing{i}", tuple(f"ing{i}-{ns}-{v}.example.com" for v in "abc"))
            for ns in self.namespaces
            for i in range(config.slots_per_namespace)
        ]

    # --- the whole run -----------------------------------------------------------------

    def run(self) -> SoakResult:
        started = self.started = time.monotonic()
        monitor = threading.Thread(target=self._monitor, name="soak-monitor", daemon=True)
        leaked: list[str] = []
        try:
            self._setup()
            self._start_controllers()
            monitor.start()
            self._faults_on()
            plan = self._plan()
            self.say(
                f"soak: seed {self.config.seed}, {len(plan)} operations, "
                f"{self.config.replicas} replica(s)"
            )
            for index, operation in enumerate(plan, start=1):
                self.index = index
                self._operate(operation)
                if index % self.config.check_every == 0 or index == len(plan):
                    self._note(f"check after operation {index}")
                    self._check(f"after operation {index}")
                    self.say(
                        f"  {index}/{len(plan)}: {dict(self.ops)}; checks {self.checks}, "
                        f"mismatches {len(self.mismatches)}"
                    )
                else:
                    time.sleep(self.rng.uniform(*self.config.pause))
            leaked = self._finish()
        finally:
            # Replicas the monitor restarted are its children: a child gets SIGTERM when the
            # thread that started it ends (`die_with_parent`), so they go before it does.
            with self.lock:
                self._closing = True
                for timer in self._timers:
                    timer.cancel()
                for replica in self.replicas:
                    replica.terminate()
            self._stop.set()
            if monitor.is_alive():
                monitor.join(timeout=5)
            stats = [r.proxy.stats() for r in self.replicas]
            two_writers = self._two_writer()
            for replica in self.replicas:  # every call each proxy saw, for diagnosis
                lines = [f"{c.at - self.started:9.3f}s {c.service}.{c.operation}"
                         for c in replica.proxy.calls_since(0.0)]  # fmt: skip
                (self.workdir / f"aws-calls-{replica.slot}.log").write_text("\n".join(lines))
            for replica in self.replicas:
                replica.proxy.stop()
            self._teardown_workload()
        faults: Counter[str] = Counter()
        for snapshot in stats:
            for op in snapshot.operations:
                faults[op.service] += op.faults
        found = [(path.name, line) for replica in self.replicas for path in replica.logs
                 for line in tracebacks_in(path.read_text(errors="replace"))]  # fmt: skip
        tracebacks = [f"{name}: {line}" for name, line in found]
        # A deposed leader's reconcile stops at the fence: one warning line, not a traceback.
        fenced = [line for replica in self.replicas for path in replica.logs
                  for line in path.read_text(errors="replace").splitlines()
                  if "refused: not the leader now" in line]  # fmt: skip
        return SoakResult(
            seed=self.config.seed,
            replicas=self.config.replicas,
            seconds=round(time.monotonic() - started, 1),
            operations=sum(self.ops.values()),
            operations_by_kind=dict(sorted(self.ops.items())),
            kills=dict(self.kills),
            faults_injected=sum(faults.values()),
            faults_by_service=dict(sorted((k, v) for k, v in faults.items() if v)),
            aws_calls=sum(s.calls for s in stats),
            aws_mutating_calls=sum(s.mutating_calls for s in stats),
            quiet_checks=self.checks,
            checks_settled_late=self.settled_late,
            settle_seconds_max=round(self.settle_max, 1),
            mismatches=self.mismatches,
            duplicates=self.duplicates,
            transient=self.transient,
            takeovers=max(0, len(self.holders) - 1),
            two_writer=len(two_writers),
            two_writer_in_flight=sum(1 for c in two_writers if IN_FLIGHT in c),
            two_writer_calls=two_writers,
            leadership=[f"{at - self.started:.2f}s {holder}" for at, holder in self.holders],
            crashes=len(self.crash_details),
            crash_details=self.crash_details,
            tracebacks=len(tracebacks),
            traceback_details=tracebacks,
            fenced_writes=len(fenced),
            leaks=leaked,
            plan_errors=sorted(set(self.plan_errors)),
            rejected_candidates=self.rejected,
            log_dir=str(self.workdir),
        )

    def _plan(self) -> list[str]:
        """The operation kinds, drawn up front: `min_kills` kills at random places, the rest
        by weight; and each kill's kind (SIGSTOP with `stop_share`, at least `min_stops`)."""
        weights = {k: self.config.weights.get(k, 0.0) for k in OPERATIONS}
        kinds = list(weights)
        plan = self.rng.choices(
            kinds, weights=[weights[k] for k in kinds], k=self.config.operations
        )
        missing = self.config.min_kills - plan.count("kill")
        places = [i for i, kind in enumerate(plan) if kind != "kill"]
        for i in self.rng.sample(places, max(0, min(missing, len(places)))):
            plan[i] = "kill"
        kills = plan.count("kill")
        self.kill_kinds = [self.rng.random() < self.config.stop_share for _ in range(kills)]
        if self.config.replicas > 1:  # at least `min_stops` of them SIGSTOPs
            sigkills = [i for i, stop in enumerate(self.kill_kinds) if not stop]
            wanted = self.config.min_stops - (kills - len(sigkills))
            for i in self.rng.sample(sigkills, max(0, min(wanted, len(sigkills)))):
                self.kill_kinds[i] = True
        else:
            self.kill_kinds = [False] * kills
        return plan

    # --- setup and teardown ------------------------------------------------------------

    def _setup(self) -> None:
        # Plain dict bodies, as kubectl sends (the client's methods are typed for its models).
        core: Any = client.CoreV1Api(self.api)
        apps: Any = client.AppsV1Api(self.api)
        networking: Any = client.NetworkingV1Api(self.api)
        networking.create_ingress_class(
            {"metadata": {"name": self.other_class}, "spec": {"controller": OTHER_CONTROLLER}}
        )
        for ns in self.namespaces:
            core.create_namespace({"metadata": {"name": ns}})
        for ns in self.namespaces:
            wait_until(
                functools.partial(_exists, core.read_namespaced_service_account, "default", ns),
                f"the default ServiceAccount of {ns}",
                60,
                WAIT_INTERVAL,
            )
            for app in self.apps:
                replicas = self.rng.randint(1, 2)
                apps.create_namespaced_deployment(ns, _deployment(app, ns, replicas))
                core.create_namespaced_service(ns, _service(app, ns))
        state = converged.read_cluster(self.api)
        ours = set(self.namespaces)
        self.services = [dict(s) for s in state.services if s["metadata"]["namespace"] in ours]
        self.classes = [dict(c) for c in state.ingress_classes]

    def _teardown_workload(self) -> None:
        """Remove what the soak made. After a failure Ingresses may still hold finalizers
        with no controller left to release them: they are dropped, so the namespaces go
        (moto, and what it holds, goes with the sandbox)."""
        core, networking = client.CoreV1Api(self.api), client.NetworkingV1Api(self.api)
        for slot in self.slots:
            try:
                networking.patch_namespaced_ingress(
                    slot.name,
                    slot.namespace,
                    {"metadata": {"finalizers": None}},
                    _content_type="application/merge-patch+json",
                )
            except client.ApiException as error:
                if error.status != 404:
                    raise
        for ns in self.namespaces:
            _ignore_missing(core.delete_namespace, ns)
        _ignore_missing(networking.delete_ingress_class, self.other_class)
        if self.config.replicas > 1:
            _ignore_missing(
                client.CoordinationV1Api(self.api).delete_namespaced_lease,
                LEASE_NAME,
                self.sandbox_namespace,
            )

    @property
    def sandbox_namespace(self) -> str:
        return self.sandbox.controller_env()["POD_NAMESPACE"]

    def _start_controllers(self) -> None:
        latency = DEFAULT_LATENCY if self.config.aws_latency else NO_LATENCY
        buckets = DEFAULT_BUCKETS if self.config.aws_throttling else NO_BUCKETS
        ha = self.config.replicas > 1
        env = {
            **self.sandbox.controller_env(),
            "RESYNC_SECONDS": "3600",
            "LEADER_ELECT": "true" if ha else "false",
        }
        if ha:  # a Lease left by an earlier run would hold the first replica back 15 s
            _ignore_missing(
                client.CoordinationV1Api(self.api).delete_namespaced_lease,
                LEASE_NAME,
                self.sandbox_namespace,
            )
        for index in range(self.config.replicas):
            proxy = TimedProxyThread(
                self.sandbox.aws_endpoint_url,
                latency=latency,
                buckets=buckets,
                seed=self.config.seed * 7 + index,
            )
            proxy.start()
            replica = Replica(
                chr(ord("a") + index), env, self.workdir, proxy, f"soak-{self.suffix}"
            )
            self.replicas.append(replica)
        self.replicas[0].start()
        wait_until(self.replicas[0].leading, "the first replica to lead",
                   self.config.leader_timeout, WAIT_INTERVAL)  # fmt: skip
        for replica in self.replicas[1:]:
            replica.start()

    def _finish(self) -> list[str]:
        """Delete every Ingress with the faults cleared; what AWS still holds is a leak."""
        self.faulting = False
        self._faults_off()
        networking = client.NetworkingV1Api(self.api)
        for slot in self.slots:
            if slot.body is not None or slot.deleting:
                _ignore_missing(networking.delete_namespaced_ingress, slot.name, slot.namespace)
                slot.body, slot.deleting = None, True

        def gone() -> bool:
            return not any(
                _exists(networking.read_namespaced_ingress, s.name, s.namespace) for s in self.slots
            )

        self._note("delete every Ingress")
        try:
            wait_until(
                gone, "every Ingress to be deleted", self.config.delete_timeout, WAIT_INTERVAL
            )
        except TimeoutError:
            read = networking.read_namespaced_ingress
            stuck = [s.key for s in self.slots if _exists(read, s.name, s.namespace)]
            self.mismatches.append(
                f"final delete: still there after {self.config.delete_timeout:.0f}s: "
                + ", ".join(stuck)
            )
        found = leaks(self.sandbox.aws_endpoint_url, self.cluster)
        self._check("after deleting everything")
        return found

    # --- operations ----------------------------------------------------------------------

    def _operate(self, kind: str) -> None:
        done: bool = getattr(self, f"_op_{kind}")()
        if not done:  # nothing to do it to (no Ingress yet, a takeover under way, ...)
            kind, done = "create", self._op_create()
        if not done:
            kind, done = "edit_annotations", self._op_edit_annotations()
        if done:
            self.ops[kind] += 1

    def _note(self, text: str) -> None:
        """One line of `operations.log` (written as the soak goes, for a run still going)."""
        line = f"{time.monotonic() - self.started:7.1f}s {self.index:4d} {text}"
        self.journal.append(line)
        with (self.workdir / "operations.log").open("a") as log:
            log.write(line + "\n")

    def _existing(self) -> list[Slot]:
        return [s for s in self.slots if s.body is not None]

    def _op_create(self) -> bool:
        free = [s for s in self.slots if s.body is None]
        self.rng.shuffle(free)
        networking: Any = client.NetworkingV1Api(self.api)
        for slot in free:
            if slot.deleting:
                if _exists(networking.read_namespaced_ingress, slot.name, slot.namespace):
                    continue
                slot.deleting = False
            for _ in range(10):
                body = self._new_body(slot)
                if self._valid(slot, body):
                    networking.create_namespaced_ingress(slot.namespace, copy.deepcopy(body))
                    slot.body = body
                    self._note(f"create {slot.key}: {_describe(body)}")
                    return True
                self.rejected += 1
        return False

    def _new_body(self, slot: Slot) -> Obj:
        annotations: dict[str, str] = {}
        group = self.rng.choice([None, *self.group_names])
        if group is not None:
            annotations[PREFIX + "group.name"] = group
        for key in self.rng.sample(sorted(ANNOTATION_VALUES), self.rng.randint(0, 3)):
            value = self.rng.choice(ANNOTATION_VALUES[key])
            if value is not None:
                annotations[PREFIX + key] = value
        # Drawn before the rules, as always: a seed's sequence of draws stays the same.
        class_name = "alb" if self.rng.random() < 0.9 else self.other_class
        return objects.ingress(slot.name, slot.namespace, annotations=annotations,
                               rules=self._rules(slot), class_name=class_name)  # fmt: skip

    def _rules(self, slot: Slot) -> list[Obj]:
        rules = []
        for host in self.rng.sample(slot.hosts, self.rng.randint(1, 2)):
            paths = []
            for path in self.rng.sample(PATHS, self.rng.randint(1, 2)):
                port: Obj = self.rng.choice([{"number": 80}, {"number": 8080}, {"name": "http"}])
                paths.append(
                    {
                        "path": path,
                        "pathType": self.rng.choice(["Prefix", "Exact"]),
                        "backend": {"service": {"name": self.rng.choice(self.apps), "port": port}},
                    }
                )
            rules.append({"host": host, "http": {"paths": paths}})
        return rules

    def _edit(self, change: Callable[[Slot, Obj], None]) -> bool:
        """Apply `change` to a copy of a random existing Ingress's body; if the model accepts
        the result, merge-patch it in (annotations and spec)."""
        candidates = self._existing()
        if not candidates:
            return False
        for _ in range(12):
            slot = self.rng.choice(candidates)
            assert slot.body is not None
            body = copy.deepcopy(slot.body)
            change(slot, body)
            if body == slot.body:
                continue
            if not self._valid(slot, body):
                self.rejected += 1
                continue
            before = _annotations(slot.body)
            after = _annotations(body)
            patch = {
                "metadata": {
                    "annotations": {**{k: None for k in before if k not in after}, **after}
                },
                "spec": body["spec"],
            }
            client.NetworkingV1Api(self.api).patch_namespaced_ingress(
                slot.name, slot.namespace, patch, _content_type="application/merge-patch+json"
            )
            slot.body = body
            self._note(f"edit {slot.key}: {_describe(body)}")
            return True
        return False

    def _op_edit_annotations(self) -> bool:
        def change(slot: Slot, body: Obj) -> None:
            key = PREFIX + self.rng.choice(sorted(ANNOTATION_VALUES))
            value = self.rng.choice(ANNOTATION_VALUES[key.removeprefix(PREFIX)])
            annotations = _annotations(body)
            if value is None:
                annotations.pop(key, None)
            else:
                annotations[key] = value

        return self._edit(change)

    def _op_edit_rules(self) -> bool:
        def change(slot: Slot, body: Obj) -> None:
            rules = body["spec"]["rules"]
            how = self.rng.choice(["hosts", "paths", "backend", "all"])
            if how == "all" or not rules:
                body["spec"]["rules"] = self._rules(slot)
            elif how == "hosts":
                rule = self.rng.choice(rules)
                used = {r["host"] for r in rules}
                free = [h for h in slot.hosts if h not in used]
                if free:
                    rule["host"] = self.rng.choice(free)
                elif len(rules) > 1:
                    rules.remove(rule)
            elif how == "paths":
                paths = self.rng.choice(rules)["http"]["paths"]
                path = self.rng.choice(paths)
                path["path"] = self.rng.choice([p for p in PATHS if p != path["path"]])
                path["pathType"] = self.rng.choice(["Prefix", "Exact"])
            else:
                path = self.rng.choice(self.rng.choice(rules)["http"]["paths"])
                service = path["backend"]["service"]
                if self.rng.random() < 0.5:
                    service["name"] = self.rng.choice(self.apps)
                else:
                    service["port"] = self.rng.choice(
                        [{"number": 80}, {"number": 8080}, {"name": "alt"}]
                    )

        return self._edit(change)

    def _op_change_class(self) -> bool:
        def change(slot: Slot, body: Obj) -> None:
            current = body["spec"].get("ingressClassName")
            body["spec"]["ingressClassName"] = self.other_class if current == "alb" else "alb"

        return self._edit(change)

    def _op_change_group(self) -> bool:
        def change(slot: Slot, body: Obj) -> None:
            annotations = _annotations(body)
            key = PREFIX + "group.name"
            choices = [g for g in [None, *self.group_names] if g != annotations.get(key)]
            group = self.rng.choice(choices)
            if group is None:
                annotations.pop(key, None)
            else:
                annotations[key] = group

        return self._edit(change)

    def _op_delete(self) -> bool:
        candidates = self._existing()
        if not candidates:
            return False
        slot = self.rng.choice(candidates)
        _ignore_missing(
            client.NetworkingV1Api(self.api).delete_namespaced_ingress, slot.name, slot.namespace
        )
        slot.body, slot.deleting = None, True
        self._note(f"delete {slot.key}")
        return True

    def _op_scale(self) -> bool:
        namespace, app = self.rng.choice(self.namespaces), self.rng.choice(self.apps)
        replicas = self.rng.randint(0, 3)
        client.AppsV1Api(self.api).patch_namespaced_deployment(
            app, namespace, {"spec": {"replicas": replicas}}
        )
        self._note(f"scale {namespace}/{app} to {replicas}")
        return True

    def _op_kill(self) -> bool:
        stop = self.kill_kinds.pop(0) if self.kill_kinds else False
        if self.config.replicas == 1:
            with self.lock:
                replica = self.replicas[0]
                replica.kill()
                replica.start()
            self.kills["sigkill"] += 1
            self._note(f"kill: SIGKILL {replica.identity}, restarted")
            return True

        def settled() -> Replica | None:
            """The leader, once no takeover is under way (every replica up, none stopped)."""
            with self.lock:
                leader = self._leader()
                calm = all(r.running() and not r.stopped for r in self.replicas)
                return leader if leader is not None and calm and leader.leading() else None

        timeout = self.config.leader_timeout + self.config.stop_seconds
        leader = wait_until(settled, "a takeover to finish before the next kill", timeout,
                            WAIT_INTERVAL)  # fmt: skip
        with self.lock:
            if stop:
                assert leader.process is not None
                leader.process.pause()
                timer = threading.Timer(self.config.stop_seconds, self._resume, (leader,))
                timer.daemon = True
                self._timers.append(timer)
                timer.start()
                self.kills["sigstop"] += 1
                self._note(f"kill: SIGSTOP leader {leader.identity} for "
                           f"{self.config.stop_seconds:.0f}s")  # fmt: skip
            else:
                name = leader.identity
                leader.kill()
                leader.start()
                self.kills["sigkill"] += 1
                self._note(f"kill: SIGKILL leader {name}, restarted as {leader.identity}")
        return True

    def _resume(self, replica: Replica) -> None:
        with self.lock:
            if replica.process is not None and replica.stopped:
                replica.expect_exit = True  # it finds another holder, or its deadline passed
                self.resumed.append([time.monotonic(), replica.slot, None])
                replica.process.resume()

    def _leader(self) -> Replica | None:
        holder = self.holders[-1][1] if self.holders else ""
        return next((r for r in self.replicas if r.identity == holder and r.running()), None)

    # --- validity --------------------------------------------------------------------------

    def _valid(self, slot: Slot, body: Obj) -> bool:
        """Whether the cluster with `body` for `slot` builds without errors."""
        ingresses = [s.body for s in self.slots if s.body is not None and s is not slot]
        state = ClusterState(
            ingresses=(*ingresses, body),
            services=tuple(self.services),
            ingress_classes=tuple(self.classes),
        )
        return not build(state, self.defaults).errors

    # --- faults ------------------------------------------------------------------------------

    def _faults(self) -> list[FaultRule]:
        p = self.config.fault_probability
        if p <= 0:
            return []
        kinds: list[tuple[FaultAction, bool]] = [
            ("internal", False),
            ("unavailable", False),
            ("reset", False),
            ("reset", True),
            ("timeout", False),
            ("timeout", True),
        ]
        # Rules are tried in turn, each firing with q: together they fire with p.
        q = 1 - (1 - p) ** (1 / len(kinds))
        return [
            FaultRule(
                action=action,
                service=service,
                probability=q,
                after_upstream=after,
                delay_s=self.config.fault_delay_s,
            )
            for service in FAULT_SERVICES
            for action, after in kinds
        ]

    def _faults_on(self) -> None:
        if not self.faulting:
            return
        for replica in self.replicas:
            for rule in self._fault_rules:
                replica.proxy.add_fault(rule)

    def _faults_off(self) -> None:
        for replica in self.replicas:
            replica.proxy.clear_faults()

    # --- checks ----------------------------------------------------------------------------

    def _quiet(self) -> None:
        """Until no proxy has seen a call for `quiet_seconds`."""
        began = time.monotonic()

        def quiet() -> bool:
            last = max([began, *(r.proxy.last_call_at() for r in self.replicas)])
            return time.monotonic() - last >= self.config.quiet_seconds

        wait_until(quiet, f"{self.config.quiet_seconds:.0f}s without AWS calls", 600, WAIT_INTERVAL)

    def _wait_leader(self) -> None:
        def led() -> bool:
            with self.lock:
                if self.config.replicas == 1:
                    return self.replicas[0].leading()
                leader = self._leader()
                return leader is not None and leader.leading()

        wait_until(
            led, "a replica to lead and reconcile", self.config.leader_timeout, WAIT_INTERVAL
        )

    def _check(self, when: str) -> None:
        """Wait for a quiet point (faults on) and compare; while it differs, clear the
        faults and compare again at each new quiet point for up to `settle_seconds`."""
        began = time.monotonic()
        first: converged.Convergence | None = None
        try:
            while True:
                self._wait_leader()
                self._quiet()
                result = converged.check(self.api, self.sandbox.aws_endpoint_url, self.defaults)
                self.plan_errors += result.plan_errors
                if result.converged:
                    break
                if first is None:
                    first = result
                    self._faults_off()  # a failed reconcile retries: let it succeed
                if time.monotonic() - began > self.config.settle_seconds:
                    self.mismatches += [f"{when}: {d}" for d in result.differences]
                    self.duplicates += [f"{when}: {d}" for d in result.duplicates]
                    shown = [*result.differences, *result.duplicates][:20]
                    self.say(f"  {when}: NOT converged:\n    " + "\n    ".join(shown))
                    break
                time.sleep(1.0)
        finally:
            if first is not None:
                self._faults_on()
        self.checks += 1
        if first is not None and result.converged:
            self.settled_late += 1
            self.settle_max = max(self.settle_max, time.monotonic() - began)
            shown = [*first.differences, *first.duplicates][:10]
            self.transient += [f"{when}: {d}" for d in shown]

    # --- the monitor: crashes, the Lease -----------------------------------------------------

    def _monitor(self) -> None:
        leases = client.CoordinationV1Api(self.api)
        namespace = self.sandbox_namespace
        while not self._stop.is_set():
            with self.lock:
                for replica in self.replicas:
                    code = replica.exit_code()
                    if code is None or self._closing:
                        continue
                    for resume in self.resumed:
                        if resume[1] == replica.slot and resume[2] is None:
                            resume[2] = time.monotonic()  # the resumed replica's exit
                    if not replica.expect_exit:
                        tail = replica.text().splitlines()[-5:]
                        self.crash_details.append(
                            f"{replica.identity} exited with {code}: " + " | ".join(tail)
                        )
                    replica.process = None
                    replica.start()
            if self.config.replicas > 1:
                try:
                    lease = leases.read_namespaced_lease(LEASE_NAME, namespace)
                    holder = str((lease.spec and lease.spec.holder_identity) or "")
                except Exception:  # none yet, or an API hiccup: look again next round
                    holder = ""
                if holder and (not self.holders or self.holders[-1][1] != holder):
                    with self.lock:
                        self.holders.append((time.monotonic(), holder))
            self._stop.wait(0.25)

    def _two_writer(self) -> list[str]:
        """The two-writer calls, described (empty with one replica)."""
        if self.config.replicas == 1:
            return []
        writes: dict[str, list[float]] = {}
        calls: dict[tuple[str, float], tuple[str, str]] = {}  # (who, at) -> (service, op)
        for replica in self.replicas:
            for call in replica.proxy.mutating_since(0.0):
                # A slot runs one process at a time: the call is the last one started's.
                who = next(i for at, i in reversed(replica.starts) if at <= call.at)
                writes.setdefault(who, []).append(call.at)
                calls[(who, call.at)] = (call.service, call.operation)
        t0 = self.started
        described = []
        for who, at, leader, start in two_writer_calls(writes):
            service, operation = calls[(who, at)]
            held = self._in_flight_at_stop(who.rsplit("-", 2)[-2], at)
            described.append(
                f"{service}.{operation} from {who} at {at - t0:.3f}s, {at - start:.3f}s after "
                f"{leader}'s first write as leader (at {start - t0:.3f}s)"
                + (f"; {IN_FLIGHT} {held:.3f}s after SIGCONT" if held is not None else "")
            )
        return described

    def _in_flight_at_stop(self, slot: str, at: float) -> float | None:
        """If a call of `slot` arrived while that slot's SIGSTOPped leader was resuming (from
        SIGCONT until it exited), how long after SIGCONT: a request that had passed the write
        guard before the stop, delivered after it (no new call passes: may_write() is false
        the moment the process runs again, `tests/aws/test_fence_retries.py`)."""
        for resumed_at, resumed_slot, exited_at in self.resumed:
            end = exited_at if exited_at is not None else resumed_at + 2.0
            if resumed_slot == slot and resumed_at <= at <= end:
                return float(at - resumed_at)
        return None


def two_writer_calls(
    writes: Mapping[str, Sequence[float]],
) -> list[tuple[str, float, str, float]]:
    """Mutating calls made by one controller process while another led: (writer, time,
    leader, when the leader's reign started).

    `writes`: per controller process (its identity), when each of its mutating calls reached
    AWS. Only a leader writes (a standby never does, and a new leader writes as soon as it
    reconciles), so a process's first write starts its reign, which lasts until the next
    process's first write; a write by any other process within it counts. Leadership is read
    from the writes, not from the Lease, whose changes a poll would see a moment late.
    """
    reigns = sorted((min(times), who) for who, times in writes.items() if times)
    found = []
    for who, times in writes.items():
        for at in times:
            current = [(start, leader) for start, leader in reigns if start <= at]
            if current and current[-1][1] != who:
                found.append((who, at, current[-1][1], current[-1][0]))
    return sorted(found, key=lambda f: f[1])


def two_writer_count(writes: Mapping[str, Sequence[float]]) -> int:
    """How many mutating calls one process made while another led (`two_writer_calls`)."""
    return len(two_writer_calls(writes))


# --- small helpers ---------------------------------------------------------------------------


def tracebacks_in(text: str) -> list[str]:
    """The exception line ("Type: message") of each Python traceback in a log."""
    found: list[str] = []
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if not line.startswith("Traceback (most recent call last)"):
            continue
        following = (x for x in lines[index + 1 :] if x and not x.startswith((" ", "\t")))
        found.append(next(following, "(no exception line)"))
    return found


def _exists(read: Callable[..., Any], *args: str) -> bool:
    try:
        read(*args, _preload_content=False).release_conn()
    except client.ApiException as error:
        if error.status == 404:
            return False
        raise
    return True


def _ignore_missing(call: Callable[..., Any], *args: str) -> None:
    try:
        call(*args)
    except client.ApiException as error:
        if error.status != 404:
            raise


def write_report(result: SoakResult, path: Path) -> None:
    path.write_text(json.dumps(result.model_dump(mode="json"), indent=2, sort_keys=True) + "\n")
