"""One TargetGroupBinding (elbv2.k8s.aws/v1beta1, LBC's CRD): its spec, and what it wants.

A binding points at a target group made elsewhere (Terraform, another cluster) and asks for
the endpoints of one Service port to be its targets, exactly as our own Ingress target groups
get theirs (`targets`): instance targets are the eligible Nodes on the Service's NodePort,
narrowed by `nodeSelector`; ip targets are the ready endpoints of the Service's
EndpointSlices. `networking.ingress` asks for inbound rules in the targets' security groups:
here the permissions (protocol, ports, source) and the instances whose groups they go in (the
target Nodes, or the Nodes the target pods run on).

Pure, like the rest of the model: what AWS says of the target group (`BoundTargetGroup`,
found by the AWS layer) comes in as an argument. A problem a person must fix is a
`BindingProblem` naming the field (`spec.targetGroupARN`), never an exception.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from controller.model.class_params import selector_mismatch
from controller.model.inputs import (
    KubeModel,
    LabelSelector,
    NodeSpec,
    ServicePort,
    describe_validation_error,
    format_location,
    metadata_of,
    spec_of,
)
from controller.model.stack import BACKEND_NOT_FOUND, Target, TargetGroup
from controller.model.targets import (
    SERVICE_NAME_LABEL,
    _eligible_nodes,
    _instance_id,
    _instance_targets,
    _ip_targets,
    _service_port,
    _unknown_nodes,
    held_by_readiness_gates,
)

FINALIZER = "elbv2.k8s.aws/resources"  # LBC's, on every binding it serves
# LBC's stack labels: a binding LBC made for an Ingress group (`kube/bindings.py` lets those go).
STACK_LABELS = (
    "ingress.k8s.aws/stack",
    "ingress.k8s.aws/stack-namespace",
    "ingress.k8s.aws/stack-name",
)
# Event reasons (LBC's `pkg/k8s/events.go` where it has one).
REASON_INVALID = "FailedBuildModel"  # the spec, or the target group it names, is unusable
REASON_BACKEND = BACKEND_NOT_FOUND  # no such Service, or no such port of it
REASON_UNSUPPORTED = "UnsupportedField"  # a field this controller does not serve

ALL_PORTS = (0, 65535)  # LBC's range for a networking port left unset
ANY_PORT = -1  # in `claimed_permissions`: a named port, which may be any port

# (protocol, from port, to port, source kind: cidr | cidr6 | group, source): the shape of
# `controller.aws.security_groups.Permission`.
Permission = tuple[str, int, int, str, str]


# --- the spec, as LBC's CRD has it --------------------------------------------------------


class ServiceReference(KubeModel):
    name: str = Field(min_length=1)
    port: int | str


class IpBlock(KubeModel):
    cidr: str


class SecurityGroupPeer(KubeModel):
    group_id: str = Field(alias="groupID", min_length=1)


class NetworkingPeer(KubeModel):
    ip_block: IpBlock | None = None
    security_group: SecurityGroupPeer | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> NetworkingPeer:
        if (self.ip_block is None) == (self.security_group is None):
            raise ValueError("exactly one of ipBlock or securityGroup must be set")
        if self.ip_block is not None:
            try:
                ipaddress.ip_network(self.ip_block.cidr, strict=False)
            except ValueError:
                raise ValueError(f"ipBlock.cidr {self.ip_block.cidr!r} is no CIDR") from None
        return self


class NetworkingPort(KubeModel):
    protocol: Literal["TCP", "UDP"] | None = None
    port: int | str | None = None


class NetworkingIngressRule(KubeModel):
    from_: list[NetworkingPeer] = Field(alias="from", min_length=1)
    ports: list[NetworkingPort] = Field(default_factory=list)


class Networking(KubeModel):
    ingress: list[NetworkingIngressRule] = Field(default_factory=list)


class TargetGroupBindingSpec(KubeModel):
    target_group_arn: str | None = Field(default=None, alias="targetGroupARN")
    target_group_name: str | None = None
    target_type: Literal["instance", "ip"] | None = None
    service_ref: ServiceReference
    networking: Networking | None = None
    node_selector: LabelSelector | None = None
    ip_address_type: Literal["ipv4", "ipv6"] | None = None
    vpc_id: str | None = Field(default=None, alias="vpcID")
    multi_cluster_target_group: bool = False
    target_group_protocol: str | None = None
    # Cross-account target groups: not served here (a Warning names the field).
    iam_role_arn_to_assume: str | None = None
    assume_role_external_id: str | None = None


@dataclass(frozen=True)
class BindingProblem:
    """Why a binding cannot be served as it is: the field, a message, the Event reason."""

    field: str
    message: str
    reason: str = REASON_INVALID

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


@dataclass(frozen=True)
class Binding:
    """A binding's spec, checked; `key` is `ns/name`."""

    key: str
    namespace: str
    spec: TargetGroupBindingSpec
    generation: int
    deleting: bool

    @property
    def target_group_field(self) -> str:
        """The field that names the target group (the ARN wins, as in LBC)."""
        return "spec.targetGroupARN" if self.spec.target_group_arn else "spec.targetGroupName"

    @property
    def target_group_ref(self) -> str:
        return self.spec.target_group_arn or self.spec.target_group_name or ""

    @property
    def service_key(self) -> str:
        return f"{self.namespace}/{self.spec.service_ref.name}"

    @property
    def ingress_rules(self) -> list[NetworkingIngressRule]:
        return self.spec.networking.ingress if self.spec.networking is not None else []


