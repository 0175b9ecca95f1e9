"""Model actions, conditions and transforms in ELBv2's API shapes, and canonical forms for
comparing.

AWS answers with more than we send (both `Values` and `HostHeaderConfig`, a disabled
stickiness block, a `TargetGroupArn` beside the `ForwardConfig`, ...), so desired and live
rules are compared through one canonicaliser applied to both sides' AWS shapes. Equal
canonical forms mean "nothing to change"; that is what keeps a no-op deploy free of calls.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from controller.model.stack import (
    DEFAULT_AUTH_SCOPE,
    DEFAULT_AUTH_SESSION_COOKIE,
    DEFAULT_AUTH_SESSION_TIMEOUT,
    Action,
    AuthenticateCognitoAction,
    AuthenticateOidcAction,
    Condition,
    FixedResponseAction,
    ForwardAction,
    JwtValidationAction,
    RedirectAction,
    RewriteConfig,
    TargetGroupTuple,
    Transform,
)

# The *Config key that holds each condition field's values in the API.
_CONFIG_KEYS = {
    "host-header": "HostHeaderConfig",
    "path-pattern": "PathPatternConfig",
    "http-header": "HttpHeaderConfig",
    "http-request-method": "HttpRequestMethodConfig",
    "query-string": "QueryStringConfig",
    "source-ip": "SourceIpConfig",
}

_REDIRECT_DEFAULTS = {
    "Protocol": "#{protocol}",
    "Port": "#{port}",
    "Host": "#{host}",
    "Path": "/#{path}",
    "Query": "#{query}",
}

TargetGroupResolver = Callable[[TargetGroupTuple], str]


def condition_to_aws(condition: Condition) -> dict[str, Any]:
    """A model condition as a `RuleCondition`, in the *Config form LBC also sends."""
    field = condition.field
    config: dict[str, Any]
    if field == "query-string":
        config = {
            "Values": [
                {**({"Key": pair.key} if pair.key is not None else {}), "Value": pair.value}
                for pair in condition.query_string_values or ()
            ]
        }
    else:
        # A regex condition carries RegexValues alone: AWS takes one or the other.
        config = (
            {"RegexValues": list(condition.regex_values)}
            if condition.regex_values is not None
            else {"Values": list(condition.values or ())}
        )
        if field == "http-header":
            config = {"HttpHeaderName": condition.http_header_name or "", **config}
    return {"Field": field, _CONFIG_KEYS[field]: config}


def _rewrites(config: RewriteConfig) -> dict[str, Any]:
    return {"Rewrites": [{"Regex": r.regex, "Replace": r.replace} for r in config.rewrites]}


def transform_to_aws(transform: Transform) -> dict[str, Any]:
    """A model transform as an ELBv2 `RuleTransform`."""
    data: dict[str, Any] = {"Type": transform.type}
    if transform.url_rewrite_config is not None:
        data["UrlRewriteConfig"] = _rewrites(transform.url_rewrite_config)
    if transform.host_header_rewrite_config is not None:
        data["HostHeaderRewriteConfig"] = _rewrites(transform.host_header_rewrite_config)
    return data


def transforms_to_aws(transforms: Sequence[Transform]) -> list[dict[str, Any]]:
    return [transform_to_aws(t) for t in transforms]


def action_to_aws(action: Action, order: int, resolve: TargetGroupResolver) -> dict[str, Any]:
    """A model action as an ELBv2 `Action`, target groups resolved to ARNs."""
    if isinstance(action, ForwardAction):
        forward: dict[str, Any] = {
            "TargetGroups": [
                {"TargetGroupArn": resolve(tuple_), "Weight": tuple_.weight}
                for tuple_ in action.target_groups
            ]
        }
        if action.stickiness is not None:
            stickiness: dict[str, Any] = {"Enabled": action.stickiness.enabled}
            if action.stickiness.duration_seconds is not None:
                stickiness["DurationSeconds"] = action.stickiness.duration_seconds
            forward["TargetGroupStickinessConfig"] = stickiness
        return {"Type": "forward", "Order": order, "ForwardConfig": forward}
    if isinstance(action, RedirectAction):
        config = action.redirect_config
        return {
            "Type": "redirect",
            "Order": order,
            "RedirectConfig": {
                "Protocol": config.protocol,
                "Port": config.port,
                "Host": config.host,
                "Path": config.path,
                "Query": config.query,
                "StatusCode": config.status_code,
            },
        }
    if isinstance(action, AuthenticateOidcAction):
        oidc = action.authenticate_oidc_config
        oidc_config: dict[str, Any] = {
            "Issuer": oidc.issuer,
            "AuthorizationEndpoint": oidc.authorization_endpoint,
            "TokenEndpoint": oidc.token_endpoint,
            "UserInfoEndpoint": oidc.user_info_endpoint,
            "ClientId": oidc.client_id,
            # ClientSecret (or UseExistingClientSecret) is added when the action is sent
            # (`controller.aws.client_secrets`): the model never holds it.
            **_auth_common(oidc),
        }
        return {
            "Type": "authenticate-oidc",
            "Order": order,
            "AuthenticateOidcConfig": oidc_config,
        }
    if isinstance(action, JwtValidationAction):
        return {"Type": "jwt-validation", "Order": order, "JwtValidationConfig": _jwt(action)}
    if isinstance(action, AuthenticateCognitoAction):
        cognito = action.authenticate_cognito_config
        cognito_config: dict[str, Any] = {
            "UserPoolArn": cognito.user_pool_arn,
            "UserPoolClientId": cognito.user_pool_client_id,
            "UserPoolDomain": cognito.user_pool_domain,
            **_auth_common(cognito),
        }
        return {
            "Type": "authenticate-cognito",
            "Order": order,
            "AuthenticateCognitoConfig": cognito_config,
        }
    assert isinstance(action, FixedResponseAction)
    fixed = action.fixed_response_config
    body: dict[str, Any] = {"StatusCode": fixed.status_code}
    if fixed.content_type is not None:
        body["ContentType"] = fixed.content_type
    if fixed.message_body is not None:
        body["MessageBody"] = fixed.message_body
    return {"Type": "fixed-response", "Order": order, "FixedResponseConfig": body}


def _jwt(action: JwtValidationAction) -> dict[str, Any]:
    jwt = action.jwt_validation_config
    config: dict[str, Any] = {"JwksEndpoint": jwt.jwks_endpoint, "Issuer": jwt.issuer}
    if jwt.additional_claims:
        config["AdditionalClaims"] = [
            {"Format": c.format, "Name": c.name, "Values": list(c.values)}
            for c in jwt.additional_claims
        ]
    return config


def _auth_common(config: Any) -> dict[str, Any]:
    """The settings both authenticate actions share, as LBC sends them (every one given)."""
    common: dict[str, Any] = {
        "OnUnauthenticatedRequest": config.on_unauthenticated_request,
        "Scope": config.scope,
        "SessionCookieName": config.session_cookie_name,
        "SessionTimeout": config.session_timeout,
    }
    if config.authentication_request_extra_params:
        common["AuthenticationRequestExtraParams"] = dict(
            config.authentication_request_extra_params
        )
    return common


def actions_to_aws(actions: Sequence[Action], resolve: TargetGroupResolver) -> list[dict[str, Any]]:
    return [action_to_aws(action, i + 1, resolve) for i, action in enumerate(actions)]


# --- canonical forms -----------------------------------------------------------------------


def canonical_condition(
    condition: Mapping[str, Any],
) -> tuple[str, str, tuple[str, ...], tuple[str, ...]]:
    """(field, header name, values, regex values): values and regexes are sets to AWS."""
    field = str(condition["Field"])
    config = condition.get(_CONFIG_KEYS.get(field, ""), {}) or {}
    header = ""
    regex: tuple[str, ...] = ()
    if field == "query-string":
        values = tuple(
            sorted(f"{pair.get('Key', '')}={pair.get('Value', '')}" for pair in config["Values"])
        )
    else:
        raw = config.get("Values") or condition.get("Values") or ()
        values = tuple(sorted(str(v) for v in raw))
        regex = tuple(sorted(str(v) for v in config.get("RegexValues") or ()))
        if field == "http-header":
            header = str(config.get("HttpHeaderName", "")).lower()
    return (field, header, values, regex)


def canonical_conditions(conditions: Iterable[Mapping[str, Any]]) -> tuple[Any, ...]:
    """Conditions as a hashable value; their order does not matter to AWS."""
    return tuple(sorted(canonical_condition(c) for c in conditions))


def canonical_action(action: Mapping[str, Any]) -> tuple[Any, ...]:
    kind = str(action["Type"])
    if kind == "forward":
        config = action.get("ForwardConfig") or {}
        groups = config.get("TargetGroups") or [
            {"TargetGroupArn": action.get("TargetGroupArn"), "Weight": 1}
        ]
        pairs = tuple(sorted((str(g["TargetGroupArn"]), int(g.get("Weight", 1))) for g in groups))
        stickiness = config.get("TargetGroupStickinessConfig") or {}
        sticky: tuple[Any, ...] = ()
        if stickiness.get("Enabled"):
            sticky = (True, stickiness.get("DurationSeconds"))
        return (kind, pairs, sticky)
    if kind == "redirect":
        config = {**_REDIRECT_DEFAULTS, **(action.get("RedirectConfig") or {})}
        return (kind, tuple(sorted((k, str(v)) for k, v in config.items())))
    if kind == "fixed-response":
        fixed = action.get("FixedResponseConfig") or {}
        return (
            kind,
            str(fixed.get("StatusCode", "")),
            fixed.get("ContentType") or "",
            fixed.get("MessageBody") or "",
        )
    if kind in _FIRST_ACTIONS:
        return _canonical_first(kind, action)
    # Actions we never create: compared verbatim, so they get replaced.
    rest = {k: v for k, v in action.items() if k != "Order"}
    return (kind, json.dumps(rest, sort_keys=True, default=str))


_OIDC_KEYS = ("Issuer", "AuthorizationEndpoint", "TokenEndpoint", "UserInfoEndpoint", "ClientId")
_COGNITO_KEYS = ("UserPoolArn", "UserPoolClientId", "UserPoolDomain")


# The actions a rule may run before its own: authenticate a user, or validate a JWT.
_FIRST_ACTIONS = frozenset({"authenticate-oidc", "authenticate-cognito", "jwt-validation"})


def _canonical_first(kind: str, action: Mapping[str, Any]) -> tuple[Any, ...]:
    if kind == "authenticate-oidc":
        oidc = action.get("AuthenticateOidcConfig") or {}
        # The client secret is not compared: AWS never returns it. Whether the live one is
        # current is known from the rule's digest tag (`controller.aws.client_secrets`).
        return (
            kind,
            *(str(oidc.get(key, "")) for key in _OIDC_KEYS),
            *_canonical_auth_common(oidc),
        )
    if kind == "authenticate-cognito":
        cognito = action.get("AuthenticateCognitoConfig") or {}
        return (
            kind,
            *(str(cognito.get(key, "")) for key in _COGNITO_KEYS),
            *_canonical_auth_common(cognito),
        )
    jwt = action.get("JwtValidationConfig") or {}
    # Claims are ANDed, so their order means nothing; the values keep theirs.
    claims = sorted(
        (str(c.get("Name", "")), str(c.get("Format", "")), tuple(map(str, c.get("Values") or ())))
        for c in jwt.get("AdditionalClaims") or ()
    )
    return (kind, str(jwt.get("JwksEndpoint", "")), str(jwt.get("Issuer", "")), tuple(claims))


def _canonical_auth_common(config: Mapping[str, Any]) -> tuple[Any, ...]:
    """The shared settings, AWS's defaults standing in for absent ones (AWS fills them in;
    a rule made without them means the same as one made with the defaults)."""
    extra = config.get("AuthenticationRequestExtraParams") or {}
    return (
        str(config.get("OnUnauthenticatedRequest") or "authenticate"),
        str(config.get("Scope") or DEFAULT_AUTH_SCOPE),
        str(config.get("SessionCookieName") or DEFAULT_AUTH_SESSION_COOKIE),
        int(config.get("SessionTimeout") or DEFAULT_AUTH_SESSION_TIMEOUT),
        tuple(sorted((str(k), str(v)) for k, v in extra.items())),
    )


def canonical_actions(actions: Iterable[Mapping[str, Any]]) -> tuple[Any, ...]:
    """Actions as a hashable value, in their evaluation order."""
    ordered = sorted(actions, key=lambda a: int(a.get("Order", 0) or 0))
    return tuple(canonical_action(a) for a in ordered)


def canonical_transforms(transforms: Iterable[Mapping[str, Any]]) -> tuple[Any, ...]:
    """Transforms as a hashable value: one per type, so their order does not matter; the
    rewrites of one transform keep theirs (applied in turn). None and [] are both "none"."""
    found = []
    for transform in transforms:
        kind = str(transform.get("Type", ""))
        key = "UrlRewriteConfig" if kind == "url-rewrite" else "HostHeaderRewriteConfig"
        rewrites = (transform.get(key) or {}).get("Rewrites") or ()
        found.append(
            (kind, tuple((str(r.get("Regex", "")), str(r.get("Replace", ""))) for r in rewrites))
        )
    return tuple(sorted(found))
