"""Migrating from LBC on the real control plane: what its users rely on keeps working.

A path whose backend Service does not exist is answered with LBC's fixed 503 while the rest
of the Ingress serves, and starts forwarding once the Service appears; annotation keys this
controller does not read are reported, not silently dropped; a switch-over from resources
laid out as LBC leaves them makes no AWS write, and releases the TargetGroupBindings LBC made
for the group (their finalizer would keep the namespace from being deleted) while a user's
own binding stays.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from controller.kube.bindings import GROUP, PLURAL, VERSION
from controller.kube.reconciler import APPLIED_ANNOTATION
from sandbox import objects
from sandbox.awsproxy import is_mutating
from sandbox.controller_process import ControllerProcess
from tests.e2e.harness import Controller, Scenario, ingress_body, wait_until
from tests.e2e.tripwire import Tripwire

PREFIX = "alb.ingress.kubernetes.io/"


def _action_by_path(scenario: Scenario, hostname: str) -> dict[str, dict[str, Any]]:
    view = scenario.lb_view(hostname)
    found: dict[str, dict[str, Any]] = {}
    for rule in view.rules:
        for condition in rule["Conditions"]:
            if condition["Field"] == "path-pattern":
                for path in condition["PathPatternConfig"]["Values"]:
                    found[path] = rule["Actions"][0]
    return found


def _warnings(scenario: Scenario, ns: str, name: str, reason: str) -> list[str]:
    return [
        str(e.message)
        for e in scenario.events(ns, name)
        if e.type == "Warning" and e.reason == reason
    ]


def test_a_missing_backend_answers_503_and_the_rest_still_serves(
    scenario: Scenario, running: object
) -> None:
    ns = scenario.namespace("missing")
    scenario.app(ns, "web")
    scenario.ingress(
        ns, "shop", [("shop.example.com", "/", "web"), ("shop.example.com", "/api", "api")]
    )
    hostname = scenario.hostname(ns, "shop", timeout=60)
    actions = _action_by_path(scenario, hostname)
    assert actions["/*"]["Type"] == "forward"
    assert actions["/api"]["Type"] == "fixed-response"
    assert actions["/api"]["FixedResponseConfig"]["StatusCode"] == "503"
    assert actions["/api"]["FixedResponseConfig"]["MessageBody"] == "Backend service does not exist"
    [message] = wait_until(
        lambda: _warnings(scenario, ns, "shop", "BackendNotFound"), "a BackendNotFound Warning"
    )
    assert message.startswith("spec.rules[1].http.paths[0].backend.service"), message
    assert "service 'api' not found" in message
    assert scenario.records("shop.example.com"), "the Ingress's DNS record stays"

    scenario.app(ns, "api")  # the Service appears: its path forwards
    wait_until(
        lambda: _action_by_path(scenario, hostname)["/api"]["Type"] == "forward",
        "the /api rule forwarding once its Service exists",
        60,
    )
    scenario.finish()


def _hosts(scenario: Scenario, hostname: str, port: int) -> set[str]:
    """The host-header values of the rules of the load balancer's listener on `port`."""
    elbv2 = scenario.aws("elbv2")
    arn = scenario.load_balancer(hostname)["LoadBalancerArn"]
    listeners = elbv2.describe_listeners(LoadBalancerArn=arn)["Listeners"]
    listener = next(li["ListenerArn"] for li in listeners if li["Port"] == port)
    rules = elbv2.describe_rules(ListenerArn=listener)["Rules"]
    return {
        value
        for rule in rules
        for condition in rule["Conditions"]
        if condition["Field"] == "host-header"
        for value in condition["HostHeaderConfig"]["Values"]
    }


def test_a_host_without_a_certificate_fails_only_its_member(
    scenario: Scenario, running: object
) -> None:
    """The sandbox's ACM holds `*.example.com`: `deep.nocert.example.com` has no certificate.
    Its member is refused alone; the other member of the group serves over HTTPS."""
    ns = scenario.namespace("certs")
    scenario.app(ns, "web")
    group = {
        PREFIX + "group.name": f"{ns}-certs",
        PREFIX + "listen-ports": '[{"HTTPS": 443}]',
    }
    scenario.ingress(ns, "good", [("good.example.com", "/", "web")], group)
    scenario.ingress(ns, "bad", [("deep.nocert.example.com", "/", "web")], group)
    hostname = scenario.hostname(ns, "good", timeout=60)
    [message] = wait_until(
        lambda: _warnings(scenario, ns, "bad", "FailedDeployModel"), "a Warning on the member"
    )
    assert "CertificateNotFound" in message and "deep.nocert.example.com" in message, message
    assert _hosts(scenario, hostname, 443) == {"good.example.com"}
    assert _warnings(scenario, ns, "good", "FailedDeployModel") == []
    assert scenario.records("good.example.com"), "the other member's record"

    body = ingress_body(ns, "bad", [("bad.example.com", "/", "web")], group)  # fixed
    scenario.net.replace_namespaced_ingress("bad", ns, _replaced(scenario, ns, body))
    wait_until(
        lambda: _hosts(scenario, hostname, 443) == {"good.example.com", "bad.example.com"},
        "the fixed member's rule",
        60,
    )
    scenario.finish()


