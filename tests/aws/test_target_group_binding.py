"""TargetGroupBindings' AWS side against (strict) moto: a target group made elsewhere, found
by ARN or name; its targets synced by difference in the fewest calls (a multi-cluster group's
other targets left alone); and `networking.ingress` rules in the node security groups, shared
between bindings, revoked when no binding wants them, never the Ingress path's."""

from __future__ import annotations

from typing import Any

import pytest

from controller.aws.bindings import BindingAws, UnknownTargetGroupError
from controller.aws.clients import AwsClients
from controller.aws.errors import AwsError
from controller.aws.security_groups import SHARED_RULE_DESCRIPTION, flatten
from controller.model.binding import ANY_PORT, Permission
from controller.model.stack import Target
from tests.aws.conftest import World
from tests.aws.stacks import CLUSTER


def made_elsewhere(world: World, name: str = "tf-web", target_type: str = "instance") -> str:
    """A target group as Terraform makes one: none of our tags."""
    return str(
        world.elbv2.create_target_group(
            Name=name, Protocol="HTTP", Port=80, VpcId=world.vpc_id, TargetType=target_type
        )["TargetGroups"][0]["TargetGroupArn"]
    )


def registered(world: World, arn: str) -> set[tuple[str, int]]:
    health = world.elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    return {
        (d["Target"]["Id"], d["Target"]["Port"])
        for d in health
        if d["TargetHealth"]["State"] != "draining"
    }


def targets(world: World, *indexes: int, port: int = 30080) -> frozenset[Target]:
    return frozenset(Target(id=world.nodes[i], port=port) for i in indexes)


@pytest.fixture
def aws(clients: AwsClients) -> BindingAws:
    return BindingAws(clients, CLUSTER)


# --- the target group -------------------------------------------------------------------


def test_the_target_group_is_found_by_arn_or_by_name(world: World, aws: BindingAws) -> None:
    arn = made_elsewhere(world, target_type="ip")
    by_arn = aws.target_group(arn, None)
    assert (by_arn.arn, by_arn.name, by_arn.target_type) == (arn, "tf-web", "ip")
    assert (by_arn.vpc_id, by_arn.ip_address_type, by_arn.protocol) == (
        world.vpc_id, "ipv4", "HTTP",
    )  # fmt: skip
    assert by_arn.stack is None
    assert aws.target_group(None, "tf-web") == by_arn
    assert aws.target_group(arn, "another-name") == by_arn  # the ARN wins


@pytest.mark.parametrize("by_arn", [True, False])
def test_a_missing_target_group_is_an_unknown_target_group(
    world: World, aws: BindingAws, by_arn: bool
) -> None:
    gone = made_elsewhere(world, "gone")
    world.elbv2.delete_target_group(TargetGroupArn=gone)
    with pytest.raises(UnknownTargetGroupError) as raised:
        aws.target_group(gone, None) if by_arn else aws.target_group(None, "gone")
    assert raised.value.code == "TargetGroupNotFound"
    assert not raised.value.retryable


def test_a_target_group_of_another_cluster_is_not_ours_but_one_of_ours_names_its_stack(
    world: World, aws: BindingAws
) -> None:
    assert aws.target_group(world.foreign_tg, None).stack is None
    ours = world.elbv2.create_target_group(
        Name="k8s-shop-web", Protocol="HTTP", Port=80, VpcId=world.vpc_id,
        Tags=[{"Key": "elbv2.k8s.aws/cluster", "Value": CLUSTER},
              {"Key": "ingress.k8s.aws/stack", "Value": "shop/web"}],
    )["TargetGroups"][0]["TargetGroupArn"]  # fmt: skip
    assert aws.target_group(ours, None).stack == "shop/web"
    world.elbv2.delete_target_group(TargetGroupArn=ours)


# --- targets --------------------------------------------------------------------------------


def test_targets_are_synced_by_difference(
    world: World, aws: BindingAws, clients: AwsClients
) -> None:
    arn = made_elsewhere(world)
    mark = clients.counter.position()
    assert aws.sync_targets(arn, targets(world, 0, 1)) == 1
    assert clients.counter.mutating(mark) == ["RegisterTargets"]
    assert registered(world, arn) == {(t.id, t.port) for t in targets(world, 0, 1)}

    mark = clients.counter.position()
    assert aws.sync_targets(arn, targets(world, 1, 2)) == 2
    assert clients.counter.mutating(mark) == ["RegisterTargets", "DeregisterTargets"]
    assert registered(world, arn) == {(t.id, t.port) for t in targets(world, 1, 2)}

    mark = clients.counter.position()
    assert aws.sync_targets(arn, targets(world, 1, 2)) == 0  # converged: one read, no write
    assert [r.key.operation for r in clients.counter.calls(mark)] == ["DescribeTargetHealth"]
    assert aws.release_targets(arn) == 1
    assert registered(world, arn) == set()
    world.elbv2.delete_target_group(TargetGroupArn=arn)


