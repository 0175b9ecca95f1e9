"""Discovery: subnets by role and cluster tags, Name tags to IDs, ACM certificates by host;
and HTTPS listeners using what was found (SNI certificates in one call per listener)."""

from __future__ import annotations

import pytest

from controller.aws.clients import AwsClients
from controller.aws.deployer import Deployer
from controller.aws.discovery import Discovery, host_matches
from controller.aws.errors import AwsError
from tests.aws.conftest import World, import_certificate
from tests.aws.stacks import CLUSTER, SVC_2048, make_stack, targets


def test_internet_facing_uses_public_subnets_and_skips_another_clusters(
    world: World, clients: AwsClients
) -> None:
    choice = Discovery(clients, CLUSTER).subnets("internet-facing", None)
    assert set(choice.subnet_ids) == set(world.public)
    assert world.decoy_subnet not in choice.subnet_ids
    assert choice.vpc_id == world.vpc_id


def test_internal_uses_private_subnets(world: World, clients: AwsClients) -> None:
    choice = Discovery(clients, CLUSTER).subnets("internal", None)
    assert set(choice.subnet_ids) == set(world.private)


def test_one_subnet_per_zone_preferring_cluster_tagged_then_lowest_id(
    world: World, clients: AwsClients
) -> None:
    untagged = world.ec2.create_subnet(
        VpcId=world.vpc_id,
        CidrBlock="10.0.31.0/24",
        AvailabilityZone="us-east-1a",
        TagSpecifications=[
            {"ResourceType": "subnet", "Tags": [{"Key": "kubernetes.io/role/elb", "Value": "1"}]}
        ],
    )["Subnet"]["SubnetId"]
    choice = Discovery(clients, CLUSTER).subnets("internet-facing", None)
    assert untagged not in choice.subnet_ids
    assert set(choice.subnet_ids) == set(world.public)


def test_too_few_zones_is_an_error_naming_the_tags(world: World, clients: AwsClients) -> None:
    world.ec2.delete_tags(Resources=[world.public[1]], Tags=[{"Key": "kubernetes.io/role/elb"}])
    with pytest.raises(AwsError) as raised:
        Discovery(clients, CLUSTER).subnets("internet-facing", None)
    message = str(raised.value)
    assert "kubernetes.io/role/elb" in message and "kubernetes.io/cluster/" in message
    assert "at least 2 availability zones" in message and not raised.value.retryable


def _tag(world: World, subnet: str, key: str, value: str) -> None:
    world.ec2.create_tags(Resources=[subnet], Tags=[{"Key": key, "Value": value}])


def test_subnet_tags_choose_among_the_subnets_that_carry_them(
    world: World, clients: AwsClients
) -> None:
    """IngressClassParams spec.subnets.tags: the role tag is not needed, each key must be
    there with one of its values (any value when none is listed)."""
    for subnet in world.private:
        _tag(world, subnet, "tier", "edge")
        _tag(world, subnet, "team", "shop")
    _tag(world, world.public[0], "tier", "edge")  # no team tag: not a candidate
    _tag(world, world.decoy_subnet, "tier", "edge")  # another cluster's
    _tag(world, world.decoy_subnet, "team", "shop")
    discovery = Discovery(clients, CLUSTER)
    # An internet-facing ALB, yet private (untagged for the role) subnets: the filter wins.
    choice = discovery.subnets("internet-facing", None, {"tier": ("edge", "web"), "team": ()})
    assert set(choice.subnet_ids) == set(world.private)
    with pytest.raises(AwsError) as raised:
        discovery.subnets("internal", None, {"tier": ("web",)})
    assert "tier=web (IngressClassParams spec.subnets.tags)" in str(raised.value)
    assert "at least 2 availability zones" in str(raised.value)


def test_names_resolve_to_ids_and_missing_ones_are_named(world: World, clients: AwsClients) -> None:
    discovery = Discovery(clients, CLUSTER)
    choice = discovery.subnets("internal", ("public-a", world.public[1]))
    assert set(choice.subnet_ids) == set(world.public)
    with pytest.raises(AwsError, match="no-such-subnet"):
        discovery.subnets("internal", ("public-a", "no-such-subnet"))
    with pytest.raises(AwsError, match="no-such-group"):
        discovery.security_group_ids(("no-such-group", world.foreign_sg), world.vpc_id)
    assert discovery.security_group_ids((world.foreign_sg,), world.vpc_id) == (world.foreign_sg,)


@pytest.mark.parametrize(
    ("host", "name", "matches"),
    [
        ("2048.example.com", "2048.example.com", True),
        ("2048.example.com", "*.example.com", True),
        ("a.b.example.com", "*.example.com", False),
        ("example.com", "*.example.com", False),
        ("2048.EXAMPLE.com", "2048.example.com.", True),
    ],
)
def test_host_matching(host: str, name: str, matches: bool) -> None:
    assert host_matches(host, name) is matches


