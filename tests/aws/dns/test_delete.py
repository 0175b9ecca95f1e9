"""Route53Dns.delete removes exactly what the stack owns, from memory or after a restart."""

from __future__ import annotations

import pytest

from tests.aws.dns.conftest import ALB, ALB2, CLUSTER, STACK_2048, World, make_stack, txt

HOSTS = ["2048.example.com", "*.example.com", "app.team.example.com"]


@pytest.mark.parametrize("fresh_process", [False, True], ids=["same-process", "after-restart"])
def test_delete_removes_every_record_the_stack_owns_and_nothing_else(
    world: World, fresh_process: bool
) -> None:
    world.add_zone("public", "example.com")
    world.add_zone("team", "team.example.com")
    dns = world.dns()
    dns.sync(make_stack(HOSTS, dualstack=True), *ALB)
    dns.sync(make_stack(["keep.example.com"], stack_id="other-group"), *ALB2)
    world.dns(cluster="staging").sync(make_stack(["2048.team.example.com"]), *ALB2)
    world.strict.sent.clear()
    world.counter.reset()

    warnings = (world.dns() if fresh_process else dns).delete(STACK_2048)

    assert warnings == ()
    assert sorted(r["Name"] for r in world.records("public")) == [
        "_alb-a.keep.example.com.",
        "keep.example.com.",
    ]
    assert sorted(r["Name"] for r in world.records("team")) == [
        "2048.team.example.com.",
        "_alb-a.2048.team.example.com.",
    ]
    assert world.counter.changes == 2  # one batch per zone
    assert all(action == "DELETE" for _, changes in world.strict.sent for action, _, _ in changes)
    assert world.strict.rejected == []


def test_deleting_twice_or_an_unknown_stack_changes_nothing(world: World) -> None:
    world.add_zone("public", "example.com")
    dns = world.dns()
    dns.sync(make_stack(["2048.example.com"]), *ALB)
    dns.delete(STACK_2048)
    world.counter.reset()

    assert dns.delete(STACK_2048) == ()
    assert world.dns().delete("never-seen") == ()

    assert world.counter.changes == 0


def test_a_stack_can_come_back_after_delete(world: World) -> None:
    world.add_zone("public", "example.com")
    dns = world.dns()
    dns.sync(make_stack(["2048.example.com"]), *ALB)
    dns.delete(STACK_2048)

    dns.sync(make_stack(["2048.example.com"]), *ALB2)

    [record] = world.named("public", "2048.example.com", "A")
    assert record["AliasTarget"]["DNSName"] == ALB2[0]
    value = world.named("public", "_alb-a.2048.example.com", "TXT")[0]["ResourceRecords"]
    assert value == [{"Value": txt(CLUSTER, STACK_2048)}]
