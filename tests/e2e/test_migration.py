"""Migrating from LBC on the real control plane: what its users rely on keeps working.

A path whose backend Service does not exist is answered with LBC's fixed 503 while the rest
of the Ingress serves, and starts forwarding once the Service appears; annotation keys this
controller does not read are reported, not silently dropped; a switch-over from resources
laid out as LBC leaves them makes no AWS write.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from controller.kube.reconciler import APPLIED_ANNOTATION
from sandbox.awsproxy import is_mutating
from sandbox.controller_process import ControllerProcess
from tests.e2e.harness import Scenario, ingress_body, wait_until
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


def test_annotations_not_read_are_reported(scenario: Scenario, running: object) -> None:
    ns = scenario.namespace("unknown")
    scenario.app(ns, "web")
    annotations = {
        PREFIX + "wafv2-acl-arn": "arn:aws:wafv2:us-east-1:111122223333:regional/webacl/x/y",
        PREFIX + "shceme": "internet-facing",  # a typo of scheme
    }
    scenario.ingress(ns, "app", [("app.example.com", "/", "web")], annotations)
    scenario.hostname(ns, "app", timeout=60)  # deployed all the same
    [message] = wait_until(
        lambda: _warnings(scenario, ns, "app", "UnsupportedAnnotation"),
        "an UnsupportedAnnotation Warning",
    )
    assert f"[{PREFIX}wafv2-acl-arn]: ignored: an aws-load-balancer-controller" in message
    assert f"[{PREFIX}shceme]: ignored: not an annotation this controller knows" in message
    scenario.finish()


def test_a_switch_over_without_our_record_adopts_with_no_write(
    scenario: Scenario, tmp_path: Path
) -> None:
    """The Ingress and its AWS resources as LBC leaves them (LBC's names, tags, finalizer,
    a status with ports, no record of ours): a fresh controller reads, writes nothing, keeps
    the hostname, and then edits, scaling and deletion work."""
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

    wire = Tripwire(target.aws_endpoint_url, "NoSuchOperation", lambda: None).start()
    second = ControllerProcess({**env, "AWS_ENDPOINT_URL": wire.url}, tmp_path / "second.log")
    scenario.controller = second
    try:
        second.start()
        wait_until(lambda: _applied(scenario, ns, "web"), "the adopted group recorded", 60)
        assert [op for op in wire.seen if is_mutating(op)] == []
        assert scenario.read_ingress(ns, "web").status.load_balancer.ingress[0].hostname == (
            hostname
        )
        body = ingress_body(ns, "web", [("switch.example.com", "/", "web"),
                                        ("switch.example.com", "/api", "web")])  # fmt: skip
        scenario.net.replace_namespaced_ingress("web", ns, _replaced(scenario, ns, body))
        wait_until(lambda: "/api" in _action_by_path(scenario, hostname), "the edit applied", 60)
        scenario.finish()
    finally:
        second.stop()
        wire.stop()


def _applied(scenario: Scenario, ns: str, name: str) -> bool:
    annotations = scenario.read_ingress(ns, name).metadata.annotations or {}
    return APPLIED_ANNOTATION in annotations


def _replaced(scenario: Scenario, ns: str, body: dict[str, Any]) -> dict[str, Any]:
    """`body` with the live object's metadata (resourceVersion, finalizers, annotations)."""
    live = scenario.net.read_namespaced_ingress(body["metadata"]["name"], ns)
    meta = scenario.net.api_client.sanitize_for_serialization(live.metadata)
    return {**body, "metadata": meta}