def test_a_multi_cluster_group_keeps_the_targets_other_clusters_registered(
    world: World, aws: BindingAws
) -> None:
    arn = made_elsewhere(world)
    theirs = ("i-0another0cluster", 30080)
    world.elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": theirs[0], "Port": theirs[1]}])
    mine = targets(world, 0, 1)
    aws.sync_targets(arn, mine, owned=mine)
    assert registered(world, arn) == {theirs, *((t.id, t.port) for t in mine)}
    # One of ours goes: only it is deregistered; theirs stays, though we do not want it.
    aws.sync_targets(arn, targets(world, 1), owned=mine)
    assert registered(world, arn) == {theirs, (world.nodes[1], 30080)}
    # Without `owned`, the group is ours alone: theirs goes too (LBC's default).
    aws.sync_targets(arn, targets(world, 1))
    assert registered(world, arn) == {(world.nodes[1], 30080)}
    aws.release_targets(arn)
    world.elbv2.delete_target_group(TargetGroupArn=arn)


def test_releasing_keeps_other_clusters_targets_and_a_gone_group_has_none(
    world: World, aws: BindingAws
) -> None:
    arn = made_elsewhere(world)
    world.elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": "i-0theirs", "Port": 80}])
    aws.sync_targets(arn, targets(world, 0), owned=targets(world, 0))
    assert aws.release_targets(arn, owned=targets(world, 0)) == 1
    assert registered(world, arn) == {("i-0theirs", 80)}
    world.elbv2.delete_target_group(TargetGroupArn=arn)
    assert aws.release_targets(arn) == 0


# --- networking ------------------------------------------------------------------------------

FROM_ALB: Permission = ("tcp", 8080, 8080, "group", "")  # the source is filled in per test
CIDR: Permission = ("tcp", 0, 65535, "cidr", "10.9.0.0/16")


def node_rules(world: World, group: str | None = None) -> dict[Permission, str | None]:
    (found,) = world.ec2.describe_security_groups(GroupIds=[group or world.node_sg])[
        "SecurityGroups"
    ]
    return flatten(found.get("IpPermissions") or ())


def alb_group(world: World, name: str = "tf-alb") -> str:
    return str(
        world.ec2.create_security_group(GroupName=name, Description="alb", VpcId=world.vpc_id)[
            "GroupId"
        ]
    )


def test_networking_rules_go_into_the_node_group_with_lbcs_description(
    world: World, aws: BindingAws, clients: AwsClients
) -> None:
    source = alb_group(world)
    from_alb = (*FROM_ALB[:4], source)
    hosts = frozenset(world.nodes[:2])
    mark = clients.counter.position()
    assert aws.sync_networking("shop/web", hosts, frozenset({from_alb, CIDR}), pending={}) == 1
    assert clients.counter.mutating(mark) == ["AuthorizeSecurityGroupIngress"]
    rules = node_rules(world)
    assert rules[from_alb] == rules[CIDR] == SHARED_RULE_DESCRIPTION
    # Again: nothing to do, and the reads are one DescribeInstances and one
    # DescribeSecurityGroups.
    mark = clients.counter.position()
    assert aws.sync_networking("shop/web", hosts, frozenset({from_alb, CIDR}), pending={}) == 0
    assert sorted(r.key.operation for r in clients.counter.calls(mark)) == [
        "DescribeInstances", "DescribeSecurityGroups",
    ]  # fmt: skip
    assert aws.release_networking("shop/web", hosts, pending={}) == 1
    assert from_alb not in node_rules(world) and CIDR not in node_rules(world)


def test_a_rule_two_bindings_want_stays_until_both_are_gone(world: World, aws: BindingAws) -> None:
    hosts = frozenset(world.nodes[:1])
    aws.sync_networking("shop/a", hosts, frozenset({CIDR}), pending={})
    aws.sync_networking("shop/b", hosts, frozenset({CIDR}), pending={})
    aws.release_networking("shop/a", hosts, pending={})
    assert CIDR in node_rules(world)
    aws.release_networking("shop/b", hosts, pending={})
    assert CIDR not in node_rules(world)


def test_a_rule_a_binding_no_longer_wants_is_revoked(world: World, aws: BindingAws) -> None:
    hosts = frozenset(world.nodes[:1])
    narrow: Permission = ("tcp", 8443, 8443, "cidr", "10.9.0.0/16")
    aws.sync_networking("shop/web", hosts, frozenset({CIDR}), pending={})
    aws.sync_networking("shop/web", hosts, frozenset({narrow}), pending={})
    rules = node_rules(world)
    assert narrow in rules and CIDR not in rules
    aws.release_networking("shop/web", hosts, pending={})


