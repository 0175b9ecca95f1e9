"""LBC v3.5's rule-level features in the model: regex conditions, use-regex-path-match,
transforms.<name>, jwt-validation and target-control-port.

Each test names the behaviour it pins: where a value lands in the stack (and its JSON),
which combinations are build errors naming the annotation, and that nothing changes for an
Ingress that uses none of them.
"""

from __future__ import annotations

import json
from typing import Any

from controller.model.annotations import PREFIX
from controller.model.names import target_group_name
from controller.model.stack import (
    Condition,
    JwtValidationAction,
    Listener,
    Plan,
    Rewrite,
    RewriteConfig,
    Rule,
    Stack,
    Transform,
)

from .factories import ingress, path, plan, rule, service

CERT = "arn:aws:acm:us-east-1:111122223333:certificate/1"
JWT = {"jwksEndpoint": "https://idp.example.com/jwks", "issuer": "https://idp.example.com"}
URL_REWRITE = [
    {
        "type": "url-rewrite",
        "urlRewriteConfig": {"rewrites": [{"regex": "^/api/(.*)$", "replace": "/$1"}]},
    }
]


def _stack(result: Plan) -> Stack:
    assert result.errors == (), result.errors
    [stack] = result.stacks
    return stack


def _listener(result: Plan, port: int = 80) -> Listener:
    return next(li for li in _stack(result).listeners if li.port == port)


def _rules(result: Plan, port: int = 80) -> tuple[Rule, ...]:
    return _listener(result, port).rules


def _conditions(rule_: Rule, field: str) -> list[Condition]:
    return [c for c in rule_.conditions if c.field == field]


# --- regex conditions ----------------------------------------------------------------


def test_regex_values_of_a_conditions_annotation_become_the_rules_regex_condition() -> None:
    conditions = [
        {"field": "host-header", "hostHeaderConfig": {"regexValues": ["^(.+)\\.example\\.com$"]}},
        {"field": "http-header", "httpHeaderConfig": {"httpHeaderName": "X-Id",
                                                      "regexValues": ["^[0-9]+$"]}},
    ]  # fmt: skip
    result = plan(
        ingress(
            annotations={PREFIX + "conditions.svc": json.dumps(conditions)},
            rules=[rule(None, path("/", path_type="Prefix"))],
        ),
        service(),
    )
    [only] = _rules(result)
    [host] = _conditions(only, "host-header")
    assert (host.values, host.regex_values) == (None, ("^(.+)\\.example\\.com$",))
    [header] = _conditions(only, "http-header")
    assert (header.http_header_name, header.regex_values) == ("X-Id", ("^[0-9]+$",))
    dumped = only.model_dump(mode="json")
    assert {"field": "host-header", "regexValues": ["^(.+)\\.example\\.com$"]} in dumped[
        "conditions"
    ]


def test_a_glob_path_and_a_regex_path_in_one_rule_name_the_conditions_annotation() -> None:
    """LBC refuses Values beside RegexValues in the merged host or path condition."""
    conditions = [{"field": "path-pattern", "pathPatternConfig": {"regexValues": ["^/v[0-9]+"]}}]
    result = plan(
        ingress(
            annotations={PREFIX + "conditions.svc": json.dumps(conditions)},
            rules=[rule("app.example.com", path("/api", path_type="Prefix"))],
        ),
        service(),
    )
    assert result.stacks == ()
    [error] = result.errors
    assert error.field == f"metadata.annotations[{PREFIX}conditions.svc]"
    assert "path condition must use values or regexValues, not both" in error.message
    assert "'/api'" in error.message and "'^/v[0-9]+'" in error.message


def test_a_rule_host_beside_a_host_regex_is_refused_too() -> None:
    conditions = [{"field": "host-header", "hostHeaderConfig": {"regexValues": ["^a.+$"]}}]
    result = plan(
        ingress(
            annotations={PREFIX + "conditions.svc": json.dumps(conditions)},
            rules=[rule("app.example.com", path("/", path_type="Prefix"))],
        ),
        service(),
    )
    [error] = result.errors
    assert error.field == f"metadata.annotations[{PREFIX}conditions.svc]"
    assert "host condition must use values or regexValues" in error.message


def test_regex_values_count_against_the_five_values_of_a_rule() -> None:
    conditions = [
        {"field": "http-header",
         "httpHeaderConfig": {"httpHeaderName": "X-A", "regexValues": ["a", "b", "c", "d"]}},
    ]  # fmt: skip
    result = plan(
        ingress(
            annotations={PREFIX + "conditions.svc": json.dumps(conditions)},
            rules=[rule("app.example.com", path("/", path_type="Prefix"))],
        ),
        service(),
    )
    [error] = result.errors
    assert "the rule has 6 condition values" in error.message


