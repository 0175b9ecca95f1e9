"""Two replicas, one active: the standby takes over when the leader dies (issue: HA).

Both run `alb-ingress-controller run` with leader election on (LEADER_ELECT=true, as the
Deployment's `--leader-elect`). The leader holds the `alb-ingress-controller-leader` Lease;
after a SIGKILL the standby acquires it once the lease expires (15 s) and reconciles what
changed meanwhile. Sandbox only: against a real cluster the Deployment's replicas do this.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from kubernetes import client

from controller.kube.leader import LEASE_NAME
from tests.e2e.harness import ProcessController, Scenario, wait_until

LEASE_NAMESPACE = "alb-ingress-controller"  # POD_NAMESPACE of the controller, as in the Deployment


def _holder(scenario: Scenario) -> str | None:
    try:
        lease = client.CoordinationV1Api(scenario.target.api).read_namespaced_lease(
            LEASE_NAME, LEASE_NAMESPACE
        )
    except client.ApiException:
        return None
    holder = lease.spec.holder_identity if lease.spec else None
    return str(holder) if holder else None


def test_the_standby_takes_over_within_a_minute_when_the_leader_dies(
    scenario: Scenario, tmp_path: Path
) -> None:
    if scenario.target.sandbox is None:
        pytest.skip("runs two controller processes on the local sandbox")
    env = {**scenario.target.controller_env, "LEADER_ELECT": "true"}
    first = ProcessController({**env, "POD_NAME": "replica-a"}, tmp_path / "a.log")
    second = ProcessController({**env, "POD_NAME": "replica-b"}, tmp_path / "b.log")
    try:
        first.start()
        wait_until(lambda: _holder(scenario) == "replica-a", "replica-a to lead", 60)
        second.start()
        ns = scenario.namespace("ha")
        scenario.app(ns, "web")
        scenario.ingress(ns, "one", [("one.example.com", "/", "web")])
        scenario.hostname(ns, "one", timeout=60)
        assert _holder(scenario) == "replica-a"  # the standby stayed a standby

        first.kill()
        killed = time.monotonic()
        scenario.ingress(ns, "two", [("two.example.com", "/", "web")])
        scenario.hostname(ns, "two", timeout=60)
        took = time.monotonic() - killed
        assert _holder(scenario) == "replica-b"
        assert took < 60, f"takeover took {took:.0f}s"
        print(f"takeover: new Ingress served {took:.1f}s after the leader was killed")
        scenario.finish()  # the new leader tears both down
    finally:
        first.kill()
        second.stop()
