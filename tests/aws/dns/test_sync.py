"""Route53Dns.sync against moto behind the strict client: what it writes and what it calls."""

from __future__ import annotations

from controller.aws.route53 import Route53Dns
from controller.aws.warnings import DNS_RECORD_SKIPPED
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
)

HOST = "2048.example.com"


def test_2048_goes_to_the_public_zone_when_internet_facing(world: World) -> None:
    world.add_zone("public", "example.com")
    world.add_zone("private", "example.com", private=True)
    dns = world.dns()

    warnings = dns.sync(make_stack([HOST]), *ALB)

    assert warnings == ()
    assert world.records("public") == [
        {
            "Name": "2048.example.com.",
            "Type": "A",
            "AliasTarget": {
                "HostedZoneId": ALB[1],
                "DNSName": ALB[0],
                "EvaluateTargetHealth": True,
            },
        },
        {
            "Name": "_alb-a.2048.example.com.",
            "Type": "TXT",
            "TTL": 300,
            "ResourceRecords": [{"Value": txt(CLUSTER, STACK_2048)}],
        },
    ]
    assert world.records("private") == []
    # One zone listing, the ownership scan of both zones (first sight of the stack), one batch.
    assert world.counter.calls == {
        "ListHostedZones": 1,
        "ListResourceRecordSets": 2,
        "ChangeResourceRecordSets": 1,
    }
    assert world.strict.sent == [
        (
            world.zones["public"],
            [("CREATE", "A", HOST), ("CREATE", "TXT", "_alb-a.2048.example.com")],
        )
    ]


def test_internal_goes_to_the_private_zone_when_both_exist(world: World) -> None:
    world.add_zone("public", "example.com")
    world.add_zone("private", "example.com", private=True)

    world.dns().sync(make_stack([HOST], scheme="internal"), *ALB)

    assert world.records("public") == []
    assert [r["Name"] for r in world.records("private")] == [
        "2048.example.com.",
        "_alb-a.2048.example.com.",
    ]


def test_internal_uses_a_public_zone_when_there_is_no_private_one(world: World) -> None:
    world.add_zone("public", "example.com")

    world.dns().sync(make_stack([HOST], scheme="internal"), *ALB)

    assert len(world.named("public", HOST, "A")) == 1


def test_the_most_specific_zone_holds_each_host_with_one_batch_per_zone(world: World) -> None:
    world.add_zone("parent", "example.com")
    world.add_zone("team", "team.example.com")
    stack = make_stack(["app.team.example.com", "api.team.example.com", "www.example.com"])

    world.dns().sync(stack, *ALB)

    assert {r["Name"] for r in world.records("team") if r["Type"] == "A"} == {
        "app.team.example.com.",
        "api.team.example.com.",
    }
    assert {r["Name"] for r in world.records("parent") if r["Type"] == "A"} == {"www.example.com."}
    assert world.counter.changes == 2
    assert sorted(zone for zone, _ in world.strict.sent) == sorted(world.zones.values())


def test_a_second_sync_with_nothing_changed_makes_no_call(world: World) -> None:
    world.add_zone("public", "example.com")
    dns = world.dns()
    stack = make_stack([HOST, "www.example.com"])
    dns.sync(stack, *ALB)
    before = world.records("public")
    world.counter.reset()

    assert dns.sync(stack, *ALB) == ()

    assert world.counter.total == 0
    assert world.records("public") == before


def test_a_sync_after_the_cache_expires_reads_but_does_not_write(world: World) -> None:
    world.add_zone("public", "example.com")
    dns = world.dns()
    stack = make_stack([HOST])
    dns.sync(stack, *ALB)
    world.counter.reset()
    world.clock.now += 301

    dns.sync(stack, *ALB)

    assert world.counter.changes == 0
    assert world.counter.calls["ListHostedZones"] == 1
    assert world.counter.calls["ListResourceRecordSets"] <= 2


def test_a_restarted_controller_makes_no_change_for_an_unchanged_stack(world: World) -> None:
    world.add_zone("public", "example.com")
    world.dns().sync(make_stack([HOST]), *ALB)
    world.counter.reset()

    world.dns().sync(make_stack([HOST]), *ALB)

    assert world.counter.changes == 0


