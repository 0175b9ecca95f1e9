"""What the Ingress fuzz test (`test_fuzz.py`) draws, the foreign AWS it must not touch, and
the rule a Warning Event has to meet.

Strategies. `batches(world, size)` draws lists of `Draft`s: an Ingress without its name, in
one of the test's namespaces. Each draft has an intent: `valid` (every value from pools the
builder accepts; it may still fail in its group or in AWS), `invalid` (the same, but for one
thing the builder refuses: an annotation value, a backend, a wildcard in a Prefix path) or
`any` (anything the API server accepts, bad annotation values one time in four); and one
time in `BREAK_ONE_IN` one thing the API server refuses (`BREAKERS`: bad hosts, paths,
pathTypes, ports, Service names, class field plus legacy annotation, no rules at all). Then
it picks its class (ours, the legacy annotation, another class), a `group.name` from a small
pool (so groups form, conflict and overflow) or a bad one, a few annotations, rules, a
default backend and TLS hosts. Annotation values come from `annotation_values`: a pair of
pools (builder accepts, builder refuses) for every name in
`controller.model.annotations.ANNOTATIONS` (`check_covers_every_annotation` fails the test
when one is added without them). Some accepted values are traps: the names and IDs of the
neighbours' resources (`Foreign`), subnets, security groups and target groups that do not
exist. Hosts are our own names, the names of the neighbours' Route 53 records, a name in no
hosted zone, and (breakers) names the API server refuses. Backends name Services that exist
(NodePort, ClusterIP, one with a bad annotation), one that does not, resources and
`use-annotation` actions, by port number or name. Choices are ordered so that hypothesis's
first (all-zero) example is one group of identical, valid Ingresses.

`Foreign` seeds, directly in moto, two sets of what a neighbour might own: one with no
cluster tags and one tagged for another cluster (with one of our group names as its stack
tag), each an ALB with a listener, a rule, a target group with a target and a security
group with a rule; another cluster's backend security group; per batch, a security group
named as our managed group of `fuzz-c` would be and an ALB named as our internal ALB of
`fuzz-b` would be; and Route 53 records (alias A, plain A, wildcard, CNAME, weighted, TXT,
another cluster's ownership TXT) in the sandbox's hosted zones. `snapshot()` is everything
AWS describes about them, by resource; it must not change.

`field_named(message, ingress, services)` is the rule for one error of a `FailedBuildModel`
message: it must start `<field>: <why>` where `<field>` is
`metadata.annotations[alb.ingress.kubernetes.io/...]` for an annotation the Ingress carries,
`service/<name>.metadata.annotations[...]` for one its Service carries, or a `spec...` path
that exists in the Ingress as the API server stored it (`spec.rules[0].http.paths[1]
.backend.service.port`); it returns that field, or None. `fields_named` applies it to every
error of a message (the controller joins an Ingress's errors with "; ").
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError
from hypothesis import strategies as st

from controller.model.annotations import ANNOTATIONS, PREFIX
from controller.model.names import load_balancer_name, security_group_name

OTHER_CLUSTER = "other-cluster"
# Group names as drawn; each batch gets its own (`batch_group`: `fuzz-a-0`, `fuzz-a-1`, ...)
# so that batches never share an ALB, nor re-create a DNS record exactly as an earlier one
# did (same name, same ALB): plain moto 5.2 refuses such a CREATE ("already exists") once
# any record sorts after its name, even with the record gone, where AWS accepts it (the
# fuzz test found it too; `sandbox.motofixes` corrects it).
# fuzz-a: the other cluster's resources carry it as their stack tag.
# fuzz-b: a foreign ALB holds the name our internal ALB of the group would get.
# fuzz-c: a foreign security group holds the name of the group's managed security group.
GROUPS = ("fuzz-a", "fuzz-b", "fuzz-c")
LB_NAME_TAKEN_GROUP = "fuzz-b"
SG_NAME_TAKEN_GROUP = "fuzz-c"
LEGACY_CLASS = "kubernetes.io/ingress.class"

# Route 53 records seeded for the neighbours: (name, type, zone: public/private/both).
FOREIGN_HOSTS = (
    "foreign.example.com",  # alias A to the untagged ALB, both zones
    "other.example.com",  # alias A to the other cluster's ALB + its ownership TXT
    "plain.example.com",  # a plain A record
    "*.wild.example.com",  # a wildcard A record
    "cname.example.com",  # a CNAME
    "weighted.example.com",  # a weighted A record (SetIdentifier)
    "txt.example.com",  # only a TXT record
)
OWN_HOSTS = ("a.example.com", "b.example.com", "*.example.com", "deep.a.example.com")
NO_ZONE_HOSTS = ("app.unmanaged.test",)
# The API server refuses these (not DNS-1123 subdomains, or IP addresses).
BAD_HOSTS = ("Upper.example.com", "under_score.example.com", "10.0.0.1", "-dash.example.com")

# Services made in every namespace of the test: name -> (type, ports, annotations).
SERVICES: dict[str, tuple[str, list[dict[str, Any]], dict[str, str]]] = {
    "web": (
        "NodePort",
        [
            {"name": "http", "port": 80, "targetPort": 80},
            {"name": "alt", "port": 8080, "targetPort": "alt-http"},
        ],
        {},
    ),
    "cip": ("ClusterIP", [{"name": "http", "port": 80, "targetPort": 80}], {}),
    "grpc": (
        "NodePort",
        [{"name": "grpc", "port": 50051, "targetPort": 50051}],
        {
            PREFIX + "backend-protocol-version": "GRPC",
            PREFIX + "success-codes": "0-99",
        },
    ),
    "badsvc": (
        "NodePort",
        [{"name": "http", "port": 80, "targetPort": 80}],
        {PREFIX + "healthcheck-path": "healthz"},  # no leading '/': invalid
    ),
}
MISSING_SERVICE = "missing"
# Backends with port name use-annotation name an actions.<name> annotation.
ACTION_NAMES = ("redir", "fixed", "fwd", "noaction")


@dataclass(frozen=True)
class World:
    """What the strategies may name: the test's namespaces and the sandbox's AWS."""

    namespaces: tuple[str, ...]
    public_subnets: tuple[str, ...]
    subnet_names: tuple[str, ...]
    certificate_arn: str
    foreign_sg_ids: tuple[str, ...]
    foreign_sg_names: tuple[str, ...]
    foreign_lb_names: tuple[str, ...]


# An explicit ALB name the draws use; like the group names, each batch gets its own.
EXPLICIT_LB = "fuzz-explicit-lb"


def batch_group(name: str, batch: int) -> str:
    """The group (or explicit ALB) name batch number `batch` uses for a drawn `name`, so
    that no two batches make an ALB of the same name (see `GROUPS`)."""
    return f"{name}-{batch}" if name in (*GROUPS, EXPLICIT_LB) else name


@dataclass(frozen=True)
class Draft:
    """One Ingress to create, without its name."""

    namespace: str
    annotations: dict[str, str]
    spec: dict[str, Any]

    def body(self, name: str, batch: int) -> dict[str, Any]:
        annotations = dict(self.annotations)
        for key in (PREFIX + "group.name", PREFIX + "load-balancer-name"):
            if key in annotations:
                annotations[key] = batch_group(annotations[key], batch)
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"namespace": self.namespace, "name": name, "annotations": annotations},
            "spec": json.loads(json.dumps(self.spec)),
        }

    @property
    def ours(self) -> bool:
        """Whether our controller should handle it (the sandbox has no default class)."""
        legacy = self.annotations.get(LEGACY_CLASS)
        if legacy is not None:
            return legacy == "alb"
        return bool(self.spec.get("ingressClassName") == "alb")


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _forward(*groups: dict[str, Any]) -> str:
    return _json({"type": "forward", "forwardConfig": {"targetGroups": list(groups)}})


def annotation_values(world: World) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """(valid, invalid) value pools per annotation name (after the prefix).

    "Valid": the builder accepts the value on its own (with others it may not: a timeout
    over the interval; and AWS may still refuse it: a taken name, an unknown subnet).
    "Invalid": the builder refuses it. Templated names (`actions.${name}`,
    `conditions.${name}`) are keyed by their template and get a concrete `${name}` when
    drawn.
    """
    subnets = world.public_subnets
    return {
        "scheme": (("internal", "internet-facing"), ("sideways", "Internal", "")),
        "subnets": (
            (",".join(subnets), ",".join(world.subnet_names), "subnet-0123456789abcdef0"),
            ("", " , "),
        ),
        "security-groups": (
            (*world.foreign_sg_ids, *world.foreign_sg_names, "sg-0123456789abcdef0"),
            ("", ","),
        ),
        "manage-backend-security-group-rules": (("true", "false"), ("maybe", "")),
        "load-balancer-name": (
            (EXPLICIT_LB, *world.foreign_lb_names),
            ("-leading-hyphen", "x" * 33, "internal-reserved", "under_score"),
        ),
        "tags": (
            ("team=fuzz,env=test", f"elbv2.k8s.aws/cluster={OTHER_CLUSTER}", "empty="),
            ("novalue", "=value"),
        ),
        "ip-address-type": (("ipv4", "dualstack"), ("ipv5", "IPv4")),
        "load-balancer-attributes": (
            ("idle_timeout.timeout_seconds=120", "routing.http2.enabled=false"),
            ("idle_timeout.timeout_seconds", "=1"),
        ),
        "inbound-cidrs": (
            ("10.0.0.0/8", "10.0.0.0/8, 192.168.0.0/16", "0.0.0.0/0,::/0"),
            ("10.0.0.0/33", "10.0.0.1", "nope", ""),
        ),
        # Syntactically valid IDs of no prefix list: the deploy refuses them (AWS would).
        "security-group-prefix-lists": (("pl-0123456789abcdef0",), ("sg-0123", "")),
        "customer-owned-ipv4-pool": (("ipv4pool-coip-0abc",), ("coip-1", " ")),
        "ipam-ipv4-pool-id": (("ipam-pool-0abc", ""), ("pool-1",)),
        "minimum-load-balancer-capacity": (
            ("CapacityUnits=100", "CapacityUnits=0"),
            ("100", "CapacityUnits=50", "Units=100"),
        ),
        # Drawn as listener-attributes.HTTP-80 (`_draw_annotations`).
        "listener-attributes.${Protocol}-${Port}": (
            ("routing.http.response.server.enabled=false",),
            ("routing.http.response.server.enabled", "bad key!=1"),
        ),
        "listen-ports": (
            (
                _json([{"HTTP": 80}]),
                _json([{"HTTP": 8080}]),
                _json([{"HTTPS": 443}]),
                _json([{"HTTP": 80}, {"HTTPS": 443}]),
            ),
            (
                '[{"HTTP": 80}',
                "[]",
                _json([{"FTP": 21}]),
                _json([{"HTTP": 0}]),
                _json({"HTTP": 80}),
                _json([{"HTTP": 80}, {"HTTPS": 80}]),
            ),
        ),
        "certificate-arn": ((world.certificate_arn,), ("not-an-arn", "")),
        "ssl-policy": (("ELBSecurityPolicy-2016-08", "ELBSecurityPolicy-TLS13-1-2-2021-06"), ("",)),
        "ssl-redirect": (("443",), ("0", "https", "70000")),
        "target-type": (("instance", "ip"), ("pod",)),
        "backend-protocol": (("HTTP", "HTTPS"), ("TCP", "http")),
        "backend-protocol-version": (("HTTP1", "HTTP2", "GRPC"), ("HTTP3",)),
        "target-group-attributes": (
            ("deregistration_delay.timeout_seconds=30", "stickiness.enabled=false"),
            ("stickiness.enabled",),
        ),
        "healthcheck-port": (("traffic-port", "8080", "http"), ("0", "99999", "nosuchport")),
        "healthcheck-protocol": (("HTTP", "HTTPS"), ("gopher",)),
        "healthcheck-path": (("/", "/healthz"), ("healthz", "")),
        "healthcheck-interval-seconds": (("5", "15", "300"), ("4", "301", "often")),
        "healthcheck-timeout-seconds": (("2", "5", "120"), ("1", "121", "soon")),
        "healthy-threshold-count": (("2", "10"), ("1", "11")),
        "unhealthy-threshold-count": (("2", "10"), ("1", "eleven")),
        "success-codes": (("200", "200-299", "200,302"), ("ok", "299-200", "600")),
        "target-node-labels": (
            ("kubernetes.io/os=linux", "node.kubernetes.io/instance-type=t3.medium"),
            ("linux",),
        ),
        # auth-type none only among the accepted: oidc and cognito need an IdP annotation
        # (and a Secret) the draft may lack, an error naming a key it does not carry.
        "auth-type": (("none",), ("basic", "OIDC")),
        "auth-idp-oidc": (
            (
                _json(
                    {
                        "issuer": "https://idp.example.com",
                        "authorizationEndpoint": "https://idp.example.com/authorize",
                        "tokenEndpoint": "https://idp.example.com/token",
                        "userInfoEndpoint": "https://idp.example.com/userinfo",
                        "secretName": "oidc",
                    }
                ),
            ),
            ('{"issuer": "https://idp.example.com"', _json({"issuer": "http://idp"})),
        ),
        "auth-idp-cognito": (
            (
                _json(
                    {
                        "userPoolARN": "arn:aws:cognito-idp:us-east-1:123456789012:userpool/p",
                        "userPoolClientID": "client",
                        "userPoolDomain": "domain",
                    }
                ),
            ),
            (_json({"userPoolARN": "pool"}),),
        ),
        "auth-on-unauthenticated-request": (("authenticate", "allow", "deny"), ("redirect",)),
        "auth-scope": (("openid", "openid email"), ("  ",)),
        "auth-session-cookie": (("AWSELBAuthSessionCookie",), ("",)),
        "auth-session-timeout": (("604800", "60"), ("0", "604801", "week")),
        # Read on HTTPS listeners only; with an auth-type (all drawn ones are invalid) an error.
        "jwt-validation": (
            (
                _json(
                    {
                        "jwksEndpoint": "https://idp.example.com/jwks",
                        "issuer": "https://idp.example.com",
                        "additionalClaims": [
                            {
                                "name": "scope",
                                "format": "space-separated-values",
                                "values": ["read"],
                            }
                        ],
                    }
                ),
            ),
            (_json({"issuer": "https://idp.example.com"}), _json({"jwksEndpoint": "http://x"})),
        ),
        "use-regex-path-match": (("false", "true"), ("yes please",)),
        # The sandbox has no trust store: verify (by name) is refused by AWS
        # (TrustStoreNotFound, provoked on purpose); passthrough and off need none.
        "mutual-authentication": (
            (
                _json([{"port": 443, "mode": "passthrough"}]),
                _json([{"port": 443, "mode": "off"}]),
                _json([{"port": 443, "mode": "verify", "trustStore": "no-such-store"}]),
            ),
            (_json([{"port": 443, "mode": "verify"}]), _json([{"port": 443, "mode": "strict"}])),
        ),
        # The sandbox has no web ACL: an ARN or a name is refused by AWS
        # (WAFNonexistentItemException, provoked on purpose); `none` reads and changes
        # nothing. A blank value is as if absent.
        "wafv2-acl-arn": (
            (
                "none",
                "",
                "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/fuzz/0b7e7a4e-0000",
            ),
            ("frontline", "arn:aws:wafv2:us-east-1:123456789012:global/webacl/cdn/1"),
        ),
        "wafv2-acl-name": (("none", "no-such-acl"), ("front line",)),
        # moto has no WAF Classic at all: only the blank value (no call) is drawn valid.
        "waf-acl-id": (("",), ("acl/1", "acl 1")),
        "web-acl-id": (("",), ("acl/1",)),
        # No Shield subscription in the sandbox: true is a ShieldNotSubscribed warning.
        "shield-advanced-protection": (("true", "false"), ("yes please",)),
        # Route 53 routing policies: a policy without dns-set-identifier (or the reverse)
        # is the builder's error naming the field.
        "dns-set-identifier": (("blue", "green"), ("", "x" * 129)),
        "dns-weight": (("10", "0"), ("256", "heavy")),
        "dns-region": (("us-east-1",), ("US EAST",)),
        "dns-failover": (("PRIMARY", "SECONDARY"), ("TERTIARY",)),
        "dns-geolocation-continent-code": (("EU",), ("XX",)),
        "dns-geolocation-country-code": (("DE", "*"), ("Germany",)),
        "dns-geolocation-subdivision-code": (("WA",), ("Washington state",)),
        "dns-evaluate-target-health": (("true", "false"), ("maybe",)),
        # Drawn as target-control-port.web.80 (`_draw_annotations`): an error for instance
        # targets, a replacement of the target group when it changes.
        "target-control-port.${serviceName}.${servicePort}": (("3000", "4000"), ("0", "agent")),
        "transforms.${name}": (
            (
                _json(
                    [
                        {
                            "type": "url-rewrite",
                            "urlRewriteConfig": {
                                "rewrites": [{"regex": "^/api/(.*)$", "replace": "/$1"}]
                            },
                        }
                    ]
                ),
                _json(
                    [
                        {
                            "type": "host-header-rewrite",
                            "hostHeaderRewriteConfig": {
                                "rewrites": [{"regex": "^(.+)$", "replace": "internal.$1"}]
                            },
                        }
                    ]
                ),
            ),
            (_json([{"type": "url-rewrite"}]), _json({"type": "url-rewrite"})),
        ),
        "group.name": (GROUPS, ("Fuzz_A", "-fuzz", "g" * 64)),
        "group.order": (("0", "-5", "10"), ("1001", "first")),
        "actions.${name}": (
            (
                _json(
                    {
                        "type": "redirect",
                        "redirectConfig": {
                            "protocol": "HTTPS",
                            "port": "443",
                            "statusCode": "HTTP_301",
                        },
                    }
                ),
                _json(
                    {
                        "type": "fixed-response",
                        "fixedResponseConfig": {
                            "contentType": "text/plain",
                            "statusCode": "503",
                            "messageBody": "down",
                        },
                    }
                ),
                _forward(
                    {"serviceName": "web", "servicePort": 80, "weight": 1},
                    {"serviceName": "web", "servicePort": "alt", "weight": 2},
                ),
                _json({"type": "forward", "targetGroupName": "no-such-target-group"}),
            ),
            (
                _forward({"serviceName": MISSING_SERVICE, "servicePort": 80}),
                "{not json",
                _json({"type": "teleport"}),
                _json({"type": "redirect"}),
                _json({"type": "fixed-response", "fixedResponseConfig": {"statusCode": "999"}}),
                _forward(*({"serviceName": "web", "servicePort": 80} for _ in range(6))),
            ),
        ),
        "conditions.${name}": (
            (
                _json(
                    [
                        {
                            "field": "http-header",
                            "httpHeaderConfig": {"httpHeaderName": "X-Fuzz", "values": ["1"]},
                        }
                    ]
                ),
                _json(
                    [
                        {
                            "field": "query-string",
                            "queryStringConfig": {"values": [{"key": "a", "value": "b"}]},
                        }
                    ]
                ),
                _json([{"field": "source-ip", "sourceIpConfig": {"values": ["10.0.0.0/8"]}}]),
                _json(
                    [{"field": "host-header", "hostHeaderConfig": {"values": ["alt.example.com"]}}]
                ),
                _json(
                    [
                        {
                            "field": "http-request-method",
                            "httpRequestMethodConfig": {"values": ["GET", "HEAD"]},
                        }
                    ]
                ),
                # Valid alone, but with a host and a path a rule is over AWS's 5 values.
                _json(
                    [
                        {
                            "field": "source-ip",
                            "sourceIpConfig": {
                                "values": [f"10.{i}.0.0/16" for i in range(5)],
                            },
                        }
                    ]
                ),
            ),
            (
                "[]",
                _json([{"field": "cookie"}]),
                _json([{"field": "source-ip", "sourceIpConfig": {"values": ["nope"]}}]),
                _json(
                    [
                        {
                            "field": "http-header",
                            "httpHeaderConfig": {"httpHeaderName": "bad header", "values": ["1"]},
                        }
                    ]
                ),
            ),
        ),
    }


def check_covers_every_annotation(values: Mapping[str, object]) -> None:
    names = {spec.name for spec in ANNOTATIONS}
    missing, extra = names - set(values), set(values) - names
    assert not missing and not extra, f"fuzz pools: missing {missing}, unknown {extra}"


# --- strategies ------------------------------------------------------------------------------

# Pools of values the API server accepts (the builder or AWS may still refuse them); the
# first entry of each is what hypothesis's simplest example uses. What the API server
# refuses is added to one Ingress in `BREAK_ONE_IN` by one of `BREAKERS`, so that most
# Ingresses get as far as the controller.
HOSTS = st.sampled_from((OWN_HOSTS[0], None, *OWN_HOSTS[1:], *FOREIGN_HOSTS, *NO_ZONE_HOSTS))
PATHS = st.sampled_from(("/", "/api", "/api/", "/v1/items", "/*", "/a*b"))
PATH_TYPES = st.sampled_from(("Prefix", "Exact", "ImplementationSpecific"))
SERVICE_NAMES = st.sampled_from(("web", "cip", "grpc", "badsvc", MISSING_SERVICE, *ACTION_NAMES))
PORT_NAMES = st.sampled_from(("http", "alt", "grpc", "nope", "use-annotation"))
PORT_NUMBERS = st.sampled_from((80, 8080, 50051, 81))
BREAK_ONE_IN = 5
BREAKERS = (
    "host",  # not a DNS-1123 subdomain, or an IP address
    "path",  # relative, or holding `//` or `/../`
    "empty-prefix-path",  # Prefix and Exact need a path
    "path-type",  # not one of the three
    "port-both",  # port number and name
    "port-neither",
    "port-zero",
    "service-name",  # not a DNS-1035 label
    "class-and-annotation",  # spec.ingressClassName and the legacy annotation
    "no-rules-no-default",
)


@st.composite
def backends(draw: st.DrawFn, actions: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Any backend the API server accepts, or (`actions` given) one the builder accepts:
    a port of `web` or `grpc`, or use-annotation for one of `actions`."""
    if actions is not None:
        choices = [*GOOD_BACKENDS, *(_use_annotation(name) for name in actions)]
        return copy.deepcopy(draw(st.sampled_from(choices)))
    kind = draw(st.sampled_from(("number", "name", "number", "name", "resource")))
    service = draw(SERVICE_NAMES)
    if kind == "resource":
        return {"resource": {"apiGroup": "k8s.example.com", "kind": "Bucket", "name": "static"}}
    if kind == "number":
        return {"service": {"name": service, "port": {"number": draw(PORT_NUMBERS)}}}
    port = "use-annotation" if service in ACTION_NAMES else draw(PORT_NAMES)
    return {"service": {"name": service, "port": {"name": port}}}


