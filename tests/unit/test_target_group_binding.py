"""`controller.model.binding`: a TargetGroupBinding's spec, its target group's checks, and
its desired targets and networking permissions (pure, like `build_targets`)."""

from __future__ import annotations

from typing import Any

import pytest

from controller.model.binding import (
    ALL_PORTS,
    ANY_PORT,
    REASON_BACKEND,
    REASON_INVALID,
    REASON_UNSUPPORTED,
    Binding,
    BindingProblem,
    BoundTargetGroup,
    binding_targets,
    check_target_group,
    claimed_permissions,
    is_incumbents,
    parse_binding,
)
from controller.model.stack import Target
from sandbox import objects

from .test_targets import endpoint_slice, node

ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/tf-web/0123456789abcdef"
INSTANCE_TG = BoundTargetGroup(
    arn=ARN, name="tf-web", target_type="instance", ip_address_type="ipv4", vpc_id="vpc-1"
)
IP_TG = BoundTargetGroup(
    arn=ARN, name="tf-web", target_type="ip", ip_address_type="ipv4", vpc_id="vpc-1"
)
SERVICE = objects.service(
    "web",
    "shop",
    ports=[{"name": "http", "port": 80, "targetPort": "web-port", "nodePort": 30080}],
)


def binding_body(**spec: Any) -> dict[str, Any]:
    body = objects.target_group_binding(
        "web", "shop", arn=ARN, service="web", target_type=None, spec=spec
    )
    body["metadata"]["generation"] = 3
    return body


def parsed(**spec: Any) -> Binding:
    found = parse_binding(binding_body(**spec))
    assert isinstance(found, Binding), found
    return found


def problem(**spec: Any) -> BindingProblem:
    found = parse_binding(binding_body(**spec))
    assert isinstance(found, BindingProblem), found
    return found


def pod_slice(*endpoints: tuple[str, bool, str]) -> dict[str, Any]:
    """A slice of `shop/web` with (ip, ready, node) endpoints on the named port `http`."""
    made = endpoint_slice(
        "web",
        [(ip, ready) for ip, ready, _ in endpoints],
        [{"name": "http", "port": 8080}],
        namespace="shop",
    )
    for raw, (_, _, node_name) in zip(made["endpoints"], endpoints, strict=True):
        raw["nodeName"] = node_name
    return made


# --- the spec -------------------------------------------------------------------------------


def test_a_spec_is_read_with_lbcs_field_names() -> None:
    found = parsed(
        targetType="ip", vpcID="vpc-1", ipAddressType="ipv4", multiClusterTargetGroup=True
    )
    assert found.key == "shop/web"
    assert found.generation == 3
    assert found.spec.target_group_arn == ARN
    assert found.spec.vpc_id == "vpc-1"
    assert found.spec.multi_cluster_target_group is True
    assert found.service_key == "shop/web"
    assert found.target_group_field == "spec.targetGroupARN"


def test_the_arn_wins_over_the_name_and_the_name_alone_is_its_field() -> None:
    both = parsed(targetGroupName="tf-web")
    assert both.target_group_ref == ARN
    body = objects.target_group_binding(
        "web", "shop", service="web", target_group_name="tf-web", target_type=None
    )
    by_name = parse_binding(body)
    assert isinstance(by_name, Binding)
    assert by_name.target_group_ref == "tf-web"
    assert by_name.target_group_field == "spec.targetGroupName"


def test_neither_arn_nor_name_is_a_problem_naming_the_arn_field() -> None:
    body = objects.target_group_binding("web", "shop", service="web", target_type=None)
    found = parse_binding(body)
    assert found == BindingProblem(
        "spec.targetGroupARN", "neither targetGroupARN nor targetGroupName is set"
    )


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"targetType": "lambda"}, "spec.targetType"),
        ({"serviceRef": {"port": 80}}, "spec.serviceRef.name"),
        (
            {"networking": {"ingress": [{"from": [{}], "ports": []}]}},
            "spec.networking.ingress[0].from[0]",
        ),
        (
            {"networking": {"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/33"}}]}]}},
            "spec.networking.ingress[0].from[0]",
        ),
        (
            {"nodeSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}},
            "spec.nodeSelector.matchExpressions[0]",
        ),
    ],
)
def test_a_malformed_spec_names_its_field(spec: dict[str, Any], field: str) -> None:
    found = problem(**spec)
    assert found.field == field
    assert found.reason == REASON_INVALID


def test_a_cross_account_binding_is_reported_unsupported_not_served() -> None:
    found = problem(iamRoleArnToAssume="arn:aws:iam::1:role/x")
    assert found.field == "spec.iamRoleArnToAssume"
    assert found.reason == REASON_UNSUPPORTED


def test_lbcs_own_bindings_are_told_apart_by_their_stack_labels() -> None:
    assert is_incumbents(objects.target_group_binding("a", "shop", arn=ARN, service="web",
                                                      stack="shop/web"))  # fmt: skip
    assert is_incumbents(objects.target_group_binding("b", "shop", arn=ARN, service="web",
                                                      stack="my-group"))  # fmt: skip
    assert not is_incumbents(binding_body())


