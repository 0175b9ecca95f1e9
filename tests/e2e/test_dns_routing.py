"""Route 53 options on the real control plane: an Ingress with a weighted routing policy
(`dns-set-identifier`, `dns-weight`) joins the other half of its name, which another cluster
owns, and its external-dns hostname (`external-dns.alpha.kubernetes.io/hostname`) gets a
record too; deleting the Ingress removes our half and its owners, and only those."""

from __future__ import annotations

from typing import Any

from tests.e2e.harness import Scenario, wait_until

PREFIX = "alb.ingress.kubernetes.io/"
EXTERNAL_DNS_HOSTNAME = "external-dns.alpha.kubernetes.io/hostname"


def _private_zone(scenario: Scenario) -> str:
    # An internal ALB's records go to the private example.com zone (the sandbox seeds one).
    route53 = scenario.aws("route53")
    [zone] = [
        z["Id"]
        for z in route53.list_hosted_zones()["HostedZones"]
        if z["Name"] == "example.com." and z.get("Config", {}).get("PrivateZone")
    ]
    return str(zone)


def _sets(scenario: Scenario, zone: str, name: str, rtype: str) -> dict[str, dict[str, Any]]:
    """The record sets of `name` and `rtype` in the zone, by SetIdentifier."""
    route53 = scenario.aws("route53")
    return {
        r.get("SetIdentifier", ""): r
        for page in route53.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone)
        for r in page["ResourceRecordSets"]
        if r["Name"] == f"{name}." and r["Type"] == rtype
    }


def _other_cluster_half(host: str) -> list[dict[str, Any]]:
    owner = (
        '"heritage=alb-ingress-controller,alb-ingress-controller/cluster=other-cluster,'
        'alb-ingress-controller/stack=shop/web,alb-ingress-controller/resource=ingress/shop/web"'
    )
    routing = {"SetIdentifier": "green", "Weight": 60}
    return [
        {
            "Name": host,
            "Type": "A",
            **routing,
            "AliasTarget": {
                "HostedZoneId": "Z35SXDOTRQ7X7K",
                "DNSName": "k8s-other-cluster-0123456789.us-east-1.elb.amazonaws.com",
                "EvaluateTargetHealth": True,
            },
        },
        {
            "Name": f"_alb-a.{host}",
            "Type": "TXT",
            **routing,
            "TTL": 300,
            "ResourceRecords": [{"Value": owner}],
        },
    ]


def _change(scenario: Scenario, zone: str, action: str, rrsets: list[dict[str, Any]]) -> None:
    scenario.aws("route53").change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={"Changes": [{"Action": action, "ResourceRecordSet": r} for r in rrsets]},
    )


def test_a_weighted_half_and_an_external_dns_hostname(scenario: Scenario, running: object) -> None:
    zone = _private_zone(scenario)
    host = f"shop-{scenario.suffix}.example.com"
    legacy = f"legacy-{scenario.suffix}.example.com"
    other_half = _other_cluster_half(host)
    _change(scenario, zone, "CREATE", other_half)
    try:
        ns = scenario.namespace("weighted")
        scenario.app(ns, "web")
        scenario.ingress(
            ns,
            "app",
            [(host, "/", "web")],
            {
                PREFIX + "dns-set-identifier": "blue",
                PREFIX + "dns-weight": "40",
                EXTERNAL_DNS_HOSTNAME: f"{legacy}.",
            },
        )
        hostname = scenario.hostname(ns, "app")
        wait_until(
            lambda: (
                set(_sets(scenario, zone, host, "A")) == {"blue", "green"}
                and "blue" in _sets(scenario, zone, legacy, "A")
            ),
            "our weighted half and the external-dns hostname's record",
        )
        ours = _sets(scenario, zone, host, "A")["blue"]
        assert ours["Weight"] == 40
        assert ours["AliasTarget"]["DNSName"].rstrip(".") == hostname
        owner = _sets(scenario, zone, f"_alb-a.{host}", "TXT")["blue"]
        assert owner["Weight"] == 40
        assert f"cluster={scenario.target.cluster_name}," in owner["ResourceRecords"][0]["Value"]
        assert _sets(scenario, zone, legacy, "A")["blue"]["Weight"] == 40
        # The other cluster's half is exactly as it was.
        assert _sets(scenario, zone, host, "A")["green"] == {**other_half[0], "Name": f"{host}."}

        scenario.finish()  # deletes the Ingress; nothing of our cluster may be left

        assert set(_sets(scenario, zone, host, "A")) == {"green"}
        assert set(_sets(scenario, zone, f"_alb-a.{host}", "TXT")) == {"green"}
        assert _sets(scenario, zone, legacy, "A") == {}
    finally:
        live = [
            *_sets(scenario, zone, host, "A").values(),
            *_sets(scenario, zone, f"_alb-a.{host}", "TXT").values(),
        ]
        left = [r for r in live if r.get("SetIdentifier") == "green"]
        if left:
            _change(scenario, zone, "DELETE", left)