def test_host_added_then_removed_then_renamed(world: World) -> None:
    world.add_zone("public", "example.com")
    dns = world.dns()
    dns.sync(make_stack(["a.example.com"]), *ALB)

    world.strict.sent.clear()
    dns.sync(make_stack(["a.example.com", "b.example.com"]), *ALB)
    assert [changes for _, changes in world.strict.sent] == [
        [("CREATE", "A", "b.example.com"), ("CREATE", "TXT", "_alb-a.b.example.com")]
    ]

    world.strict.sent.clear()
    dns.sync(make_stack(["b.example.com"]), *ALB)
    assert [changes for _, changes in world.strict.sent] == [
        [("DELETE", "A", "a.example.com"), ("DELETE", "TXT", "_alb-a.a.example.com")]
    ]

    world.strict.sent.clear()
    dns.sync(make_stack(["c.example.com"]), *ALB)
    assert [sorted(changes) for _, changes in world.strict.sent] == [
        sorted(
            [
                ("CREATE", "A", "c.example.com"),
                ("CREATE", "TXT", "_alb-a.c.example.com"),
                ("DELETE", "A", "b.example.com"),
                ("DELETE", "TXT", "_alb-a.b.example.com"),
            ]
        )
    ]
    assert sorted(r["Name"] for r in world.records("public")) == [
        "_alb-a.c.example.com.",
        "c.example.com.",
    ]
    assert world.strict.rejected == []


def test_a_replaced_load_balancer_is_an_alias_upsert(world: World) -> None:
    world.add_zone("public", "example.com")
    dns = world.dns()
    dns.sync(make_stack([HOST]), *ALB)
    world.strict.sent.clear()
    world.counter.reset()

    dns.sync(make_stack([HOST]), *ALB2)

    assert [changes for _, changes in world.strict.sent] == [[("UPSERT", "A", HOST)]]
    assert world.counter.changes == 1
    assert world.named("public", HOST, "A")[0]["AliasTarget"]["DNSName"] == ALB2[0]


def test_an_alias_differing_only_by_case_dot_or_dualstack_prefix_is_left_alone(
    world: World,
) -> None:
    world.add_zone("public", "example.com")
    world.seed(
        "public",
        alias_rrset(HOST, (f"dualstack.{ALB[0].upper()}.", ALB[1])),
        {
            "Name": f"_alb-a.{HOST}",
            "Type": "TXT",
            "TTL": 300,
            "ResourceRecords": [{"Value": txt(CLUSTER, STACK_2048)}],
        },
    )

    world.dns().sync(make_stack([HOST]), *ALB)

    assert world.counter.changes == 0


def test_dualstack_has_a_and_aaaa_each_with_an_owner(world: World) -> None:
    world.add_zone("public", "example.com")
    dns = world.dns()

    dns.sync(make_stack([HOST], dualstack=True), *ALB)

    assert sorted((r["Type"], r["Name"]) for r in world.records("public")) == [
        ("A", "2048.example.com."),
        ("AAAA", "2048.example.com."),
        ("TXT", "_alb-a.2048.example.com."),
        ("TXT", "_alb-aaaa.2048.example.com."),
    ]
    assert world.counter.changes == 1

    world.strict.sent.clear()
    dns.sync(make_stack([HOST]), *ALB)  # back to ipv4: the AAAA goes
    assert [changes for _, changes in world.strict.sent] == [
        [("DELETE", "AAAA", HOST), ("DELETE", "TXT", "_alb-aaaa.2048.example.com")]
    ]


def test_wildcard_host_gets_a_valid_ownership_name_and_can_be_removed(world: World) -> None:
    world.add_zone("public", "example.com")
    dns = world.dns()

    dns.sync(make_stack(["*.example.com"]), *ALB)

    assert sorted((r["Type"], r["Name"]) for r in world.records("public")) == [
        ("A", "*.example.com."),
        ("TXT", "_alb-a._wildcard.example.com."),
    ]
    world.counter.reset()
    world.clock.now += 301
    dns.sync(make_stack(["*.example.com"]), *ALB)
    assert world.counter.changes == 0

    dns.sync(make_stack(["www.example.com"]), *ALB)
    assert sorted((r["Type"], r["Name"]) for r in world.records("public")) == [
        ("A", "www.example.com."),
        ("TXT", "_alb-a.www.example.com."),
    ]


def test_zone_apex_host_keeps_its_ownership_record_inside_the_zone(world: World) -> None:
    world.add_zone("public", "example.com")

    world.dns().sync(make_stack(["example.com"]), *ALB)

    assert sorted((r["Type"], r["Name"]) for r in world.records("public")) == [
        ("A", "example.com."),
        ("TXT", "_alb-a.example.com."),
    ]


def test_a_host_without_a_zone_is_a_warning_and_the_others_still_sync(world: World) -> None:
    world.add_zone("public", "example.com")

    warnings = world.dns().sync(make_stack([HOST, "shop.example.org"]), *ALB)

    assert len(warnings) == 1
    assert "shop.example.org" in warnings[0].message
    assert "no hosted zone" in warnings[0].message
    assert warnings[0].reason == DNS_RECORD_SKIPPED
    assert len(world.named("public", HOST, "A")) == 1


