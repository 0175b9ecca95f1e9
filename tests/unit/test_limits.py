"""AWS limits checked before AWS says no: the Ingress that pushes the ALB over is left out.

Per ALB: 100 rules (across listeners), 100 target groups, 50 listeners, 25 certificates
besides the default ones. Per rule: 5 condition values and 5 target groups per forward
action (those two also have golden cases).
"""

from __future__ import annotations

import json
from typing import Any

from controller.config import Settings
from controller.model.annotations import PREFIX

from .factories import DEFAULTS, group, ingress, path, rule, service, state


def _member(name: str, rules: list[dict[str, Any]], **annotations: str) -> dict[str, Any]:
    extra = {PREFIX + k.replace("_", "-"): v for k, v in annotations.items()}
    return ingress(name, annotations={PREFIX + "group.name": "big", **extra}, rules=rules)


def _paths(count: int, prefix: str, service_for: Any = lambda i: "svc") -> list[dict[str, Any]]:
    return [rule(None, *(path(f"/{prefix}{i}", service_for(i)) for i in range(count)))]


def test_rules_limit_excludes_the_ingress_that_overflows() -> None:
    objects = [
        _member("a", _paths(60, "a")),
        _member("b", _paths(41, "b")),  # 101 rules: over
        _member("c", _paths(40, "c")),  # 100 rules: fits once b is out
        service(),
    ]
    result = group("big", state(*objects), DEFAULTS)
    assert result.stack is not None
    assert result.stack.ingresses == ("default/a", "default/c")
    assert len(result.stack.listeners[0].rules) == 100
    [error] = result.errors
    assert error.ingress == "default/b"
    assert "100 rules" in error.message


def test_rules_count_across_listeners() -> None:
    ports = json.dumps([{"HTTP": 80}, {"HTTP": 8080}])
    objects = [_member("a", _paths(50, "a"), listen_ports=ports), service()]
    result = group("big", state(*objects), DEFAULTS)
    assert result.stack is not None
    assert sum(len(listener.rules) for listener in result.stack.listeners) == 100
    objects = [_member("a", _paths(51, "a"), listen_ports=ports), service()]
    result = group("big", state(*objects), DEFAULTS)
    assert result.stack is None
    assert "100 rules" in result.errors[0].message


def test_redirected_http_listeners_have_no_rules_to_count() -> None:
    ports = json.dumps([{"HTTP": 80}, {"HTTPS": 443}])
    objects = [
        _member(
            "a",
            _paths(100, "a"),
            listen_ports=ports,
            ssl_redirect="443",
            certificate_arn="arn:aws:acm:us-east-1:1:certificate/x",
        ),
        service(),
    ]
    result = group("big", state(*objects), DEFAULTS)
    assert result.errors == ()


def _forward_to(names: list[str]) -> str:
    targets = [{"serviceName": n, "servicePort": 80} for n in names]
    return json.dumps({"type": "forward", "forwardConfig": {"targetGroups": targets}})


def test_target_group_limit() -> None:
    # a: 20 rules forwarding to 5 Services each = 100 target groups; b adds one more.
    actions = {
        f"actions.spread{i}": _forward_to([f"s{i}-{k}" for k in range(5)]) for i in range(20)
    }
    a_rules = [rule(None, *(path(f"/a{i}", f"spread{i}", "use-annotation") for i in range(20)))]
    services = [service(f"s{i}-{k}") for i in range(20) for k in range(5)]
    objects = [
        _member("a", a_rules, **actions),
        _member("b", [rule(None, path("/b", "svc"))]),
        service(),
        *services,
    ]
    result = group("big", state(*objects), DEFAULTS)
    assert result.stack is not None
    assert len(result.stack.target_groups) == 100
    [error] = result.errors
    assert error.ingress == "default/b"
    assert "100 target groups" in error.message


def test_listener_limit() -> None:
    ports = json.dumps([{"HTTP": 8000 + i} for i in range(50)])
    objects = [
        _member("a", [rule(None, path("/a"))], listen_ports=ports),
        _member("b", [rule(None, path("/b"))], listen_ports='[{"HTTP": 8000}]'),
        _member("c", [rule(None, path("/c"))], listen_ports='[{"HTTP": 9999}]'),
        service(),
    ]
    result = group("big", state(*objects), DEFAULTS)
    assert result.stack is not None
    assert len(result.stack.listeners) == 50
    assert result.stack.ingresses == ("default/a", "default/b")
    [error] = result.errors
    assert error.ingress == "default/c"
    assert "50 listeners" in error.message


