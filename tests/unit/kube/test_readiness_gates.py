"""Pod readiness gates in the kube layer: what the cache keeps of pods, the webhook's patch,
the conditions from target health, and polling only the target groups pods wait on."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from controller.aws.targets import TargetHealth
from controller.config import Settings
from controller.kube.cache import ClusterCache
from controller.kube.operator import Runtime
from controller.kube.readiness import (
    GATE_PREFIX,
    INJECT_LABEL,
    NOT_REGISTERED,
    Condition,
    ReadinessGates,
    TargetGroupIndex,
    condition_from_health,
    gates_for,
    namespace_enabled,
)
from controller.kube.scheduler import Mode
from controller.kube.webhook import review
from sandbox import objects

from .fakes import INGRESS_CLASS, FakeDeployer, ingress, service

DEFAULTS = Settings(cluster_name="test").model_defaults()
IP = {"alb.ingress.kubernetes.io/target-type": "ip"}


def cluster() -> tuple[ClusterCache, TargetGroupIndex]:
    """shop/web: an ip Ingress to Service `web` (selects app=web); shop/api: an instance
    Ingress to `api` (app=api); shop/batch: an ip Ingress to `batch` (app=batch)."""
    cache = ClusterCache(DEFAULTS)
    cache.apply_event("IngressClass", None, INGRESS_CLASS)
    cache.apply_event("Namespace", None, objects.namespace("shop", {INJECT_LABEL: "enabled"}))
    cache.apply_event("Namespace", None, objects.namespace("plain"))
    for name, wanted in (("web", IP), ("api", {}), ("batch", IP)):
        cache.apply_event("Service", None, service(name))
        body = ingress(name, service=name, host=f"{name}.example.com", annotations=wanted)
        cache.apply_event("Ingress", None, body)
    return cache, TargetGroupIndex(cache, DEFAULTS)


def gate_of(index: TargetGroupIndex, group: str) -> str:
    [target] = index.of_group(group)
    return target.condition_type


def admission(
    labels: dict[str, str],
    gates: Sequence[str] = (),
    *,
    namespace: str = "shop",
    spec_gates: bool = True,
) -> bytes:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "x"}]}
    if spec_gates:
        spec["readinessGates"] = [{"conditionType": g} for g in gates]
    return json.dumps(
        {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": "req-1",
                "kind": {"group": "", "version": "v1", "kind": "Pod"},
                "operation": "CREATE",
                "namespace": namespace,
                "object": {"metadata": {"generateName": "web-", "labels": labels}, "spec": spec},
            },
        }
    ).encode()


def answer(
    cache: ClusterCache, index: TargetGroupIndex, body: bytes
) -> tuple[list[dict[str, Any]] | None, str | None]:
    reply, problem = review(
        body,
        lambda ns, labels: gates_for(cache, index, ns, labels),
        lambda ns: namespace_enabled(cache, ns),
    )
    response = reply["response"]
    assert response["allowed"] is True
    assert reply["kind"] == "AdmissionReview"
    patch = response.get("patch")
    return (json.loads(base64.b64decode(patch)) if patch else None), problem


# --- the webhook ----------------------------------------------------------------------------


def test_a_new_pod_gets_the_gate_of_each_ip_target_group_whose_service_selects_it() -> None:
    cache, index = cluster()
    web = gate_of(index, "shop/web")
    assert web.startswith(GATE_PREFIX + "k8s-shop-web-")
    patch, problem = answer(cache, index, admission({"app": "web"}, spec_gates=False))
    assert problem is None
    assert patch == [
        {"op": "add", "path": "/spec/readinessGates", "value": [{"conditionType": web}]}
    ]
    # The instance target group's Service selects app=api: no gate (the ALB sees nodes).
    assert answer(cache, index, admission({"app": "api"}))[0] is None
    # No Service selects these labels.
    assert answer(cache, index, admission({"app": "other"}))[0] is None


def test_a_gate_is_added_once_beside_the_pods_own_and_legacy_ones_go() -> None:
    cache, index = cluster()
    web = gate_of(index, "shop/web")
    # Already there (a pod made from a template that carries it): nothing to add.
    assert answer(cache, index, admission({"app": "web"}, [web]))[0] is None
    mine = "example.com/warmed-up"
    legacy = "target-health.alb.ingress.k8s.aws/web_web_80"
    patch, _ = answer(cache, index, admission({"app": "web"}, [mine, legacy]))
    assert patch == [
        {
            "op": "replace",
            "path": "/spec/readinessGates",
            "value": [{"conditionType": mine}, {"conditionType": web}],
        }
    ]


def test_a_pod_selected_by_two_ip_target_groups_gets_both() -> None:
    cache, index = cluster()
    cache.apply_event("Service", None, {**service("batch"), "spec": {
        **service("batch")["spec"], "selector": {"tier": "front"}}})  # fmt: skip
    cache.apply_event("Service", None, {**service("web"), "spec": {
        **service("web")["spec"], "selector": {"tier": "front"}}})  # fmt: skip
    index.invalidate(["shop/web", "shop/batch"])
    patch, _ = answer(cache, index, admission({"tier": "front", "app": "x"}, spec_gates=False))
    assert patch is not None
    wanted = sorted([gate_of(index, "shop/web"), gate_of(index, "shop/batch")])
    assert [g["conditionType"] for g in patch[0]["value"]] == wanted


def test_no_patch_in_a_namespace_that_is_not_labelled() -> None:
    cache, index = cluster()
    cache.apply_event("Service", None, service("web", namespace="plain"))
    cache.apply_event(
        "Ingress", None, ingress("web", namespace="plain", service="web", annotations=IP)
    )
    assert index.of_group("plain/web")  # an ip target group selects the pod there too
    assert answer(cache, index, admission({"app": "web"}, namespace="plain")) == (None, None)


def test_ip_target_group_bindings_give_gates_by_their_name() -> None:
    cache, index = cluster()
    arn = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/tf-made/1"
    for name, target_type in (("tf-ip", "ip"), ("tf-instance", "instance")):
        binding = objects.target_group_binding(
            name, "shop", arn=arn, service="api", target_type=target_type
        )
        cache.apply_event("TargetGroupBinding", None, binding)
    patch, _ = answer(cache, index, admission({"app": "api"}, spec_gates=False))
    assert patch is not None
    assert [g["conditionType"] for g in patch[0]["value"]] == [GATE_PREFIX + "tf-ip"]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"request": {}}',
        b'{"request": {"uid": "u", "operation": "CREATE", "kind": {"kind": "Pod"}, '
        b'"namespace": "shop", "object": "a string"}}',
        b'{"request": {"uid": "u", "operation": "CREATE", "kind": {"kind": "Pod"}, '
        b'"namespace": "shop", "object": {"metadata": {"labels": ["a"]}, "spec": []}}}',
    ],
)
def test_a_malformed_request_is_allowed_unchanged_with_a_log_line(body: bytes) -> None:
    cache, index = cluster()
    patch, problem = answer(cache, index, body)
    assert patch is None
    assert problem  # what the log line says


def test_other_operations_and_kinds_are_allowed_unchanged() -> None:
    cache, index = cluster()
    update = json.loads(admission({"app": "web"}))
    update["request"]["operation"] = "UPDATE"
    assert answer(cache, index, json.dumps(update).encode()) == (None, None)


# --- what the cache keeps of pods -------------------------------------------------------------


def full_pod(name: str, gates: Sequence[str], **status: Any) -> dict[str, Any]:
    """A pod as the API server sends it, with much the cache must drop."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name, "namespace": "shop", "uid": f"uid-{name}", "labels": {"app": "web"},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "x" * 2000},
            "managedFields": [{"manager": "kubelet", "fieldsV1": {"f:status": {}}}],
            "ownerReferences": [{"kind": "ReplicaSet", "name": "web-1"}],
        },
        "spec": {
            "containers": [{"name": "c", "image": "nginx", "env": [{"name": "A", "value": "b"}]}],
            "readinessGates": [{"conditionType": g} for g in gates],
            "nodeName": "n1",
        },
        "status": {"phase": "Running", "podIP": "10.0.3.4", "podIPs": [{"ip": "10.0.3.4"}],
                   "containerStatuses": [{"name": "c", "ready": True}], **status},
    }  # fmt: skip


