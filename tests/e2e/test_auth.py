"""ALB authentication on the real control plane: an Ingress with auth-type oidc and its Secret
gets an HTTPS listener whose rule authenticates first; deleting the Secret is a
FailedBuildModel Warning naming the annotation, and the authentication stays deployed."""

from __future__ import annotations

import json
from typing import Any

from tests.e2e.harness import Scenario, ingress_body, wait_until

PREFIX = "alb.ingress.kubernetes.io/"
ISSUER = "https://idp.example.com"


def _actions(rule: dict[str, Any]) -> list[str]:
    return [a["Type"] for a in sorted(rule["Actions"], key=lambda a: int(a["Order"]))]


def _rules_of(scenario: Scenario, hostname: str, host: str) -> list[dict[str, Any]]:
    return [
        r
        for r in scenario.lb_view(hostname).rules
        if any(host in (c.get("HostHeaderConfig") or {}).get("Values", []) for c in r["Conditions"])
    ]


def test_an_oidc_ingress_authenticates_first_and_keeps_it_when_its_secret_goes(
    scenario: Scenario, running: object
) -> None:
    ns = scenario.namespace("auth")
    scenario.app(ns, "web")
    scenario.core.create_namespaced_secret(
        ns,
        {
            "metadata": {"name": "oidc"},
            "stringData": {"clientID": "e2e-client", "clientSecret": "e2e-secret"},
        },
    )
    group = {
        PREFIX + "group.name": f"auth-{scenario.suffix}",
        PREFIX + "listen-ports": '[{"HTTPS": 443}]',
    }
    protected, plain = f"auth-{scenario.suffix}.example.com", f"plain-{scenario.suffix}.example.com"
    idp = {
        "issuer": ISSUER,
        "authorizationEndpoint": f"{ISSUER}/authorize",
        "tokenEndpoint": f"{ISSUER}/token",
        "userInfoEndpoint": f"{ISSUER}/userinfo",
        "secretName": "oidc",
    }
    scenario.ingress(
        ns, "protected", [(protected, "/", "web")],
        {**group, PREFIX + "auth-type": "oidc", PREFIX + "auth-idp-oidc": json.dumps(idp)},
    )  # fmt: skip
    scenario.ingress(ns, "plain", [(plain, "/", "web")], group)

    hostname = scenario.hostname(ns, "protected")
    view = scenario.lb_view(hostname)
    assert [li["Protocol"] for li in view.listeners] == ["HTTPS"]
    [rule] = wait_until(lambda: _rules_of(scenario, hostname, protected), "the protected rule")
    assert _actions(rule) == ["authenticate-oidc", "forward"]
    auth = next(a for a in rule["Actions"] if a["Type"] == "authenticate-oidc")
    assert auth["Order"] == 1
    config = auth["AuthenticateOidcConfig"]
    assert (config["Issuer"], config["ClientId"]) == (ISSUER, "e2e-client")
    assert "ClientSecret" not in config
    [plain_rule] = wait_until(lambda: _rules_of(scenario, hostname, plain), "the plain rule")
    assert _actions(plain_rule) == ["forward"]

    # The Secret goes: the Ingress is told, naming the annotation; its rule still authenticates.
    scenario.core.delete_namespaced_secret("oidc", ns)
    warnings = wait_until(
        lambda: [
            e
            for e in scenario.events(ns, "protected")
            if e.type == "Warning" and e.reason == "FailedBuildModel"
        ],
        "a FailedBuildModel Warning on the protected Ingress",
    )
    assert f"{PREFIX}auth-idp-oidc" in warnings[0].message, warnings[0].message
    assert "secretName" in warnings[0].message

    # A later deploy of the group (the other member edited) still holds the protected rule.
    edited = ingress_body(ns, "plain", [(plain, "/", "web"), (plain, "/more", "web")], group)
    version = scenario.read_ingress(ns, "plain").metadata.resource_version
    edited["metadata"]["resourceVersion"] = version
    scenario.net.replace_namespaced_ingress("plain", ns, edited)
    wait_until(
        lambda: len(scenario.lb_view(hostname).rules) == 3 or None,
        "the edited member's second rule",
    )
    still = _rules_of(scenario, hostname, protected)
    assert [_actions(r) for r in still] == [["authenticate-oidc", "forward"]]
    scenario.finish()