# --- use-regex-path-match ------------------------------------------------------------


def _regex_ingress(value: str | None, *paths: dict[str, Any]) -> dict[str, Any]:
    annotations = {} if value is None else {PREFIX + "use-regex-path-match": value}
    return ingress(annotations=annotations, rules=[rule(None, *paths)])


def test_use_regex_path_match_makes_implementation_specific_paths_regexes() -> None:
    result = plan(
        _regex_ingress(
            "true",
            path("/exact", path_type="Exact"),
            path("/prefix", path_type="Prefix"),
            path("/api/v[0-9]+/.*", path_type="ImplementationSpecific"),
            path("/untyped/.+", path_type=None),
        ),
        service(),
    )
    by_path = [_conditions(r, "path-pattern")[0] for r in _rules(result)]
    assert [(c.values, c.regex_values) for c in by_path] == [
        (("/exact",), None),
        (("/prefix", "/prefix/*"), None),
        # The leading `/` Kubernetes requires is dropped, as LBC does.
        (None, ("api/v[0-9]+/.*",)),
        (None, ("untyped/.+",)),
    ]


def test_without_use_regex_path_match_the_same_path_stays_a_glob() -> None:
    for value in (None, "false"):
        result = plan(
            _regex_ingress(value, path("/api/*", path_type="ImplementationSpecific")), service()
        )
        [only] = _rules(result)
        assert _conditions(only, "path-pattern")[0].values == ("/api/*",)


def test_a_regex_path_alb_cannot_run_names_the_path() -> None:
    result = plan(
        _regex_ingress("true", path("/(?=x)", path_type="ImplementationSpecific")), service()
    )
    [error] = result.errors
    assert error.field == "spec.rules[0].http.paths[0].path"
    assert "lookahead" in error.message


# --- transforms.<name> ---------------------------------------------------------------


def test_transforms_go_on_every_rule_of_their_backend_and_only_there() -> None:
    result = plan(
        ingress(
            annotations={PREFIX + "transforms.svc": json.dumps(URL_REWRITE)},
            rules=[
                rule("app.example.com", path("/api", path_type="Prefix")),
                rule("other.example.com", path("/", "other", path_type="Prefix")),
            ],
        ),
        service(),
        service("other"),
    )
    rewritten, plain = _rules(result)
    assert rewritten.transforms == (
        Transform(
            type="url-rewrite",
            url_rewrite_config=RewriteConfig(
                rewrites=(Rewrite(regex="^/api/(.*)$", replace="/$1"),)
            ),
        ),
    )
    assert plain.transforms == ()
    assert rewritten.model_dump(mode="json")["transforms"] == [
        {"type": "url-rewrite",
         "urlRewriteConfig": {"rewrites": [{"regex": "^/api/(.*)$", "replace": "/$1"}]}}
    ]  # fmt: skip
    # Absent from a rule without transforms: plans and digests made before them are unchanged.
    assert "transforms" not in plain.model_dump(mode="json")


def test_transforms_for_the_default_backend_alone_are_refused() -> None:
    """AWS allows no transforms on a listener's default rule."""
    result = plan(
        ingress(
            annotations={PREFIX + "transforms.fallback": json.dumps(URL_REWRITE)},
            rules=[rule("app.example.com", path("/", path_type="Prefix"))],
            default_backend={"service": {"name": "fallback", "port": {"number": 80}}},
        ),
        service(),
        service("fallback"),
    )
    [error] = result.errors
    assert error.field == f"metadata.annotations[{PREFIX}transforms.fallback]"
    assert "no transforms on a listener's default rule" in error.message


def test_transforms_of_a_default_backend_also_on_a_path_apply_to_that_path() -> None:
    result = plan(
        ingress(
            annotations={PREFIX + "transforms.svc": json.dumps(URL_REWRITE)},
            rules=[rule("app.example.com", path("/", path_type="Prefix"))],
            default_backend={"service": {"name": "svc", "port": {"number": 80}}},
        ),
        service(),
    )
    [only] = _rules(result)
    assert [t.type for t in only.transforms] == ["url-rewrite"]


# --- jwt-validation ------------------------------------------------------------------


def _https(annotations: dict[str, str], **kwargs: Any) -> dict[str, Any]:
    return ingress(
        annotations={
            PREFIX + "certificate-arn": CERT,
            PREFIX + "listen-ports": '[{"HTTP": 80}, {"HTTPS": 443}]',
            **annotations,
        },
        **kwargs,
    )


