"""Pod readiness gates on the real control plane: the webhook, the conditions, a rollout.

The controller runs with the sandbox's webhook port (`Sandbox.webhook_env`), so the API
server's MutatingWebhookConfiguration (`deploy/manifests/webhook.yaml`, calling loopback)
reaches it, and with the AWS proxy in front of moto, whose call log (`journal`) shows the
order of registrations. The target groups are tagged `sandbox/initial-health-seconds`
(`sandbox.motofixes`): a target is `initial` for a few seconds after it is registered, as on
AWS while it is health-checked, so a pod's gate really waits. kwok makes a pod with gates
Ready only once every gate's condition is True, as the kubelet does
(`sandbox/kwok-stages/`), and keeps a deleted pod terminating for 3 s.

Local sandbox only (its webhook port, moto's tags and the proxy).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from controller.kube.readiness import GATE_PREFIX, INJECT_LABEL, INJECT_VALUE
from sandbox import objects
from sandbox.awsproxy import NO_BUCKETS, NO_LATENCY, AwsProxyThread
from sandbox.controller_process import ControllerProcess
from sandbox.motofixes import INITIAL_HEALTH_TAG
from tests.e2e.harness import Scenario, wait_until

INITIAL_SECONDS = 3
IP = {
    "alb.ingress.kubernetes.io/target-type": "ip",
    "alb.ingress.kubernetes.io/tags": f"{INITIAL_HEALTH_TAG}={INITIAL_SECONDS}",
}
APP = "web"
REPLICAS = 5
# Zero downtime by surge: every new pod first, an old one goes only once a new one is Ready.
ALL_NEW_FIRST = {"maxSurge": "100%", "maxUnavailable": 0}
# Kubernetes' default: 2 new at a time (25% of 5, up), at most 1 of 5 unavailable (down).
DEFAULT_ROLLING = {"maxSurge": "25%", "maxUnavailable": "25%"}
DEFAULT_UNAVAILABLE = 1


@dataclass
class Gated:
    """The controller under test, its AWS proxy, and the app's namespace."""

    scenario: Scenario
    controller: ControllerProcess
    proxy: AwsProxyThread
    namespace: str = ""
    hostname: str = ""

    @property
    def moto(self) -> Any:
        """elbv2 straight at moto: the test's own reads stay out of the proxy's log."""
        return self.scenario.aws("elbv2")

    def target_group(self) -> dict[str, Any]:
        [tg] = self.scenario.lb_view(self.hostname).target_groups
        return tg

    def pods(self) -> list[Any]:
        found = self.scenario.core.list_namespaced_pod(self.namespace, label_selector=f"app={APP}")
        return [p for p in found.items if p.metadata.deletion_timestamp is None]


@contextlib.contextmanager
def gated(scenario: Scenario, tmp_path: Path) -> Iterator[Gated]:
    sandbox = scenario.target.sandbox
    if sandbox is None:
        pytest.skip("needs the local sandbox: its webhook port, moto's tags and the AWS proxy")
    proxy = AwsProxyThread(
        scenario.target.aws_endpoint_url or "", buckets=NO_BUCKETS, latency=NO_LATENCY
    )
    proxy.start()
    env = {
        **scenario.target.controller_env,
        **sandbox.webhook_env(),
        "AWS_ENDPOINT_URL": proxy.url,
        "READINESS_GATE_POLL_SECONDS": "0.5",
    }
    controller = ControllerProcess(env, tmp_path / "gated-controller.log")
    scenario.controller = controller
    try:
        controller.start()
        yield Gated(scenario, controller, proxy)
    finally:
        print(f"--- gated controller log ---\n{controller.logs()[-20000:]}")
        controller.stop()
        proxy.stop()


def deploy_app(gated: Gated, prefix: str) -> str:
    """A labelled namespace, the app's Service and an ip Ingress for it, deployed, and the
    webhook answering; the app's Deployment comes later. Returns the gate the pods get."""
    scenario = gated.scenario
    ns = scenario.namespace(prefix)
    scenario.core.patch_namespace(ns, {"metadata": {"labels": {INJECT_LABEL: INJECT_VALUE}}})
    gated.namespace = ns
    scenario.create([objects.app_service(APP, ns, type_="ClusterIP")])
    scenario.ingress(ns, APP, [(f"{prefix}.example.com", "/", APP)], IP)
    gated.hostname = scenario.hostname(ns, APP)
    gate = GATE_PREFIX + str(gated.target_group()["TargetGroupName"])
    wait_until(lambda: gate in dry_run_gates(gated), "the webhook to give new pods the gate", 60)
    return gate