def test_certificates_by_host_exact_or_wildcard_and_cached(
    world: World, clients: AwsClients
) -> None:
    exact = import_certificate("2048.example.com")
    wildcard = import_certificate("example.com", "*.example.com")
    import_certificate("other.org")
    now = [0.0]
    discovery = Discovery(clients, CLUSTER, clock=lambda: now[0])
    assert discovery.certificates(["2048.example.com"]) == tuple(sorted([exact, wildcard]))
    assert discovery.certificates(["shop.example.com"]) == (wildcard,)
    mark = clients.counter.position()
    discovery.certificates(["2048.example.com"])
    assert clients.counter.calls(mark) == []  # cached
    with pytest.raises(AwsError, match=r"nothing\.example\.net"):
        discovery.certificates(["2048.example.com", "nothing.example.net"])
    now[0] = 61.0
    discovery.certificates(["2048.example.com"])
    assert [r.key.operation for r in clients.counter.calls(mark)] == ["ListCertificates"]


def test_https_listener_with_discovered_and_sni_certificates(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    first = import_certificate("2048.example.com")
    second = import_certificate("*.example.com")
    third = import_certificate("2048.example.com")
    desired = targets(SVC_2048, world.nodes)
    stack = make_stack(https=(first, second))
    result = deployer.deploy(stack, desired)
    listener = next(
        li
        for li in world.elbv2.describe_listeners(LoadBalancerArn=result.load_balancer_arn)[
            "Listeners"
        ]
        if li["Port"] == 443
    )
    # (moto also lists SNI certificates here; AWS shows only the default one)
    assert listener["Certificates"][0]["CertificateArn"] == first
    listed = world.elbv2.describe_listener_certificates(ListenerArn=listener["ListenerArn"])
    assert {c["CertificateArn"] for c in listed["Certificates"] if not c.get("IsDefault")} >= {
        second
    }
    mark = clients.counter.position()
    deployer.deploy(make_stack(https=(first, third)), desired)
    assert sorted(clients.counter.mutating(mark)) == [
        "AddListenerCertificates",
        "RemoveListenerCertificates",
    ]
    mark = clients.counter.position()
    deployer.deploy(make_stack(https=()), desired)  # discover: all three cover the host
    calls = clients.counter.mutating(mark)
    assert calls in (["ModifyListener", "AddListenerCertificates"], ["AddListenerCertificates"])
    mark = clients.counter.position()
    deployer.deploy(make_stack(), desired)  # HTTPS no longer asked for
    assert sorted(clients.counter.mutating(mark)) == [
        "DeleteListener",
        "RevokeSecurityGroupIngress",
    ]


def test_the_default_certificate_listed_as_an_extra_one_as_lbc_does_is_left_alone(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    # LBC adds every certificate of a listener with AddListenerCertificates, the default one
    # too; on switch-over our diff took that entry for an extra and removed it.
    first = import_certificate("2048.example.com")
    second = import_certificate("*.example.com")
    desired = targets(SVC_2048, world.nodes)
    result = deployer.deploy(make_stack(https=(first, second)), desired)
    [listener] = [
        li
        for li in world.elbv2.describe_listeners(LoadBalancerArn=result.load_balancer_arn)[
            "Listeners"
        ]
        if li["Port"] == 443
    ]
    world.elbv2.add_listener_certificates(
        ListenerArn=listener["ListenerArn"], Certificates=[{"CertificateArn": first}]
    )
    mark = clients.counter.position()
    deployer.deploy(make_stack(https=(first, second)), desired)
    assert clients.counter.mutating(mark) == []


def test_given_certificates_come_first_then_those_discovered_for_the_other_members(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    given = import_certificate("given.example.com")
    found = import_certificate("2048.example.com")  # the stack's host
    stack = make_stack(https=(given,))
    https = stack.listeners[1].model_copy(update={"certificate_hosts": ("2048.example.com",)})
    stack = stack.model_copy(update={"listeners": (stack.listeners[0], https)})
    result = deployer.deploy(stack, targets(SVC_2048, world.nodes))
    [listener] = [
        li
        for li in world.elbv2.describe_listeners(LoadBalancerArn=result.load_balancer_arn)[
            "Listeners"
        ]
        if li["Port"] == 443
    ]
    assert listener["Certificates"][0]["CertificateArn"] == given  # the default
    listed = world.elbv2.describe_listener_certificates(ListenerArn=listener["ListenerArn"])
    assert found in {c["CertificateArn"] for c in listed["Certificates"]}
