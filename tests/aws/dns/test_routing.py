"""Records with a routing policy (the `dns-*` annotations) against moto behind the strict
client: each record set and its ownership TXT carry the SetIdentifier and policy, so two
clusters own the two weighted halves of one name, and neither ever touches the other's."""

from __future__ import annotations

from typing import Any

from controller.aws.route53 import Route53Dns
from controller.aws.warnings import DNS_RECORD_NOT_OWNED, DNS_RECORD_SKIPPED
from controller.model.stack import DnsRecord, GeoLocation, LoadBalancer, Stack
from tests.aws.dns.conftest import (
    ALB,
    ALB2,
    CLUSTER,
    INGRESS_2048,
    STACK_2048,
    World,
    alias_rrset,
    make_stack,
    txt,
    txt_rrset,
)

HOST = "shop.example.com"


def routed(hosts: list[str], stack_id: str = STACK_2048, **policy: Any) -> Stack:
    """A stack whose records for `hosts` have this routing policy (DnsRecord's fields)."""
    return Stack(
        id=stack_id,
        ingresses=(INGRESS_2048,),
        load_balancer=LoadBalancer(
            name="k8s-game2048-ingress2-0123456789", scheme="internet-facing",
            ip_address_type="ipv4",
        ),
        dns_records=tuple(
            DnsRecord(name=host, type="A", ingress=INGRESS_2048, **policy) for host in hosts
        ),
    )  # fmt: skip


def _sets(world: World, name: str, rtype: str) -> dict[str, dict[str, Any]]:
    return {r.get("SetIdentifier", ""): r for r in world.named("public", name, rtype)}


def test_two_clusters_own_the_two_weighted_halves_of_one_name(world: World) -> None:
    world.add_zone("public", "example.com")
    blue = world.dns("blue-cluster")
    green = Route53Dns(world.strict, "green-cluster", zone_cache_seconds=300.0, clock=world.clock)

    assert blue.sync(routed([HOST], set_identifier="blue", weight=70), *ALB) == ()
    assert green.sync(routed([HOST], set_identifier="green", weight=30), *ALB2) == ()

    records = _sets(world, HOST, "A")
    assert records["blue"]["Weight"] == 70 and records["green"]["Weight"] == 30
    assert records["blue"]["AliasTarget"]["DNSName"] == ALB[0]
    assert records["green"]["AliasTarget"]["DNSName"] == ALB2[0]
    # Each half's ownership record carries its set identifier and policy (external-dns's
    # registry does the same), and names its own cluster.
    owners = _sets(world, f"_alb-a.{HOST}", "TXT")
    assert owners["blue"]["Weight"] == 70
    assert owners["blue"]["ResourceRecords"] == [{"Value": txt("blue-cluster", STACK_2048)}]
    assert owners["green"]["ResourceRecords"] == [{"Value": txt("green-cluster", STACK_2048)}]

    # Deleting one cluster's stack removes its half and nothing of the other's.
    green_before = (_sets(world, HOST, "A")["green"], owners["green"])
    assert blue.delete(STACK_2048) == ()
    assert list(_sets(world, HOST, "A")) == ["green"]
    assert (_sets(world, HOST, "A")["green"], _sets(world, f"_alb-a.{HOST}", "TXT")["green"]) == (
        green_before
    )
    assert world.strict.rejected == []


def test_a_fresh_process_finds_its_weighted_half_and_deletes_only_that(world: World) -> None:
    world.add_zone("public", "example.com")
    world.dns("blue-cluster").sync(routed([HOST], set_identifier="blue", weight=1), *ALB)
    world.dns("green-cluster").sync(routed([HOST], set_identifier="green", weight=1), *ALB2)

    # A restart: no memory, so the ownership scan must read the set identifier off the TXT.
    world.dns("blue-cluster").delete(STACK_2048)

    assert list(_sets(world, HOST, "A")) == ["green"]
    assert list(_sets(world, f"_alb-a.{HOST}", "TXT")) == ["green"]


def test_the_same_set_identifier_of_another_cluster_is_not_ours(world: World) -> None:
    world.add_zone("public", "example.com")
    world.dns("green-cluster").sync(routed([HOST], set_identifier="blue", weight=5), *ALB2)
    before = world.records("public")

    warnings = world.dns("blue-cluster").sync(routed([HOST], set_identifier="blue", weight=5), *ALB)

    assert world.records("public") == before
    [warning] = warnings
    assert warning.reason == DNS_RECORD_NOT_OWNED
    assert warning.message.startswith(f"{HOST} (A set 'blue' in hosted zone example.com)")
    assert "cluster 'green-cluster'" in warning.message