def dry_run_gates(gated: Gated) -> list[str]:
    """The gates a pod of the app would get now (a dry-run create: nothing is stored)."""
    pod = {
        "metadata": {"generateName": f"{APP}-probe-", "labels": {"app": APP}},
        "spec": {"containers": [{"name": "web", "image": "nginx"}]},
    }
    made = gated.scenario.core.create_namespaced_pod(gated.namespace, pod, dry_run="All")
    return [g.condition_type for g in made.spec.readiness_gates or ()]


def start_app(
    gated: Gated, prefix: str, rolling: dict[str, Any] = ALL_NEW_FIRST
) -> tuple[str, str]:
    """`deploy_app`, then the app's Deployment of `REPLICAS`: its gate and target group ARN."""
    gate = deploy_app(gated, prefix)
    arn = str(gated.target_group()["TargetGroupArn"])
    create_deployment(gated, rolling=rolling)
    return gate, arn


def create_deployment(
    gated: Gated, replicas: int = REPLICAS, rolling: dict[str, Any] = ALL_NEW_FIRST
) -> None:
    deployment = objects.deployment(APP, gated.namespace, replicas)
    deployment["spec"]["strategy"] = {"type": "RollingUpdate", "rollingUpdate": rolling}
    gated.scenario.create([deployment])


def condition(pod: Any, kind: str) -> str | None:
    return next((c.status for c in pod.status.conditions or () if c.type == kind), None)


@dataclass
class Timeline:
    """When each target was first seen healthy in AWS and each gate True on its pod."""

    healthy_at: dict[str, float] = field(default_factory=dict)  # by address
    gate_true_at: dict[str, float] = field(default_factory=dict)  # by pod address
    waited: set[str] = field(default_factory=set)  # pods seen registered, gate False, not Ready
    fewest_healthy: int | None = None

    def sample(self, gated: Gated, gate: str, arn: str) -> None:
        # AWS first: a gate seen True now was set from health AWS reported before.
        health = gated.moto.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
        now = time.monotonic()
        states = {d["Target"]["Id"]: d["TargetHealth"]["State"] for d in health}
        healthy = [ip for ip, state in states.items() if state == "healthy"]
        for ip in healthy:
            self.healthy_at.setdefault(ip, now)
        if self.fewest_healthy is None or len(healthy) < self.fewest_healthy:
            self.fewest_healthy = len(healthy)
        for pod in gated.pods():
            ip = pod.status.pod_ip
            if not ip:
                continue
            if condition(pod, gate) == "True":
                self.gate_true_at.setdefault(ip, now)
            elif ip in states and condition(pod, "Ready") != "True":
                self.waited.add(ip)

    def latencies(self) -> list[float]:
        return sorted(
            self.gate_true_at[ip] - self.healthy_at[ip]
            for ip in self.gate_true_at
            if ip in self.healthy_at
        )


def all_ready(gated: Gated, gate: str, replicas: int = REPLICAS) -> list[Any] | None:
    pods = gated.pods()
    done = len(pods) == replicas and all(
        condition(p, gate) == "True" and condition(p, "Ready") == "True" for p in pods
    )
    return pods if done else None


def test_new_pods_get_the_gate_and_are_ready_only_once_their_targets_are_healthy(
    scenario: Scenario, tmp_path: Path
) -> None:
    with gated(scenario, tmp_path) as app:
        gate, arn = start_app(app, "gates")
        timeline = Timeline()

        def ready() -> list[Any] | None:
            timeline.sample(app, gate, arn)
            return all_ready(app, gate)

        pods = wait_until(ready, f"{REPLICAS} pods Ready with their gate True", 90)
        timeline.sample(app, gate, arn)
        ips = {p.status.pod_ip for p in pods}
        # Each pod got the gate once, and nothing else of ours.
        for pod in pods:
            assert [g.condition_type for g in pod.spec.readiness_gates] == [gate]
        # Every target was registered before its pod was Ready, waited for its health checks
        # with the gate False, and the gate turned True only once AWS said healthy.
        assert timeline.waited == ips
        assert set(timeline.gate_true_at) == ips
        for ip in ips:
            assert timeline.healthy_at[ip] <= timeline.gate_true_at[ip], ip
        registered = {t["Target"]["Id"] for t in app.scenario.lb_view(app.hostname).targets[
            app.target_group()["TargetGroupName"]]}  # fmt: skip
        assert registered == ips
        latencies = timeline.latencies()
        calls = app.proxy.stats()
        print(
            f"readiness gates: {REPLICAS} pods Ready; healthy in AWS -> condition True: "
            f"median {latencies[len(latencies) // 2]:.2f}s, max {latencies[-1]:.2f}s "
            f"(poll 0.5 s, sampled every 0.2 s); DescribeTargetHealth calls "
            f"{calls.calls_of('elbv2', 'DescribeTargetHealth')}"
        )
        scenario.finish()