# --- the target group ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"targetType": "ip"}, "spec.targetType"),
        ({"ipAddressType": "ipv6"}, "spec.ipAddressType"),
        ({"vpcID": "vpc-2"}, "spec.vpcID"),
        ({"targetGroupProtocol": "HTTPS"}, "spec.targetGroupProtocol"),
    ],
)
def test_a_spec_the_target_group_contradicts_names_the_field(
    spec: dict[str, Any], field: str
) -> None:
    tg = BoundTargetGroup(
        arn=ARN, name="tf-web", target_type="instance", ip_address_type="ipv4",
        vpc_id="vpc-1", protocol="HTTP",
    )  # fmt: skip
    found = check_target_group(parsed(**spec), tg)
    assert found is not None
    assert found.field == field
    assert "tf-web" in found.message


def test_a_spec_agreeing_with_the_target_group_has_no_problem() -> None:
    spec = {"targetType": "instance", "vpcID": "vpc-1", "ipAddressType": "ipv4"}
    assert check_target_group(parsed(**spec), INSTANCE_TG) is None


def test_a_lambda_target_group_or_one_of_our_ingresses_is_refused() -> None:
    lambda_tg = BoundTargetGroup(
        arn=ARN, name="fn", target_type="lambda", ip_address_type="ipv4", vpc_id=""
    )
    found = check_target_group(parsed(), lambda_tg)
    assert found is not None and found.field == "spec.targetGroupARN"
    ours = BoundTargetGroup(
        arn=ARN, name="k8s-shop-web", target_type="instance", ip_address_type="ipv4",
        vpc_id="vpc-1", stack="shop/web",
    )  # fmt: skip
    found = check_target_group(parsed(), ours)
    assert found is not None and "shop/web" in found.message


# --- targets ------------------------------------------------------------------------------


NODES = [
    node("a", "i-a", labels={"pool": "web", "zone": "1a"}),
    node("b", "i-b", labels={"pool": "batch", "zone": "1b"}),
    node("c", "i-c", labels={"pool": "web", "node-role.kubernetes.io/control-plane": ""}),
    node("d", "i-d", ready="False", labels={"pool": "web"}),
]


def test_instance_targets_are_the_eligible_nodes_on_the_node_port() -> None:
    wanted = binding_targets(parsed(), INSTANCE_TG, [SERVICE], [], NODES)
    assert wanted.problem is None
    # Not the control-plane node, not the node that is not Ready.
    assert wanted.targets == {Target(id="i-a", port=30080), Target(id="i-b", port=30080)}


@pytest.mark.parametrize(
    ("selector", "instances"),
    [
        ({"matchLabels": {"pool": "web"}}, {"i-a"}),
        ({"matchExpressions": [{"key": "pool", "operator": "NotIn", "values": ["web"]}]},
         {"i-b"}),
        ({"matchExpressions": [{"key": "zone", "operator": "Exists"}]}, {"i-a", "i-b"}),
    ],
)  # fmt: skip
def test_the_node_selector_narrows_instance_targets(
    selector: dict[str, Any], instances: set[str]
) -> None:
    wanted = binding_targets(parsed(nodeSelector=selector), INSTANCE_TG, [SERVICE], [], NODES)
    assert {t.id for t in wanted.targets} == instances


def test_ip_targets_are_the_ready_endpoints_on_the_slice_port() -> None:
    slices = [pod_slice(("10.0.1.5", True, "a"), ("10.0.1.6", False, "b"))]
    wanted = binding_targets(parsed(), IP_TG, [SERVICE], slices, NODES)
    assert wanted.targets == {Target(id="10.0.1.5", port=8080)}


def test_ip_targets_of_another_services_slices_are_not_taken() -> None:
    other = endpoint_slice("api", [("10.0.9.9", True)], [{"name": "http", "port": 8080}],
                           namespace="shop")  # fmt: skip
    wanted = binding_targets(parsed(), IP_TG, [SERVICE], [other], NODES)
    assert wanted.targets == frozenset()


def test_the_service_port_is_matched_by_name_too() -> None:
    wanted = binding_targets(
        parsed(serviceRef={"name": "web", "port": "http"}), INSTANCE_TG, [SERVICE], [], NODES
    )
    assert {t.port for t in wanted.targets} == {30080}


@pytest.mark.parametrize(
    ("spec", "services", "field"),
    [
        ({}, [], "spec.serviceRef.name"),
        ({"serviceRef": {"name": "web", "port": 443}}, [SERVICE], "spec.serviceRef.port"),
        ({}, [objects.service("web", "shop", type_="ClusterIP", ports=[{"port": 80}])],
         "spec.serviceRef.port"),
    ],
)  # fmt: skip
def test_a_missing_backend_wants_no_targets_and_names_the_field(
    spec: dict[str, Any], services: list[dict[str, Any]], field: str
) -> None:
    wanted = binding_targets(parsed(**spec), INSTANCE_TG, services, [], NODES)
    assert wanted.targets == frozenset()
    assert wanted.problem is not None
    assert (wanted.problem.field, wanted.problem.reason) == (field, REASON_BACKEND)