def test_a_new_weight_is_an_upsert_of_the_record_and_its_owner(world: World) -> None:
    world.add_zone("public", "example.com")
    dns = world.dns()
    dns.sync(routed([HOST], set_identifier="blue", weight=10), *ALB)
    world.strict.sent.clear()

    dns.sync(routed([HOST], set_identifier="blue", weight=90), *ALB)

    assert world.strict.sent == [
        (world.zones["public"], [("UPSERT", "A", HOST), ("UPSERT", "TXT", f"_alb-a.{HOST}")])
    ]
    assert _sets(world, HOST, "A")["blue"]["Weight"] == 90
    assert _sets(world, f"_alb-a.{HOST}", "TXT")["blue"]["Weight"] == 90


def test_another_kind_of_policy_replaces_the_record_in_one_batch(world: World) -> None:
    # UPSERT cannot turn a weighted record set into a latency one: DELETE, then CREATE.
    world.add_zone("public", "example.com")
    dns = world.dns()
    dns.sync(routed([HOST], set_identifier="blue", weight=10), *ALB)
    world.strict.sent.clear()

    assert dns.sync(routed([HOST], set_identifier="blue", region="us-east-1"), *ALB) == ()

    [(_, batch)] = world.strict.sent
    assert batch == [
        ("DELETE", "A", HOST),
        ("DELETE", "TXT", f"_alb-a.{HOST}"),
        ("CREATE", "A", HOST),
        ("CREATE", "TXT", f"_alb-a.{HOST}"),
    ]
    assert _sets(world, HOST, "A")["blue"]["Region"] == "us-east-1"
    assert "Weight" not in _sets(world, HOST, "A")["blue"]


def test_a_simple_record_becomes_weighted_and_back_without_a_gap(world: World) -> None:
    world.add_zone("public", "example.com")
    dns = world.dns()
    dns.sync(make_stack([HOST]), *ALB)
    world.strict.sent.clear()

    assert dns.sync(routed([HOST], set_identifier="blue", weight=1), *ALB) == ()
    # One batch: our simple record goes first, then the weighted one comes, so the name
    # never resolves to nothing (and Route 53 never sees the two kinds together).
    [(_, batch)] = world.strict.sent
    assert batch == [
        ("DELETE", "A", HOST),
        ("DELETE", "TXT", f"_alb-a.{HOST}"),
        ("CREATE", "A", HOST),
        ("CREATE", "TXT", f"_alb-a.{HOST}"),
    ]
    assert list(_sets(world, HOST, "A")) == ["blue"]

    assert dns.sync(make_stack([HOST]), *ALB) == ()
    assert list(_sets(world, HOST, "A")) == [""]
    assert list(_sets(world, f"_alb-a.{HOST}", "TXT")) == [""]
    assert world.strict.rejected == []


def test_a_new_set_identifier_replaces_the_old_one(world: World) -> None:
    world.add_zone("public", "example.com")
    dns = world.dns()
    dns.sync(routed([HOST], set_identifier="blue", weight=1), *ALB)

    dns.sync(routed([HOST], set_identifier="blue-2", weight=1), *ALB)

    assert list(_sets(world, HOST, "A")) == ["blue-2"]
    assert list(_sets(world, f"_alb-a.{HOST}", "TXT")) == ["blue-2"]


def test_weighted_records_of_another_tool_are_still_not_ours(world: World) -> None:
    # A simple record may not join a weighted name (kept: "a routing policy we do not
    # manage"), and a weighted one may not join a name whose records use another policy.
    world.add_zone("public", "example.com")
    world.seed(
        "public",
        {**alias_rrset(HOST, ALB2), "SetIdentifier": "theirs", "Weight": 1},
        {**alias_rrset("lat.example.com", ALB2), "SetIdentifier": "x", "Region": "eu-west-1"},
        alias_rrset("plain.example.com", ALB2),
    )
    before = world.records("public")
    dns = world.dns()

    warnings = dns.sync(make_stack([HOST]), *ALB)
    warnings += dns.sync(
        routed(["lat.example.com", "plain.example.com"], "other", set_identifier="a", weight=1),
        *ALB,
    )

    assert world.records("public") == before
    by_host = {w.message.split(" ", 1)[0]: w for w in warnings}
    assert by_host[HOST].reason == DNS_RECORD_NOT_OWNED
    assert "already exists without an ownership record" in by_host[HOST].message
    assert by_host["lat.example.com"].reason == DNS_RECORD_SKIPPED
    assert "use latency routing, not weighted" in by_host["lat.example.com"].message
    assert by_host["plain.example.com"].reason == DNS_RECORD_NOT_OWNED
    assert "without a routing policy" in by_host["plain.example.com"].message


