"""The soak's convergence check (`sandbox.converged`) sees what it must: nothing when AWS holds
the plan, and each kind of drift when it does not.

A cluster state made by hand (an IngressClass, a NodePort Service, Ready Nodes on the world's
instances, one Ingress), its stack built by the model and deployed by the real deployer into
in-process moto; then AWS is changed behind the controller's back, one way per test.
"""

from __future__ import annotations

from typing import Any

import pytest

from controller.aws.deployer import Deployer
from controller.config import ModelDefaults
from controller.model import ClusterState, build, build_targets
from controller.model.stack import Stack
from sandbox import objects
from sandbox.converged import Convergence, compare
from tests.aws.conftest import World
from tests.aws.stacks import CLUSTER

DEFAULTS = ModelDefaults(cluster_name=CLUSTER)
NS = "shop"


def _state(world: World, ingresses: list[dict[str, Any]]) -> ClusterState:
    service = objects.service(
        "web", NS, ports=[{"name": "http", "port": 80, "targetPort": 80, "nodePort": 30080}]
    )
    nodes = [
        {"metadata": {"name": f"node-{i}"},
         "spec": {"providerID": f"aws:///us-east-1a/{instance}"},
         "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
        for i, instance in enumerate(world.nodes)
    ]  # fmt: skip
    return ClusterState(ingresses=tuple(ingresses), services=(service,), nodes=tuple(nodes),
                        ingress_classes=(objects.ingress_class(),))  # fmt: skip


def _ingress(hostname: str = "", finalizer: bool = False) -> dict[str, Any]:
    """`shop/web`, internet-facing, as the controller leaves it: its status `hostname`, and
    the group's finalizer if `finalizer`."""
    return objects.ingress(
        "web",
        NS,
        annotations={"alb.ingress.kubernetes.io/scheme": "internet-facing"},
        rules=[objects.rule("web.example.com", objects.path("/", "web"))],
        metadata={"finalizers": ["ingress.k8s.aws/resources"]} if finalizer else None,
        hostname=hostname,
    )


@pytest.fixture
def deployed(world: World, deployer: Deployer) -> tuple[ClusterState, Stack]:
    """The Ingress deployed, and the cluster as the controller leaves it (finalizer, status)."""
    plan = build(_state(world, [_ingress()]), DEFAULTS)
    assert plan.errors == () and len(plan.stacks) == 1
    stack = plan.stacks[0]
    result = deployer.deploy(stack, build_targets(stack, _state(world, [_ingress()])))
    return _state(world, [_ingress(result.dns_name, finalizer=True)]), stack


def _check(state: ClusterState) -> Convergence:
    return compare(state, None, DEFAULTS)


def test_aws_holding_the_plan_is_converged(deployed: tuple[ClusterState, Stack]) -> None:
    state, _ = deployed
    result = _check(state)
    assert result.differences == () and result.duplicates == ()
    assert result.converged and result.stacks == 1 and result.resources > 0


def test_a_missing_rule_is_a_difference(world: World, deployed: tuple[ClusterState, Stack]) -> None:
    state, _ = deployed
    listener = world.elbv2.describe_listeners(
        LoadBalancerArn=world.elbv2.describe_load_balancers(Names=[_lb_name(deployed)])[
            "LoadBalancers"
        ][0]["LoadBalancerArn"]
    )["Listeners"][0]
    rule = next(
        r
        for r in world.elbv2.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
        if not r["IsDefault"]
    )
    world.elbv2.delete_rule(RuleArn=rule["RuleArn"])
    result = _check(state)
    assert any("rules differ" in d for d in result.differences), result.differences


def test_a_second_target_group_for_one_backend_is_a_duplicate(
    world: World, deployed: tuple[ClusterState, Stack]
) -> None:
    state, stack = deployed
    tg = stack.target_groups[0]
    live = world.elbv2.describe_target_groups(Names=[tg.name])["TargetGroups"][0]
    tags = world.elbv2.describe_tags(ResourceArns=[live["TargetGroupArn"]])["TagDescriptions"]
    world.elbv2.create_target_group(
        Name=f"{tg.name[:20]}-copy", Protocol="HTTP", Port=tg.port, VpcId=world.vpc_id,
        TargetType=tg.target_type, Tags=tags[0]["Tags"])  # fmt: skip
    result = _check(state)
    assert any(f"target group {tg.id}: 2 target groups" in d for d in result.duplicates)
    assert not result.converged


def test_a_missing_target_is_a_difference(
    world: World, deployed: tuple[ClusterState, Stack]
) -> None:
    state, stack = deployed
    live = world.elbv2.describe_target_groups(Names=[stack.target_groups[0].name])
    arn = live["TargetGroups"][0]["TargetGroupArn"]
    world.elbv2.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": world.nodes[0],
                                                                 "Port": 30080}])  # fmt: skip
    result = _check(state)
    assert any(": targets is " in d for d in result.differences), result.differences


def test_a_changed_health_check_and_scheme_are_differences(
    world: World, deployed: tuple[ClusterState, Stack]
) -> None:
    state, stack = deployed
    live = world.elbv2.describe_target_groups(Names=[stack.target_groups[0].name])
    world.elbv2.modify_target_group(
        TargetGroupArn=live["TargetGroups"][0]["TargetGroupArn"], HealthCheckPath="/elsewhere"
    )
    result = _check(state)
    assert any("HealthCheckPath is '/elsewhere', desired '/'" in d for d in result.differences)
    internal = [_ingress_with_scheme(state, "internal")]
    result = _check(_state(world, internal))
    assert any("scheme is 'internet-facing', desired 'internal'" in d for d in result.differences)


def test_what_a_deleted_ingress_left_behind_is_a_difference(
    world: World, deployed: tuple[ClusterState, Stack]
) -> None:
    result = _check(_state(world, []))  # the Ingress is gone; its stack is still in AWS
    assert result.stacks == 0
    assert any("which is not desired" in d for d in result.differences), result.differences


def test_a_member_without_the_hostname_is_a_difference(
    world: World, deployed: tuple[ClusterState, Stack]
) -> None:
    result = _check(_state(world, [_ingress(finalizer=True)]))
    assert any("status hostname" in d for d in result.differences), result.differences


def _lb_name(deployed: tuple[ClusterState, Stack]) -> str:
    return deployed[1].load_balancer.name


def _ingress_with_scheme(state: ClusterState, scheme: str) -> dict[str, Any]:
    ingress = dict(state.ingresses[0])
    ingress["metadata"] = {**ingress["metadata"],
                           "annotations": {"alb.ingress.kubernetes.io/scheme": scheme}}  # fmt: skip
    return ingress