def is_incumbents(body: Mapping[str, Any]) -> bool:
    """Whether LBC made this binding for one of its Ingress groups (its stack labels): those
    are released by `kube/bindings.py`, never served."""
    labels = metadata_of(body).labels or {}
    return any(labels.get(label) for label in STACK_LABELS)


def service_of(body: Mapping[str, Any]) -> str | None:
    """`ns/name` of the Service a binding names, read leniently (for indexing)."""
    spec = body.get("spec")
    ref = spec.get("serviceRef") if isinstance(spec, Mapping) else None
    name = ref.get("name") if isinstance(ref, Mapping) else None
    return f"{metadata_of(body).namespace}/{name}" if isinstance(name, str) and name else None


def parse_binding(body: Mapping[str, Any]) -> Binding | BindingProblem:
    """The binding's spec, or the first problem in it that keeps it from being served."""
    meta = metadata_of(body)
    try:
        spec = spec_of(body, TargetGroupBindingSpec)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        return BindingProblem(
            format_location("spec", tuple(first["loc"])), describe_validation_error(error, 1)
        )
    raw = body.get("metadata") or {}
    generation = raw.get("generation") if isinstance(raw, Mapping) else None
    binding = Binding(
        key=f"{meta.namespace}/{meta.name}",
        namespace=meta.namespace,
        spec=spec,
        generation=generation if isinstance(generation, int) else 0,
        deleting=meta.deletion_timestamp is not None,
    )
    problem = _spec_problem(binding)
    return problem if problem is not None else binding


def _spec_problem(binding: Binding) -> BindingProblem | None:
    spec = binding.spec
    if not spec.target_group_arn and not spec.target_group_name:
        return BindingProblem(
            "spec.targetGroupARN", "neither targetGroupARN nor targetGroupName is set"
        )
    if spec.iam_role_arn_to_assume or spec.assume_role_external_id:
        field = "iamRoleArnToAssume" if spec.iam_role_arn_to_assume else "assumeRoleExternalId"
        return BindingProblem(
            f"spec.{field}",
            "target groups of other accounts (an assumed role) are not supported by this "
            "controller; the binding is not served",
            REASON_UNSUPPORTED,
        )
    return None


# --- what AWS says of the target group ------------------------------------------------------


@dataclass(frozen=True)
class BoundTargetGroup:
    """The target group a binding names, as DescribeTargetGroups answers (the AWS layer)."""

    arn: str
    name: str
    target_type: str  # instance | ip | lambda | alb
    ip_address_type: str  # ipv4 | ipv6
    vpc_id: str
    protocol: str | None = None
    # The Ingress group of this cluster whose target group it is (its cluster and stack
    # tags are ours): this controller registers its targets itself.
    stack: str | None = None