def _use_annotation(name: str) -> dict[str, Any]:
    return {"service": {"name": name, "port": {"name": "use-annotation"}}}


GOOD_BACKENDS: tuple[dict[str, Any], ...] = (
    {"service": {"name": "web", "port": {"number": 80}}},
    {"service": {"name": "web", "port": {"name": "alt"}}},
    {"service": {"name": "web", "port": {"name": "http"}}},
    {"service": {"name": "grpc", "port": {"number": 50051}}},
)
# Backends the builder refuses: a missing Service or port, a ClusterIP Service for instance
# targets, a Service with a bad annotation, a resource, use-annotation with no action.
BAD_BACKENDS: tuple[dict[str, Any], ...] = (
    {"service": {"name": MISSING_SERVICE, "port": {"number": 80}}},
    {"service": {"name": "web", "port": {"number": 81}}},
    {"service": {"name": "web", "port": {"name": "nope"}}},
    {"service": {"name": "cip", "port": {"number": 80}}},
    {"service": {"name": "badsvc", "port": {"name": "http"}}},
    {"resource": {"apiGroup": "k8s.example.com", "kind": "Bucket", "name": "static"}},
    _use_annotation("noaction"),
)


@st.composite
def http_paths(draw: st.DrawFn, actions: tuple[str, ...] | None = None) -> dict[str, Any]:
    path_type = draw(PATH_TYPES)
    path: dict[str, Any] = {"pathType": path_type, "backend": draw(backends(actions))}
    if path_type != "ImplementationSpecific" or draw(st.booleans()):
        value = draw(PATHS)
        if actions is not None and path_type != "ImplementationSpecific":
            value = value.replace("*", "")  # wildcards only in ImplementationSpecific
        path["path"] = value or "/"
    return path