def test_a_member_made_invalid_keeps_serving_its_last_good_version_across_a_restart(
    scenario: Scenario, controller: Controller
) -> None:
    """A typo in one member of a group: its rules stay (its last good version is deployed in
    its place), even after the controller restarts; the rest of the group takes edits; once
    the member is deleted its part goes."""
    ns = scenario.namespace("typo")
    scenario.app(ns, "web")
    group = {PREFIX + "group.name": f"{ns}-typo"}
    scenario.ingress(ns, "a", [("a.example.com", "/", "web")], group)
    scenario.ingress(ns, "b", [("b.example.com", "/", "web")], group)
    controller.start()
    hostname = scenario.hostname(ns, "a", timeout=60)
    wait_until(lambda: _hosts(scenario, hostname, 80) == {"a.example.com", "b.example.com"},
               "both members' rules", 60)  # fmt: skip

    typo = {**group, PREFIX + "healthcheck-interval-seconds": "a minute"}
    body = _replaced(scenario, ns, ingress_body(ns, "b", [("typo.example.com", "/", "web")]))
    body["metadata"]["annotations"] = {**body["metadata"]["annotations"], **typo}
    scenario.net.replace_namespaced_ingress("b", ns, body)
    [message] = wait_until(
        lambda: _warnings(scenario, ns, "b", "FailedBuildModel"), "a FailedBuildModel Warning"
    )
    assert "healthcheck-interval-seconds" in message, message
    controller.stop()
    controller.start()  # the last good version is not only in the old process's memory
    edit = ingress_body(ns, "a", [("a.example.com", "/", "web"), ("a2.example.com", "/", "web")],
                        group)  # fmt: skip
    scenario.net.replace_namespaced_ingress("a", ns, _replaced(scenario, ns, edit))
    wait_until(lambda: "a2.example.com" in _hosts(scenario, hostname, 80), "a's edit", 60)
    assert _hosts(scenario, hostname, 80) == {"a.example.com", "a2.example.com", "b.example.com"}
    assert scenario.records("b.example.com"), "b's record stays"

    scenario.net.delete_namespaced_ingress("b", ns)
    wait_until(lambda: "b.example.com" not in _hosts(scenario, hostname, 80), "b's rule gone", 60)
    scenario.finish()


def test_annotations_not_read_are_reported(scenario: Scenario, running: object) -> None:
    ns = scenario.namespace("unknown")
    scenario.app(ns, "web")
    annotations = {
        PREFIX + "multi-cluster-target-group": "true",
        PREFIX + "shceme": "internet-facing",  # a typo of scheme
    }
    scenario.ingress(ns, "app", [("app.example.com", "/", "web")], annotations)
    scenario.hostname(ns, "app", timeout=60)  # deployed all the same
    [message] = wait_until(
        lambda: _warnings(scenario, ns, "app", "UnsupportedAnnotation"),
        "an UnsupportedAnnotation Warning",
    )
    assert (
        f"[{PREFIX}multi-cluster-target-group]: ignored: an aws-load-balancer-controller" in message
    )
    assert f"[{PREFIX}shceme]: ignored: not an annotation this controller knows" in message
    scenario.finish()


