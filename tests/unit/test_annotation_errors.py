"""Every annotation's bad values give the documented error: the Ingress, the field, and why.

One row per (annotation, bad value): the error must name the annotation's field and say
what is wrong, and the Ingress must be left out (here it is alone, so nothing is planned).
Target-group annotations are also tried on the Service, where the field names the Service.
"""

from __future__ import annotations

import pytest

from controller.model import ANNOTATIONS, Location, Scope
from controller.model.annotations import PREFIX, TEMPLATED

from .factories import ingress, plan, service

# (annotation, bad value, fragment of the message)
BAD_VALUES: list[tuple[str, str, str]] = [
    ("scheme", "public", "'internal' or 'internet-facing'"),
    ("subnets", " , ", "at least one value"),
    ("security-groups", "", "at least one value"),
    ("manage-backend-security-group-rules", "maybe", "valid boolean"),
    ("load-balancer-name", "x" * 33, "at most 32 characters"),
    ("load-balancer-name", "-leading", "may not start or end with a hyphen"),
    ("load-balancer-name", "has_underscore", "only letters, digits and hyphens"),
    ("load-balancer-name", "internal-mine", "must not start with 'internal-'"),
    ("tags", "novalue", "expected key=value pairs"),
    ("tags", "=v", "expected key=value pairs"),
    ("ip-address-type", "ipv6", "'ipv4', 'dualstack' or 'dualstack-without-public-ipv4'"),
    ("load-balancer-attributes", "a=b,c", "expected key=value pairs"),
    ("inbound-cidrs", "10.0.0.0/33", "is not a CIDR"),
    ("inbound-cidrs", "10.0.0.1", "needs a /prefix length"),
    ("security-group-prefix-lists", "", "at least one value"),
    ("security-group-prefix-lists", "pl-1234abcd, sg-1234abcd", "not a managed prefix list ID"),
    ("security-group-prefix-lists", "pl-XYZ", "not a managed prefix list ID"),
    ("customer-owned-ipv4-pool", " ", "must not be empty"),
    ("customer-owned-ipv4-pool", "coip-123", "a customer-owned IPv4 pool ID"),
    ("ipam-ipv4-pool-id", "pool-123", "an IPAM pool ID"),
    ("ipam-ipv4-pool-id", "ipam-pool-" + "a" * 991, "an IPAM pool ID"),
    ("minimum-load-balancer-capacity", "100", "expected key=value pairs"),
    ("mutual-authentication", "[]", "at least one port"),
    (
        "mutual-authentication",
        '[{"port": 443, "mode": "strict"}]',
        "'off', 'passthrough' or 'verify'",
    ),
    (
        "mutual-authentication",
        '[{"port": 443, "mode": "verify"}]',
        "mode verify needs a trustStore",
    ),
    (
        "mutual-authentication",
        '[{"port": 443, "mode": "passthrough", "trustStore": "ca"}]',
        "trustStore only go with mode verify",
    ),
    (
        "mutual-authentication",
        '[{"port": 443, "mode": "off"}, {"port": 443, "mode": "passthrough"}]',
        "port 443 is listed twice",
    ),
    (
        "mutual-authentication",
        '[{"port": 443, "mode": "verify", "trustStore": "-bad-"}]',
        "is not a trust store name",
    ),
    (
        "mutual-authentication",
        '[{"port": 443, "mode": "verify", "trustStore": "arn:aws:acm:us-east-1:1:certificate/x"}]',
        "is not a trust store ARN",
    ),
    ("mutual-authentication", '[{"port": "443", "mode": "off"}]', "valid integer"),
    ("minimum-load-balancer-capacity", "Units=100", "the only key is CapacityUnits"),
    ("minimum-load-balancer-capacity", "CapacityUnits=lots", "must be a whole number"),
    ("minimum-load-balancer-capacity", "CapacityUnits=-5", "must be a whole number"),
    ("minimum-load-balancer-capacity", "CapacityUnits=99", "at least 100"),
    ("listener-attributes.HTTP-80", "routing.http.response.server.enabled", "key=value"),
    ("listener-attributes.HTTP-80", "bad key!=1", "is not a listener attribute key"),
    ("listen-ports", '{"HTTP": 80}', "valid array"),
    ("listen-ports", '[{"HTTP": 80', "Invalid JSON"),
    ("listen-ports", '[{"FTP": 21}]', "'HTTP' or 'HTTPS'"),
    ("listen-ports", '[{"HTTP": 0}]', "greater than or equal to 1"),
    ("listen-ports", '[{"HTTP": 80}, {"HTTPS": 80}]', "both HTTP and HTTPS"),
    ("listen-ports", "[]", "at least one port"),
    ("listen-ports", "[{}]", "must name a protocol and port"),
    ("certificate-arn", "not-an-arn", "is not an ARN"),
    ("ssl-policy", "  ", "must not be empty"),
    ("ssl-redirect", "https", "valid integer"),
    ("ssl-redirect", "70000", "less than or equal to 65535"),
    ("target-type", "pod", "'instance' or 'ip'"),
    ("backend-protocol", "TCP", "'HTTP' or 'HTTPS'"),
    ("backend-protocol-version", "HTTP3", "'HTTP1', 'HTTP2' or 'GRPC'"),
    ("target-group-attributes", "slow_start", "expected key=value pairs"),
    ("healthcheck-port", "99999", "must be 1..65535"),
    ("healthcheck-protocol", "TCP", "'HTTP' or 'HTTPS'"),
    ("healthcheck-path", "healthz", "must start with '/'"),
    ("healthcheck-interval-seconds", "4", "greater than or equal to 5"),
    ("healthcheck-interval-seconds", "301", "less than or equal to 300"),
    ("healthcheck-timeout-seconds", "1", "greater than or equal to 2"),
    ("healthcheck-timeout-seconds", "121", "less than or equal to 120"),
    ("healthy-threshold-count", "1", "greater than or equal to 2"),
    ("healthy-threshold-count", "11", "less than or equal to 10"),
    ("unhealthy-threshold-count", "0", "greater than or equal to 2"),
    ("unhealthy-threshold-count", "many", "valid integer"),
    ("success-codes", "2xx", "codes or ranges separated by commas"),
    ("success-codes", "299-200", "runs backwards"),
    ("auth-type", "basic", "'none', 'oidc' or 'cognito'"),
    ("auth-idp-oidc", '{"issuer": "https://i",', "Invalid JSON"),
    (
        "auth-idp-oidc",
        '{"issuer": "https://i/", "authorizationEndpoint": "https://i/a", '
        '"tokenEndpoint": "https://i/t", "userInfoEndpoint": "https://i/u"}',
        "secretName: Field required",
    ),
    (
        "auth-idp-oidc",
        '{"issuer": "http://i/", "authorizationEndpoint": "https://i/a", '
        '"tokenEndpoint": "https://i/t", "userInfoEndpoint": "https://i/u", "secretName": "s"}',
        "must be a full https:// URL",
    ),
    (
        "auth-idp-oidc",
        '{"issuer": "https://i/", "authorizationEndpoint": "https://i/a", '
        '"tokenEndpoint": "https://i/t", "userInfoEndpoint": "https://i/u", "secretName": ""}',
        "at least 1 character",
    ),
    (
        "auth-idp-cognito",
        '{"userPoolARN": "pool", "userPoolClientID": "c", "userPoolDomain": "d"}',
        "is not a user pool ARN",
    ),
    (
        "auth-idp-cognito",
        '{"userPoolARN": "arn:aws:cognito-idp:us-east-1:1:userpool/p"}',
        "userPoolClientID: Field required",
    ),
    ("auth-on-unauthenticated-request", "redirect", "'authenticate', 'allow' or 'deny'"),
    ("auth-scope", " ", "must not be empty"),
    ("auth-session-cookie", "", "must not be empty"),
    ("auth-session-timeout", "0", "greater than or equal to 1"),
    ("auth-session-timeout", "604801", "less than or equal to 604800"),
    ("target-node-labels", "pool", "expected key=value pairs"),
    ("wafv2-acl-arn", "frontline", "a WAFv2 web ACL ARN"),
    (
        "wafv2-acl-arn",
        "arn:aws:wafv2:us-east-1:111122223333:global/webacl/cdn/1111",
        "global (CloudFront) web ACL",
    ),
    ("wafv2-acl-name", "front line", "a web ACL name"),
    ("wafv2-acl-name", "a" * 129, "a web ACL name"),
    ("waf-acl-id", "acl/1", "a WAF Classic web ACL ID"),
    ("web-acl-id", "acl 1", "a WAF Classic web ACL ID"),
    ("shield-advanced-protection", "yes please", "valid boolean"),
    ("dns-set-identifier", " ", "at least 1 character"),
    ("dns-set-identifier", "s" * 129, "at most 128 characters"),
    ("dns-weight", "256", "less than or equal to 255"),
    ("dns-weight", "-1", "greater than or equal to 0"),
    ("dns-weight", "half", "valid integer"),
    ("dns-region", "Frankfurt", "is not an AWS region name"),
    ("dns-failover", "TERTIARY", "'PRIMARY' or 'SECONDARY'"),
    ("dns-geolocation-continent-code", "EUROPE", "is not a continent code"),
    ("dns-geolocation-country-code", "DEU", "is not a country code"),
    ("dns-geolocation-subdivision-code", "WASH", "is not a subdivision code"),
    ("dns-evaluate-target-health", "sometimes", "valid boolean"),
    ("group.name", "Upper", "lower-case letters"),
    ("group.name", "a" * 64, "at most 63 characters"),
    ("group.order", "1001", "less than or equal to 1000"),
    ("group.order", "-1001", "greater than or equal to -1000"),
    ("group.order", "first", "valid integer"),
    ("actions.act", "{", "Invalid JSON"),
    ("actions.act", '{"type": "teleport"}', "'forward', 'redirect' or 'fixed-response'"),
    ("actions.act", '{"type": "forward"}', "exactly one of targetGroupARN"),
    ("actions.act", '{"type": "redirect"}', "needs redirectConfig"),
    ("actions.act", '{"type": "redirect", "redirectConfig": {}}', "statusCode: Field required"),
    (
        "actions.act",
        '{"type": "redirect", "redirectConfig": {"statusCode": "HTTP_307"}}',
        "'HTTP_301' or 'HTTP_302'",
    ),
    ("actions.act", '{"type": "fixed-response"}', "needs fixedResponseConfig"),
    (
        "actions.act",
        '{"type": "fixed-response", "fixedResponseConfig": {"statusCode": "600"}}',
        "should match pattern",
    ),
    (
        "actions.act",
        '{"type": "fixed-response", "fixedResponseConfig": '
        '{"statusCode": "200", "contentType": "image/png"}}',
        "'text/plain'",
    ),
    (
        "actions.act",
        '{"type": "forward", "forwardConfig": {"targetGroups": []}}',
        "at least 1 item",
    ),
    (
        "actions.act",
        '{"type": "forward", "forwardConfig": {"targetGroups": [{"serviceName": "svc"}]}}',
        "serviceName and servicePort go together",
    ),
    (
        "actions.act",
        '{"type": "forward", "forwardConfig": {"targetGroups": '
        '[{"serviceName": "svc", "servicePort": 80, "weight": 1000}]}}',
        "less than or equal to 999",
    ),
    (
        "actions.act",
        '{"type": "forward", "forwardConfig": {"targetGroups": '
        '[{"serviceName": "svc", "servicePort": 80}], '
        '"targetGroupStickinessConfig": {"enabled": true, "durationSeconds": 0}}}',
        "greater than or equal to 1",
    ),
    ("actions.act", '{"type": "forward", "targetGroupARN": "x", "bogus": 1}', "Extra inputs"),
    ("conditions.svc", "[]", "at least 1 item"),
    ("conditions.svc", '[{"field": "cookie"}]', "'host-header'"),
    ("conditions.svc", '[{"field": "host-header"}]', "needs hostHeaderConfig"),
    (
        "conditions.svc",
        '[{"field": "host-header", "hostHeaderConfig": {"values": ["a"]}, '
        '"sourceIpConfig": {"values": ["10.0.0.0/8"]}}]',
        "takes only hostHeaderConfig",
    ),
    (
        "conditions.svc",
        '[{"field": "source-ip", "sourceIpConfig": {"values": ["nowhere"]}}]',
        "is not a CIDR",
    ),
    (
        "conditions.svc",
        '[{"field": "http-request-method", "httpRequestMethodConfig": {"values": ["get"]}}]',
        "is not an HTTP method",
    ),
    (
        "conditions.svc",
        '[{"field": "http-header", "httpHeaderConfig": {"httpHeaderName": "bad header", '
        '"values": ["x"]}}]',
        "should match pattern",
    ),
    (
        "conditions.svc",
        '[{"field": "query-string", "queryStringConfig": {"values": [{"key": "k"}]}}]',
        "value: Field required",
    ),
    (
        "conditions.svc",
        '[{"field": "path-pattern", "pathPatternConfig": {"values": []}}]',
        "at least 1 item",
    ),
    # regexValues (LBC v3.5): one of values and regexValues, and only what ALB's regexes do
    (
        "conditions.svc",
        '[{"field": "path-pattern", "pathPatternConfig": {"values": ["/a"], '
        '"regexValues": ["^/a$"]}}]',
        "give values or regexValues, not both",
    ),
    ("conditions.svc", '[{"field": "host-header", "hostHeaderConfig": {}}]', "give values or"),
    (
        "conditions.svc",
        '[{"field": "path-pattern", "pathPatternConfig": {"regexValues": ["^/(?=api)"]}}]',
        "uses a lookahead",
    ),
    (
        "conditions.svc",
        '[{"field": "http-header", "httpHeaderConfig": {"httpHeaderName": "X-Id", '
        '"regexValues": ["(a)\\\\1"]}}]',
        "uses a backreference",
    ),
    (
        "conditions.svc",
        '[{"field": "host-header", "hostHeaderConfig": {"regexValues": ["' + "a" * 129 + '"]}}]',
        "at most 128 characters",
    ),
    ("use-regex-path-match", "sometimes", "valid boolean"),
    ("transforms.svc", '{"type": "url-rewrite"}', "valid array"),
    ("transforms.svc", '[{"type": "header-rewrite"}]', "'host-header-rewrite' or 'url-rewrite'"),
    ("transforms.svc", '[{"type": "url-rewrite"}]', "needs urlRewriteConfig"),
    (
        "transforms.svc",
        '[{"type": "url-rewrite", "urlRewriteConfig": {"rewrites": []}}]',
        "at least 1 item",
    ),
    (
        "transforms.svc",
        '[{"type": "url-rewrite", "urlRewriteConfig": {"rewrites": [{"regex": "^/a"}]}}]',
        "replace: Field required",
    ),
    (
        "transforms.svc",
        '[{"type": "url-rewrite", "urlRewriteConfig": {"rewrites": '
        '[{"regex": "^/(?<=a)", "replace": "/"}]}}]',
        "uses a lookbehind",
    ),
    (
        "transforms.svc",
        '[{"type": "url-rewrite", "urlRewriteConfig": {"rewrites": '
        '[{"regex": "' + "a" * 1025 + '", "replace": "/"}]}}]',
        "at most 1024 characters",
    ),
    (
        "transforms.svc",
        '[{"type": "host-header-rewrite", "hostHeaderRewriteConfig": {"rewrites": '
        '[{"regex": "a", "replace": "b"}]}, "urlRewriteConfig": {"rewrites": '
        '[{"regex": "a", "replace": "b"}]}}]',
        "takes only hostHeaderRewriteConfig",
    ),
    (
        "transforms.svc",
        '[{"type": "url-rewrite", "urlRewriteConfig": {"rewrites": [{"regex": "a", '
        '"replace": "b"}]}}, {"type": "url-rewrite", "urlRewriteConfig": {"rewrites": '
        '[{"regex": "c", "replace": "d"}]}}]',
        "two url-rewrite transforms",
    ),
    ("target-control-port.svc.80", "0", "greater than or equal to 1"),
    ("target-control-port.svc.http", "agent", "valid integer"),
    ("jwt-validation", '{"issuer": "https://idp"}', "jwksEndpoint: Field required"),
    (
        "jwt-validation",
        '{"jwksEndpoint": "http://idp/jwks", "issuer": "https://idp"}',
        "must be a full https:// URL",
    ),
    (
        "jwt-validation",
        '{"jwksEndpoint": "https://idp/' + "k" * 250 + '", "issuer": "https://idp"}',
        "at most 256 characters",
    ),
    (
        "jwt-validation",
        '{"jwksEndpoint": "https://idp/jwks", "issuer": ""}',
        "at least 1 character",
    ),
    (
        "jwt-validation",
        '{"jwksEndpoint": "https://idp/jwks", "issuer": "https://idp", "additionalClaims": '
        '[{"name": "exp", "format": "single-string", "values": ["1"]}]}',
        "always validated by AWS",
    ),
    (
        "jwt-validation",
        '{"jwksEndpoint": "https://idp/jwks", "issuer": "https://idp", "additionalClaims": '
        '[{"name": "scope", "format": "space-separated-values", "values": ["read write"]}]}',
        "may not hold spaces",
    ),
    (
        "jwt-validation",
        '{"jwksEndpoint": "https://idp/jwks", "issuer": "https://idp", "additionalClaims": '
        '[{"name": "role", "format": "list", "values": ["a"]}]}',
        "'single-string', 'string-array' or 'space-separated-values'",
    ),
    (
        "jwt-validation",
        '{"jwksEndpoint": "https://idp/jwks", "issuer": "https://idp", "additionalClaims": '
        '[{"name": "role", "format": "string-array", "values": '
        + str([f"r{i}" for i in range(11)]).replace("'", '"')
        + "}]}",
        "at most 10 items",
    ),
    (
        "jwt-validation",
        '{"jwksEndpoint": "https://idp/jwks", "issuer": "https://idp", "additionalClaims": '
        + str(
            [{"name": f"c{i}", "format": "single-string", "values": ["x"]} for i in range(11)]
        ).replace("'", '"')
        + "}",
        "at most 10 items",
    ),
    (
        "jwt-validation",
        '{"jwksEndpoint": "https://idp/jwks", "issuer": "https://idp", "additionalClaims": '
        '[{"name": "role", "format": "single-string", "values": ["a"]}, '
        '{"name": "role", "format": "single-string", "values": ["b"]}]}',
        "claim 'role' is given twice",
    ),
]


