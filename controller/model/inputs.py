"""Typed views of the Kubernetes objects the model builder reads, and the `ClusterState`.

The builder gets plain dicts exactly as the Kubernetes API (or a YAML file) gives them, and
those can be malformed. Rather than poking at nested dicts with `.get()` chains, each object
is validated into a small strict pydantic model holding only the fields we use; a
validation failure becomes a `BuildError` whose field is the path pydantic reports
(`spec.rules[0].http.paths[1].backend.service.port`). Unknown fields are ignored, as the
API server would keep them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel


@dataclass(frozen=True)
class ClusterState:
    """Everything the builder may look at: plain dicts as the Kubernetes API returns them."""

    ingresses: Sequence[Mapping[str, Any]] = ()
    services: Sequence[Mapping[str, Any]] = ()
    endpoint_slices: Sequence[Mapping[str, Any]] = ()
    nodes: Sequence[Mapping[str, Any]] = ()
    ingress_classes: Sequence[Mapping[str, Any]] = ()
    # Secrets an `auth-idp-oidc` annotation may name (the kube layer keeps only their
    # `clientID`/`clientId`/`clientSecret` keys).
    secrets: Sequence[Mapping[str, Any]] = ()
    # LBC's IngressClassParams (elbv2.k8s.aws, cluster-scoped), which an IngressClass's
    # `spec.parameters` names. None: they cannot be read (the CRD is not installed), so
    # classes have no params; an empty sequence: there are none, and a class naming one is
    # an error on its Ingresses, as in LBC.
    ingress_class_params: Sequence[Mapping[str, Any]] | None = ()
    # Namespaces, for the labels an IngressClassParams' namespaceSelector matches (the kube
    # layer keeps only names and labels). One not listed has only the label the API server
    # gives every namespace, `kubernetes.io/metadata.name`.
    namespaces: Sequence[Mapping[str, Any]] = ()
    # Pods with readiness gates, for the endpoints their gates hold back (`targets.py`): the
    # kube layer keeps only those, and of each only its gates, conditions and addresses.
    pods: Sequence[Mapping[str, Any]] = ()

    @classmethod
    def from_objects(cls, objects: Sequence[Mapping[str, Any]]) -> ClusterState:
        """Sort a mixed list of objects (e.g. from manifests) into the fields by `kind`."""
        by_kind: dict[str, list[Mapping[str, Any]]] = {}
        for obj in objects:
            kind = obj.get("kind")
            if isinstance(kind, str):
                by_kind.setdefault(kind, []).append(obj)
        return cls(
            ingresses=tuple(by_kind.get("Ingress", ())),
            services=tuple(by_kind.get("Service", ())),
            endpoint_slices=tuple(by_kind.get("EndpointSlice", ())),
            nodes=tuple(by_kind.get("Node", ())),
            ingress_classes=tuple(by_kind.get("IngressClass", ())),
            secrets=tuple(by_kind.get("Secret", ())),
            ingress_class_params=tuple(by_kind.get("IngressClassParams", ())),
            namespaces=tuple(by_kind.get("Namespace", ())),
            pods=tuple(by_kind.get("Pod", ())),
        )


class KubeModel(BaseModel):
    """Base of the views: strict types (the API never sends "80" for 80), camelCase keys."""

    model_config = ConfigDict(
        frozen=True, strict=True, extra="ignore", alias_generator=to_camel, populate_by_name=True
    )


class ObjectMeta(KubeModel):
    name: str = ""
    namespace: str = "default"
    uid: str = ""
    # Values are checked one by one (see `annotations.py`), so a bad one names itself.
    annotations: dict[Any, Any] | None = None
    labels: dict[str, str] | None = None
    deletion_timestamp: str | None = None
    creation_timestamp: str | None = None


def metadata_of(obj: Mapping[str, Any]) -> ObjectMeta:
    """The object's metadata, field by field: a malformed field reads as absent.

    Field by field (not one validation) so that, say, a label with a number for a value
    does not make the annotations disappear with it.
    """
    raw = obj.get("metadata")
    if not isinstance(raw, Mapping):
        return ObjectMeta()

    def text(key: str) -> str | None:
        value = raw.get(key)
        return value if isinstance(value, str) and value else None

    annotations = raw.get("annotations")
    labels = raw.get("labels")
    return ObjectMeta(
        name=text("name") or "",
        namespace=text("namespace") or "default",
        uid=text("uid") or "",
        annotations=dict(annotations) if isinstance(annotations, Mapping) else None,
        labels={k: v for k, v in labels.items() if isinstance(k, str) and isinstance(v, str)}
        if isinstance(labels, Mapping)
        else None,
        deletion_timestamp=text("deletionTimestamp"),
        creation_timestamp=text("creationTimestamp"),
    )


def key_of(obj: Mapping[str, Any]) -> str:
    """`namespace/name`, the way errors, tags and group ids name a namespaced object."""
    meta = metadata_of(obj)
    return f"{meta.namespace}/{meta.name}"


# --- Ingress -------------------------------------------------------------------------------


class ServiceBackendPort(KubeModel):
    number: int | None = Field(default=None, ge=1, le=65535)
    name: str | None = None


class IngressServiceBackend(KubeModel):
    name: str = Field(min_length=1)
    port: ServiceBackendPort


class IngressBackend(KubeModel):
    service: IngressServiceBackend | None = None
    resource: dict[str, Any] | None = None


class HTTPIngressPath(KubeModel):
    path: str | None = None
    path_type: str | None = None
    backend: IngressBackend


class HTTPIngressRuleValue(KubeModel):
    paths: list[HTTPIngressPath] = Field(min_length=1)


class IngressRule(KubeModel):
    host: str | None = None
    http: HTTPIngressRuleValue | None = None


class IngressTLS(KubeModel):
    hosts: list[str] | None = None
    secret_name: str | None = None


class IngressSpec(KubeModel):
    ingress_class_name: str | None = None
    default_backend: IngressBackend | None = None
    rules: list[IngressRule] | None = None
    tls: list[IngressTLS] | None = None


# --- Service, EndpointSlice, Node, IngressClass --------------------------------------------


class ServicePort(KubeModel):
    name: str | None = None
    port: int = Field(ge=1, le=65535)
    target_port: int | str | None = None
    node_port: int | None = None
    protocol: str = "TCP"


class ServiceSpec(KubeModel):
    type: str = "ClusterIP"
    ports: list[ServicePort] = Field(default_factory=list)
    ip_families: list[str] | None = None


class EndpointConditions(KubeModel):
    """discovery/v1: `ready` unset means ready; a terminating endpoint may still be
    `serving` (draining), and with publishNotReadyAddresses even `ready`."""

    ready: bool | None = None
    serving: bool | None = None
    terminating: bool | None = None


class EndpointTargetRef(KubeModel):
    """The object behind an endpoint (a Pod, for a Service with a selector)."""

    kind: str | None = None
    name: str | None = None
    namespace: str | None = None


class Endpoint(KubeModel):
    addresses: list[str] = Field(default_factory=list)
    conditions: EndpointConditions | None = None
    node_name: str | None = None
    target_ref: EndpointTargetRef | None = None


class EndpointPort(KubeModel):
    name: str | None = None
    port: int | None = None
    protocol: str | None = None


class EndpointSlice(KubeModel):
    address_type: str = "IPv4"
    endpoints: list[Endpoint] | None = None
    ports: list[EndpointPort] | None = None


class PodReadinessGate(KubeModel):
    condition_type: str


class PodSpec(KubeModel):
    readiness_gates: list[PodReadinessGate] | None = None


class PodCondition(KubeModel):
    type: str
    status: str


class PodStatus(KubeModel):
    conditions: list[PodCondition] | None = None


class NodeCondition(KubeModel):
    type: str
    status: str


class NodeSpec(KubeModel):
    provider_id: str | None = Field(default=None, alias="providerID")


class NodeStatus(KubeModel):
    conditions: list[NodeCondition] | None = None


class IngressClassSpec(KubeModel):
    controller: str | None = None


class IngressClassParametersReference(KubeModel):
    """`spec.parameters` of an IngressClass: which object holds the class's parameters."""

    api_group: str | None = None
    kind: str = Field(min_length=1)
    name: str = Field(min_length=1)
    scope: str | None = None
    namespace: str | None = None


