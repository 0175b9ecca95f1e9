"""Adoption of LBC's layout, three stacks at once (issue: migration safety, points 10, 13).

The stacks of the issue's trial with LBC v3.2: a 2048-like Ingress (internet-facing, ip
targets), a three-Ingress HTTPS group across two namespaces (certificates discovered,
`ssl-redirect`, a weighted forward with a header condition, a WAFv2 web ACL, and one member
whose rules authenticate with OIDC first), and a lone fixed-response Ingress. A first
controller lays the AWS resources out under LBC's names and tags; then what LBC leaves and
we do not is added by hand: no record of ours, status with ports, the HTTPS listener's
default certificate listed again as an extra one (LBC's AddListenerCertificates), no digest
tag on the authenticate-oidc rule, a TargetGroupBinding with LBC's finalizer per target
group. A fresh controller then adopts all three with no mutating AWS call (the web ACL
association and the authentication stay as they are), keeps every hostname and releases
the bindings; scaling and deletion work, and no namespace is stuck.

No real LBC runs here (it cannot be built in CI); the layout is LBC's as its code and docs
describe it (`shared/reference/incumbent.md`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from controller.aws.client_secrets import DIGEST_TAG
from controller.kube.reconciler import APPLIED_ANNOTATION
from sandbox import objects
from sandbox.awsproxy import is_mutating
from sandbox.controller_process import ControllerProcess
from tests.e2e.harness import Scenario, wait_until
from tests.e2e.test_migration import _bindings, _create_binding, _namespace_gone, _unstick
from tests.e2e.tripwire import Tripwire

PREFIX = "alb.ingress.kubernetes.io/"
ISSUER = "https://idp.example.com"
RESOURCE_TAG = "ingress.k8s.aws/resource"


def _ingress(
    where: tuple[str, str], host: str, backend: tuple[str, int | str], annotations: dict[str, str]
) -> dict[str, Any]:
    """Ingress `where` (ns, name): `host` `/` to `backend` (service, port)."""
    rules = [objects.rule(host, objects.path("/", *backend))]
    return objects.ingress(where[1], where[0], annotations=annotations, rules=rules)


def _lay_out(scenario: Scenario) -> dict[str, list[tuple[str, str]]]:
    """The three stacks' objects; returns group id -> its members (ns, name)."""
    game, shop_a, shop_b, fixed = (
        scenario.namespace(p) for p in ("game", "shopa", "shopb", "fixed")
    )
    for ns, app in ((game, "game"), (shop_a, "web"), (shop_a, "blue"), (shop_a, "green"),
                    (shop_b, "admin")):  # fmt: skip
        scenario.app(ns, app)
    ip = {PREFIX + "scheme": "internet-facing", PREFIX + "target-type": "ip"}
    group = f"shop-{scenario.suffix}"
    https = {
        **ip,
        PREFIX + "group.name": group,
        PREFIX + "listen-ports": '[{"HTTP": 80}, {"HTTPS": 443}]',
        PREFIX + "ssl-redirect": "443",
        PREFIX + "wafv2-acl-arn": _web_acl(scenario, group),
    }
    # admin's rules authenticate first (authenticate-oidc at Order 1, as LBC writes them).
    scenario.core.create_namespaced_secret(shop_b, {
        "metadata": {"name": "oidc"},
        "stringData": {"clientID": "shop-admin", "clientSecret": "adoption-secret"},
    })  # fmt: skip
    oidc = {PREFIX + "auth-type": "oidc", PREFIX + "auth-idp-oidc": json.dumps({
        "issuer": ISSUER, "authorizationEndpoint": f"{ISSUER}/authorize",
        "tokenEndpoint": f"{ISSUER}/token", "userInfoEndpoint": f"{ISSUER}/userinfo",
        "secretName": "oidc"})}  # fmt: skip
    weighted = {
        "type": "forward",
        "forwardConfig": {
            "targetGroups": [
                {"serviceName": "blue", "servicePort": "80", "weight": 80},
                {"serviceName": "green", "servicePort": 80, "weight": 20},
            ]
        },
    }
    canary = [{"field": "http-header",
               "httpHeaderConfig": {"httpHeaderName": "X-Canary", "values": ["on"]}}]  # fmt: skip
    maintenance = {
        "type": "fixed-response",
        "fixedResponseConfig": {"contentType": "text/plain", "statusCode": "503",
                                "messageBody": "down for maintenance"},
    }  # fmt: skip
    scenario.create([
        _ingress((game, "ingress-2048"), "game.example.com", ("game", 80), ip),
        _ingress((shop_a, "front"), "shop.example.com", ("web", 80), https),
        _ingress((shop_a, "canary"), "shop.example.com", ("weighted", "use-annotation"), {
            **https, PREFIX + "actions.weighted": json.dumps(weighted),
            PREFIX + "conditions.weighted": json.dumps(canary), PREFIX + "group.order": "-1"}),
        _ingress((shop_b, "admin"), "admin.example.com", ("admin", 80), {**https, **oidc}),
        _ingress((fixed, "maint"), "maint.example.com", ("maintenance", "use-annotation"), {
            PREFIX + "actions.maintenance": json.dumps(maintenance)}),
    ])  # fmt: skip
    return {
        f"{game}/ingress-2048": [(game, "ingress-2048")],
        group: [(shop_a, "front"), (shop_a, "canary"), (shop_b, "admin")],
        f"{fixed}/maint": [(fixed, "maint")],
    }