def test_the_same_input_gives_the_same_targets() -> None:
    slices = [pod_slice(("10.0.1.5", True, "a"), ("10.0.1.7", True, "b"))]
    first = binding_targets(parsed(), IP_TG, [SERVICE], slices, NODES)
    assert binding_targets(parsed(), IP_TG, [SERVICE], list(reversed(slices)), NODES) == first


# --- networking ---------------------------------------------------------------------------

NETWORKING = {
    "ingress": [
        {
            "from": [
                {"securityGroup": {"groupID": "sg-alb"}},
                {"ipBlock": {"cidr": "10.1.0.0/16"}},
            ],
            "ports": [{"port": 8080, "protocol": "TCP"}, {"protocol": "UDP"}],
        },
        {"from": [{"ipBlock": {"cidr": "2600:1f18::/40"}}], "ports": []},
    ]
}


def test_networking_is_every_peer_times_every_port_into_the_target_nodes() -> None:
    wanted = binding_targets(parsed(networking=NETWORKING), INSTANCE_TG, [SERVICE], [], NODES)
    low, high = ALL_PORTS
    assert wanted.permissions == {
        ("tcp", 8080, 8080, "group", "sg-alb"),
        ("tcp", 8080, 8080, "cidr", "10.1.0.0/16"),
        ("udp", low, high, "group", "sg-alb"),
        ("udp", low, high, "cidr", "10.1.0.0/16"),
        ("tcp", low, high, "cidr6", "2600:1f18::/40"),  # no ports: every TCP port
    }
    assert wanted.hosts == {"i-a", "i-b"}


def test_ip_targets_networking_goes_into_the_nodes_their_pods_run_on() -> None:
    networking = {"ingress": [{"from": [{"securityGroup": {"groupID": "sg-alb"}}],
                               "ports": [{"port": "web-port"}]}]}  # fmt: skip
    slices = [pod_slice(("10.0.1.5", True, "a"), ("10.0.1.6", False, "b"))]
    wanted = binding_targets(parsed(networking=networking), IP_TG, [SERVICE], slices, NODES)
    # The Service port's targetPort name is resolved to the pods' port; only node a has a
    # ready pod.
    assert wanted.permissions == {("tcp", 8080, 8080, "group", "sg-alb")}
    assert wanted.hosts == {"i-a"}


def test_without_networking_no_permissions_or_hosts_are_wanted() -> None:
    wanted = binding_targets(parsed(), INSTANCE_TG, [SERVICE], [], NODES)
    assert (wanted.permissions, wanted.hosts) == (frozenset(), frozenset())


@pytest.mark.parametrize(
    ("tg", "port", "message"),
    [
        (INSTANCE_TG, "web-port", "instance targets need a port number"),
        (IP_TG, "metrics", "is not the targetPort"),
    ],
)
def test_a_named_port_that_cannot_be_resolved_names_the_port_field(
    tg: BoundTargetGroup, port: str, message: str
) -> None:
    networking = {"ingress": [{"from": [{"securityGroup": {"groupID": "sg-alb"}}],
                               "ports": [{"port": port}]}]}  # fmt: skip
    slices = [pod_slice(("10.0.1.5", True, "a"))]
    wanted = binding_targets(parsed(networking=networking), tg, [SERVICE], slices, NODES)
    assert wanted.problem is not None
    assert wanted.problem.field == "spec.networking.ingress[0].ports[0].port"
    assert message in wanted.problem.message
    assert wanted.targets  # the targets are still wanted: only the rules wait


def test_claimed_permissions_count_a_named_port_as_any_port() -> None:
    networking = {"ingress": [{"from": [{"securityGroup": {"groupID": "sg-alb"}}],
                               "ports": [{"port": "web-port"}, {"port": 9000}]}]}  # fmt: skip
    assert claimed_permissions(parsed(networking=networking)) == {
        ("tcp", ANY_PORT, ANY_PORT, "group", "sg-alb"),
        ("tcp", 9000, 9000, "group", "sg-alb"),
    }


def test_a_pod_held_back_only_by_its_readiness_gate_is_a_binding_target() -> None:
    """Else the gate the webhook added for the binding could never turn True."""
    slices = [pod_slice(("10.0.1.5", True, "a"), ("10.0.1.6", False, "b"))]
    slices[0]["endpoints"][1]["targetRef"] = {"kind": "Pod", "name": "gated", "namespace": "shop"}
    gated = {
        "kind": "Pod",
        "metadata": {"name": "gated", "namespace": "shop"},
        "spec": {"readinessGates": [{"conditionType": "target-health.elbv2.k8s.aws/web"}]},
        "status": {"conditions": [{"type": "ContainersReady", "status": "True"},
                                  {"type": "Ready", "status": "False"}]},
    }  # fmt: skip
    without = binding_targets(parsed(), IP_TG, [SERVICE], slices, NODES)
    assert {t.id for t in without.targets} == {"10.0.1.5"}
    wanted = binding_targets(parsed(), IP_TG, [SERVICE], slices, NODES, pods=[gated])
    assert {t.id for t in wanted.targets} == {"10.0.1.5", "10.0.1.6"}
