"""Kubernetes has bad days too: a watch gap ending in 410 Gone, kube-apiserver restarted
mid-reconcile, etcd paused. The controller keeps a correct cache and converges.

The watch gap is made with `sandbox.netproxy.TcpProxy` between the controller and
kube-apiserver: cut the link, change the cluster, restart kube-apiserver (its watch cache
starts afresh, so the controller's resourceVersion is too old and its watches end in 410),
heal the link. kopf then lists again and replays what exists, but never reports what was
deleted meanwhile; before the cache audit a Service deleted in the gap stayed in the cache
for the life of the process. Local sandbox only: these stop the sandbox's own components.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sandbox.controller_process import ControllerProcess
from sandbox.netproxy import TcpProxy, kubeconfig_via
from tests.e2e.harness import Scenario, wait_until


def _warnings(scenario: Scenario, ns: str, name: str) -> list[str]:
    return [str(e.message) for e in scenario.events(ns, name) if e.type == "Warning"]


def _load_balancers_of(scenario: Scenario, stack: str) -> list[str]:
    return [arn for arn in scenario.stack_resources(stack) if ":loadbalancer/" in arn]


def test_a_deletion_hidden_by_a_watch_gap_is_found(scenario: Scenario, tmp_path: Path) -> None:
    sandbox = scenario.target.sandbox
    if sandbox is None:
        pytest.skip("cuts the link to the local sandbox's kube-apiserver")
    env = scenario.target.controller_env
    with TcpProxy.to_url(sandbox.control_plane.url) as link:
        kubeconfig = kubeconfig_via(Path(env["KUBECONFIG"]), link, tmp_path / "via-link")
        controller = ControllerProcess({**env, "KUBECONFIG": str(kubeconfig)},
                                       tmp_path / "controller.log")  # fmt: skip
        scenario.controller = controller
        try:
            controller.start()
            ns = scenario.namespace("gap")
            for app in ("web", "api"):
                scenario.app(ns, app)
                scenario.ingress(ns, app, [(f"{app}.gap.example.com", "/", app)])
            for app in ("web", "api"):
                scenario.hostname(ns, app, timeout=60)

            link.cut()
            scenario.core.delete_namespaced_service("api", ns)
            sandbox.control_plane.restart("kube-apiserver")  # resourceVersions now too old
            link.heal()

            # The audit lists Services once kopf's replay settles and finds `api` gone.
            wait_until(lambda: any("service 'api' not found" in m
                                   for m in _warnings(scenario, ns, "api")),
                       "a Warning naming the Service deleted during the gap", 90)  # fmt: skip
            assert "cache audit: Service" in controller.logs()
            assert not _warnings(scenario, ns, "web")
            scenario.finish()
        finally:
            controller.stop()


@pytest.mark.parametrize("outage", ["kube-apiserver restarted", "etcd paused"])
def test_the_fleet_converges_through_a_control_plane_outage(
    scenario: Scenario, running: ControllerProcess, outage: str
) -> None:
    """Ingresses are created and the outage starts while their first reconciles run:
    finalizer and status patches fail, and are retried until they land, with no duplicate
    load balancer."""
    sandbox = scenario.target.sandbox
    if sandbox is None:
        pytest.skip("stops the local sandbox's control plane")
    ns = scenario.namespace("outage")
    scenario.app(ns, "web")
    names = [f"app-{i}" for i in range(4)]
    for name in names:
        scenario.ingress(ns, name, [(f"{name}.outage.example.com", "/", "web")])
    wait_until(lambda: any(scenario.stack_resources(f"{ns}/{n}") for n in names),
               "the first reconcile to reach AWS", 60)  # fmt: skip
    if outage == "etcd paused":
        etcd = sandbox.control_plane.components["etcd"]
        etcd.pause()
        time.sleep(8)  # longer than the client's request timeout to the API server
        etcd.resume()
    else:
        sandbox.control_plane.restart("kube-apiserver")
    for name in names:
        scenario.hostname(ns, name, timeout=120)
        assert len(_load_balancers_of(scenario, f"{ns}/{name}")) == 1, name
    assert running.proc is not None and running.proc.poll() is None, "the controller died"
    scenario.finish(timeout=120)
