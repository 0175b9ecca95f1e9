"""The controller dies: killed mid-reconcile, or down while an Ingress is deleted.

Both must heal on restart: no duplicate resources after a crash between AWS calls, and the
finalizer finishes a teardown that started while nobody was watching.
"""

from __future__ import annotations

import time
from pathlib import Path

from tests.e2e.harness import Controller, ProcessController, Scenario, wait_until
from tests.e2e.tripwire import Tripwire

INTERNET = {"alb.ingress.kubernetes.io/scheme": "internet-facing"}


def _load_balancer_names(scenario: Scenario) -> list[str]:
    elbv2 = scenario.aws("elbv2")
    return sorted(
        lb["LoadBalancerName"]
        for page in elbv2.get_paginator("describe_load_balancers").paginate()
        for lb in page["LoadBalancers"]
    )


def _kill_mid_reconcile(
    scenario: Scenario, controller: Controller, stack: str, tmp_path: Path
) -> None:
    """Start the controller and kill it mid-reconcile.

    Locally, exactly before CreateListener reaches AWS (security groups, target group and
    load balancer made; listener, rules, targets and DNS still to come), through a
    `Tripwire` in front of moto. Against a real cluster, as soon as the first resource of
    the stack shows up in AWS.
    """
    target = scenario.target
    if target.sandbox is None:
        controller.start()
        wait_until(lambda: scenario.stack_resources(stack), "the first AWS resource", 60)
        controller.kill()
        return
    doomed = ProcessController({}, tmp_path / "killed-controller.log")
    wire = Tripwire(target.aws_endpoint_url or "", "CreateListener", doomed.kill).start()
    doomed.env = {**target.controller_env, "AWS_ENDPOINT_URL": wire.url}
    try:
        doomed.start()
        wait_until(wire.tripped.is_set, "the controller to reach CreateListener", 60)
    finally:
        wire.stop()
        doomed.kill()


def test_killed_mid_reconcile_converges_without_duplicates(
    scenario: Scenario, controller: Controller, tmp_path: Path
) -> None:
    ns = scenario.namespace("crash")
    scenario.app(ns, "web")
    before = _load_balancer_names(scenario)
    scenario.ingress(ns, "web", [("crash.example.com", "/", "web")], INTERNET)
    stack = f"{ns}/web"
    _kill_mid_reconcile(scenario, controller, stack, tmp_path)
    killed_at = sorted(scenario.stack_resources(stack))
    assert killed_at, "nothing was made before the kill"
    if scenario.target.sandbox is not None:
        # Exactly the resources before CreateListener: nothing of what comes after it.
        assert [n for n in _load_balancer_names(scenario) if n not in before], killed_at
        assert not any(":listener/" in arn for arn in killed_at), killed_at
        assert scenario.records("crash.example.com") == {}
        status = scenario.read_ingress(ns, "web").status
        assert not (status and status.load_balancer and status.load_balancer.ingress)

    controller.start()
    hostname = scenario.hostname(ns, "web", timeout=60)
    view = scenario.lb_view(hostname)
    assert len(view.listeners) == 1 and len(view.rules) == 1 and len(view.target_groups) == 1
    new = [n for n in _load_balancer_names(scenario) if n not in before]
    assert new == [view.lb["LoadBalancerName"]], f"duplicates: {new}"
    groups = scenario.aws("ec2").describe_security_groups(
        Filters=[{"Name": "tag:ingress.k8s.aws/stack", "Values": [stack]}]
    )["SecurityGroups"]
    assert len(groups) == 1, groups
    assert set(killed_at) <= set(scenario.stack_resources(stack))  # adopted, not remade
    wait_until(lambda: "public:A" in scenario.records("crash.example.com"), "DNS records")
    scenario.finish()


def test_delete_while_down_is_finished_on_restart(
    scenario: Scenario, controller: Controller
) -> None:
    ns = scenario.namespace("down")
    scenario.app(ns, "web")
    controller.start()
    scenario.ingress(ns, "web", [("down.example.com", "/", "web")], INTERNET)
    hostname = scenario.hostname(ns, "web")
    wait_until(lambda: scenario.records("down.example.com"), "DNS records")
    controller.stop()

    scenario.net.delete_namespaced_ingress("web", ns)
    time.sleep(1.0)
    ingress = scenario.read_ingress(ns, "web")  # held by the finalizer
    assert ingress.metadata.deletion_timestamp is not None
    assert scenario.load_balancer(hostname)

    controller.start()
    scenario.finish()  # waits for the Ingress to go, then scans AWS
    assert scenario.records("down.example.com") == {}
