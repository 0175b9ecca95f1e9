"""The strict test client refuses what Route 53 refuses and moto lets through.

Each test shows moto accepting the request on its own, then the strict client refusing it,
so the sync tests cannot pass by leaning on moto's leniency.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.aws.dns.conftest import ALB, World, alias_rrset, txt_rrset


def _change(world: World, client: Any, *changes: tuple[str, dict[str, Any]]) -> None:
    client.change_resource_record_sets(
        HostedZoneId=world.zones["public"],
        ChangeBatch={"Changes": [{"Action": a, "ResourceRecordSet": r} for a, r in changes]},
    )


@pytest.fixture
def zoned(world: World) -> World:
    world.add_zone("public", "example.com")
    world.seed("public", alias_rrset("a.example.com"))
    return world


def test_delete_with_values_that_differ_from_the_live_record(zoned: World) -> None:
    stale = alias_rrset("a.example.com", ("old-lb.us-east-1.elb.amazonaws.com", ALB[1]))

    with pytest.raises(ClientError, match="do not match"):
        _change(zoned, zoned.strict, ("DELETE", stale))
    _change(zoned, zoned.strict.checker, ("DELETE", stale))  # moto: deleted anyway

    assert zoned.records("public") == []


def test_create_of_a_taken_name_and_type(zoned: World) -> None:
    with pytest.raises(ClientError, match="already exists"):
        _change(zoned, zoned.strict, ("CREATE", alias_rrset("a.example.com")))


def test_a_batch_is_all_or_nothing(zoned: World) -> None:
    batch = [
        ("CREATE", alias_rrset("b.example.com")),
        ("CREATE", alias_rrset("b.example.org")),  # outside the zone
    ]

    with pytest.raises(ClientError, match="not permitted"):
        _change(zoned, zoned.strict, *batch)
    assert [r["Name"] for r in zoned.records("public")] == ["a.example.com."]

    with pytest.raises(ClientError):
        _change(zoned, zoned.strict.checker, *batch)  # moto: the first change stays applied
    assert "b.example.com." in [r["Name"] for r in zoned.records("public")]


def test_an_alias_to_a_load_balancer_that_does_not_exist(zoned: World) -> None:
    wrong_zone = alias_rrset("c.example.com", (ALB[0], "Z2P70J7EXAMPLE"))

    with pytest.raises(ClientError, match="does not exist"):
        _change(zoned, zoned.strict, ("CREATE", wrong_zone))
    _change(zoned, zoned.strict.checker, ("CREATE", wrong_zone))


def test_a_cname_cannot_share_a_name(zoned: World) -> None:
    cname = {"Name": "a.example.com", "Type": "CNAME", "TTL": 60,
             "ResourceRecords": [{"Value": "x.example"}]}  # fmt: skip

    with pytest.raises(ClientError, match="CNAME"):
        _change(zoned, zoned.strict, ("CREATE", cname))


def test_txt_values_must_be_quoted_strings_of_at_most_255_characters(zoned: World) -> None:
    for value in ["heritage=unquoted", '"' + "x" * 256 + '"']:
        with pytest.raises(ClientError, match="TXT"):
            _change(zoned, zoned.strict, ("CREATE", txt_rrset("t.example.com", value)))
    _change(zoned, zoned.strict, ("CREATE", txt_rrset("t.example.com", f'"{"x" * 255}" "y"')))


def test_delete_of_a_missing_record(zoned: World) -> None:
    with pytest.raises(ClientError, match="not found"):
        _change(zoned, zoned.strict, ("DELETE", alias_rrset("missing.example.com")))


def test_names_outside_the_zone(zoned: World) -> None:
    with pytest.raises(ClientError, match="not permitted"):
        _change(zoned, zoned.strict, ("CREATE", alias_rrset("a.example.org")))
