"""Scenario 8: pod readiness gates, from a target healthy in AWS to its pod's condition True.

A namespace labelled for readiness gates, an ip Ingress whose target group moto reports
`initial` for `INITIAL_SECONDS` after each registration (`sandbox.motofixes`'s tag, as AWS
health-checks a new target), then a Deployment of `PODS[size]` pods. Every 0.2 s the
harness reads the target group's health from moto directly (not through the proxy) and the
pods' conditions, and records when each target was first seen healthy and when its pod's
gate was first seen True.

Figures: `pods`; `seconds_to_ready` (the Deployment's create to every pod Ready);
`healthy_to_condition_p50_seconds`, `_max_seconds` (healthy in AWS -> condition True, per
pod; the sampling adds up to 0.2 s); `describe_target_health_calls` (through the proxy,
from the create until all were Ready, the target syncs' own reads included), and
`describe_target_health_calls_idle` (in the `IDLE_SECONDS` after: no pod waits, so the
poller reads nothing).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from kubernetes import client

from bench.env import BenchEnv
from bench.sizes import Size
from controller.kube.readiness import GATE_PREFIX, INJECT_LABEL, INJECT_VALUE
from sandbox import objects
from sandbox.aws import aws_client
from sandbox.motofixes import INITIAL_HEALTH_TAG
from sandbox.waiting import wait_until

PODS = {"smoke": 5, "quick": 20, "full": 100}
INITIAL_SECONDS = 3
IDLE_SECONDS = 5.0
SAMPLE_SECONDS = 0.2
NAMESPACE = "gates"
APP = "web"


def readiness_gates(size: Size, say: Callable[[str], None]) -> dict[str, Any]:
    pods = PODS.get(size.name, 20)
    with BenchEnv(webhook=True) as env:
        proxy, controller = env.require()
        controller.start()
        core: Any = client.CoreV1Api(env.api)
        core.create_namespace({"metadata": {"name": NAMESPACE,
                                            "labels": {INJECT_LABEL: INJECT_VALUE}}})  # fmt: skip
        wait_until(lambda: _has_default_account(core), "the namespace's ServiceAccount", 60)
        networking: Any = client.NetworkingV1Api(env.api)
        core.create_namespaced_service(
            NAMESPACE, objects.app_service(APP, NAMESPACE, type_="ClusterIP")
        )
        annotations = {
            "alb.ingress.kubernetes.io/target-type": "ip",
            "alb.ingress.kubernetes.io/tags": f"{INITIAL_HEALTH_TAG}={INITIAL_SECONDS}",
        }
        networking.create_namespaced_ingress(
            NAMESPACE,
            objects.ingress(APP, NAMESPACE, annotations=annotations,
                            rules=[objects.rule("gates.example.com", objects.path("/", APP))]),
        )  # fmt: skip
        wait_until(lambda: env.hostnames({NAMESPACE}), "the Ingress's hostname", 120)
        elbv2 = aws_client("elbv2", env.sandbox.aws_endpoint_url)
        arn, name = _target_group(elbv2)
        gate = GATE_PREFIX + name
        wait_until(lambda: gate in _dry_run(core), "the webhook to give pods the gate", 60)
        say(f"8: {pods} pods behind an ip target group, each gated until healthy")
        mark = time.monotonic()
        apps: Any = client.AppsV1Api(env.api)
        apps.create_namespaced_deployment(NAMESPACE, objects.deployment(APP, NAMESPACE, pods))
        healthy_at: dict[str, float] = {}
        true_at: dict[str, float] = {}

        def ready() -> bool:
            _sample(elbv2, core, arn, gate, healthy_at=healthy_at, true_at=true_at)
            return len(true_at) == pods and _all_ready(core, pods)

        wait_until(ready, f"{pods} gated pods Ready", 60 + pods, SAMPLE_SECONDS)
        seconds = time.monotonic() - mark
        busy = _describes(proxy.calls_since(mark - 1.0), mark)
        idle_from = time.monotonic()
        time.sleep(IDLE_SECONDS)  # a quiet period measured, not a wait for something
        idle = _describes(proxy.calls_since(idle_from), idle_from)
    latencies = sorted(true_at[ip] - healthy_at[ip] for ip in true_at if ip in healthy_at)
    figures = {
        "pods": pods,
        "seconds_to_ready": round(seconds, 2),
        "healthy_to_condition_p50_seconds": round(statistics.median(latencies), 3),
        "healthy_to_condition_max_seconds": round(latencies[-1], 3),
        "describe_target_health_calls": busy,
        "describe_target_health_calls_idle": idle,
    }
    say(f"   {figures}")
    return figures


def _has_default_account(core: Any) -> bool:
    try:
        core.read_namespaced_service_account("default", NAMESPACE)
    except client.ApiException as error:
        if error.status == 404:
            return False
        raise
    return True


def _target_group(elbv2: Any) -> tuple[str, str]:
    for page in elbv2.get_paginator("describe_target_groups").paginate():
        for tg in page["TargetGroups"]:
            if tg["TargetGroupName"].startswith("k8s-gates-web-"):
                return str(tg["TargetGroupArn"]), str(tg["TargetGroupName"])
    raise AssertionError("no target group for gates/web")


def _dry_run(core: Any) -> list[str]:
    pod = {"metadata": {"generateName": "probe-", "labels": {"app": APP}},
           "spec": {"containers": [{"name": "web", "image": "nginx"}]}}  # fmt: skip
    made = core.create_namespaced_pod(NAMESPACE, pod, dry_run="All")
    return [g.condition_type for g in made.spec.readiness_gates or ()]


def _sample(
    elbv2: Any,
    core: Any,
    arn: str,
    gate: str,
    *,
    healthy_at: dict[str, float],
    true_at: dict[str, float],
) -> None:
    health = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    now = time.monotonic()
    for description in health:
        if description["TargetHealth"]["State"] == "healthy":
            healthy_at.setdefault(description["Target"]["Id"], now)
    for pod in core.list_namespaced_pod(NAMESPACE).items:
        conditions = {c.type: c.status for c in pod.status.conditions or ()}
        if pod.status.pod_ip and conditions.get(gate) == "True":
            true_at.setdefault(pod.status.pod_ip, now)


def _all_ready(core: Any, pods: int) -> bool:
    found = core.list_namespaced_pod(NAMESPACE).items
    ready = [
        p for p in found if any(c.type == "Ready" and c.status == "True"
                                for c in p.status.conditions or ())
    ]  # fmt: skip
    return len(ready) == pods


def _describes(calls: list[Any], since: float) -> int:
    return sum(1 for c in calls if c.operation == "DescribeTargetHealth" and c.at >= since)
