"""A 100-Ingress fleet created at once converges under AWS's rate limits, and a restart with
nothing changed makes no mutating AWS call.

The fleet of the reliability issue: 4 IngressGroups of 20 plus 20 lone Ingresses (24 ALBs),
each Ingress with its own NodePort Service and host, all created in one burst while the AWS
proxy applies AWS's token buckets. Before the fixes it stopped for good at 60/100 hostnames
(the node security group's 60 rules filled with one rule per NodePort), and a SIGKILLed
controller restarted with nothing changed deleted and recreated live rules and target groups
of members whose Services its cache had not seen yet (15-20 mutating calls per restart).
Local sandbox only: it puts the AWS proxy in front of moto.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from sandbox.awsproxy import DEFAULT_BUCKETS, NO_LATENCY, AwsProxyThread
from sandbox.controller_process import ControllerProcess
from sandbox.objects import app_service
from tests.e2e.harness import Scenario, ingress_body, wait_until

GROUPS, MEMBERS, LONE = 4, 20, 20
QUIET = 5.0


def _fleet(ns: str) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    names: list[tuple[str, str | None]] = [
        (f"g{g}-m{m}", f"fleet-{g}") for g in range(GROUPS) for m in range(MEMBERS)
    ]
    names += [(f"lone-{i}", None) for i in range(LONE)]
    for name, _ in names:
        objects.append(app_service(name, ns))
    for name, group in names:
        annotations = {"alb.ingress.kubernetes.io/group.name": group} if group else {}
        objects.append(
            ingress_body(ns, name, [(f"{name}.{ns}.example.com", "/", name)], annotations)
        )
    return objects


def _hostnames(scenario: Scenario, ns: str) -> int:
    items = scenario.net.list_namespaced_ingress(ns).items
    return sum(1 for i in items if i.status.load_balancer and i.status.load_balancer.ingress)


def _quiet(proxy: AwsProxyThread, seconds: float) -> None:
    """Wait until the proxy has seen no call for `seconds`."""
    last = [proxy.stats().calls, time.monotonic()]

    def check() -> bool:
        calls = proxy.stats().calls
        if calls != last[0]:
            last[:] = [calls, time.monotonic()]
        return time.monotonic() - float(last[1]) >= seconds

    wait_until(check, f"{seconds:.0f}s without AWS calls", timeout=300)


def test_a_fleet_created_at_once_converges_and_a_restart_changes_nothing(
    scenario: Scenario, tmp_path: Path
) -> None:
    target = scenario.target
    if target.sandbox is None:
        pytest.skip("puts the AWS proxy in front of the local sandbox's moto")
    proxy = AwsProxyThread(target.aws_endpoint_url or "", buckets=DEFAULT_BUCKETS,
                           latency=NO_LATENCY)  # fmt: skip
    proxy.start()
    # No drift check during the test: its reads would never let AWS go quiet.
    env = {**target.controller_env, "AWS_ENDPOINT_URL": proxy.url, "RESYNC_SECONDS": "3600"}
    first = ControllerProcess(env, tmp_path / "first.log")
    second = ControllerProcess(env, tmp_path / "second.log")
    try:
        first.start()
        ns = scenario.namespace("fleet")
        scenario.create(_fleet(ns))
        began = time.monotonic()
        wait_until(lambda: _hostnames(scenario, ns) == 100, "100 hostnames", timeout=600)
        converged = time.monotonic() - began
        _quiet(proxy, QUIET)
        created = proxy.stats()
        assert created.mutating_calls > 0

        first.kill()
        proxy.reset_stats()
        second.start()
        wait_until(lambda: "leading: reconciling 24 groups" in second.logs(),
                   "the restarted controller to start reconciling", timeout=120)  # fmt: skip
        assert "cache synced" in second.logs()
        _quiet(proxy, QUIET)
        restarted = proxy.stats()
        mutating = [f"{o.service}.{o.operation} x{o.calls}" for o in restarted.operations
                    if o.mutating]  # fmt: skip
        assert mutating == [], "a restart with nothing changed changed AWS"
        # Nothing read per group either: the records (targets digest included) are trusted
        # once the start-up sweep (the tagging API, 100 resources a page) agrees with them.
        assert restarted.calls_of("elbv2", "DescribeTargetHealth") == 0
        assert restarted.calls <= 10, [f"{o.service}.{o.operation} x{o.calls}"
                                        for o in restarted.operations]  # fmt: skip
        print(
            f"fleet: 100 hostnames in {converged:.0f}s, {created.calls} calls "
            f"({created.mutating_calls} mutating, {created.throttled} throttled); "
            f"restart: {restarted.calls} reads, 0 mutating"
        )
        scenario.controller = second
        scenario.finish(timeout=300)  # 24 teardowns share AWS's 5/s mutating bucket
    finally:
        first.kill()
        second.stop()
        proxy.stop()
