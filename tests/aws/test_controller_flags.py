"""aws-load-balancer-controller's flags that change what the AWS layer does:
`--external-managed-tags`, `--allowed-certificate-authority-arns`, `--enable-waf*` and
`--enable-shield`, `--max-targets-per-target-group` (`controller.config.Settings`)."""

from __future__ import annotations

from typing import Any

import pytest

from controller.aws import build_deployer
from controller.aws.clients import AwsClients
from controller.aws.deployer import Deployer
from controller.aws.discovery import Discovery
from controller.aws.errors import AwsError
from controller.aws.steps import AddOns, BackendGroup
from controller.aws.targets import registered
from controller.config import Settings
from controller.model.stack import ShieldProtection, WebAclAssociation
from tests.aws.conftest import SESSION, World, import_certificate
from tests.aws.stacks import CLUSTER, SVC_2048, make_stack, targets
from tests.aws.test_protection import web_acl, with_add_ons

TEAM_TAG = "cost-center"


def _hand_tag_everything(world: World, stack_id: str) -> list[str]:
    """Tag every ELBv2 resource and the managed security group of the stack by hand."""
    found = [
        m["ResourceARN"]
        for m in world.tagging.get_resources(
            TagFilters=[
                {"Key": "ingress.k8s.aws/stack", "Values": [stack_id]},
                {"Key": "elbv2.k8s.aws/cluster", "Values": [CLUSTER]},
            ]
        )["ResourceTagMappingList"]
        if ":elasticloadbalancing:" in m["ResourceARN"]
    ]
    for lb in [arn for arn in found if ":loadbalancer/" in arn]:
        for listener in world.elbv2.describe_listeners(LoadBalancerArn=lb)["Listeners"]:
            found.append(listener["ListenerArn"])
            rules = world.elbv2.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
            found += [r["RuleArn"] for r in rules if not r["IsDefault"]]
    world.elbv2.add_tags(ResourceArns=found, Tags=[{"Key": TEAM_TAG, "Value": "42"}])
    groups = world.ec2.describe_security_groups(
        Filters=[
            {"Name": "tag:ingress.k8s.aws/stack", "Values": [stack_id]},
            {"Name": "tag:elbv2.k8s.aws/cluster", "Values": [CLUSTER]},
        ]
    )["SecurityGroups"]
    world.ec2.create_tags(
        Resources=[g["GroupId"] for g in groups], Tags=[{"Key": TEAM_TAG, "Value": "42"}]
    )
    return found + [g["GroupId"] for g in groups]


@pytest.mark.parametrize("external", [True, False])
def test_externally_managed_tags_are_left_alone(
    world: World, clients: AwsClients, deployer: Deployer, external: bool
) -> None:
    stack = make_stack()
    deployer.deploy(stack, targets(SVC_2048, world.nodes[:1]))
    tagged = _hand_tag_everything(world, stack.id)
    assert len(tagged) >= 5  # load balancer, target group, listener, rule, security group
    if external:
        clients.external_tags = frozenset({TEAM_TAG})
    mark = clients.counter.position()
    deployer.deploy(stack, targets(SVC_2048, world.nodes[:1]))
    removed = [
        r for r in clients.counter.calls(mark) if r.key.operation in ("RemoveTags", "DeleteTags")
    ]
    # The control: without the setting, our tag sync takes the hand-made tag off each.
    assert (removed == []) is external


def test_discovery_only_finds_certificates_of_the_allowed_authorities(
    world: World, clients: AwsClients
) -> None:
    pca = "arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/allowed"
    acm: Any = SESSION.client("acm")
    private = acm.request_certificate(DomainName="shop.example.com", CertificateAuthorityArn=pca)[
        "CertificateArn"
    ]
    import_certificate("shop.example.com")  # self-signed: no private CA
    import_certificate("other.example.com")
    assert Discovery(clients, CLUSTER, allowed_authorities=[pca]).certificates(
        ["shop.example.com"]
    ) == (private,)
    assert len(Discovery(clients, CLUSTER).certificates(["shop.example.com"])) == 2
    with pytest.raises(AwsError) as raised:
        Discovery(clients, CLUSTER, allowed_authorities=[pca]).certificates(["other.example.com"])
    assert "ALLOWED_CERTIFICATE_AUTHORITY_ARNS" in str(raised.value)