def check_target_group(binding: Binding, tg: BoundTargetGroup) -> BindingProblem | None:
    """A problem when the target group cannot take what the binding asks (its type, address
    family, VPC or protocol differ from what the spec says)."""
    spec = binding.spec
    where = f"target group {tg.name} ({tg.arn})"
    if tg.stack is not None:
        return BindingProblem(
            binding.target_group_field,
            f"{where} is the Ingress group {tg.stack}'s, whose targets this controller "
            "registers itself: bind a target group of your own",
        )
    if tg.target_type not in ("instance", "ip"):
        return BindingProblem(
            binding.target_group_field,
            f"{where} has target type {tg.target_type}: only instance and ip are supported",
        )
    checks: list[tuple[str, str | None, str]] = [
        ("targetType", spec.target_type, tg.target_type),
        ("ipAddressType", spec.ip_address_type, tg.ip_address_type),
        ("vpcID", spec.vpc_id, tg.vpc_id),
        ("targetGroupProtocol", spec.target_group_protocol, tg.protocol or ""),
    ]
    for name, wanted, actual in checks:
        if wanted and wanted != actual:
            return BindingProblem(f"spec.{name}", f"is {wanted}, but {where} has {actual}")
    return None


# --- desired targets and networking -----------------------------------------------------------


@dataclass(frozen=True)
class BindingTargets:
    """What a binding wants: its targets, and (with networking) the permissions to open and
    the instances whose security groups take them. With a `problem` (no such Service or
    port) it wants no targets, as LBC deregisters them (BackendNotFound)."""

    targets: frozenset[Target]
    hosts: frozenset[str] = frozenset()
    permissions: frozenset[Permission] = frozenset()
    problem: BindingProblem | None = None


def binding_targets(
    binding: Binding,
    tg: BoundTargetGroup,
    services: Sequence[Mapping[str, Any]],
    endpoint_slices: Sequence[Mapping[str, Any]],
    nodes: Sequence[Mapping[str, Any]],
    *,
    fail_open: bool = True,
    pods: Sequence[Mapping[str, Any]] = (),
) -> BindingTargets:
    """The binding's desired targets, from the same objects and rules as an Ingress target
    group's (`targets.build_targets`). Pure and deterministic."""
    spec = binding.spec
    namespace, name = binding.namespace, spec.service_ref.name
    service = next(
        (
            s
            for s in services
            if metadata_of(s).namespace == namespace and metadata_of(s).name == name
        ),
        None,
    )
    if service is None:
        return _backend_problem("spec.serviceRef.name", f"no Service {namespace}/{name}")
    port = _service_port(service, spec.service_ref.port)
    if port is None:
        return _backend_problem(
            "spec.serviceRef.port",
            f"Service {namespace}/{name} has no port {spec.service_ref.port}",
        )
    # The fields of a target group the target functions read, for the binding's own group.
    fields: dict[str, Any] = {
        "ip_address_type": spec.ip_address_type or tg.ip_address_type,
        "node_labels": {},
    }
    shape = TargetGroup.model_construct(**fields)
    if tg.target_type == "instance":
        if port.node_port is None:
            return _backend_problem(
                "spec.serviceRef.port",
                f"Service {namespace}/{name} port {spec.service_ref.port} has no nodePort: "
                "instance targets need a NodePort or LoadBalancer Service",
            )
        eligible = [
            (instance, labels)
            for instance, labels in _eligible_nodes(nodes)
            if spec.node_selector is None or selector_mismatch(spec.node_selector, labels) is None
        ]
        targets = _instance_targets(shape, port, eligible)
        hosts = frozenset(t.id for t in targets)
    else:
        unknown = _unknown_nodes(nodes) if fail_open else frozenset()
        # Pods held back only by their readiness gates are registered, so the gate can flip.
        targets = _ip_targets(
            shape,
            port,
            namespace,
            name,
            endpoint_slices,
            unknown_nodes=unknown,
            gated=held_by_readiness_gates(pods),
        )
        hosts = _pod_hosts(targets, namespace, name, endpoint_slices, nodes)
    if not binding.ingress_rules:
        return BindingTargets(targets)
    permissions = ingress_permissions(binding, tg.target_type, port, targets)
    if isinstance(permissions, BindingProblem):
        return BindingTargets(targets, problem=permissions)
    return BindingTargets(targets, hosts, permissions)


