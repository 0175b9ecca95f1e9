"""WAF and Shield on AWS (`controller/aws/steps/protection.py`): each managed only when the
stack asks, changed only when it differs, in place before the load balancer has a listener,
and a Shield protection of ours deleted with its load balancer.
"""

from __future__ import annotations

from typing import Any

import pytest

from controller.aws.clients import AwsClients
from controller.aws.deployer import Deployer
from controller.aws.errors import AwsError
from controller.aws.protection import SHIELD_PROTECTION_NAME
from controller.aws.warnings import SHIELD_NOT_SUBSCRIBED
from controller.model.stack import (
    ShieldProtection,
    Stack,
    WafClassicAssociation,
    WebAclAssociation,
)
from tests.aws.conftest import SESSION, World
from tests.aws.stacks import CLUSTER, SVC_2048, make_stack, targets
from tests.aws.wafclassic import FakeWafRegional


def with_add_ons(stack: Stack, **add_ons: Any) -> Stack:
    lb = stack.load_balancer.model_copy(update=add_ons)
    return stack.model_copy(update={"load_balancer": lb})


def web_acl(name: str) -> str:
    wafv2: Any = SESSION.client("wafv2")
    return str(
        wafv2.create_web_acl(
            Name=name,
            Scope="REGIONAL",
            DefaultAction={"Allow": {}},
            VisibilityConfig={
                "SampledRequestsEnabled": False,
                "CloudWatchMetricsEnabled": False,
                "MetricName": name,
            },
        )["Summary"]["ARN"]
    )


def associated(lb_arn: str) -> str | None:
    acl = SESSION.client("wafv2").get_web_acl_for_resource(ResourceArn=lb_arn).get("WebACL")
    return None if acl is None else str(acl["ARN"])


def operations(clients: AwsClients, since: int, *services: str) -> list[str]:
    return [r.key.operation for r in clients.counter.calls(since) if r.key.service in services]


def deploy(deployer: Deployer, stack: Stack, world: World) -> str:
    return deployer.deploy(stack, targets(SVC_2048, world.nodes[:1])).load_balancer_arn


