"""The desired state of one Ingress group: the `Stack` and everything in it.

These types are the contract between the pure model builder (which makes them from
Kubernetes objects) and the AWS layer (which makes AWS match them). They are frozen pydantic
models whose JSON form, by alias in the AWS API's camelCase, *is* the documented `plan -o
json` format (`docs/plan-format.md`): add fields freely, never rename one.

Identity: every AWS resource is paired with its model resource by the
`ingress.k8s.aws/resource` tag, whose value is the model resource's `id` (LBC's values:
`LoadBalancer`, `ManagedLBSecurityGroup`, `<ns>/<ingress>-<svc>:<port>`, `<port>`,
`<port>:<priority>`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)
from pydantic.alias_generators import to_camel

PLAN_API_VERSION = "plan.alb.ingress/v1"

# Tag keys shared with aws-load-balancer-controller, so its resources are adopted in place.
TAG_CLUSTER = "elbv2.k8s.aws/cluster"
TAG_STACK = "ingress.k8s.aws/stack"
TAG_RESOURCE = "ingress.k8s.aws/resource"

LOAD_BALANCER_RESOURCE_ID = "LoadBalancer"
MANAGED_SG_RESOURCE_ID = "ManagedLBSecurityGroup"


class ModelObject(BaseModel):
    """Base of every model type: immutable, camelCase on the wire, no unknown fields."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        serialize_by_alias=True,
    )


def _without_empty(data: dict[str, object], keys: frozenset[str]) -> dict[str, object]:
    """`data` without those of `keys` whose value is empty: fields added after the plan
    format was published are left out when unset, so plans and digests made before them
    stay as they were."""
    return {key: value for key, value in data.items() if value or key not in keys}