def _web_acl(scenario: Scenario, name: str) -> str:
    """A regional WAFv2 web ACL in the sandbox's account; its ARN."""
    return str(
        scenario.aws("wafv2").create_web_acl(
            Name=name, Scope="REGIONAL", DefaultAction={"Allow": {}},
            VisibilityConfig={"SampledRequestsEnabled": False,
                              "CloudWatchMetricsEnabled": False, "MetricName": name},
        )["Summary"]["ARN"]
    )  # fmt: skip


def _web_acl_of(scenario: Scenario, lb_arn: str) -> str | None:
    acl = scenario.aws("wafv2").get_web_acl_for_resource(ResourceArn=lb_arn).get("WebACL")
    return None if acl is None else str(acl["ARN"])


def _first_actions(scenario: Scenario, hostname: str, host: str) -> list[list[str]]:
    """The action types of the rules for `host`, per rule, on every listener."""
    elbv2 = scenario.aws("elbv2")
    return [
        [a["Type"] for a in sorted(rule["Actions"], key=lambda a: a.get("Order", 0))]
        for listener in scenario.lb_view(hostname).listeners
        for rule in elbv2.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
        if any(
            host in (c.get("Values") or c.get("HostHeaderConfig", {}).get("Values", []))
            for c in rule["Conditions"]
        )
    ]


def _assert_still_protected(
    scenario: Scenario,
    stacks: dict[str, list[tuple[str, str]]],
    hostnames: dict[tuple[str, str], str],
) -> None:
    """The shop group's web ACL, and admin's authentication before its forward."""
    group = next(k for k in stacks if k.startswith("shop-"))
    admin = next(m for m in stacks[group] if m[1] == "admin")
    acl = (scenario.read_ingress(*admin).metadata.annotations or {})[PREFIX + "wafv2-acl-arn"]
    shop_lb = scenario.load_balancer(hostnames[admin])["LoadBalancerArn"]
    assert _web_acl_of(scenario, shop_lb) == acl
    assert _first_actions(scenario, hostnames[admin], "admin.example.com") == [
        ["authenticate-oidc", "forward"]
    ]