def test_add_ons_turned_off_make_no_waf_or_shield_call(world: World, clients: AwsClients) -> None:
    off = Deployer(
        clients,
        CLUSTER,
        sleep=lambda _: None,
        add_ons=AddOns(waf_classic=False, wafv2=False, shield=False),
    )
    stack = with_add_ons(
        make_stack(),
        wafv2=WebAclAssociation(arn=web_acl("firewall-manager")),
        shield_advanced=ShieldProtection(enabled=True),
    )
    off.deploy(stack, targets(SVC_2048, world.nodes[:1]))
    off.teardown(stack.id)
    services = {r.key.service for r in clients.counter.calls(0)}
    assert services.isdisjoint({"wafv2", "wafregional", "shield"})


def test_at_most_the_limit_of_targets_and_the_registered_ones_stay(
    world: World, clients: AwsClients
) -> None:
    capped = Deployer(clients, CLUSTER, sleep=lambda _: None, max_targets_per_target_group=2)
    stack = make_stack()
    first = capped.deploy(stack, targets(SVC_2048, world.nodes[1:]))  # 2 of 3 nodes
    arn = first.target_group_arns[SVC_2048.tg_id]
    before = registered(clients, arn)
    assert len(before) == 2
    capped.sync_targets(first.target_group_arns, targets(SVC_2048, world.nodes))  # all 3
    assert registered(clients, arn) == before


def test_the_settings_reach_the_deployer(world: World, clients: AwsClients) -> None:
    settings = Settings(
        cluster_name=CLUSTER,
        external_managed_tags=[TEAM_TAG],
        enable_shield=False,
        max_targets_per_target_group=7,
        manage_dns=False,
    )
    deployer = build_deployer(settings, clients)
    assert clients.external_tags == {TEAM_TAG}
    by_name = {step.name: step for step in deployer.steps}
    assert by_name["protection"].enabled == AddOns(shield=False)  # type: ignore[attr-defined]
    assert by_name["targets"].max_targets == 7  # type: ignore[attr-defined]


def _node_sources(world: World) -> set[str]:
    node = world.ec2.describe_security_groups(GroupIds=[world.node_sg])["SecurityGroups"][0]
    return {
        pair["GroupId"]
        for perm in node["IpPermissions"]
        for pair in perm.get("UserIdGroupPairs", [])
    }


def _lb_groups(world: World, arn: str) -> list[str]:
    [lb] = world.elbv2.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"]
    return list(lb["SecurityGroups"])


def test_a_given_backend_group_is_used_and_never_deleted(world: World, clients: AwsClients) -> None:
    mine = world.ec2.create_security_group(
        GroupName="platform-backend", Description="ours, not the controller's", VpcId=world.vpc_id
    )["GroupId"]
    given = Deployer(clients, CLUSTER, sleep=lambda _: None, backend=BackendGroup(given=mine))
    stack = make_stack()
    result = given.deploy(stack, targets(SVC_2048, world.nodes[:1]))
    assert mine in _lb_groups(world, result.load_balancer_arn)
    assert _node_sources(world) == {mine}
    given.teardown(stack.id)
    assert world.ec2.describe_security_groups(GroupIds=[mine])["SecurityGroups"]
    made = world.ec2.describe_security_groups(
        Filters=[{"Name": "tag:elbv2.k8s.aws/resource", "Values": ["backend-sg"]}]
    )["SecurityGroups"]
    assert made == []  # no backend group of our own was made


def test_without_a_shared_backend_the_nodes_let_the_frontend_group_in(
    world: World, clients: AwsClients
) -> None:
    unshared = Deployer(clients, CLUSTER, sleep=lambda _: None, backend=BackendGroup(shared=False))
    stack = make_stack()
    result = unshared.deploy(stack, targets(SVC_2048, world.nodes[:1]))
    [frontend] = _lb_groups(world, result.load_balancer_arn)
    assert _node_sources(world) == {frontend}
    unshared.teardown(stack.id)
    assert _node_sources(world) == set()
    assert world.leaks() == []