def _template_name(annotation: str) -> str:
    """`actions.act` -> `actions.${name}`, `listener-attributes.HTTP-80` -> its template."""
    for spec in TEMPLATED:
        if annotation.startswith(spec.template_prefix):
            return spec.name
    return annotation


@pytest.mark.parametrize(("annotation", "value", "fragment"), BAD_VALUES)
def test_bad_ingress_annotation(annotation: str, value: str, fragment: str) -> None:
    result = plan(ingress(annotations={PREFIX + annotation: value}), service())
    assert result.stacks == ()
    [error] = result.errors
    assert error.ingress == "default/app"
    assert error.field == f"metadata.annotations[{PREFIX}{annotation}]"
    assert fragment in error.message
    assert repr(value[:20])[1:-1] in error.message or len(value) > 80


TARGET_GROUP_ANNOTATIONS = sorted(
    {a for a, _, _ in BAD_VALUES}
    & {
        spec.name
        for spec in ANNOTATIONS
        if spec.scope in (Scope.TARGET_GROUP, Scope.RULE) or spec.name == "tags"
    }
)


@pytest.mark.parametrize(
    ("annotation", "value", "fragment"),
    [row for row in BAD_VALUES if row[0] in TARGET_GROUP_ANNOTATIONS],
)
def test_bad_service_annotation(annotation: str, value: str, fragment: str) -> None:
    result = plan(ingress(), service(annotations={PREFIX + annotation: value}))
    assert result.stacks == ()
    [error] = result.errors
    assert error.ingress == "default/app"
    assert error.field == f"service/svc.metadata.annotations[{PREFIX}{annotation}]"
    assert fragment in error.message


