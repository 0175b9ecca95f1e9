"""TargetGroupBindings on the real control plane: a target group made outside the cluster
(straight in AWS, as Terraform would) gets the pods or nodes of a Service as its targets, they
follow scaling, the binding's networking rule opens the node security group, and deleting the
binding deregisters its targets, revokes its rule and lets the object go. A binding naming a
target group that does not exist is a Warning naming the field, and nothing else is held up.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from controller.aws.security_groups import SHARED_RULE_DESCRIPTION, flatten
from controller.model.binding import FINALIZER
from sandbox import objects
from tests.e2e.harness import Scenario, wait_until
from tests.e2e.test_targets import _pods

GROUP, VERSION, PLURAL = "elbv2.k8s.aws", "v1beta1", "targetgroupbindings"
OPENED = ("tcp", 0, 65535, "cidr", "10.99.0.0/16")  # networking.ingress with no ports


@pytest.fixture
def made(scenario: Scenario) -> Iterator[list[str]]:
    """Target groups the test makes in AWS; deleted afterwards, with the bindings left in
    the test's namespaces unstuck (their finalizers dropped) after a failure."""
    arns: list[str] = []
    yield arns
    custom = client.CustomObjectsApi(scenario.target.api)
    for namespace in scenario.namespaces:
        for item in _list(scenario, namespace):
            if item["metadata"].get("finalizers"):
                custom.patch_namespaced_custom_object(
                    GROUP, VERSION, namespace, PLURAL, item["metadata"]["name"],
                    {"metadata": {"finalizers": None}},
                )  # fmt: skip
    for arn in arns:
        scenario.aws("elbv2").delete_target_group(TargetGroupArn=arn)


def _vpc(scenario: Scenario) -> str:
    sandbox = scenario.target.sandbox
    if sandbox is None or sandbox.aws is None:
        pytest.skip("makes a target group in the local sandbox's VPC")
    return str(sandbox.aws.vpc_id)


def _target_group(scenario: Scenario, made: list[str], target_type: str) -> tuple[str, str]:
    """A target group as Terraform makes one (none of our tags): (ARN, name)."""
    name = f"tf-{target_type}-{scenario.suffix}"
    arn = scenario.aws("elbv2").create_target_group(
        Name=name, Protocol="HTTP", Port=80, VpcId=_vpc(scenario), TargetType=target_type
    )["TargetGroups"][0]["TargetGroupArn"]
    made.append(arn)
    return str(arn), name


def _create(scenario: Scenario, body: dict[str, Any]) -> None:
    namespace = body["metadata"]["namespace"]
    client.CustomObjectsApi(scenario.target.api).create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, body
    )


def _list(scenario: Scenario, namespace: str) -> list[dict[str, Any]]:
    custom: Any = client.CustomObjectsApi(scenario.target.api)
    found = custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)
    return list(found["items"])


def _binding(scenario: Scenario, namespace: str, name: str) -> dict[str, Any] | None:
    return next((b for b in _list(scenario, namespace) if b["metadata"]["name"] == name), None)


def _registered(scenario: Scenario, arn: str) -> set[tuple[str, int]]:
    health = scenario.aws("elbv2").describe_target_health(TargetGroupArn=arn)
    return {
        (d["Target"]["Id"], d["Target"]["Port"])
        for d in health["TargetHealthDescriptions"]
        if d["TargetHealth"]["State"] not in ("draining", "unused")
    }


def _events(scenario: Scenario, namespace: str, name: str) -> list[Any]:
    return [
        e
        for e in scenario.core.list_namespaced_event(namespace).items
        if e.involved_object.kind == "TargetGroupBinding" and e.involved_object.name == name
    ]


def _served(scenario: Scenario, namespace: str, name: str) -> bool:
    body = _binding(scenario, namespace, name) or {}
    status = body.get("status") or {}
    return bool(status.get("observedGeneration") == body.get("metadata", {}).get("generation"))


def _node_rules(scenario: Scenario) -> dict[Any, str | None]:
    sandbox = scenario.target.sandbox
    (group,) = scenario.aws("ec2").describe_security_groups(
        GroupIds=[sandbox.aws.node_security_group]
    )["SecurityGroups"]
    return flatten(group.get("IpPermissions") or ())


def _delete(scenario: Scenario, namespace: str, name: str) -> None:
    client.CustomObjectsApi(scenario.target.api).delete_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, name
    )
    wait_until(
        lambda: _binding(scenario, namespace, name) is None,
        f"TargetGroupBinding {namespace}/{name} to go (its finalizer released)",
    )