def test_a_new_load_balancer_has_its_web_acl_before_any_listener(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    acl = web_acl("frontline")
    lb = deploy(deployer, with_add_ons(make_stack(), wafv2=WebAclAssociation(arn=acl)), world)
    assert associated(lb) == acl
    calls = operations(clients, 0, "elbv2", "wafv2")
    # Nothing to read on a load balancer just made; the association precedes the listeners.
    assert "GetWebACLForResource" not in calls
    assert calls.index("AssociateWebACL") < calls.index("CreateListener")


def test_the_association_changes_only_when_it_differs(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    first, second = web_acl("first"), web_acl("second")
    stack = with_add_ons(make_stack(), wafv2=WebAclAssociation(arn=first))
    lb = deploy(deployer, stack, world)
    mark = clients.counter.position()
    deploy(deployer, stack, world)
    assert clients.counter.mutating(mark) == []
    assert operations(clients, mark, "wafv2") == ["GetWebACLForResource"]

    mark = clients.counter.position()
    deploy(deployer, with_add_ons(make_stack(), wafv2=WebAclAssociation(arn=second)), world)
    assert clients.counter.mutating(mark) == ["AssociateWebACL"]
    assert associated(lb) == second

    mark = clients.counter.position()
    deploy(deployer, with_add_ons(make_stack(), wafv2=WebAclAssociation()), world)  # none
    assert clients.counter.mutating(mark) == ["DisassociateWebACL"]
    assert associated(lb) is None


def test_without_the_annotation_an_association_made_by_hand_stays(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    lb = deploy(deployer, make_stack(), world)
    acl = web_acl("by-hand")
    SESSION.client("wafv2").associate_web_acl(WebACLArn=acl, ResourceArn=lb)
    mark = clients.counter.position()
    deploy(deployer, make_stack(), world)
    assert operations(clients, mark, "wafv2", "wafregional", "shield") == []
    assert associated(lb) == acl


def test_a_web_acl_by_name_is_found_once(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    web_acl("decoy")
    acl = web_acl("by-name")
    stack = with_add_ons(make_stack(), wafv2=WebAclAssociation(name="by-name"))
    lb = deploy(deployer, stack, world)
    assert associated(lb) == acl
    mark = clients.counter.position()
    deploy(deployer, stack, world)
    assert operations(clients, mark, "wafv2") == ["GetWebACLForResource"]  # the name cached


def test_an_unknown_web_acl_stops_a_new_load_balancer_before_its_listeners(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    stack = with_add_ons(make_stack(), wafv2=WebAclAssociation(name="missing"))
    with pytest.raises(AwsError) as raised:
        deploy(deployer, stack, world)
    assert raised.value.code == "WAFNonexistentItemException"
    assert not raised.value.retryable
    assert "missing" in str(raised.value)
    assert "CreateListener" not in clients.counter.mutating(0)


@pytest.fixture
def shield_subscription(world: World) -> None:
    SESSION.client("shield", region_name="us-east-1").create_subscription()


def protections() -> list[dict[str, Any]]:
    shield: Any = SESSION.client("shield", region_name="us-east-1")
    found: list[dict[str, Any]] = shield.list_protections()["Protections"]
    return found


@pytest.mark.usefixtures("shield_subscription")
def test_shield_protection_on_off_and_gone_with_its_load_balancer(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    on = with_add_ons(make_stack(), shield_advanced=ShieldProtection(enabled=True))
    lb = deploy(deployer, on, world)
    assert [(p["ResourceArn"], p["Name"]) for p in protections()] == [(lb, SHIELD_PROTECTION_NAME)]
    mark = clients.counter.position()
    deploy(deployer, on, world)
    assert clients.counter.mutating(mark) == []

    deploy(
        deployer, with_add_ons(make_stack(), shield_advanced=ShieldProtection(enabled=False)), world
    )
    assert protections() == []

    deploy(deployer, on, world)
    deployer.teardown(make_stack().id)
    assert protections() == []


@pytest.mark.usefixtures("shield_subscription")
def test_a_protection_someone_else_made_is_never_deleted(world: World, deployer: Deployer) -> None:
    lb = deploy(deployer, make_stack(), world)
    shield: Any = SESSION.client("shield", region_name="us-east-1")
    shield.create_protection(Name="security team", ResourceArn=lb)
    off = with_add_ons(make_stack(), shield_advanced=ShieldProtection(enabled=False))
    deploy(deployer, off, world)
    assert [p["Name"] for p in protections()] == ["security team"]


def test_shield_without_a_subscription_is_a_warning(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    on = with_add_ons(make_stack(), shield_advanced=ShieldProtection(enabled=True))
    result = deployer.deploy(on, targets(SVC_2048, world.nodes[:1]))
    assert [w.reason for w in result.warnings] == [SHIELD_NOT_SUBSCRIBED]
    assert "CreateProtection" not in clients.counter.mutating(0)
    deployer.teardown(on.id)  # no subscription: nothing of Shield to delete, no error
    assert world.leaks() == []


@pytest.fixture
def waf_classic(world: World, clients: AwsClients) -> FakeWafRegional:
    fake = FakeWafRegional(web_acls={"acl-1": "one", "acl-2": "two"})
    elbv2: Any = SESSION.client("elbv2")
    fake.exists = lambda arn: bool(
        arn.startswith("arn:") and elbv2.describe_load_balancers(LoadBalancerArns=[arn])
    )
    fake.attach(clients.wafregional)
    return fake


def test_waf_classic_association(
    world: World, clients: AwsClients, deployer: Deployer, waf_classic: FakeWafRegional
) -> None:
    stack = with_add_ons(make_stack(), waf_classic=WafClassicAssociation(web_acl_id="acl-1"))
    lb = deploy(deployer, stack, world)
    assert waf_classic.associations == {lb: "acl-1"}
    mark = clients.counter.position()
    deploy(deployer, stack, world)
    assert clients.counter.mutating(mark) == []

    deploy(
        deployer,
        with_add_ons(make_stack(), waf_classic=WafClassicAssociation(web_acl_id="acl-2")),
        world,
    )
    assert waf_classic.associations == {lb: "acl-2"}
    deploy(deployer, with_add_ons(make_stack(), waf_classic=WafClassicAssociation()), world)
    assert waf_classic.associations == {}
    assert waf_classic.calls[-2:] == ["GetWebACLForResource", "DisassociateWebACL"]


def test_a_stack_adopted_with_its_web_acl_and_protection_costs_no_change(
    world: World, clients: AwsClients, shield_subscription: None
) -> None:
    """What LBC left (an associated web ACL, its named protection) is what we want: a new
    controller takes it over without a call that changes anything."""
    acl = web_acl("adopted")
    stack = with_add_ons(
        make_stack(),
        wafv2=WebAclAssociation(arn=acl),
        shield_advanced=ShieldProtection(enabled=True),
    )
    first = Deployer(clients, CLUSTER, sleep=lambda _: None)
    deploy(first, stack, world)
    mark = clients.counter.position()
    fresh = Deployer(clients, CLUSTER, sleep=lambda _: None)
    deploy(fresh, stack, world)
    assert clients.counter.mutating(mark) == []
    assert set(operations(clients, mark, "wafv2", "shield")) == {
        "GetWebACLForResource",
        "GetSubscriptionState",
        "DescribeProtection",
    }
