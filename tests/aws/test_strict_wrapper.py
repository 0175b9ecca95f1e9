"""The strict wrapper itself rejects what AWS rejects (else it would prove nothing), and the
deployer checks AWS's fixed limits before calling."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from controller.aws.clients import AwsClients
from controller.aws.deployer import Deployer
from controller.aws.errors import AwsError
from controller.model.stack import Condition
from tests.aws.conftest import World
from tests.aws.stacks import SVC_2048, make_stack, path_rule, targets
from tests.aws.strict import Strict


def test_duplicate_load_balancer_names_and_unknown_groups_are_rejected(world: World) -> None:
    with pytest.raises(ClientError, match="DuplicateLoadBalancerName"):
        world.elbv2.create_load_balancer(Name="foreign-alb", Subnets=list(world.public))
    with pytest.raises(ClientError, match="InvalidSecurityGroup"):
        world.elbv2.create_load_balancer(
            Name="x", Subnets=list(world.public), SecurityGroups=["sg-doesnotexist"]
        )


def test_a_target_group_serves_one_load_balancer(world: World) -> None:
    lb = world.elbv2.create_load_balancer(Name="second", Subnets=list(world.public))
    with pytest.raises(ClientError, match="TargetGroupAssociationLimit"):
        world.elbv2.create_listener(
            LoadBalancerArn=lb["LoadBalancers"][0]["LoadBalancerArn"],
            Port=80,
            Protocol="HTTP",
            DefaultActions=[{"Type": "forward", "TargetGroupArn": world.foreign_tg}],
        )


def test_security_groups_in_use_cannot_be_deleted(world: World) -> None:
    with pytest.raises(ClientError, match="DependencyViolation"):
        world.ec2.delete_security_group(GroupId=world.foreign_sg)


def test_rule_limits(world: World, clients: AwsClients, deployer: Deployer, strict: Strict) -> None:
    strict.max_rules_per_load_balancer = 2
    desired = targets(SVC_2048, world.nodes)
    stack = make_stack([(f"/{i}", SVC_2048) for i in range(3)])
    with pytest.raises(AwsError) as raised:
        deployer.deploy(stack, desired)
    assert raised.value.code == "TooManyRules" and not raised.value.retryable
    # The deployer itself refuses more than 5 condition values, naming the rule.
    rule = path_rule(1, "2048.example.com", "/a", SVC_2048)
    crowded = rule.model_copy(
        update={
            "conditions": (
                *rule.conditions,
                Condition(field="http-request-method", values=("GET", "PUT", "POST")),
            )
        }
    )
    listener = stack.listeners[0].model_copy(update={"rules": (crowded,)})
    bad = stack.model_copy(update={"listeners": (listener,)})
    mark = clients.counter.position()
    with pytest.raises(AwsError, match=r"rule 80:1 .*6 condition values"):
        deployer.deploy(bad, desired)
    assert clients.counter.calls(mark) == []