@st.composite
def rules(draw: st.DrawFn, actions: tuple[str, ...] | None = None) -> dict[str, Any]:
    rule: dict[str, Any] = {}
    host = draw(HOSTS)
    if host is not None:
        rule["host"] = host
    if draw(st.integers(0, 7)) > 0:
        rule["http"] = {"paths": draw(st.lists(http_paths(actions), min_size=1, max_size=3))}
    return rule


def _pick(values: tuple[tuple[str, ...], tuple[str, ...]], bad: int) -> st.SearchStrategy[str]:
    """A value from the valid pool, or, one time in `bad` (never if 0), the invalid one."""
    valid, invalid = values
    if not bad or not invalid:
        return st.sampled_from(valid)
    return st.integers(1, bad).flatmap(lambda n: st.sampled_from(invalid if n == bad else valid))


def _first_path(spec: dict[str, Any]) -> dict[str, Any]:
    """The first path of the first rule, made if there is none."""
    rules = spec.setdefault("rules", [])
    if not rules:
        rules.append({})
    paths = rules[0].setdefault("http", {}).setdefault("paths", [])
    if not paths:
        backend = copy.deepcopy(GOOD_BACKENDS[0])
        paths.append({"path": "/", "pathType": "Prefix", "backend": backend})
    path: dict[str, Any] = paths[0]
    return path