def test_every_annotation_has_a_bad_value_row() -> None:
    covered = {_template_name(a) for a, _, _ in BAD_VALUES}
    assert covered == {spec.name for spec in ANNOTATIONS}


def test_ingress_level_annotations_on_a_service_are_ignored() -> None:
    result = plan(ingress(), service(annotations={PREFIX + "scheme": "bogus"}))
    assert result.errors == ()
    assert result.stacks[0].load_balancer.scheme == "internal"


def test_annotation_values_must_be_strings() -> None:
    result = plan(ingress(annotations={PREFIX + "ssl-redirect": 443}), service())
    [error] = result.errors
    assert error.field == f"metadata.annotations[{PREFIX}ssl-redirect]"
    assert "must be strings" in error.message


def test_unknown_annotations_are_ignored() -> None:
    result = plan(ingress(annotations={PREFIX + "dry-run-plan": "{}", "other/x": "y"}), service())
    assert result.errors == ()
    assert len(result.stacks) == 1


def test_all_errors_of_one_ingress_are_reported_together() -> None:
    bad = {PREFIX + "scheme": "public", PREFIX + "target-type": "pod"}
    result = plan(ingress(annotations=bad), service())
    assert [e.field for e in result.errors] == [
        f"metadata.annotations[{PREFIX}scheme]",
        f"metadata.annotations[{PREFIX}target-type]",
    ]


