"""Prometheus metrics: AWS calls, reconciles by stage, managed stacks and registered targets.

Everything lives in one `Metrics` object over its own `CollectorRegistry` (not the global
one), so tests get a fresh set each and nothing registers twice. The AWS numbers come from
the AWS layer's `CallCounter` (`observe_aws_call` is its subscriber); reconcile stages are
timed by wrapping the two doors the reconciler goes through, the `StackDeployer` and the
`KubeWriter` (`InstrumentedDeployer`, `InstrumentedWriter`), plus the model build, which the
reconciler times itself through `Metrics.stage`. The metric names are documented in the
README; tests/unit/test_metrics.py holds them to it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from controller.kube.reconciler import StackDeployer
from controller.kube.writer import KubeWriter
from controller.model.stack import DesiredTargets, Stack, Target

# Reconcile stages, in the order a reconcile goes through them.
STAGES = ("build_model", "deploy_model", "sync_targets", "teardown", "update_status")

# The exposed names; the README's metrics table is checked against this list.
METRIC_NAMES = (
    "aws_api_calls_total",
    "aws_api_call_duration_seconds",
    "alb_controller_reconcile_total",
    "alb_controller_reconcile_duration_seconds",
    "alb_controller_reconcile_errors_total",
    "alb_controller_managed_stacks",
    "alb_controller_targets_registered",
)


class AwsCall(Protocol):
    """What the metrics read of an AWS layer `CallRecord`."""

    @property
    def key(self) -> Any: ...  # (service, operation, error_code)
    @property
    def duration(self) -> float: ...


class Metrics:
    """The controller's metrics over one registry; thread-safe (reconciles run in threads)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.port = 0  # where `serve` listens, once it does
        r = self.registry
        self.aws_calls = Counter(
            "aws_api_calls",
            "AWS API calls by service, operation and error code ('' when it succeeded).",
            ["service", "operation", "error_code"],
            registry=r,
        )
        self.aws_duration = Histogram(
            "aws_api_call_duration_seconds",
            "AWS API call latency, retries and client-side rate-limit waits included.",
            ["service", "operation"],
            registry=r,
        )
        self.reconciles = Counter(
            "alb_controller_reconcile",
            "Group reconciles by result: success, or error (retried later).",
            ["result"],
            registry=r,
        )
        self.stage_duration = Histogram(
            "alb_controller_reconcile_duration_seconds",
            "Time spent in each reconcile stage (stage=reconcile is the whole reconcile).",
            ["stage"],
            registry=r,
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
        )
        self.stage_errors = Counter(
            "alb_controller_reconcile_errors",
            "Reconcile stages that raised an error, by stage.",
            ["stage"],
            registry=r,
        )
        self.managed_stacks = Gauge(
            "alb_controller_managed_stacks",
            "Ingress groups (stacks) this controller has deployed and not torn down.",
            registry=r,
        )
        self.targets_registered = Gauge(
            "alb_controller_targets_registered",
            "Targets in the target groups of the managed stacks, as last registered.",
            registry=r,
        )

    def describe(self) -> list[tuple[str, str, tuple[str, ...], str]]:
        """(exposed name, type, label names, help) of each metric, for the README table."""
        found = []
        for collector in vars(self).values():
            if isinstance(collector, Counter | Gauge | Histogram):
                kind = collector._type  # prometheus_client has no public accessor for these
                name = collector._name + ("_total" if kind == "counter" else "")
                found.append((name, kind, tuple(collector._labelnames), collector._documentation))
        return found

    def observe_aws_call(self, record: AwsCall) -> None:
        """`CallCounter` subscriber: count and time one finished AWS API call."""
        service, operation, error_code = record.key
        self.aws_calls.labels(service, operation, error_code).inc()
        self.aws_duration.labels(service, operation).observe(record.duration)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time one reconcile stage; an exception counts as an error of that stage."""
        started = time.monotonic()
        try:
            yield
        except BaseException:
            self.stage_errors.labels(name).inc()
            raise
        finally:
            self.stage_duration.labels(name).observe(time.monotonic() - started)

    def reconciled(self, ok: bool, seconds: float) -> None:
        self.reconciles.labels("success" if ok else "error").inc()
        self.stage_duration.labels("reconcile").observe(seconds)

    def serve(self, port: int, addr: str = "0.0.0.0") -> Callable[[], None]:
        """Serve /metrics on `port` (all interfaces: Prometheus scrapes the pod IP) in a
        daemon thread; returns a function that stops it. Port 0 picks a free port, which
        `port` then holds."""
        server, thread = start_http_server(port, addr=addr, registry=self.registry)
        self.port = int(server.server_port)

        def stop() -> None:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)

        return stop


@dataclass
class InstrumentedDeployer:
    """A `StackDeployer` that times each stage and remembers how many targets each target
    group was last given, for the targets gauge (`publish`)."""

    inner: StackDeployer
    metrics: Metrics
    _targets: dict[str, int] = field(default_factory=dict)  # TG id -> targets registered
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def deploy(self, stack: Stack, targets: DesiredTargets) -> Any:
        with self.metrics.stage("deploy_model"):
            result = self.inner.deploy(stack, targets)
        self._count(targets)
        return result

    def sync_targets(
        self,
        target_group_arns: Mapping[str, str],
        targets: DesiredTargets,
        known: Mapping[str, frozenset[Target]] | None = None,
    ) -> int:
        with self.metrics.stage("sync_targets"):
            calls = self.inner.sync_targets(target_group_arns, targets, known)
        self._count(targets)
        return calls

    def teardown(self, stack_id: str) -> None:
        with self.metrics.stage("teardown"):
            self.inner.teardown(stack_id)

    def publish(self, stacks: Mapping[str, Iterable[str]]) -> None:
        """Set the gauges from the managed stacks (group id -> its target group ids)."""
        with self._lock:
            held = {tg for tgs in stacks.values() for tg in tgs}
            for gone in set(self._targets) - held:
                del self._targets[gone]
            total = sum(self._targets.values())
        self.metrics.managed_stacks.set(len(stacks))
        self.metrics.targets_registered.set(total)

    def _count(self, targets: DesiredTargets) -> None:
        with self._lock:
            for tg, found in targets.items():
                self._targets[tg] = len(found)


@dataclass
class InstrumentedWriter:
    """A `KubeWriter` whose object writes (finalizers, status, annotations, and releasing
    LBC's TargetGroupBindings) are the update_status stage; Events are advice and not timed."""

    inner: KubeWriter
    metrics: Metrics

    def add_finalizer(self, ingress: Mapping[str, Any], finalizer: str) -> None:
        with self.metrics.stage("update_status"):
            self.inner.add_finalizer(ingress, finalizer)

    def remove_finalizer(self, ingress: Mapping[str, Any], finalizer: str) -> None:
        with self.metrics.stage("update_status"):
            self.inner.remove_finalizer(ingress, finalizer)

    def set_hostname(self, ingress: Mapping[str, Any], hostname: str | None) -> None:
        with self.metrics.stage("update_status"):
            self.inner.set_hostname(ingress, hostname)

    def set_annotations(
        self, ingress: Mapping[str, Any], annotations: Mapping[str, str | None]
    ) -> None:
        with self.metrics.stage("update_status"):
            self.inner.set_annotations(ingress, annotations)

    def event(self, ingress: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        self.inner.event(ingress, type_, reason, message)

    def release_custom_object(
        self, resource: tuple[str, str, str], body: Mapping[str, Any], finalizer: str
    ) -> None:
        with self.metrics.stage("update_status"):
            self.inner.release_custom_object(resource, body, finalizer)
