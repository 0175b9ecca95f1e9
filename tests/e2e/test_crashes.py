"""The controller dies: killed mid-reconcile, or down while an Ingress is deleted.

Both must heal on restart: no duplicate resources after a crash between AWS calls, and the
finalizer finishes a teardown that started while nobody was watching.
"""

from __future__ import annotations

import time

from tests.e2e.harness import Controller, Scenario, wait_until

INTERNET = {"alb.ingress.kubernetes.io/scheme": "internet-facing"}


def _load_balancer_names(scenario: Scenario) -> list[str]:
    elbv2 = scenario.aws("elbv2")
    return sorted(
        lb["LoadBalancerName"]
        for page in elbv2.get_paginator("describe_load_balancers").paginate()
        for lb in page["LoadBalancers"]
    )


def test_killed_mid_reconcile_converges_without_duplicates(
    scenario: Scenario, controller: Controller
) -> None:
    ns = scenario.namespace("crash")
    scenario.app(ns, "web")
    before = _load_balancer_names(scenario)
    controller.start()
    scenario.ingress(ns, "web", [("crash.example.com", "/", "web")], INTERNET)
    stack = f"{ns}/web"
    # Kill as soon as the first resource of the stack exists (the security group comes
    # first; the load balancer, listener, rules, targets and DNS are still to come).
    wait_until(lambda: scenario.stack_resources(stack), "the first AWS resource", timeout=60)
    controller.kill()
    killed_at = sorted(scenario.stack_resources(stack))
    status = scenario.read_ingress(ns, "web").status
    assert not (status and status.load_balancer and status.load_balancer.ingress), (
        "the controller finished before it was killed: the test did not test a crash"
    )

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