def _backend_problem(field: str, message: str) -> BindingTargets:
    return BindingTargets(frozenset(), problem=BindingProblem(field, message, REASON_BACKEND))


def _pod_hosts(
    targets: frozenset[Target],
    namespace: str,
    service: str,
    slices: Sequence[Mapping[str, Any]],
    nodes: Sequence[Mapping[str, Any]],
) -> frozenset[str]:
    """The instances the target pods run on (their EndpointSlice `nodeName`)."""
    addresses = {t.id for t in targets}
    node_names: set[str] = set()
    for raw in slices:
        meta = metadata_of(raw)
        if meta.namespace != namespace or (meta.labels or {}).get(SERVICE_NAME_LABEL) != service:
            continue
        for endpoint in raw.get("endpoints") or ():
            if not isinstance(endpoint, Mapping):
                continue
            node_name = endpoint.get("nodeName")
            if isinstance(node_name, str) and addresses & set(endpoint.get("addresses") or ()):
                node_names.add(node_name)
    hosts: set[str] = set()
    for node in nodes:
        if metadata_of(node).name not in node_names:
            continue
        try:
            instance = _instance_id(spec_of(node, NodeSpec).provider_id)
        except ValidationError:
            continue
        if instance:
            hosts.add(instance)
    return frozenset(hosts)


def ingress_permissions(
    binding: Binding, target_type: str, port: ServicePort, targets: frozenset[Target]
) -> frozenset[Permission] | BindingProblem:
    """`networking.ingress` as single-source permissions: every peer times every port (none:
    all TCP ports). A named port is the Service port's own targetPort name (ip targets only:
    pods are not read, so other container port names cannot be resolved)."""
    permissions: set[Permission] = set()
    for i, rule in enumerate(binding.ingress_rules):
        ports = rule.ports or [NetworkingPort(protocol="TCP")]
        for j, wanted in enumerate(ports):
            ranges = _port_ranges(wanted.port, target_type, port, targets)
            if isinstance(ranges, str):
                return BindingProblem(f"spec.networking.ingress[{i}].ports[{j}].port", ranges)
            protocol = (wanted.protocol or "TCP").lower()
            for peer in rule.from_:
                source = _source(peer)
                permissions |= {(protocol, lo, hi, *source) for lo, hi in ranges}
    return frozenset(permissions)


def _port_ranges(
    wanted: int | str | None, target_type: str, port: ServicePort, targets: frozenset[Target]
) -> set[tuple[int, int]] | str:
    """The port ranges a networking port stands for, or why it cannot be resolved."""
    if wanted is None:
        return {ALL_PORTS}
    if isinstance(wanted, int):
        return {(wanted, wanted)}
    if target_type == "instance":
        return f"named port {wanted!r}: instance targets need a port number (a NodePort)"
    if wanted != port.target_port:
        return (
            f"named port {wanted!r} is not the targetPort of the Service port "
            f"{port.name or port.port}: only that name can be resolved (pods are not read)"
        )
    return {(t.port, t.port) for t in targets}


def _source(peer: NetworkingPeer) -> tuple[str, str]:
    if peer.security_group is not None:
        return ("group", peer.security_group.group_id)
    assert peer.ip_block is not None  # the validator allows nothing else
    cidr = str(ipaddress.ip_network(peer.ip_block.cidr, strict=False))
    return ("cidr6" if ":" in cidr else "cidr", cidr)


def claimed_permissions(binding: Binding) -> frozenset[Permission]:
    """Every permission the binding may want whatever its targets; a named port (which
    depends on the targets) as `ANY_PORT`. What a binding not yet synced in this process is
    assumed to want, so no other binding's clean-up revokes it meanwhile."""
    found: set[Permission] = set()
    for rule in binding.ingress_rules:
        for wanted in rule.ports or [NetworkingPort(protocol="TCP")]:
            if isinstance(wanted.port, str):
                lo, hi = ANY_PORT, ANY_PORT
            elif wanted.port is None:
                lo, hi = ALL_PORTS
            else:
                lo, hi = wanted.port, wanted.port
            protocol = (wanted.protocol or "TCP").lower()
            found |= {(protocol, lo, hi, *_source(peer)) for peer in rule.from_}
    return frozenset(found)
