"""Backend rules into node security groups are few, shared, and counted before any call.

A rule per NodePort filled a node group's 60 inbound rules: three groups of 20 NodePort
Services deploying at once stopped a 100-Ingress fleet for good at 60/100 hostnames. Now any
NodePort is covered by one range rule (30000-32767) from the shared backend group, as the
incumbent does; single-port rules of ours that the range covers are revoked; a change that
would pass the limit fails for its group alone, with a clear error, before any call.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from controller.aws.clients import AwsClients
from controller.aws.errors import AwsError
from controller.aws.security_groups import (
    NODE_PORTS,
    SHARED_RULE_DESCRIPTION,
    SecurityGroups,
    flatten,
    plan_backend_rules,
)
from tests.aws.conftest import World

BACKEND = "sg-backend"


def _rule(lo: int, hi: int, source: str = BACKEND) -> tuple[str, int, int, str, str]:
    return ("tcp", lo, hi, "group", source)


def test_any_number_of_node_ports_is_one_range_rule() -> None:
    add, revoke = plan_backend_rules({}, BACKEND, range(30001, 30100))
    assert set(add) == {_rule(*NODE_PORTS)} and revoke == {}
    assert set(add.values()) == {SHARED_RULE_DESCRIPTION}


def test_other_ports_get_a_rule_each() -> None:
    add, _ = plan_backend_rules({}, BACKEND, [8080, 9090, 30001])
    assert set(add) == {_rule(8080, 8080), _rule(9090, 9090), _rule(*NODE_PORTS)}


def test_ports_already_covered_need_nothing() -> None:
    have = {_rule(*NODE_PORTS): SHARED_RULE_DESCRIPTION, _rule(8080, 8080): None}
    assert plan_backend_rules(have, BACKEND, [8080, 30001, 31999]) == ({}, {})


def test_single_port_rules_that_cover_every_port_are_left_alone() -> None:
    # An adopted LBC v2 cluster: nothing to do, so nothing changes.
    have = {_rule(30080, 30080): SHARED_RULE_DESCRIPTION, _rule(30081, 30081): None}
    assert plan_backend_rules(have, BACKEND, [30080, 30081]) == ({}, {})


def test_a_new_node_port_brings_the_range_and_retires_single_port_rules() -> None:
    have: dict[Any, str | None] = {
        _rule(30000 + i, 30000 + i): SHARED_RULE_DESCRIPTION for i in range(20)
    }
    have[_rule(8080, 8080)] = None
    add, revoke = plan_backend_rules(have, BACKEND, [30005, 30050])
    assert set(add) == {_rule(*NODE_PORTS)}
    assert set(revoke) == {_rule(30000 + i, 30000 + i) for i in range(20)}  # not 8080


def test_other_sources_are_neither_counted_as_ours_nor_touched() -> None:
    have = {_rule(*NODE_PORTS, source="sg-other"): None, _rule(30001, 30001, "sg-other"): None}
    add, revoke = plan_backend_rules(have, BACKEND, [30001])
    assert set(add) == {_rule(*NODE_PORTS)} and revoke == {}


def _node_group(clients: AwsClients, world: World, name: str) -> str:
    return str(clients.ec2.create_security_group(
        GroupName=name, Description="nodes", VpcId=world.vpc_id)["GroupId"])  # fmt: skip


def _rules(clients: AwsClients, group: str) -> dict[Any, Any]:
    [found] = clients.ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"]
    return flatten(found.get("IpPermissions") or ())


def test_three_groups_of_20_node_ports_at_once_share_one_rule(
    world: World, clients: AwsClients
) -> None:
    sgs = SecurityGroups(clients, "fleet", sleep=lambda _: None)
    nodes = _node_group(clients, world, "fleet-nodes")
    backend = sgs.ensure_backend(world.vpc_id)

    def deploy(group: int) -> None:
        sgs.allow_backend([nodes], backend, [30000 + 20 * group + i for i in range(20)])

    with ThreadPoolExecutor(3) as pool:
        list(pool.map(deploy, range(3)))
    assert set(_rules(clients, nodes)) == {_rule(*NODE_PORTS, source=backend)}
    for group in range(3, 8):  # later groups add nothing
        deploy(group)
    assert len(_rules(clients, nodes)) == 1


def test_a_change_past_the_limit_fails_before_any_call(world: World, clients: AwsClients) -> None:
    sgs = SecurityGroups(clients, "full", sleep=lambda _: None, rules_limit=5)
    nodes = _node_group(clients, world, "full-nodes")
    backend = sgs.ensure_backend(world.vpc_id)
    clients.ec2.authorize_security_group_ingress(
        GroupId=nodes,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": p, "ToPort": p,
                        "IpRanges": [{"CidrIp": "10.1.0.0/16"}]} for p in range(1, 5)],
    )  # fmt: skip
    calls = len(clients.counter.mutating(0))
    with pytest.raises(AwsError) as failed:
        sgs.allow_backend([nodes], backend, [8080, 9090])
    assert failed.value.code == "RulesPerSecurityGroupLimitExceeded"
    assert not failed.value.retryable
    assert f"node security group {nodes}" in str(failed.value) and "6 inbound rules" in str(
        failed.value
    )
    assert len(clients.counter.mutating(0)) == calls  # nothing was sent
    sgs.allow_backend([nodes], backend, [8080])  # exactly at the limit: fine
    assert len(_rules(clients, nodes)) == 5