def test_a_binding_registers_the_pods_and_follows_scaling_then_lets_go(
    scenario: Scenario, running: object, made: list[str]
) -> None:
    ns = scenario.namespace("tgb-ip")
    scenario.app(ns, "web", replicas=2, service_type="ClusterIP")
    arn, _ = _target_group(scenario, made, "ip")
    # No targetType: the target group's (ip) is used.
    _create(scenario, objects.target_group_binding("web", ns, arn=arn, service="web",
                                                   target_type=None))  # fmt: skip
    for replicas in (2, 4, 1):
        scenario.apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": replicas}})
        pods = wait_until(functools.partial(_pods, scenario, ns, replicas), f"{replicas} pods")
        wanted = {(ip, 80) for ip in pods}
        wait_until(
            lambda: _registered(scenario, arn) == wanted,  # noqa: B023 (used at once)
            f"the target group's targets to be the {replicas} pod IPs",
        )
    wait_until(lambda: _served(scenario, ns, "web"), "status.observedGeneration")
    body = _binding(scenario, ns, "web")
    assert body is not None and body["metadata"]["finalizers"] == [FINALIZER]
    assert [e.reason for e in _events(scenario, ns, "web")] == ["SuccessfullyReconciled"]

    _delete(scenario, ns, "web")
    assert _registered(scenario, arn) == set()  # deregistered before the finalizer went
    scenario.finish()


def test_an_instance_binding_registers_the_nodes_and_opens_its_networking_rule(
    scenario: Scenario, running: object, made: list[str]
) -> None:
    ns = scenario.namespace("tgb-inst")
    scenario.app(ns, "web")
    arn, name = _target_group(scenario, made, "instance")
    port: int = scenario.core.read_namespaced_service("web", ns).spec.ports[0].node_port
    networking = {"ingress": [{"from": [{"ipBlock": {"cidr": OPENED[4]}}], "ports": []}]}
    _create(scenario, objects.target_group_binding(
        "web", ns, service="web", target_group_name=name, spec={"networking": networking},
    ))  # fmt: skip
    instances = {(spec.instance_id, port) for spec in scenario.target.sandbox.nodes.values()}
    wait_until(lambda: _registered(scenario, arn) == instances, "every node registered")
    wait_until(
        lambda: _node_rules(scenario).get(OPENED) == SHARED_RULE_DESCRIPTION,
        "the networking rule in the node security group",
    )

    _delete(scenario, ns, "web")
    assert _registered(scenario, arn) == set()
    assert OPENED not in _node_rules(scenario)  # revoked before the finalizer went
    scenario.finish()


def test_a_binding_of_a_missing_target_group_is_a_warning_naming_the_field(
    scenario: Scenario, running: object, made: list[str]
) -> None:
    ns = scenario.namespace("tgb-missing")
    scenario.app(ns, "web")
    missing = f"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/gone/{'0' * 16}"
    _create(scenario, objects.target_group_binding("by-arn", ns, arn=missing, service="web"))
    _create(scenario, objects.target_group_binding("by-name", ns, service="web",
                                                   target_group_name="nope"))  # fmt: skip
    # Beside them an Ingress of the same Service, and a good binding, are served.
    arn, _ = _target_group(scenario, made, "instance")
    _create(scenario, objects.target_group_binding("good", ns, arn=arn, service="web"))
    scenario.ingress(ns, "web", [(f"tgb-{scenario.suffix}.example.com", "/", "web")])
    scenario.hostname(ns, "web", timeout=60)
    wait_until(lambda: _served(scenario, ns, "good"), "the good binding served")

    for name, field in (("by-arn", "spec.targetGroupARN"), ("by-name", "spec.targetGroupName")):
        warned = wait_until(
            lambda: [e for e in _events(scenario, ns, name)  # noqa: B023 (used at once)
                     if e.type == "Warning" and e.reason == "FailedBuildModel"],
            f"a Warning on {name}",
        )  # fmt: skip
        assert warned[0].message.startswith(f"{field}: no target group")
        body = _binding(scenario, ns, name)
        assert body is not None and not body["metadata"].get("finalizers")  # nothing held
        assert not (body.get("status") or {}).get("observedGeneration")
    _delete(scenario, ns, "good")
    scenario.finish()
