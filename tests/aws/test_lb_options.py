"""LBC v3.5's load balancer, listener and security group options on AWS: listener attributes,
the LCU reservation, the customer-owned and IPAM address pools, and managed prefix lists in
the frontend security group. Each is read only when the stack asks for it, changed only
where it differs, and adopted in place with no mutating call.
"""

from __future__ import annotations

from typing import Any

import pytest

from controller.aws.clients import AwsClients
from controller.aws.deployer import Deployer, DeployResult
from controller.aws.errors import AwsError
from controller.aws.warnings import CUSTOMER_OWNED_IPV4_POOL_UNCHANGED
from controller.model.stack import (
    IpamPools,
    MinimumLoadBalancerCapacity,
    SecurityGroupIngress,
    SecurityGroupPrefixListIngress,
    Stack,
)
from tests.aws.conftest import SESSION, World
from tests.aws.stacks import CLUSTER, SVC_2048, make_stack, targets

SERVER_HEADER = "routing.http.response.server.enabled"
HSTS = "routing.http.response.strict_transport_security.header_value"


def deploy(deployer: Deployer, stack: Stack, world: World) -> DeployResult:
    return deployer.deploy(stack, targets(SVC_2048, world.nodes[:1]))


def operations(clients: AwsClients, since: int) -> list[str]:
    return [r.key.operation for r in clients.counter.calls(since)]


def params_of(clients: AwsClients, since: int, operation: str) -> list[dict[str, Any]]:
    return [dict(r.params) for r in clients.counter.calls(since) if r.key.operation == operation]


def with_lb(stack: Stack, **fields: Any) -> Stack:
    lb = stack.load_balancer.model_copy(update=fields)
    return stack.model_copy(update={"load_balancer": lb})


def with_listener_attributes(stack: Stack, attributes: dict[str, str]) -> Stack:
    (listener,) = stack.listeners
    return stack.model_copy(
        update={"listeners": (listener.model_copy(update={"attributes": attributes}),)}
    )


def listener_attributes(lb_arn: str) -> dict[str, str]:
    elbv2: Any = SESSION.client("elbv2")
    (listener,) = elbv2.describe_listeners(LoadBalancerArn=lb_arn)["Listeners"]
    found = elbv2.describe_listener_attributes(ListenerArn=listener["ListenerArn"])
    return {a["Key"]: a["Value"] for a in found["Attributes"]}


# --- listener-attributes -----------------------------------------------------------------


