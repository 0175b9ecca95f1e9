"""The Route 53 options of the model: routing policies from the `dns-*` annotations, the
alias's EvaluateTargetHealth, external-dns's hostname annotation as a host source, how a
group lays out one record per host, and the settings and `run` flags of the zone filters."""

from __future__ import annotations

import argparse
import json
from typing import Any

import pytest
from pydantic import ValidationError

from controller import cli
from controller.config import ModelDefaults, Settings
from controller.kube.fallback import LAST_GOOD_ANNOTATION, restored, snapshot
from controller.model.annotations import PREFIX
from controller.model.dns import DNS_RECORD_SKIPPED, EXTERNAL_DNS_HOSTNAME
from controller.model.stack import DnsRecord, GeoLocation, Plan
from controller.plan import render_json

from .factories import ann, ingress, path, plan, rule, service


def _records(result: Plan) -> list[dict[str, Any]]:
    [stack] = json.loads(render_json(result))["stacks"]
    records: list[dict[str, Any]] = stack["dnsRecords"]
    return records


def _hosts(*hosts: str) -> list[dict[str, Any]]:
    return [rule(host, path("/", "svc")) for host in hosts]


def test_a_weighted_ingress_gets_weighted_records_in_the_plan() -> None:
    result = plan(
        ingress(rules=_hosts("app.example.com"), annotations=ann(
            dns_set_identifier="blue", dns_weight="20", dns_evaluate_target_health="false"
        )),
        service(),
    )  # fmt: skip
    assert result.errors == ()
    assert _records(result) == [
        {
            "name": "app.example.com",
            "type": "A",
            "ingress": "default/app",
            "setIdentifier": "blue",
            "weight": 20,
            "evaluateTargetHealth": False,
        }
    ]


def test_a_record_without_options_keeps_the_plan_it_had() -> None:
    # Unset fields are left out of the JSON, so the digest of an existing stack is unchanged.
    for given in ({}, ann(dns_evaluate_target_health="true")):
        result = plan(ingress(rules=_hosts("app.example.com"), annotations=given), service())
        assert _records(result) == [
            {"name": "app.example.com", "type": "A", "ingress": "default/app"}
        ]


@pytest.mark.parametrize(
    ("annotations", "record"),
    [
        (ann(dns_set_identifier="eu", dns_region="eu-west-1"), {"region": "eu-west-1"}),
        (ann(dns_set_identifier="main", dns_failover="primary"), {"failover": "PRIMARY"}),
        (
            ann(dns_set_identifier="eu", dns_geolocation_continent_code="eu"),
            {"geoLocation": {"continentCode": "EU"}},
        ),
        (
            ann(
                dns_set_identifier="wa",
                dns_geolocation_country_code="US",
                dns_geolocation_subdivision_code="wa",
            ),
            {"geoLocation": {"countryCode": "US", "subdivisionCode": "WA"}},
        ),
        (
            ann(dns_set_identifier="rest", dns_geolocation_country_code="*"),
            {"geoLocation": {"countryCode": "*"}},
        ),
    ],
)
def test_each_routing_policy(annotations: dict[str, str], record: dict[str, Any]) -> None:
    result = plan(ingress(rules=_hosts("app.example.com"), annotations=annotations), service())
    assert result.errors == ()
    [found] = _records(result)
    identifier = annotations[PREFIX + "dns-set-identifier"]
    assert found == {
        "name": "app.example.com",
        "type": "A",
        "ingress": "default/app",
        "setIdentifier": identifier,
        **record,
    }


@pytest.mark.parametrize(
    ("annotations", "field", "fragment"),
    [
        (ann(dns_set_identifier="blue"), "dns-set-identifier", "needs exactly one routing policy"),
        (ann(dns_weight="10"), "dns-weight", "needs dns-set-identifier"),
        (ann(dns_region="us-east-1"), "dns-region", "needs dns-set-identifier"),
        (ann(dns_geolocation_country_code="DE"), "dns-geolocation-country-code", "needs dns-set"),
        (
            ann(dns_set_identifier="b", dns_weight="1", dns_failover="PRIMARY"),
            "dns-failover",
            "one routing policy, and dns-weight already sets one",
        ),
        (
            ann(
                dns_set_identifier="b",
                dns_geolocation_continent_code="EU",
                dns_geolocation_country_code="DE",
            ),
            "dns-geolocation-country-code",
            "a continent or a country",
        ),
        (
            ann(dns_set_identifier="b", dns_geolocation_subdivision_code="WA"),
            "dns-geolocation-subdivision-code",
            "needs dns-geolocation-country-code",
        ),
        (
            ann(
                dns_set_identifier="b",
                dns_geolocation_country_code="*",
                dns_geolocation_subdivision_code="WA",
            ),
            "dns-geolocation-subdivision-code",
            "has no subdivisions",
        ),
    ],
)
def test_combinations_route_53_refuses_name_the_annotation(
    annotations: dict[str, str], field: str, fragment: str
) -> None:
    result = plan(ingress(rules=_hosts("app.example.com"), annotations=annotations), service())
    assert result.stacks == ()
    [error] = result.errors
    assert error.field == f"metadata.annotations[{PREFIX}{field}]"
    assert fragment in error.message


