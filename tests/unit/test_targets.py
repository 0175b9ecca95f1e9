"""`build_targets`: instance targets from Nodes, ip targets from EndpointSlices."""

from __future__ import annotations

from typing import Any

from controller.model import Stack, build_targets
from controller.model.annotations import PREFIX
from controller.model.stack import Target

from .factories import ingress, plan, service, state


def node(
    name: str,
    instance: str | None,
    *,
    ready: str = "True",
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    spec = {"providerID": f"aws:///us-east-1a/{instance}"} if instance else {}
    return {
        "kind": "Node",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": spec,
        "status": {"conditions": [{"type": "Ready", "status": ready}]},
    }


def endpoint_slice(
    service_name: str,
    endpoints: list[tuple[str, bool | None]],
    ports: list[dict[str, Any]],
    *,
    namespace: str = "default",
    address_type: str = "IPv4",
) -> dict[str, Any]:
    return {
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{service_name}-abc",
            "namespace": namespace,
            "labels": {"kubernetes.io/service-name": service_name},
        },
        "addressType": address_type,
        "endpoints": [
            {"addresses": [ip], **({} if ready is None else {"conditions": {"ready": ready}})}
            for ip, ready in endpoints
        ],
        "ports": ports,
    }


def _stack(*objects: dict[str, Any]) -> Stack:
    result = plan(*objects)
    assert result.errors == ()
    return result.stacks[0]


def test_instance_targets_are_ready_worker_nodes_on_the_node_port() -> None:
    objects = [ingress(), service()]
    nodes = [
        node("a", "i-aaa"),
        node("b", "i-bbb", ready="False"),
        node("c", "i-ccc", labels={"node-role.kubernetes.io/control-plane": ""}),
        node("d", "i-ddd", labels={"node.kubernetes.io/exclude-from-external-load-balancers": ""}),
        node("e", None),
        node("f", "i-fff", labels={"eks.amazonaws.com/compute-type": "fargate"}),
        node("g", "i-ggg"),
        {"kind": "Node", "metadata": {"name": "broken"}, "status": "nonsense"},
    ]
    stack = _stack(*objects)
    targets = build_targets(stack, state(*objects, *nodes))
    assert targets == {
        "default/app-svc:80": frozenset(
            {Target(id="i-aaa", port=30080), Target(id="i-ggg", port=30080)}
        )
    }


def test_target_node_labels_filter_instance_targets() -> None:
    objects = [ingress(annotations={PREFIX + "target-node-labels": "pool=web"}), service()]
    nodes = [node("a", "i-aaa", labels={"pool": "web"}), node("b", "i-bbb", labels={"pool": "db"})]
    targets = build_targets(_stack(*objects), state(*objects, *nodes))
    assert targets["default/app-svc:80"] == frozenset({Target(id="i-aaa", port=30080)})


def test_ip_targets_are_ready_endpoints_on_the_slice_port() -> None:
    objects = [ingress(annotations={PREFIX + "target-type": "ip"}), service()]
    slices = [
        endpoint_slice(
            "svc",
            [("10.0.0.1", True), ("10.0.0.2", False), ("10.0.0.3", None)],
            [{"name": "http", "port": 8080}, {"name": "metrics", "port": 9090}],
        ),
        endpoint_slice("other", [("10.9.9.9", True)], [{"name": "http", "port": 8080}]),
        endpoint_slice(
            "svc", [("10.8.8.8", True)], [{"name": "http", "port": 8080}], namespace="elsewhere"
        ),
        endpoint_slice(
            "svc", [("fd00::1", True)], [{"name": "http", "port": 8080}], address_type="IPv6"
        ),
    ]
    targets = build_targets(_stack(*objects), state(*objects, *slices))
    assert targets["default/app-svc:80"] == frozenset(
        {Target(id="10.0.0.1", port=8080), Target(id="10.0.0.3", port=8080)}
    )


def test_named_target_port_resolves_per_slice() -> None:
    ports = [{"name": "web", "port": 80, "targetPort": "http-alt"}]
    objects = [
        ingress(annotations={PREFIX + "target-type": "ip"}),
        service(ports=ports, type_="ClusterIP"),
    ]
    slices = [
        endpoint_slice("svc", [("10.0.0.1", True)], [{"name": "web", "port": 8081}]),
        endpoint_slice("svc", [("10.0.0.2", True)], [{"name": "web", "port": 8082}]),
    ]
    stack = _stack(*objects)
    assert stack.target_groups[0].port == 1  # a named targetPort: the port is per target
    targets = build_targets(stack, state(*objects, *slices))
    assert targets["default/app-svc:80"] == frozenset(
        {Target(id="10.0.0.1", port=8081), Target(id="10.0.0.2", port=8082)}
    )