class OmitNone(ModelObject):
    """A model whose unset optional fields are left out of its JSON, as in the AWS API."""

    @model_serializer(mode="wrap")
    def _omit_none(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        data: dict[str, object] = handler(self)
        return {key: value for key, value in data.items() if value is not None}


# --- actions -------------------------------------------------------------------------------


class TargetGroupTuple(OmitNone):
    """One weighted target of a forward action: a model target group or an external ARN."""

    id: str | None = None  # a TargetGroup.id in this stack
    target_group_arn: str | None = None  # a target group not managed by us
    target_group_name: str | None = None  # the same, by name (resolved by the AWS layer)
    weight: int = 1


class Stickiness(OmitNone):
    enabled: bool
    duration_seconds: int | None = None


class ForwardAction(OmitNone):
    type: Literal["forward"] = "forward"
    target_groups: tuple[TargetGroupTuple, ...]
    stickiness: Stickiness | None = None


class RedirectConfig(OmitNone):
    protocol: str = "#{protocol}"
    port: str = "#{port}"
    host: str = "#{host}"
    path: str = "/#{path}"
    query: str = "#{query}"
    status_code: Literal["HTTP_301", "HTTP_302"]


class RedirectAction(ModelObject):
    type: Literal["redirect"] = "redirect"
    redirect_config: RedirectConfig


class FixedResponseConfig(OmitNone):
    status_code: str
    content_type: str | None = None
    message_body: str | None = None


class FixedResponseAction(ModelObject):
    type: Literal["fixed-response"] = "fixed-response"
    fixed_response_config: FixedResponseConfig


# --- authentication (the `auth-*` annotations): an action before the rule's own ---------

DEFAULT_AUTH_SCOPE = "openid"
DEFAULT_AUTH_SESSION_COOKIE = "AWSELBAuthSessionCookie"
DEFAULT_AUTH_SESSION_TIMEOUT = 604800
OnUnauthenticatedRequest = Literal["authenticate", "allow", "deny"]


class ClientSecretRef(ModelObject):
    """Where an OIDC client secret is, never the secret itself: the Kubernetes Secret
    (`namespace`/`name`, key `clientSecret`) and a digest of its value, so a rotated secret
    changes the stack's digest. The AWS layer reads the value at deploy time."""

    namespace: str
    name: str
    digest: str  # `sha256:<hex>` of the value (`controller.model.auth.secret_digest`)


class AuthSession(ModelObject):
    """What both identity providers' actions share: the request and the session."""

    authentication_request_extra_params: dict[str, str] = Field(default_factory=dict)
    on_unauthenticated_request: OnUnauthenticatedRequest = "authenticate"
    scope: str = DEFAULT_AUTH_SCOPE
    session_cookie_name: str = DEFAULT_AUTH_SESSION_COOKIE
    session_timeout: int = DEFAULT_AUTH_SESSION_TIMEOUT


class AuthenticateOidcConfig(AuthSession):
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    user_info_endpoint: str
    # The OAuth client ID (the Secret's `clientID`): not a secret, the ALB sends it to every
    # browser it redirects, and DescribeRules returns it.
    client_id: str
    client_secret_ref: ClientSecretRef


class AuthenticateOidcAction(ModelObject):
    type: Literal["authenticate-oidc"] = "authenticate-oidc"
    authenticate_oidc_config: AuthenticateOidcConfig


class AuthenticateCognitoConfig(AuthSession):
    user_pool_arn: str
    user_pool_client_id: str
    user_pool_domain: str


class AuthenticateCognitoAction(ModelObject):
    type: Literal["authenticate-cognito"] = "authenticate-cognito"
    authenticate_cognito_config: AuthenticateCognitoConfig


JwtClaimFormat = Literal["single-string", "string-array", "space-separated-values"]


class JwtClaim(ModelObject):
    """One claim the token must carry besides the ones AWS always checks (exp, iss, nbf,
    iat): its name, how its value is written, and the accepted values."""

    name: str
    format: JwtClaimFormat
    values: tuple[str, ...]


class JwtValidationConfig(ModelObject):
    jwks_endpoint: str
    issuer: str
    additional_claims: tuple[JwtClaim, ...] = ()


class JwtValidationAction(ModelObject):
    """The `jwt-validation` annotation: the ALB checks the request's bearer token (its
    signature against the issuer's JWKS, its claims) before the rule's own action."""

    type: Literal["jwt-validation"] = "jwt-validation"
    jwt_validation_config: JwtValidationConfig


# The one action a rule may run before its own (AWS allows one per rule): authenticate the
# user (auth-type) or validate a JWT (jwt-validation); on HTTPS listeners only.
AuthAction = AuthenticateOidcAction | AuthenticateCognitoAction | JwtValidationAction

Action = Annotated[
    ForwardAction
    | RedirectAction
    | FixedResponseAction
    | AuthenticateOidcAction
    | AuthenticateCognitoAction
    | JwtValidationAction,
    Field(discriminator="type"),
]


# --- conditions and rules ------------------------------------------------------------------

ConditionField = Literal[
    "host-header",
    "path-pattern",
    "http-header",
    "http-request-method",
    "query-string",
    "source-ip",
]


class QueryStringPair(OmitNone):
    key: str | None = None
    value: str


class Condition(OmitNone):
    """One rule condition. `values` for every field but query-string, which uses pairs;
    host-header, path-pattern and http-header may match `regex_values` instead (AWS's
    RegexValues: regular expressions, not the `*`/`?` globs of `values`)."""

    field: ConditionField
    values: tuple[str, ...] | None = None
    http_header_name: str | None = None
    query_string_values: tuple[QueryStringPair, ...] | None = None
    regex_values: tuple[str, ...] | None = None

    def value_count(self) -> int:
        """How many values count against AWS's limit of 5 per rule."""
        return (
            len(self.values or ())
            + len(self.query_string_values or ())
            + len(self.regex_values or ())
        )


class Rewrite(ModelObject):
    regex: str
    replace: str


class RewriteConfig(ModelObject):
    rewrites: tuple[Rewrite, ...]


TransformType = Literal["host-header-rewrite", "url-rewrite"]


class Transform(OmitNone):
    """A rule transform (the `transforms.<name>` annotation): the request's host header or
    URL rewritten before it is forwarded. The config matching `type` is set."""

    type: TransformType
    host_header_rewrite_config: RewriteConfig | None = None
    url_rewrite_config: RewriteConfig | None = None


class Rule(ModelObject):
    priority: int
    conditions: tuple[Condition, ...]
    actions: tuple[Action, ...]
    # Which Ingress put the rule here, for errors and Events; not sent to AWS.
    ingress: str = ""
    # Left out of the JSON when empty, so rules without transforms keep their plan and digest.
    transforms: tuple[Transform, ...] = ()

    @model_serializer(mode="wrap")
    def _omit_empty(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        return _without_empty(handler(self), frozenset({"transforms"}))

    def resource_id(self, port: int) -> str:
        return f"{port}:{self.priority}"


class MutualAuthentication(ModelObject):
    """A listener's mTLS (`mutual-authentication`); the trust store by name or ARN."""

    mode: Literal["off", "passthrough", "verify"]
    trust_store: str | None = None
    ignore_client_certificate_expiry: bool | None = None  # verify: None means false
    advertise_trust_store_ca_names: Literal["on", "off"] | None = None

    @model_serializer(mode="wrap")
    def _omit_unset(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        data: dict[str, object] = handler(self)
        return {key: value for key, value in data.items() if value is not None}


class Listener(ModelObject):
    port: int
    protocol: Literal["HTTP", "HTTPS"]
    ssl_policy: str | None = None
    # ACM ARNs: the first is the default certificate, the rest the SNI list.
    certificates: tuple[str, ...] = ()
    # HTTPS: the hosts of members without certificate-arn, whose certificates the AWS layer
    # discovers and adds after `certificates`; and which member (`ns/name`) asks for which,
    # so a host without a certificate fails only the members that have it.
    certificate_hosts: tuple[str, ...] = ()
    certificate_hosts_of: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    default_actions: tuple[Action, ...]
    rules: tuple[Rule, ...] = ()
    # `listener-attributes.<Protocol>-<Port>`: only these keys are managed (a key dropped
    # from the annotation keeps its value in AWS, as in LBC); left out of the JSON when empty.
    attributes: dict[str, str] = Field(default_factory=dict)
    # HTTPS: None leaves the listener's mTLS as it is (no annotation names the port).
    mutual_authentication: MutualAuthentication | None = None

    @model_serializer(mode="wrap")
    def _omit_empty(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        return _without_empty(handler(self), frozenset({"attributes", "mutualAuthentication"}))

    @property
    def resource_id(self) -> str:
        return str(self.port)


# --- target groups -------------------------------------------------------------------------


class HealthCheck(ModelObject):
    protocol: Literal["HTTP", "HTTPS"] = "HTTP"
    port: str = "traffic-port"
    path: str = "/"
    interval_seconds: int = 15
    timeout_seconds: int = 5
    healthy_threshold_count: int = 2
    unhealthy_threshold_count: int = 2
    # HTTP codes for HTTP1/HTTP2, gRPC codes for GRPC (the AWS layer picks the matcher key).
    matcher: str = "200"


class TargetGroup(ModelObject):
    id: str  # `<ns>/<ingress>-<svc>:<servicePort>`, the resource tag value
    name: str
    service: str  # `ns/name`
    service_port: int | str  # as the Ingress names it: a number or a port name
    target_type: Literal["instance", "ip"]
    protocol: Literal["HTTP", "HTTPS"]
    protocol_version: Literal["HTTP1", "HTTP2", "GRPC"]
    # The port targets are registered on: the NodePort (instance) or the numeric
    # targetPort (ip; a named targetPort resolves per endpoint and this is 1, as LBC does).
    port: int
    # The Service port's targetPort, for resolving ip targets from EndpointSlices.
    target_port: int | str
    ip_address_type: Literal["ipv4", "ipv6"] = "ipv4"
    health_check: HealthCheck
    attributes: dict[str, str] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    # Instance targets: only nodes with these labels (`target-node-labels`).
    node_labels: dict[str, str] = Field(default_factory=dict)
    # ip targets: the port the ALB's target optimizer talks to its agent on
    # (`target-control-port.<svc>.<port>`). AWS fixes it at creation, so a change replaces
    # the target group. Left out of the JSON when None.
    target_control_port: int | None = None

    @model_serializer(mode="wrap")
    def _omit_empty(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        return _without_empty(
            handler(self), frozenset({"target_control_port", "targetControlPort"})
        )


# --- load balancer, security group, DNS ----------------------------------------------------


class WebAclAssociation(OmitNone):
    """The regional WAFv2 web ACL the load balancer is associated with: by ARN, or by name
    (the AWS layer finds its ARN); neither: none, an association is removed."""

    arn: str | None = None
    name: str | None = None


class WafClassicAssociation(OmitNone):
    """The WAF Classic (regional) web ACL by ID; None: none, an association is removed."""

    web_acl_id: str | None = None


class ShieldProtection(ModelObject):
    """Shield Advanced protection of the load balancer: on, or off (removed)."""

    enabled: bool


class MinimumLoadBalancerCapacity(ModelObject):
    """The ALB's LCU reservation (`minimum-load-balancer-capacity`); 0: none, a
    reservation is reset."""

    capacity_units: int


class IpamPools(ModelObject):
    """The IPAM pool the ALB takes its public IPv4 addresses from (`ipam-ipv4-pool-id`)."""

    ipv4_ipam_pool_id: str


# LoadBalancer fields left out of its JSON when None, so a stack that asks for none of them
# keeps the plan (and the digest) it had before they existed.
_UNMANAGED_WHEN_NONE = frozenset(
    {
        "wafv2",
        "waf_classic",
        "wafClassic",
        "shield_advanced",
        "shieldAdvanced",
        "customer_owned_ipv4_pool",
        "customerOwnedIpv4Pool",
        "ipam_pools",
        "ipamPools",
        "minimum_load_balancer_capacity",
        "minimumLoadBalancerCapacity",
        "subnet_tags",
        "subnetTags",
    }
)


class LoadBalancer(ModelObject):
    name: str
    scheme: Literal["internal", "internet-facing"]
    ip_address_type: Literal["ipv4", "dualstack", "dualstack-without-public-ipv4"]
    # IDs (`subnet-...`) or Name tags; None means discovery by role and cluster tags.
    subnets: tuple[str, ...] | None = None
    # IngressClassParams spec.subnets.tags: discovery's candidates are the subnets with each
    # key and one of its values (any value when none is listed), instead of the role tag.
    subnet_tags: dict[str, tuple[str, ...]] | None = None
    # IDs (`sg-...`) or Name tags; None means a managed frontend group plus the shared
    # backend group.
    security_groups: tuple[str, ...] | None = None
    attributes: dict[str, str] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    # Add-ons, each managed only when an annotation asks (LBC's rule): None leaves what AWS
    # has untouched, whoever set it.
    wafv2: WebAclAssociation | None = None
    waf_classic: WafClassicAssociation | None = None
    shield_advanced: ShieldProtection | None = None
    # Outposts: set when the load balancer is made, never changed on it (LBC's rule).
    customer_owned_ipv4_pool: str | None = None
    # None: no IPAM pool, one the load balancer has is removed (LBC's rule).
    ipam_pools: IpamPools | None = None
    # None: the reservation is left as it is (LBC's rule).
    minimum_load_balancer_capacity: MinimumLoadBalancerCapacity | None = None

    @model_serializer(mode="wrap")
    def _omit_unmanaged(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        data: dict[str, object] = handler(self)
        return {
            key: value
            for key, value in data.items()
            if value is not None or key not in _UNMANAGED_WHEN_NONE
        }

    @property
    def has_add_ons(self) -> bool:
        return (
            self.wafv2 is not None
            or self.waf_classic is not None
            or self.shield_advanced is not None
        )


class SecurityGroupIngress(ModelObject):
    port: int
    cidr: str  # IPv4 or IPv6 CIDR


class SecurityGroupPrefixListIngress(ModelObject):
    port: int
    prefix_list_id: str  # `pl-...`, a managed prefix list


class ManagedSecurityGroup(ModelObject):
    """The frontend group made per ALB when `security-groups` is not given."""

    name: str
    description: str
    ingress: tuple[SecurityGroupIngress, ...]
    tags: dict[str, str] = Field(default_factory=dict)
    # `security-group-prefix-lists`: every listen port times every prefix list; left out of
    # the JSON when empty.
    prefix_list_ingress: tuple[SecurityGroupPrefixListIngress, ...] = ()

    @model_serializer(mode="wrap")
    def _omit_empty(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        return _without_empty(
            handler(self), frozenset({"prefix_list_ingress", "prefixListIngress"})
        )


class GeoLocation(OmitNone):
    """Where a geolocation record set answers: a continent, or a country (and subdivision)."""

    continent_code: str | None = None
    country_code: str | None = None
    subdivision_code: str | None = None


# DnsRecord fields left out of its JSON when None, so a stack whose records have no routing
# policy keeps the plan (and the digest) it had before they existed.
_DNS_UNSET_WHEN_NONE = frozenset(
    {
        "set_identifier",
        "setIdentifier",
        "weight",
        "region",
        "failover",
        "geo_location",
        "geoLocation",
        "evaluate_target_health",
        "evaluateTargetHealth",
    }
)


class DnsRecord(ModelObject):
    name: str  # the host, lower case, no trailing dot
    type: Literal["A", "AAAA"]
    # `ns/name` of the Ingress that declares the host: written into the ownership record.
    ingress: str = ""
    # Route 53 routing policy (the `dns-*` annotations): a SetIdentifier and exactly one of
    # weight, region (latency), failover or geoLocation; none of them: a simple record.
    set_identifier: str | None = None
    weight: int | None = None
    region: str | None = None
    failover: Literal["PRIMARY", "SECONDARY"] | None = None
    geo_location: GeoLocation | None = None
    # The alias's EvaluateTargetHealth; None: true, the default.
    evaluate_target_health: bool | None = None

    @model_serializer(mode="wrap")
    def _omit_unset(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        data: dict[str, object] = handler(self)
        return {
            key: value
            for key, value in data.items()
            if value is not None or key not in _DNS_UNSET_WHEN_NONE
        }

    @model_validator(mode="after")
    def _one_policy_per_set_identifier(self) -> DnsRecord:
        # Route 53's rule; the builder reports it on the annotations first, this guards
        # stacks made elsewhere.
        policies = self.routing_policies()
        if self.set_identifier is not None and len(policies) != 1:
            raise ValueError(
                f"a record with a set identifier needs exactly one routing policy, has "
                f"{', '.join(policies) or 'none'}"
            )
        if self.set_identifier is None and policies:
            raise ValueError(f"routing policy {', '.join(policies)} needs a set identifier")
        return self

    def routing_policies(self) -> list[str]:
        """The routing policies set: weighted, latency, failover, geolocation."""
        found = {
            "weighted": self.weight is not None,
            "latency": self.region is not None,
            "failover": self.failover is not None,
            "geolocation": self.geo_location is not None,
        }
        return [name for name, present in found.items() if present]


# --- stack and plan ------------------------------------------------------------------------


class Stack(ModelObject):
    id: str  # the ingress.k8s.aws/stack tag value: group name, or `ns/name`
    ingresses: tuple[str, ...]  # members in group order
    load_balancer: LoadBalancer
    security_group: ManagedSecurityGroup | None = None
    # Attach the cluster's shared backend security group (and open the nodes to it).
    backend_security_group: bool = True
    target_groups: tuple[TargetGroup, ...] = ()
    listeners: tuple[Listener, ...] = ()
    dns_records: tuple[DnsRecord, ...] = ()

    def members_using(self, target_group_id: str) -> tuple[str, ...]:
        """The members whose rules forward to a target group: whom a refusal of it concerns."""
        return tuple(
            sorted(
                {
                    rule.ingress
                    for listener in self.listeners
                    for rule in listener.rules
                    for action in rule.actions
                    if isinstance(action, ForwardAction)
                    and any(t.id == target_group_id for t in action.target_groups)
                }
            )
        )

    def digest(self) -> str:
        """A stable hash of the whole desired state, for the no-op reconcile check."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()


class BuildError(ModelObject):
    """A precise, user-facing error: which Ingress, which field, and why."""

    ingress: str  # `ns/name`
    field: str  # e.g. `metadata.annotations[alb.ingress.kubernetes.io/scheme]`
    message: str


# Event reasons of `BuildWarning`s (LBC's where it has one).
BACKEND_NOT_FOUND = "BackendNotFound"  # LBC's reason for a missing backend (TargetGroupBinding)
UNSUPPORTED_ANNOTATION = "UnsupportedAnnotation"
# LBC's reason for a model it could not build: here for an OIDC Secret deleted while named,
# whose last version keeps the deployed authentication (LBC keeps AWS as it is).
FAILED_BUILD_MODEL = "FailedBuildModel"


class BuildWarning(ModelObject):
    """Something in an Ingress the builder worked around: it still deploys, and its owner
    hears why (a Warning Event under `reason`)."""

    ingress: str  # `ns/name`
    field: str
    message: str
    reason: str


class ModelError(Exception):
    """The only exception the model builder raises; carries the errors it found."""

    def __init__(self, errors: list[BuildError]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e.ingress}: {e.field}: {e.message}" for e in errors))


class Plan(ModelObject):
    """What `plan -o json` prints: every stack that built, every error, every warning."""

    api_version: str = PLAN_API_VERSION
    stacks: tuple[Stack, ...] = ()
    errors: tuple[BuildError, ...] = ()
    warnings: tuple[BuildWarning, ...] = ()


# --- targets -------------------------------------------------------------------------------


class Target(ModelObject):
    """One registered target: an instance ID on its NodePort, or a pod IP on its port.

    Targets are kept apart from the `Stack` (and its digest) on purpose: a rollout changes
    targets many times a minute, and must touch only targets, never re-deploy the stack.
    """

    id: str
    port: int


# Desired targets per TargetGroup.id.
DesiredTargets = dict[str, frozenset[Target]]
