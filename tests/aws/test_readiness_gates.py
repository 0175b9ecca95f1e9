"""Pod readiness gates against moto: a gate's condition from DescribeTargetHealth's states.

moto calls every registered target healthy at once; the sandbox's target health
(`sandbox.motofixes.TARGET_HEALTH`, installed here) answers `initial` and `unhealthy` for a
target group tagged for it, as AWS does while it health-checks and when checks fail.
"""

from __future__ import annotations

import pytest

from controller.aws.clients import AwsClients
from controller.aws.deployer import Deployer
from controller.kube.readiness import NOT_REGISTERED, Condition, condition_from_health
from sandbox import motofixes
from tests.aws.conftest import World
from tests.aws.stacks import Svc, make_stack, targets

IP = Svc(target_type="ip")
PODS = ("10.0.11.5", "10.0.11.6")


@pytest.fixture
def health(monkeypatch: pytest.MonkeyPatch) -> None:
    for owner, name, replacement in motofixes.TARGET_HEALTH:
        monkeypatch.setattr(owner, name, replacement)


def test_the_condition_of_each_pod_follows_its_targets_state(
    world: World, clients: AwsClients, deployer: Deployer, health: None
) -> None:
    result = deployer.deploy(make_stack([("/", IP)]), targets(IP, PODS))
    arn = result.target_group_arns[IP.tg_id]
    world.elbv2.add_tags(
        ResourceArns=[arn],
        Tags=[
            {"Key": motofixes.INITIAL_HEALTH_TAG, "Value": "3600"},
            {"Key": motofixes.FAILING_TARGETS_TAG, "Value": PODS[1]},
        ],
    )
    mark = clients.counter.position()
    found = deployer.target_health(arn)
    # One read, nothing changed.
    assert [r.key.operation for r in clients.counter.calls(mark)] == ["DescribeTargetHealth"]
    assert {(t.id, t.port) for t in found} == {(p, IP.target_port()) for p in PODS}

    def condition(ip: str) -> Condition:
        return condition_from_health(found, frozenset({ip}))

    assert condition(PODS[0]) == Condition(
        "False", "Elb.InitialHealthChecking", "Initial health checks in progress"
    )
    assert condition(PODS[1]) == Condition(
        "False", "Target.FailedHealthChecks", "Health checks failed"
    )
    assert condition("10.0.11.7") == Condition("False", *NOT_REGISTERED)  # not registered
    # Health checks done: healthy, and AWS gives no reason for that.
    world.elbv2.remove_tags(
        ResourceArns=[arn], TagKeys=[motofixes.INITIAL_HEALTH_TAG, motofixes.FAILING_TARGETS_TAG]
    )
    found = deployer.target_health(arn)
    assert {t.state for t in found} == {"healthy"}
    assert {t.reason for t in found} == {""}
    assert condition(PODS[0]).status == condition(PODS[1]).status == "True"
    # A pod deregistered (its target gone) is back to waiting for registration.
    deployer.sync_targets(result.target_group_arns, targets(IP, PODS[:1]))
    found = deployer.target_health(arn)
    assert condition(PODS[1]) == Condition("False", *NOT_REGISTERED)
    assert clients.counter.mutating(mark) == ["DeregisterTargets"]
    deployer.teardown(make_stack([("/", IP)]).id)
    assert world.leaks() == []
