"""Migrating from LBC on the real control plane: what its users rely on keeps working.

A path whose backend Service does not exist is answered with LBC's fixed 503 while the rest
of the Ingress serves, and starts forwarding once the Service appears; annotation keys this
controller does not read are reported, not silently dropped.
"""

from __future__ import annotations

from typing import Any

from tests.e2e.harness import Scenario, wait_until

PREFIX = "alb.ingress.kubernetes.io/"


def _action_by_path(scenario: Scenario, hostname: str) -> dict[str, dict[str, Any]]:
    view = scenario.lb_view(hostname)
    found: dict[str, dict[str, Any]] = {}
    for rule in view.rules:
        for condition in rule["Conditions"]:
            if condition["Field"] == "path-pattern":
                for path in condition["PathPatternConfig"]["Values"]:
                    found[path] = rule["Actions"][0]
    return found


def _warnings(scenario: Scenario, ns: str, name: str, reason: str) -> list[str]:
    return [
        str(e.message)
        for e in scenario.events(ns, name)
        if e.type == "Warning" and e.reason == reason
    ]


def test_a_missing_backend_answers_503_and_the_rest_still_serves(
    scenario: Scenario, running: object
) -> None:
    ns = scenario.namespace("missing")
    scenario.app(ns, "web")
    scenario.ingress(
        ns, "shop", [("shop.example.com", "/", "web"), ("shop.example.com", "/api", "api")]
    )
    hostname = scenario.hostname(ns, "shop", timeout=60)
    actions = _action_by_path(scenario, hostname)
    assert actions["/*"]["Type"] == "forward"
    assert actions["/api"]["Type"] == "fixed-response"
    assert actions["/api"]["FixedResponseConfig"]["StatusCode"] == "503"
    assert actions["/api"]["FixedResponseConfig"]["MessageBody"] == "Backend service does not exist"
    [message] = wait_until(
        lambda: _warnings(scenario, ns, "shop", "BackendNotFound"), "a BackendNotFound Warning"
    )
    assert message.startswith("spec.rules[1].http.paths[0].backend.service"), message
    assert "service 'api' not found" in message
    assert scenario.records("shop.example.com"), "the Ingress's DNS record stays"

    scenario.app(ns, "api")  # the Service appears: its path forwards
    wait_until(
        lambda: _action_by_path(scenario, hostname)["/api"]["Type"] == "forward",
        "the /api rule forwarding once its Service exists",
        60,
    )
    scenario.finish()


def test_annotations_not_read_are_reported(scenario: Scenario, running: object) -> None:
    ns = scenario.namespace("unknown")
    scenario.app(ns, "web")
    annotations = {
        PREFIX + "wafv2-acl-arn": "arn:aws:wafv2:us-east-1:111122223333:regional/webacl/x/y",
        PREFIX + "shceme": "internet-facing",  # a typo of scheme
    }
    scenario.ingress(ns, "app", [("app.example.com", "/", "web")], annotations)
    scenario.hostname(ns, "app", timeout=60)  # deployed all the same
    [message] = wait_until(
        lambda: _warnings(scenario, ns, "app", "UnsupportedAnnotation"),
        "an UnsupportedAnnotation Warning",
    )
    assert f"[{PREFIX}wafv2-acl-arn]: ignored: an aws-load-balancer-controller" in message
    assert f"[{PREFIX}shceme]: ignored: not an annotation this controller knows" in message
    scenario.finish()
