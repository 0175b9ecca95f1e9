"""Records we do not own come out byte-for-byte unchanged from every scenario, with warnings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from controller.aws.route53 import Route53Dns
from controller.aws.warnings import DeployWarning
from tests.aws.dns.conftest import (
    ALB,
    ALB2,
    CLUSTER,
    STACK_2048,
    World,
    alias_rrset,
    make_stack,
    txt,
    txt_rrset,
)

NO_TXT = "legacy.example.com"  # a record someone made by hand
OTHER_CLUSTER = "staging.example.com"  # owned by the same stack name in another cluster
OTHER_STACK = "shared.example.com"  # owned by another stack of this cluster
CNAME = "blog.example.com"  # a CNAME where we would put our alias
EXTERNAL_DNS = "ext.example.com"  # owned by external-dns
MINE = "2048.example.com"
FOREIGN_HOSTS = [NO_TXT, OTHER_CLUSTER, OTHER_STACK, CNAME, EXTERNAL_DNS]


def _seed_foreign(world: World) -> None:
    world.seed(
        "public",
        {"Name": NO_TXT, "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "192.0.2.10"}]},
        alias_rrset(OTHER_CLUSTER, ALB2),
        txt_rrset(f"_alb-a.{OTHER_CLUSTER}", txt("staging", STACK_2048)),
        alias_rrset(OTHER_STACK, ALB2),
        txt_rrset(f"_alb-a.{OTHER_STACK}", txt(CLUSTER, "another-group")),
        {"Name": CNAME, "Type": "CNAME", "TTL": 300, "ResourceRecords": [{"Value": "x.example"}]},
        alias_rrset(EXTERNAL_DNS, ALB2),
        txt_rrset(
            f"_alb-a.{EXTERNAL_DNS}",
            '"heritage=external-dns,external-dns/owner=default,'
            'external-dns/resource=ingress/default/x"',
        ),
        # Records in the zone that no stack asks for, including an orphan-looking owner
        # record of another cluster.
        {
            "Name": "mx.example.com",
            "Type": "MX",
            "TTL": 300,
            "ResourceRecords": [{"Value": "10 m"}],
        },
        txt_rrset("_alb-a.gone.example.com", txt("staging", STACK_2048)),
    )


def _foreign(world: World) -> list[dict[str, Any]]:
    ours = {f"{MINE}.", f"_alb-a.{MINE}.", f"_alb-aaaa.{MINE}."}
    return [r for r in world.records("public") if r["Name"] not in ours]


Scenario = Callable[[Route53Dns], tuple[DeployWarning, ...]]

SCENARIOS: dict[str, Scenario] = {
    "create": lambda dns: dns.sync(make_stack([MINE, *FOREIGN_HOSTS]), *ALB),
    "create-dualstack": lambda dns: dns.sync(
        make_stack([MINE, *FOREIGN_HOSTS], dualstack=True), *ALB
    ),
    "alb-replaced": lambda dns: (
        dns.sync(make_stack([MINE, *FOREIGN_HOSTS]), *ALB)
        + dns.sync(make_stack([MINE, *FOREIGN_HOSTS]), *ALB2)
    ),
    "hosts-removed": lambda dns: (
        dns.sync(make_stack([MINE, *FOREIGN_HOSTS]), *ALB) + dns.sync(make_stack([]), *ALB)
    ),
    "delete": lambda dns: (
        dns.sync(make_stack([MINE, *FOREIGN_HOSTS]), *ALB) + dns.delete(STACK_2048)
    ),
    "delete-by-a-fresh-process": lambda dns: dns.delete(STACK_2048),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_foreign_records_are_never_changed(world: World, scenario: str) -> None:
    world.add_zone("public", "example.com")
    _seed_foreign(world)
    before = _foreign(world)

    warnings = SCENARIOS[scenario](world.dns())

    assert _foreign(world) == before
    assert world.strict.rejected == []
    if scenario != "delete-by-a-fresh-process":
        for host in FOREIGN_HOSTS:
            assert any(host in w.message for w in warnings), f"no warning names {host}: {warnings}"


def test_warnings_say_why_each_record_is_not_ours(world: World) -> None:
    world.add_zone("public", "example.com")
    _seed_foreign(world)

    warnings = world.dns().sync(make_stack([MINE, *FOREIGN_HOSTS]), *ALB)

    by_host = {
        host: next(w.message for w in warnings if w.message.startswith(host))
        for host in FOREIGN_HOSTS
    }
    assert "without an ownership record" in by_host[NO_TXT]
    assert "cluster 'staging'" in by_host[OTHER_CLUSTER]
    assert "stack 'another-group'" in by_host[OTHER_STACK]
    assert "CNAME" in by_host[CNAME]
    assert "not this controller" in by_host[EXTERNAL_DNS]
    assert len(warnings) == len(FOREIGN_HOSTS)
    assert len(world.named("public", MINE, "A")) == 1


def test_a_record_whose_owner_record_was_removed_by_hand_is_no_longer_ours(world: World) -> None:
    world.add_zone("public", "example.com")
    dns = world.dns()
    dns.sync(make_stack([MINE]), *ALB)
    owner = world.named("public", f"_alb-a.{MINE}", "TXT")[0]
    world.strict.checker.change_resource_record_sets(
        HostedZoneId=world.zones["public"],
        ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": owner}]},
    )
    record = world.named("public", MINE, "A")
    world.clock.now += 301

    warnings = dns.sync(make_stack([MINE]), *ALB2)
    warnings += dns.delete(STACK_2048)

    assert world.named("public", MINE, "A") == record
    assert any("without an ownership record" in w.message for w in warnings)