def test_a_failover_role_or_region_taken_by_someone_else_is_skipped(world: World) -> None:
    world.add_zone("public", "example.com")
    world.dns("other").sync(routed([HOST], "x", set_identifier="a", failover="PRIMARY"), *ALB2)
    world.dns("other").sync(
        routed(["lat.example.com"], "y", set_identifier="a", region="us-east-1"), *ALB2
    )
    before = world.records("public")
    dns = world.dns()

    warnings = dns.sync(routed([HOST], set_identifier="b", failover="PRIMARY"), *ALB)
    warnings += dns.sync(
        routed(["lat.example.com"], "other-stack", set_identifier="b", region="us-east-1"), *ALB
    )

    assert world.records("public") == before
    assert [w.reason for w in warnings] == [DNS_RECORD_SKIPPED] * 2
    assert "already has Failover PRIMARY" in warnings[0].message
    assert "already has Region us-east-1" in warnings[1].message

    # The other role is free.
    assert dns.sync(routed([HOST], set_identifier="b", failover="SECONDARY"), *ALB) == ()
    assert sorted(_sets(world, HOST, "A")) == ["a", "b"]


def test_geolocation_and_evaluate_target_health_reach_route_53(world: World) -> None:
    world.add_zone("public", "example.com")
    stack = routed(
        [HOST],
        set_identifier="de",
        geo_location=GeoLocation(country_code="DE"),
        evaluate_target_health=False,
    )
    world.dns().sync(stack, *ALB)

    record = _sets(world, HOST, "A")["de"]
    assert record["GeoLocation"] == {"CountryCode": "DE"}
    assert record["AliasTarget"]["EvaluateTargetHealth"] is False
    assert _sets(world, f"_alb-a.{HOST}", "TXT")["de"]["GeoLocation"] == {"CountryCode": "DE"}


def test_evaluate_target_health_defaults_to_true_as_before(world: World) -> None:
    world.add_zone("public", "example.com")
    dns = world.dns()
    dns.sync(make_stack([HOST]), *ALB)
    assert world.named("public", HOST, "A")[0]["AliasTarget"]["EvaluateTargetHealth"] is True
    world.strict.sent.clear()

    dns.sync(routed([HOST], evaluate_target_health=False), *ALB)

    assert world.strict.sent == [(world.zones["public"], [("UPSERT", "A", HOST)])]
    assert world.named("public", HOST, "A")[0]["AliasTarget"]["EvaluateTargetHealth"] is False


def test_a_weighted_owner_record_seeded_by_hand_hands_the_half_over(world: World) -> None:
    # Our TXT with the set identifier, written by hand next to an existing weighted record,
    # makes that record ours: it is moved to our load balancer in place.
    world.add_zone("public", "example.com")
    world.seed(
        "public",
        {**alias_rrset(HOST, ALB2), "SetIdentifier": "blue", "Weight": 5},
        {**txt_rrset(f"_alb-a.{HOST}", txt(CLUSTER, STACK_2048)), "SetIdentifier": "blue",
         "Weight": 5},
    )  # fmt: skip

    assert world.dns().sync(routed([HOST], set_identifier="blue", weight=5), *ALB) == ()

    assert world.strict.sent == [(world.zones["public"], [("UPSERT", "A", HOST)])]
    assert _sets(world, HOST, "A")["blue"]["AliasTarget"]["DNSName"] == ALB[0]


def test_removing_one_host_leaves_the_others_of_the_same_set_identifier(world: World) -> None:
    # Every host of an Ingress shares its set identifier: deleting one host's record set
    # must not take another's (plain moto deleted every record set with that identifier).
    world.add_zone("public", "example.com")
    dns = world.dns()
    dns.sync(routed([HOST, "www.example.com"], set_identifier="blue", weight=1), *ALB)

    dns.sync(routed([HOST], set_identifier="blue", weight=1), *ALB)

    assert list(_sets(world, HOST, "A")) == ["blue"]
    assert list(_sets(world, f"_alb-a.{HOST}", "TXT")) == ["blue"]
    assert world.named("public", "www.example.com", "A") == []
    assert world.named("public", "_alb-a.www.example.com", "TXT") == []
