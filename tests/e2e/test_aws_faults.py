"""AWS has bad days: with a fifth of every service's calls failing, a fleet still converges,
with no duplicate, and its teardown still leaves nothing.

The AWS proxy (`sandbox.awsproxy.fault_mix`) answers 20% of the calls to each of elbv2,
ec2, Route 53 and the tagging API with a 500, a 503, a reset before AWS saw the call, a
reset after AWS carried it out (the reply is lost: a create retried blindly would make a
second resource, or fail on its own first one), or a reply held for 2 s and then reset.
Faults stay on through the teardown. Local sandbox only: it puts the proxy in front of moto.
"""

from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from sandbox.awsproxy import NO_BUCKETS, NO_LATENCY, AwsProxyThread, fault_mix
from sandbox.controller_process import ControllerProcess
from sandbox.objects import app_service
from tests.e2e.harness import Scenario, ingress_body, wait_until

RATE = 0.2


def _fleet(ns: str) -> tuple[list[dict[str, Any]], list[str]]:
    """2 groups of 3 and 3 lone Ingresses, each with its own NodePort Service and host."""
    names: list[tuple[str, str | None]] = [
        (f"g{g}-m{m}", f"faults-{g}") for g in range(2) for m in range(3)
    ]
    names += [(f"lone-{i}", None) for i in range(3)]
    objects: list[dict[str, Any]] = []
    for name, group in names:
        objects.append(app_service(name, ns))
        annotations = {"alb.ingress.kubernetes.io/group.name": group} if group else {}
        annotations["alb.ingress.kubernetes.io/scheme"] = "internet-facing"
        objects.append(
            ingress_body(ns, name, [(f"{name}.{ns}.example.com", "/", name)], annotations)
        )
    stacks = [f"faults-{g}" for g in range(2)] + [f"{ns}/lone-{i}" for i in range(3)]
    return objects, stacks


def _has_alias(scenario: Scenario, host: str) -> bool:
    return "public:A" in scenario.records(host)


def _duplicates(scenario: Scenario, stacks: list[str]) -> list[str]:
    """Resources of a stack there must be exactly one of (its ALB, its managed security
    group, the target group of each Service), counted from AWS's tags."""
    found: list[str] = []
    ec2 = scenario.aws("ec2")
    for stack in stacks:
        arns = scenario.stack_resources(stack)
        lbs = [a for a in arns if ":loadbalancer/" in a]
        if len(lbs) != 1:
            found.append(f"{stack}: {len(lbs)} load balancers")
        target_groups = [a for a in arns if ":targetgroup/" in a]
        tags = (
            scenario.aws("elbv2").describe_tags(ResourceArns=target_groups)["TagDescriptions"]
            if target_groups
            else []
        )
        resources = Counter(
            next((t["Value"] for t in d["Tags"] if t["Key"] == "ingress.k8s.aws/resource"), "")
            for d in tags
        )
        found += [f"{stack}: {n} target groups for {r}" for r, n in resources.items() if n != 1]
        groups = ec2.describe_security_groups(
            Filters=[{"Name": "tag:ingress.k8s.aws/stack", "Values": [stack]}]
        )["SecurityGroups"]
        if len(groups) != 1:
            found.append(f"{stack}: {len(groups)} managed security groups")
    return found


def test_a_fleet_converges_and_is_torn_down_with_a_fifth_of_aws_calls_failing(
    scenario: Scenario, tmp_path: Path
) -> None:
    target = scenario.target
    if target.sandbox is None:
        pytest.skip("puts the AWS proxy in front of the local sandbox's moto")
    proxy = AwsProxyThread(target.aws_endpoint_url or "", buckets=NO_BUCKETS,
                           latency=NO_LATENCY, seed=12)  # fmt: skip
    proxy.start()
    for rule in fault_mix(RATE):
        proxy.add_fault(rule)
    env = {**target.controller_env, "AWS_ENDPOINT_URL": proxy.url, "RESYNC_SECONDS": "3600"}
    controller = ControllerProcess(env, tmp_path / "controller.log")
    scenario.controller = controller
    try:
        controller.start()
        ns = scenario.namespace("faults")
        objects, stacks = _fleet(ns)
        scenario.create(objects)
        ingresses = [o["metadata"]["name"] for o in objects if o["kind"] == "Ingress"]
        for name in ingresses:
            scenario.hostname(ns, name, timeout=300)
        for name in ingresses:
            host = f"{name}.{ns}.example.com"
            wait_until(functools.partial(_has_alias, scenario, host), f"{host}'s record", 120)
        assert _duplicates(scenario, stacks) == []
        created = proxy.stats()
        assert created.faults > 0
        scenario.finish(timeout=300)  # with the faults still on
        done = proxy.stats()
        assert controller.proc is not None and controller.proc.poll() is None, "it died"
        assert "Traceback" not in controller.logs()
        print(
            f"aws faults: {len(ingresses)} Ingresses in {len(stacks)} stacks converged and "
            f"torn down; {done.calls} calls, {done.faults} faults injected "
            f"({done.faults / max(1, done.calls):.0%}), 0 duplicates, 0 leaks"
        )
    finally:
        controller.stop()
        proxy.stop()
