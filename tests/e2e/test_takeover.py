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
from sandbox.awsproxy import DEFAULT_LATENCY, NO_BUCKETS, NO_LATENCY, LatencyProfile
from sandbox.awsproxy.timed import TimedProxyThread
from sandbox.controller_process import ControllerProcess
from sandbox.netproxy import TcpProxy, kubeconfig_via
from tests.e2e.harness import Scenario, wait_until

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
    first = ControllerProcess({**env, "POD_NAME": "replica-a"}, tmp_path / "a.log")
    second = ControllerProcess({**env, "POD_NAME": "replica-b"}, tmp_path / "b.log")
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


def test_an_api_server_outage_never_gives_two_writers(scenario: Scenario, tmp_path: Path) -> None:
    """The split brain of the reliability issue: the client library's elector died on the
    outage and its replica kept reconciling while the standby took over. Now the leader that
    cannot renew stops writing within the renew deadline and exits non-zero, and the standby
    writes only after that."""
    sandbox = scenario.target.sandbox
    if sandbox is None:
        pytest.skip("stops the local sandbox's kube-apiserver")
    replicas, proxies = _pair(scenario, tmp_path, "outage")
    try:
        ns = scenario.namespace("outage")
        scenario.app(ns, "web")
        scenario.ingress(ns, "one", [("one.example.com", "/", "web")])
        scenario.hostname(ns, "one", timeout=60)

        apiserver = sandbox.control_plane.components["kube-apiserver"]
        stopped = time.monotonic()
        apiserver.stop()
        leader = replicas["a"].proc
        assert leader is not None
        try:
            code = leader.wait(timeout=40)  # exits at the renew deadline (10 s), API or not
        finally:
            apiserver.start()
        exited = time.monotonic() - stopped
        assert code == 1, f"the deposed leader exited with {code}"
        assert "could not renew the leader lease" in replicas["a"].logs()

        scenario.ingress(ns, "two", [("two.example.com", "/", "web")])
        scenario.hostname(ns, "two", timeout=90)
        assert _holder(scenario) == "outage-b"
        gap = _one_writer_at_a_time(proxies)
        print(f"outage: leader exited {exited:.1f}s into it; standby wrote "
              f"{gap:.1f}s after the leader's last write")  # fmt: skip
        scenario.controller = replicas["b"]
        scenario.finish()
    finally:
        for replica in replicas.values():
            replica.kill()
        for proxy in proxies.values():
            proxy.stop()


def _pair(
    scenario: Scenario,
    tmp_path: Path,
    prefix: str,
    leader_env: dict[str, str] | None = None,
    latency: LatencyProfile = NO_LATENCY,
) -> tuple[dict[str, ControllerProcess], dict[str, TimedProxyThread]]:
    """Two replicas, each behind its own timed AWS proxy; `a` is started first and leads."""
    upstream = scenario.target.aws_endpoint_url or ""
    proxies = {name: TimedProxyThread(upstream, buckets=NO_BUCKETS, latency=latency)
               for name in ("a", "b")}  # fmt: skip
    for proxy in proxies.values():
        proxy.start()
    env = {**scenario.target.controller_env, "LEADER_ELECT": "true"}
    replicas = {
        name: ControllerProcess(
            {
                **env,
                "POD_NAME": f"{prefix}-{name}",
                "AWS_ENDPOINT_URL": proxies[name].url,
                **(leader_env if name == "a" and leader_env else {}),
            },
            tmp_path / f"{name}.log",
        )
        for name in ("a", "b")
    }
    replicas["a"].start()
    wait_until(lambda: _holder(scenario) == f"{prefix}-a", f"{prefix}-a to lead", 60)
    replicas["b"].start()
    wait_until(lambda: "cache synced" in replicas["b"].logs(), f"{prefix}-b to stand by", 60)
    return replicas, proxies


def _one_writer_at_a_time(proxies: dict[str, TimedProxyThread]) -> float:
    """The deposed leader's last mutating AWS call came before the new leader's first;
    returns the gap between them."""
    last_a = max(c.at for c in proxies["a"].mutating_since())
    first_b = min(c.at for c in proxies["b"].mutating_since())
    assert last_a < first_b, "both replicas wrote to AWS at the same time"
    return first_b - last_a


