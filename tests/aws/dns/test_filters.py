"""The zone filters (external-dns's `--domain-filter`, `--exclude-domains`, `--zone-id-filter`,
`--aws-zone-type`, `--aws-zone-tags`) against moto: what they let the controller see, write
and delete, and what they cost in calls."""

from __future__ import annotations

import pytest

from controller.aws import zone_filters
from controller.aws.dns.zones import HostedZone, ZoneFilters
from controller.aws.route53 import Route53Dns
from controller.aws.warnings import DNS_RECORD_SKIPPED
from controller.config import Settings
from tests.aws.dns.conftest import ALB, STACK_2048, World, make_stack


def _dns(world: World, filters: ZoneFilters, cluster: str = "prod") -> Route53Dns:
    return Route53Dns(world.strict, cluster, 300.0, world.clock, filters=filters)


def _tag(world: World, label: str, **tags: str) -> None:
    world.strict.checker.change_tags_for_resource(
        ResourceType="hostedzone",
        ResourceId=world.zones[label],
        AddTags=[{"Key": key, "Value": value} for key, value in tags.items()],
    )


def test_a_host_outside_the_domain_filter_is_skipped_naming_the_filter(world: World) -> None:
    world.add_zone("com", "example.com")
    world.add_zone("org", "example.org")
    dns = _dns(world, ZoneFilters(domains=("example.com",)))

    warnings = dns.sync(make_stack(["app.example.com", "app.example.org"]), *ALB)

    assert [w.reason for w in warnings] == [DNS_RECORD_SKIPPED]
    assert warnings[0].message == (
        "app.example.org: no A record made: not in the domain filter (DOMAIN_FILTER: example.com)"
    )
    assert len(world.named("com", "app.example.com", "A")) == 1
    assert world.records("org") == []
    # The zone outside the filter is never even listed for records.
    assert world.counter.calls["ListResourceRecordSets"] == 1


def test_excluded_domains_win_over_the_domain_filter(world: World) -> None:
    world.add_zone("com", "example.com")
    dns = _dns(world, ZoneFilters(domains=("example.com",), exclude_domains=("corp.example.com",)))

    warnings = dns.sync(make_stack(["app.example.com", "vpn.corp.example.com"]), *ALB)

    [warning] = warnings
    assert "in an excluded domain (EXCLUDE_DOMAINS: corp.example.com)" in warning.message
    assert world.named("com", "vpn.corp.example.com", "A") == []


def test_a_leading_dot_filters_subdomains_only(world: World) -> None:
    world.add_zone("com", "example.com")
    dns = _dns(world, ZoneFilters(domains=(".example.com",)))

    warnings = dns.sync(make_stack(["example.com", "app.example.com"]), *ALB)

    assert [w.message.split(":")[0] for w in warnings] == ["example.com"]
    assert len(world.named("com", "app.example.com", "A")) == 1


def test_the_zone_id_filter_picks_the_zone_even_over_a_more_specific_one(world: World) -> None:
    world.add_zone("parent", "example.com")
    world.add_zone("team", "team.example.com")
    dns = _dns(world, ZoneFilters(zone_ids=(world.zones["parent"],)))

    dns.sync(make_stack(["app.team.example.com"]), *ALB)

    assert world.records("team") == []
    assert len(world.named("parent", "app.team.example.com", "A")) == 1


def test_the_zone_type_filter(world: World) -> None:
    world.add_zone("public", "example.com")
    world.add_zone("private", "example.com", private=True)

    # Internet-facing would prefer the public zone; with only private zones it gets that one.
    _dns(world, ZoneFilters(zone_type="private")).sync(make_stack(["app.example.com"]), *ALB)

    assert world.records("public") == []
    assert len(world.named("private", "app.example.com", "A")) == 1


def test_zone_tags_are_read_ten_zones_a_call_and_cached(world: World) -> None:
    for i in range(12):
        world.add_zone(f"z{i}", f"team{i}.example.com")
        _tag(world, f"z{i}", team="web" if i in (3, 11) else "data", env="prod")
    world.add_zone("untagged", "untagged.example.com")
    dns = _dns(world, ZoneFilters(zone_tags=(("team", "web"), ("env", None))))

    warnings = dns.sync(
        make_stack(["a.team3.example.com", "b.team11.example.com", "c.team4.example.com"]), *ALB
    )

    assert len(world.named("z3", "a.team3.example.com", "A")) == 1
    assert len(world.named("z11", "b.team11.example.com", "A")) == 1
    [warning] = warnings
    assert "no hosted zone matches c.team4.example.com" in warning.message
    # 13 zones: two calls of at most ten; only the two kept zones are scanned.
    assert world.counter.calls["ListTagsForResources"] == 2
    assert world.counter.calls["ListResourceRecordSets"] == 2
    world.counter.reset()
    world.clock.now += 60
    dns.sync(make_stack(["a.team3.example.com", "z.team11.example.com"]), *ALB)
    assert world.counter.calls["ListHostedZones"] == 0
    assert world.counter.calls["ListTagsForResources"] == 0


def test_no_tag_call_without_a_tag_filter(world: World) -> None:
    world.add_zone("com", "example.com")
    _dns(world, ZoneFilters(domains=("example.com",))).sync(make_stack(["a.example.com"]), *ALB)
    assert world.counter.calls["ListTagsForResources"] == 0


def test_records_we_own_outside_the_filters_are_left_alone(world: World) -> None:
    # Narrowing a filter takes hosts out of the controller's hands: their records are neither
    # kept in step nor deleted (external-dns's behaviour), on a host's removal or a teardown.
    world.add_zone("com", "example.com")
    world.add_zone("org", "example.org")
    world.dns().sync(make_stack(["app.example.com", "app.example.org", "x.example.com"]), *ALB)
    kept = world.named("org", "app.example.org", "A") + world.named("com", "x.example.com", "A")

    narrowed = _dns(
        world, ZoneFilters(domains=("example.com",), exclude_domains=("x.example.com",))
    )
    narrowed.sync(make_stack(["app.example.com"]), *ALB)
    narrowed.delete(STACK_2048)

    assert world.named("com", "app.example.com", "A") == []
    assert world.named("org", "app.example.org", "A") + world.named(
        "com", "x.example.com", "A"
    ) == (kept)
    assert len(world.named("org", "_alb-a.app.example.org", "TXT")) == 1


@pytest.mark.parametrize(
    ("zone", "kept"),
    [
        (HostedZone("Z1", "example.com", private=False), True),  # holds team.example.com
        (HostedZone("Z2", "team.example.com", private=False), True),
        (HostedZone("Z3", "example.org", private=False), False),
        (HostedZone("Z4", "corp.team.example.com", private=False), False),  # excluded
        (HostedZone("Z5", "team.example.com", private=True), False),  # type
    ],
)
def test_which_zones_the_filters_keep(zone: HostedZone, kept: bool) -> None:
    filters = ZoneFilters(
        domains=("team.example.com",), exclude_domains=("corp.team.example.com",),
        zone_type="public",
    )  # fmt: skip
    assert filters.keeps(zone) is kept


def test_the_settings_become_the_filters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOMAIN_FILTER", '["Example.com"]')
    monkeypatch.setenv("AWS_ZONE_TAGS", '["team=web", "managed", "note=a=b"]')
    monkeypatch.setenv("ZONE_ID_FILTER", '["/hostedzone/Z9"]')
    filters = zone_filters(Settings())
    assert filters == ZoneFilters(
        domains=("example.com",),
        zone_ids=("Z9",),
        zone_tags=(("team", "web"), ("managed", None), ("note", "a=b")),
    )
