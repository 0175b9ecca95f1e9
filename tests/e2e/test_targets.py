"""Targets follow the cluster: Pods for target-type ip, Nodes for target-type instance."""

from __future__ import annotations

import functools

import pytest

from tests.e2e.harness import Scenario, wait_until

IP = {"alb.ingress.kubernetes.io/target-type": "ip"}


def _ready_pod_ips(scenario: Scenario, ns: str) -> set[str]:
    return {
        p.status.pod_ip
        for p in scenario.core.list_namespaced_pod(ns).items
        if p.status.pod_ip and p.metadata.deletion_timestamp is None
        and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or ())
    }  # fmt: skip


def _pods(scenario: Scenario, ns: str, count: int) -> set[str] | None:
    ips = _ready_pod_ips(scenario, ns)
    return ips if len(ips) == count else None


def _registered(scenario: Scenario, hostname: str) -> set[tuple[str, int]]:
    view = scenario.lb_view(hostname)
    [name] = view.targets
    return {
        (t["Target"]["Id"], t["Target"]["Port"])
        for t in view.targets[name]
        if t["TargetHealth"]["State"] not in ("draining", "unused")
    }


def test_ip_targets_follow_scaling(scenario: Scenario, running: object) -> None:
    ns = scenario.namespace("scale")
    scenario.app(ns, "web", replicas=2, service_type="ClusterIP")
    scenario.ingress(ns, "web", [("scale.example.com", "/", "web")], IP)
    hostname = scenario.hostname(ns, "web")
    assert scenario.lb_view(hostname).target_groups[0]["TargetType"] == "ip"

    for replicas in (2, 5, 1):
        scenario.apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": replicas}})
        pods = wait_until(
            functools.partial(_pods, scenario, ns, replicas), f"{replicas} ready pods"
        )
        wanted = {(ip, 80) for ip in pods}
        wait_until(
            lambda: _registered(scenario, hostname) == wanted,  # noqa: B023 (used at once)
            f"targets to be the {replicas} pod IPs",
        )
    scenario.finish()


def test_instance_targets_follow_nodes(scenario: Scenario, running: object) -> None:
    sandbox = scenario.target.sandbox
    if sandbox is None:
        pytest.skip("adding and removing Nodes needs the local sandbox")
    ns = scenario.namespace("nodes")
    scenario.app(ns, "web")
    scenario.ingress(ns, "web", [("nodes.example.com", "/", "web")])
    hostname = scenario.hostname(ns, "web")
    port: int = scenario.core.read_namespaced_service("web", ns).spec.ports[0].node_port

    def instances() -> set[tuple[str, int]]:
        return {(spec.instance_id, port) for spec in sandbox.nodes.values()}

    wait_until(lambda: _registered(scenario, hostname) == instances(), "targets on every node")
    added = sandbox.add_node()
    try:
        wait_until(
            lambda: (added.instance_id, port) in _registered(scenario, hostname),
            "the new node to be registered",
        )
        assert _registered(scenario, hostname) == instances()
    finally:
        sandbox.remove_node(added.name)
    wait_until(
        lambda: _registered(scenario, hostname) == instances(),
        "the removed node to be deregistered",
    )
    scenario.finish()
