"""The value syntax of `alb.ingress.kubernetes.io/*` annotations, as pydantic types.

Each annotation value is a string; these types turn it into something typed, or fail with
pydantic's precise message. The syntax is aws-load-balancer-controller's: comma-separated
lists, `k=v` maps, JSON for `listen-ports`, `actions.*` and `conditions.*` (matched like
Go's `encoding/json`, i.e. keys case-insensitively, so `"Values"` works as it does there).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from controller.limits import (
    COIP_POOL_PATTERN,
    IPAM_POOL_ID_PATTERN,
    LISTENER_ATTRIBUTE_KEY_PATTERN,
    MAX_COIP_POOL_LENGTH,
    MAX_CONDITION_VALUE_LENGTH,
    MAX_HEADER_NAME_LENGTH,
    MAX_IPAM_POOL_ID_LENGTH,
    MAX_LISTENER_ATTRIBUTE_KEY_LENGTH,
    MAX_METHOD_LENGTH,
    MAX_REDIRECT_PART_LENGTH,
    MAX_REGEX_VALUE_LENGTH,
    MAX_TAG_KEY_LENGTH,
    MAX_TAG_VALUE_LENGTH,
    MAX_TAGS_PER_RESOURCE,
    MIN_RESERVED_CAPACITY_UNITS,
    PREFIX_LIST_ID_PATTERN,
)
from controller.model.regexes import check_regex
from controller.model.stack import TAG_CLUSTER, TAG_RESOURCE, TAG_STACK

OWN_TAGS = len((TAG_CLUSTER, TAG_STACK, TAG_RESOURCE))  # on every resource we make

# --- scalar and list syntaxes --------------------------------------------------------------


def split_commas(value: object) -> object:
    """`a, b,,c` -> `["a", "b", "c"]`; anything but a string is left for pydantic to reject."""
    if not isinstance(value, str):
        return value
    return [item.strip() for item in value.split(",") if item.strip()]


def parse_key_values(value: object) -> object:
    """`k1=v1, k2=v2` -> a dict, as LBC's string-map annotations; a later key wins."""
    if not isinstance(value, str):
        return value
    result: dict[str, str] = {}
    for item in value.split(","):
        if not item.strip():
            continue
        key, sep, val = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"expected key=value pairs separated by commas, got {item.strip()!r}")
        result[key.strip()] = val.strip()
    return result


def _non_empty_list(items: tuple[str, ...]) -> tuple[str, ...]:
    if not items:
        raise ValueError("must list at least one value")
    return items


def _sorted_unique(items: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(set(items)))


