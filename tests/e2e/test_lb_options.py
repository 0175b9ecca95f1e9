"""Listener attributes, prefix lists and mTLS on the real control plane: an Ingress with
`listener-attributes.HTTP-80` gets its listener's attribute set, and one with
`security-group-prefix-lists` gets a managed security group that opens its port to the prefix
list and to no CIDR (LBC's rule); dropping the prefix lists opens 0.0.0.0/0 again. An HTTPS
Ingress with `mutual-authentication` naming a trust store by name gets a listener verifying
client certificates against it (the name resolved to its ARN); switching it to passthrough
modifies the listener in place."""

from __future__ import annotations

import json
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


def _https_mtls(scenario: Scenario, hostname: str) -> dict[str, Any]:
    elbv2 = scenario.aws("elbv2")
    lb = scenario.load_balancer(hostname)["LoadBalancerArn"]
    (listener,) = elbv2.describe_listeners(LoadBalancerArn=lb)["Listeners"]
    found: dict[str, Any] = listener.get("MutualAuthentication") or {"Mode": "off"}
    return found


def test_mutual_authentication_verifies_against_a_trust_store_by_name(
    scenario: Scenario, running: object
) -> None:
    elbv2 = scenario.aws("elbv2")
    name = f"clients-{scenario.suffix}"[:32]
    store = elbv2.create_trust_store(
        Name=name, CaCertificatesBundleS3Bucket="ca", CaCertificatesBundleS3Key="ca.pem"
    )["TrustStores"][0]["TrustStoreArn"]
    try:
        ns = scenario.namespace("mtls")
        scenario.app(ns, "web")
        verify = json.dumps([{"port": 443, "mode": "verify", "trustStore": name}])
        scenario.ingress(
            ns,
            "app",
            [(f"mtls-{scenario.suffix}.example.com", "/", "web")],
            {PREFIX + "listen-ports": '[{"HTTPS": 443}]', PREFIX + "mutual-authentication": verify},
        )
        hostname = scenario.hostname(ns, "app")

        def verifying() -> dict[str, Any] | None:
            found = _https_mtls(scenario, hostname)
            return found if found["Mode"] == "verify" else None

        mtls = wait_until(verifying, "the HTTPS listener verifying client certificates")
        assert mtls["TrustStoreArn"] == store  # the name, resolved
        assert mtls["IgnoreClientCertificateExpiry"] is False
        passthrough = json.dumps([{"port": 443, "mode": "passthrough"}])
        scenario.net.patch_namespaced_ingress(
            "app",
            ns,
            {"metadata": {"annotations": {PREFIX + "mutual-authentication": passthrough}}},
        )
        wait_until(
            lambda: _https_mtls(scenario, hostname) == {"Mode": "passthrough"},
            "the listener passing client certificates through",
        )
        scenario.finish()
    finally:
        elbv2.delete_trust_store(TrustStoreArn=store)