def test_unnamed_service_port_matches_unnamed_slice_port() -> None:
    objects = [
        ingress(annotations={PREFIX + "target-type": "ip"}),
        service(ports=[{"port": 80, "targetPort": 8080}], type_="ClusterIP"),
    ]
    slices = [endpoint_slice("svc", [("10.0.0.1", True)], [{"port": 8080}])]
    targets = build_targets(_stack(*objects), state(*objects, *slices))
    assert targets["default/app-svc:80"] == frozenset({Target(id="10.0.0.1", port=8080)})


def test_missing_service_gives_no_targets() -> None:
    objects = [ingress(), service()]
    stack = _stack(*objects)
    assert build_targets(stack, state(node("a", "i-aaa"))) == {"default/app-svc:80": frozenset()}


def test_targets_are_deterministic() -> None:
    objects = [ingress(), service()]
    nodes = [node(f"n{i}", f"i-{i:03d}") for i in range(20)]
    stack = _stack(*objects)
    first = build_targets(stack, state(*objects, *nodes))
    second = build_targets(stack, state(*objects, *reversed(nodes)))
    assert first == second
    assert len(first["default/app-svc:80"]) == 20


# --- rollouts: terminating endpoints, and fail-open -----------------------------------------

IP_OBJECTS = [
    ingress(annotations={PREFIX + "target-type": "ip"}),
    service(ports=[{"name": "http", "port": 80, "targetPort": 8080}], type_="ClusterIP"),
]


def conditioned_slice(endpoints: list[dict[str, Any]]) -> dict[str, Any]:
    """A slice of `svc` on port 8080 whose endpoints are given as the API has them."""
    body = endpoint_slice("svc", [], [{"name": "http", "port": 8080}])
    body["endpoints"] = endpoints
    return body


def ip_targets(*objects: dict[str, Any], fail_open: bool = True) -> set[str]:
    stack = _stack(*IP_OBJECTS)
    found = build_targets(stack, state(*IP_OBJECTS, *objects), fail_open=fail_open)
    return {t.id for t in found["default/app-svc:80"]}


def test_a_terminating_endpoint_is_deregistered_while_it_still_serves() -> None:
    slices = conditioned_slice([
        {"addresses": ["10.0.0.1"], "conditions": {"ready": True}},
        # Deleted, draining its connections: no longer a target, so the ALB stops sending
        # it new requests before the pod stops.
        {"addresses": ["10.0.0.2"],
         "conditions": {"ready": False, "serving": True, "terminating": True}},
        # publishNotReadyAddresses keeps ready true on a terminating endpoint.
        {"addresses": ["10.0.0.3"],
         "conditions": {"ready": True, "serving": True, "terminating": True}},
        {"addresses": ["10.0.0.4"], "conditions": {"ready": False}},
    ])  # fmt: skip
    assert ip_targets(slices) == {"10.0.0.1"}


def test_ready_unset_counts_as_ready() -> None:
    slices = conditioned_slice([{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2"],
                                "conditions": {}}])  # fmt: skip
    assert ip_targets(slices) == {"10.0.0.1", "10.0.0.2"}


def test_fail_open_keeps_endpoints_of_unknown_nodes_when_none_is_ready() -> None:
    unknown = node("lost", "i-lost", ready="Unknown")
    down = node("down", "i-down", ready="False")
    only_unready = conditioned_slice([
        {"addresses": ["10.0.0.1"], "conditions": {"ready": False}, "nodeName": "lost"},
        {"addresses": ["10.0.0.2"], "conditions": {"ready": False}, "nodeName": "down"},
        {"addresses": ["10.0.0.3"],
         "conditions": {"ready": False, "terminating": True}, "nodeName": "lost"},
    ])  # fmt: skip
    # Only the endpoint that is unready because its Node went Unknown stays.
    assert ip_targets(only_unready, unknown, down) == {"10.0.0.1"}
    assert ip_targets(only_unready, unknown, down, fail_open=False) == set()
    with_a_ready_one = conditioned_slice([
        {"addresses": ["10.0.0.1"], "conditions": {"ready": False}, "nodeName": "lost"},
        {"addresses": ["10.0.0.9"], "conditions": {"ready": True}, "nodeName": "down"},
    ])  # fmt: skip
    assert ip_targets(with_a_ready_one, unknown, down) == {"10.0.0.9"}