def test_a_leader_stopped_past_its_lease_never_writes_again(
    scenario: Scenario, tmp_path: Path
) -> None:
    """SIGSTOP the leader mid-reconcile for longer than the lease: the standby takes over.
    On SIGCONT the old leader's threads wake up mid-call; none of them may reach AWS (the
    fence is asked before every attempt, not only before the call), and it exits 1."""
    if scenario.target.sandbox is None:
        pytest.skip("runs two controller processes on the local sandbox")
    # AWS's own latency, so a deploy takes seconds and the stop lands in the middle of one.
    replicas, proxies = _pair(scenario, tmp_path, "stopped", latency=DEFAULT_LATENCY)
    try:
        ns = scenario.namespace("stopped")
        scenario.app(ns, "web")
        scenario.ingress(ns, "one", [("one.example.com", "/", "web")])
        scenario.hostname(ns, "one", timeout=60)
        leader = replicas["a"].proc
        assert leader is not None
        created = time.monotonic()
        scenario.ingress(ns, "two", [("two.example.com", "/", "web")])
        # Stop it at its first write for the new Ingress: the rest of that deploy is pending.
        wait_until(lambda: proxies["a"].mutating_since(created), "the leader to start writing")
        replicas["a"].pause()
        stopped = time.monotonic()
        scenario.hostname(ns, "two", timeout=90)  # the standby finished it
        assert _holder(scenario) == "stopped-b"
        took = time.monotonic() - stopped
        resumed = time.monotonic()
        replicas["a"].resume()
        code = leader.wait(timeout=30)
        assert code == 1, f"the deposed leader exited with {code}"
        assert proxies["a"].mutating_since(resumed) == [], "the deposed leader wrote on waking"
        gap = _one_writer_at_a_time(proxies)
        print(f"sigstop: standby served the new Ingress {took:.1f}s after the stop; "
              f"writers never overlapped (gap {gap:.1f}s)")  # fmt: skip
        scenario.controller = replicas["b"]
        scenario.finish()
    finally:
        for replica in replicas.values():
            replica.kill()
        for proxy in proxies.values():
            proxy.stop()


def test_a_leader_on_a_slow_link_steps_down_before_the_standby_writes(
    scenario: Scenario, tmp_path: Path
) -> None:
    """Network delay between the leader and kube-apiserver (every chunk held 12 s, more than
    the 10 s renew deadline): the leader cannot renew in time, stops writing and exits 1;
    the standby takes over; their AWS writes never overlap."""
    sandbox = scenario.target.sandbox
    if sandbox is None:
        pytest.skip("slows the link to the local sandbox's kube-apiserver")
    link = TcpProxy.to_url(sandbox.control_plane.url).start()
    kubeconfig = kubeconfig_via(Path(scenario.target.controller_env["KUBECONFIG"]), link,
                                tmp_path / "slow-link")  # fmt: skip
    replicas, proxies = _pair(scenario, tmp_path, "slow", {"KUBECONFIG": str(kubeconfig)})
    try:
        ns = scenario.namespace("slow")
        scenario.app(ns, "web")
        scenario.ingress(ns, "one", [("one.example.com", "/", "web")])
        scenario.hostname(ns, "one", timeout=60)
        leader = replicas["a"].proc
        assert leader is not None
        link.delay(12.0)
        slowed = time.monotonic()
        code = leader.wait(timeout=60)
        exited = time.monotonic() - slowed
        assert code == 1, f"the slowed leader exited with {code}"
        scenario.ingress(ns, "two", [("two.example.com", "/", "web")])
        scenario.hostname(ns, "two", timeout=90)
        assert _holder(scenario) == "slow-b"
        gap = _one_writer_at_a_time(proxies)
        print(f"slow link: leader exited {exited:.1f}s after the delay began; "
              f"writers never overlapped (gap {gap:.1f}s)")  # fmt: skip
        scenario.controller = replicas["b"]
        scenario.finish()
    finally:
        for replica in replicas.values():
            replica.kill()
        for proxy in proxies.values():
            proxy.stop()
        link.stop()
