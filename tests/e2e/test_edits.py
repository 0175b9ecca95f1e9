"""Editing an Ingress: its rules and its DNS records follow the new host and path."""

from __future__ import annotations

from tests.e2e.harness import Scenario, ingress_body, wait_until

INTERNET = {"alb.ingress.kubernetes.io/scheme": "internet-facing"}


def test_host_and_path_edits_move_rules_and_dns(scenario: Scenario, running: object) -> None:
    ns = scenario.namespace("edits")
    scenario.app(ns, "web")
    scenario.ingress(ns, "web", [("old.example.com", "/", "web")], INTERNET)
    hostname = scenario.hostname(ns, "web")
    wait_until(lambda: "public:A" in scenario.records("old.example.com"), "old host's record")

    edited = ingress_body(ns, "web", [("new.example.com", "/shop", "web")], INTERNET)
    scenario.net.patch_namespaced_ingress("web", ns, {"spec": edited["spec"]})

    def moved() -> bool:
        conditions = scenario.lb_view(hostname).conditions()
        return len(conditions) == 1 and conditions[0]["host-header"] == ["new.example.com"]

    wait_until(moved, "the rule to follow the host edit")
    [condition] = scenario.lb_view(hostname).conditions()
    assert condition["path-pattern"] == ["/shop", "/shop/*"]
    wait_until(
        lambda: (
            "public:A" in scenario.records("new.example.com")
            and scenario.records("old.example.com") == {}
        ),
        "DNS to follow the host edit",
    )
    assert scenario.load_balancer(hostname)  # the same ALB, not a new one
    scenario.finish()
