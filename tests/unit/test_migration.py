"""What a cluster moving over from LBC relies on, in the model (issue: migration safety).

Each test fails without the behaviour it names; the golden case `ssl-redirect-action` holds
LBC's rule optimizer (no redirect loop on HTTPS:443, no rules a redirect shadows).
"""

from __future__ import annotations

import json

from controller.model.annotations import PREFIX
from controller.model.stack import FixedResponseAction

from .factories import ingress, path, plan, rule, service

GROUP = PREFIX + "group.name"


def _weighted(port: int | str) -> dict[str, str]:
    action = {
        "type": "forward",
        "forwardConfig": {"targetGroups": [{"serviceName": "svc", "servicePort": port}]},
    }
    return {PREFIX + "actions.split": json.dumps(action)}


def test_a_service_port_given_as_a_numeric_string_is_that_port_number() -> None:
    # `"servicePort": "80"` is in many blog posts and AWS's own examples; LBC reads it as 80.
    rules = [rule(None, path("/", "split", port="use-annotation"))]
    as_string = plan(ingress(rules=rules, annotations=_weighted("80")), service())
    as_number = plan(ingress(rules=rules, annotations=_weighted(80)), service())
    assert as_string.errors == ()
    assert as_string.stacks == as_number.stacks
    [tg] = as_string.stacks[0].target_groups
    assert tg.port == 30080  # the NodePort of Service port 80


def test_a_service_port_name_still_names_a_port() -> None:
    rules = [rule(None, path("/", "split", port="use-annotation"))]
    result = plan(ingress(rules=rules, annotations=_weighted("http")), service())
    assert result.errors == ()
    assert result.stacks[0].target_groups[0].port == 30080


def test_a_missing_service_is_a_503_with_a_warning_not_an_error() -> None:
    rules = [rule(None, path("/", "svc"), path("/api", "nowhere"))]
    result = plan(ingress(rules=rules), service())
    assert result.errors == ()
    [stack] = result.stacks
    actions = [r.actions[0] for r in stack.listeners[0].rules]
    assert [a.type for a in actions] == ["fixed-response", "forward"]  # /api sorts first
    assert isinstance(actions[0], FixedResponseAction)
    fixed = actions[0].fixed_response_config
    assert (fixed.status_code, fixed.content_type, fixed.message_body) == (
        "503",
        "text/plain",
        "Backend service does not exist",
    )
    [warning] = result.warnings
    assert warning.reason == "BackendNotFound"
    assert warning.field == "spec.rules[0].http.paths[1].backend.service"
    assert "service 'nowhere' not found" in warning.message


def test_unknown_and_unsupported_annotations_are_warnings() -> None:
    annotations = {
        PREFIX + "multi-cluster-target-group": "true",  # LBC has it, we do not yet
        PREFIX + "sheme": "internal",  # a typo
        PREFIX + "scheme": "internal",
    }
    result = plan(ingress(annotations=annotations), service())
    assert result.errors == ()
    assert len(result.stacks) == 1
    by_field = {w.field: w.message for w in result.warnings}
    assert set(by_field) == {
        f"metadata.annotations[{PREFIX}multi-cluster-target-group]",
        f"metadata.annotations[{PREFIX}sheme]",
    }
    assert (
        "does not support yet"
        in by_field[f"metadata.annotations[{PREFIX}multi-cluster-target-group]"]
    )
    assert "a typo?" in by_field[f"metadata.annotations[{PREFIX}sheme]"]
    assert {w.reason for w in result.warnings} == {"UnsupportedAnnotation"}


def test_a_host_alb_would_reject_fails_its_ingress_alone() -> None:
    # A valid DNS name of 150 characters: Kubernetes takes it, ALB's host-header does not.
    long_host = ".".join(["a" * 49, "b" * 49, "c" * 40, "example.com"])
    assert len(long_host) > 128
    bad = ingress("bad", rules=[rule(long_host, path("/"))], annotations={GROUP: "shop"})
    good = ingress("good", rules=[rule("ok.example.com", path("/"))], annotations={GROUP: "shop"})
    result = plan(bad, good, service())
    [error] = result.errors
    assert (error.ingress, error.field) == ("default/bad", "spec.rules[0].host")
    assert "at most 128" in error.message
    assert result.stacks[0].ingresses == ("default/good",)


def test_a_path_with_characters_alb_rejects_is_an_error_naming_it() -> None:
    bad = ingress("bad", rules=[rule(None, path("/a%20b", path_type="ImplementationSpecific"))])
    result = plan(bad, service())
    [error] = result.errors
    assert error.field == "spec.rules[0].http.paths[0].path"
    assert "'%'" in error.message


def test_service_annotations_not_read_are_warnings_of_the_ingress_using_it() -> None:
    svc = service(
        annotations={PREFIX + "scheme": "internet-facing", PREFIX + "helthcheck-path": "/"}
    )
    result = plan(ingress(), svc)
    assert result.errors == ()
    by_field = {w.field: w.message for w in result.warnings}
    assert (
        "goes on the Ingress, not on the Service"
        in by_field[f"service/svc.metadata.annotations[{PREFIX}scheme]"]
    )
    assert "a typo?" in by_field[f"service/svc.metadata.annotations[{PREFIX}helthcheck-path]"]


def test_a_member_without_certificate_arn_has_its_hosts_discovered_beside_one_with() -> None:
    arn = "arn:aws:acm:us-east-1:111122223333:certificate/aaaa"
    https = {PREFIX + "listen-ports": '[{"HTTPS": 443}]', GROUP: "shop"}
    given = ingress("given", rules=[rule("a.example.com", path("/"))],
                    annotations={**https, PREFIX + "certificate-arn": arn})  # fmt: skip
    found = ingress("found", rules=[rule("b.example.com", path("/"))], annotations=https)
    [stack] = plan(given, found, service()).stacks
    [listener] = stack.listeners
    assert listener.certificates == (arn,)
    assert listener.certificate_hosts == ("b.example.com",)  # only the member that gave none


def test_auth_type_on_an_http_only_ingress_is_a_warning() -> None:
    app = ingress(annotations={PREFIX + "auth-type": "cognito", PREFIX + "auth-idp-cognito": (
        '{"userPoolARN": "arn:aws:cognito-idp:us-east-1:111122223333:userpool/p", '
        '"userPoolClientID": "c", "userPoolDomain": "d"}')})  # fmt: skip
    result = plan(app, service())
    assert result.errors == ()
    [warning] = [w for w in result.warnings if "auth-type" in w.field]
    assert "needs an HTTPS listener" in warning.message