def _as_lbc_leaves_it(scenario: Scenario, stacks: dict[str, list[tuple[str, str]]]) -> int:
    """Turn our layout into LBC's: no record, status ports, the default certificate listed
    again, one TargetGroupBinding per target group; returns how many bindings."""
    elbv2 = scenario.aws("elbv2")
    made = 0
    for stack, members in stacks.items():
        ns, name = members[0]
        hostname = scenario.hostname(ns, name)
        view = scenario.lb_view(hostname)
        ports = [{"port": int(li["Port"]), "protocol": "TCP"} for li in view.listeners]
        for member_ns, member in members:
            scenario.net.patch_namespaced_ingress(
                member, member_ns, {"metadata": {"annotations": {APPLIED_ANNOTATION: None}}}
            )
            status = {"loadBalancer": {"ingress": [{"hostname": hostname, "ports": ports}]}}
            scenario.net.patch_namespaced_ingress_status(member, member_ns, {"status": status})
        for listener in view.listeners:
            if listener["Protocol"] == "HTTPS":
                elbv2.add_listener_certificates(
                    ListenerArn=listener["ListenerArn"], Certificates=listener["Certificates"][:1]
                )
            # LBC keeps no digest of an OIDC client secret on its rules.
            rules = elbv2.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
            digested = [
                d["ResourceArn"]
                for d in elbv2.describe_tags(
                    ResourceArns=[r["RuleArn"] for r in rules if not r["IsDefault"]]
                )["TagDescriptions"]
                if any(t["Key"] == DIGEST_TAG for t in d["Tags"])
            ]
            if digested:
                elbv2.remove_tags(ResourceArns=digested, TagKeys=[DIGEST_TAG])
        arns = [tg["TargetGroupArn"] for tg in view.target_groups]
        tags = {
            d["ResourceArn"]: {t["Key"]: t["Value"] for t in d["Tags"]}
            for d in elbv2.describe_tags(ResourceArns=arns)["TagDescriptions"]
        }
        for tg in view.target_groups:
            tg_ns = tags[tg["TargetGroupArn"]][RESOURCE_TAG].split("/", 1)[0]
            _create_binding(scenario, objects.target_group_binding(
                tg["TargetGroupName"], tg_ns, arn=tg["TargetGroupArn"], service="web",
                target_type=tg["TargetType"].lower(), stack=stack,
            ))  # fmt: skip
            made += 1
    return made


def _recorded(scenario: Scenario, stacks: dict[str, list[tuple[str, str]]]) -> bool:
    return all(
        APPLIED_ANNOTATION in (scenario.read_ingress(ns, name).metadata.annotations or {})
        for members in stacks.values()
        for ns, name in members
    )


def test_three_stacks_laid_out_as_lbc_leaves_them_are_adopted_with_no_write(
    scenario: Scenario, tmp_path: Path
) -> None:
    target = scenario.target
    if target.sandbox is None or target.aws_endpoint_url is None:
        pytest.skip("counts the AWS calls of the local sandbox's moto")
    env = {**target.controller_env, "RESYNC_SECONDS": "3600"}
    stacks = _lay_out(scenario)
    first = ControllerProcess(env, tmp_path / "first.log")
    scenario.controller = first
    first.start()
    hostnames = {
        (ns, name): scenario.hostname(ns, name, timeout=90)
        for members in stacks.values()
        for ns, name in members
    }
    wait_until(lambda: _recorded(scenario, stacks), "every group applied", 90)
    first.stop()
    _assert_still_protected(scenario, stacks, hostnames)
    made = _as_lbc_leaves_it(scenario, stacks)
    namespaces = sorted({ns for members in stacks.values() for ns, _ in members})
    assert made == 5  # game; web, blue, green; admin
    assert sum(len(_bindings(scenario, ns)) for ns in namespaces) == made

    wire = Tripwire(target.aws_endpoint_url, "NoSuchOperation", lambda: None).start()
    second = ControllerProcess({**env, "AWS_ENDPOINT_URL": wire.url}, tmp_path / "second.log")
    scenario.controller = second
    try:
        second.start()
        wait_until(lambda: _recorded(scenario, stacks), "every adopted group recorded", 90)
        wait_until(
            lambda: not any(_bindings(scenario, ns) for ns in namespaces),
            "LBC's bindings released",
        )
        assert [op for op in wire.seen if is_mutating(op)] == []
        for (ns, name), hostname in hostnames.items():
            assert scenario.hostname(ns, name) == hostname
        _assert_still_protected(scenario, stacks, hostnames)
        assert "GetWebACLForResource" in wire.seen

        # Scaling: a third pod of `web` is registered (ip targets).
        shop_a, _ = stacks[next(k for k in stacks if k.startswith("shop-"))][0]
        client.AppsV1Api(target.api).patch_namespaced_deployment_scale(
            "web", shop_a, {"spec": {"replicas": 3}}
        )
        view = hostnames[(shop_a, "front")]
        wait_until(
            lambda: any(len(ids) == 3 for ids in scenario.lb_view(view).target_ids().values()),
            "the third pod registered",
            60,
        )
        scenario.finish()  # every Ingress deleted, nothing of them left in AWS
        for ns in namespaces:
            scenario.core.delete_namespace(ns)
        wait_until(
            lambda: all(_namespace_gone(scenario, ns) for ns in namespaces), "namespaces gone", 60
        )
    finally:
        second.stop()
        wire.stop()
        for ns in namespaces:
            _unstick(scenario, ns)
