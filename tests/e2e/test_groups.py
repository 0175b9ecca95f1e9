"""An IngressGroup of two Ingresses in different namespaces: one ALB shared by both."""

from __future__ import annotations

from tests.e2e.harness import Scenario

GROUP = {"alb.ingress.kubernetes.io/group.name": "shop"}


def test_two_namespaces_share_one_alb(scenario: Scenario, running: object) -> None:
    web, api = scenario.namespace("web"), scenario.namespace("api")
    scenario.app(web, "front")
    scenario.app(api, "back")
    scenario.ingress(web, "front", [("shop.example.com", "/", "front")], GROUP)
    scenario.ingress(api, "back", [("api.example.com", "/", "back")], GROUP)

    front = scenario.hostname(web, "front")
    back = scenario.hostname(api, "back")
    assert front == back

    view = scenario.lb_view(front)
    assert view.lb["Scheme"] == "internal"  # LBC's default
    hosts = sorted(c["host-header"][0] for c in view.conditions())
    assert hosts == ["api.example.com", "shop.example.com"]
    assert len(view.target_groups) == 2
    assert len(view.listeners) == 1
    assert len(scenario.stack_resources("shop")) >= 3  # LB, 2 TGs, listener, rules, SG

    # Internal ALB: the records go to the private zone.
    for host in ("shop.example.com", "api.example.com"):
        records = scenario.records(host)
        assert "private:A" in records and "public:A" not in records, records

    scenario.finish()
