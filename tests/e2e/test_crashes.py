"""The controller dies: killed mid-reconcile, or down while an Ingress is deleted.

Both must heal on restart: no duplicate resources after a crash between AWS calls, and the
finalizer finishes a teardown that started while nobody was watching.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sandbox.awsproxy import Call
from sandbox.controller_process import ControllerProcess
from tests.e2e.harness import Controller, Scenario, ingress_body, wait_until
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
    doomed = ControllerProcess({}, tmp_path / "killed-controller.log")
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


def _crash_after_every_write(
    scenario: Scenario, tmp_path: Path, phase: str, done: Callable[[], bool]
) -> list[str]:
    """Run the controller until `done()` holds and AWS is quiet, killing it right after each
    mutating AWS call takes effect (its reply never arrives) and starting a fresh one.

    Every restart resumes from the state the last kill left, so each step of the phase's
    sequence is a crash point in turn; returns the operations the kills followed."""
    crashed_after: list[str] = []
    for attempt in range(60):
        call = _run_until_a_write(scenario, tmp_path / f"{phase}-{attempt}.log", phase, done)
        if call is None:
            return crashed_after
        crashed_after.append(call.operation)
    raise AssertionError(f"{phase}: still writing after 60 restarts: {crashed_after}")


def _run_until_a_write(
    scenario: Scenario, log: Path, phase: str, done: Callable[[], bool]
) -> Call | None:
    """One controller life: killed after its first AWS write (returned), or stopped once
    `done()` holds with AWS quiet for 3 s (None)."""
    target = scenario.target
    doomed = ControllerProcess({}, log)
    wire = Tripwire(target.aws_endpoint_url or "", None, doomed.kill, after=True).start()
    doomed.env = {**target.controller_env, "AWS_ENDPOINT_URL": wire.url,
                  "RESYNC_SECONDS": "3600"}  # fmt: skip
    quiet = _Quiet(wire)
    try:
        doomed.start()
        wait_until(lambda: wire.tripped.is_set() or (done() and quiet.for_(3.0)),
                   f"{phase}: a write to kill at, or the end", 120)  # fmt: skip
    finally:
        doomed.kill()
        wire.stop()
    return wire.tripped_by


class _Quiet:
    """Has the wire seen no request for a while?"""

    def __init__(self, wire: Tripwire) -> None:
        self._wire = wire
        self._seen = -1
        self._since = time.monotonic()

    def for_(self, seconds: float) -> bool:
        if len(self._wire.seen) != self._seen:
            self._seen, self._since = len(self._wire.seen), time.monotonic()
        return time.monotonic() - self._since >= seconds


def _served(scenario: Scenario, ns: str, hosts: dict[str, str], scheme: str) -> bool:
    """The Ingress has its hostname, its ALB the scheme, and each host its alias record."""
    status = scenario.read_ingress(ns, "web").status
    lbs = (status and status.load_balancer and status.load_balancer.ingress) or []
    if not lbs or scenario.load_balancer(lbs[0].hostname)["Scheme"] != scheme:
        return False
    zone = "private" if scheme == "internal" else "public"
    return all(f"{zone}:A" in scenario.records(host) for host in hosts)


def _exactly_one_of_each(scenario: Scenario, stack: str, services: int) -> None:
    """No duplicate left by any crash: one ALB, one listener, a rule and a target group per
    Service, one managed security group."""
    arns = scenario.stack_resources(stack)
    assert len([a for a in arns if ":loadbalancer/" in a]) == 1, arns
    assert len([a for a in arns if ":targetgroup/" in a]) == services, arns
    hostname = scenario.read_ingress(*stack.split("/")).status.load_balancer.ingress[0].hostname
    view = scenario.lb_view(hostname)
    assert len(view.listeners) == 1 and len(view.rules) == services, view.rules
    groups = scenario.aws("ec2").describe_security_groups(
        Filters=[{"Name": "tag:ingress.k8s.aws/stack", "Values": [stack]}]
    )["SecurityGroups"]
    assert len(groups) == 1, groups


def test_a_crash_after_any_write_of_create_update_scheme_change_or_teardown_heals(
    scenario: Scenario, tmp_path: Path
) -> None:
    """The AWS-layer tests cut a deploy short after each call in-process; this does it to the
    real process on the real control plane: SIGKILL right after each mutating call has taken
    effect, through create, an update (a second backend), a scheme change and the teardown."""
    if scenario.target.sandbox is None:
        pytest.skip("puts a tripwire in front of the local sandbox's moto")
    ns = scenario.namespace("chain")
    stack = f"{ns}/web"
    for app in ("web", "api"):
        scenario.app(ns, app)
    hosts = {"chain.example.com": "web"}
    scenario.ingress(ns, "web", [("chain.example.com", "/", "web")], INTERNET)
    kills = {
        "create": _crash_after_every_write(
            scenario, tmp_path, "create", lambda: _served(scenario, ns, hosts, "internet-facing")
        )
    }
    _exactly_one_of_each(scenario, stack, services=1)

    hosts["api.chain.example.com"] = "api"
    scenario.net.patch_namespaced_ingress(
        "web", ns, ingress_body(ns, "web", [(h, "/", s) for h, s in hosts.items()], INTERNET)
    )
    kills["update"] = _crash_after_every_write(
        scenario, tmp_path, "update", lambda: _served(scenario, ns, hosts, "internet-facing")
    )
    _exactly_one_of_each(scenario, stack, services=2)

    internal = {"alb.ingress.kubernetes.io/scheme": "internal"}
    scenario.net.patch_namespaced_ingress("web", ns, {"metadata": {"annotations": internal}})
    kills["scheme"] = _crash_after_every_write(
        scenario, tmp_path, "scheme", lambda: _served(scenario, ns, hosts, "internal")
    )
    _exactly_one_of_each(scenario, stack, services=2)
    assert all(scenario.records(h).keys() <= {"private:A", "private:TXT"} for h in hosts)

    scenario.net.delete_namespaced_ingress("web", ns)
    kills["teardown"] = _crash_after_every_write(
        scenario, tmp_path, "teardown", lambda: scenario._gone(ns, "web")
    )
    scenario.ingresses.clear()
    assert scenario.leaks() == []
    assert all(scenario.records(h) == {} for h in hosts)
    for phase, operations in kills.items():
        assert operations, f"{phase}: no write to crash at"
        print(
            f"crash chain {phase}: killed after {len(operations)} writes: " + ", ".join(operations)
        )


def test_a_load_balancer_deleted_while_down_is_made_again_at_start(
    scenario: Scenario, tmp_path: Path
) -> None:
    """The record on the Ingress says the group is applied; AWS says its load balancer is
    gone (deleted by hand, or by the incumbent during a rollback). The start-up sweep shows
    it, so the group is deployed at once, not at the next drift check an hour away."""
    target = scenario.target
    if target.sandbox is None:
        pytest.skip("deletes a load balancer behind the controller's back in the sandbox")
    env = {**target.controller_env, "RESYNC_SECONDS": "3600"}
    ns = scenario.namespace("gone")
    scenario.app(ns, "web")
    scenario.ingress(ns, "web", [("gone.example.com", "/", "web")], INTERNET)
    first = ControllerProcess(env, tmp_path / "first.log")
    scenario.controller = first
    first.start()
    hostname = scenario.hostname(ns, "web", timeout=60)
    first.stop()
    deleted = scenario.load_balancer(hostname)["LoadBalancerArn"]
    scenario.aws("elbv2").delete_load_balancer(LoadBalancerArn=deleted)

    second = ControllerProcess(env, tmp_path / "second.log")
    scenario.controller = second  # stopped by the scenario fixture
    second.start()
    made = wait_until(
        lambda: _load_balancers_named(scenario, scenario.hostname(ns, "web")),
        "a load balancer behind the Ingress's status hostname again",
        60,
    )
    assert [lb["LoadBalancerArn"] for lb in made] != [deleted]
    assert len(scenario.lb_view(scenario.hostname(ns, "web")).rules) == 1, "its rule"
    wait_until(lambda: scenario.records("gone.example.com"), "the record pointing at it", 30)
    scenario.finish()


def _load_balancers_named(scenario: Scenario, dns_name: str) -> list[dict[str, Any]]:
    return [
        lb
        for page in scenario.aws("elbv2").get_paginator("describe_load_balancers").paginate()
        for lb in page["LoadBalancers"]
        if lb["DNSName"] == dns_name
    ]
