"""DNS_POLICY=upsert-only (external-dns's `--policy=upsert-only`) against moto: records are
created and kept in step, never deleted, and a teardown makes no Route 53 call at all."""

from __future__ import annotations

from controller.aws.route53 import Route53Dns
from controller.aws.warnings import DNS_RECORD_SKIPPED
from tests.aws.dns.conftest import ALB, ALB2, STACK_2048, World, make_stack
from tests.aws.dns.test_routing import routed

HOST = "2048.example.com"
OTHER = "www.example.com"


def _upsert_only(world: World) -> Route53Dns:
    return Route53Dns(world.strict, "prod", 300.0, world.clock, upsert_only=True)


def test_a_removed_host_keeps_its_alias_and_owner(world: World) -> None:
    world.add_zone("public", "example.com")
    dns = _upsert_only(world)
    dns.sync(make_stack([HOST, OTHER]), *ALB)
    left = world.named("public", OTHER, "A") + world.named("public", f"_alb-a.{OTHER}", "TXT")
    world.strict.sent.clear()

    assert dns.sync(make_stack([HOST]), *ALB) == ()

    assert world.strict.sent == []
    assert (
        world.named("public", OTHER, "A") + world.named("public", f"_alb-a.{OTHER}", "TXT") == left
    )


def test_records_are_still_kept_in_step(world: World) -> None:
    world.add_zone("public", "example.com")
    dns = _upsert_only(world)
    dns.sync(make_stack([HOST]), *ALB)

    dns.sync(make_stack([HOST]), *ALB2)  # the load balancer was replaced

    assert world.named("public", HOST, "A")[0]["AliasTarget"]["DNSName"] == ALB2[0]


def test_teardown_deletes_nothing_and_makes_no_call(world: World) -> None:
    world.add_zone("public", "example.com")
    _upsert_only(world).sync(make_stack([HOST]), *ALB)
    before = world.records("public")
    world.counter.reset()

    # The process that made them, and a fresh one (which would otherwise scan every zone).
    assert _upsert_only(world).delete(STACK_2048) == ()
    dns = _upsert_only(world)
    dns.sync(make_stack([HOST]), *ALB)
    world.counter.reset()
    assert dns.delete(STACK_2048) == ()

    assert world.counter.total == 0
    assert world.records("public") == before


def test_a_host_added_back_is_managed_again(world: World) -> None:
    world.add_zone("public", "example.com")
    dns = _upsert_only(world)
    dns.sync(make_stack([HOST, OTHER]), *ALB)
    dns.sync(make_stack([HOST]), *ALB)

    assert dns.sync(make_stack([HOST, OTHER]), *ALB2) == ()

    assert world.named("public", OTHER, "A")[0]["AliasTarget"]["DNSName"] == ALB2[0]


def test_a_routing_change_that_needs_a_deletion_is_refused_with_a_warning(world: World) -> None:
    # Simple -> weighted deletes the simple record first; upsert-only may not, and Route 53
    # would refuse the two side by side, so nothing is sent and the Ingress hears why.
    world.add_zone("public", "example.com")
    dns = _upsert_only(world)
    dns.sync(make_stack([HOST]), *ALB)
    before = world.records("public")
    world.strict.sent.clear()

    warnings = dns.sync(routed([HOST], set_identifier="blue", weight=1), *ALB)
    warnings += dns.sync(make_stack([HOST]), *ALB)  # and back is fine: it was never changed

    assert world.strict.sent == [] and world.strict.rejected == []
    assert world.records("public") == before
    [warning] = warnings
    assert warning.reason == DNS_RECORD_SKIPPED
    assert "upsert-only" in warning.message and "delete it by hand" in warning.message


def test_sync_still_deletes(world: World) -> None:
    world.add_zone("public", "example.com")
    dns = world.dns()
    dns.sync(make_stack([HOST, OTHER]), *ALB)
    dns.sync(make_stack([HOST]), *ALB)
    assert world.named("public", OTHER, "A") == []
    dns.delete(STACK_2048)
    assert world.records("public") == []
