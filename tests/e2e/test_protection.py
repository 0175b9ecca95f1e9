"""WAF and Shield on the real control plane: an Ingress naming a WAFv2 web ACL by name gets
its ALB associated with it; `none` removes the association; dropping the annotation leaves
an association made by hand alone; shield-advanced-protection without a subscription is a
ShieldNotSubscribed Warning on the Ingress, and the ALB still serves."""

from __future__ import annotations

from typing import Any

from tests.e2e.harness import Scenario, wait_until

PREFIX = "alb.ingress.kubernetes.io/"


def _web_acl(scenario: Scenario, name: str) -> str:
    return str(
        scenario.aws("wafv2").create_web_acl(
            Name=name,
            Scope="REGIONAL",
            DefaultAction={"Allow": {}},
            VisibilityConfig={
                "SampledRequestsEnabled": False,
                "CloudWatchMetricsEnabled": False,
                "MetricName": name,
            },
        )["Summary"]["ARN"]
    )


def _web_acl_of(scenario: Scenario, hostname: str) -> str | None:
    lb = scenario.load_balancer(hostname)["LoadBalancerArn"]
    acl = scenario.aws("wafv2").get_web_acl_for_resource(ResourceArn=lb).get("WebACL")
    return None if acl is None else str(acl["ARN"])


def _annotate(scenario: Scenario, ns: str, name: str, annotations: dict[str, Any]) -> None:
    scenario.net.patch_namespaced_ingress(name, ns, {"metadata": {"annotations": annotations}})


def test_a_web_acl_by_name_then_none_then_left_alone(scenario: Scenario, running: object) -> None:
    ns = scenario.namespace("waf")
    scenario.app(ns, "web")
    name = f"waf-{scenario.suffix}"
    acl = _web_acl(scenario, name)
    host = f"waf-{scenario.suffix}.example.com"
    scenario.ingress(ns, "app", [(host, "/", "web")], {PREFIX + "wafv2-acl-name": name})
    hostname = scenario.hostname(ns, "app")
    wait_until(lambda: _web_acl_of(scenario, hostname) == acl, "the web ACL associated")

    _annotate(scenario, ns, "app", {PREFIX + "wafv2-acl-name": "none"})
    wait_until(lambda: _web_acl_of(scenario, hostname) is None, "the association removed")

    # Without the annotation the controller keeps out of it: an association made by hand
    # stays through a later deploy (a tag added to the ALB).
    lb = scenario.load_balancer(hostname)["LoadBalancerArn"]
    scenario.aws("wafv2").associate_web_acl(WebACLArn=acl, ResourceArn=lb)
    _annotate(scenario, ns, "app", {PREFIX + "wafv2-acl-name": None, PREFIX + "tags": "team=web"})
    wait_until(lambda: _tags(scenario, lb).get("team") == "web", "the later deploy")
    assert _web_acl_of(scenario, hostname) == acl
    scenario.finish()


def _tags(scenario: Scenario, arn: str) -> dict[str, str]:
    [described] = scenario.aws("elbv2").describe_tags(ResourceArns=[arn])["TagDescriptions"]
    return {t["Key"]: t["Value"] for t in described["Tags"]}


def test_shield_without_a_subscription_is_a_warning(scenario: Scenario, running: object) -> None:
    ns = scenario.namespace("shield")
    scenario.app(ns, "web")
    host = f"shield-{scenario.suffix}.example.com"
    scenario.ingress(
        ns, "app", [(host, "/", "web")], {PREFIX + "shield-advanced-protection": "true"}
    )
    scenario.hostname(ns, "app")
    [message] = wait_until(
        lambda: [
            str(e.message)
            for e in scenario.events(ns, "app")
            if e.type == "Warning" and e.reason == "ShieldNotSubscribed"
        ],
        "a ShieldNotSubscribed Warning",
    )
    assert "no Shield Advanced subscription" in message
    scenario.finish()