class IngressClassParameters(KubeModel):
    """An IngressClass's `spec.parameters`, read apart from its controller so that a
    malformed reference never makes the class look like another controller's."""

    parameters: IngressClassParametersReference | None = None


# --- IngressClassParams (elbv2.k8s.aws/v1beta1), LBC's CRD ----------------------------------
# Structure only: the values are checked against the annotations' own syntax in
# `class_params.py`, so a bad one is reported with the annotation's message.


class KeyValue(KubeModel):
    key: str
    value: str


class LabelSelectorRequirement(KubeModel):
    key: str = Field(min_length=1)
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] | None = None

    @model_validator(mode="after")
    def _values_fit_operator(self) -> LabelSelectorRequirement:
        # The API server's own rule for label selectors (metav1.LabelSelectorAsSelector).
        if self.operator in ("In", "NotIn") and not self.values:
            raise ValueError(f"operator {self.operator} needs at least one value")
        if self.operator in ("Exists", "DoesNotExist") and self.values:
            raise ValueError(f"operator {self.operator} takes no values")
        return self


class LabelSelector(KubeModel):
    match_labels: dict[str, str] | None = None
    match_expressions: list[LabelSelectorRequirement] | None = None


class IngressGroupParams(KubeModel):
    name: str


class SubnetSelectorParams(KubeModel):
    ids: list[str] | None = None
    tags: dict[str, list[str]] | None = None


