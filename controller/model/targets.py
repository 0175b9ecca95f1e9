"""The targets each target group of a stack should have, from Nodes or EndpointSlices.

Kept apart from the `Stack` on purpose (see `stack.Target`): endpoints change far more often
than Ingresses. Instance targets are the Ready nodes that may take load-balancer traffic, on
the Service's NodePort; ip targets are the ready endpoints of the Service's EndpointSlices,
on the port the slice gives for the Service port. Malformed objects are skipped: there is
no one to report them to, and a bad Node must not stop traffic to the good ones.

Rollouts lose no requests because of how endpoints are read: a terminating endpoint is
never a target, even while it is still `serving` (or `ready`, with publishNotReadyAddresses),
so its pod is deregistered, and starts draining for the target group's deregistration delay,
the moment it is deleted rather than when it stops; a new endpoint is a target as soon as it
is ready (`ready` unset counts as ready, as the API defines it). Fail-open (LBC's
EndpointsFailOpen): when none of a Service's endpoints is ready, those that are not ready
only because their Node's status is Unknown (its kubelet stopped reporting, as in a network
partition) stay targets, so the ALB's own health checks decide instead of a blank group.

Pod readiness gates (`awaits_readiness_gates`): a pod that carries readiness gates is not
Ready until every gate's condition is True, so its endpoint stays `ready: false`; but the
gate `target-health.elbv2.k8s.aws/<target group>` turns True only once the target is healthy
in the target group, which needs it registered first. So, as LBC does, an endpoint that is
not ready while its pod's containers are (ContainersReady True), and is not terminating, is
a target too; the kube layer hands in only the pods that have readiness gates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

from pydantic import ValidationError

from controller.model.inputs import (
    ClusterState,
    Endpoint,
    EndpointConditions,
    EndpointSlice,
    NodeSpec,
    NodeStatus,
    PodSpec,
    PodStatus,
    ServicePort,
    ServiceSpec,
    metadata_of,
    spec_of,
)
from controller.model.stack import DesiredTargets, Stack, Target, TargetGroup

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
# Nodes that never take load-balancer traffic (LBC's default node selector).
EXCLUDED_NODE_LABELS = (
    "node-role.kubernetes.io/control-plane",
    "node.kubernetes.io/exclude-from-external-load-balancers",
)
FARGATE_LABEL = ("eks.amazonaws.com/compute-type", "fargate")


def build_targets(stack: Stack, state: ClusterState, *, fail_open: bool = True) -> DesiredTargets:
    """Desired targets per `TargetGroup.id`. Pure and deterministic. `fail_open`: keep the
    endpoints on Nodes whose status is Unknown when no endpoint is ready (module doc)."""
    services = {(metadata_of(s).namespace, metadata_of(s).name): s for s in state.services}
    nodes = _eligible_nodes(state.nodes)
    unknown_nodes = _unknown_nodes(state.nodes) if fail_open else frozenset()
    gated = held_by_readiness_gates(state.pods)
    result: DesiredTargets = {}
    for tg in stack.target_groups:
        namespace, _, name = tg.service.partition("/")
        port = _service_port(services.get((namespace, name)), tg.service_port)
        if port is None:
            result[tg.id] = frozenset()
        elif tg.target_type == "instance":
            result[tg.id] = _instance_targets(tg, port, nodes)
        else:
            result[tg.id] = _ip_targets(
                tg,
                port,
                namespace,
                name,
                state.endpoint_slices,
                unknown_nodes=unknown_nodes,
                gated=gated,
            )
    return result


def _service_port(service: Mapping[str, Any] | None, wanted: int | str) -> ServicePort | None:
    if service is None:
        return None
    try:
        spec = spec_of(service, ServiceSpec)
    except ValidationError:
        return None
    for port in spec.ports:
        if (isinstance(wanted, int) and port.port == wanted) or port.name == wanted:
            return port
    return None


def _eligible_nodes(nodes: Sequence[Mapping[str, Any]]) -> list[tuple[str, dict[str, str]]]:
    """(instance ID, labels) of Ready nodes that may take load-balancer traffic."""
    eligible: list[tuple[str, dict[str, str]]] = []
    for node in nodes:
        try:
            spec = spec_of(node, NodeSpec)
            status = NodeStatus.model_validate(node.get("status") or {})
        except ValidationError:
            continue
        labels = metadata_of(node).labels or {}
        if any(label in labels for label in EXCLUDED_NODE_LABELS):
            continue
        if labels.get(FARGATE_LABEL[0]) == FARGATE_LABEL[1]:
            continue
        ready = any(c.type == "Ready" and c.status == "True" for c in status.conditions or ())
        instance_id = _instance_id(spec.provider_id)
        if ready and instance_id:
            eligible.append((instance_id, labels))
    return eligible


def _unknown_nodes(nodes: Sequence[Mapping[str, Any]]) -> frozenset[str]:
    """Names of the Nodes whose Ready condition is Unknown (not heard from lately)."""
    found: set[str] = set()
    for node in nodes:
        try:
            status = NodeStatus.model_validate(node.get("status") or {})
        except ValidationError:
            continue
        if any(c.type == "Ready" and c.status == "Unknown" for c in status.conditions or ()):
            found.add(metadata_of(node).name)
    return frozenset(found)


def _instance_id(provider_id: str | None) -> str | None:
    """`aws:///us-east-1a/i-0123` -> `i-0123`; anything else is not an EC2 node."""
    if not provider_id or not provider_id.startswith("aws://"):
        return None
    last = provider_id.rstrip("/").rsplit("/", 1)[-1]
    return last if last.startswith("i-") else None


def _instance_targets(
    tg: TargetGroup, port: ServicePort, nodes: list[tuple[str, dict[str, str]]]
) -> frozenset[Target]:
    if port.node_port is None:
        return frozenset()
    return frozenset(
        Target(id=instance_id, port=port.node_port)
        for instance_id, labels in nodes
        if all(labels.get(k) == v for k, v in tg.node_labels.items())
    )


def _ip_targets(
    tg: TargetGroup,
    port: ServicePort,
    namespace: str,
    service_name: str,
    slices: Sequence[Mapping[str, Any]],
    *,
    unknown_nodes: frozenset[str] = frozenset(),
    gated: frozenset[str] = frozenset(),
) -> frozenset[Target]:
    """`gated`: `ns/name` of the pods only their readiness gates hold back
    (`held_by_readiness_gates`)."""
    address_type = "IPv6" if tg.ip_address_type == "ipv6" else "IPv4"
    ready: set[Target] = set()
    on_unknown_nodes: set[Target] = set()
    for raw in slices:
        meta = metadata_of(raw)
        if meta.namespace != namespace or (meta.labels or {}).get(SERVICE_NAME_LABEL) != (
            service_name
        ):
            continue
        try:
            endpoint_slice = EndpointSlice.model_validate(raw)
        except ValidationError:
            continue
        if endpoint_slice.address_type != address_type:
            continue
        number = _slice_port(endpoint_slice, port)
        if number is None:
            continue
        for endpoint in endpoint_slice.endpoints or ():
            targets = {Target(id=address, port=number) for address in endpoint.addresses}
            readiness = endpoint_readiness(endpoint, unknown_nodes)
            # --- pod readiness gates: registered once its containers are ready, so the
            # health checks its gate waits for can start (`awaits_readiness_gates`).
            if readiness is Readiness.NOT_READY and awaits_readiness_gates(endpoint, gated):
                on_unknown = endpoint.node_name is not None and endpoint.node_name in unknown_nodes
                readiness = Readiness.ON_UNKNOWN_NODE if on_unknown else Readiness.READY
            # --- end of pod readiness gates
            if readiness is Readiness.READY:
                ready.update(targets)
            elif readiness is Readiness.ON_UNKNOWN_NODE:
                on_unknown_nodes.update(targets)
    return frozenset(ready or on_unknown_nodes)


class Readiness(Enum):
    """Whether an endpoint is a target."""

    READY = "ready"
    NOT_READY = "not ready"  # terminating (whatever its other conditions say), or not ready
    ON_UNKNOWN_NODE = "on an Unknown node"  # not ready, its Node Unknown: fail-open only


def endpoint_readiness(endpoint: Endpoint, unknown_nodes: frozenset[str]) -> Readiness:
    conditions = endpoint.conditions or EndpointConditions()
    if conditions.terminating:
        return Readiness.NOT_READY
    if conditions.ready is not False:
        return Readiness.READY
    if endpoint.node_name is not None and endpoint.node_name in unknown_nodes:
        return Readiness.ON_UNKNOWN_NODE
    return Readiness.NOT_READY


def held_by_readiness_gates(pods: Sequence[Mapping[str, Any]]) -> frozenset[str]:
    """`ns/name` of the pods that have readiness gates, are not being deleted and whose
    containers are ready (ContainersReady True): not Ready only while a gate is not True."""
    found: set[str] = set()
    for pod in pods:
        meta = metadata_of(pod)
        if meta.deletion_timestamp or not meta.name:
            continue
        try:
            spec = spec_of(pod, PodSpec)
            status = PodStatus.model_validate(pod.get("status") or {})
        except ValidationError:
            continue
        containers_ready = any(
            c.type == "ContainersReady" and c.status == "True" for c in status.conditions or ()
        )
        if spec.readiness_gates and containers_ready:
            found.add(f"{meta.namespace}/{meta.name}")
    return frozenset(found)


def awaits_readiness_gates(endpoint: Endpoint, gated: frozenset[str]) -> bool:
    """Whether a not-ready endpoint is a target all the same: its pod is one of `gated`
    (`held_by_readiness_gates`) and it is not terminating (a deleted pod goes at once)."""
    conditions = endpoint.conditions or EndpointConditions()
    ref = endpoint.target_ref
    if conditions.terminating or ref is None or ref.kind != "Pod" or not ref.name:
        return False
    return f"{ref.namespace or 'default'}/{ref.name}" in gated


def _slice_port(endpoint_slice: EndpointSlice, port: ServicePort) -> int | None:
    """The pod port for `port` in this slice.

    The endpoints controller names slice ports after the Service port (resolving a named
    targetPort per pod), so match by that name; a numeric targetPort is its own answer.
    """
    for candidate in endpoint_slice.ports or ():
        if (candidate.name or "") == (port.name or "") and candidate.port is not None:
            return candidate.port
    target = port.target_port if port.target_port is not None else port.port
    return target if isinstance(target, int) else None
