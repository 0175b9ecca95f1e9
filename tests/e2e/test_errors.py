"""A bad annotation: a Warning Event on that Ingress, nothing in AWS for it, others unharmed."""

from __future__ import annotations

from tests.e2e.harness import Scenario, wait_until


def test_a_bad_annotation_is_reported_and_isolated(scenario: Scenario, running: object) -> None:
    ns = scenario.namespace("errors")
    scenario.app(ns, "web")
    scenario.ingress(
        ns, "broken", [("broken.example.com", "/", "web")],
        {"alb.ingress.kubernetes.io/scheme": "sideways"},
    )  # fmt: skip
    scenario.ingress(ns, "fine", [("fine.example.com", "/", "web")])

    hostname = scenario.hostname(ns, "fine")
    assert scenario.lb_view(hostname).conditions()[0]["host-header"] == ["fine.example.com"]

    warnings = wait_until(
        lambda: [
            e
            for e in scenario.events(ns, "broken")
            if e.type == "Warning" and e.reason == "FailedBuildModel"
        ],
        "a FailedBuildModel Warning on the broken Ingress",
    )
    message = warnings[0].message
    assert "scheme" in message and "sideways" in message, message
    assert scenario.stack_resources(f"{ns}/broken") == []
    status = scenario.read_ingress(ns, "broken").status
    assert not (status and status.load_balancer and status.load_balancer.ingress)
    assert scenario.records("broken.example.com") == {}
    assert not [e for e in scenario.events(ns, "fine") if e.type == "Warning"]
    scenario.finish()