def _break_for_api(
    draw: st.DrawFn, how: str, annotations: dict[str, str], spec: dict[str, Any]
) -> None:
    """Make the Ingress one the API server refuses, in the way `how` says."""
    if how == "class-and-annotation":
        spec["ingressClassName"] = "alb"
        annotations[LEGACY_CLASS] = "alb"
    elif how == "no-rules-no-default":
        spec.pop("rules", None)
        spec.pop("defaultBackend", None)
        spec.pop("tls", None)
    elif how == "host":
        rules = spec.setdefault("rules", [])
        if not rules:
            rules.append({})
        rules[0]["host"] = draw(st.sampled_from(BAD_HOSTS))
    else:
        _break_first_path(draw, how, spec)


def _break_first_path(draw: st.DrawFn, how: str, spec: dict[str, Any]) -> None:
    """Break the first path (made if there is none; its backend made a service) as `how`
    says: its path, path type, service port or service name."""
    path = _first_path(spec)
    path["backend"].pop("resource", None)
    service = path["backend"].setdefault("service", {"name": "web", "port": {"number": 80}})
    port = service["port"]
    if how == "path":
        path["path"] = draw(st.sampled_from(("relative", "/a//b", "/x/../y", "/end/..")))
    elif how == "empty-prefix-path":
        path.pop("path", None)
        path["pathType"] = draw(st.sampled_from(("Prefix", "Exact")))
    elif how == "path-type":
        path["pathType"] = draw(st.sampled_from(("Regex", "prefix", "")))
    elif how == "port-both":
        port.update(number=80, name="http")
    elif how == "port-neither":
        port.clear()
    elif how == "port-zero":
        port.clear()
        port["number"] = 0
    elif how == "service-name":
        service["name"] = draw(st.sampled_from(("Web", "web_1", "1web")))