def test_listener_attributes_are_set_then_left_alone(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    stack = with_listener_attributes(make_stack(), {SERVER_HEADER: "false"})
    lb = deploy(deployer, stack, world).load_balancer_arn
    assert listener_attributes(lb)[SERVER_HEADER] == "false"
    assert params_of(clients, 0, "ModifyListenerAttributes")[0]["Attributes"] == [
        {"Key": SERVER_HEADER, "Value": "false"}
    ]
    mark = clients.counter.position()
    deploy(deployer, stack, world)
    assert clients.counter.mutating(mark) == []
    assert operations(clients, mark).count("DescribeListenerAttributes") == 1


def test_only_the_changed_key_is_sent_and_a_dropped_key_is_not_reset(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    both = {SERVER_HEADER: "false", HSTS: "max-age=31536000"}
    lb = deploy(deployer, with_listener_attributes(make_stack(), both), world).load_balancer_arn

    mark = clients.counter.position()
    changed = {SERVER_HEADER: "false", HSTS: "max-age=60"}
    deploy(deployer, with_listener_attributes(make_stack(), changed), world)
    assert clients.counter.mutating(mark) == ["ModifyListenerAttributes"]
    assert params_of(clients, mark, "ModifyListenerAttributes")[0]["Attributes"] == [
        {"Key": HSTS, "Value": "max-age=60"}
    ]

    # LBC's map diff: a key no longer asked for keeps its value, and costs no call.
    mark = clients.counter.position()
    deploy(deployer, with_listener_attributes(make_stack(), {HSTS: "max-age=60"}), world)
    assert clients.counter.mutating(mark) == []
    assert listener_attributes(lb)[SERVER_HEADER] == "false"


def test_a_listener_without_attributes_wanted_is_never_read(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    deploy(deployer, make_stack(), world)
    deploy(deployer, make_stack(), world)
    assert "DescribeListenerAttributes" not in operations(clients, 0)


def test_an_attribute_aws_refuses_fails_the_deploy_naming_the_listener(
    world: World, deployer: Deployer
) -> None:
    stack = with_listener_attributes(make_stack(), {"tcp.idle_timeout.seconds": "60"})
    with pytest.raises(AwsError) as raised:
        deploy(deployer, stack, world)
    assert raised.value.code == "ValidationError"
    assert "attributes of listener 80" in str(raised.value)


# --- minimum-load-balancer-capacity ---------------------------------------------------------


def reservation(lb_arn: str) -> int | None:
    found = SESSION.client("elbv2").describe_capacity_reservation(LoadBalancerArn=lb_arn)
    minimum = found.get("MinimumLoadBalancerCapacity")
    return None if minimum is None else int(minimum["CapacityUnits"])


def reserving(units: int) -> Stack:
    return with_lb(
        make_stack(),
        minimum_load_balancer_capacity=MinimumLoadBalancerCapacity(capacity_units=units),
    )


def test_the_reservation_waits_for_a_new_load_balancer_then_is_made_once(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    first = deploy(deployer, reserving(200), world)
    # AWS takes a reservation only once the load balancer is active (the strict moto
    # refuses it while provisioning): the deploy says it is not done.
    assert "ModifyCapacityReservation" not in clients.counter.mutating(0)
    assert not first.complete
    lb = first.load_balancer_arn

    mark = clients.counter.position()
    second = deploy(deployer, reserving(200), world)
    assert clients.counter.mutating(mark) == ["ModifyCapacityReservation"]
    assert second.complete
    assert reservation(lb) == 200

    mark = clients.counter.position()
    deploy(deployer, reserving(200), world)
    assert clients.counter.mutating(mark) == []
    assert operations(clients, mark).count("DescribeCapacityReservation") == 1


def test_zero_resets_and_absent_leaves_the_reservation_alone(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    lb = deploy(deployer, reserving(300), world).load_balancer_arn
    deploy(deployer, reserving(300), world)
    assert reservation(lb) == 300

    mark = clients.counter.position()
    deploy(deployer, make_stack(), world)  # no annotation: untouched, not even read
    assert "DescribeCapacityReservation" not in operations(clients, mark)
    assert reservation(lb) == 300

    mark = clients.counter.position()
    deploy(deployer, reserving(0), world)
    assert clients.counter.mutating(mark) == ["ModifyCapacityReservation"]
    assert params_of(clients, mark, "ModifyCapacityReservation")[0]["ResetCapacityReservation"]
    assert reservation(lb) is None

    mark = clients.counter.position()
    deploy(deployer, reserving(0), world)
    assert clients.counter.mutating(mark) == []


def test_a_reservation_made_before_is_adopted_without_a_call(
    world: World, clients: AwsClients
) -> None:
    first = Deployer(clients, CLUSTER, sleep=lambda _: None)
    lb = deploy(first, make_stack(), world).load_balancer_arn
    described(lb)  # moto's load balancer turns active once described
    SESSION.client("elbv2").modify_capacity_reservation(
        LoadBalancerArn=lb, MinimumLoadBalancerCapacity={"CapacityUnits": 500}
    )
    mark = clients.counter.position()
    deploy(Deployer(clients, CLUSTER, sleep=lambda _: None), reserving(500), world)
    assert clients.counter.mutating(mark) == []


# --- customer-owned-ipv4-pool and ipam-ipv4-pool-id -----------------------------------------


def described(lb_arn: str) -> dict[str, Any]:
    elbv2: Any = SESSION.client("elbv2")
    found: dict[str, Any] = elbv2.describe_load_balancers(LoadBalancerArns=[lb_arn])[
        "LoadBalancers"
    ][0]
    return found


def test_pools_are_given_on_create_and_adopted_without_a_call(
    world: World, clients: AwsClients
) -> None:
    stack = with_lb(
        make_stack(),
        customer_owned_ipv4_pool="ipv4pool-coip-0abc",
        ipam_pools=IpamPools(ipv4_ipam_pool_id="ipam-pool-0abc"),
    )
    lb = deploy(Deployer(clients, CLUSTER, sleep=lambda _: None), stack, world).load_balancer_arn
    (create,) = params_of(clients, 0, "CreateLoadBalancer")
    assert create["CustomerOwnedIpv4Pool"] == "ipv4pool-coip-0abc"
    assert create["IpamPools"] == {"Ipv4IpamPoolId": "ipam-pool-0abc"}
    assert "ModifyIpPools" not in clients.counter.mutating(0)
    assert described(lb)["IpamPools"] == {"Ipv4IpamPoolId": "ipam-pool-0abc"}

    mark = clients.counter.position()
    result = deploy(Deployer(clients, CLUSTER, sleep=lambda _: None), stack, world)
    assert clients.counter.mutating(mark) == []
    assert result.warnings == ()


def test_the_ipam_pool_changes_in_place_and_goes_when_not_asked_for(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    lb = deploy(deployer, make_stack(), world).load_balancer_arn
    mark = clients.counter.position()
    deploy(
        deployer,
        with_lb(make_stack(), ipam_pools=IpamPools(ipv4_ipam_pool_id="ipam-pool-1")),
        world,
    )
    assert clients.counter.mutating(mark) == ["ModifyIpPools"]
    assert described(lb)["IpamPools"] == {"Ipv4IpamPoolId": "ipam-pool-1"}

    # LBC's rule: a load balancer whose Ingresses name no pool has none.
    mark = clients.counter.position()
    deploy(deployer, make_stack(), world)
    assert clients.counter.mutating(mark) == ["ModifyIpPools"]
    assert params_of(clients, mark, "ModifyIpPools")[0]["RemoveIpamPools"] == ["ipv4"]
    assert not (described(lb).get("IpamPools") or {}).get("Ipv4IpamPoolId")


def test_another_customer_owned_pool_is_a_warning_not_a_new_load_balancer(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    made = with_lb(make_stack(), customer_owned_ipv4_pool="ipv4pool-coip-first")
    lb = deploy(deployer, made, world).load_balancer_arn
    mark = clients.counter.position()
    result = deploy(
        deployer, with_lb(make_stack(), customer_owned_ipv4_pool="ipv4pool-coip-other"), world
    )
    assert result.load_balancer_arn == lb
    assert clients.counter.mutating(mark) == []
    [warning] = result.warnings
    assert warning.reason == CUSTOMER_OWNED_IPV4_POOL_UNCHANGED
    assert "ipv4pool-coip-first" in warning.message


# --- security-group-prefix-lists --------------------------------------------------------------


def prefix_list(max_entries: int = 5, family: str = "IPv4") -> str:
    ec2: Any = SESSION.client("ec2")
    return str(
        ec2.create_managed_prefix_list(
            PrefixListName=f"office-{max_entries}",
            MaxEntries=max_entries,
            AddressFamily=family,
        )["PrefixList"]["PrefixListId"]
    )


def opened_to(
    lists: tuple[str, ...], cidrs: tuple[str, ...] = (), ports: tuple[int, ...] = (80,)
) -> Stack:
    stack = make_stack()
    assert stack.security_group is not None
    group = stack.security_group.model_copy(
        update={
            "ingress": tuple(SecurityGroupIngress(port=p, cidr=c) for p in ports for c in cidrs),
            "prefix_list_ingress": tuple(
                SecurityGroupPrefixListIngress(port=p, prefix_list_id=pl)
                for p in ports
                for pl in lists
            ),
        }
    )
    return stack.model_copy(update={"security_group": group})


def managed_permissions(world: World) -> list[dict[str, Any]]:
    (group,) = world.ec2.describe_security_groups(
        Filters=[{"Name": "tag:ingress.k8s.aws/resource", "Values": ["ManagedLBSecurityGroup"]}]
    )["SecurityGroups"]
    found: list[dict[str, Any]] = group["IpPermissions"]
    return found


def test_the_managed_group_opens_the_ports_to_prefix_lists_only(
    world: World, clients: AwsClients
) -> None:
    office = prefix_list()
    stack = opened_to((office,))
    deploy(Deployer(clients, CLUSTER, sleep=lambda _: None), stack, world)
    [permission] = managed_permissions(world)
    assert permission["FromPort"] == permission["ToPort"] == 80
    assert [p["PrefixListId"] for p in permission["PrefixListIds"]] == [office]
    assert permission["IpRanges"] == []

    # A second deploy, and a new controller adopting the group, change nothing.
    mark = clients.counter.position()
    deploy(Deployer(clients, CLUSTER, sleep=lambda _: None), stack, world)
    assert clients.counter.mutating(mark) == []
    assert "DescribeManagedPrefixLists" not in operations(clients, mark)


def test_prefix_lists_beside_cidrs_and_removed_again(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    office = prefix_list()
    deploy(deployer, opened_to((office,), cidrs=("10.0.0.0/8",)), world)
    [permission] = managed_permissions(world)
    assert [r["CidrIp"] for r in permission["IpRanges"]] == ["10.0.0.0/8"]
    assert [p["PrefixListId"] for p in permission["PrefixListIds"]] == [office]

    mark = clients.counter.position()
    deploy(deployer, opened_to((), cidrs=("10.0.0.0/8",)), world)
    assert clients.counter.mutating(mark) == ["RevokeSecurityGroupIngress"]
    [permission] = managed_permissions(world)
    assert permission["PrefixListIds"] == []


def test_an_unknown_prefix_list_is_refused_before_any_rule_is_added(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    with pytest.raises(AwsError) as raised:
        deploy(deployer, opened_to(("pl-0123456789abcdef0",)), world)
    assert raised.value.code == "InvalidPrefixListID.NotFound"
    assert not raised.value.retryable
    assert "pl-0123456789abcdef0" in str(raised.value)
    assert "AuthorizeSecurityGroupIngress" not in clients.counter.mutating(0)


def test_a_prefix_list_counts_as_its_max_entries_against_the_rules_quota(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    big = prefix_list(max_entries=40)
    with pytest.raises(AwsError) as raised:
        deploy(deployer, opened_to((big,), ports=(80, 443)), world)  # 2 x 40 > 60
    assert raised.value.code == "RulesPerSecurityGroupLimitExceeded"
    assert "80 IPv4 rules" in str(raised.value)
    assert "AuthorizeSecurityGroupIngress" not in clients.counter.mutating(0)


def test_the_quota_counts_each_address_family_apart(world: World, deployer: Deployer) -> None:
    v4, v6 = prefix_list(max_entries=40), prefix_list(max_entries=40, family="IPv6")
    deploy(deployer, opened_to((v4, v6)), world)  # 40 IPv4 + 40 IPv6 rules: both fit
    [permission] = managed_permissions(world)
    assert sorted(p["PrefixListId"] for p in permission["PrefixListIds"]) == sorted((v4, v6))


def test_a_swap_that_fits_only_without_the_old_rules_revokes_them_first(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    deploy(deployer, opened_to((), cidrs=("10.0.0.0/8", "192.168.0.0/16")), world)
    large = prefix_list(max_entries=60)
    mark = clients.counter.position()
    # 2 rules now + 60 would pass the quota (AWS counts at the authorize); 60 alone fits.
    deploy(deployer, opened_to((large,)), world)
    assert clients.counter.mutating(mark) == [
        "RevokeSecurityGroupIngress",
        "AuthorizeSecurityGroupIngress",
    ]
    [permission] = managed_permissions(world)
    assert permission["IpRanges"] == []