@pytest.mark.parametrize(
    ("annotations", "field", "fragment"),
    [
        (
            {"healthcheck-interval-seconds": "10", "healthcheck-timeout-seconds": "10"},
            "healthcheck-timeout-seconds",
            "must be less than the interval",
        ),
        # Only one of the two set: the error names that one, never an annotation not there.
        (
            {"healthcheck-interval-seconds": "5"},
            "healthcheck-interval-seconds",
            "timeout (5s, the default) must be less than the interval (5s)",
        ),
        (
            {"healthcheck-timeout-seconds": "20"},
            "healthcheck-timeout-seconds",
            "timeout (20s) must be less than the interval (15s, the default)",
        ),
        ({"success-codes": "200,500"}, "success-codes", "code 500 is out of range"),
        (
            {"backend-protocol-version": "GRPC", "success-codes": "200"},
            "success-codes",
            "gRPC codes are 0..99",
        ),
        ({"healthcheck-port": "metrics"}, "healthcheck-port", "the service has no port"),
    ],
)
def test_target_group_settings_checked_together(
    annotations: dict[str, str], field: str, fragment: str
) -> None:
    result = plan(ingress(annotations={PREFIX + k: v for k, v in annotations.items()}), service())
    [error] = result.errors
    assert error.field == f"metadata.annotations[{PREFIX}{field}]"
    assert fragment in error.message


def test_a_too_short_interval_on_the_service_names_the_service_annotation() -> None:
    result = plan(
        ingress(annotations={PREFIX + "healthcheck-timeout-seconds": "4"}),
        service(annotations={PREFIX + "healthcheck-interval-seconds": "5"}),
    )
    assert result.errors == ()  # 4 < 5
    result = plan(ingress(), service(annotations={PREFIX + "healthcheck-interval-seconds": "5"}))
    [error] = result.errors
    assert error.field == f"service/svc.metadata.annotations[{PREFIX}healthcheck-interval-seconds]"


def test_locations_are_declared_for_every_annotation() -> None:
    for spec in ANNOTATIONS:
        assert Location.INGRESS in spec.locations
        assert spec.doc and spec.key.startswith(PREFIX)