def test_the_cache_keeps_little_of_gated_pods_and_only_the_key_of_the_rest() -> None:
    cache = ClusterCache(DEFAULTS)
    gate = GATE_PREFIX + "k8s-shop-web-0123456789"
    conditions = [
        {"type": "PodScheduled", "status": "True"},
        {"type": "ContainersReady", "status": "True", "lastTransitionTime": "t"},
        {"type": "Ready", "status": "False", "reason": "ReadinessGatesNotReady"},
        {"type": gate, "status": "False", "reason": "Elb.InitialHealthChecking", "message": "m"},
    ]
    cache.apply_event("Pod", None, full_pod("gated", [gate], conditions=conditions))
    cache.apply_event("Pod", None, full_pod("plain", []))
    assert cache.keys("Pod") == {"shop/gated", "shop/plain"}
    assert cache.gated_pods() == [
        {
            "kind": "Pod",
            "metadata": {"name": "gated", "namespace": "shop", "uid": "uid-gated",
                         "labels": {"app": "web"}},
            "spec": {"readinessGates": [{"conditionType": gate}]},
            "status": {
                "conditions": [
                    {"type": "ContainersReady", "status": "True"},
                    {"type": gate, "status": "False", "reason": "Elb.InitialHealthChecking",
                     "message": "m"},
                ],
                "podIP": "10.0.3.4",
            },
        }
    ]  # fmt: skip
    assert cache.state().pods == tuple(cache.gated_pods())
    # Another pod of the same ReplicaSet shares its labels, gates and conditions with it.
    cache.apply_event("Pod", None, full_pod("twin", [gate], conditions=conditions))
    first, twin = (cache.get("Pod", f"shop/{name}") or {} for name in ("gated", "twin"))
    assert twin["metadata"]["labels"] is first["metadata"]["labels"]
    assert twin["spec"] is first["spec"]
    assert twin["status"]["conditions"] is first["status"]["conditions"]
    assert twin["metadata"]["name"] == "twin" and first["metadata"]["name"] == "gated"
    cache.apply_event("Pod", "DELETED", full_pod("twin", [gate]))
    assert cache.get("Pod", "shop/plain") == {
        "kind": "Pod",
        "metadata": {"name": "plain", "namespace": "shop"},
    }
    cache.apply_event("Pod", "DELETED", full_pod("plain", []))
    cache.apply_event("Pod", "DELETED", full_pod("gated", [gate]))
    assert cache.keys("Pod") == set()


