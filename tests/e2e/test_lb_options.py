"""Listener attributes and prefix lists on the real control plane: an Ingress with
`listener-attributes.HTTP-80` gets its listener's attribute set, and one with
`security-group-prefix-lists` gets a managed security group that opens its port to the prefix
list and to no CIDR (LBC's rule); dropping the prefix lists opens 0.0.0.0/0 again."""

from __future__ import annotations

from typing import Any

from tests.e2e.harness import Scenario, wait_until

PREFIX = "alb.ingress.kubernetes.io/"
SERVER_HEADER = "routing.http.response.server.enabled"


def _listener_attributes(scenario: Scenario, hostname: str) -> dict[str, str]:
    elbv2 = scenario.aws("elbv2")
    lb = scenario.load_balancer(hostname)["LoadBalancerArn"]
    (listener,) = elbv2.describe_listeners(LoadBalancerArn=lb)["Listeners"]
    found = elbv2.describe_listener_attributes(ListenerArn=listener["ListenerArn"])
    return {a["Key"]: a["Value"] for a in found["Attributes"]}


def _managed_permissions(scenario: Scenario, hostname: str) -> list[dict[str, Any]]:
    """The inbound permissions of the load balancer's managed security group."""
    groups = scenario.aws("ec2").describe_security_groups(
        GroupIds=scenario.load_balancer(hostname)["SecurityGroups"]
    )["SecurityGroups"]
    (managed,) = [
        g
        for g in groups
        if {"Key": "ingress.k8s.aws/resource", "Value": "ManagedLBSecurityGroup"}
        in g.get("Tags", [])
    ]
    found: list[dict[str, Any]] = managed["IpPermissions"]
    return found


def _sources(permissions: list[dict[str, Any]]) -> set[str]:
    return {
        source
        for p in permissions
        for source in [
            *(r["CidrIp"] for r in p.get("IpRanges", [])),
            *(pl["PrefixListId"] for pl in p.get("PrefixListIds", [])),
        ]
    }


def test_listener_attributes_and_prefix_lists(scenario: Scenario, running: object) -> None:
    ec2 = scenario.aws("ec2")
    office = ec2.create_managed_prefix_list(
        PrefixListName=f"office-{scenario.suffix}", MaxEntries=5, AddressFamily="IPv4"
    )["PrefixList"]["PrefixListId"]
    try:
        ns = scenario.namespace("lbopts")
        scenario.app(ns, "web")
        host = f"opts-{scenario.suffix}.example.com"
        scenario.ingress(
            ns,
            "app",
            [(host, "/", "web")],
            {
                PREFIX + "listener-attributes.HTTP-80": f"{SERVER_HEADER}=false",
                PREFIX + "security-group-prefix-lists": office,
            },
        )
        hostname = scenario.hostname(ns, "app")
        wait_until(
            lambda: _listener_attributes(scenario, hostname).get(SERVER_HEADER) == "false",
            "the listener attribute set",
        )
        wait_until(
            lambda: _sources(_managed_permissions(scenario, hostname)) == {office},
            "port 80 open to the prefix list only",
        )
        [permission] = _managed_permissions(scenario, hostname)
        assert (permission["FromPort"], permission["ToPort"]) == (80, 80)

        scenario.net.patch_namespaced_ingress(
            "app", ns, {"metadata": {"annotations": {PREFIX + "security-group-prefix-lists": None}}}
        )
        wait_until(
            lambda: _sources(_managed_permissions(scenario, hostname)) == {"0.0.0.0/0"},
            "port 80 open to 0.0.0.0/0 again, the prefix list revoked",
        )
        # Not reset by a deploy that changed something else (LBC's map diff).
        assert _listener_attributes(scenario, hostname)[SERVER_HEADER] == "false"
        scenario.finish()
    finally:
        ec2.delete_managed_prefix_list(PrefixListId=office)
