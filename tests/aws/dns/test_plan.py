"""The pure DNS plan: every ownership rule, without Route 53."""

from __future__ import annotations

from typing import Any

import pytest

from controller.aws.dns.plan import (
    AliasTarget,
    Change,
    DesiredRecord,
    LiveRecords,
    ZonePlan,
    plan_zone,
    split_batches,
)
from controller.aws.dns.registry import Owner, txt_value
from controller.aws.warnings import DNS_RECORD_NOT_OWNED as NOT_OWNED
from controller.aws.warnings import DNS_RECORD_SKIPPED as SKIPPED

ALIAS = AliasTarget("lb-1.us-east-1.elb.amazonaws.com", "Z35SXDOTRQ7X7K")
HOST = "app.example.com"
RESOURCE = "ingress/web/app"
MINE = txt_value(Owner("prod", "web", RESOURCE))


def _alias(name: str = HOST, dns: str = ALIAS.dns_name, rtype: str = "A") -> dict[str, Any]:
    return {
        "Name": f"{name}.",
        "Type": rtype,
        "AliasTarget": {
            "HostedZoneId": ALIAS.zone_id,
            "DNSName": dns,
            "EvaluateTargetHealth": True,
        },
    }


def _txt(name: str, value: str = MINE) -> dict[str, Any]:
    return {"Name": f"{name}.", "Type": "TXT", "TTL": 300, "ResourceRecords": [{"Value": value}]}


def _plan(
    live: list[dict[str, Any]],
    desired: list[tuple[str, str]] = [(HOST, "A")],  # noqa: B006
    owned: set[tuple[str, str, str]] | None = None,
) -> ZonePlan:
    return plan_zone(
        "example.com",
        [DesiredRecord(h, t, RESOURCE) for h, t in desired],
        owned or set(),
        LiveRecords(live),
        cluster="prod",
        stack="web",
        alias=ALIAS,
    )


def _actions(plan: ZonePlan) -> list[tuple[str, str, str]]:
    return [(c.action, c.rrset["Type"], c.rrset["Name"].rstrip(".")) for c in plan.changes]


def test_a_new_host_gets_its_alias_and_owner() -> None:
    plan = _plan([])
    assert _actions(plan) == [("CREATE", "A", HOST), ("CREATE", "TXT", f"_alb-a.{HOST}")]
    assert plan.changes[0].rrset["AliasTarget"] == ALIAS.to_api()
    assert plan.changes[1].rrset["ResourceRecords"] == [{"Value": MINE}]
    assert plan.owned == {(HOST, "A", "")}
    assert plan.warnings == []


def test_our_record_as_desired_needs_nothing() -> None:
    plan = _plan([_alias(), _txt(f"_alb-a.{HOST}")])
    assert plan.changes == []
    assert plan.owned == {(HOST, "A", "")}


def test_our_record_gone_missing_is_created_again() -> None:
    assert _actions(_plan([_txt(f"_alb-a.{HOST}")])) == [("CREATE", "A", HOST)]


def test_our_record_to_an_old_load_balancer_is_upserted() -> None:
    plan = _plan([_alias(dns="lb-old.us-east-1.elb.amazonaws.com"), _txt(f"_alb-a.{HOST}")])
    assert _actions(plan) == [("UPSERT", "A", HOST)]


def test_our_record_with_evaluate_target_health_off_is_upserted() -> None:
    live = _alias()
    live["AliasTarget"]["EvaluateTargetHealth"] = False
    assert _actions(_plan([live, _txt(f"_alb-a.{HOST}")])) == [("UPSERT", "A", HOST)]


def test_a_host_moved_to_another_ingress_rewrites_the_owner() -> None:
    old = txt_value(Owner("prod", "web", "ingress/web/old"))
    plan = _plan([_alias(), _txt(f"_alb-a.{HOST}", old)])
    assert _actions(plan) == [("UPSERT", "TXT", f"_alb-a.{HOST}")]


