"""Deploy scenarios against moto: each makes exactly the mutating calls it needs (listed),
ends in exactly the desired state, and leaves the foreign resources alone (checked by the
`world` fixture after every test)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from controller.aws.clients import AwsClients
from controller.aws.deployer import Deployer
from controller.aws.errors import AwsError
from controller.aws.target_groups import fresh_name
from controller.aws.warnings import (
    DNS_RECORD_SKIPPED,
    LOAD_BALANCER_REPLACED,
    NODE_SECURITY_GROUPS_UNKNOWN,
    DeployWarning,
)
from controller.model.stack import Stack, Target
from tests.aws.conftest import World
from tests.aws.stacks import CLUSTER, SVC_2048, Svc, make_stack, merge, targets
from tests.aws.state import actual, expected

DNS_WARNING = DeployWarning(DNS_RECORD_SKIPPED, "a warning from dns")

CREATE_2048 = [
    "CreateSecurityGroup",  # managed frontend group, tags on create
    "AuthorizeSecurityGroupIngress",  # port 80 from 0.0.0.0/0
    "CreateSecurityGroup",  # the cluster's shared backend group
    "AuthorizeSecurityGroupIngress",  # backend group -> node group on the NodePort
    "CreateTargetGroup",
    "RegisterTargets",  # targets follow their target group at once
    "CreateLoadBalancer",
    "CreateListener",
    "CreateRule",
]

A, B, C, NEW = Svc(), Svc(), Svc(), Svc()


def deploy(
    deployer: Deployer, clients: AwsClients, stack: Stack, desired: dict[str, frozenset[Target]]
) -> list[str]:
    """Deploy and return the mutating calls it made."""
    mark = clients.counter.position()
    deployer.deploy(stack, desired)
    return clients.counter.mutating(mark)


def paths(*names: str) -> list[tuple[str, Svc]]:
    return [(f"/{n}", SVC_2048) for n in names]


def test_2048_creates_one_of_each_with_the_minimum_calls(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    stack, desired = make_stack(), targets(SVC_2048, world.nodes)
    mark = clients.counter.position()
    result = deployer.deploy(stack, desired)
    assert clients.counter.mutating(mark) == CREATE_2048
    assert actual(world, stack.id) == expected(stack, desired)
    assert result.dns_name.endswith(".elb.amazonaws.com")
    lb = world.elbv2.describe_load_balancers(LoadBalancerArns=[result.load_balancer_arn])
    assert result.canonical_hosted_zone_id == lb["LoadBalancers"][0]["CanonicalHostedZoneId"]
    assert set(result.target_group_arns) == {SVC_2048.tg_id}
    # Every create carries its tags (AWS's AddTags-on-create), cluster and stack included.
    for record in clients.counter.calls(mark):
        if record.key.operation in (
            "CreateTargetGroup",
            "CreateLoadBalancer",
            "CreateListener",
            "CreateRule",
        ):
            tags = {t["Key"]: t["Value"] for t in record.params["Tags"]}
            assert tags["elbv2.k8s.aws/cluster"] == CLUSTER
            assert tags["ingress.k8s.aws/stack"] == stack.id
    # The load balancer got the managed and the backend group, and the nodes let the
    # backend group in on the NodePort range (one rule for every NodePort Service) with
    # LBC's rule description.
    groups = lb["LoadBalancers"][0]["SecurityGroups"]
    assert len(groups) == 2
    node = world.ec2.describe_security_groups(GroupIds=[world.node_sg])["SecurityGroups"][0]
    pairs = [
        ((p["FromPort"], p["ToPort"]), g["GroupId"], g.get("Description"))
        for p in node["IpPermissions"]
        for g in p["UserIdGroupPairs"]
    ]
    assert len(pairs) == 1
    assert pairs[0][0] == (30000, 32767) and pairs[0][1] in groups
    assert pairs[0][2] == "elbv2.k8s.aws/targetGroupBinding=shared"


def test_second_deploy_with_nothing_changed_makes_no_mutating_call(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    stack, desired = make_stack(), targets(SVC_2048, world.nodes)
    deployer.deploy(stack, desired)
    assert deploy(deployer, clients, stack, desired) == []


@pytest.mark.parametrize(
    "case",
    [
        (paths("a", "b"), paths("a", "new", "b"), ["SetRulePriorities", "CreateRule"]),
        (paths("a", "b"), paths("a", "b", "new"), ["CreateRule"]),
        (paths("a", "b", "c"), paths("a", "c"), ["SetRulePriorities", "DeleteRule"]),
        (paths("a", "b", "c"), paths("a", "b"), ["DeleteRule"]),
        (paths("a", "b", "c"), paths("c", "a", "b"), ["SetRulePriorities"]),
        (paths("a", "b"), paths("a", "x"), ["ModifyRule"]),
    ],
    ids=[
        "path-added-middle",
        "path-added-end",
        "path-removed-middle",
        "path-removed-end",
        "reorder",
        "path-changed",
    ],
)
def test_rule_changes_make_only_the_calls_they_need(
    world: World,
    clients: AwsClients,
    deployer: Deployer,
    case: tuple[list[tuple[str, Svc]], list[tuple[str, Svc]], list[str]],
) -> None:
    before, after, calls = case
    desired = targets(SVC_2048, world.nodes)
    deployer.deploy(make_stack(before), desired)
    stack = make_stack(after)
    assert deploy(deployer, clients, stack, desired) == calls
    assert actual(world, stack.id) == expected(stack, desired)
    assert deploy(deployer, clients, stack, desired) == []


def test_service_port_change_moves_the_rule_to_a_new_target_group(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    deployer.deploy(make_stack(), targets(SVC_2048, world.nodes))
    moved = Svc(port=8080, node_port=30081)
    stack, desired = make_stack([("/", moved)]), targets(moved, world.nodes)
    assert deploy(deployer, clients, stack, desired) == [
        # No rule for the new NodePort: the nodes' range rule covers it.
        "CreateTargetGroup",
        "RegisterTargets",
        "ModifyRule",
        "DeleteTargetGroup",
    ]
    assert actual(world, stack.id) == expected(stack, desired)


def test_target_type_change_replaces_the_target_group(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    deployer.deploy(make_stack(), targets(SVC_2048, world.nodes))
    ip = Svc(target_type="ip")
    stack, desired = make_stack([("/", ip)]), targets(ip, ["10.0.11.5", "10.0.11.6"])
    old_arn = deployer.deploy(make_stack(), targets(SVC_2048, world.nodes)).target_group_arns[
        SVC_2048.tg_id
    ]
    assert deploy(deployer, clients, stack, desired) == [
        "CreateTargetGroup",
        "RegisterTargets",
        "ModifyRule",
        "DeleteTargetGroup",
    ]
    assert actual(world, stack.id) == expected(stack, desired)
    live = world.elbv2.describe_target_groups()["TargetGroups"]
    assert old_arn not in {tg["TargetGroupArn"] for tg in live}


@dataclass
class FakeDns:
    """Records what the deployer asked of DNS, and what AWS held at that moment."""

    world: World
    synced: list[tuple[str, str, list[str]]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def sync(
        self, stack: Stack, alias_dns_name: str, alias_zone_id: str
    ) -> tuple[DeployWarning, ...]:
        names = [
            lb["DNSName"] for lb in self.world.elbv2.describe_load_balancers()["LoadBalancers"]
        ]
        self.synced.append((alias_dns_name, alias_zone_id, names))
        return (DNS_WARNING,)

    def contested(self, stack_id: str) -> bool:
        return False

    def delete(self, stack_id: str) -> tuple[DeployWarning, ...]:
        ours = [
            lb
            for lb in self.world.elbv2.describe_load_balancers()["LoadBalancers"]
            if lb["LoadBalancerArn"] != self.world.foreign_lb
        ]
        self.deleted.append(f"{stack_id}:{len(ours)}")
        return ()


def test_scheme_change_brings_the_new_load_balancer_up_before_the_old_one_goes(
    world: World, clients: AwsClients
) -> None:
    dns = FakeDns(world)
    deployer = Deployer(clients, CLUSTER, dns=dns, sleep=lambda _: None)
    first = deployer.deploy(make_stack(), targets(SVC_2048, world.nodes))
    stack, desired = make_stack(scheme="internal"), targets(SVC_2048, world.nodes)
    mark = clients.counter.position()
    result = deployer.deploy(stack, desired)
    assert clients.counter.mutating(mark) == [
        "CreateTargetGroup",  # an ALB target group serves one load balancer only
        "RegisterTargets",
        "CreateLoadBalancer",
        "CreateListener",
        "CreateRule",
        "DeleteLoadBalancer",
        "DeleteTargetGroup",
    ]
    assert actual(world, stack.id) == expected(stack, desired)
    # DNS moved to the new load balancer while the old one still existed.
    new_name, zone, present = dns.synced[-1]
    assert new_name == result.dns_name != first.dns_name
    assert first.dns_name in [n.lower() for n in present]
    assert DNS_WARNING in result.warnings
    lb = world.elbv2.describe_load_balancers(LoadBalancerArns=[result.load_balancer_arn])[
        "LoadBalancers"
    ][0]
    assert {z["SubnetId"] for z in lb["AvailabilityZones"]} == set(world.private)
    assert zone == lb["CanonicalHostedZoneId"]


def test_group_join_and_leave(world: World, clients: AwsClients, deployer: Deployer) -> None:
    a = Svc(name="svc-a", ingress="ing-a", node_port=30001)
    b = Svc(name="svc-b", ingress="ing-b", node_port=30002)
    nodes = world.nodes
    alone = make_stack([("/a", a)], stack_id="shop", ingresses=("game-2048/ing-a",))
    deployer.deploy(alone, targets(a, nodes))
    joined = make_stack(
        [("/a", a), ("/b", b)], stack_id="shop", ingresses=("game-2048/ing-a", "game-2048/ing-b")
    )
    both = merge(targets(a, nodes), targets(b, nodes))
    assert deploy(deployer, clients, joined, both) == [
        "CreateTargetGroup",  # svc-b's NodePort is in the nodes' range rule already
        "RegisterTargets",
        "CreateRule",
    ]
    assert actual(world, "shop") == expected(joined, both)
    assert deploy(deployer, clients, alone, targets(a, nodes)) == [
        "DeleteRule",
        "DeleteTargetGroup",
    ]
    assert actual(world, "shop") == expected(alone, targets(a, nodes))


def test_node_added_and_removed_touch_only_targets(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    stack = make_stack()
    result = deployer.deploy(stack, targets(SVC_2048, world.nodes))
    node = world.add_node()
    mark = clients.counter.position()
    calls = deployer.sync_targets(result.target_group_arns, targets(SVC_2048, world.nodes))
    records = clients.counter.calls(mark)
    assert calls == 1
    assert [r.key.operation for r in records] == ["DescribeTargetHealth", "RegisterTargets"]
    assert records[1].params["Targets"] == [{"Id": node, "Port": SVC_2048.node_port}]
    world.nodes.remove(node)
    mark = clients.counter.position()
    assert deployer.sync_targets(result.target_group_arns, targets(SVC_2048, world.nodes)) == 1
    assert clients.counter.mutating(mark) == ["DeregisterTargets"]
    assert actual(world, stack.id) == expected(stack, targets(SVC_2048, world.nodes))


def test_targets_known_to_be_held_are_moved_with_no_read_first(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    """The rollout path: the reconciler says what each target group was last made to hold,
    so the first call after a change is the one that moves the target."""
    ip = Svc(target_type="ip")
    stack = make_stack([("/", ip)])
    before = targets(ip, ["10.0.11.10", "10.0.11.11"])
    result = deployer.deploy(stack, before)
    after = targets(ip, ["10.0.11.11", "10.0.11.12"])
    mark = clients.counter.position()
    assert deployer.sync_targets(result.target_group_arns, after, known=before) == 2
    assert [r.key.operation for r in clients.counter.calls(mark)] == [
        "RegisterTargets",
        "DeregisterTargets",
    ]
    assert actual(world, stack.id) == expected(stack, after)


def test_targets_scaled_5_50_5_in_one_call_per_change(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    ip = Svc(target_type="ip")
    stack = make_stack([("/", ip)])

    def pods(n: int) -> dict[str, frozenset[Target]]:
        return targets(ip, [f"10.0.11.{i + 10}" for i in range(n)])

    result = deployer.deploy(stack, pods(5))
    for n, call in ((50, "RegisterTargets"), (5, "DeregisterTargets")):
        mark = clients.counter.position()
        assert deployer.sync_targets(result.target_group_arns, pods(n)) == 1
        assert clients.counter.mutating(mark) == [call]
        assert actual(world, stack.id) == expected(stack, pods(n))


def test_targets_register_in_chunks_of_200(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    ip = Svc(target_type="ip")
    stack = make_stack([("/", ip)])
    result = deployer.deploy(stack, {})
    many = targets(ip, [f"10.0.{i // 250}.{i % 250 + 1}" for i in range(450)])
    mark = clients.counter.position()
    assert deployer.sync_targets(result.target_group_arns, many) == 3
    sizes = [
        len(r.params["Targets"])
        for r in clients.counter.calls(mark)
        if r.key.operation == "RegisterTargets"
    ]
    assert sizes == [200, 200, 50]


def test_tags_and_attributes_change_only_when_they_differ(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    desired = targets(SVC_2048, world.nodes)
    attrs = {"idle_timeout.timeout_seconds": "120"}
    first = make_stack(lb_tags={"team": "a"}, lb_attributes=attrs)
    assert "ModifyLoadBalancerAttributes" in deploy(deployer, clients, first, desired)
    assert deploy(deployer, clients, first, desired) == []
    retagged = make_stack(
        lb_tags={"team": "b"}, lb_attributes={**attrs, "routing.http2.enabled": "false"}
    )
    calls = deploy(deployer, clients, retagged, desired)
    # Only the new attribute key is sent; tags change on each resource that carries them.
    assert sorted(calls) == sorted(
        ["ModifyLoadBalancerAttributes", "AddTags", "CreateTags", "AddTags", "AddTags"]
    )
    lb_attrs = world.elbv2.describe_load_balancer_attributes(
        LoadBalancerArn=world.elbv2.describe_load_balancers(Names=[retagged.load_balancer.name])[
            "LoadBalancers"
        ][0]["LoadBalancerArn"]
    )["Attributes"]
    assert {"Key": "routing.http2.enabled", "Value": "false"} in lb_attrs
    assert deploy(deployer, clients, retagged, desired) == []


def test_subnets_given_by_name_change_in_place(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    desired = targets(SVC_2048, world.nodes)
    deployer.deploy(make_stack(), desired)
    stack = make_stack(subnets=("public-a", world.public[1]))
    assert deploy(deployer, clients, stack, desired) == []  # the same two subnets
    world.ec2.create_subnet(
        VpcId=world.vpc_id,
        CidrBlock="10.0.21.0/24",
        AvailabilityZone="us-east-1c",
        TagSpecifications=[
            {"ResourceType": "subnet", "Tags": [{"Key": "Name", "Value": "public-c"}]}
        ],
    )
    stack = make_stack(subnets=("public-a", "public-b", "public-c"))
    assert deploy(deployer, clients, stack, desired) == ["SetSubnets"]


def test_given_security_groups_replace_the_managed_one(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    desired = targets(SVC_2048, world.nodes)
    deployer.deploy(make_stack(), desired)
    custom = world.ec2.create_security_group(
        GroupName="custom",
        Description="custom",
        VpcId=world.vpc_id,
        TagSpecifications=[
            {"ResourceType": "security-group", "Tags": [{"Key": "Name", "Value": "custom-sg"}]}
        ],
    )["GroupId"]
    stack = make_stack(security_groups=("custom-sg",))
    assert deploy(deployer, clients, stack, desired) == ["SetSecurityGroups", "DeleteSecurityGroup"]
    lb = world.elbv2.describe_load_balancers(Names=[stack.load_balancer.name])["LoadBalancers"][0]
    assert custom in lb["SecurityGroups"] and len(lb["SecurityGroups"]) == 2  # + backend group


def test_managed_security_group_drift_is_repaired(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    desired = targets(SVC_2048, world.nodes)
    deployer.deploy(make_stack(), desired)
    managed = world.ec2.describe_security_groups(
        Filters=[{"Name": "tag:ingress.k8s.aws/resource", "Values": ["ManagedLBSecurityGroup"]}]
    )["SecurityGroups"][0]["GroupId"]
    world.ec2.authorize_security_group_ingress(
        GroupId=managed,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )
    assert deploy(deployer, clients, make_stack(), desired) == ["RevokeSecurityGroupIngress"]
    perms = world.ec2.describe_security_groups(GroupIds=[managed])["SecurityGroups"][0][
        "IpPermissions"
    ]
    assert [(p["FromPort"], [r["CidrIp"] for r in p["IpRanges"]]) for p in perms] == [
        (80, ["0.0.0.0/0"])
    ]


def test_a_rule_deleted_by_hand_is_recreated(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    desired = targets(SVC_2048, world.nodes)
    stack = make_stack(paths("a", "b"))
    result = deployer.deploy(stack, desired)
    listener = world.elbv2.describe_listeners(LoadBalancerArn=result.load_balancer_arn)[
        "Listeners"
    ][0]
    rule = next(
        r
        for r in world.elbv2.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
        if r["Priority"] == "1"
    )
    world.elbv2.delete_rule(RuleArn=rule["RuleArn"])
    assert deploy(deployer, clients, stack, desired) == ["CreateRule"]
    assert actual(world, stack.id) == expected(stack, desired)


def test_scheme_change_with_a_fixed_name_replaces_break_before_make(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    desired = targets(SVC_2048, world.nodes)
    deployer.deploy(make_stack(name="my-fixed-alb"), desired)
    stack = make_stack(name="my-fixed-alb", scheme="internal")
    result = deployer.deploy(stack, desired)
    assert [w.reason for w in result.warnings] == [LOAD_BALANCER_REPLACED]
    assert "replaced in place" in result.warnings[0].message
    assert actual(world, stack.id) == expected(stack, desired)
    assert deploy(deployer, clients, stack, desired) == []


def test_sync_targets_on_a_vanished_target_group_says_so(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    result = deployer.deploy(make_stack(), targets(SVC_2048, world.nodes))
    deployer.teardown(make_stack().id)
    with pytest.raises(AwsError) as raised:
        deployer.sync_targets(result.target_group_arns, targets(SVC_2048, world.nodes))
    assert raised.value.code == "TargetGroupNotFound" and not raised.value.retryable


def test_fresh_name_keeps_replacements_apart() -> None:
    name = "k8s-game2048-service2-2a70f19301"
    assert fresh_name(name, set()) == name
    other = fresh_name(name, {name})
    assert other != name and len(other) <= 32 and fresh_name(name, {name}) == other
    assert fresh_name(name, {name, other}) not in {name, other}


def test_ip_targets_behind_the_backend_group_get_a_node_security_groups_warning(
    world: World, deployer: Deployer
) -> None:
    ip = Svc(target_type="ip")
    result = deployer.deploy(make_stack([("/", ip)]), targets(ip, ["10.0.11.5"]))
    assert [w.reason for w in result.warnings] == [NODE_SECURITY_GROUPS_UNKNOWN]
    assert "not allowed into pods of ip targets" in result.warnings[0].message
