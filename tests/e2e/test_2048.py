"""The 2048 example, end to end: apply it, see the ALB, its targets and DNS; delete it.

The same manifests a newcomer applies (`examples/2048/`), so the quick start is tested.
"""

from __future__ import annotations

from typing import Any

from controller.manifests import load_manifests
from tests.e2e.harness import REPO, Scenario, wait_until

NAMESPACE = "game-2048"
NAME = "ingress-2048"
HOST = "2048.example.com"


def _expected_targets(scenario: Scenario) -> set[tuple[str, int]]:
    """Instance targets: every node's instance on the node port; ip targets: pod IPs."""
    if scenario.target.default_target_type == "ip":
        pods = scenario.core.list_namespaced_pod(NAMESPACE).items
        return {(p.status.pod_ip, 80) for p in pods if p.status.pod_ip}
    port = scenario.core.read_namespaced_service("service-2048", NAMESPACE).spec.ports[0].node_port
    sandbox: Any = scenario.target.sandbox
    return {(spec.instance_id, port) for spec in sandbox.nodes.values()}


def test_the_2048_example_gets_an_alb_targets_and_dns(scenario: Scenario, running: object) -> None:
    scenario.create(load_manifests([REPO / "examples" / "2048"]))
    hostname = scenario.hostname(NAMESPACE, NAME)

    view = scenario.lb_view(hostname)
    assert view.lb["Scheme"] == "internet-facing"
    assert view.lb["Type"] == "application"
    assert [(li["Port"], li["Protocol"]) for li in view.listeners] == [(80, "HTTP")]
    assert view.conditions() == [{"host-header": [HOST], "path-pattern": ["/*"]}]
    [tg] = view.target_groups
    assert tg["TargetType"] == scenario.target.default_target_type

    def registered() -> set[tuple[str, int]]:
        health = scenario.lb_view(hostname).targets[tg["TargetGroupName"]]
        assert all(t["TargetHealth"]["State"] in ("healthy", "initial") for t in health)
        return {(t["Target"]["Id"], t["Target"]["Port"]) for t in health}

    expected: set[tuple[str, int]] = wait_until(
        lambda: (want := _expected_targets(scenario)) and len(want) >= 2 and want,
        "the example's pods and nodes",
    )
    wait_until(lambda: registered() == expected, f"targets {sorted(expected)}")
    if tg["TargetType"] == "instance":
        assert tg["Port"] == next(iter(expected))[1]  # the Service's node port

    records: dict[str, Any] = wait_until(
        lambda: (found := scenario.records(HOST)) and "public:A" in found and found,
        "DNS records",
    )
    alias = records["public:A"]["AliasTarget"]
    assert alias["DNSName"].rstrip(".").lower() == hostname.lower()
    txt = records["public:TXT"]["ResourceRecords"][0]["Value"]
    assert f"alb-ingress-controller/cluster={scenario.target.cluster_name}," in txt
    assert "resource=ingress/game-2048/ingress-2048" in txt
    assert "private:A" not in records  # an internet-facing ALB's records go to the public zone

    scenario.finish()
    assert scenario.records(HOST) == {}