@pytest.mark.parametrize("rolling", [ALL_NEW_FIRST, DEFAULT_ROLLING], ids=["surge-100", "default"])
def test_a_rollout_never_leaves_fewer_healthy_targets_than_it_allows(
    scenario: Scenario, tmp_path: Path, rolling: dict[str, Any]
) -> None:
    """With maxSurge 100% and maxUnavailable 0, every new pod is registered before any old
    one is deregistered. With Kubernetes' default (25% / 25%) old and new overlap, but the
    gates keep the healthy targets at REPLICAS - maxUnavailable or more: an old pod goes
    only once a new one is Ready, which it is only once its target is healthy."""
    with gated(scenario, tmp_path) as app:
        gate, arn = start_app(app, "rollout", rolling)
        old = {p.status.pod_ip for p in wait_until(lambda: all_ready(app, gate), "pods", 90)}
        mark = app.proxy.journal()[-1].seq
        started = time.monotonic()
        app.scenario.apps.patch_namespaced_deployment(
            APP, app.namespace,
            {"spec": {"template": {"metadata": {"annotations": {"version": "2"}}}}},
        )  # fmt: skip
        timeline = Timeline()

        def rolled() -> set[str] | None:
            timeline.sample(app, gate, arn)
            # Every pod new and Ready, and the old ones gone from the cluster.
            pods = app.scenario.core.list_namespaced_pod(app.namespace).items
            ips = {p.status.pod_ip for p in pods}
            ready = all_ready(app, gate)
            return ips if ready and not ips & old and len(pods) == REPLICAS else None

        new = wait_until(rolled, "the rollout to finish", 120)

        # Old targets leave as their pods terminate: wait for the last deregistration.
        def left() -> bool:
            health = app.moto.describe_target_health(TargetGroupArn=arn)
            return not old & {t["Target"]["Id"] for t in health["TargetHealthDescriptions"]}

        wait_until(
            left,
            "the old targets to be deregistered",
        )
        seconds = time.monotonic() - started
        log = [
            e
            for e in app.proxy.journal(since=mark)
            if e.operation in ("RegisterTargets", "DeregisterTargets")
            and e.params.get("TargetGroupArn") == [arn]
        ]
        registered = {
            ip: e.seq for e in log if e.operation == "RegisterTargets" for ip in e.targets()
        }
        deregistered = {
            ip: e.seq for e in log if e.operation == "DeregisterTargets" for ip in e.targets()
        }
        assert new <= set(registered)
        assert old <= set(deregistered)
        assert not set(deregistered) & new  # no new pod was ever taken out
        last_registration = max(registered[ip] for ip in new)
        first_deregistration = min(deregistered[ip] for ip in old)
        if rolling is ALL_NEW_FIRST:
            assert last_registration < first_deregistration
            floor = REPLICAS
        else:
            floor = REPLICAS - DEFAULT_UNAVAILABLE
        # Never a moment without enough healthy targets (sampled every 0.2 s throughout),
        # and so never one without any.
        assert timeline.fewest_healthy is not None and timeline.fewest_healthy >= floor
        print(
            f"rollout {REPLICAS} -> {REPLICAS} ({rolling}): {seconds:.1f}s; {len(log)} "
            f"register/deregister calls; fewest healthy targets seen {timeline.fewest_healthy}"
            f" (floor {floor}); last new pod registered at #{last_registration}, first old "
            f"one deregistered at #{first_deregistration}"
        )
        scenario.finish()


def test_pods_are_created_while_the_webhook_is_down(scenario: Scenario, tmp_path: Path) -> None:
    with gated(scenario, tmp_path) as app:
        gate = deploy_app(app, "down")  # the webhook answered: pods got the gate
        app.controller.stop()
        # Nobody serves the webhook's port now: failurePolicy Ignore lets pods through, at
        # once (a refused connection), without the gate.
        started = time.monotonic()
        create_deployment(app, replicas=2)
        pods = wait_until(
            lambda: (found := app.pods()) and len(found) == 2
            and all(condition(p, "Ready") == "True" for p in found) and found,
            "2 pods created and Ready with the webhook down",
            60,
        )  # fmt: skip
        print(f"webhook down: 2 pods Ready {time.monotonic() - started:.1f}s after the create")
        for pod in pods:
            assert gate not in [g.condition_type for g in pod.spec.readiness_gates or ()]
        # Back up: its Ingress is cleaned up as usual (and new pods get the gate again).
        app.controller.start()
        wait_until(lambda: gate in dry_run_gates(app), "the webhook back", 60)
        scenario.finish()
