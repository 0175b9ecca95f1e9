"""Zone choice and the zone cache."""

from __future__ import annotations

import pytest

from controller.aws.dns.zones import HostedZone, ZoneCache, normalize_name, pick_zone, zone_from_api

PUBLIC = HostedZone("ZPUB", "example.com", private=False)
PRIVATE = HostedZone("ZPRIV", "example.com", private=True)
TEAM = HostedZone("ZTEAM", "team.example.com", private=False)
LOOKALIKE = HostedZone("ZBAD", "ample.com", private=False)


@pytest.mark.parametrize(
    ("host", "scheme", "zone"),
    [
        ("app.example.com", "internet-facing", PUBLIC),
        ("app.example.com", "internal", PRIVATE),
        ("example.com", "internal", PRIVATE),
        ("app.team.example.com", "internal", TEAM),  # most specific beats private
        ("*.team.example.com", "internet-facing", TEAM),
        ("team.example.com", "internet-facing", TEAM),
        ("xteam.example.com", "internet-facing", PUBLIC),  # label-wise suffix only
    ],
)
def test_the_most_specific_zone_then_the_scheme_decides(
    host: str, scheme: str, zone: HostedZone
) -> None:
    zones = [LOOKALIKE, PUBLIC, PRIVATE, TEAM]
    assert pick_zone(host, scheme, zones).zone == zone  # type: ignore[arg-type]


def test_no_zone_says_so() -> None:
    choice = pick_zone("shop.example.org", "internal", [PUBLIC])
    assert choice.zone is None
    assert "no hosted zone matches shop.example.org" in choice.problem


def test_two_private_zones_of_one_name_are_ambiguous() -> None:
    other = HostedZone("ZPRIV2", "example.com", private=True)
    choice = pick_zone("app.example.com", "internal", [PRIVATE, other, PUBLIC])
    assert choice.zone is None
    assert "ZPRIV, ZPRIV2" in choice.problem


def test_names_are_compared_normalized() -> None:
    assert normalize_name("\\052.Example.COM.") == "*.example.com"
    zone = zone_from_api(
        {
            "Id": "/hostedzone/Z1",
            "Name": "Example.com.",
            "Config": {"PrivateZone": True},
            "ResourceRecordSetCount": 7,
        }
    )
    assert zone == HostedZone("Z1", "example.com", private=True, record_count=7)


def test_the_zone_list_is_cached_for_its_ttl() -> None:
    now = [0.0]
    calls: list[int] = []

    def lister() -> list[HostedZone]:
        calls.append(1)
        return [PUBLIC]

    cache = ZoneCache(lister, ttl=300, clock=lambda: now[0])
    cache.get()
    now[0] = 299
    cache.get()
    assert len(calls) == 1
    now[0] = 300
    cache.get()
    assert len(calls) == 2
    cache.invalidate()
    cache.get()
    assert len(calls) == 3