def test_a_switch_over_without_our_record_adopts_with_no_write(
    scenario: Scenario, tmp_path: Path
) -> None:
    """The Ingress and its AWS resources as LBC leaves them (LBC's names, tags, finalizer,
    a status with ports, no record of ours, a TargetGroupBinding with LBC's finalizer per
    target group): a fresh controller reads, writes nothing to AWS, keeps the hostname,
    releases LBC's bindings but not a user's, and then edits, scaling and deletion work, and
    the namespace can be deleted."""
    target = scenario.target
    if target.sandbox is None or target.aws_endpoint_url is None:
        pytest.skip("counts the AWS calls of the local sandbox's moto")
    ns = scenario.namespace("switch")
    scenario.app(ns, "web")
    scenario.ingress(ns, "web", [("switch.example.com", "/", "web")])
    env = {**target.controller_env, "RESYNC_SECONDS": "3600"}

    # The resources are laid out by a first controller: the names and tags are LBC's.
    first = ControllerProcess(env, tmp_path / "first.log")
    scenario.controller = first
    first.start()
    hostname = scenario.hostname(ns, "web", timeout=60)
    wait_until(lambda: scenario.records("switch.example.com"), "the alias record")
    first.stop()
    # What LBC leaves that we do not: status ports; what we leave that LBC does not: our record.
    scenario.net.patch_namespaced_ingress(
        "web", ns, {"metadata": {"annotations": {APPLIED_ANNOTATION: None}}}
    )
    ports = [{"hostname": hostname, "ports": [{"port": 80, "protocol": "TCP"}]}]
    scenario.net.patch_namespaced_ingress_status(
        "web", ns, {"status": {"loadBalancer": {"ingress": ports}}}
    )
    _leave_bindings(scenario, ns, hostname)

    wire = Tripwire(target.aws_endpoint_url, "NoSuchOperation", lambda: None).start()
    second = ControllerProcess({**env, "AWS_ENDPOINT_URL": wire.url}, tmp_path / "second.log")
    scenario.controller = second
    try:
        second.start()
        wait_until(lambda: _applied(scenario, ns, "web"), "the adopted group recorded", 60)
        wait_until(lambda: _bindings(scenario, ns) == {"mine"}, "LBC's bindings released")
        assert [op for op in wire.seen if is_mutating(op)] == []
        assert scenario.read_ingress(ns, "web").status.load_balancer.ingress[0].hostname == (
            hostname
        )
        body = ingress_body(ns, "web", [("switch.example.com", "/", "web"),
                                        ("switch.example.com", "/api", "web")])  # fmt: skip
        scenario.net.replace_namespaced_ingress("web", ns, _replaced(scenario, ns, body))
        wait_until(lambda: "/api" in _action_by_path(scenario, hostname), "the edit applied", 60)
        scenario.finish()
        assert _bindings(scenario, ns) == {"mine"}, "a user's binding is never touched"
        _custom(scenario).delete_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, "mine")
        # Nothing holds the namespace any more: no binding keeps LBC's finalizer.
        scenario.core.delete_namespace(ns)
        wait_until(lambda: _namespace_gone(scenario, ns), f"namespace {ns} deleted", 60)
    finally:
        second.stop()
        wire.stop()
        _unstick(scenario, ns)


def _applied(scenario: Scenario, ns: str, name: str) -> bool:
    annotations = scenario.read_ingress(ns, name).metadata.annotations or {}
    return APPLIED_ANNOTATION in annotations


def _replaced(scenario: Scenario, ns: str, body: dict[str, Any]) -> dict[str, Any]:
    """`body` with the live object's metadata (resourceVersion, finalizers, annotations)."""
    live = scenario.net.read_namespaced_ingress(body["metadata"]["name"], ns)
    meta = scenario.net.api_client.sanitize_for_serialization(live.metadata)
    return {**body, "metadata": meta}


def _leave_bindings(scenario: Scenario, ns: str, hostname: str) -> None:
    """What LBC leaves in `ns`: a TargetGroupBinding of each live target group of the ALB,
    with LBC's labels (the lone Ingress `web`) and finalizer; and a user's own binding
    `mine` of one of them, without LBC's labels (and no finalizer, so the namespace can go)."""
    target_groups = scenario.lb_view(hostname).target_groups
    assert target_groups
    for tg in target_groups:
        _create_binding(scenario, objects.target_group_binding(
            tg["TargetGroupName"], ns, arn=tg["TargetGroupArn"], service="web",
            target_type=tg["TargetType"].lower(), stack=f"{ns}/web",
        ))  # fmt: skip
    arn = target_groups[0]["TargetGroupArn"]
    _create_binding(scenario, objects.target_group_binding("mine", ns, arn=arn, service="web"))
    assert _bindings(scenario, ns) == {"mine", *(tg["TargetGroupName"] for tg in target_groups)}


def _custom(scenario: Scenario) -> Any:
    return client.CustomObjectsApi(scenario.target.api)


def _create_binding(scenario: Scenario, body: dict[str, Any]) -> None:
    namespace = body["metadata"]["namespace"]
    _custom(scenario).create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)


def _bindings(scenario: Scenario, ns: str) -> set[str]:
    """Names of the TargetGroupBindings in `ns`."""
    found = _custom(scenario).list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL)
    return {item["metadata"]["name"] for item in found["items"]}


def _namespace_gone(scenario: Scenario, ns: str) -> bool:
    try:
        scenario.core.read_namespace(ns)
    except client.ApiException as error:
        if error.status == 404:
            return True
        raise
    return False


def _unstick(scenario: Scenario, ns: str) -> None:
    """After a failure: drop the finalizers of the bindings left, so the namespace can go."""
    try:
        for name in _bindings(scenario, ns):
            _custom(scenario).patch_namespaced_custom_object(
                GROUP, VERSION, ns, PLURAL, name, {"metadata": {"finalizers": None}}
            )
    except client.ApiException as error:
        if error.status != 404:
            raise
