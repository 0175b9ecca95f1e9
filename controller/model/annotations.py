"""Every supported `alb.ingress.kubernetes.io/*` annotation, as data.

`ANNOTATIONS` is the single source of truth: each `AnnotationSpec` says where the annotation
may sit (Ingress, Service), how it combines inside an Ingress group, the pydantic type its
value parses into, its default and a line of documentation. The builder reads annotations
only through `annotation_reader.read_annotations`, and the README's annotation table is
generated from `ANNOTATIONS`. Names, value syntax and defaults are aws-load-balancer-controller's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, TypeAdapter, ValidationError

from controller.model.dns_values import (
    AwsRegion,
    ContinentCode,
    CountryCode,
    DnsWeight,
    Failover,
    SetIdentifier,
    SubdivisionCode,
)
from controller.model.inputs import describe_validation_error
from controller.model.mtls import MutualAuthenticationValue
from controller.model.rule_values import JwtValidationValue, Transforms
from controller.model.stack import (
    DEFAULT_AUTH_SCOPE,
    DEFAULT_AUTH_SESSION_COOKIE,
    DEFAULT_AUTH_SESSION_TIMEOUT,
)
from controller.model.values import (
    ActionValue,
    AuthIdpCognito,
    AuthIdpOidc,
    CapacityReservation,
    CidrSet,
    CoipPool,
    CommaList,
    CommaSet,
    Conditions,
    GroupName,
    HealthCheckPath,
    HealthCheckPort,
    IpamPoolId,
    KeyValues,
    ListenerAttributes,
    ListenPorts,
    LoadBalancerName,
    NonEmpty,
    Port,
    PrefixListIds,
    SuccessCodes,
    Tags,
    WafClassicAclId,
    WebAclArn,
    WebAclName,
)

PREFIX = "alb.ingress.kubernetes.io/"


class Location(StrEnum):
    """The kind of object an annotation may sit on."""

    INGRESS = "Ingress"
    SERVICE = "Service"


class Scope(StrEnum):
    """How an annotation combines across the Ingresses of one group."""

    # One value for the whole ALB: members that set it must agree (else the later one fails).
    EXCLUSIVE = "exclusive"
    # Merged across members (listen ports, certificates, tags).
    MERGE = "merge"
    # Applies to the Ingress that carries it only (its group, its own actions and conditions).
    INGRESS = "ingress"
    # Per target group; a value on the Service wins over the Ingress's.
    TARGET_GROUP = "target-group"
    # Per rule (the actions of each backend); a value on the backend's Service wins.
    RULE = "rule"


def _arn(values: tuple[str, ...]) -> tuple[str, ...]:
    for value in values:
        if not value.startswith("arn:"):
            raise ValueError(f"{value!r} is not an ARN (arn:aws:acm:...)")
    return values


@dataclass(frozen=True)
class AnnotationSpec:
    """One annotation: its name after the prefix, where it sits, how it merges, its syntax."""

    # e.g. `scheme`; templated names hold a `${...}` part, e.g. `actions.${name}`,
    # `listener-attributes.${Protocol}-${Port}`: what follows the prefix before it
    name: str
    locations: tuple[Location, ...]
    scope: Scope
    value_type: Any  # the pydantic type the string value parses into
    default: str | None
    doc: str
    json: bool = False  # the value is JSON
    _adapter: TypeAdapter[Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_adapter", TypeAdapter(self.value_type))

    @property
    def key(self) -> str:
        return PREFIX + self.name

    @property
    def templated(self) -> bool:
        return "${" in self.name

    @property
    def template_prefix(self) -> str:
        """For `actions.${name}`: `actions.`."""
        return self.name.split("${", 1)[0]

    def parse(self, raw: str) -> Any:
        """The typed value; raises `ValueError` whose message says what is wrong."""
        try:
            if self.json:
                return self._adapter.validate_json(raw)
            return self._adapter.validate_python(raw)
        except ValidationError as err:
            raise ValueError(describe_validation_error(err)) from None


ING = (Location.INGRESS,)
ING_SVC = (Location.INGRESS, Location.SERVICE)

ANNOTATIONS: tuple[AnnotationSpec, ...] = (
    # --- the load balancer ---
    AnnotationSpec(
        "scheme",
        ING,
        Scope.EXCLUSIVE,
        Literal["internal", "internet-facing"],
        "internal",
        "internal or internet-facing. Changing it replaces the ALB.",
    ),
    AnnotationSpec(
        "subnets",
        ING,
        Scope.EXCLUSIVE,
        CommaSet,
        None,
        "Subnet IDs or Name tags, comma-separated; default: discovery by role and cluster tags.",
    ),
    AnnotationSpec(
        "security-groups",
        ING,
        Scope.EXCLUSIVE,
        CommaSet,
        None,
        "Frontend security group IDs or Name tags; turns off the managed frontend group.",
    ),
    AnnotationSpec(
        "manage-backend-security-group-rules",
        ING,
        Scope.EXCLUSIVE,
        bool,
        "false",
        "With security-groups, still attach the shared backend group and open the nodes to it.",
    ),
    AnnotationSpec(
        "load-balancer-name",
        ING,
        Scope.EXCLUSIVE,
        LoadBalancerName,
        None,
        "Explicit ALB name: at most 32 letters, digits and hyphens; default: generated.",
    ),
    AnnotationSpec(
        "tags",
        ING_SVC,
        Scope.MERGE,
        Tags,
        None,
        "Extra AWS tags, k=v comma-separated; on target groups the Service's value wins.",
    ),
    AnnotationSpec(
        "ip-address-type",
        ING,
        Scope.EXCLUSIVE,
        Literal["ipv4", "dualstack", "dualstack-without-public-ipv4"],
        "ipv4",
        "ipv4, dualstack or dualstack-without-public-ipv4; dualstack adds AAAA records.",
    ),
    AnnotationSpec(
        "load-balancer-attributes",
        ING,
        Scope.EXCLUSIVE,
        KeyValues,
        None,
        "ALB attributes, k=v comma-separated (e.g. idle_timeout.timeout_seconds=60).",
    ),
    AnnotationSpec(
        "inbound-cidrs",
        ING,
        Scope.EXCLUSIVE,
        CidrSet,
        "0.0.0.0/0 (plus ::/0 for dualstack)",
        "CIDRs the managed security group opens on every listen port.",
    ),
    AnnotationSpec(
        "security-group-prefix-lists",
        ING,
        Scope.EXCLUSIVE,
        PrefixListIds,
        None,
        "Managed prefix list IDs (pl-...) the managed security group opens every listen port "
        "to; without inbound-cidrs, no CIDR is opened.",
    ),
    AnnotationSpec(
        "customer-owned-ipv4-pool",
        ING,
        Scope.EXCLUSIVE,
        CoipPool,
        None,
        "Customer-owned IPv4 pool (ipv4pool-coip-...) of an ALB on Outposts; set when the ALB "
        "is made, never changed on it.",
    ),
    AnnotationSpec(
        "ipam-ipv4-pool-id",
        ING,
        Scope.EXCLUSIVE,
        IpamPoolId,
        None,
        "IPAM pool (ipam-pool-...) of the ALB's public IPv4 addresses; absent removes it.",
    ),
    AnnotationSpec(
        "minimum-load-balancer-capacity",
        ING,
        Scope.EXCLUSIVE,
        CapacityReservation,
        None,
        "LCU reservation, CapacityUnits=N (at least 100; 0 resets it); absent leaves it as it is.",
    ),
    # --- protection (each managed only when set; absent or empty leaves AWS as it is) ---
    AnnotationSpec(
        "wafv2-acl-arn",
        ING,
        Scope.EXCLUSIVE,
        WebAclArn,
        None,
        "Regional WAFv2 web ACL ARN to associate; none removes the association. Wins over "
        "wafv2-acl-name.",
    ),
    AnnotationSpec(
        "wafv2-acl-name",
        ING,
        Scope.EXCLUSIVE,
        WebAclName,
        None,
        "Regional WAFv2 web ACL name to associate; none removes the association.",
    ),
    AnnotationSpec(
        "waf-acl-id",
        ING,
        Scope.EXCLUSIVE,
        WafClassicAclId,
        None,
        "WAF Classic (regional) web ACL ID to associate; none removes the association.",
    ),
    AnnotationSpec(
        "web-acl-id",
        ING,
        Scope.EXCLUSIVE,
        WafClassicAclId,
        None,
        "Deprecated name of waf-acl-id (waf-acl-id wins).",
    ),
    AnnotationSpec(
        "shield-advanced-protection",
        ING,
        Scope.EXCLUSIVE,
        bool,
        None,
        "true or false: Shield Advanced protection of the ALB (needs a Shield Advanced "
        "subscription).",
    ),
    # --- listeners ---
    AnnotationSpec(
        "listen-ports",
        ING,
        Scope.MERGE,
        ListenPorts,
        '[{"HTTP": 80}], or [{"HTTPS": 443}] with certificate-arn',
        'Listeners this Ingress\'s rules go on, JSON: [{"HTTP": 80}, {"HTTPS": 443}].',
        json=True,
    ),
    AnnotationSpec(
        "certificate-arn",
        ING,
        Scope.MERGE,
        Annotated[CommaList, AfterValidator(_arn)],
        None,
        "ACM certificate ARNs, comma-separated; the first is the default. Default: discovered "
        "from the rule and TLS hosts.",
    ),
    AnnotationSpec(
        "ssl-policy",
        ING,
        Scope.EXCLUSIVE,
        NonEmpty,
        "ELBSecurityPolicy-2016-08",
        "TLS policy of HTTPS listeners.",
    ),
    AnnotationSpec(
        "ssl-redirect",
        ING,
        Scope.EXCLUSIVE,
        Port,
        None,
        "HTTPS port to redirect to: every HTTP listener only answers 301 to it.",
    ),
    AnnotationSpec(
        "mutual-authentication",
        ING,
        Scope.EXCLUSIVE,
        MutualAuthenticationValue,
        None,
        'mTLS of HTTPS listeners, JSON: [{"port": 443, "mode": "verify", "trustStore": '
        '"<name or ARN>"}]; mode off, passthrough or verify (trustStore, optional '
        "ignoreClientCertificateExpiry and advertiseTrustStoreCaNames with verify only). A "
        "listener not listed is left as it is.",
        json=True,
    ),
    AnnotationSpec(
        "listener-attributes.${Protocol}-${Port}",
        ING,
        Scope.MERGE,
        ListenerAttributes,
        None,
        "Attributes of the listener on that protocol and port, k=v comma-separated (e.g. "
        "listener-attributes.HTTPS-443: routing.http.response.server.enabled=false); merged by "
        "key, a key removed is not reset.",
    ),
    # --- target groups ---
    AnnotationSpec(
        "target-type",
        ING_SVC,
        Scope.TARGET_GROUP,
        Literal["instance", "ip"],
        "instance",
        "instance (NodePort on every node) or ip (pod IPs).",
    ),
    AnnotationSpec(
        "backend-protocol",
        ING_SVC,
        Scope.TARGET_GROUP,
        Literal["HTTP", "HTTPS"],
        "HTTP",
        "Protocol from the ALB to the targets.",
    ),
    AnnotationSpec(
        "backend-protocol-version",
        ING_SVC,
        Scope.TARGET_GROUP,
        Literal["HTTP1", "HTTP2", "GRPC"],
        "HTTP1",
        "HTTP1, HTTP2 or GRPC.",
    ),
    AnnotationSpec(
        "target-group-attributes",
        ING_SVC,
        Scope.TARGET_GROUP,
        KeyValues,
        None,
        "Target group attributes, k=v comma-separated (e.g. deregistration_delay...=30).",
    ),
    AnnotationSpec(
        "healthcheck-port",
        ING_SVC,
        Scope.TARGET_GROUP,
        HealthCheckPort,
        "traffic-port",
        "A port number, a named Service port, or traffic-port.",
    ),
    AnnotationSpec(
        "healthcheck-protocol",
        ING_SVC,
        Scope.TARGET_GROUP,
        Literal["HTTP", "HTTPS"],
        "HTTP",
        "Health check protocol.",
    ),
    AnnotationSpec(
        "healthcheck-path",
        ING_SVC,
        Scope.TARGET_GROUP,
        HealthCheckPath,
        "/ (GRPC: /AWS.ALB/healthcheck)",
        "Health check path.",
    ),
    AnnotationSpec(
        "healthcheck-interval-seconds",
        ING_SVC,
        Scope.TARGET_GROUP,
        Annotated[int, Field(ge=5, le=300)],
        "15",
        "Seconds between health checks, 5..300.",
    ),
    AnnotationSpec(
        "healthcheck-timeout-seconds",
        ING_SVC,
        Scope.TARGET_GROUP,
        Annotated[int, Field(ge=2, le=120)],
        "5",
        "Health check timeout, 2..120 seconds, less than the interval.",
    ),
    AnnotationSpec(
        "healthy-threshold-count",
        ING_SVC,
        Scope.TARGET_GROUP,
        Annotated[int, Field(ge=2, le=10)],
        "2",
        "Consecutive successes before a target is healthy, 2..10.",
    ),
    AnnotationSpec(
        "unhealthy-threshold-count",
        ING_SVC,
        Scope.TARGET_GROUP,
        Annotated[int, Field(ge=2, le=10)],
        "2",
        "Consecutive failures before a target is unhealthy, 2..10.",
    ),
    AnnotationSpec(
        "success-codes",
        ING_SVC,
        Scope.TARGET_GROUP,
        SuccessCodes,
        "200 (GRPC: 12)",
        "Healthy response codes or ranges: HTTP 200..499, gRPC 0..99.",
    ),
    AnnotationSpec(
        "target-node-labels",
        ING_SVC,
        Scope.TARGET_GROUP,
        KeyValues,
        None,
        "Instance targets: only nodes with these labels, k=v comma-separated.",
    ),
    AnnotationSpec(
        "target-control-port.${serviceName}.${servicePort}",
        ING_SVC,
        Scope.TARGET_GROUP,
        Port,
        None,
        "ip targets of that backend (service name, port as the Ingress names it): the port of "
        "the ALB target optimizer's agent. Fixed at creation: a change replaces the target "
        "group.",
    ),
    # --- authentication (HTTPS listeners only) ---
    AnnotationSpec(
        "auth-type",
        ING_SVC,
        Scope.RULE,
        Literal["none", "oidc", "cognito"],
        "none",
        "none, oidc or cognito: rules on HTTPS listeners authenticate users first.",
    ),
    AnnotationSpec(
        "auth-idp-oidc",
        ING_SVC,
        Scope.RULE,
        AuthIdpOidc,
        None,
        'OIDC IdP, JSON: {"issuer", "authorizationEndpoint", "tokenEndpoint", '
        '"userInfoEndpoint", "secretName"} (a Secret in the namespace with clientID and '
        "clientSecret), optional authenticationRequestExtraParams.",
        json=True,
    ),
    AnnotationSpec(
        "auth-idp-cognito",
        ING_SVC,
        Scope.RULE,
        AuthIdpCognito,
        None,
        'Cognito user pool, JSON: {"userPoolARN", "userPoolClientID", "userPoolDomain"}, '
        "optional authenticationRequestExtraParams.",
        json=True,
    ),
    AnnotationSpec(
        "auth-on-unauthenticated-request",
        ING_SVC,
        Scope.RULE,
        Literal["authenticate", "allow", "deny"],
        "authenticate",
        "authenticate (redirect to the IdP), allow, or deny (401).",
    ),
    AnnotationSpec(
        "auth-scope",
        ING_SVC,
        Scope.RULE,
        NonEmpty,
        DEFAULT_AUTH_SCOPE,
        "User claims to request from the IdP, space-separated.",
    ),
    AnnotationSpec(
        "auth-session-cookie",
        ING_SVC,
        Scope.RULE,
        NonEmpty,
        DEFAULT_AUTH_SESSION_COOKIE,
        "Name of the authentication session cookie.",
    ),
    AnnotationSpec(
        "auth-session-timeout",
        ING_SVC,
        Scope.RULE,
        Annotated[int, Field(ge=1, le=604800)],
        str(DEFAULT_AUTH_SESSION_TIMEOUT),
        "Authentication session lifetime, 1..604800 seconds.",
    ),
    AnnotationSpec(
        "jwt-validation",
        ING_SVC,
        Scope.RULE,
        JwtValidationValue,
        None,
        'Rules on HTTPS listeners validate the bearer JWT first, JSON: {"jwksEndpoint", '
        '"issuer"}, optional additionalClaims [{"name", "format", "values"}]. Not with '
        "auth-type.",
        json=True,
    ),
    # --- Route 53 records of this Ingress's hosts (rule hosts and external-dns's hostname) ---
    AnnotationSpec(
        "dns-set-identifier",
        ING,
        Scope.INGRESS,
        SetIdentifier,
        None,
        "Route 53 SetIdentifier (1..128 characters) of the records of this Ingress's hosts; "
        "needs exactly one routing policy: dns-weight, dns-region, dns-failover or "
        "dns-geolocation-*.",
    ),
    AnnotationSpec(
        "dns-weight",
        ING,
        Scope.INGRESS,
        DnsWeight,
        None,
        "Weighted routing: the records' weight, 0..255 (with dns-set-identifier).",
    ),
    AnnotationSpec(
        "dns-region",
        ING,
        Scope.INGRESS,
        AwsRegion,
        None,
        "Latency routing: the AWS region the records answer for, e.g. us-east-1 (with "
        "dns-set-identifier).",
    ),
    AnnotationSpec(
        "dns-failover",
        ING,
        Scope.INGRESS,
        Failover,
        None,
        "Failover routing: PRIMARY or SECONDARY (with dns-set-identifier); the secondary "
        "answers while the primary's ALB is unhealthy (dns-evaluate-target-health).",
    ),
    AnnotationSpec(
        "dns-geolocation-continent-code",
        ING,
        Scope.INGRESS,
        ContinentCode,
        None,
        "Geolocation routing by continent: AF, AN, AS, EU, NA, OC or SA (with "
        "dns-set-identifier; not with a country code).",
    ),
    AnnotationSpec(
        "dns-geolocation-country-code",
        ING,
        Scope.INGRESS,
        CountryCode,
        None,
        "Geolocation routing by country: ISO 3166-1 alpha-2 (e.g. DE), or * for the default "
        "location (with dns-set-identifier).",
    ),
    AnnotationSpec(
        "dns-geolocation-subdivision-code",
        ING,
        Scope.INGRESS,
        SubdivisionCode,
        None,
        "Geolocation routing by subdivision of the country code (e.g. WA with US).",
    ),
    AnnotationSpec(
        "dns-evaluate-target-health",
        ING,
        Scope.INGRESS,
        bool,
        "true",
        "The alias records' EvaluateTargetHealth: Route 53 answers with this ALB only while it "
        "has healthy targets.",
    ),
    # --- grouping, actions, conditions ---
    AnnotationSpec(
        "group.name",
        ING,
        Scope.INGRESS,
        GroupName,
        None,
        "Joins an Ingress group sharing one ALB; lower-case DNS-like, at most 63 characters.",
    ),
    AnnotationSpec(
        "group.order",
        ING,
        Scope.INGRESS,
        Annotated[int, Field(ge=-1000, le=1000)],
        "0",
        "Order in the group, -1000..1000; lower first, ties by namespace/name.",
    ),
    AnnotationSpec(
        "actions.${name}",
        ING,
        Scope.INGRESS,
        ActionValue,
        None,
        "A custom action (forward, redirect, fixed-response) for backends with service name "
        "${name} and port name use-annotation.",
        json=True,
    ),
    AnnotationSpec(
        "conditions.${name}",
        ING,
        Scope.INGRESS,
        Conditions,
        None,
        "Extra rule conditions for paths whose backend service is ${name}; host-header, "
        "path-pattern and http-header take values or regexValues.",
        json=True,
    ),
    AnnotationSpec(
        "transforms.${name}",
        ING,
        Scope.INGRESS,
        Transforms,
        None,
        "Rewrites for the rules of paths whose backend service is ${name}, JSON: at most one "
        "url-rewrite and one host-header-rewrite transform, each with rewrites [{regex, "
        "replace}].",
        json=True,
    ),
    AnnotationSpec(
        "use-regex-path-match",
        ING,
        Scope.INGRESS,
        bool,
        "false",
        "ImplementationSpecific paths are regular expressions (path-pattern regexValues, the "
        "leading / dropped); Exact and Prefix paths are unchanged.",
    ),
)

SPECS: dict[str, AnnotationSpec] = {spec.name: spec for spec in ANNOTATIONS if not spec.templated}
TEMPLATED: tuple[AnnotationSpec, ...] = tuple(spec for spec in ANNOTATIONS if spec.templated)

# aws-load-balancer-controller's Ingress annotations (its `pkg/annotations/constants.go`)
# that this controller does not implement yet: a key among them is reported as unsupported,
# any other unknown key as unknown (a typo, most likely). The README lists them too.
LBC_NOT_SUPPORTED: tuple[str, ...] = (
    "acm-pca-arn",
    "create-acm-cert",
    "dry-run-plan",
    "enable-frontend-nlb",
    "frontend-nlb-*",
    "multi-cluster-target-group",
)


def lbc_only(suffix: str) -> bool:
    """Whether `suffix` (the key without the prefix) is an LBC annotation we lack."""
    return any(
        suffix.startswith(name[:-1]) if name.endswith("*") else suffix == name
        for name in LBC_NOT_SUPPORTED
    )