class ListenerParams(KubeModel):
    protocol: Literal["HTTP", "HTTPS"]
    port: int = Field(ge=1, le=65535)
    listener_attributes: list[KeyValue] | None = None


class MinimumCapacityParams(KubeModel):
    capacity_units: int = Field(ge=0)


class IpamParams(KubeModel):
    ipv4_ipam_pool_id: str | None = Field(default=None, alias="ipv4IPAMPoolId")


class IngressClassParamsSpec(KubeModel):
    """The spec of an IngressClassParams, field names as LBC's CRD has them."""

    namespace_selector: LabelSelector | None = None
    group: IngressGroupParams | None = None
    scheme: str | None = None
    inbound_cidrs: list[str] | None = Field(default=None, alias="inboundCIDRs")
    certificate_arn: list[str] | None = None
    ssl_policy: str | None = None
    # A string in LBC's CRD ("443"); a number is taken too, as YAML writers expect.
    ssl_redirect_port: str | int | None = None
    subnets: SubnetSelectorParams | None = None
    ip_address_type: str | None = None
    tags: list[KeyValue] | None = None
    target_type: str | None = None
    load_balancer_name: str | None = None
    load_balancer_attributes: list[KeyValue] | None = None
    listeners: list[ListenerParams] | None = None
    minimum_load_balancer_capacity: MinimumCapacityParams | None = None
    ipam_configuration: IpamParams | None = None
    prefix_lists_ids: list[str] | None = Field(default=None, alias="prefixListsIDs")
    # The capitalised spelling LBC's CRD had first and still accepts.
    prefix_lists_ids_legacy: list[str] | None = Field(default=None, alias="PrefixListsIDs")
    wafv2_acl_arn: str | None = Field(default=None, alias="wafv2AclArn")
    wafv2_acl_name: str | None = Field(default=None, alias="wafv2AclName")


M = TypeVar("M", bound=KubeModel)


def spec_of(obj: Mapping[str, Any], model: type[M]) -> M:
    """Validate `obj["spec"]` into `model`; raises `ValidationError` on malformed input."""
    return model.model_validate(obj.get("spec") or {})


def format_location(prefix: str, loc: tuple[int | str, ...]) -> str:
    """Turn a pydantic error location into a Kubernetes field path: `spec.rules[0].host`."""
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif _is_pydantic_noise(part):
            continue
        else:
            path += f".{part}" if path else part
    return path


_TYPE_TAGS = frozenset(
    {"int", "str", "bool", "float", "none", "constrained-int", "constrained-str"}
)


def _is_pydantic_noise(part: str) -> bool:
    """pydantic names union members and validators in locations; to a user they are noise."""
    return (
        part in _TYPE_TAGS
        or "[" in part
        or part.startswith("function-")
        # A model class name (union member); Kubernetes and AWS fields are camelCase.
        or part[:1].isupper()
    )


def describe_validation_error(err: ValidationError, limit: int = 3) -> str:
    """pydantic's errors as one line: `loc: message; ...` without URLs or input echoes."""
    parts: list[str] = []
    for item in err.errors(include_url=False):
        message = str(item["msg"]).removeprefix("Value error, ")
        location = format_location("", tuple(item["loc"]))
        parts.append(f"{location}: {message}" if location else message)
    if len(parts) > limit:
        parts = [*parts[:limit], f"and {len(parts) - limit} more"]
    return "; ".join(parts)