def _cidr(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(f"{value!r} is not a CIDR (e.g. 10.0.0.0/8 or ::/0)") from None
    if "/" not in value:
        raise ValueError(f"{value!r} is not a CIDR: it needs a /prefix length")
    return value


CommaList = Annotated[
    tuple[str, ...], BeforeValidator(split_commas), AfterValidator(_non_empty_list)
]
# Sets of names whose order carries no meaning: sorted, so equal sets compare equal in a group.
CommaSet = Annotated[
    tuple[str, ...],
    BeforeValidator(split_commas),
    AfterValidator(_non_empty_list),
    AfterValidator(_sorted_unique),
]
Cidr = Annotated[str, AfterValidator(_cidr)]
CidrSet = Annotated[
    tuple[Cidr, ...],
    BeforeValidator(split_commas),
    AfterValidator(_non_empty_list),
    AfterValidator(_sorted_unique),
]
KeyValues = Annotated[dict[str, str], BeforeValidator(parse_key_values)]


def _aws_tags(tags: dict[str, str]) -> dict[str, str]:
    """What EC2 and ELBv2 refuse in a tag set, said before any call (the controller adds
    three tags of its own to every resource)."""
    room = MAX_TAGS_PER_RESOURCE - OWN_TAGS
    if len(tags) > room:
        raise ValueError(f"{len(tags)} tags; AWS allows {room} besides the controller's own")
    for key, value in tags.items():
        if len(key) > MAX_TAG_KEY_LENGTH:
            raise ValueError(f"tag key {key[:20]!r}... is over {MAX_TAG_KEY_LENGTH} characters")
        if len(value) > MAX_TAG_VALUE_LENGTH:
            raise ValueError(f"the value of tag {key!r} is over {MAX_TAG_VALUE_LENGTH} characters")
        if key.lower().startswith("aws:"):
            raise ValueError(f"tag key {key!r}: the aws: prefix is AWS's own")
    return tags


Tags = Annotated[dict[str, str], BeforeValidator(parse_key_values), AfterValidator(_aws_tags)]
Port = Annotated[int, Field(ge=1, le=65535)]


def _strip_non_empty(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    return value


NonEmpty = Annotated[str, AfterValidator(_strip_non_empty)]

_LB_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$")


def _lb_name(value: str) -> str:
    if len(value) > 32:
        raise ValueError(f"must be at most 32 characters, got {len(value)}")
    if not _LB_NAME.match(value):
        raise ValueError(
            "may hold only letters, digits and hyphens, and may not start or end with a hyphen"
        )
    if value.lower().startswith("internal-"):
        raise ValueError("must not start with 'internal-' (AWS reserves it)")
    return value


LoadBalancerName = Annotated[str, AfterValidator(_lb_name)]

# --- WAF: `none` removes an association; an empty value counts as no annotation (LBC) -------

NONE = "none"
_WAFV2_ARN = re.compile(
    r"^arn:[a-z-]+:wafv2:[a-z0-9-]+:\d{12}:(regional|global)/webacl/[^/]+/[^/]+$"
)
_WAF_NAME = re.compile(r"^[\w-]{1,128}$")
_WAF_CLASSIC_ID = re.compile(r"^[0-9A-Za-z-]{1,128}$")


def _blank_is_absent(value: str) -> str | None:
    return value.strip() or None


def _wafv2_arn(value: str | None) -> str | None:
    if value is None or value == NONE:
        return value
    match = _WAFV2_ARN.match(value)
    if match is None:
        raise ValueError(
            "must be 'none' or a WAFv2 web ACL ARN "
            "(arn:aws:wafv2:<region>:<account>:regional/webacl/<name>/<id>)"
        )
    if match.group(1) != "regional":
        raise ValueError("is a global (CloudFront) web ACL; an ALB takes a regional one")
    return value


def _matching(pattern: re.Pattern[str], what: str) -> Any:
    def check(value: str | None) -> str | None:
        if value is None or value == NONE or pattern.match(value):
            return value
        raise ValueError(f"must be 'none' or {what}")

    return AfterValidator(check)


# Each parses to the value, `none`, or None (blank: leave AWS as it is).
WebAclArn = Annotated[str, AfterValidator(_blank_is_absent), AfterValidator(_wafv2_arn)]
WebAclName = Annotated[
    str,
    AfterValidator(_blank_is_absent),
    _matching(_WAF_NAME, "a web ACL name: 1 to 128 letters, digits, '_' or '-'"),
]
WafClassicAclId = Annotated[
    str,
    AfterValidator(_blank_is_absent),
    _matching(_WAF_CLASSIC_ID, "a WAF Classic web ACL ID (letters, digits and '-')"),
]

# --- load balancer placement, capacity and listener attributes (LBC v3.5) ----------------


def _listener_attribute_keys(attributes: dict[str, str]) -> dict[str, str]:
    for key in attributes:
        if len(key) > MAX_LISTENER_ATTRIBUTE_KEY_LENGTH or not re.fullmatch(
            LISTENER_ATTRIBUTE_KEY_PATTERN, key
        ):
            raise ValueError(
                f"attribute {key[:40]!r} is not a listener attribute key (letters, digits, "
                f"'.' and '_', at most {MAX_LISTENER_ATTRIBUTE_KEY_LENGTH} characters)"
            )
    return attributes


# `listener-attributes.<Protocol>-<Port>`: k=v pairs (routing.http.response.server.enabled=false).
ListenerAttributes = Annotated[
    dict[str, str], BeforeValidator(parse_key_values), AfterValidator(_listener_attribute_keys)
]
CAPACITY_UNITS = "CapacityUnits"


def _capacity_units(value: dict[str, str]) -> int | None:
    """`CapacityUnits=N` -> N (0 resets the reservation, as in LBC); blank -> None (absent)."""
    if not value:
        return None
    unknown = sorted(set(value) - {CAPACITY_UNITS})
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r}: the only key is {CAPACITY_UNITS}")
    raw = value[CAPACITY_UNITS]
    if not raw.isdigit():
        raise ValueError(f"{CAPACITY_UNITS} must be a whole number, got {raw!r}")
    units = int(raw)
    if 0 < units < MIN_RESERVED_CAPACITY_UNITS:
        raise ValueError(
            f"{CAPACITY_UNITS} must be 0 (no reservation) or at least "
            f"{MIN_RESERVED_CAPACITY_UNITS}, AWS's minimum for an ALB"
        )
    return units


CapacityReservation = Annotated[
    dict[str, str], BeforeValidator(parse_key_values), AfterValidator(_capacity_units)
]


def _pattern(pattern: str, longest: int, what: str) -> Any:
    def check(value: str | None) -> str | None:
        if value is not None and (len(value) > longest or not re.fullmatch(pattern, value)):
            raise ValueError(f"must be {what}")
        return value

    return AfterValidator(check)


# LBC refuses an empty customer-owned-ipv4-pool; an empty ipam-ipv4-pool-id is as if absent.
CoipPool = Annotated[
    str,
    AfterValidator(_strip_non_empty),
    _pattern(
        COIP_POOL_PATTERN, MAX_COIP_POOL_LENGTH, "a customer-owned IPv4 pool ID (ipv4pool-coip-...)"
    ),
]
IpamPoolId = Annotated[
    str,
    AfterValidator(_blank_is_absent),
    _pattern(IPAM_POOL_ID_PATTERN, MAX_IPAM_POOL_ID_LENGTH, "an IPAM pool ID (ipam-pool-...)"),
]


def _prefix_list_ids(ids: tuple[str, ...]) -> tuple[str, ...]:
    for value in ids:
        if not re.fullmatch(PREFIX_LIST_ID_PATTERN, value):
            raise ValueError(f"{value!r} is not a managed prefix list ID (pl-<hex digits>)")
    return ids


PrefixListIds = Annotated[CommaSet, AfterValidator(_prefix_list_ids)]

_GROUP_NAME = re.compile(r"^[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?$")


def _group_name(value: str) -> str:
    if len(value) > 63:
        raise ValueError(f"must be at most 63 characters, got {len(value)}")
    if not _GROUP_NAME.match(value):
        raise ValueError(
            "must be lower-case letters, digits, '-' and '.', "
            "starting and ending with a letter or digit"
        )
    return value


GroupName = Annotated[str, AfterValidator(_group_name)]

_SUCCESS_CODES = re.compile(r"^\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*$")


def _success_codes(value: str) -> str:
    value = value.replace(" ", "")
    if not _SUCCESS_CODES.match(value):
        raise ValueError("must be codes or ranges separated by commas, e.g. 200,300-399")
    for part in value.split(","):
        low, _, high = part.partition("-")
        if high and int(high) < int(low):
            raise ValueError(f"range {part!r} runs backwards")
    return value


SuccessCodes = Annotated[str, AfterValidator(_success_codes)]


def _path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError("must start with '/'")
    return value


HealthCheckPath = Annotated[str, AfterValidator(_path)]


def _healthcheck_port(value: str) -> int | str:
    value = value.strip()
    if value == "traffic-port":
        return value
    if value.isdigit():
        number = int(value)
        if not 1 <= number <= 65535:
            raise ValueError("must be 1..65535, a named Service port, or traffic-port")
        return number
    if not value:
        raise ValueError("must be a port number, a named Service port, or traffic-port")
    return value


HealthCheckPort = Annotated[str, AfterValidator(_healthcheck_port)]


# --- listen-ports --------------------------------------------------------------------------


def _one_port_per_entry(value: dict[str, int]) -> dict[str, int]:
    if not value:
        raise ValueError('each entry must name a protocol and port, e.g. {"HTTP": 80}')
    return value


ListenPortEntry = Annotated[
    dict[Literal["HTTP", "HTTPS"], Port], AfterValidator(_one_port_per_entry)
]


def _listen_ports(entries: list[dict[Literal["HTTP", "HTTPS"], int]]) -> list[tuple[str, int]]:
    if not entries:
        raise ValueError("must list at least one port")
    seen: dict[int, str] = {}
    for entry in entries:
        for protocol, port in entry.items():
            if seen.get(port, protocol) != protocol:
                raise ValueError(f"port {port} is listed as both {seen[port]} and {protocol}")
            seen[port] = protocol
    return sorted((protocol, port) for port, protocol in seen.items())


ListenPorts = Annotated[list[ListenPortEntry], AfterValidator(_listen_ports)]


# --- actions.* and conditions.* JSON -------------------------------------------------------


class GoJson(BaseModel):
    """JSON as Go's encoding/json reads it: keys match field names case-insensitively."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _fold_key_case(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        known = {
            (field.alias or name).lower(): field.alias or name
            for name, field in cls.model_fields.items()
        }
        return {known.get(str(key).lower(), key): value for key, value in data.items()}


class ActionTargetGroup(GoJson):
    """One weighted target of a forward action: a Service port, or a target group by ARN/name."""

    service_name: str | None = Field(default=None, alias="serviceName", min_length=1)
    service_port: int | str | None = Field(default=None, alias="servicePort")
    target_group_arn: str | None = Field(default=None, alias="targetGroupARN", min_length=1)
    target_group_name: str | None = Field(default=None, alias="targetGroupName", min_length=1)
    weight: int | None = Field(default=None, ge=0, le=999)

    @field_validator("service_port", mode="before")
    @classmethod
    def _numeric_string_is_a_number(cls, value: Any) -> Any:
        """`"servicePort": "80"` (blog posts, AWS's own examples) means port 80, as in LBC;
        a port name always has a letter, so no name is lost."""
        if isinstance(value, str) and value.isdigit():
            return int(value)
        return value

    @model_validator(mode="after")
    def _one_target(self) -> ActionTargetGroup:
        kinds = [
            self.service_name is not None,
            self.target_group_arn is not None,
            self.target_group_name is not None,
        ]
        if sum(kinds) != 1:
            raise ValueError("give exactly one of serviceName, targetGroupARN, targetGroupName")
        if (self.service_name is None) != (self.service_port is None):
            raise ValueError("serviceName and servicePort go together")
        return self


class StickinessConfig(GoJson):
    enabled: bool
    duration_seconds: int | None = Field(default=None, alias="durationSeconds", ge=1, le=604800)


class ForwardConfig(GoJson):
    target_groups: list[ActionTargetGroup] = Field(alias="targetGroups", min_length=1)
    target_group_stickiness_config: StickinessConfig | None = Field(
        default=None, alias="targetGroupStickinessConfig"
    )


class RedirectConfigValue(GoJson):
    protocol: Literal["HTTP", "HTTPS", "#{protocol}"] | None = Field(default=None, alias="protocol")
    port: int | str | None = Field(default=None, alias="port")
    host: str | None = Field(default=None, alias="host", max_length=MAX_REDIRECT_PART_LENGTH)
    path: str | None = Field(default=None, alias="path", max_length=MAX_REDIRECT_PART_LENGTH)
    query: str | None = Field(default=None, alias="query", max_length=MAX_REDIRECT_PART_LENGTH)
    status_code: Literal["HTTP_301", "HTTP_302"] = Field(alias="statusCode")


_CONTENT_TYPES = Literal[
    "text/plain", "text/css", "text/html", "application/javascript", "application/json"
]


class FixedResponseConfigValue(GoJson):
    content_type: _CONTENT_TYPES | None = Field(default=None, alias="contentType")
    status_code: str = Field(alias="statusCode", pattern=r"^[2-5]\d\d$")
    message_body: str | None = Field(default=None, alias="messageBody", max_length=1024)


class ActionValue(GoJson):
    """An `actions.<name>` annotation: LBC's Action JSON."""

    type: Literal["forward", "redirect", "fixed-response"]
    target_group_arn: str | None = Field(default=None, alias="targetGroupARN", min_length=1)
    target_group_name: str | None = Field(default=None, alias="targetGroupName", min_length=1)
    forward_config: ForwardConfig | None = Field(default=None, alias="forwardConfig")
    redirect_config: RedirectConfigValue | None = Field(default=None, alias="redirectConfig")
    fixed_response_config: FixedResponseConfigValue | None = Field(
        default=None, alias="fixedResponseConfig"
    )

    @model_validator(mode="after")
    def _config_matches_type(self) -> ActionValue:
        if self.type == "forward":
            given = [
                self.target_group_arn is not None,
                self.target_group_name is not None,
                self.forward_config is not None,
            ]
            if sum(given) != 1:
                raise ValueError(
                    "a forward action needs exactly one of targetGroupARN, targetGroupName, "
                    "forwardConfig"
                )
        if self.type == "redirect" and self.redirect_config is None:
            raise ValueError("a redirect action needs redirectConfig")
        if self.type == "fixed-response" and self.fixed_response_config is None:
            raise ValueError("a fixed-response action needs fixedResponseConfig")
        return self


# A regexValues entry: a regular expression ALB can run, at most 128 characters.
RegexValue = Annotated[
    str,
    Field(min_length=1, max_length=MAX_REGEX_VALUE_LENGTH),
    AfterValidator(check_regex),
]


def _values_or_regex(config: Any) -> None:
    """AWS matches a host-header, path-pattern or http-header condition by value or by
    regular expression, not both (LBC makes the same check on the merged rule)."""
    if config.values is None and config.regex_values is None:
        raise ValueError("give values or regexValues")
    if config.values is not None and config.regex_values is not None:
        raise ValueError("give values or regexValues, not both")


class ValuesConfig(GoJson):
    values: list[Annotated[str, Field(min_length=1)]] | None = Field(default=None, min_length=1)
    regex_values: list[RegexValue] | None = Field(default=None, alias="regexValues", min_length=1)

    @model_validator(mode="after")
    def _one_kind(self) -> ValuesConfig:
        _values_or_regex(self)
        return self


def _method(value: str) -> str:
    if not re.fullmatch(r"[A-Z_-]+", value):
        raise ValueError(f"{value!r} is not an HTTP method (upper-case letters, '-' and '_')")
    return value


class MethodConfig(GoJson):
    values: list[Annotated[str, Field(max_length=MAX_METHOD_LENGTH), AfterValidator(_method)]] = (
        Field(min_length=1)
    )


class SourceIpConfig(GoJson):
    values: list[Cidr] = Field(min_length=1)


class HttpHeaderConfig(GoJson):
    http_header_name: str = Field(
        alias="httpHeaderName",
        pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$",
        max_length=MAX_HEADER_NAME_LENGTH,
    )
    values: (
        list[Annotated[str, Field(min_length=1, max_length=MAX_CONDITION_VALUE_LENGTH)]] | None
    ) = Field(default=None, min_length=1)
    regex_values: list[RegexValue] | None = Field(default=None, alias="regexValues", min_length=1)

    @model_validator(mode="after")
    def _one_kind(self) -> HttpHeaderConfig:
        _values_or_regex(self)
        return self


class QueryStringKeyValue(GoJson):
    key: str | None = Field(default=None, max_length=MAX_CONDITION_VALUE_LENGTH)
    value: str = Field(min_length=1, max_length=MAX_CONDITION_VALUE_LENGTH)


class QueryStringConfig(GoJson):
    values: list[QueryStringKeyValue] = Field(min_length=1)


class ConditionValue(GoJson):
    """One condition of a `conditions.<name>` annotation: LBC's RuleCondition JSON."""

    field: Literal[
        "host-header",
        "http-header",
        "http-request-method",
        "path-pattern",
        "query-string",
        "source-ip",
    ]
    host_header_config: ValuesConfig | None = Field(default=None, alias="hostHeaderConfig")
    http_header_config: HttpHeaderConfig | None = Field(default=None, alias="httpHeaderConfig")
    http_request_method_config: MethodConfig | None = Field(
        default=None, alias="httpRequestMethodConfig"
    )
    path_pattern_config: ValuesConfig | None = Field(default=None, alias="pathPatternConfig")
    query_string_config: QueryStringConfig | None = Field(default=None, alias="queryStringConfig")
    source_ip_config: SourceIpConfig | None = Field(default=None, alias="sourceIpConfig")

    @model_validator(mode="after")
    def _config_matches_field(self) -> ConditionValue:
        wanted = _CONDITION_CONFIGS[self.field]
        alias = type(self).model_fields[wanted].alias
        if getattr(self, wanted) is None:
            raise ValueError(f"a {self.field} condition needs {alias}")
        others = [
            name for name in _CONDITION_CONFIGS.values() if name != wanted and getattr(self, name)
        ]
        if others:
            raise ValueError(f"a {self.field} condition takes only {alias}")
        return self


# Which config object each condition field carries (AWS's RuleCondition shape).
_CONDITION_CONFIGS = {
    "host-header": "host_header_config",
    "http-header": "http_header_config",
    "http-request-method": "http_request_method_config",
    "path-pattern": "path_pattern_config",
    "query-string": "query_string_config",
    "source-ip": "source_ip_config",
}


Conditions = Annotated[list[ConditionValue], Field(min_length=1)]


# --- auth-idp-oidc and auth-idp-cognito JSON -----------------------------------------------

MAX_AUTH_EXTRA_PARAMS = 10  # AWS: "up to 10" query parameters to the authorization endpoint


def _https_url(value: str) -> str:
    if not re.fullmatch(r"https://[^\s/?#]+[^\s]*", value):
        raise ValueError(f"{value!r} must be a full https:// URL")
    return value


HttpsUrl = Annotated[str, AfterValidator(_https_url)]


def _extra_params(params: dict[str, str]) -> dict[str, str]:
    if len(params) > MAX_AUTH_EXTRA_PARAMS:
        raise ValueError(f"{len(params)} parameters; AWS allows {MAX_AUTH_EXTRA_PARAMS}")
    for key in params:
        if not key:
            raise ValueError("a parameter name must not be empty")
    return params


ExtraParams = Annotated[dict[str, str], AfterValidator(_extra_params)]


class AuthIdpOidc(GoJson):
    """The `auth-idp-oidc` annotation: the IdP's endpoints and the Secret (in the Ingress's
    namespace) holding `clientID` and `clientSecret`."""

    issuer: HttpsUrl
    authorization_endpoint: HttpsUrl = Field(alias="authorizationEndpoint")
    token_endpoint: HttpsUrl = Field(alias="tokenEndpoint")
    user_info_endpoint: HttpsUrl = Field(alias="userInfoEndpoint")
    secret_name: str = Field(alias="secretName", min_length=1)
    authentication_request_extra_params: ExtraParams | None = Field(
        default=None, alias="authenticationRequestExtraParams"
    )


def _user_pool_arn(value: str) -> str:
    if not value.startswith("arn:") or ":cognito-idp:" not in value:
        raise ValueError(f"{value!r} is not a user pool ARN (arn:aws:cognito-idp:...)")
    return value


class AuthIdpCognito(GoJson):
    """The `auth-idp-cognito` annotation: a Cognito user pool, its app client and domain."""

    user_pool_arn: Annotated[str, AfterValidator(_user_pool_arn)] = Field(alias="userPoolARN")
    user_pool_client_id: str = Field(alias="userPoolClientID", min_length=1)
    user_pool_domain: str = Field(alias="userPoolDomain", min_length=1)
    authentication_request_extra_params: ExtraParams | None = Field(
        default=None, alias="authenticationRequestExtraParams"
    )


@dataclass(frozen=True)
class SubnetTagFilter:
    """IngressClassParams `spec.subnets.tags`, standing in for the subnets annotation: the
    load balancer's subnets are discovered among those carrying these tags."""

    tags: tuple[tuple[str, tuple[str, ...]], ...]  # (key, values), sorted

    def as_dict(self) -> dict[str, tuple[str, ...]]:
        return dict(self.tags)

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={'|'.join(v) or '*'}" for k, v in self.tags)
        return f"tags {shown}"
