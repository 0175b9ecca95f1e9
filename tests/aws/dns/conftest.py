"""Fixtures for the Route 53 tests: moto, the strict client, a call counter and a clock."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import boto3
import pytest
from moto import mock_aws
from moto.route53.models import ChangeList, Route53Backend

from controller.aws.route53 import Route53Dns
from controller.model.stack import DnsRecord, LoadBalancer, Stack
from sandbox import motofixes
from tests.aws.dns.strict import StrictRoute53

REGION = "us-east-1"
CLUSTER = "prod"
# Real-looking ALBs: AWS's canonical zone for us-east-1 ALBs (moto reports a fake one).
ALB = ("k8s-game2048-ingress2-0123456789.us-east-1.elb.amazonaws.com", "Z35SXDOTRQ7X7K")
ALB2 = ("k8s-game2048-ingress2-9876543210.us-east-1.elb.amazonaws.com", "Z35SXDOTRQ7X7K")
STACK_2048 = "game-2048/ingress-2048"
INGRESS_2048 = "game-2048/ingress-2048"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class CallCounter:
    """Route 53 operations the client under test made, by name (a botocore event hook)."""

    calls: Counter[str] = field(default_factory=Counter)

    def __call__(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    @property
    def changes(self) -> int:
        return self.calls["ChangeResourceRecordSets"]

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def reset(self) -> None:
        self.calls.clear()


@dataclass
class World:
    client: Any  # counted
    strict: StrictRoute53
    counter: CallCounter
    clock: FakeClock
    zones: dict[str, str] = field(default_factory=dict)  # label -> zone ID

    def dns(self, cluster: str = CLUSTER) -> Route53Dns:
        return Route53Dns(self.strict, cluster, zone_cache_seconds=300.0, clock=self.clock)

    def add_zone(self, label: str, name: str, private: bool = False) -> str:
        kwargs: dict[str, Any] = {"Name": name, "CallerReference": label}
        if private:
            vpc = boto3.client("ec2", region_name=REGION).create_vpc(CidrBlock="10.0.0.0/16")
            kwargs["HostedZoneConfig"] = {"PrivateZone": True, "Comment": label}
            kwargs["VPC"] = {"VPCRegion": REGION, "VPCId": vpc["Vpc"]["VpcId"]}
        zone_id = str(self.strict.checker.create_hosted_zone(**kwargs)["HostedZone"]["Id"])
        self.zones[label] = zone_id.rsplit("/", 1)[-1]
        return self.zones[label]

    def records(self, label: str) -> list[dict[str, Any]]:
        """Every record set of a zone except NS and SOA, read without counting."""
        return [r for r in self.strict.live(self.zones[label]) if r["Type"] not in ("NS", "SOA")]

    def named(self, label: str, name: str, rtype: str) -> list[dict[str, Any]]:
        want = name.rstrip(".") + "."
        return [r for r in self.records(label) if r["Name"] == want and r["Type"] == rtype]

    def seed(self, label: str, *rrsets: dict[str, Any]) -> None:
        """Records made by someone else, straight into moto (not counted)."""
        self.strict.checker.change_resource_record_sets(
            HostedZoneId=self.zones[label],
            ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": r} for r in rrsets]},
        )


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    # moto as the sandbox runs it: a DELETE with a set identifier removes that record set only.
    monkeypatch.setattr(
        Route53Backend, "change_resource_record_sets", motofixes.change_resource_record_sets
    )
    monkeypatch.setattr(ChangeList, "__contains__", motofixes._journal_never_matches)
    with mock_aws():
        client = boto3.client("route53", region_name=REGION)
        counter = CallCounter()
        client.meta.events.register("before-call.route53", counter)
        checker = boto3.client("route53", region_name=REGION)
        strict = StrictRoute53(
            client, checker, alias_targets={(ALB[0], ALB[1]), (ALB2[0], ALB2[1])}
        )
        yield World(client=client, strict=strict, counter=counter, clock=FakeClock())


def make_stack(
    hosts: dict[str, str] | list[str],
    *,
    stack_id: str = STACK_2048,
    scheme: Literal["internal", "internet-facing"] = "internet-facing",
    dualstack: bool = False,
) -> Stack:
    """A stack whose DNS records are `hosts` (host -> Ingress, or hosts of the 2048 Ingress)."""
    by_host = hosts if isinstance(hosts, dict) else dict.fromkeys(hosts, INGRESS_2048)
    types = ("A", "AAAA") if dualstack else ("A",)
    return Stack(
        id=stack_id,
        ingresses=tuple(sorted(set(by_host.values()))) or (INGRESS_2048,),
        load_balancer=LoadBalancer(
            name="k8s-game2048-ingress2-0123456789",
            scheme=scheme,
            ip_address_type="dualstack" if dualstack else "ipv4",
        ),
        dns_records=tuple(
            DnsRecord(name=host, type=t, ingress=ingress)
            for host, ingress in by_host.items()
            for t in types
        ),
    )


def txt(cluster: str, stack: str, ingress: str = INGRESS_2048) -> str:
    return (
        f'"heritage=alb-ingress-controller,alb-ingress-controller/cluster={cluster},'
        f'alb-ingress-controller/stack={stack},alb-ingress-controller/resource=ingress/{ingress}"'
    )


def alias_rrset(name: str, target: tuple[str, str] = ALB, rtype: str = "A") -> dict[str, Any]:
    return {
        "Name": name,
        "Type": rtype,
        "AliasTarget": {
            "HostedZoneId": target[1],
            "DNSName": target[0],
            "EvaluateTargetHealth": True,
        },
    }


def txt_rrset(name: str, value: str) -> dict[str, Any]:
    return {"Name": name, "Type": "TXT", "TTL": 300, "ResourceRecords": [{"Value": value}]}
