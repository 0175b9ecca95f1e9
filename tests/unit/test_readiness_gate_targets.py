"""ip targets of pods held back by readiness gates: registered once their containers are
ready, so the health checks their gate waits for can start (`awaits_readiness_gates`)."""

from __future__ import annotations

from typing import Any

from controller.model import Stack, build_targets
from controller.model.annotations import PREFIX
from controller.model.inputs import Endpoint
from controller.model.stack import Target
from controller.model.targets import awaits_readiness_gates, held_by_readiness_gates

from .factories import ingress, plan, service, state

GATE = "target-health.elbv2.k8s.aws/k8s-default-svc-0123456789"
IP = {PREFIX + "target-type": "ip"}


def pod(
    name: str,
    *,
    containers_ready: str = "True",
    gates: tuple[str, ...] = (GATE,),
    deleting: bool = False,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "default"}
    if deleting:
        meta["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    return {
        "kind": "Pod",
        "metadata": meta,
        "spec": {"readinessGates": [{"conditionType": g} for g in gates]},
        "status": {
            "conditions": [
                {"type": "ContainersReady", "status": containers_ready},
                {"type": "Ready", "status": "False"},
            ]
        },
    }


def slice_of(*endpoints: tuple[str, str, dict[str, bool]]) -> dict[str, Any]:
    """An EndpointSlice of Service `svc`: (address, pod name, conditions) per endpoint."""
    return {
        "kind": "EndpointSlice",
        "metadata": {
            "name": "svc-abc",
            "namespace": "default",
            "labels": {"kubernetes.io/service-name": "svc"},
        },
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080}],
        "endpoints": [
            {
                "addresses": [address],
                "conditions": conditions,
                "targetRef": {"kind": "Pod", "name": name, "namespace": "default"},
            }
            for address, name, conditions in endpoints
        ],
    }


def _stack() -> Stack:
    result = plan(ingress(annotations=IP), service())
    assert result.errors == ()
    return result.stacks[0]


def targets(*objects: dict[str, Any]) -> frozenset[Target]:
    stack = _stack()
    [tg] = stack.target_groups
    return build_targets(stack, state(ingress(annotations=IP), service(), *objects))[tg.id]


NOT_READY = {"ready": False, "serving": False, "terminating": False}


def test_a_gated_pod_whose_containers_are_ready_is_a_target_before_it_is_ready() -> None:
    found = targets(
        slice_of(
            ("10.0.0.1", "ready", {"ready": True}),
            ("10.0.0.2", "gated", NOT_READY),
        ),
        pod("gated"),
    )
    assert found == {Target(id="10.0.0.1", port=8080), Target(id="10.0.0.2", port=8080)}


def test_not_a_target_without_ready_containers_gates_or_while_terminating() -> None:
    terminating = {"ready": False, "serving": True, "terminating": True}
    found = targets(
        slice_of(
            ("10.0.0.2", "starting", NOT_READY),
            ("10.0.0.3", "plain", NOT_READY),
            ("10.0.0.4", "leaving", terminating),
            ("10.0.0.5", "deleted", NOT_READY),
            ("10.0.0.6", "unknown-pod", NOT_READY),
        ),
        pod("starting", containers_ready="False"),
        pod("plain", gates=()),
        pod("leaving"),
        pod("deleted", deleting=True),
    )
    assert found == frozenset()


def test_held_by_readiness_gates_names_only_pods_waiting_on_a_gate() -> None:
    assert held_by_readiness_gates(
        [pod("a"), pod("b", containers_ready="False"), pod("c", gates=()), {"kind": "Pod"}]
    ) == {"default/a"}


def test_an_endpoint_of_another_pod_or_without_a_pod_does_not_count() -> None:
    gated = frozenset({"default/a"})
    ref = {"kind": "Pod", "name": "a", "namespace": "default"}
    assert awaits_readiness_gates(Endpoint.model_validate({"targetRef": ref}), gated)
    other = {**ref, "namespace": "other"}
    assert not awaits_readiness_gates(Endpoint.model_validate({"targetRef": other}), gated)
    assert not awaits_readiness_gates(Endpoint.model_validate({}), gated)
    node_ref = {"kind": "Node", "name": "a", "namespace": "default"}
    assert not awaits_readiness_gates(Endpoint.model_validate({"targetRef": node_ref}), gated)
