"""A host another stack of the cluster holds is taken as soon as that stack lets it go.

Found by the soak (`sandbox.soak`, seed 12): an Ingress moved from group b to group a. a's
reconcile ran first, found the host's ownership record naming stack b and left it with a
warning; b then removed its records and released the Ingress, which queued a again, but a's
model was unchanged (no deploy) and its DNS sync remembered the warning (no read) for the
zone cache's five minutes: the host had no record until the next drift check.
"""

from __future__ import annotations

from controller.aws.route53 import Route53Dns
from tests.aws.dns.conftest import ALB, ALB2, World, make_stack

HOST = "moved.example.com"


def test_a_held_host_is_contested_and_taken_once_released(world: World) -> None:
    world.add_zone("public", "example.com")
    dns = world.dns()
    dns.sync(make_stack({HOST: "shop/web"}, stack_id="group-b"), *ALB)

    warnings = dns.sync(make_stack({HOST: "shop/web"}, stack_id="group-a"), *ALB2)
    assert any("stack 'group-b'" in w.message for w in warnings)
    assert dns.contested("group-a") and not dns.contested("group-b")

    dns.sync(make_stack([], stack_id="group-b"), *ALB)  # b lets the host go
    assert world.named("public", HOST, "A") == []
    # a again, same inputs, well within the zone cache's five minutes: read, not remembered.
    assert dns.sync(make_stack({HOST: "shop/web"}, stack_id="group-a"), *ALB2) == ()
    assert not dns.contested("group-a")
    record = world.named("public", HOST, "A")[0]
    assert record["AliasTarget"]["DNSName"].rstrip(".") == ALB2[0]


def test_a_host_of_another_cluster_or_tool_is_not_contested(world: World) -> None:
    world.add_zone("public", "example.com")
    Route53Dns(world.strict, "staging").sync(make_stack([HOST], stack_id="group-b"), *ALB)
    dns = world.dns()
    warnings = dns.sync(make_stack([HOST], stack_id="group-a"), *ALB2)
    assert any("cluster 'staging'" in w.message for w in warnings)
    assert not dns.contested("group-a")  # not ours to wait for: it stays a warning