# --- conditions from target health -------------------------------------------------------------


def health(ip: str, state: str, reason: str = "", description: str = "") -> TargetHealth:
    return TargetHealth(id=ip, port=8080, state=state, reason=reason, description=description)


def test_the_condition_follows_the_targets_health() -> None:
    ips = frozenset({"10.0.3.4"})
    assert condition_from_health([], ips) == Condition("False", *NOT_REGISTERED)
    assert condition_from_health([health("10.0.3.9", "healthy")], ips) == Condition(
        "False", *NOT_REGISTERED
    )
    initial = health(
        "10.0.3.4", "initial", "Elb.InitialHealthChecking", "Initial health checks in progress"
    )
    assert condition_from_health([initial], ips) == Condition(
        "False", "Elb.InitialHealthChecking", "Initial health checks in progress"
    )
    assert condition_from_health([health("10.0.3.4", "healthy")], ips).status == "True"
    # A draining entry is the old registration of that address, not this pod's.
    assert condition_from_health([health("10.0.3.4", "draining")], ips).status == "False"


# --- polling only what pods wait on --------------------------------------------------------


@dataclass
class RecordingConditions:
    written: list[tuple[str, str, Condition, bool]] = field(default_factory=list)

    def set_condition(
        self, pod: str, uid: str, condition_type: str, condition: Condition, *, transition: bool
    ) -> bool:
        self.written.append((pod, condition_type, condition, transition))
        return True