def test_a_host_moving_to_another_ingress_of_the_group_rewrites_its_owner(world: World) -> None:
    world.add_zone("public", "example.com")
    dns = world.dns()
    dns.sync(make_stack({HOST: INGRESS_2048}, stack_id="games"), *ALB)
    world.strict.sent.clear()

    dns.sync(make_stack({HOST: "game-2048/other"}, stack_id="games"), *ALB)

    assert [changes for _, changes in world.strict.sent] == [
        [("UPSERT", "TXT", "_alb-a.2048.example.com")]
    ]
    value = world.named("public", f"_alb-a.{HOST}", "TXT")[0]["ResourceRecords"][0]["Value"]
    assert value == txt(CLUSTER, "games", "game-2048/other")


def test_a_record_deleted_by_hand_comes_back_when_the_cache_expires(world: World) -> None:
    world.add_zone("public", "example.com")
    dns = world.dns()
    stack = make_stack([HOST])
    dns.sync(stack, *ALB)
    live = world.named("public", HOST, "A")[0]
    world.strict.checker.change_resource_record_sets(
        HostedZoneId=world.zones["public"],
        ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": live}]},
    )
    world.clock.now += 301

    dns.sync(stack, *ALB)

    assert world.named("public", HOST, "A") == [live]


def test_a_removed_host_is_cleaned_up_by_a_restarted_controller(world: World) -> None:
    world.add_zone("public", "example.com")
    world.add_zone("other", "example.net")
    world.dns().sync(make_stack([HOST, "old.example.net"]), *ALB)

    world.dns().sync(make_stack([HOST]), *ALB)  # a fresh process: the host went meanwhile

    assert world.records("other") == []
    assert len(world.named("public", HOST, "A")) == 1


def test_a_host_moving_to_a_more_specific_new_zone_moves_its_records(world: World) -> None:
    world.add_zone("public", "example.com")
    dns = world.dns()
    dns.sync(make_stack(["app.team.example.com"]), *ALB)
    world.add_zone("team", "team.example.com")
    world.clock.now += 301  # the zone list is refreshed

    dns.sync(make_stack(["app.team.example.com"]), *ALB)

    assert world.records("public") == []
    assert len(world.named("team", "app.team.example.com", "A")) == 1


def test_a_scheme_change_moves_the_records_between_private_and_public(world: World) -> None:
    world.add_zone("public", "example.com")
    world.add_zone("private", "example.com", private=True)
    dns = world.dns()
    dns.sync(make_stack([HOST], scheme="internal"), *ALB)
    world.counter.reset()

    dns.sync(make_stack([HOST], scheme="internet-facing"), *ALB2)

    assert world.records("private") == []
    assert world.named("public", HOST, "A")[0]["AliasTarget"]["DNSName"] == ALB2[0]
    assert world.counter.changes == 2  # one batch per zone


def test_two_stacks_share_a_zone_without_touching_each_other(world: World) -> None:
    world.add_zone("public", "example.com")
    dns = world.dns()
    dns.sync(make_stack(["a.example.com"], stack_id="one"), *ALB)
    dns.sync(make_stack(["b.example.com"], stack_id="two"), *ALB2)

    dns.sync(make_stack([], stack_id="one"), *ALB)

    assert sorted(r["Name"] for r in world.records("public")) == [
        "_alb-a.b.example.com.",
        "b.example.com.",
    ]


def test_many_hosts_fit_in_as_few_batches_as_the_limits_allow(world: World) -> None:
    world.add_zone("public", "example.com")
    hosts = [f"h{i}.example.com" for i in range(510)]
    # Per host: the alias (60 characters of DNS name) and its TXT (171 characters): 231.
    # 32,000 characters hold 138 hosts, so 510 hosts need 4 requests (not 1 per host).
    per_host = len(ALB[0]) + len(txt(CLUSTER, STACK_2048))
    expected = -(-510 // (32000 // per_host))

    world.dns().sync(make_stack(hosts), *ALB)

    assert world.counter.changes == expected == 4
    assert world.strict.rejected == []
    assert len([r for r in world.records("public") if r["Type"] == "A"]) == 510
    for _, changes in world.strict.sent:  # a host's record and owner travel together
        names = {name for _, rtype, name in changes if rtype == "A"}
        owners = {name.removeprefix("_alb-a.") for _, rtype, name in changes if rtype == "TXT"}
        assert names == owners


def test_a_new_instance_validates_the_cluster_name() -> None:
    try:
        Route53Dns(object(), "bad,name")
    except ValueError as error:
        assert "cluster name" in str(error)
    else:
        raise AssertionError("a cluster name with a comma was accepted")