def test_a_bad_value_is_reported_once() -> None:
    # The unparsable weight is its own error; the set identifier is not blamed for it too.
    bad = ann(dns_set_identifier="b", dns_weight="x")
    result = plan(ingress(rules=_hosts("a.example.com"), annotations=bad), service())
    assert [e.field for e in result.errors] == [f"metadata.annotations[{PREFIX}dns-weight]"]


def test_the_model_refuses_a_set_identifier_without_exactly_one_policy() -> None:
    with pytest.raises(ValidationError, match="exactly one routing policy"):
        DnsRecord(name="a.example.com", type="A", set_identifier="b")
    with pytest.raises(ValidationError, match="exactly one routing policy"):
        DnsRecord(name="a.example.com", type="A", set_identifier="b", weight=1, region="us-east-1")
    with pytest.raises(ValidationError, match="needs a set identifier"):
        DnsRecord(name="a.example.com", type="A", geo_location=GeoLocation(country_code="DE"))


def test_external_dns_hostnames_get_records_like_rule_hosts() -> None:
    annotations = {
        EXTERNAL_DNS_HOSTNAME: "Old.Example.com., app.example.com ,, *.legacy.example.com"
    }
    result = plan(ingress(rules=_hosts("app.example.com"), annotations=annotations), service())
    assert result.errors == () and result.warnings == ()
    assert [r["name"] for r in _records(result)] == [
        "*.legacy.example.com",
        "app.example.com",
        "old.example.com",
    ]


def test_external_dns_hostnames_follow_the_ingress_routing_and_dualstack() -> None:
    annotations = {
        EXTERNAL_DNS_HOSTNAME: "old.example.com",
        **ann(dns_set_identifier="blue", dns_weight="5", ip_address_type="dualstack"),
    }
    result = plan(ingress(rules=_hosts("app.example.com"), annotations=annotations), service())
    records = _records(result)
    assert [(r["name"], r["type"]) for r in records] == [
        ("app.example.com", "A"),
        ("app.example.com", "AAAA"),
        ("old.example.com", "A"),
        ("old.example.com", "AAAA"),
    ]
    assert all(r["setIdentifier"] == "blue" and r["weight"] == 5 for r in records)


def test_a_bad_external_dns_hostname_is_skipped_with_a_warning_not_an_error() -> None:
    annotations = {EXTERNAL_DNS_HOSTNAME: "ok.example.com,under_score.example.com,nodots"}
    result = plan(ingress(rules=_hosts("app.example.com"), annotations=annotations), service())
    assert result.errors == ()
    assert [r["name"] for r in _records(result)] == ["app.example.com", "ok.example.com"]
    assert [(w.reason, w.field) for w in result.warnings] == [
        (DNS_RECORD_SKIPPED, f"metadata.annotations[{EXTERNAL_DNS_HOSTNAME}]"),
    ] * 2
    assert "'under_score.example.com': no record made" in result.warnings[0].message
    assert "'nodots': no record made" in result.warnings[1].message


def test_the_external_dns_hostname_is_kept_in_the_last_good_version() -> None:
    # The last good version stands in for a member that stops building: its hosts from
    # external-dns's annotation must stay with it, or their records would go.
    saved = snapshot(ingress(annotations={EXTERNAL_DNS_HOSTNAME: "old.example.com"}))
    assert saved is not None
    now = ingress(annotations={LAST_GOOD_ANNOTATION: saved, EXTERNAL_DNS_HOSTNAME: "new.example"})
    back = restored(now)
    assert back is not None
    assert back["metadata"]["annotations"][EXTERNAL_DNS_HOSTNAME] == "old.example.com"


def _member(name: str, order: int, annotations: dict[str, str], *hosts: str) -> dict[str, Any]:
    group = {PREFIX + "group.name": "shop", PREFIX + "group.order": str(order)}
    return ingress(name=name, rules=_hosts(*hosts), annotations={**group, **annotations})