def test_certificate_limit_counts_all_but_the_default() -> None:
    arns = [f"arn:aws:acm:us-east-1:1:certificate/{i}" for i in range(27)]
    objects = [
        _member("a", [rule(None, path("/a"))], certificate_arn=",".join(arns[:26])),
        _member("b", [rule(None, path("/b"))], certificate_arn=arns[26]),
        service(),
    ]
    result = group("big", state(*objects), DEFAULTS)
    assert result.stack is not None
    assert len(result.stack.listeners[0].certificates) == 26
    [error] = result.errors
    assert error.ingress == "default/b"
    assert "25 certificates" in error.message


def test_an_accounts_raised_rules_quota_is_a_setting() -> None:
    # Rules per ALB is an adjustable quota: RULES_PER_ALB_LIMIT takes the account's value.
    objects = [_member("a", _paths(60, "a")), _member("b", _paths(41, "b")), service()]
    raised = Settings(rules_per_alb_limit=200).model_defaults()
    result = group("big", state(*objects), raised)
    assert result.errors == ()
    assert result.stack is not None and len(result.stack.listeners[0].rules) == 101
    lowered = Settings(rules_per_alb_limit=50).model_defaults()
    result = group("big", state(*objects), lowered)
    assert [e.ingress for e in result.errors] == ["default/a"]  # 60 > 50; b's 41 fit
    assert "50 rules" in result.errors[0].message
    assert result.stack is not None and result.stack.ingresses == ("default/b",)


def test_tags_aws_would_refuse_are_an_error_naming_the_annotation() -> None:
    too_long = ingress(annotations={PREFIX + "tags": "team=" + "x" * 257})
    reserved = ingress("reserved", annotations={PREFIX + "tags": "aws:owner=me"})
    many = ingress("many", annotations={PREFIX + "tags": ",".join(f"k{i}=v" for i in range(48))})
    result = group("default/app", state(too_long, service()), DEFAULTS)
    [error] = result.errors
    assert error.field == f"metadata.annotations[{PREFIX}tags]"
    assert "over 256 characters" in error.message
    for body, why in ((reserved, "aws: prefix"), (many, "AWS allows 47")):
        key = f"default/{body['metadata']['name']}"
        [error] = group(key, state(body, service()), DEFAULTS).errors
        assert why in error.message, error.message


def test_condition_and_redirect_values_over_awss_lengths_are_an_error_naming_the_key() -> None:
    long_name = "X-" + "h" * 39
    header = {"field": "http-header",
              "httpHeaderConfig": {"httpHeaderName": long_name, "values": ["on"]}}  # fmt: skip
    value = {"field": "http-header",
             "httpHeaderConfig": {"httpHeaderName": "X-Canary", "values": ["v" * 129]}}  # fmt: skip
    query = {"field": "query-string", "queryStringConfig": {"values": [{"value": "q" * 129}]}}
    method = {"field": "http-request-method",
              "httpRequestMethodConfig": {"values": ["M" * 41]}}  # fmt: skip
    redirect = {"type": "redirect",
                "redirectConfig": {"host": "h" * 129, "statusCode": "HTTP_301"}}  # fmt: skip
    cases = [
        ("conditions.web", json.dumps([header]), "40 characters"),
        ("conditions.web", json.dumps([value]), "128 characters"),
        ("conditions.web", json.dumps([query]), "128 characters"),
        ("conditions.web", json.dumps([method]), "40 characters"),
        ("actions.web", json.dumps(redirect), "128 characters"),
    ]
    for key, annotation, why in cases:
        body = ingress(
            annotations={PREFIX + key: annotation},
            rules=[rule("a.example.com", path("/", "web", "use-annotation"))]
            if key.startswith("actions")
            else [rule("a.example.com", path("/", "web"))],
        )
        errors = group("default/app", state(body, service("web")), DEFAULTS).errors
        assert [e.field for e in errors] == [f"metadata.annotations[{PREFIX}{key}]"], errors
        assert why in errors[0].message, errors[0].message
