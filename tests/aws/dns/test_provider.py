"""The provider's reads: whole-zone listing for small zones, name by name for big ones."""

from __future__ import annotations

import pytest

from controller.aws.dns import provider
from controller.aws.dns.provider import Route53Provider
from controller.aws.dns.zones import HostedZone
from tests.aws.dns.conftest import World, alias_rrset, txt_rrset

NEIGHBOURS = [
    alias_rrset("foo.example.com"),
    txt_rrset("_alb-a.foo.example.com", '"mine"'),
    # Names that sort next to foo's in Route 53's or moto's order.
    alias_rrset("foo-bar.example.com"),
    alias_rrset("0x.foo.example.com"),
    alias_rrset("a.foo.example.com"),
    alias_rrset("*.example.com"),
    txt_rrset("_alb-a._wildcard.example.com", '"wild"'),
]


@pytest.fixture
def zone(world: World) -> HostedZone:
    zone_id = world.add_zone("public", "example.com")
    world.seed("public", *NEIGHBOURS)
    return HostedZone(zone_id, "example.com", private=False, record_count=100_000)


def _names(found: list[dict[str, str]]) -> list[str]:
    return sorted(f"{r['Type']} {r['Name']}" for r in found)


def test_a_big_zone_is_read_name_by_name(world: World, zone: HostedZone) -> None:
    names = {"foo.example.com", "_alb-a.foo.example.com", "*.example.com", "missing.example.com"}

    live = Route53Provider(world.strict).read(zone, names, {})

    assert _names(live.all()) == [
        "A *.example.com.",
        "A foo.example.com.",
        "TXT _alb-a.foo.example.com.",
    ]
    assert world.counter.calls == {"ListResourceRecordSets": 4}


def test_a_small_zone_is_listed_once(world: World, zone: HostedZone) -> None:
    small = HostedZone(zone.id, zone.name, private=False, record_count=9)
    listed: dict[str, list[dict[str, str]]] = {}

    live = Route53Provider(world.strict).read(
        small, {"foo.example.com", "_alb-a.foo.example.com"}, listed
    )

    assert _names(live.all()) == ["A foo.example.com.", "TXT _alb-a.foo.example.com."]
    assert world.counter.calls == {"ListResourceRecordSets": 1}
    Route53Provider(world.strict).read(small, {"*.example.com"}, listed)
    assert world.counter.calls == {"ListResourceRecordSets": 1}  # the listing is reused


def test_a_name_with_more_record_sets_than_a_page(
    world: World, zone: HostedZone, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(provider, "NAME_PAGE_SIZE", 1)
    world.seed(
        "public",
        txt_rrset("foo.example.com", '"v=spf1 -all"'),
        alias_rrset("foo.example.com", rtype="AAAA"),
    )

    live = Route53Provider(world.strict).read(zone, {"foo.example.com"}, {})

    assert _names(live.all()) == [
        "A foo.example.com.",
        "AAAA foo.example.com.",
        "TXT foo.example.com.",
    ]