def test_a_binding_not_synced_yet_keeps_the_rules_its_spec_asks_for(
    world: World, aws: BindingAws, clients: AwsClients
) -> None:
    # After a restart: shop/b's rule is in the group, shop/b has not been synced yet.
    hosts = frozenset(world.nodes[:1])
    named: Permission = ("tcp", 9090, 9090, "cidr", "10.8.0.0/16")
    aws.sync_networking("shop/b", hosts, frozenset({CIDR, named}), pending={})
    restarted = BindingAws(clients, CLUSTER)  # a new process: it knows of no binding
    pending = {"shop/b": frozenset({CIDR, ("tcp", ANY_PORT, ANY_PORT, "cidr", "10.8.0.0/16")})}
    restarted.sync_networking("shop/a", hosts, frozenset(), pending=pending)
    restarted.release_networking("shop/a", hosts, pending=pending)
    assert {CIDR, named} <= set(node_rules(world))
    # Once shop/b is known to want nothing, they go.
    restarted.release_networking("shop/b", hosts, pending={})
    assert not {CIDR, named} & set(node_rules(world))


def test_the_ingress_paths_rules_with_the_same_description_are_never_revoked(
    world: World, aws: BindingAws
) -> None:
    ours = world.ec2.create_security_group(
        GroupName="k8s-traffic", Description="backend", VpcId=world.vpc_id,
        TagSpecifications=[{"ResourceType": "security-group",
                            "Tags": [{"Key": "elbv2.k8s.aws/cluster", "Value": CLUSTER}]}],
    )["GroupId"]  # fmt: skip
    backend: dict[str, Any] = {
        "IpProtocol": "tcp", "FromPort": 30000, "ToPort": 32767,
        "UserIdGroupPairs": [{"GroupId": ours, "Description": SHARED_RULE_DESCRIPTION}],
    }  # fmt: skip
    world.ec2.authorize_security_group_ingress(GroupId=world.node_sg, IpPermissions=[backend])
    hosts = frozenset(world.nodes[:1])
    aws.sync_networking("shop/web", hosts, frozenset({CIDR}), pending={})
    aws.release_networking("shop/web", hosts, pending={})
    rules = node_rules(world)
    assert ("tcp", 30000, 32767, "group", ours) in rules
    assert CIDR not in rules
    world.ec2.revoke_security_group_ingress(GroupId=world.node_sg, IpPermissions=[backend])
    world.ec2.delete_security_group(GroupId=ours)


def test_a_users_own_rule_without_the_description_is_never_revoked(
    world: World, aws: BindingAws
) -> None:
    hand_made: dict[str, Any] = {
        "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
        "IpRanges": [{"CidrIp": "10.7.0.0/16", "Description": "ssh"}],
    }  # fmt: skip
    world.ec2.authorize_security_group_ingress(GroupId=world.node_sg, IpPermissions=[hand_made])
    hosts = frozenset(world.nodes[:1])
    aws.sync_networking("shop/web", hosts, frozenset({CIDR}), pending={})
    aws.release_networking("shop/web", hosts, pending={})
    assert ("tcp", 22, 22, "cidr", "10.7.0.0/16") in node_rules(world)
    world.ec2.revoke_security_group_ingress(GroupId=world.node_sg, IpPermissions=[hand_made])


def test_of_several_instance_groups_the_cluster_tagged_one_is_used(
    world: World, aws: BindingAws
) -> None:
    tagged = world.ec2.create_security_group(
        GroupName="eks-nodes", Description="nodes", VpcId=world.vpc_id,
        TagSpecifications=[{"ResourceType": "security-group",
                            "Tags": [{"Key": f"kubernetes.io/cluster/{CLUSTER}",
                                      "Value": "owned"}]}],
    )["GroupId"]  # fmt: skip
    other = alb_group(world, "corp-wide")
    instance = world.ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=world.private[0],
        SecurityGroupIds=[other, tagged],
    )["Instances"][0]["InstanceId"]  # fmt: skip
    aws.sync_networking("shop/web", frozenset({instance}), frozenset({CIDR}), pending={})
    assert CIDR in node_rules(world, tagged)
    assert CIDR not in node_rules(world, other)
    aws.release_networking("shop/web", frozenset({instance}), pending={})
    assert CIDR not in node_rules(world, tagged)
    # Neither tagged: which one is meant cannot be told, and nothing is changed.
    untagged = world.ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=world.private[0],
        SecurityGroupIds=[other, world.node_sg],
    )["Instances"][0]["InstanceId"]  # fmt: skip
    with pytest.raises(AwsError) as raised:
        aws.sync_networking("shop/web", frozenset({untagged}), frozenset({CIDR}), pending={})
    assert raised.value.code == "EndpointSecurityGroupUnknown"
    assert CIDR not in node_rules(world, other) and CIDR not in node_rules(world)
    world.ec2.terminate_instances(InstanceIds=[instance, untagged])


def test_rules_over_the_quota_fail_before_any_call(world: World, clients: AwsClients) -> None:
    aws = BindingAws(clients, CLUSTER, rules_limit=3)
    many = frozenset(("tcp", p, p, "cidr", "10.9.0.0/16") for p in range(8000, 8004))
    mark = clients.counter.position()
    with pytest.raises(AwsError) as raised:
        aws.sync_networking("shop/web", frozenset(world.nodes[:1]), many, pending={})
    assert raised.value.code == "RulesPerSecurityGroupLimitExceeded"
    assert clients.counter.mutating(mark) == []
