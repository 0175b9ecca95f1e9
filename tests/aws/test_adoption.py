"""Adoption: resources laid out and tagged the way aws-load-balancer-controller makes them
are this stack's, whoever made them: paired by the resource tag, modified, not recreated."""

from __future__ import annotations

from typing import Any

from controller.aws.clients import AwsClients
from controller.aws.deployer import Deployer
from controller.aws.security_groups import SHARED_RULE_DESCRIPTION
from tests.aws.conftest import World
from tests.aws.stacks import CLUSTER, STACK_2048, SVC_2048, make_stack, targets
from tests.aws.state import actual, expected


def _tags(resource: str, **extra: str) -> list[dict[str, str]]:
    tags = {
        "elbv2.k8s.aws/cluster": CLUSTER,
        "ingress.k8s.aws/stack": STACK_2048,
        "ingress.k8s.aws/resource": resource,
        **extra,
    }
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def lay_out_like_lbc(world: World, healthy_threshold: int = 2) -> dict[str, Any]:
    """What LBC v2 leaves behind for the 2048 Ingress (its names, our tag scheme)."""
    ec2, elbv2 = world.ec2, world.elbv2
    managed = ec2.create_security_group(
        GroupName="k8s-game2048-ingress2-0123456789",
        Description="[k8s] Managed SecurityGroup for LoadBalancer",
        VpcId=world.vpc_id,
        TagSpecifications=[
            {"ResourceType": "security-group", "Tags": _tags("ManagedLBSecurityGroup")}
        ],
    )["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=managed,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 80,
                "ToPort": 80,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )
    backend = ec2.create_security_group(
        GroupName=f"k8s-traffic-{CLUSTER}-abcdef0123",
        Description="[k8s] Shared Backend SecurityGroup for LoadBalancer",
        VpcId=world.vpc_id,
        TagSpecifications=[
            {
                "ResourceType": "security-group",
                "Tags": [
                    {"Key": "elbv2.k8s.aws/cluster", "Value": CLUSTER},
                    {"Key": "elbv2.k8s.aws/resource", "Value": "backend-sg"},
                ],
            }
        ],
    )["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=world.node_sg,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": SVC_2048.node_port,
                "ToPort": SVC_2048.node_port,
                "UserIdGroupPairs": [{"GroupId": backend, "Description": SHARED_RULE_DESCRIPTION}],
            }
        ],
    )
    tg = elbv2.create_target_group(
        Name="k8s-game2048-service2-9876543210",
        Protocol="HTTP",
        ProtocolVersion="HTTP1",
        Port=SVC_2048.node_port,
        VpcId=world.vpc_id,
        TargetType="instance",
        HealthCheckPath="/",
        HealthCheckIntervalSeconds=15,
        HealthCheckTimeoutSeconds=5,
        HealthyThresholdCount=healthy_threshold,
        UnhealthyThresholdCount=2,
        Matcher={"HttpCode": "200"},
        Tags=_tags(SVC_2048.tg_id),
    )["TargetGroups"][0]["TargetGroupArn"]
    lb = elbv2.create_load_balancer(
        Name="k8s-game2048-ingress2-aaaaaaaaaa",
        Subnets=list(world.public),
        SecurityGroups=[managed, backend],
        Scheme="internet-facing",
        Type="application",
        Tags=_tags("LoadBalancer"),
    )["LoadBalancers"][0]["LoadBalancerArn"]
    listener = elbv2.create_listener(
        LoadBalancerArn=lb,
        Port=80,
        Protocol="HTTP",
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
        Tags=_tags("80"),
    )["Listeners"][0]["ListenerArn"]
    elbv2.create_rule(
        ListenerArn=listener,
        Priority=1,
        Conditions=[
            {"Field": "host-header", "HostHeaderConfig": {"Values": ["2048.example.com"]}},
            {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/*"]}},
        ],
        Actions=[
            {
                "Type": "forward",
                "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": tg, "Weight": 1}]},
            }
        ],
        Tags=_tags("80:1"),
    )
    elbv2.register_targets(
        TargetGroupArn=tg, Targets=[{"Id": n, "Port": SVC_2048.node_port} for n in world.nodes]
    )
    return {"lb": lb, "tg": tg, "managed": managed, "backend": backend}


def test_lbc_resources_are_adopted_without_a_single_change(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    made = lay_out_like_lbc(world)
    stack, desired = make_stack(), targets(SVC_2048, world.nodes)
    mark = clients.counter.position()
    result = deployer.deploy(stack, desired)
    assert clients.counter.mutating(mark) == []
    assert result.load_balancer_arn == made["lb"]
    assert result.target_group_arns == {SVC_2048.tg_id: made["tg"]}
    assert actual(world, stack.id) == expected(stack, desired)


def test_adopted_resources_are_modified_in_place(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    made = lay_out_like_lbc(world, healthy_threshold=5)
    stack, desired = make_stack(lb_tags={"team": "games"}), targets(SVC_2048, world.nodes[:2])
    mark = clients.counter.position()
    result = deployer.deploy(stack, desired)
    calls = clients.counter.mutating(mark)
    assert sorted(calls) == sorted(
        [
            "ModifyTargetGroup",  # health check threshold 5 -> 2
            "AddTags",  # load balancer
            "CreateTags",  # managed security group
            "AddTags",  # listener
            "AddTags",  # rule
            "DeregisterTargets",  # the third node is no longer wanted
        ]
    )
    assert result.load_balancer_arn == made["lb"]
    assert result.target_group_arns[SVC_2048.tg_id] == made["tg"]
    assert actual(world, stack.id) == expected(stack, desired)
    deployer.teardown(stack.id)
    assert world.leaks() == []