def _break_for_builder(
    draw: st.DrawFn, pools: dict[str, tuple[tuple[str, ...], tuple[str, ...]]],
    annotations: dict[str, str], spec: dict[str, Any],
) -> None:  # fmt: skip
    """Make an otherwise valid Ingress one the builder refuses, in one place."""
    how = draw(st.sampled_from(("annotation", "backend", "default-backend", "wildcard")))
    if how == "annotation":
        name = draw(st.sampled_from(sorted(n for n in pools if "${" not in n)))
        annotations[PREFIX + name] = draw(st.sampled_from(pools[name][1]))
    elif how == "default-backend":
        spec["defaultBackend"] = copy.deepcopy(draw(st.sampled_from(BAD_BACKENDS)))
    elif how == "backend":
        _first_path(spec)["backend"] = copy.deepcopy(draw(st.sampled_from(BAD_BACKENDS)))
    else:
        path = _first_path(spec)
        path["pathType"] = draw(st.sampled_from(("Prefix", "Exact")))
        path["path"] = draw(st.sampled_from(("/*", "/a*b", "/api/*")))


@st.composite
def drafts(draw: st.DrawFn, world: World) -> Draft:
    """One Ingress. Its intent: `valid` (from pools the builder accepts; it may still fail
    in its group or in AWS), `invalid` (valid but for one thing the builder refuses), or
    `any` (anything the API server accepts, invalid pools one time in four); then, one
    time in `BREAK_ONE_IN`, one thing the API server refuses."""
    pools = annotation_values(world)
    intent = draw(st.sampled_from(("valid", "valid", "invalid", "any")))
    bad = 4 if intent == "any" else 0
    annotations: dict[str, str] = {}
    spec: dict[str, Any] = {}
    _draw_class(draw, annotations, spec)
    _draw_group(draw, pools, intent, annotations)
    actions = _draw_annotations(draw, pools, bad, annotations)
    _draw_backends(draw, None if intent == "any" else actions, spec)
    if intent == "invalid":
        _break_for_builder(draw, pools, annotations, spec)
    _draw_tls(draw, spec)
    if draw(st.integers(0, BREAK_ONE_IN - 1)) == 1:  # not 0: the simplest example is valid
        _break_for_api(draw, draw(st.sampled_from(BREAKERS)), annotations, spec)
    namespace = draw(st.sampled_from(world.namespaces))
    return Draft(namespace=namespace, annotations=annotations, spec=spec)


