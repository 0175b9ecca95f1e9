"""LBC v3.5's rule features on the real control plane: an Ingress with use-regex-path-match
and a url-rewrite transform gets a rule matching its ImplementationSpecific path as a
regular expression (RegexValues, the leading / dropped) with the transform; an edit of the
transform changes that rule in place (same ARN)."""

from __future__ import annotations

import json
from typing import Any

from sandbox import objects
from tests.e2e.harness import Scenario, wait_until

PREFIX = "alb.ingress.kubernetes.io/"


def _rewrite(replace: str) -> str:
    return json.dumps(
        [
            {
                "type": "url-rewrite",
                "urlRewriteConfig": {"rewrites": [{"regex": "^/api/(.*)$", "replace": replace}]},
            }
        ]
    )


def _regex_rule(scenario: Scenario, hostname: str) -> dict[str, Any] | None:
    for rule in scenario.lb_view(hostname).rules:
        for condition in rule["Conditions"]:
            if (condition.get("PathPatternConfig") or {}).get("RegexValues"):
                return rule
    return None


def _replace_of(rule: dict[str, Any]) -> str | None:
    for transform in rule.get("Transforms") or ():
        return str(transform["UrlRewriteConfig"]["Rewrites"][0]["Replace"])
    return None


def _rewritten_to(scenario: Scenario, hostname: str, replace: str) -> dict[str, Any] | None:
    rule = _regex_rule(scenario, hostname)
    return rule if rule is not None and _replace_of(rule) == replace else None


def test_a_regex_path_with_a_url_rewrite_and_its_edit(scenario: Scenario, running: object) -> None:
    ns = scenario.namespace("rules")
    scenario.app(ns, "api")
    host = f"rules-{scenario.suffix}.example.com"
    path = objects.path("/api/v[0-9]+/.*", "api", path_type="ImplementationSpecific")
    scenario.create(
        [
            objects.ingress(
                "app",
                ns,
                annotations={
                    PREFIX + "use-regex-path-match": "true",
                    PREFIX + "transforms.api": _rewrite("/$1"),
                },
                rules=[objects.rule(host, path)],
            )
        ]
    )
    hostname = scenario.hostname(ns, "app")
    rule = wait_until(lambda: _regex_rule(scenario, hostname), "the regex rule")
    path_condition = next(c for c in rule["Conditions"] if c["Field"] == "path-pattern")
    assert path_condition["PathPatternConfig"]["RegexValues"] == ["api/v[0-9]+/.*"]
    host_condition = next(c for c in rule["Conditions"] if c["Field"] == "host-header")
    assert host_condition["HostHeaderConfig"]["Values"] == [host]
    assert rule["Transforms"][0]["Type"] == "url-rewrite"
    assert _replace_of(rule) == "/$1"

    scenario.net.patch_namespaced_ingress(
        "app", ns, {"metadata": {"annotations": {PREFIX + "transforms.api": _rewrite("/v2/$1")}}}
    )
    edited = wait_until(lambda: _rewritten_to(scenario, hostname, "/v2/$1"), "the edit")
    assert edited["RuleArn"] == rule["RuleArn"]  # modified in place, not made again
    scenario.finish()
