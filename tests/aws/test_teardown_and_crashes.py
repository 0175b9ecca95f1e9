"""Teardown, and crashes: a deploy or teardown cut short after any single mutating call is
healed by the next one, with no duplicate and nothing leaked."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import controller.aws.deployer as deployer_module
from controller.aws.clients import AwsClients, CallCounter, CallRecord, is_mutating
from controller.aws.deployer import Deployer
from controller.aws.errors import AwsError
from controller.aws.live import LiveStack
from tests.aws.conftest import World
from tests.aws.stacks import CLUSTER, SVC_2048, Svc, make_stack, targets
from tests.aws.state import actual, expected
from tests.aws.strict import Strict
from tests.aws.test_deploy import CREATE_2048, FakeDns

TEARDOWN_2048 = [
    "DeleteLoadBalancer",  # its listeners and rules go with it
    "DeleteTargetGroup",  # free once the load balancer is gone
    "DeleteSecurityGroup",  # managed frontend group
    "RevokeSecurityGroupIngress",  # the node group's rule naming the backend group
    "DeleteSecurityGroup",  # backend group: no load balancer of the cluster uses it now
]


class CrashError(Exception):
    """The process died right after AWS carried out a call."""


def crash_after(counter: CallCounter, n: int) -> Callable[[], None]:
    seen = 0

    def hook(record: CallRecord) -> None:
        nonlocal seen
        if is_mutating(record.key.operation) and not record.key.error_code:
            seen += 1
            if seen == n:
                raise CrashError(record.key.operation)

    return counter.subscribe(hook)


def test_teardown_leaves_nothing_tagged_with_the_cluster(world: World, clients: AwsClients) -> None:
    dns = FakeDns(world)
    deployer = Deployer(clients, CLUSTER, dns=dns, sleep=lambda _: None)
    stack = make_stack(https=None)
    deployer.deploy(stack, targets(SVC_2048, world.nodes))
    mark = clients.counter.position()
    deployer.teardown(stack.id)
    assert clients.counter.mutating(mark) == TEARDOWN_2048
    assert world.leaks() == []
    assert dns.deleted == [f"{stack.id}:1"]  # DNS went first, while the ALB was still there
    mark = clients.counter.position()
    deployer.teardown(stack.id)  # again: nothing to do
    assert clients.counter.mutating(mark) == []


def test_teardown_keeps_the_backend_group_while_another_stack_uses_it(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    other = Svc(name="other", ingress="other", node_port=30099)
    first, second = make_stack(), make_stack([("/", other)], stack_id="game-2048/other")
    deployer.deploy(first, targets(SVC_2048, world.nodes))
    deployer.deploy(second, targets(other, world.nodes))
    deployer.teardown(first.id)
    assert actual(world, second.id) == expected(second, targets(other, world.nodes))
    backend = world.ec2.describe_security_groups(
        Filters=[{"Name": "tag:elbv2.k8s.aws/resource", "Values": ["backend-sg"]}]
    )["SecurityGroups"]
    assert len(backend) == 1
    deployer.teardown(second.id)
    assert world.leaks() == []


def test_teardown_waits_out_dependency_violation(
    world: World, clients: AwsClients, strict: Strict
) -> None:
    slept: list[float] = []
    deployer = Deployer(clients, CLUSTER, sleep=slept.append, sg_delete_timeout=600.0)
    stack = make_stack()
    deployer.deploy(stack, targets(SVC_2048, world.nodes))
    strict.linger = 4  # the ALB's network interfaces outlive it for 4 attempts
    deployer.teardown(stack.id)
    assert world.leaks() == []
    assert len(slept) == 8  # 4 for each of the two groups
    assert slept[:4] == [2.0, 3.0, 4.5, 6.75]


def test_teardown_gives_up_after_the_timeout_but_still_deletes_target_groups(
    world: World, clients: AwsClients, strict: Strict
) -> None:
    slept: list[float] = []
    deployer = Deployer(clients, CLUSTER, sleep=slept.append, sg_delete_timeout=10.0)
    stack = make_stack()
    deployer.deploy(stack, targets(SVC_2048, world.nodes))
    strict.linger = 1000
    with pytest.raises(AwsError) as raised:
        deployer.teardown(stack.id)
    assert raised.value.code == "DependencyViolation" and raised.value.retryable
    assert "security group" in str(raised.value)
    assert sum(slept) <= 20.0
    remaining = world.elbv2.describe_target_groups()["TargetGroups"]
    assert [tg["TargetGroupArn"] for tg in remaining] == [world.foreign_tg]
    strict.settle()
    deployer.teardown(stack.id)
    assert world.leaks() == []


@pytest.mark.parametrize("n", range(1, len(CREATE_2048) + 1))
def test_create_interrupted_after_each_call_heals(
    world: World, clients: AwsClients, deployer: Deployer, n: int
) -> None:
    stack, desired = make_stack(), targets(SVC_2048, world.nodes)
    stop = crash_after(clients.counter, n)
    with pytest.raises(CrashError):
        deployer.deploy(stack, desired)
    stop()
    deployer.deploy(stack, desired)
    assert actual(world, stack.id) == expected(stack, desired)
    mark = clients.counter.position()
    deployer.deploy(stack, desired)
    assert clients.counter.mutating(mark) == []
    deployer.teardown(stack.id)
    assert world.leaks() == []


SCHEME_CHANGE_CALLS = 7


@pytest.mark.parametrize("n", range(1, SCHEME_CHANGE_CALLS + 1))
def test_scheme_change_interrupted_after_each_call_heals(
    world: World, clients: AwsClients, deployer: Deployer, n: int
) -> None:
    desired = targets(SVC_2048, world.nodes)
    deployer.deploy(make_stack(), desired)
    stack = make_stack(scheme="internal")
    stop = crash_after(clients.counter, n)
    with pytest.raises(CrashError):
        deployer.deploy(stack, desired)
    stop()
    deployer.deploy(stack, desired)
    assert actual(world, stack.id) == expected(stack, desired)
    deployer.teardown(stack.id)
    assert world.leaks() == []


@pytest.mark.parametrize("n", range(1, len(TEARDOWN_2048) + 1))
def test_teardown_interrupted_after_each_call_heals(
    world: World, clients: AwsClients, deployer: Deployer, n: int
) -> None:
    stack = make_stack()
    deployer.deploy(stack, targets(SVC_2048, world.nodes))
    stop = crash_after(clients.counter, n)
    with pytest.raises(CrashError):
        deployer.teardown(stack.id)
    stop()
    deployer.teardown(stack.id)
    assert world.leaks() == []


def test_a_load_balancer_the_tag_lookup_missed_is_found_by_name(
    world: World, clients: AwsClients, deployer: Deployer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tagging API is eventually consistent: right after a create it may return nothing."""
    stack, desired = make_stack(), targets(SVC_2048, world.nodes)
    deployer.deploy(stack, desired)
    with monkeypatch.context() as patch:
        patch.setattr(deployer_module, "find_stack", lambda *_: LiveStack())
        deployer.deploy(stack, desired)
    lbs = [
        lb
        for lb in world.elbv2.describe_load_balancers()["LoadBalancers"]
        if lb["LoadBalancerName"] == stack.load_balancer.name
    ]
    assert len(lbs) == 1
    assert actual(world, stack.id) == expected(stack, desired)