def test_jwt_validation_runs_first_on_https_rules_and_default_actions_only() -> None:
    claims = [{"name": "scope", "format": "space-separated-values", "values": ["read"]}]
    result = plan(
        _https(
            {PREFIX + "jwt-validation": json.dumps({**JWT, "additionalClaims": claims})},
            default_backend={"service": {"name": "svc", "port": {"number": 80}}},
            rules=[rule("app.example.com", path("/", path_type="Prefix"))],
        ),
        service(),
    )
    [https_rule] = _rules(result, 443)
    first, second = https_rule.actions
    assert isinstance(first, JwtValidationAction)
    assert first.jwt_validation_config.issuer == JWT["issuer"]
    assert [c.values for c in first.jwt_validation_config.additional_claims] == [("read",)]
    assert second.type == "forward"
    assert [a.type for a in _listener(result, 443).default_actions] == ["jwt-validation", "forward"]
    [http_rule] = _rules(result, 80)
    assert [a.type for a in http_rule.actions] == ["forward"]
    assert [a.type for a in _listener(result, 80).default_actions] == ["forward"]


def test_the_services_jwt_validation_wins_for_its_backend() -> None:
    other = {**JWT, "issuer": "https://other.example.com"}
    result = plan(
        _https(
            {PREFIX + "jwt-validation": json.dumps(JWT)},
            rules=[rule("app.example.com", path("/", path_type="Prefix"))],
        ),
        service(annotations={PREFIX + "jwt-validation": json.dumps(other)}),
    )
    [https_rule] = _rules(result, 443)
    first = https_rule.actions[0]
    assert isinstance(first, JwtValidationAction)
    assert first.jwt_validation_config.issuer == "https://other.example.com"


def test_jwt_validation_beside_an_auth_type_names_jwt_validation() -> None:
    cognito = {
        "userPoolARN": "arn:aws:cognito-idp:us-east-1:111122223333:userpool/p",
        "userPoolClientID": "c",
        "userPoolDomain": "d",
    }
    result = plan(
        _https(
            {PREFIX + "auth-type": "cognito", PREFIX + "auth-idp-cognito": json.dumps(cognito)},
            rules=[rule("app.example.com", path("/", path_type="Prefix"))],
        ),
        service(annotations={PREFIX + "jwt-validation": json.dumps(JWT)}),
    )
    assert result.stacks == ()
    [error] = result.errors
    assert error.field == f"service/svc.metadata.annotations[{PREFIX}jwt-validation]"
    assert "auth-type cognito applies to this backend too" in error.message


def test_an_http_only_ingress_is_not_held_to_jwt_validation() -> None:
    """As for the auth annotations: read only where an HTTPS listener can run them."""
    result = plan(ingress(annotations={PREFIX + "jwt-validation": json.dumps(JWT)}), service())
    [only] = _rules(result)
    assert [a.type for a in only.actions] == ["forward"]


# --- target-control-port -------------------------------------------------------------


def _ip(annotations: dict[str, str], **svc: Any) -> Plan:
    return plan(
        ingress(annotations={PREFIX + "target-type": "ip", **annotations}),
        service(**svc),
    )


def test_a_target_control_port_is_on_the_target_group_and_in_its_name() -> None:
    plain = _stack(_ip({})).target_groups[0]
    result = _ip({PREFIX + "target-control-port.svc.80": "3000"})
    [tg] = _stack(result).target_groups
    assert tg.target_control_port == 3000
    assert tg.name != plain.name  # a new target group: AWS cannot change the port in place
    assert tg.model_dump(mode="json")["targetControlPort"] == 3000
    assert "targetControlPort" not in plain.model_dump(mode="json")


def test_without_a_control_port_the_name_is_lbcs_as_before() -> None:
    common: dict[str, Any] = {
        "cluster": "c", "stack_id": "ns/i", "ingress": "ns/i", "service": "ns/s",
        "service_uid": "u", "service_port": 80, "target_group_port": 8080,
        "target_type": "ip", "protocol": "HTTP", "protocol_version": "HTTP1",
    }  # fmt: skip
    assert target_group_name(**common) == target_group_name(**common, target_control_port=None)
    assert target_group_name(**common) != target_group_name(**common, target_control_port=1)


def test_the_services_control_port_wins_and_a_named_port_is_keyed_by_its_name() -> None:
    result = plan(
        ingress(
            annotations={
                PREFIX + "target-type": "ip",
                PREFIX + "target-control-port.svc.http": "3000",
            },
            rules=[rule("app.example.com", path("/", "svc", "http", path_type="Prefix"))],
        ),
        service(annotations={PREFIX + "target-control-port.svc.http": "4000"}),
    )
    assert _stack(result).target_groups[0].target_control_port == 4000


def test_a_control_port_on_instance_targets_names_the_annotation() -> None:
    result = plan(ingress(annotations={PREFIX + "target-control-port.svc.80": "3000"}), service())
    assert result.stacks == ()
    [error] = result.errors
    assert error.field == f"metadata.annotations[{PREFIX}target-control-port.svc.80]"
    assert "needs target-type ip" in error.message