@pytest.mark.parametrize(
    ("live", "why", "reason"),
    [
        ([_alias()], "without an ownership record", NOT_OWNED),
        (
            [_alias(), _txt(f"_alb-a.{HOST}", txt_value(Owner("staging", "web")))],
            "'staging'",
            NOT_OWNED,
        ),
        (
            [_alias(), _txt(f"_alb-a.{HOST}", txt_value(Owner("prod", "api")))],
            "'api'",
            NOT_OWNED,
        ),
        (
            [_txt(f"_alb-a.{HOST}", '"heritage=external-dns,external-dns/owner=x"')],
            "not this",
            NOT_OWNED,
        ),
        (
            [{"Name": f"{HOST}.", "Type": "CNAME", "TTL": 1, "ResourceRecords": [{"Value": "x"}]}],
            "CNAME",
            NOT_OWNED,  # a CNAME without an ownership record: someone else's
        ),
        (
            [{**_alias(), "SetIdentifier": "blue", "Weight": 1}, _txt(f"_alb-a.{HOST}")],
            "weighted",
            SKIPPED,
        ),
    ],
)
def test_records_not_ours_are_left_alone_with_a_warning(
    live: list[dict[str, Any]], why: str, reason: str
) -> None:
    plan = _plan(live)
    assert plan.changes == []
    assert len(plan.warnings) == 1
    assert plan.warnings[0].message.startswith(f"{HOST} (A in hosted zone example.com)")
    assert why in plan.warnings[0].message
    assert plan.warnings[0].reason == reason


def test_no_aaaa_is_added_next_to_someone_elses_a() -> None:
    plan = _plan([_alias()], desired=[(HOST, "A"), (HOST, "AAAA")])
    assert plan.changes == []
    assert "A record without an ownership record" in plan.warnings[1].message
    assert plan.warnings[1].reason == NOT_OWNED


def test_a_record_no_longer_desired_is_deleted_with_its_live_values() -> None:
    live_record = {**_alias(dns="LB-1.us-east-1.elb.amazonaws.com."), "Name": "app.example.com."}
    live_owner = _txt(f"_alb-a.{HOST}")
    plan = _plan([live_record, live_owner], desired=[], owned={(HOST, "A", "")})
    assert [(c.action, c.rrset) for c in plan.changes] == [
        ("DELETE", live_record),
        ("DELETE", live_owner),
    ]
    assert plan.owned == set()


def test_a_record_no_longer_ours_is_not_deleted() -> None:
    other = _txt(f"_alb-a.{HOST}", txt_value(Owner("prod", "api")))
    plan = _plan([_alias(), other], desired=[], owned={(HOST, "A", "")})
    assert plan.changes == []


def test_an_owner_record_alone_is_deleted_alone() -> None:
    plan = _plan([_txt(f"_alb-a.{HOST}")], desired=[], owned={(HOST, "A", "")})
    assert _actions(plan) == [("DELETE", "TXT", f"_alb-a.{HOST}")]


def test_desired_records_need_an_alias_target() -> None:
    with pytest.raises(ValueError, match="alias target"):
        plan_zone(
            "example.com",
            [DesiredRecord(HOST, "A", RESOURCE)],
            set(),
            LiveRecords(),
            cluster="prod",
            stack="web",
            alias=None,
        )


def _changes(hosts: int, action: str = "CREATE") -> list[Change]:
    out = []
    for i in range(hosts):
        host = f"h{i}.example.com"
        out.append(Change(action, _alias(host), host))  # type: ignore[arg-type]
        out.append(Change(action, _txt(f"_alb-a.{host}", '"x"'), host))  # type: ignore[arg-type]
    return out


def test_one_batch_when_within_limits() -> None:
    assert len(split_batches(_changes(400))) == 1


def test_batches_respect_the_record_limit_and_keep_a_host_together() -> None:
    batches = split_batches(_changes(501))  # 1002 records
    assert [len(b) for b in batches] == [1000, 2]


def test_upserts_count_twice() -> None:
    batches = split_batches(_changes(251, "UPSERT"))  # 502 changes, 1004 records
    assert [len(b) for b in batches] == [500, 2]


def test_batches_respect_the_character_limit() -> None:
    batches = split_batches(_changes(10), max_chars=100)  # 35 characters per host
    assert all(sum(c.cost()[1] for c in b) <= 100 for b in batches)
    assert len(batches) == 5
    hosts = [c.host for b in batches for c in b]
    assert sorted({h for b in batches for h in {c.host for c in b}}) == sorted(set(hosts))
    assert sum(len({c.host for c in b}) for b in batches) == 10  # no host split