def _draw_class(draw: st.DrawFn, annotations: dict[str, str], spec: dict[str, Any]) -> None:
    """The class: `alb` by name (mostly) or by the legacy annotation, or another class."""
    klass = draw(st.sampled_from(("class", "class", "class", "legacy", "other-class")))
    if klass == "class":
        spec["ingressClassName"] = "alb"
    elif klass == "other-class":
        spec["ingressClassName"] = "nginx"
    else:
        annotations[LEGACY_CLASS] = "alb"


def _draw_group(
    draw: st.DrawFn, pools: dict[str, tuple[tuple[str, ...], tuple[str, ...]]],
    intent: str, annotations: dict[str, str],
) -> None:  # fmt: skip
    """Alone, in one of `GROUPS`, or (intent `any`) in a group of an invalid name."""
    grouping = draw(st.sampled_from(("group", "alone", "group", "alone", "alone", "bad-group")))
    if grouping == "group" or (grouping == "bad-group" and intent != "any"):
        annotations[PREFIX + "group.name"] = draw(st.sampled_from(GROUPS))
    elif grouping == "bad-group":
        annotations[PREFIX + "group.name"] = draw(st.sampled_from(pools["group.name"][1]))


def _draw_annotations(
    draw: st.DrawFn, pools: dict[str, tuple[tuple[str, ...], tuple[str, ...]]],
    bad: int, annotations: dict[str, str],
) -> tuple[str, ...]:  # fmt: skip
    """Up to 4 plain annotations, up to 2 actions and 1 condition; returns the actions."""
    plain = sorted(n for n in pools if "${" not in n and n != "group.name")
    for name in draw(st.lists(st.sampled_from(plain), max_size=4, unique=True)):
        annotations[PREFIX + name] = draw(_pick(pools[name], bad))
    actions = tuple(draw(st.lists(st.sampled_from(ACTION_NAMES[:3]), max_size=2, unique=True)))
    for name in actions:
        annotations[f"{PREFIX}actions.{name}"] = draw(_pick(pools["actions.${name}"], bad))
    for name in draw(st.lists(st.sampled_from(("web", "redir")), max_size=1, unique=True)):
        annotations[f"{PREFIX}conditions.{name}"] = draw(_pick(pools["conditions.${name}"], bad))
    if draw(st.integers(0, 4)) == 1:  # not 0: the simplest example stays as it was
        template = "listener-attributes.${Protocol}-${Port}"
        annotations[f"{PREFIX}listener-attributes.HTTP-80"] = draw(_pick(pools[template], bad))
    _draw_rule_features(draw, pools, bad, annotations)
    return actions


def _draw_rule_features(
    draw: st.DrawFn, pools: dict[str, tuple[tuple[str, ...], tuple[str, ...]]],
    bad: int, annotations: dict[str, str],
) -> None:  # fmt: skip
    """One time in 5 each (not 0: the simplest example stays as it was), transforms for a
    backend and a target control port for web:80."""
    if draw(st.integers(0, 4)) == 1:
        name = draw(st.sampled_from(("web", "redir")))
        annotations[f"{PREFIX}transforms.{name}"] = draw(_pick(pools["transforms.${name}"], bad))
    if draw(st.integers(0, 4)) == 1:
        template = "target-control-port.${serviceName}.${servicePort}"
        annotations[f"{PREFIX}target-control-port.web.80"] = draw(_pick(pools[template], bad))


def _draw_backends(draw: st.DrawFn, allowed: tuple[str, ...] | None, spec: dict[str, Any]) -> None:
    """Rules, a default backend, or both (using only the `allowed` actions, if given)."""
    shape = draw(st.sampled_from(("rules", "rules", "default", "both")))
    if shape in ("rules", "both"):
        spec["rules"] = draw(st.lists(rules(allowed), min_size=1, max_size=3))
    if shape in ("default", "both"):
        spec["defaultBackend"] = draw(backends(allowed))


def _draw_tls(draw: st.DrawFn, spec: dict[str, Any]) -> None:
    """One time in 5, when a rule has a host, TLS for the first host."""
    hosts = [r["host"] for r in spec.get("rules", ()) if "host" in r]
    if hosts and draw(st.integers(0, 4)) == 0:
        spec["tls"] = [{"hosts": hosts[:1], "secretName": "tls"}]


def batches(world: World, size: int) -> st.SearchStrategy[list[Draft]]:
    return st.lists(drafts(world), min_size=size, max_size=size)


# --- the Warning rule ------------------------------------------------------------------------

_FIELD = re.compile(
    r"^(?P<field>(?:service/(?P<service>[a-z0-9.-]+)\.)?"
    r"(?:metadata\.annotations\[(?P<key>[^\]]+)\]|spec(?:\.[A-Za-z]+|\[\d+\])*)): "
)
_STEP = re.compile(r"\.([A-Za-z]+)|\[(\d+)\]")


def _resolves(root: Any, path: str) -> bool:
    node = root
    for key, index in _STEP.findall("." + path):
        if key:
            if not isinstance(node, Mapping) or key not in node:
                return False
            node = node[key]
        else:
            if not isinstance(node, list) or int(index) >= len(node):
                return False
            node = node[int(index)]
    return True


def field_named(
    message: str, ingress: Mapping[str, Any], services: Mapping[str, Mapping[str, Any]]
) -> str | None:
    """The field a FailedBuildModel message starts with, if it exists on the object it names
    (see the module docstring); None if the message names no field."""
    match = _FIELD.match(message)
    if match is None:
        return None
    found, service, key = match["field"], match["service"], match["key"]
    if service is not None:
        owner = services.get(service)
        if owner is None:
            return None
        if key is None:
            return found if _resolves(owner, found.split(".", 1)[1]) else None
        annotations = (owner.get("metadata") or {}).get("annotations") or {}
        return found if key.startswith(PREFIX) and key in annotations else None
    if key is not None:
        annotations = (ingress.get("metadata") or {}).get("annotations") or {}
        return found if key.startswith(PREFIX) and key in annotations else None
    return found if _resolves(ingress, found) else None