def gated_pod(name: str, gate: str, app: str, ip: str, **kwargs: Any) -> dict[str, Any]:
    conditions = [{"type": "ContainersReady", "status": kwargs.pop("containers", "True")}]
    if "gate_status" in kwargs:
        conditions.append({"type": gate, "status": kwargs.pop("gate_status")})
    body = full_pod(name, [gate], conditions=conditions, podIP=ip, podIPs=[{"ip": ip}])
    body["metadata"]["labels"] = {"app": app}
    return body


def poller(
    cache: ClusterCache, index: TargetGroupIndex, states: dict[str, str]
) -> tuple[ReadinessGates, list[str], RecordingConditions]:
    """A poller whose three groups are all deployed (ARN `arn:<group>`); `states` is the
    health AWS reports for every target, by address."""
    called: list[str] = []

    def describe(arn: str) -> list[TargetHealth]:
        called.append(arn)
        return [health(ip, state) for ip, state in states.items()]

    arns = {
        (group, str(t.tg_id)): f"arn:{group}"
        for group in ("shop/web", "shop/batch")
        for t in index.of_group(group)
    }
    writer = RecordingConditions()
    gates = ReadinessGates(cache, index, lambda: arns, describe, writer, interval=0.01)
    return gates, called, writer


async def test_only_target_groups_with_waiting_pods_are_polled() -> None:
    cache, index = cluster()
    web, batch = gate_of(index, "shop/web"), gate_of(index, "shop/batch")
    gates, called, writer = poller(cache, index, {"10.0.3.4": "healthy", "10.0.3.5": "healthy"})
    # Nothing waits: no AWS call at all.
    assert await gates.poll_once() == 0
    assert called == []
    # A batch pod whose gate is True already, one whose containers are not ready yet, and
    # one web pod waiting: only web's target group is read.
    cache.apply_event("Pod", None, gated_pod("b1", batch, "batch", "10.0.3.5", gate_status="True"))
    cache.apply_event("Pod", None, gated_pod("b2", batch, "batch", "10.0.3.6", containers="False"))
    cache.apply_event("Pod", None, gated_pod("w1", web, "web", "10.0.3.4"))
    assert await gates.poll_once() == 1
    assert called == ["arn:shop/web"]
    assert writer.written == [("shop/w1", web, Condition("True", "Healthy", "Target is healthy"),
                               True)]  # fmt: skip
    # The watch brings the condition: nothing waits, nothing is read.
    cache.apply_event("Pod", None, gated_pod("w1", web, "web", "10.0.3.4", gate_status="True"))
    assert await gates.poll_once() == 0
    assert called == ["arn:shop/web"]


async def test_a_binding_by_target_group_name_is_polled_once_resolved() -> None:
    """A binding naming its target group only by `targetGroupName` has no ARN in its spec:
    the poller reads the target group the binding reconciler resolved, and nothing before."""
    cache, index = cluster()
    binding = objects.target_group_binding(
        "tf-ip", "shop", service="api", target_type="ip", target_group_name="tf-made"
    )
    cache.apply_event("TargetGroupBinding", None, binding)
    resolved: dict[str, str] = {}
    called: list[str] = []

    def describe(arn: str) -> list[TargetHealth]:
        called.append(arn)
        return [health("10.0.3.7", "healthy")]

    writer = RecordingConditions()
    gates = ReadinessGates(
        cache, index, dict, describe, writer, interval=0.01, binding_arns=lambda: resolved
    )
    gate = GATE_PREFIX + "tf-ip"
    cache.apply_event("Pod", None, gated_pod("a1", gate, "api", "10.0.3.7"))
    assert await gates.poll_once() == 0  # not resolved yet: nothing to read
    resolved["shop/tf-ip"] = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/tf-made/1"
    assert await gates.poll_once() == 1
    assert called == [resolved["shop/tf-ip"]]
    assert [(pod, t, c.status) for pod, t, c, _ in writer.written] == [("shop/a1", gate, "True")]


