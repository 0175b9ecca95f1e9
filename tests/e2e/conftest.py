"""Fixtures for the end-to-end tests: one target for the package, a controller per test.

`target` is the local sandbox on the session's real control plane (`tests/conftest.py`),
with moto seeded for the cluster `e2e`, or, with `E2E_KUBECONFIG`, a real cluster (see
`tests.e2e.harness`). Locally the controller runs as the ServiceAccount of
`deploy/manifests`, so under the shipped RBAC: after each test, every request it made is
read from the API server's audit log and any that was denied fails the test. `controller`
is a fresh, stopped controller for the test; `running` starts it. `scenario` gives the test
unique namespaces and cleans up after a failure; tests end with `scenario.finish()`, the
leak scan. All tests here are marked `e2e`.
"""

from __future__ import annotations

import datetime
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import config

from sandbox.controller_process import ControllerProcess
from sandbox.controlplane import ControlPlane
from sandbox.runner import CONTROLLER_USER, Sandbox
from tests.e2e.harness import (
    Controller,
    DeploymentController,
    Scenario,
    Target,
)

# Short enough that a test of drift or of a missed event does not wait long.
RESYNC_SECONDS = "20"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


# Package scope: the sandbox's Nodes leave the shared control plane once the e2e tests end.
@pytest.fixture(scope="package")
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    kubeconfig = os.environ.get("E2E_KUBECONFIG")
    if kubeconfig:
        api = config.new_client_from_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
        yield Target(
            api=api,
            cluster_name=os.environ["E2E_CLUSTER_NAME"],
            aws_endpoint_url=os.environ.get("E2E_AWS_ENDPOINT_URL") or None,
            make_controller=lambda _: DeploymentController(api),
            default_target_type=os.environ.get("E2E_DEFAULT_TARGET_TYPE", "instance"),
        )
        api.close()
        return
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log
    control_plane: ControlPlane = request.getfixturevalue("control_plane")
    sandbox = Sandbox(
        cluster_name="e2e",
        kubeconfig=tmp_path_factory.mktemp("sandbox") / "kubeconfig",
        control_plane=control_plane,
    ).start()
    api = config.new_client_from_config(config_file=str(sandbox.kubeconfig))  # type: ignore[no-untyped-call]
    env = {**sandbox.controller_env(), "RESYNC_SECONDS": RESYNC_SECONDS}
    try:
        yield Target(
            api=api,
            cluster_name=sandbox.cluster_name,
            aws_endpoint_url=sandbox.aws_endpoint_url,
            make_controller=lambda path: ControllerProcess(env, path / "controller.log"),
            sandbox=sandbox,
            controller_env=env,
        )
    finally:
        api.close()
        sandbox.stop()


@pytest.fixture
def controller(target: Target, tmp_path: Path) -> Iterator[Controller]:
    made = target.make_controller(tmp_path)
    audit_from = target.sandbox.control_plane.audit_size() if target.sandbox else 0
    try:
        yield made
    finally:
        logs = made.logs()
        made.stop()
        # Shown with the test's report when it fails.
        print(f"--- controller log ---\n{logs[-20000:]}")
    if target.sandbox is not None:
        denied = denied_requests(target.sandbox.control_plane, audit_from)
        assert denied == [], "the shipped RBAC denied the controller these requests"


def denied_requests(control_plane: ControlPlane, offset: int = 0) -> list[str]:
    """`verb uri -> code` of each request of the controller's ServiceAccount the API
    server refused as unauthorised (401) or forbidden by authorisation (403), from byte
    `offset` on.

    A kube-apiserver that is starting (the outage test restarts it) refuses everything with
    403 until its RBAC caches are filled; requests then say nothing about the shipped RBAC."""
    apiserver = control_plane.components["kube-apiserver"]
    return [
        f"{e['verb']} {e['requestURI']} -> {e['responseStatus']['code']}"
        for e in control_plane.audit_events(offset)
        if e["user"]["username"] == CONTROLLER_USER
        and e.get("responseStatus", {}).get("code") in (401, 403)
        # A 403 RBAC allowed comes from admission (a namespace being deleted refuses new
        # Events in it): not the shipped RBAC's doing.
        and (e.get("annotations") or {}).get("authorization.k8s.io/decision") != "allow"
        and not apiserver.starting_at(_timestamp(e["stageTimestamp"]))
    ]


def _timestamp(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def running(controller: Controller) -> Controller:
    controller.start()
    return controller


@pytest.fixture
def scenario(target: Target, controller: Controller) -> Iterator[Scenario]:
    made = Scenario(target, controller)
    yield made
    if made.controller is not controller:
        # A controller the test started itself must not outlive it: a second one left
        # running would reconcile beside the next tests' controllers.
        made.controller.stop()
    # After `finish` nothing is left; after a failure, clean up with a controller running.
    if made.ingresses:
        controller.stop()
        controller.start()
    made.cleanup()
