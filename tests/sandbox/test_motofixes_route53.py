"""The sandbox's moto answers Route 53 CREATE as AWS does (`sandbox.motofixes`): refused
exactly when the record set exists.

Found by the soak: plain moto refused to create again a record it had deleted (when any
record sorted after it existed), so a host removed from an Ingress and added back never got
its alias again; and it made a duplicate of a record that did exist.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sandbox.aws import MotoProcess, aws_client


@pytest.fixture(scope="module")
def route53() -> Iterator[Any]:
    moto = MotoProcess().start()
    try:
        yield aws_client("route53", moto.url)
    finally:
        moto.stop()


def _zone(route53: Any, name: str) -> str:
    return str(route53.create_hosted_zone(Name=name, CallerReference=name)["HostedZone"]["Id"])


def _change(route53: Any, zone: str, action: str, name: str, value: str) -> None:
    record = {"Name": name, "Type": "TXT", "TTL": 300, "ResourceRecords": [{"Value": value}]}
    route53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={"Changes": [{"Action": action, "ResourceRecordSet": record}]},
    )


def _names(route53: Any, zone: str) -> list[str]:
    records = route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    return sorted(r["Name"] for r in records if r["Type"] == "TXT")


def test_a_deleted_record_can_be_created_again(route53: Any) -> None:
    zone = _zone(route53, "again.example.com")
    _change(route53, zone, "CREATE", "a.again.example.com", '"one"')
    _change(route53, zone, "CREATE", "z.again.example.com", '"other"')  # sorts after it
    _change(route53, zone, "DELETE", "a.again.example.com", '"one"')
    _change(route53, zone, "CREATE", "a.again.example.com", '"one"')
    assert _names(route53, zone) == ["a.again.example.com.", "z.again.example.com."]


def test_creating_a_record_that_exists_is_refused(route53: Any) -> None:
    zone = _zone(route53, "twice.example.com")
    _change(route53, zone, "CREATE", "a.twice.example.com", '"one"')
    with pytest.raises(ClientError, match="already exists"):
        _change(route53, zone, "CREATE", "a.twice.example.com", '"two"')
    assert _names(route53, zone) == ["a.twice.example.com."]


def _weighted(name: str, identifier: str, rtype: str = "TXT") -> dict[str, Any]:
    record: dict[str, Any] = {"Name": name, "Type": rtype, "SetIdentifier": identifier, "Weight": 1}
    if rtype == "TXT":
        return {**record, "TTL": 300, "ResourceRecords": [{"Value": '"x"'}]}
    return {**record, "TTL": 60, "ResourceRecords": [{"Value": "192.0.2.1"}]}


def _batch(route53: Any, zone: str, *changes: tuple[str, dict[str, Any]]) -> None:
    route53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={"Changes": [{"Action": a, "ResourceRecordSet": r} for a, r in changes]},
    )


def _sets(route53: Any, zone: str) -> list[tuple[str, str, str]]:
    records = route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    return sorted(
        (r["Name"], r["Type"], r["SetIdentifier"]) for r in records if "SetIdentifier" in r
    )


def test_deleting_a_weighted_record_set_deletes_only_that_one(route53: Any) -> None:
    zone = _zone(route53, "weighted.example.com")
    _batch(
        route53, zone,
        ("CREATE", _weighted("a.weighted.example.com", "blue", "A")),
        ("CREATE", _weighted("_alb-a.a.weighted.example.com", "blue")),
        ("CREATE", _weighted("b.weighted.example.com", "blue", "A")),
    )  # fmt: skip
    _batch(route53, zone, ("DELETE", _weighted("a.weighted.example.com", "blue", "A")))
    assert _sets(route53, zone) == [
        ("_alb-a.a.weighted.example.com.", "TXT", "blue"),
        ("b.weighted.example.com.", "A", "blue"),
    ]
    with pytest.raises(ClientError, match="not found"):
        _batch(route53, zone, ("DELETE", _weighted("a.weighted.example.com", "blue", "A")))


def test_a_delete_makes_room_for_a_create_in_the_same_batch(route53: Any) -> None:
    zone = _zone(route53, "replace.example.com")
    record = _weighted("a.replace.example.com", "blue")
    _batch(route53, zone, ("CREATE", record))
    _batch(route53, zone, ("DELETE", record), ("CREATE", {**record, "Weight": 9}))
    [found] = [
        r
        for r in route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
        if r["Type"] == "TXT"
    ]
    assert found["Weight"] == 9