async def test_a_waiting_pod_is_told_why_until_healthy_and_once_per_change() -> None:
    cache, index = cluster()
    web = gate_of(index, "shop/web")
    states = {"10.0.3.4": "initial"}
    gates, called, writer = poller(cache, index, states)
    cache.apply_event("Pod", None, gated_pod("w1", web, "web", "10.0.3.4"))
    await gates.poll_once()
    await gates.poll_once()  # the same answer: not written again
    states["10.0.3.4"] = "healthy"
    await gates.poll_once()
    assert [(c.status, c.reason, t) for _, _, c, t in writer.written] == [
        ("False", "initial", True),  # AWS's reason (here the state: the fake gives none)
        ("True", "Healthy", True),
    ]
    assert called == ["arn:shop/web"] * 3


async def test_a_gate_of_a_target_group_that_went_is_set_true() -> None:
    cache, index = cluster()
    web = gate_of(index, "shop/web")
    gates, called, writer = poller(cache, index, {})
    cache.apply_event("Pod", None, gated_pod("w1", web, "web", "10.0.3.4"))
    cache.apply_event("Ingress", "DELETED", ingress("web", service="web", annotations=IP))
    index.invalidate(["shop/web"])
    await gates.poll_once()
    assert called == []
    [(pod, kind, condition, _)] = writer.written
    assert (pod, kind, condition.status, condition.reason) == (
        "shop/w1", web, "True", "TargetGroupDeleted"
    )  # fmt: skip
    # A gate this process never knew (another controller's, or not built yet) is left alone.
    writer.written.clear()
    stranger = GATE_PREFIX + "k8s-shop-else-0000000000"
    cache.apply_event("Pod", None, gated_pod("w2", stranger, "web", "10.0.3.7"))
    await gates.poll_once()
    assert writer.written == []  # (w1's was written already)


# --- pod events ------------------------------------------------------------------------------


async def test_a_gated_pods_change_moves_the_targets_of_the_groups_selecting_it() -> None:
    runtime = Runtime.create(Settings(cluster_name="test"), writer=None, deployer=FakeDeployer())  # type: ignore[arg-type]
    runtime.observe("IngressClass", None, INGRESS_CLASS)
    for name, wanted in (("web", IP), ("batch", IP)):
        runtime.observe("Service", None, service(name))
        runtime.observe("Ingress", None, ingress(name, service=name, annotations=wanted))
    assert runtime.target_groups is not None
    [web] = runtime.target_groups.of_group("shop/web")
    runtime.scheduler._pending.clear()
    body = gated_pod("w1", web.condition_type, "web", "10.0.3.4", containers="False")
    runtime.observe("Pod", None, body)
    assert dict(runtime.scheduler._pending) == {"shop/web": Mode.TARGETS}
    # What the cache keeps did not change (a status field it drops): nothing queued.
    runtime.scheduler._pending.clear()
    again = {**body, "status": {**body["status"], "startTime": "2026-01-01T00:00:01Z"}}
    runtime.observe("Pod", None, again)
    assert dict(runtime.scheduler._pending) == {}
    # Its containers are ready now: the group registers it.
    runtime.observe("Pod", None, gated_pod("w1", web.condition_type, "web", "10.0.3.4"))
    assert dict(runtime.scheduler._pending) == {"shop/web": Mode.TARGETS}
    # A pod without gates is nobody's business here.
    runtime.scheduler._pending.clear()
    runtime.observe("Pod", None, full_pod("plain", []))
    assert dict(runtime.scheduler._pending) == {}
    # A Service change rebuilds the group's target groups when next asked.
    renamed = service("web")
    renamed["spec"]["ports"][0]["port"] = 8080
    runtime.observe("Service", None, renamed)
    assert runtime.target_groups.of_group("shop/web") != (web,)
