"""Metrics move when the controller works: AWS calls (through the real client hooks, on moto),
reconciles by stage and result, the stack and target gauges, and the /metrics endpoint.

Each test builds its own `Metrics` over a private `CollectorRegistry`, so counts start at zero.
"""

from __future__ import annotations

import asyncio
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws
from prometheus_client import CollectorRegistry

from controller.aws import AwsClients, AwsError
from controller.aws.clients import UNLIMITED
from controller.config import Settings
from controller.kube.metrics import METRIC_NAMES, STAGES, Metrics
from controller.kube.operator import Runtime
from controller.kube.scheduler import Mode
from tests.unit.kube.fakes import INGRESS_CLASS, FakeCluster, FakeDeployer, ingress, node, service

README = Path(__file__).resolve().parents[2] / "README.md"
GROUP = "shop/web"


def value(metrics: Metrics, name: str, **labels: str) -> float:
    found = metrics.registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(CollectorRegistry())


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield


@pytest.mark.usefixtures("aws")
def test_aws_calls_are_counted_and_timed_by_operation_and_error(metrics: Metrics) -> None:
    clients = AwsClients("us-east-1", rate_limits=UNLIMITED)
    clients.counter.subscribe(metrics.observe_aws_call)
    clients.elbv2.describe_load_balancers()
    clients.elbv2.describe_load_balancers()
    with pytest.raises(clients.elbv2.exceptions.LoadBalancerNotFoundException):
        clients.elbv2.describe_load_balancers(Names=["missing"])

    ok = {"service": "elbv2", "operation": "DescribeLoadBalancers", "error_code": ""}
    failed = {**ok, "error_code": "LoadBalancerNotFound"}
    assert value(metrics, "aws_api_calls_total", **ok) == 2
    assert value(metrics, "aws_api_calls_total", **failed) == 1
    timing = {"service": "elbv2", "operation": "DescribeLoadBalancers"}
    assert value(metrics, "aws_api_call_duration_seconds_count", **timing) == 3
    assert value(metrics, "aws_api_call_duration_seconds_sum", **timing) > 0


def runtime_with(metrics: Metrics, deployer: FakeDeployer) -> tuple[Runtime, FakeCluster]:
    settings = Settings(cluster_name="test")
    runtime = Runtime.create(settings, writer=None, deployer=deployer, metrics=metrics)  # type: ignore[arg-type]
    # The fake cluster needs the runtime's cache, so it is plugged in behind the
    # instrumented writer afterwards.
    cluster = FakeCluster(runtime.cache)
    runtime.reconciler.writer.inner = cluster  # type: ignore[attr-defined]
    for kind, body in (
        ("IngressClass", INGRESS_CLASS),
        ("Service", service()),
        ("Node", node("n1", "i-0000000000000001")),
        ("Node", node("n2", "i-0000000000000002")),
    ):
        runtime.cache.apply_event(kind, None, body)
    return runtime, cluster


def reconciles(metrics: Metrics) -> float:
    return sum(
        value(metrics, "alb_controller_reconcile_total", result=r) for r in ("success", "error")
    )


async def reconcile_once(runtime: Runtime, metrics: Metrics) -> None:
    """Run one scheduled reconcile of GROUP through the scheduler, as kopf's handlers would."""
    done = reconciles(metrics)
    runtime.scheduler.start()
    try:
        runtime.scheduler.request(GROUP, Mode.FULL)
        for _ in range(200):
            if reconciles(metrics) > done:
                return
            await asyncio.sleep(0.02)
        raise AssertionError("no reconcile happened")
    finally:
        await runtime.scheduler.stop()


async def test_a_reconcile_times_its_stages_and_sets_the_gauges(metrics: Metrics) -> None:
    deployer = FakeDeployer()
    runtime, cluster = runtime_with(metrics, deployer)
    runtime.cache.apply_event("Ingress", "ADDED", ingress())
    await reconcile_once(runtime, metrics)

    assert len(deployer.deployed) == 1
    assert value(metrics, "alb_controller_reconcile_total", result="success") == 1
    for stage in ("build_model", "deploy_model", "update_status", "reconcile"):
        count = value(metrics, "alb_controller_reconcile_duration_seconds_count", stage=stage)
        assert count >= 1, stage
    assert value(metrics, "alb_controller_reconcile_duration_seconds_count", stage="teardown") == 0
    assert value(metrics, "alb_controller_managed_stacks") == 1
    # Instance targets: both ready nodes on the Service's NodePort.
    assert value(metrics, "alb_controller_targets_registered") == 2

    cluster.delete(GROUP)
    await reconcile_once(runtime, metrics)
    assert deployer.torn_down == [GROUP]
    assert value(metrics, "alb_controller_reconcile_duration_seconds_count", stage="teardown") == 1
    assert value(metrics, "alb_controller_managed_stacks") == 0
    assert value(metrics, "alb_controller_targets_registered") == 0


async def test_a_failed_deploy_counts_an_error_of_its_stage(metrics: Metrics) -> None:
    deployer = FakeDeployer(
        fail_with=AwsError("load balancer x", "Throttling", "slow down", retryable=True)
    )
    runtime, _ = runtime_with(metrics, deployer)
    runtime.cache.apply_event("Ingress", "ADDED", ingress())
    await reconcile_once(runtime, metrics)

    assert value(metrics, "alb_controller_reconcile_total", result="error") == 1
    assert value(metrics, "alb_controller_reconcile_total", result="success") == 0
    assert value(metrics, "alb_controller_reconcile_errors_total", stage="deploy_model") == 1
    assert value(metrics, "alb_controller_reconcile_errors_total", stage="build_model") == 0
    assert value(metrics, "alb_controller_managed_stacks") == 0


def test_the_endpoint_serves_every_metric(metrics: Metrics) -> None:
    metrics.aws_calls.labels("ec2", "DescribeSubnets", "").inc()
    metrics.reconciled(True, 0.5)
    for stage in STAGES:
        metrics.stage_duration.labels(stage)
    stop = metrics.serve(0, addr="127.0.0.1")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics.port}/metrics", timeout=5) as r:
            text = r.read().decode()
    finally:
        stop()
    assert (
        'aws_api_calls_total{error_code="",operation="DescribeSubnets",service="ec2"} 1.0' in text
    )
    exposed = set(re.findall(r"^# TYPE (\w+) ", text, re.M))
    for name in METRIC_NAMES:
        assert name in exposed, name


def test_the_readme_documents_every_metric() -> None:
    text = README.read_text()
    for name in METRIC_NAMES:
        assert f"`{name}`" in text, f"README.md does not document the metric {name}"