def test_in_a_group_the_first_member_setting_options_routes_the_host() -> None:
    result = plan(
        _member("plain", 1, {}, "shop.example.com"),
        _member("weighted", 2, ann(dns_set_identifier="blue", dns_weight="3"), "shop.example.com"),
        service(),
    )
    assert result.errors == () and result.warnings == ()
    # The owner (written into the ownership record) is the first member declaring the host.
    assert _records(result) == [
        {
            "name": "shop.example.com",
            "type": "A",
            "ingress": "default/plain",
            "setIdentifier": "blue",
            "weight": 3,
        }
    ]


def test_a_later_member_with_other_options_for_the_host_is_told() -> None:
    result = plan(
        _member("a", 1, ann(dns_set_identifier="blue", dns_weight="3"), "shop.example.com"),
        _member("b", 2, ann(dns_set_identifier="green", dns_weight="7"), "shop.example.com"),
        _member("c", 3, ann(dns_set_identifier="blue", dns_weight="3"), "shop.example.com"),
        service(),
    )
    assert result.errors == ()
    [record] = _records(result)
    assert (record["setIdentifier"], record["weight"]) == ("blue", 3)
    [warning] = result.warnings
    assert warning.ingress == "default/b"
    assert warning.reason == DNS_RECORD_SKIPPED
    assert warning.field == f"metadata.annotations[{PREFIX}dns-set-identifier]"
    assert "keeps dns-set-identifier=blue, dns-weight=3 from Ingress default/a" in warning.message


def test_no_records_and_no_dns_warnings_when_dns_is_off() -> None:
    result = plan(
        _member("a", 1, ann(dns_set_identifier="blue", dns_weight="3"), "shop.example.com"),
        _member("b", 2, ann(dns_set_identifier="green", dns_weight="7"), "shop.example.com"),
        service(),
        defaults=ModelDefaults(cluster_name="test", manage_dns=False),
    )
    assert _records(result) == []
    assert result.warnings == ()


def test_zone_filter_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOMAIN_FILTER", '["Example.COM.", ".team.example.org"]')
    monkeypatch.setenv("ZONE_ID_FILTER", '["/hostedzone/Z1", "Z2"]')
    monkeypatch.setenv("AWS_ZONE_TAGS", '["team=web", "managed"]')
    monkeypatch.setenv("AWS_ZONE_TYPE", "private")
    monkeypatch.setenv("DNS_POLICY", "upsert-only")
    settings = Settings()
    assert settings.domain_filter == ["example.com", ".team.example.org"]
    assert settings.zone_id_filter == ["Z1", "Z2"]
    assert settings.aws_zone_tags == ["team=web", "managed"]
    assert (settings.aws_zone_type, settings.dns_policy) == ("private", "upsert-only")
    assert settings.exclude_domains == []


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("AWS_ZONE_TAGS", '["=web"]', "is not key=value"),
        ("DOMAIN_FILTER", '["."]', "may not be empty"),
        ("AWS_ZONE_TYPE", "internal", "'public', 'private' or 'both'"),
        ("DNS_POLICY", "create-only", "'sync' or 'upsert-only'"),
    ],
)
def test_bad_zone_filter_settings(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, fragment: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as caught:
        Settings()
    problems = cli.settings_problems(caught.value)
    assert name in problems and fragment in problems


def test_run_flags_of_the_zone_filters(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Settings] = []
    monkeypatch.setattr(cli, "run", lambda settings, liveness: seen.append(settings))
    monkeypatch.setattr(cli, "configure_logging", lambda *a, **k: None)
    args = cli.make_parser().parse_args(
        [
            "run",
            "--domain-filter", "example.com", "--domain-filter", "example.org",
            "--exclude-domains", "corp.example.com",
            "--zone-id-filter", "Z1",
            "--aws-zone-type", "public",
            "--aws-zone-tags", "team=web",
            "--policy", "upsert-only",
        ]
    )  # fmt: skip
    assert isinstance(args, argparse.Namespace)
    assert args.run(args, None, None) == 0
    [settings] = seen
    assert settings.domain_filter == ["example.com", "example.org"]
    assert settings.exclude_domains == ["corp.example.com"]
    assert settings.zone_id_filter == ["Z1"]
    assert (settings.aws_zone_type, settings.aws_zone_tags) == ("public", ["team=web"])
    assert settings.dns_policy == "upsert-only"
