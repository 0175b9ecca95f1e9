"""Hosts of external-dns's `external-dns.alpha.kubernetes.io/hostname` annotation, from the
model to Route 53: they get records like rule hosts, and a name external-dns still owns is
left alone (`DNSRecordNotOwned`, naming external-dns) until it is handed over as the README
says: our ownership record written by hand makes the live record ours, moved in place."""

from __future__ import annotations

from controller.aws.warnings import DNS_RECORD_NOT_OWNED
from controller.model.dns import EXTERNAL_DNS_HOSTNAME
from controller.model.stack import Stack
from tests.aws.dns.conftest import ALB, ALB2, CLUSTER, World, alias_rrset, txt, txt_rrset
from tests.unit.factories import ann, ingress, path, plan, rule, service

RULE_HOST = "app.example.com"
LEGACY = "legacy.example.com"
EXTERNAL_DNS_TXT = (
    '"heritage=external-dns,external-dns/owner=cluster-a,external-dns/resource=ingress/default/app"'
)


def _stack(annotations: dict[str, str]) -> Stack:
    result = plan(
        ingress(rules=[rule(RULE_HOST, path("/", "svc"))], annotations=annotations), service()
    )
    [stack] = result.stacks
    return stack


def test_the_annotation_hosts_get_records_and_owners(world: World) -> None:
    world.add_zone("public", "example.com")
    stack = _stack({EXTERNAL_DNS_HOSTNAME: f"{LEGACY}, old.example.com"})

    assert world.dns().sync(stack, *ALB) == ()

    for host in (RULE_HOST, LEGACY, "old.example.com"):
        assert len(world.named("public", host, "A")) == 1, host
        [owner] = world.named("public", f"_alb-a.{host}", "TXT")
        assert owner["ResourceRecords"] == [{"Value": txt(CLUSTER, stack.id, "default/app")}]

    # Dropped from the annotation: its record goes, like a rule host's.
    world.dns().sync(_stack({EXTERNAL_DNS_HOSTNAME: LEGACY}), *ALB)
    assert world.named("public", "old.example.com", "A") == []


def test_the_annotation_hosts_follow_the_ingress_routing_policy(world: World) -> None:
    world.add_zone("public", "example.com")
    annotations = {EXTERNAL_DNS_HOSTNAME: LEGACY, **ann(dns_set_identifier="b", dns_weight="9")}

    world.dns().sync(_stack(annotations), *ALB)

    [record] = world.named("public", LEGACY, "A")
    assert (record["SetIdentifier"], record["Weight"]) == ("b", 9)


def _seed_external_dns(world: World) -> None:
    """What external-dns leaves for an ALB alias: the alias, and its registry's TXT records
    (at the name itself, and the newer `cname-` one; it treats ALIAS as CNAME)."""
    world.seed(
        "public",
        alias_rrset(LEGACY, ALB2),
        txt_rrset(LEGACY, EXTERNAL_DNS_TXT),
        txt_rrset(f"cname-{LEGACY}", EXTERNAL_DNS_TXT),
    )


def test_a_name_external_dns_owns_is_left_alone_and_said_so(world: World) -> None:
    world.add_zone("public", "example.com")
    _seed_external_dns(world)
    before = world.records("public")
    stack = _stack({EXTERNAL_DNS_HOSTNAME: LEGACY})
    dns = world.dns()

    warnings = dns.sync(stack, *ALB)
    warnings += dns.delete(stack.id)

    assert [r for r in world.records("public") if LEGACY in r["Name"]] == [
        r for r in before if LEGACY in r["Name"]
    ]
    [warning] = warnings
    assert warning.reason == DNS_RECORD_NOT_OWNED
    assert warning.message.startswith(f"{LEGACY} (A in hosted zone example.com)")
    assert "external-dns (owner cluster-a) manages it" in warning.message
    assert "moving from external-dns" in warning.message


def test_handing_a_name_over_from_external_dns_moves_it_in_place(world: World) -> None:
    world.add_zone("public", "example.com")
    _seed_external_dns(world)
    stack = _stack({EXTERNAL_DNS_HOSTNAME: LEGACY})
    # The README's hand-over, once external-dns is stopped: our ownership record beside the
    # live alias (external-dns's TXT records may go now or later).
    world.seed("public", txt_rrset(f"_alb-a.{LEGACY}", txt(CLUSTER, stack.id, "default/app")))

    assert world.dns().sync(stack, *ALB) == ()

    [record] = world.named("public", LEGACY, "A")
    assert record["AliasTarget"]["DNSName"] == ALB[0]
    # An UPSERT: the name never stopped resolving.
    assert ("UPSERT", "A", LEGACY) in world.strict.sent[0][1]
    assert not any(action == "DELETE" for _, batch in world.strict.sent for action, *_ in batch)