# Where the next error of a joined message starts (`<field>: <why>; <field>: <why>`); a
# `<why>` may hold "; " itself (pydantic's errors), but never followed by such a field.
_NEXT_ERROR = re.compile(r"; (?=(?:service/[a-z0-9.-]+\.)?(?:metadata\.annotations\[|spec[.\[:]))")
EVENT_MESSAGE_LIMIT = 1024  # the controller cuts Event messages there


def fields_named(
    message: str, ingress: Mapping[str, Any], services: Mapping[str, Mapping[str, Any]]
) -> list[str] | None:
    """The field of each error a FailedBuildModel message joins, or None if any names no
    field of the object (`field_named`). A message cut at the Event limit loses its last
    error, which is not judged."""
    parts = _NEXT_ERROR.split(message)
    if len(message) >= EVENT_MESSAGE_LIMIT and len(parts) > 1:
        parts = parts[:-1]
    found = [field_named(part, ingress, services) for part in parts]
    return None if None in found else [f for f in found if f is not None]


def field_kind(field_path: str) -> str:
    """A field with its indexes dropped, for the summary: `spec.rules[*].host`."""
    return re.sub(r"\[\d+\]", "[*]", field_path)


# --- foreign resources -------------------------------------------------------------------------


@dataclass
class Foreign:
    """The neighbours' resources, seeded directly in moto (see the module docstring)."""

    elbv2: Any
    ec2: Any
    route53: Any
    load_balancers: list[str] = field(default_factory=list)  # ARNs
    target_groups: list[str] = field(default_factory=list)
    listeners: list[str] = field(default_factory=list)
    security_groups: list[str] = field(default_factory=list)
    records: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (zone, rrset)
    lb_names: list[str] = field(default_factory=list)

    def seed(
        self,
        *,
        cluster: str,
        vpc_id: str,
        subnets: Sequence[str],
        instance_id: str,
        public_zone: str,
        private_zone: str,
        suffix: str,
        batches: int,
    ) -> None:
        """Seed it all; our own names are taken for batches 0 to `batches` - 1."""
        other = {
            "elbv2.k8s.aws/cluster": OTHER_CLUSTER,
            "ingress.k8s.aws/stack": batch_group(GROUPS[0], 0),
        }
        lb_dns: dict[str, tuple[str, str]] = {}
        for label, tags in (("untagged", {}), ("other", other)):
            name = f"foreign-{label}-{suffix}"

            def tagged(resource: str, tags: dict[str, str] = tags) -> list[dict[str, str]]:
                # "Untagged" means no cluster tags; AWS wants at least one tag when any.
                extra = {"ingress.k8s.aws/resource": resource} if tags else {}
                return _aws_tags({"owner": "neighbour", **tags, **extra})

            sg = self._security_group(
                name, vpc_id, [{"Key": "Name", "Value": name}, *tagged("ManagedLBSecurityGroup")]
            )
            tg = self.elbv2.create_target_group(
                Name=name,
                Protocol="HTTP",
                Port=30080,
                VpcId=vpc_id,
                TargetType="instance",
                Tags=tagged(f"{batch_group(GROUPS[0], 0)}-web:80"),
            )["TargetGroups"][0]["TargetGroupArn"]
            self.target_groups.append(tg)
            self.elbv2.register_targets(
                TargetGroupArn=tg, Targets=[{"Id": instance_id, "Port": 30080}]
            )
            lb = self.elbv2.create_load_balancer(
                Name=name,
                Subnets=list(subnets),
                SecurityGroups=[sg],
                Scheme="internet-facing",
                Type="application",
                Tags=tagged("LoadBalancer"),
            )["LoadBalancers"][0]
            self.load_balancers.append(lb["LoadBalancerArn"])
            self.lb_names.append(name)
            lb_dns[label] = (lb["DNSName"], lb["CanonicalHostedZoneId"])
            listener = self.elbv2.create_listener(
                LoadBalancerArn=lb["LoadBalancerArn"],
                Protocol="HTTP",
                Port=80,
                DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
                Tags=tagged("80"),
            )["Listeners"][0]["ListenerArn"]
            self.listeners.append(listener)
            self.elbv2.create_rule(
                ListenerArn=listener,
                Priority=1,
                Conditions=[{"Field": "host-header", "Values": [f"{label}.example.com"]}],
                Actions=[
                    {
                        "Type": "fixed-response",
                        "FixedResponseConfig": {"StatusCode": "418", "ContentType": "text/plain"},
                    }
                ],
                Tags=tagged("80:1"),
            )
        # A backend group of the other cluster, and our own names taken by strangers.
        name = f"foreign-backend-{suffix}"
        self._security_group(
            name,
            vpc_id,
            _aws_tags(
                {
                    "Name": name,
                    "elbv2.k8s.aws/cluster": OTHER_CLUSTER,
                    "elbv2.k8s.aws/resource": "backend-sg",
                }
            ),
        )
        for batch in range(batches):
            stack = batch_group(SG_NAME_TAKEN_GROUP, batch)
            squatted_sg = security_group_name(cluster, stack, True)
            self._security_group(squatted_sg, vpc_id, _aws_tags({"owner": "neighbour"}))
            stack = batch_group(LB_NAME_TAKEN_GROUP, batch)
            squatter = load_balancer_name(cluster, stack, True, "internal")
            lb = self.elbv2.create_load_balancer(
                Name=squatter,
                Subnets=list(subnets),
                Scheme="internal",
                Type="application",
                Tags=_aws_tags({"owner": "neighbour"}),
            )["LoadBalancers"][0]
            self.load_balancers.append(lb["LoadBalancerArn"])
        self._records(lb_dns, public_zone, private_zone)

    def _security_group(self, name: str, vpc_id: str, tags: list[dict[str, str]]) -> str:
        sg = self.ec2.create_security_group(
            GroupName=name,
            Description="a neighbour's group",
            VpcId=vpc_id,
            TagSpecifications=[{"ResourceType": "security-group", "Tags": tags}],
        )["GroupId"]
        self.ec2.authorize_security_group_ingress(
            GroupId=sg,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 80,
                    "ToPort": 80,
                    "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "neighbour"}],
                }
            ],
        )
        self.security_groups.append(sg)
        return str(sg)

    def _records(
        self, lb_dns: dict[str, tuple[str, str]], public_zone: str, private_zone: str
    ) -> None:
        def alias(name: str, label: str) -> dict[str, Any]:
            dns, zone = lb_dns[label]
            return {
                "Name": name,
                "Type": "A",
                "AliasTarget": {"HostedZoneId": zone, "DNSName": dns, "EvaluateTargetHealth": True},
            }

        def simple(name: str, rtype: str, *values: str) -> dict[str, Any]:
            return {
                "Name": name,
                "Type": rtype,
                "TTL": 300,
                "ResourceRecords": [{"Value": v} for v in values],
            }

        ownership = (
            '"heritage=alb-ingress-controller,alb-ingress-controller/cluster='
            f"{OTHER_CLUSTER},alb-ingress-controller/stack={batch_group(GROUPS[0], 0)},"
            'alb-ingress-controller/resource=ingress/shop/web"'
        )
        public = [
            alias("foreign.example.com", "untagged"),
            alias("other.example.com", "other"),
            simple("_alb-a.other.example.com", "TXT", ownership),
            simple("plain.example.com", "A", "192.0.2.10"),
            simple("*.wild.example.com", "A", "192.0.2.11"),
            simple("cname.example.com", "CNAME", "elsewhere.example.org"),
            {**simple("weighted.example.com", "A", "192.0.2.12"), "SetIdentifier": "blue",
             "Weight": 10},
            simple("txt.example.com", "TXT", '"v=spf1 -all"'),
        ]  # fmt: skip
        private = [alias("foreign.example.com", "untagged")]
        for zone, rrsets in ((public_zone, public), (private_zone, private)):
            self.route53.change_resource_record_sets(
                HostedZoneId=zone,
                ChangeBatch={
                    "Changes": [{"Action": "CREATE", "ResourceRecordSet": r} for r in rrsets]
                },
            )
            self.records += [(zone, r) for r in rrsets]

    def snapshot(self) -> dict[str, Any]:
        """Everything AWS says about the neighbours' resources, by resource (one that is
        gone reads as its error code, so a deleted neighbour shows as a difference too)."""
        elbv2, ec2 = self.elbv2, self.ec2

        def tags(arn: str) -> Any:
            found = _read(elbv2.describe_tags, ResourceArns=[arn])
            if "gone" in found:
                return found
            return sorted(
                (t["Key"], t["Value"])
                for d in found["TagDescriptions"]
                for t in d.get("Tags") or ()
            )

        state: dict[str, Any] = {}
        for arn in self.load_balancers:
            state[arn] = {
                "load balancer": _read(elbv2.describe_load_balancers, LoadBalancerArns=[arn]),
                "attributes": _read(elbv2.describe_load_balancer_attributes, LoadBalancerArn=arn),
                "listeners": _read(elbv2.describe_listeners, LoadBalancerArn=arn),
                "tags": tags(arn),
            }
        for arn in self.listeners:
            rules = _read(elbv2.describe_rules, ListenerArn=arn)
            state[arn] = {
                "rules": rules,
                "rule tags": {r["RuleArn"]: tags(r["RuleArn"]) for r in rules.get("Rules", ())},
                "tags": tags(arn),
            }
        for arn in self.target_groups:
            state[arn] = {
                "target group": _read(elbv2.describe_target_groups, TargetGroupArns=[arn]),
                "attributes": _read(elbv2.describe_target_group_attributes, TargetGroupArn=arn),
                "targets": _read(elbv2.describe_target_health, TargetGroupArn=arn),
                "tags": tags(arn),
            }
        for sg in self.security_groups:
            state[sg] = {
                "group": _read(ec2.describe_security_groups, GroupIds=[sg]),
                "rules": _read(
                    ec2.describe_security_group_rules,
                    Filters=[{"Name": "group-id", "Values": [sg]}],
                ),
            }
        state["route53"] = self._live_records()
        plain: dict[str, Any] = _plain(state)
        return plain

    def _live_records(self) -> list[Any]:
        """The live record sets at each seeded (zone, name, type, set identifier)."""
        wanted = {
            (zone, _fqdn(r["Name"]), r["Type"], r.get("SetIdentifier")) for zone, r in self.records
        }
        found = []
        for zone in sorted({zone for zone, _ in self.records}):
            pages = self.route53.get_paginator("list_resource_record_sets").paginate(
                HostedZoneId=zone
            )
            for page in pages:
                for r in page["ResourceRecordSets"]:
                    key = (zone, _fqdn(r["Name"]), r["Type"], r.get("SetIdentifier"))
                    if key in wanted:
                        found.append([zone, r])
        return sorted(found, key=lambda item: json.dumps(item, sort_keys=True, default=str))

    def delete(self) -> None:
        """Remove all of it (best effort: what is already gone is fine)."""
        for zone, rrset in self.records:
            _quietly(
                self.route53.change_resource_record_sets,
                HostedZoneId=zone,
                ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": rrset}]},
            )
        for arn in self.load_balancers:
            _quietly(self.elbv2.delete_load_balancer, LoadBalancerArn=arn)
        for arn in self.target_groups:
            _quietly(self.elbv2.delete_target_group, TargetGroupArn=arn)
        for sg in self.security_groups:
            _quietly(self.ec2.delete_security_group, GroupId=sg)


def _read(call: Any, **kwargs: Any) -> dict[str, Any]:
    """A describe call's answer without its request metadata, or `{"gone": <code>}`."""
    try:
        answer = dict(call(**kwargs))
    except ClientError as error:
        return {"gone": error.response.get("Error", {}).get("Code", "")}
    answer.pop("ResponseMetadata", None)
    return answer


def _quietly(call: Any, **kwargs: Any) -> None:
    try:
        call(**kwargs)
    except Exception as error:  # cleanup: report, carry on
        print(f"foreign cleanup: {call.__name__}: {error}")


def _fqdn(name: str) -> str:
    # Route 53 lists `*` as `\052`.
    return name.replace("\\052", "*").rstrip(".").lower()


def _aws_tags(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def _plain(value: Any) -> Any:
    """JSON-comparable (datetimes as text), so two snapshots compare with `==`."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))
